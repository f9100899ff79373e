"""The projection fold: pure functions from (state, event) to new state.

Two folds, one per Kafka key, so that the streaming worker can run each next
to its own input partition:

* :func:`evolve_chat` folds the chat topic, keyed by chat, and returns the
  per-agent :class:`AgentChange` records the event causes;
* :func:`evolve_agent` folds the status topic and those changes, keyed by agent.

Agent changes commute with each other and carry their event time, so the agent
state does not depend on how the two topics interleave (spec §3).
:class:`Projector` wires both folds together for replay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from .events import (
    AgentEvent,
    AgentProfileChanged,
    AgentStatusChanged,
    ChatAssigned,
    ChatClosed,
    ChatEvent,
    ChatHeld,
    ChatReopened,
    ChatResumed,
    ChatTransferred,
    Status,
)
from .instant import MICROS_PER_SECOND
from .state import (
    REMEMBERED_EVENT_IDS,
    AgentChange,
    AgentState,
    ChatState,
    Segment,
    SessionClock,
    Tally,
    new_agent,
    new_chat,
)

__all__ = [
    "DEFAULT_OFFLINE_GAP",
    "MAX_SEGMENTS",
    "FoldConfig",
    "Projector",
    "counts_in_session",
    "evolve_agent",
    "evolve_chat",
    "sum_in_session",
]

DEFAULT_OFFLINE_GAP: Final = 6 * 3600 * MICROS_PER_SECOND
MAX_SEGMENTS: Final = 1000
"""Status segments kept per session; older ones are folded into totals."""

_STATUS_SLOT: Final = {"online": 0, "offline": 1, "paused": 2}


@dataclass(frozen=True, slots=True)
class FoldConfig:
    """Rules that are settings rather than contract: the offline gap that ends a session."""

    offline_gap: int = DEFAULT_OFFLINE_GAP
    """Microseconds of continuous offline time that end a session (spec §2)."""


DEFAULT_CONFIG: Final = FoldConfig()


def _remember(recent: tuple[str, ...], event_id: str) -> tuple[str, ...]:
    if len(recent) >= REMEMBERED_EVENT_IDS:
        return (*recent[len(recent) - REMEMBERED_EVENT_IDS + 1 :], event_id)
    return (*recent, event_id)


# --- chats -------------------------------------------------------------------------------


class _Changes:
    """Collects the per-agent changes of one chat event, one record per agent."""

    __slots__ = ("at", "deltas", "named", "uncredit")

    def __init__(self, at: int) -> None:
        self.at = at
        # agent id -> [active, on_hold, closed, missed, holds]
        self.deltas: dict[str, list[int]] = {}
        self.named: list[str] = []
        self.uncredit: tuple[str, int] | None = None

    def add(self, agent_id: str | None, slot: int, delta: int) -> None:
        if agent_id is not None:
            counts = self.deltas.get(agent_id)
            if counts is None:
                counts = self.deltas[agent_id] = [0, 0, 0, 0, 0]
            counts[slot] += delta

    def name(self, agent_id: str | None) -> None:
        """The event names the agent: it appears on the panel even when nothing changes."""
        if agent_id is not None:
            self.named.append(agent_id)

    def records(self) -> tuple[AgentChange, ...]:
        at, deltas, uncredit = self.at, self.deltas, self.uncredit
        for agent_id in self.named:
            if agent_id not in deltas:
                deltas[agent_id] = [0, 0, 0, 0, 0]
        if uncredit is not None and uncredit[0] not in deltas:
            deltas[uncredit[0]] = [0, 0, 0, 0, 0]
        records = []
        for agent_id, (active, on_hold, closed, missed, holds) in deltas.items():
            lost = uncredit[1] if uncredit is not None and uncredit[0] == agent_id else None
            records.append(AgentChange(agent_id, at, active, on_hold, closed, lost, missed, holds))
        return tuple(records)


_ACTIVE, _ON_HOLD, _CLOSED, _MISSED, _HOLDS = range(5)


def _take_ownership(chat: ChatState, agent_id: str, changes: _Changes) -> ChatState:
    """``agent_id`` owns the chat from now on and it is open; a change of owner ends a hold."""
    if not chat.open:
        changes.add(agent_id, _ACTIVE, 1)
    elif chat.owner == agent_id:
        changes.name(agent_id)
        return chat
    else:
        changes.add(chat.owner, _ACTIVE, -1)
        if chat.on_hold:
            changes.add(chat.owner, _ON_HOLD, -1)
        changes.add(agent_id, _ACTIVE, 1)
    return ChatState(
        chat.chat_id,
        True,
        agent_id,
        False,
        chat.credit_agent,
        chat.credit_at,
        chat.recent_ids,
    )


def _chat_assigned(chat: ChatState, event: ChatAssigned, changes: _Changes) -> ChatState:
    return _take_ownership(chat, event.agent_id, changes)


def _chat_reopened(chat: ChatState, event: ChatReopened, changes: _Changes) -> ChatState:
    return _take_ownership(chat, event.agent_id, changes)


def _chat_transferred(chat: ChatState, event: ChatTransferred, changes: _Changes) -> ChatState:
    if event.reason == "no_agent_answer":
        changes.add(event.from_agent_id, _MISSED, 1)
    else:
        changes.name(event.from_agent_id)
    if chat.open:
        return _take_ownership(chat, event.to_agent_id, changes)
    # A transfer does not open a chat, but it still says who the chat belongs to.
    changes.name(event.to_agent_id)
    return ChatState(
        chat.chat_id,
        chat.open,
        event.to_agent_id,
        chat.on_hold,
        chat.credit_agent,
        chat.credit_at,
        chat.recent_ids,
    )


def _with_hold(chat: ChatState, on_hold: bool) -> ChatState:
    # The constructor, not _replace: this runs for most events and _replace is slow.
    return ChatState(
        chat.chat_id,
        chat.open,
        chat.owner,
        on_hold,
        chat.credit_agent,
        chat.credit_at,
        chat.recent_ids,
    )


def _chat_held(chat: ChatState, event: ChatHeld, changes: _Changes) -> ChatState:
    if not chat.open or chat.on_hold:
        changes.name(event.agent_id)
        return chat
    changes.add(event.agent_id, _HOLDS, 1)
    changes.add(chat.owner, _ON_HOLD, 1)
    return _with_hold(chat, True)


def _chat_resumed(chat: ChatState, event: ChatResumed, changes: _Changes) -> ChatState:
    changes.name(event.agent_id)
    if not chat.open or not chat.on_hold:
        return chat
    changes.add(chat.owner, _ON_HOLD, -1)
    return _with_hold(chat, False)


def _chat_closed(chat: ChatState, event: ChatClosed, changes: _Changes) -> ChatState:
    changes.name(event.agent_id)
    owner = chat.owner
    if chat.open:
        changes.add(owner, _ACTIVE, -1)
        if chat.on_hold:
            changes.add(owner, _ON_HOLD, -1)
    if event.reason == "agent":
        target = event.agent_id
    else:
        target = owner if owner is not None else event.agent_id
    credit_agent, credit_at = chat.credit_agent, chat.credit_at
    if target is not None:
        if credit_agent is not None:
            assert credit_at is not None
            changes.uncredit = (credit_agent, credit_at)
        changes.add(target, _CLOSED, 1)
        credit_agent, credit_at = target, changes.at
    return ChatState(chat.chat_id, False, owner, False, credit_agent, credit_at, chat.recent_ids)


_ChatHandler = Callable[[ChatState, ChatEvent, _Changes], ChatState]
_CHAT_HANDLERS: Final[dict[type, _ChatHandler]] = {
    ChatAssigned: _chat_assigned,  # type: ignore[dict-item]
    ChatTransferred: _chat_transferred,  # type: ignore[dict-item]
    ChatHeld: _chat_held,  # type: ignore[dict-item]
    ChatResumed: _chat_resumed,  # type: ignore[dict-item]
    ChatClosed: _chat_closed,  # type: ignore[dict-item]
    ChatReopened: _chat_reopened,  # type: ignore[dict-item]
}


def evolve_chat(
    chat: ChatState | None, event: ChatEvent
) -> tuple[ChatState, tuple[AgentChange, ...]]:
    """Apply one chat event; return the new chat state and the agent changes it causes.

    A duplicate ``event_id`` returns the state unchanged and no changes.
    """
    if chat is None:
        chat = new_chat(event.chat_id)
    elif event.event_id in chat.recent_ids:
        return chat, ()
    changes = _Changes(event.at_micros)
    chat = _CHAT_HANDLERS[type(event)](chat, event, changes)
    chat = ChatState(
        chat.chat_id,
        chat.open,
        chat.owner,
        chat.on_hold,
        chat.credit_agent,
        chat.credit_at,
        _remember(chat.recent_ids, event.event_id),
    )
    return chat, changes.records()


# --- agents ------------------------------------------------------------------------------


def counts_in_session(change: AgentChange, clock: SessionClock) -> tuple[int, int, int]:
    """(closed, missed, holds) that ``change`` adds to the current session's panel.

    Called only for changes not earlier than the session start (or while there
    is nothing to reset yet), so only the lost credit needs judging: it counts
    unless a reset happened after the credit was taken, i.e. unless the credit
    predates the current session and that session is not the first.
    """
    closed = change.closed
    if change.uncredit_since is not None:
        reset_since_credit = (
            clock.session_index > 1
            and clock.session_start is not None
            and change.uncredit_since < clock.session_start
        )
        if not reset_since_credit:
            closed -= 1
    return closed, change.missed, change.holds


def sum_in_session(changes: Iterable[AgentChange], clock: SessionClock) -> tuple[int, int, int]:
    """(closed, missed, holds) that ``changes`` add to the current session's panel."""
    closed = missed = holds = 0
    for change in changes:
        add_closed, add_missed, add_holds = counts_in_session(change, clock)
        closed, missed, holds = closed + add_closed, missed + add_missed, holds + add_holds
    return closed, missed, holds


def _reset_horizon(clock: SessionClock, gap: int) -> int | None:
    """The earliest instant a future session start could reset the agent's counters.

    Changes timed before it are judged by the current session for good. None when
    there is no bound yet (no status event so far).
    """
    since = clock.since
    if since is None:
        return None
    if clock.session_index >= 1 and clock.gap_seen:
        return since  # the next transition to online starts a session
    if clock.session_index >= 1 and clock.status == "offline":
        assert clock.offline_since is not None
        return max(since, clock.offline_since + gap)
    # Going offline now and back after the gap is the soonest possible reset (or, with
    # no session yet, the first session must start and then end with a gap).
    return since + gap


def _apply_change(agent: AgentState, change: AgentChange, gap: int) -> AgentState:
    tally, clock = agent.tally, agent.clock
    active, on_hold = tally.active + change.active, tally.on_hold + change.on_hold
    closed, missed, holds, pending = tally.closed, tally.missed, tally.holds, tally.pending
    if not (change.closed or change.uncredit_since is not None or change.missed or change.holds):
        if not (change.active or change.on_hold):
            return agent
    elif (horizon := _reset_horizon(clock, gap)) is None or change.at >= horizon:
        # A later status event may still start a session before this change: keep it apart.
        pending = (*pending, change)
    elif clock.session_index < 2 or change.at >= clock.session_start:  # type: ignore[operator]
        add_closed, add_missed, add_holds = counts_in_session(change, clock)
        closed, missed, holds = closed + add_closed, missed + add_missed, holds + add_holds
    # else: the change belongs to a session that has ended; only open chats still count.
    return AgentState(
        agent.agent_id,
        agent.name,
        agent.nickname,
        clock,
        Tally(active, on_hold, closed, missed, holds, pending),
        agent.late_status_events,
        agent.recent_ids,
    )


def _settle(tally: Tally, clock: SessionClock, new_session: bool, gap: int) -> Tally:
    """Re-judge pending changes after the status moved to ``clock.since``.

    A new session (after the first) discards everything timed before its start.
    Pending changes earlier than the reset horizon can no longer be discarded by a
    later session start without being discarded whole, so they are summed.
    """
    since = clock.since
    horizon = _reset_horizon(clock, gap)
    assert since is not None
    assert horizon is not None
    closed, missed, holds = tally.closed, tally.missed, tally.holds
    if new_session and clock.session_index > 1:
        closed = missed = holds = 0
        pending = tuple(change for change in tally.pending if change.at >= since)
    else:
        pending = tally.pending
    keep = tuple(change for change in pending if change.at >= horizon)
    add_closed, add_missed, add_holds = sum_in_session(
        (change for change in pending if change.at < horizon), clock
    )
    closed, missed, holds = closed + add_closed, missed + add_missed, holds + add_holds
    return Tally(tally.active, tally.on_hold, closed, missed, holds, keep)


def _next_clock(
    clock: SessionClock, at: int, status: Status, reason: str | None, gap: int
) -> tuple[SessionClock, bool]:
    """The clock after a status change at ``at`` and whether it starts a session."""
    offline_since, gap_seen = clock.offline_since, clock.gap_seen
    if clock.status == "offline" and status != "offline":
        assert offline_since is not None
        gap_seen = gap_seen or at - offline_since >= gap
        offline_since = None
    elif status == "offline" and clock.status != "offline":
        offline_since = at
    if status == "online" and clock.status != "online" and (clock.session_index == 0 or gap_seen):
        clock = SessionClock(
            status, at, reason, at, clock.session_index + 1, offline_since, False, ((at, status),)
        )
        return clock, True
    segments, folded = clock.segments, clock.folded
    if clock.session_start is not None and status != clock.status:
        segments = (*segments, (at, status))
        if len(segments) > MAX_SEGMENTS:
            segments, folded = _fold_oldest(segments, folded)
    return (
        SessionClock(
            status,
            at,
            reason,
            clock.session_start,
            clock.session_index,
            offline_since,
            gap_seen,
            segments,
            folded,
        ),
        False,
    )


def _fold_oldest(
    segments: tuple[Segment, ...], folded: tuple[int, int, int]
) -> tuple[tuple[Segment, ...], tuple[int, int, int]]:
    (start, status), (end, _) = segments[0], segments[1]
    totals = list(folded)
    totals[_STATUS_SLOT[status]] += end - start
    return segments[1:], (totals[0], totals[1], totals[2])


def _apply_status(agent: AgentState, event: AgentStatusChanged, config: FoldConfig) -> AgentState:
    at, clock = event.at_micros, agent.clock
    if clock.since is not None and at < clock.since:
        return agent._replace(late_status_events=agent.late_status_events + 1)
    if event.status == clock.status and event.reason == clock.reason:
        return agent
    clock, new_session = _next_clock(clock, at, event.status, event.reason, config.offline_gap)
    tally = _settle(agent.tally, clock, new_session, config.offline_gap)
    return agent._replace(clock=clock, tally=tally)


def _apply_profile(agent: AgentState, event: AgentProfileChanged) -> AgentState:
    return agent._replace(name=event.name, nickname=event.nickname)


def evolve_agent(
    agent: AgentState | None,
    item: AgentEvent | AgentChange,
    config: FoldConfig = DEFAULT_CONFIG,
) -> AgentState:
    """Apply a status or profile event, or a change caused by a chat event, to one agent.

    A status or profile event whose ``event_id`` the agent has seen returns the
    state unchanged (the same object).
    """
    if type(item) is AgentChange:
        return _apply_change(agent or new_agent(item.agent_id), item, config.offline_gap)
    assert not isinstance(item, AgentChange)
    if agent is None:
        agent = new_agent(item.agent_id)
    elif item.event_id in agent.recent_ids:
        return agent
    if isinstance(item, AgentStatusChanged):
        agent = _apply_status(agent, item, config)
    else:
        agent = _apply_profile(agent, item)
    return agent._replace(recent_ids=_remember(agent.recent_ids, item.event_id))


# --- both --------------------------------------------------------------------------------


@dataclass(slots=True)
class Projector:
    """Folds a mixed stream of events into agent and chat states, as replay does.

    The states are immutable; only the two dictionaries that index them change.
    """

    config: FoldConfig = DEFAULT_CONFIG
    agents: dict[str, AgentState] = field(default_factory=dict)
    chats: dict[str, ChatState] = field(default_factory=dict)

    def apply(self, event: AgentEvent | ChatEvent) -> None:
        """Fold one event into the projection."""
        agents = self.agents
        if type(event) is AgentStatusChanged or type(event) is AgentProfileChanged:
            agent_id = event.agent_id
            agents[agent_id] = evolve_agent(agents.get(agent_id), event, self.config)
            return
        assert not isinstance(event, (AgentStatusChanged, AgentProfileChanged))
        chat, changes = evolve_chat(self.chats.get(event.chat_id), event)
        self.chats[event.chat_id] = chat
        for change in changes:
            agent_id = change.agent_id
            agent = agents.get(agent_id) or new_agent(agent_id)
            agents[agent_id] = _apply_change(agent, change, self.config.offline_gap)

    def apply_all(self, events: Iterable[AgentEvent | ChatEvent]) -> None:
        """Fold events in order."""
        for event in events:
            self.apply(event)
