"""The breakdown behind one panel: the segments and chat changes its numbers sum (spec §9).

The fold keeps counters; the evidence is the list of :class:`AgentChange` records an
agent applied, in the order it applied them (each carries its chat, its event and who
took a close credit). :func:`explain` reads that list against the agent record at an
instant; :func:`compact` drops what no breakdown of the current session or a later one
can show, which bounds the list by the current session's items and the open chats.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Final, Literal

from typing_extensions import TypedDict

from .events import Status
from .instant import format_instant, to_seconds
from .rules import carries_evidence, counted_in_session, reset_since_credit
from .state import AgentChange, AgentState

__all__ = [
    "Breakdown",
    "ClosedItem",
    "EventItem",
    "OpenChatItem",
    "Segment",
    "compact",
    "compact_positions",
    "explain",
]

Segment = TypedDict(
    "Segment",
    {
        "status": Status,
        "reason": str | None,
        "from": str,
        "to": str,
        "seconds": float,
    },
)
"""One stretch of the session in one status and reason ("from" is a Python keyword)."""


class SessionBreakdown(TypedDict):
    first_online: str | None
    segments: list[Segment]


class ClosedItem(TypedDict):
    """One change of a close credit: +1 taken, -1 lost."""

    chat_id: str
    event_id: str
    at: str
    change: Literal[1, -1]
    why: str


class EventItem(TypedDict):
    """One event that counted once: a missed chat or a hold."""

    chat_id: str
    event_id: str
    at: str


class OpenChatItem(TypedDict):
    """A chat open now: since the agent owned it (active) or put it on hold."""

    chat_id: str
    since: str


class ChatsBreakdown(TypedDict):
    closed: list[ClosedItem]
    closed_not_counted: list[ClosedItem]
    missed: list[EventItem]
    holds: list[EventItem]
    on_hold: list[OpenChatItem]
    active: list[OpenChatItem]


class Breakdown(TypedDict):
    """The evidence behind one agent's panel at ``as_of``, keys in the order of the spec."""

    agent_id: str
    as_of: str
    session: SessionBreakdown
    chats: ChatsBreakdown


CLOSED: Final = "closed"
CLOSED_BY_PLATFORM: Final = "closed by the platform (was assigned)"
CREDIT_RESET: Final = "credit ended with a reset"
_ACTIVE: Final[Callable[[AgentChange], int]] = attrgetter("active")
_ON_HOLD: Final[Callable[[AgentChange], int]] = attrgetter("on_hold")


def explain(agent: AgentState, changes: Sequence[AgentChange], now: int) -> Breakdown:
    """The breakdown of ``agent``'s panel at ``now``, from the changes it applied (in order)."""
    start = agent.session_start
    return {
        "agent_id": agent.agent_id,
        "as_of": format_instant(now),
        "session": {
            "first_online": None if start is None else format_instant(start),
            "segments": _segments(agent, now),
        },
        "chats": _chats(agent, changes),
    }


def _segments(agent: AgentState, now: int) -> list[Segment]:
    starts, statuses, reasons = agent.segment_starts, agent.segment_statuses, agent.segment_reasons
    segments: list[Segment] = []
    last = len(starts) - 1
    for index, begin in enumerate(starts):
        end = min(starts[index + 1] if index < last else now, now)
        if end > begin:
            segments.append(
                {
                    "status": statuses[index],
                    "reason": reasons[index],
                    "from": format_instant(begin),
                    "to": format_instant(end),
                    "seconds": to_seconds(end - begin),
                }
            )
    return segments


def _chats(agent: AgentState, changes: Sequence[AgentChange]) -> ChatsBreakdown:
    closed: list[tuple[int, str, str, int, str]] = []
    not_counted: list[tuple[int, str, str, int, str]] = []
    missed: list[tuple[int, str, str]] = []
    holds: list[tuple[int, str, str]] = []
    for change in changes:
        if not counted_in_session(change, agent):
            continue
        at, chat_id, event_id = change.at, change.chat_id, change.event_id
        credit_at = change.uncredit_since
        if credit_at is not None:
            lost = (at, chat_id, event_id, -1, f"closed again by {change.closed_by}")
            if reset_since_credit(credit_at, agent.session_index, agent.session_start):
                not_counted.append((*lost[:4], CREDIT_RESET))
            else:
                closed.append(lost)
        if change.closed:
            why = CLOSED_BY_PLATFORM if change.by_platform else CLOSED
            closed.append((at, chat_id, event_id, 1, why))
        if change.missed:
            missed.append((at, chat_id, event_id))
        if change.holds:
            holds.append((at, chat_id, event_id))
    active, on_hold = _open_chats(changes)
    return {
        "closed": [_closed_item(item) for item in sorted(closed)],
        "closed_not_counted": [_closed_item(item) for item in sorted(not_counted)],
        "missed": [_event_item(item) for item in sorted(missed)],
        "holds": [_event_item(item) for item in sorted(holds)],
        "on_hold": _open_items(on_hold),
        "active": _open_items(active),
    }


def _open_chats(changes: Sequence[AgentChange]) -> tuple[dict[str, int], dict[str, int]]:
    """Chats whose last ownership (active) and hold (on_hold) change for the agent was +1,
    with that change's time. A chat's changes reach the agent in the chat's order."""
    active: dict[str, int] = {}
    on_hold: dict[str, int] = {}
    for change in changes:
        if change.active > 0:
            active[change.chat_id] = change.at
        elif change.active < 0:
            active.pop(change.chat_id, None)
        if change.on_hold > 0:
            on_hold[change.chat_id] = change.at
        elif change.on_hold < 0:
            on_hold.pop(change.chat_id, None)
    return active, on_hold


def _closed_item(item: tuple[int, str, str, int, str]) -> ClosedItem:
    at, chat_id, event_id, change, why = item
    return {
        "chat_id": chat_id,
        "event_id": event_id,
        "at": format_instant(at),
        "change": 1 if change > 0 else -1,
        "why": why,
    }


def _event_item(item: tuple[int, str, str]) -> EventItem:
    at, chat_id, event_id = item
    return {"chat_id": chat_id, "event_id": event_id, "at": format_instant(at)}


def _open_items(chats: dict[str, int]) -> list[OpenChatItem]:
    return [
        {"chat_id": chat_id, "since": format_instant(since)}
        for since, chat_id in sorted((since, chat_id) for chat_id, since in chats.items())
    ]


def compact(agent: AgentState, changes: Sequence[AgentChange]) -> list[AgentChange]:
    """The changes a breakdown of ``agent`` needs from now on, in order
    (:func:`compact_positions`)."""
    return list(compact_positions(agent, changes).values())


def compact_positions(agent: AgentState, changes: Sequence[AgentChange]) -> dict[int, AgentChange]:
    """The changes a breakdown of ``agent`` needs from now on, by their index in
    ``changes`` (in order); a change kept whole is the very object given.

    Kept whole: the changes the current session counts that a breakdown can show (mere
    mentions of the agent are dropped; a later session counts only
    changes timed at or after its own start, which these are not earlier than). Kept as
    their ownership and hold part only: each chat's last ownership change and last hold
    change, when the chat is open now or a change kept whole opened it. Everything else
    belongs to sessions that are over.
    """
    whole = [counted_in_session(change, agent) and carries_evidence(change) for change in changes]
    needed: dict[int, list[int]] = {}
    for slot, part in enumerate((_ACTIVE, _ON_HOLD)):
        for index, delta in _last_deltas(changes, whole, part).items():
            needed.setdefault(index, [0, 0])[slot] = delta
    kept: dict[int, AgentChange] = {}
    for index, change in enumerate(changes):
        if whole[index]:
            kept[index] = change
        elif index in needed:
            active, on_hold = needed[index]
            kept[index] = change._replace(
                active=active,
                on_hold=on_hold,
                closed=0,
                uncredit_since=None,
                missed=0,
                holds=0,
                closed_by=None,
                by_platform=False,
            )
    return kept


def _last_deltas(
    changes: Sequence[AgentChange], whole: list[bool], part: Callable[[AgentChange], int]
) -> dict[int, int]:
    """Per chat, the index and sign of its last change in ``part`` (ownership or hold)
    that must be kept apart from the changes kept whole: a +1 always, a -1 only after a
    +1 kept whole."""
    last: dict[str, int] = {}
    opened_by_whole: set[str] = set()
    for index, change in enumerate(changes):
        delta = part(change)
        if delta:
            last[change.chat_id] = index
            if whole[index] and delta > 0:
                opened_by_whole.add(change.chat_id)
    needed: dict[int, int] = {}
    for chat_id, index in last.items():
        delta = 1 if part(changes[index]) > 0 else -1
        if not whole[index] and (delta > 0 or chat_id in opened_by_whole):
            needed[index] = delta
    return needed
