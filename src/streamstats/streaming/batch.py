"""The batch fold: a fetch of input messages folded into the records it touches.

The worker, the benchmarks and the tests call these two functions; they hold no rule of
their own (the rules are ``streamstats.core.rules``) but add the streaming mechanics
around them: decoding and admitting messages (key and partition checks, dead letters),
the applied input position stored with each record (effectively-once state), and the
outbox that lets a replayed chat event send its agent changes again.

Each function takes the records the batch touches, as read from the store, and changes
them in place: they are the batch's working copies, written back once per batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Generic, Protocol, TypeVar, cast

from murmurhash2 import murmurhash2

from ..core.events import (
    AgentEvent,
    AgentProfileChanged,
    AgentStatusChanged,
    ChatEvent,
    InvalidEvent,
    UnknownEvent,
    decode_event,
)
from ..core.rules import FoldConfig, apply_agent_event, apply_change, apply_chat_event
from ..core.state import AgentChange, AgentState, ChatState
from .records import (
    AgentRecord,
    ChatRecord,
    ForwardedStatus,
    SentChange,
    SourcedChange,
    add_to_outbox,
    decode_agent_input,
    encode_changes,
    evidence_key,
    outbox_entries,
)

__all__ = [
    "BatchResult",
    "BatchTally",
    "DeadLetter",
    "InputRecord",
    "ItemWrite",
    "RecordStore",
    "changes_by_agent",
    "fold_agent_batch",
    "fold_chat_batch",
    "partition_for",
]

MURMUR2_SEED: Final = 0x9747B28C
"""The seed of the Java client's murmur2 (``Utils.murmur2``)."""


class InputRecord(Protocol):
    """One input message as the fold reads it (an aiokafka ``ConsumerRecord``)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Why a message was rejected; the worker forwards it with its original bytes."""

    reason: str
    detail: str


@dataclass(slots=True)
class BatchTally:
    """What a batch did, for the metrics."""

    applied: dict[str, int] = field(default_factory=dict)
    """Events folded, by type."""
    replayed: int = 0
    """Messages at or below their record's applied position: folded before."""
    unknown: int = 0
    late: int = 0
    changes_received: int = 0
    event_ats: list[int] = field(default_factory=list)
    """When each folded event happened (epoch microseconds), for the processing delay."""


R = TypeVar("R", ChatRecord, AgentRecord)

ItemWrite = tuple[bytes, bytes | None, int]
"""``(key, value or None to delete it, partition)``: an item the agents table keeps
beside the agent records, evidence or a session summary (``streaming.items``)."""


@dataclass(slots=True)
class BatchResult(Generic[R]):
    """Everything a batch produced.

    ``written`` holds, per key, the record to store and its partition: every record a
    message of the batch reached, replays included (their store write may have been lost
    in a crash). For agents these are also the panels due.
    """

    written: dict[bytes, tuple[R, int]] = field(default_factory=dict)
    sends: list[SentChange] = field(default_factory=list)
    """Agent changes for the agent-changes topic, with the chat event that caused them."""
    dead_letters: list[tuple[InputRecord, DeadLetter]] = field(default_factory=list)
    forwards: list[tuple[bytes, int, ForwardedStatus]] = field(default_factory=list)
    """Status messages for the agent-changes topic: ``(agent key, the agent's partition,
    the message)``, for messages a producer put in another partition."""
    items: list[ItemWrite] = field(default_factory=list)
    """Items to write to the agents table beside the records, in order, after them."""
    sessions_started: set[bytes] = field(default_factory=set)
    """Agents whose session started over in the batch: their evidence is compacted."""
    ended_sessions: list[tuple[bytes, list[int]]] = field(default_factory=list)
    """``(agent key, summary)`` of each session that ended in the batch, in order."""
    late_changes: list[tuple[bytes, AgentChange]] = field(default_factory=list)
    """Changes that count in a session that had already ended (``rules.amend_session``)."""
    resend_sessions: list[tuple[bytes, int]] = field(default_factory=list)
    """``(agent key, instant)``: a message that changed an ended session was folded again;
    the session holding the instant is published again (it may have been lost)."""
    sessions_out: list[tuple[bytes, list[int]]] = field(default_factory=list)
    """``(agent key, summary)`` of each session to publish (``streaming.items``)."""
    tally: BatchTally = field(default_factory=BatchTally)


def partition_for(key: bytes, partitions: int) -> int:
    """The partition the Java client's default partitioner picks for ``key``: where the
    worker keeps an agent's record and sends its agent-changes messages."""
    hashed: int = murmurhash2(key, MURMUR2_SEED)
    return (hashed & 0x7FFFFFFF) % partitions


_AGENT_EVENTS: Final = frozenset({AgentStatusChanged, AgentProfileChanged})


def _admit(
    message: InputRecord, on_chat_topic: bool, result: BatchResult[Any]
) -> AgentEvent | ChatEvent | None:
    """The decoded event; None for an unknown type (counted) or a dead letter (noted)."""
    event = decode_event(message.value or b"")
    if type(event) is InvalidEvent:
        result.dead_letters.append((message, DeadLetter(event.reason, event.detail)))
        return None
    if type(event) is UnknownEvent:
        result.tally.unknown += 1
        return None
    assert not isinstance(event, (InvalidEvent, UnknownEvent))
    problem = _misplaced(event, message, on_chat_topic)
    if problem is not None:
        result.dead_letters.append((message, problem))
        return None
    return event


def _misplaced(
    event: AgentEvent | ChatEvent, message: InputRecord, on_chat_topic: bool
) -> DeadLetter | None:
    """Why an event does not belong where it was found: the topic, or a key that is missing
    or contradicts the payload. Any partition will do (spec §1): the producer's
    partitioner need only send every message of one key to one partition."""
    is_agent_event = type(event) in _AGENT_EVENTS
    if is_agent_event == on_chat_topic:
        home = "status" if is_agent_event else "chat"
        return DeadLetter("wrong_topic", f"{event.type} belongs on the {home} topic")
    # type() rather than isinstance(): pydantic models check instances through ABCMeta,
    # which costs a few hundred nanoseconds for every class that does not match.
    if is_agent_event:
        entity, field_name = cast(AgentEvent, event).agent_id, "agent_id"
    else:
        entity, field_name = cast(ChatEvent, event).chat_id, "chat_id"
    key = message.key
    if key is None or key != entity.encode():
        shown = None if key is None else key.decode(errors="replace")
        return DeadLetter(
            "key_mismatch", f"message key {shown!r} does not match {field_name} {entity!r}"
        )
    return None


def fold_chat_batch(
    records: Mapping[bytes, ChatRecord | None],
    runs: Sequence[Sequence[InputRecord]],
) -> BatchResult[ChatRecord]:
    """Fold runs of chat-topic messages (each run one partition's, in offset order).

    ``records`` holds the stored record of every key the batch names (None or absent:
    none stored); the fold changes them in place. A chat's record lives in the partition
    its messages arrive in.
    """
    result: BatchResult[ChatRecord] = BatchResult()
    written, sends = result.written, result.sends
    applied, event_ats = result.tally.applied, result.tally.event_ats
    for run in runs:
        for message in run:
            # Quoted: an unquoted union is built anew on every call (~0.1 µs an event).
            event = cast("ChatEvent | None", _admit(message, True, result))
            if event is None:
                continue
            key, partition, offset = cast(bytes, message.key), message.partition, message.offset
            found = written.get(key)
            record = found[0] if found is not None else records.get(key)
            if record is None:
                record = ChatRecord(ChatState(event.chat_id))
            written[key] = (record, partition)
            if offset <= record.applied:
                # Applied before a crash or rebalance: resend what it sent then.
                result.tally.replayed += 1
                sends.extend(_resent(record, partition, offset))
                continue
            changes = apply_chat_event(record.chat, event)
            record.applied = offset
            if changes:
                add_to_outbox(record, offset, changes)
                sends.extend([(partition, offset, fields) for fields in changes])
            applied[event.type] = applied.get(event.type, 0) + 1
            event_ats.append(event.at_micros)
    return result


def _resent(record: ChatRecord, partition: int, offset: int) -> list[SentChange]:
    return [
        (partition, offset, fields)
        for applied_at, changes in outbox_entries(record)
        if applied_at == offset
        for fields in changes
    ]


def fold_agent_batch(
    records: Mapping[bytes, AgentRecord | None],
    runs: Sequence[Sequence[InputRecord]],
    partitions: int,
    changes_topic: str,
    config: FoldConfig,
) -> BatchResult[AgentRecord]:
    """Fold runs of status-topic and agent-changes messages (each run one partition's).

    ``records`` holds the stored record of every key the batch names (None or absent:
    none stored); the fold changes them in place.
    """
    result: BatchResult[AgentRecord] = BatchResult()
    for run in runs:
        if run and run[0].topic == changes_topic:
            _fold_changes(records, run, config, result)
        else:
            _fold_statuses(records, run, partitions, config, result)
    return result


def _agent_record(
    records: Mapping[bytes, AgentRecord | None],
    written: dict[bytes, tuple[AgentRecord, int]],
    key: bytes,
    partition: int,
) -> AgentRecord:
    found = written.get(key)
    record = found[0] if found is not None else records.get(key)
    if record is None:
        record = AgentRecord(AgentState(key.decode()))
    written[key] = (record, partition)
    return record


def _fold_statuses(
    records: Mapping[bytes, AgentRecord | None],
    run: Sequence[InputRecord],
    partitions: int,
    config: FoldConfig,
    result: BatchResult[AgentRecord],
) -> None:
    """Status-topic messages: folded here when they are in their agent's partition, else
    forwarded to it (in order) through the agent-changes topic."""
    source = ""
    for message in run:
        event = cast("AgentEvent | None", _admit(message, False, result))
        if event is None:
            continue
        key, partition = cast(bytes, message.key), message.partition
        home = partition_for(key, partitions)
        if home != partition:
            forwarded = ForwardedStatus(partition, message.offset, message.value or b"")
            result.forwards.append((key, home, forwarded))
            continue
        source = source or f"status/{partition}"
        record = _agent_record(records, result.written, key, partition)
        _apply_status(record, event, source, message.offset, config, result)


def _apply_status(
    record: AgentRecord,
    event: AgentEvent,
    source: str,
    offset: int,
    config: FoldConfig,
    result: BatchResult[AgentRecord],
) -> None:
    """Fold a status or profile event from ``source`` at ``offset``, unless applied."""
    applied, tally, agent = record.applied, result.tally, record.agent
    if offset <= applied.get(source, -1):
        tally.replayed += 1
        if (
            type(event) is AgentStatusChanged
            and event.status == "online"
            and agent.session_index > 1
            and event.at_micros <= agent.session_start  # type: ignore[operator]
        ):
            # It may have ended a session whose publication a crash cut short.
            result.resend_sessions.append((agent.agent_id.encode(), event.at_micros - 1))
        return
    late, session, ended = agent.late_status_events, agent.session_index, agent.last_session
    apply_agent_event(agent, event, config)
    applied[source] = offset
    if agent.late_status_events > late:
        tally.late += 1
    if agent.session_index > session:
        key = agent.agent_id.encode()
        result.sessions_started.add(key)
        if agent.last_session is not ended:
            result.ended_sessions.append((key, agent.last_session))  # type: ignore[arg-type]
    tally.applied[event.type] = tally.applied.get(event.type, 0) + 1
    tally.event_ats.append(event.at_micros)


def _fold_changes(
    records: Mapping[bytes, AgentRecord | None],
    run: Sequence[InputRecord],
    config: FoldConfig,
    result: BatchResult[AgentRecord],
) -> None:
    """Agent-changes messages: the changes chat events made, and forwarded status
    messages. Anything already applied (resent after a crash) is skipped."""
    written = result.written
    for message in run:
        assert message.key is not None
        record = _agent_record(records, written, message.key, message.partition)
        received = decode_agent_input(message.value or b"")
        if isinstance(received, ForwardedStatus):
            _apply_forwarded(record, received, config, result)
        else:
            _apply_changes(record, received, message, config, result)


def _apply_forwarded(
    record: AgentRecord,
    forwarded: ForwardedStatus,
    config: FoldConfig,
    result: BatchResult[AgentRecord],
) -> None:
    event = decode_event(forwarded.value)
    # It was checked where it was published; a version that does not know its type skips it.
    if type(event) in _AGENT_EVENTS:
        source = f"status/{forwarded.partition}"
        _apply_status(record, cast(AgentEvent, event), source, forwarded.offset, config, result)
    else:
        result.tally.unknown += 1


def _apply_changes(
    record: AgentRecord,
    changes: list[SourcedChange],
    message: InputRecord,
    config: FoldConfig,
    result: BatchResult[AgentRecord],
) -> None:
    """Fold the changes of one agent-changes message, and keep what it applied as an
    evidence item: the message itself when it applied all of it (the usual case)."""
    agent, applied, tally = record.agent, record.applied, result.tally
    tally.changes_received += len(changes)
    latest: int | None = None
    skipped: list[int] = []
    for index, (chat_partition, chat_offset, change) in enumerate(changes):
        source = _chat_source(chat_partition)
        if chat_offset <= applied.get(source, -1):
            skipped.append(index)
            if agent.session_index > 1 and change.at < agent.session_start:  # type: ignore[operator]
                # It may have changed an ended session whose publication was cut short.
                result.resend_sessions.append((cast(bytes, message.key), change.at))
            continue
        if apply_change(agent, change, config):
            result.late_changes.append((cast(bytes, message.key), change))
        applied[source] = chat_offset
        if latest is None or change.at > latest:
            latest = change.at
    if latest is not None:
        tally.event_ats.append(latest)
        item = evidence_key(cast(bytes, message.key), message.partition, message.offset)
        value = cast(bytes, message.value) if not skipped else _applied_only(changes, skipped)
        result.items.append((item, value, message.partition))
    if skipped:
        tally.replayed += 1


def _applied_only(changes: list[SourcedChange], skipped: list[int]) -> bytes:
    left_out = set(skipped)
    return encode_changes([change for index, change in enumerate(changes) if index not in left_out])


def changes_by_agent(changes: list[SentChange]) -> dict[str, list[SentChange]]:
    """Changes grouped by agent id, in order: each group is one agent-changes message."""
    grouped: dict[str, list[SentChange]] = {}
    for sent in changes:
        grouped.setdefault(sent[2][0], []).append(sent)  # the fields start with the agent id
    return grouped


_CHAT_SOURCES: Final = tuple(f"chat/{partition}" for partition in range(256))


def _chat_source(partition: int) -> str:
    """The :attr:`AgentRecord.applied` name of a chat partition, e.g. ``"chat/3"``."""
    return _CHAT_SOURCES[partition] if partition < 256 else f"chat/{partition}"


class RecordStore(Protocol):
    """Where a stage's records are read from: encoded records by key and partition."""

    def get(self, key: bytes, partition: int) -> bytes | None:
        """The record stored under ``key`` in ``partition``, if any."""
        ...

    def scan(self, prefix: bytes, partition: int) -> list[tuple[bytes, bytes]]:
        """Every ``(key, record)`` of ``partition`` whose key starts with ``prefix``,
        sorted by key."""
        ...
