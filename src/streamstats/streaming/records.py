"""What the worker stores per chat and per agent, and its compact, versioned bytes.

A stored record is the working record of the core (``ChatState``, ``AgentState``) plus
the input position it has applied, so that a message folded again after a crash or a
rebalance is recognised and skipped (effectively-once state: the position is written
atomically with the state it describes). Records are encoded as flat JSON arrays whose
fields are the working record's own, in declaration order: decoding hands orjson's
lists straight to the record, with no per-element conversion. A chat record's outbox
follows its array as JSON lines, kept as bytes: only a replay reads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any, Final, NamedTuple

import orjson

from ..core.state import AgentChange, AgentState, ChangeFields, ChatState, change_of

__all__ = [
    "EVIDENCE_KEY_MARK",
    "OUTBOX_EVENTS",
    "SESSION_KEY_MARK",
    "STATE_FORMAT_VERSION",
    "AgentRecord",
    "ChatRecord",
    "ForwardedStatus",
    "SentChange",
    "SourcedChange",
    "StateFormatError",
    "add_to_outbox",
    "decode_agent_input",
    "decode_agent_record",
    "decode_agent_status",
    "decode_chat_record",
    "decode_evidence",
    "decode_session",
    "encode_agent_record",
    "encode_changes",
    "encode_chat_record",
    "encode_forwarded",
    "encode_session",
    "evidence_changes",
    "evidence_key",
    "evidence_prefix",
    "is_item_key",
    "item_prefix",
    "outbox_entries",
    "session_key",
    "session_prefix",
    "session_start_of",
]

STATE_FORMAT_VERSION: Final = 5
"""Version 5: an agent record's remembered event ids follow its array as JSON lines
(version 4 kept them in the array as strings; version 3 nested a chat record's outbox in
its array; version 2 had no evidence in agent changes and no reasons in segments; version
1 nested the clock and the tally)."""

OUTBOX_EVENTS: Final = 32
"""Applied chat events whose agent changes a chat record keeps, to send them again."""

OutboxEntry = list[Any]
"""``[chat offset, [change fields, ...]]``: the changes one applied chat event sent
(each :data:`~streamstats.core.state.ChangeFields`)."""


@dataclass(slots=True)
class ChatRecord:
    """A chat, the last offset of its input partition applied to it, and its outbox.

    Messages at or below ``applied`` are replays. ``outbox`` keeps the changes recent
    events sent to agents, so that a replay can send them again in case they were lost in
    a crash (the agents drop what they already applied): one JSON line per event
    (:data:`OutboxEntry`), oldest first. It stays encoded, since a record is decoded and
    encoded on every fetch that reaches it and its outbox is read only by a replay
    (:func:`add_to_outbox`, :func:`outbox_entries`).
    """

    chat: ChatState
    applied: int = -1
    outbox: bytes = b""


def add_to_outbox(record: ChatRecord, offset: int, changes: list[ChangeFields]) -> None:
    """Keep the changes the chat event at ``offset`` sent, forgetting the oldest event's
    past :data:`OUTBOX_EVENTS`."""
    entry = orjson.dumps((offset, changes))
    outbox = record.outbox
    if not outbox:
        record.outbox = entry
        return
    if outbox.count(b"\n") + 1 >= OUTBOX_EVENTS:
        outbox = outbox[outbox.index(b"\n") + 1 :]
    record.outbox = outbox + b"\n" + entry


def outbox_entries(record: ChatRecord) -> list[OutboxEntry]:
    """The entries of a chat record's outbox, oldest first."""
    return [orjson.loads(line) for line in record.outbox.split(b"\n")] if record.outbox else []


@dataclass(slots=True)
class AgentRecord:
    """An agent and, per input (e.g. ``"status/3"`` or ``"chat/1"``), the last offset of
    it applied to the agent."""

    agent: AgentState
    applied: dict[str, int] = field(default_factory=dict)


SourcedChange = tuple[int, int, AgentChange]
"""``(chat partition, chat offset, change)``: a change and the chat event that caused it."""

SentChange = tuple[int, int, ChangeFields]
"""A :data:`SourcedChange` as the chat fold makes it: the change as its list of fields."""


class ForwardedStatus(NamedTuple):
    """A status-topic message found outside its agent's partition (the producer's
    partitioner is not murmur2), sent on to that partition through the agent-changes
    topic with its source position."""

    partition: int
    """The status-topic partition it was published to."""
    offset: int
    value: bytes
    """The message as published."""


class StateFormatError(ValueError):
    """Stored state bytes that this version cannot read."""


_CHAT_FIELDS: Final = attrgetter(*(item.name for item in fields(ChatState)))
# An agent's remembered ids (its last field) follow the array of the others as they are.
_AGENT_FIELD_NAMES: Final = tuple(item.name for item in fields(AgentState))[:-1]
assert fields(AgentState)[-1].name == "recent_ids"
_AGENT_FIELDS: Final = attrgetter(*_AGENT_FIELD_NAMES)
_AGENT_STATUS: Final = 2 + _AGENT_FIELD_NAMES.index("status")
_FORWARDED: Final = "status"


def _plain_tuple(value: object) -> tuple[object, ...]:
    # orjson encodes tuples but not their subclasses: an AgentChange becomes an array.
    if isinstance(value, tuple):
        return tuple(value)
    raise TypeError(f"cannot serialize {type(value).__name__}")


def _encode(value: object) -> bytes:
    data = orjson.dumps(value, default=_plain_tuple)
    # orjson's result keeps a ~4 KiB allocation however short it is; the memory store
    # holds records for good, so keep an exact-size copy (~100 ns for a record).
    return bytes(memoryview(data))


def encode_chat_record(record: ChatRecord) -> bytes:
    """Serialize a stored chat record: its array, then its outbox's lines."""
    fields = (STATE_FORMAT_VERSION, record.applied, *_CHAT_FIELDS(record.chat))
    if not record.outbox:
        return _encode(fields)
    # orjson escapes every newline inside a string: the first newline ends the array.
    return orjson.dumps(fields) + b"\n" + record.outbox


def encode_agent_record(record: AgentRecord) -> bytes:
    """Serialize a stored agent record: its array, then its remembered event ids' lines."""
    fields = (STATE_FORMAT_VERSION, record.applied, *_AGENT_FIELDS(record.agent))
    # The ids start with a newline (core.state.NO_EVENT_IDS), which ends the array.
    return orjson.dumps(fields, default=_plain_tuple) + record.agent.recent_ids


def encode_changes(changes: Sequence[SourcedChange | SentChange]) -> bytes:
    """Serialize changes for one agent into one message of the agent-changes topic."""
    return _encode((STATE_FORMAT_VERSION, changes))


def encode_forwarded(forwarded: ForwardedStatus) -> bytes:
    """Serialize a forwarded status message for the agent-changes topic."""
    partition, offset, value = forwarded
    return _encode((STATE_FORMAT_VERSION, _FORWARDED, partition, offset, value.decode()))


EVIDENCE_KEY_MARK: Final = b"\xff"
"""First byte of an evidence key: never the first byte of an agent id in UTF-8, so the
agents table tells an agent record from an evidence item by its key alone."""


def evidence_prefix(agent_key: bytes) -> bytes:
    """The key prefix of every evidence item of one agent."""
    return EVIDENCE_KEY_MARK + len(agent_key).to_bytes(2, "big") + agent_key


def evidence_key(agent_key: bytes, partition: int, offset: int) -> bytes:
    """Where the agents table keeps, as evidence for the breakdown (spec §9), the changes
    an agent-changes message at ``offset`` of the agent's ``partition`` brought. An
    agent's keys sort in the order the agent applied the messages."""
    return evidence_prefix(agent_key) + partition.to_bytes(4, "big") + offset.to_bytes(8, "big")


SESSION_KEY_MARK: Final = b"\xfe"
"""First byte of a session summary's key (like :data:`EVIDENCE_KEY_MARK`)."""
_START_BIAS: Final = 1 << 63  # so that the bytes of signed starts sort as the numbers do


def session_prefix(agent_key: bytes) -> bytes:
    """The key prefix of every session summary of one agent."""
    return SESSION_KEY_MARK + len(agent_key).to_bytes(2, "big") + agent_key


def session_key(agent_key: bytes, start: int) -> bytes:
    """Where the agents table keeps the summary of the agent's session begun at ``start``."""
    return session_prefix(agent_key) + (start + _START_BIAS).to_bytes(8, "big")


def session_start_of(key: bytes) -> int:
    """The session start a :func:`session_key` names."""
    return int.from_bytes(key[-8:], "big") - _START_BIAS


def encode_session(summary: list[int]) -> bytes:
    """Serialize a session summary (``core.state.SESSION_FIELDS``)."""
    return _encode((STATE_FORMAT_VERSION, summary))


def decode_session(data: bytes) -> list[int]:
    """Read bytes written by :func:`encode_session`."""
    summary: list[int] = _payload(data)[1]
    return summary


def item_prefix(key: bytes) -> bytes:
    """The prefix an item's key shares with every item of its kind and agent (what
    :func:`evidence_prefix` or :func:`session_prefix` gives for that agent)."""
    return key[: 3 + int.from_bytes(key[1:3], "big")]


def is_item_key(key: bytes) -> bool:
    """True for the key of an item kept beside the agent records (evidence, a session
    summary), False for an agent's: no UTF-8 text starts with byte 0xFE or 0xFF."""
    return key[:1] >= SESSION_KEY_MARK


def decode_evidence(data: bytes) -> list[SourcedChange]:
    """The changes of an evidence item: an agent-changes message (``encode_changes``)."""
    changes = decode_agent_input(data)
    if isinstance(changes, ForwardedStatus):
        raise StateFormatError("stored evidence is a status message, not agent changes")
    return changes


def evidence_changes(items: Iterable[bytes]) -> list[AgentChange]:
    """The changes of an agent's evidence items (stored values, in key order), in order:
    what ``core.explain.explain`` reads."""
    return [change for data in items for _, _, change in decode_evidence(data)]


def decode_agent_input(data: bytes) -> list[SourcedChange] | ForwardedStatus:
    """Read a message of the agent-changes topic: changes, or a forwarded status message."""
    payload = _payload(data)
    if len(payload) == 5 and payload[1] == _FORWARDED:
        return ForwardedStatus(payload[2], payload[3], payload[4].encode())
    return [(partition, offset, change_of(change)) for partition, offset, change in payload[1]]


def decode_chat_record(data: bytes) -> ChatRecord:
    """Read bytes written by :func:`encode_chat_record`."""
    fields, _, outbox = data.partition(b"\n")
    payload = _payload(fields)
    return ChatRecord(ChatState(*payload[2:]), payload[1], outbox)


def decode_agent_record(data: bytes) -> AgentRecord:
    """Read bytes written by :func:`encode_agent_record`."""
    payload, cut = _agent_payload(data)
    agent = AgentState(*payload[2:])
    agent.recent_ids = data[cut:]
    if agent.pending:
        decoded: list[ChangeFields] = agent.pending  # type: ignore[assignment]  # JSON arrays
        agent.pending = [change_of(fields) for fields in decoded]
    return AgentRecord(agent, payload[1])


def decode_agent_status(data: bytes) -> str | None:
    """Only the current status of a stored agent record."""
    status: str | None = _agent_payload(data)[0][_AGENT_STATUS]
    return status


def _agent_payload(data: bytes) -> tuple[list[Any], int]:
    """An agent record's array, and where its remembered ids' lines begin."""
    cut = data.find(b"\n")
    payload = _payload(data if cut < 0 else data[:cut])  # refuses an older format first
    if cut < 0:
        raise StateFormatError("stored agent record is not readable: its event ids are missing")
    return payload, cut


def _payload(data: bytes) -> list[Any]:
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise StateFormatError(f"stored state is not readable: {error}") from error
    if not isinstance(payload, list) or not payload:
        raise StateFormatError("stored state is not readable: not a versioned array")
    version = payload[0]
    if version != STATE_FORMAT_VERSION:
        raise StateFormatError(
            f"stored state has format {version}, this version reads {STATE_FORMAT_VERSION}; "
            "rebuild the tables by replaying the input topics (delete the worker's data "
            "folder and its app's changelog topics, or start under a new STREAMSTATS_APP_ID)"
        )
    return payload
