"""What the worker does with one input message, without Faust or Kafka.

Each stage turns (stored record, message) into a :class:`Step`: the record to
store, the messages to send and, for bad input, a dead letter. The fold rules
stay in the core; this module adds only the streaming mechanics: key and
partition checks, offsets for effectively-once processing, and the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

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
from ..core.rules import FoldConfig, evolve_agent, evolve_chat
from ..core.state import (
    OUTBOX_EVENTS,
    AgentRecord,
    ChatRecord,
    SourcedChange,
    decode_changes,
    new_agent,
    new_chat,
)

__all__ = [
    "AgentStage",
    "ChatStage",
    "DeadLetter",
    "OffsetWatch",
    "Step",
    "changes_by_agent",
    "partition_for",
]

PARTITIONER_ADVICE: Final = (
    "produce with the murmur2 partitioner (the Java client default; "
    "kcat: -X topic.partitioner=murmur2_random)"
)


MURMUR2_SEED: Final = 0x9747B28C
"""The seed of the Java client's murmur2 (``Utils.murmur2``)."""


def partition_for(key: bytes, partitions: int) -> int:
    """The partition the Java client's default partitioner picks for ``key``."""
    hashed: int = murmurhash2(key, MURMUR2_SEED)
    return (hashed & 0x7FFFFFFF) % partitions


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Why a message was rejected; the worker forwards it with its original bytes."""

    reason: str
    detail: str


@dataclass(slots=True)
class Step:
    """The outcome of one message."""

    record: ChatRecord | AgentRecord | None = None
    """The record to store under the message's key (again, for a replay); None: none."""
    sends: list[SourcedChange] = field(default_factory=list)
    """Changes for the agent stage, with the chat partition and offset that caused them."""
    dead_letter: DeadLetter | None = None
    applied_type: str | None = None
    """The event type folded, for metrics; None when nothing was folded."""
    event_at: int | None = None
    """When the (latest) event folded happened, for the processing delay."""
    unknown_type: bool = False
    replayed: bool = False
    changes: int = 0
    """How many agent changes the message carried (agent-changes topic only)."""
    late: bool = False


def _check_key(key: bytes | None, entity: str, field_name: str) -> DeadLetter | None:
    if key is None or key != entity.encode():
        shown = None if key is None else key.decode(errors="replace")
        return DeadLetter(
            "key_mismatch", f"message key {shown!r} does not match {field_name} {entity!r}"
        )
    return None


def _check_partition(key: bytes, partition: int, partitions: int) -> DeadLetter | None:
    expected = partition_for(key, partitions)
    if expected != partition:
        return DeadLetter(
            "wrong_partition",
            f"key {key.decode(errors='replace')!r} belongs in partition {expected}, "
            f"not {partition}: {PARTITIONER_ADVICE}",
        )
    return None


def _admit(
    raw: bytes, key: bytes | None, partition: int, partitions: int, *, on_chat_topic: bool
) -> AgentEvent | ChatEvent | Step:
    """The decoded event, or the step for a message that is not one to fold here."""
    event = decode_event(raw)
    if isinstance(event, InvalidEvent):
        return Step(dead_letter=DeadLetter(event.reason, event.detail))
    if isinstance(event, UnknownEvent):
        return Step(unknown_type=True)
    is_agent_event = isinstance(event, (AgentStatusChanged, AgentProfileChanged))
    if is_agent_event == on_chat_topic:
        home = "status" if is_agent_event else "chat"
        return Step(
            dead_letter=DeadLetter("wrong_topic", f"{event.type} belongs on the {home} topic")
        )
    if isinstance(event, (AgentStatusChanged, AgentProfileChanged)):
        problem = _check_key(key, event.agent_id, "agent_id")
    else:
        problem = _check_key(key, event.chat_id, "chat_id")
    if problem is None:
        assert key is not None
        problem = _check_partition(key, partition, partitions)
    return event if problem is None else Step(dead_letter=problem)


@dataclass(frozen=True, slots=True)
class ChatStage:
    """Folds the chat topic into chat records and emits per-agent changes."""

    partitions: int

    def handle(
        self,
        record: ChatRecord | None,
        key: bytes | None,
        raw: bytes,
        partition: int,
        offset: int,
    ) -> Step:
        """Apply one message of the chat topic at ``partition``/``offset`` to ``record``."""
        event = _admit(raw, key, partition, self.partitions, on_chat_topic=True)
        if isinstance(event, Step):
            return event
        assert not isinstance(event, (AgentStatusChanged, AgentProfileChanged))
        if record is None:
            record = ChatRecord(new_chat(event.chat_id))
        if offset <= record.offset:
            # Already applied before a crash or rebalance: store the record again (its
            # changelog write may have been lost) and resend what it sent then.
            sends = [
                (partition, offset, change)
                for at, changes in record.outbox
                if at == offset
                for change in changes
            ]
            return Step(record=record, sends=sends, replayed=True)
        chat, changes = evolve_chat(record.chat, event)
        outbox = (
            (*record.outbox[-(OUTBOX_EVENTS - 1) :], (offset, changes))
            if changes
            else record.outbox
        )
        return Step(
            record=ChatRecord(chat, offset, outbox),
            sends=[(partition, offset, change) for change in changes],
            applied_type=event.type,
            event_at=event.at_micros,
        )


@dataclass(frozen=True, slots=True)
class AgentStage:
    """Folds status events and chat-caused changes into agent records."""

    partitions: int
    config: FoldConfig

    def handle_status(
        self,
        record: AgentRecord | None,
        key: bytes | None,
        raw: bytes,
        partition: int,
        offset: int,
    ) -> Step:
        """Apply one message of the status topic at ``partition``/``offset`` to ``record``."""
        event = _admit(raw, key, partition, self.partitions, on_chat_topic=False)
        if isinstance(event, Step):
            return event
        assert isinstance(event, (AgentStatusChanged, AgentProfileChanged))
        if record is None:
            record = AgentRecord(new_agent(event.agent_id))
        source = f"status/{partition}"
        if offset <= record.applied(source):
            return Step(record=record, replayed=True)
        agent = evolve_agent(record.agent, event, self.config)
        return Step(
            record=record.advanced(agent, source, offset),
            applied_type=event.type,
            event_at=event.at_micros,
            late=agent.late_status_events > record.agent.late_status_events,
        )

    def handle_changes(self, record: AgentRecord | None, raw: bytes) -> Step:
        """Apply one message of the internal agent-changes topic to ``record``.

        Changes whose chat offset was already applied (resent after a crash) are skipped.
        """
        replayed = False
        latest: int | None = None
        changes = decode_changes(raw)
        # The applied offset of each chat partition, written back once at the end.
        applied: dict[str, int] = {} if record is None else dict(record.offsets)
        agent = None if record is None else record.agent
        config = self.config
        for chat_partition, chat_offset, change in changes:
            source = _chat_source(chat_partition)
            if chat_offset <= applied.get(source, -1):
                replayed = True
                continue
            agent = evolve_agent(agent, change, config)
            applied[source] = chat_offset
            latest = change.at if latest is None else max(latest, change.at)
        if agent is not None and (record is None or latest is not None):
            record = AgentRecord(agent, tuple(applied.items()))
        return Step(record=record, replayed=replayed, changes=len(changes), event_at=latest)


def changes_by_agent(changes: list[SourcedChange]) -> dict[str, list[SourcedChange]]:
    """Changes grouped by agent id, in order: each group is one agent-changes message."""
    grouped: dict[str, list[SourcedChange]] = {}
    for sourced in changes:
        grouped.setdefault(sourced[2].agent_id, []).append(sourced)
    return grouped


_CHAT_SOURCES: Final = tuple(f"chat/{partition}" for partition in range(256))


def _chat_source(partition: int) -> str:
    """The :attr:`AgentRecord.offsets` name of a chat partition, e.g. ``"chat/3"``."""
    return _CHAT_SOURCES[partition] if partition < 256 else f"chat/{partition}"


@dataclass(slots=True)
class OffsetWatch:
    """The next offset due on each input partition, to notice skipped messages.

    The stages' offset checks skip anything at or below a record's applied offset, so a
    message delivered after a later one of the same partition would count as already
    applied. Kafka keeps a partition in order, but Faust can skip a prefetched batch
    around a rebalance (faust-streaming issues #216, #221, #236); the worker reads such
    a hole back from Kafka before it folds the message after it.
    """

    due: dict[tuple[str, int], int] = field(default_factory=dict)

    def skipped(self, topic: str, partition: int, offset: int) -> tuple[int, int] | None:
        """Note a message; return the offsets ``[start, end)`` skipped right before it."""
        where = (topic, partition)
        due = self.due.get(where)
        if due is None or offset >= due:
            self.due[where] = offset + 1
        # Below ``due`` is a redelivery after a seek back: those offsets were seen.
        return (due, offset) if due is not None and offset > due else None

    def run(self, topic: str, partition: int, first: int, last: int) -> tuple[int, int] | None:
        """Note consecutive messages ``first``..``last`` of one partition, as
        :meth:`skipped` notes one; return the offsets skipped right before them."""
        hole = self.skipped(topic, partition, first)
        if last > first:
            self.skipped(topic, partition, last)
        return hole

    def keep_only(self, partitions: set[tuple[str, int]]) -> None:
        """Forget partitions no longer assigned: whoever held them meanwhile moved on."""
        for where in [where for where in self.due if where not in partitions]:
            del self.due[where]
