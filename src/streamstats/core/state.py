"""Per-agent and per-chat state: mutable working records that a batch folds in place.

A batch of events is folded into records it owns (fresh from the store, or a replay's
own dictionaries): the per-event path changes a few integer and string fields, with no
new record per event. Every field is a JSON value (lists, not tuples, for sequences), so
the record codecs in ``streamstats.streaming.records`` write and read them field by field
with no conversion. :class:`AgentChange` is the one immutable record here: it is a message
from the chat fold to the agent fold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import orjson

from .events import Status

__all__ = [
    "NO_EVENT_IDS",
    "REMEMBERED_EVENT_IDS",
    "SESSION_FIELDS",
    "AgentChange",
    "AgentState",
    "ChangeFields",
    "ChatState",
    "change_of",
    "event_id_line",
    "remember",
    "remember_line",
]

REMEMBERED_EVENT_IDS: Final = 1000
"""How many recent event ids each agent and chat remembers to drop duplicates (spec §5)."""

NO_EVENT_IDS: Final = b"\n"
"""An agent's remembered event ids when there are none (:attr:`AgentState.recent_ids`)."""


class AgentChange(NamedTuple):
    """What one chat event changes for one agent (sent from the chat fold to the agent fold).

    ``closed`` is +1 when the agent takes a chat's close credit at ``at``;
    ``uncredit_since`` is set when the agent loses the credit it took at that instant.
    The last four fields are the evidence the breakdown shows (spec §9): the chat and
    event that caused the change and, for a close, who took the credit and whether the
    platform's timer closed the chat.
    """

    agent_id: str
    at: int
    active: int = 0
    on_hold: int = 0
    closed: int = 0
    uncredit_since: int | None = None
    missed: int = 0
    holds: int = 0
    chat_id: str = ""
    event_id: str = ""
    closed_by: str | None = None
    by_platform: bool = False


ChangeFields = list[Any]
"""An :class:`AgentChange`'s fields, in order, as a list: what the chat fold makes, and
what the worker keeps and sends as it is (a JSON array, with no conversion)."""

_new_tuple: Final = tuple.__new__


def change_of(fields: ChangeFields) -> AgentChange:
    """The :class:`AgentChange` of ``fields`` (all twelve, in order)."""
    # tuple.__new__ rather than AgentChange(...) or _make: both run Python code, several
    # times slower.
    change: AgentChange = _new_tuple(AgentChange, fields)
    return change


@dataclass(slots=True)
class AgentState:
    """Everything the panel of one agent is computed from.

    The session clock: ``status`` since ``since`` (with ``reason``); the session began at
    ``session_start`` and is the agent's ``session_index``-th; ``offline_since`` is the
    start of the current offline period and ``gap_start`` is the start of the first
    offline gap since the session began (None: none yet), the session's end.
    ``segment_starts[i]`` is when the agent entered ``segment_statuses[i]`` with
    ``segment_reasons[i]`` during the session; ``folded`` holds the online, offline and
    paused microseconds of segments dropped to bound the lists.

    The chat tally: ``active`` and ``on_hold`` count open chats now. ``closed``, ``missed``
    and ``holds`` are settled sums, changes timed before the reset horizon and already
    judged against the session; ``pending`` holds later changes, which a session start
    may still discard.
    """

    agent_id: str
    name: str | None = None
    nickname: str | None = None
    status: Status | None = None
    since: int | None = None
    reason: str | None = None
    session_start: int | None = None
    session_index: int = 0
    offline_since: int | None = None
    gap_start: int | None = None
    segment_starts: list[int] = field(default_factory=list)
    segment_statuses: list[Status] = field(default_factory=list)
    segment_reasons: list[str | None] = field(default_factory=list)
    folded: list[int] = field(default_factory=lambda: [0, 0, 0])
    active: int = 0
    on_hold: int = 0
    closed: int = 0
    missed: int = 0
    holds: int = 0
    pending: list[AgentChange] = field(default_factory=list)
    late_status_events: int = 0
    last_session: list[int] | None = None
    """The summary of the session before the current one (:data:`SESSION_FIELDS`) as it
    was when that session ended; chat events that arrive later amend the summary kept
    outside the record (``rules.amend_session``)."""
    recent_count: int = 0
    recent_ids: bytes = NO_EVENT_IDS
    """The last ``recent_count`` status and profile event ids, oldest first, encoded: each
    id's JSON string on a line of its own, between newlines (``b'\\n"e-1"\\n"e-7"\\n'``).

    An agent may remember hundreds (a client that re-sends its status every few
    minutes). Encoded, its stored record reads and writes them with no work per id, and
    a lookup (:func:`event_id_line`) is one substring search rather than a comparison with
    every id. Kept last: the record codec stores it after the other fields' array.
    """


SESSION_FIELDS: Final = (
    "start",
    "end",
    "online",
    "offline",
    "paused",
    "closed",
    "missed",
    "holds",
    "index",
)
"""The fields of an ended session's summary, a list of integers: its start and end, its
online, offline and paused microseconds, its closed, missed and holds, and its number."""


@dataclass(slots=True)
class ChatState:
    """One chat: who owns it, whether it is open or on hold, and its close credit."""

    chat_id: str
    open: bool = False
    owner: str | None = None
    on_hold: bool = False
    credit_agent: str | None = None
    credit_at: int | None = None
    recent_ids: list[str] = field(default_factory=list)


def remember(recent_ids: list[str], event_id: str) -> None:
    """Add ``event_id`` to a chat's recent ids, forgetting the oldest past the bound."""
    recent_ids.append(event_id)
    if len(recent_ids) > REMEMBERED_EVENT_IDS:
        del recent_ids[: len(recent_ids) - REMEMBERED_EVENT_IDS]


def event_id_line(event_id: str) -> bytes:
    """``event_id`` as a line of :attr:`AgentState.recent_ids`, with the newlines on both
    sides: ``line in agent.recent_ids`` tells whether the agent remembers it.

    A JSON string holds no raw newline (orjson escapes it), so the match is a whole line,
    and orjson's encoding of a string is one and the same every time.
    """
    return b"\n" + orjson.dumps(event_id) + b"\n"


def remember_line(agent: AgentState, line: bytes) -> None:
    """Add an :func:`event_id_line` to the agent's recent ids, forgetting the oldest past
    the bound."""
    recent = agent.recent_ids + line[1:]
    if agent.recent_count >= REMEMBERED_EVENT_IDS:
        recent = recent[recent.index(b"\n", 1) :]
    else:
        agent.recent_count += 1
    agent.recent_ids = recent
