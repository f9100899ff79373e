"""Immutable per-agent and per-chat state, and its compact serialization.

States are ``NamedTuple`` records: immutable, cheap to build, and directly
encodable by orjson. The fold (``fold.py``) never mutates them; it returns new
records that share unchanged parts with the old ones.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

import orjson

from .events import Status

__all__ = [
    "OUTBOX_EVENTS",
    "REMEMBERED_EVENT_IDS",
    "STATE_FORMAT_VERSION",
    "AgentChange",
    "AgentRecord",
    "AgentState",
    "ChatRecord",
    "ChatState",
    "Outbox",
    "Segment",
    "SessionClock",
    "SourcedChange",
    "StateFormatError",
    "Tally",
    "decode_agent",
    "decode_agent_record",
    "decode_agent_status",
    "decode_changes",
    "decode_chat",
    "decode_chat_record",
    "encode_agent",
    "encode_agent_record",
    "encode_changes",
    "encode_chat",
    "encode_chat_record",
    "new_agent",
    "new_chat",
]

STATE_FORMAT_VERSION: Final = 1
REMEMBERED_EVENT_IDS: Final = 1000
"""How many recent event ids each agent and chat remembers to drop duplicates (spec §5)."""

Segment = tuple[int, Status]
"""``(start, status)``: the agent entered ``status`` at ``start`` during the session."""


class AgentChange(NamedTuple):
    """What one chat event changes for one agent (sent from the chat fold to the agent fold).

    ``closed`` is +1 when the agent takes a chat's close credit at ``at``;
    ``uncredit_since`` is set when the agent loses the credit it took at that instant.
    """

    agent_id: str
    at: int
    active: int = 0
    on_hold: int = 0
    closed: int = 0
    uncredit_since: int | None = None
    missed: int = 0
    holds: int = 0


class SessionClock(NamedTuple):
    """Status, session and the time spent in each status during the session."""

    status: Status | None = None
    since: int | None = None
    reason: str | None = None
    session_start: int | None = None
    session_index: int = 0
    offline_since: int | None = None
    gap_seen: bool = False
    segments: tuple[Segment, ...] = ()
    folded: tuple[int, int, int] = (0, 0, 0)
    """Online, offline and paused microseconds of segments dropped to bound ``segments``."""


class Tally(NamedTuple):
    """Chat counters of one agent.

    ``closed``, ``missed`` and ``holds`` are settled sums: changes timed before
    the agent's current status began, already judged against the session.
    ``pending`` holds later changes, which a session start may still discard.
    """

    active: int = 0
    on_hold: int = 0
    closed: int = 0
    missed: int = 0
    holds: int = 0
    pending: tuple[AgentChange, ...] = ()


class AgentState(NamedTuple):
    """Everything the panel of one agent is computed from."""

    agent_id: str
    name: str | None = None
    nickname: str | None = None
    clock: SessionClock = SessionClock()
    tally: Tally = Tally()
    late_status_events: int = 0
    recent_ids: tuple[str, ...] = ()


class ChatState(NamedTuple):
    """One chat: who owns it, whether it is open or on hold, and its close credit."""

    chat_id: str
    open: bool = False
    owner: str | None = None
    on_hold: bool = False
    credit_agent: str | None = None
    credit_at: int | None = None
    recent_ids: tuple[str, ...] = ()


def new_agent(agent_id: str) -> AgentState:
    """The state of an agent no event has touched yet."""
    return AgentState(agent_id)


def new_chat(chat_id: str) -> ChatState:
    """The state of a chat no event has touched yet."""
    return ChatState(chat_id)


Outbox = tuple[tuple[int, tuple[AgentChange, ...]], ...]
"""``(source offset, changes)`` of a chat's latest applied events, newest last."""

OUTBOX_EVENTS: Final = 32


class ChatRecord(NamedTuple):
    """What the streaming worker stores per chat: state, position and recent output.

    ``offset`` is the last applied offset of the chat's input partition; events at
    or below it are replays. ``outbox`` keeps the changes recent events sent to
    agents, so a replay can send them again in case they were lost in a crash
    (the agents drop what they already applied).
    """

    chat: ChatState
    offset: int = -1
    outbox: Outbox = ()


class AgentRecord(NamedTuple):
    """What the streaming worker stores per agent: state and last applied offsets.

    ``offsets`` maps an input, e.g. ``"status/3"`` or ``"chat/1"``, to the last
    offset of it applied to this agent.
    """

    agent: AgentState
    offsets: tuple[tuple[str, int], ...] = ()

    def applied(self, source: str) -> int:
        """The last offset of ``source`` applied to this agent, -1 if none."""
        for name, offset in self.offsets:
            if name == source:
                return offset
        return -1

    def advanced(self, agent: AgentState, source: str, offset: int) -> AgentRecord:
        """A record holding ``agent`` with ``source`` applied up to ``offset``."""
        others = tuple(pair for pair in self.offsets if pair[0] != source)
        return AgentRecord(agent, (*others, (source, offset)))


class StateFormatError(ValueError):
    """Stored state bytes that this version cannot read."""


def _plain_tuple(record: object) -> tuple[object, ...]:
    # orjson encodes tuples but not their subclasses; records become JSON arrays.
    if isinstance(record, tuple):
        return tuple(record)
    raise TypeError(f"cannot serialize {type(record).__name__}")


def _encode(value: object) -> bytes:
    data = orjson.dumps((STATE_FORMAT_VERSION, value), default=_plain_tuple)
    # orjson's result keeps a ~4 KiB allocation however short it is; the memory store
    # holds records for good, so keep an exact-size copy (~100 ns for a record).
    return bytes(memoryview(data))


def encode_agent(state: AgentState) -> bytes:
    """Serialize agent state to compact, versioned bytes."""
    return _encode(state)


def encode_chat(state: ChatState) -> bytes:
    """Serialize chat state to compact, versioned bytes."""
    return _encode(state)


def encode_agent_record(record: AgentRecord) -> bytes:
    """Serialize a stored agent record."""
    return _encode(record)


def encode_chat_record(record: ChatRecord) -> bytes:
    """Serialize a stored chat record."""
    return _encode(record)


SourcedChange = tuple[int, int, AgentChange]
"""``(chat partition, chat offset, change)``: a change and the chat event that caused it."""


def encode_changes(changes: list[SourcedChange]) -> bytes:
    """Serialize changes for one agent into one message of the agent-changes topic."""
    return _encode(changes)


# Records are rebuilt with tuple.__new__ from the decoded lists: a NamedTuple's own
# constructor parses its arguments in Python, several times slower.
_new_tuple: Final = tuple.__new__


def decode_agent(data: bytes) -> AgentState:
    """Read bytes written by :func:`encode_agent`."""
    return _agent(_payload(data))


def decode_chat(data: bytes) -> ChatState:
    """Read bytes written by :func:`encode_chat`."""
    return _chat(_payload(data))


def decode_agent_record(data: bytes) -> AgentRecord:
    """Read bytes written by :func:`encode_agent_record`."""
    agent, offsets = _payload(data)
    return _new_tuple(
        AgentRecord, (_agent(agent), tuple([(source, offset) for source, offset in offsets]))
    )


def decode_agent_status(data: bytes) -> str | None:
    """Only the current status of a stored agent record: cheaper than decoding it all."""
    status: str | None = _payload(data)[0][3][0]
    return status


def decode_chat_record(data: bytes) -> ChatRecord:
    """Read bytes written by :func:`encode_chat_record`."""
    chat, offset, outbox = _payload(data)
    return _new_tuple(
        ChatRecord,
        (
            _chat(chat),
            offset,
            tuple(
                [
                    (at, tuple([_new_tuple(AgentChange, change) for change in changes]))
                    for at, changes in outbox
                ]
            ),
        ),
    )


def decode_changes(data: bytes) -> list[SourcedChange]:
    """Read bytes written by :func:`encode_changes`."""
    return [
        (partition, offset, _new_tuple(AgentChange, change))
        for partition, offset, change in _payload(data)
    ]


def _agent(fields: list[Any]) -> AgentState:
    agent_id, name, nickname, clock, tally, late, recent = fields
    (status, since, reason, start, index, offline_since, gap, segments, folded) = clock
    active, on_hold, closed, missed, holds, pending = tally
    return _new_tuple(
        AgentState,
        (
            agent_id,
            name,
            nickname,
            _new_tuple(
                SessionClock,
                (
                    status,
                    since,
                    reason,
                    start,
                    index,
                    offline_since,
                    gap,
                    tuple([(begin, what) for begin, what in segments]),
                    (folded[0], folded[1], folded[2]),
                ),
            ),
            _new_tuple(
                Tally,
                (
                    active,
                    on_hold,
                    closed,
                    missed,
                    holds,
                    tuple([_new_tuple(AgentChange, change) for change in pending]),
                ),
            ),
            late,
            tuple(recent),
        ),
    )


def _chat(fields: list[Any]) -> ChatState:
    chat_id, is_open, owner, on_hold, credit_agent, credit_at, recent = fields
    return _new_tuple(
        ChatState, (chat_id, is_open, owner, on_hold, credit_agent, credit_at, tuple(recent))
    )


def _payload(data: bytes) -> Any:
    try:
        version, fields = orjson.loads(data)
    except (orjson.JSONDecodeError, TypeError, ValueError) as error:
        raise StateFormatError(f"stored state is not readable: {error}") from error
    if version != STATE_FORMAT_VERSION:
        raise StateFormatError(
            f"stored state has format {version}, this version reads {STATE_FORMAT_VERSION}; "
            "rebuild the tables by replaying the input topics"
        )
    return fields
