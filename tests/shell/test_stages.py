"""The worker's per-message logic, without a broker: checks, offsets and the outbox."""

from __future__ import annotations

import orjson
import pytest
from aiokafka.partitioner import murmur2
from hypothesis import given
from hypothesis import strategies as st

from streamstats.core.instant import parse_instant
from streamstats.core.rules import FoldConfig
from streamstats.core.state import (
    AgentRecord,
    ChatRecord,
    decode_agent_record,
    decode_changes,
    decode_chat_record,
    encode_agent_record,
    encode_changes,
    encode_chat_record,
)
from streamstats.streaming.stages import (
    AgentStage,
    ChatStage,
    OffsetWatch,
    changes_by_agent,
    partition_for,
)

from ..factories import EventFactory, at

PARTITIONS = 4


@pytest.fixture
def ev() -> EventFactory:
    return EventFactory()


def wire(event: dict[str, object]) -> bytes:
    return orjson.dumps(event)


def home(key: str) -> int:
    return partition_for(key.encode(), PARTITIONS)


@pytest.mark.parametrize(
    ("key", "java_murmur2"),
    [
        # Test vectors of Kafka's Java client (UtilsTest.testMurmur2).
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"abc", 479470107),
    ],
)
def test_the_partition_is_the_java_clients_default(key: bytes, java_murmur2: int) -> None:
    for partitions in (1, 3, 4, 12):
        assert partition_for(key, partitions) == (java_murmur2 & 0x7FFFFFFF) % partitions


@given(st.binary(max_size=64), st.integers(min_value=1, max_value=64))
def test_the_partition_matches_aiokafkas_murmur2(key: bytes, partitions: int) -> None:
    # aiokafka's partitioner is a line-by-line port of the Java client's, in Python.
    assert partition_for(key, partitions) == (murmur2(key) & 0x7FFFFFFF) % partitions


def test_a_chat_event_is_applied_once_and_its_changes_resent_on_replay(ev: EventFactory) -> None:
    stage = ChatStage(PARTITIONS)
    partition = home("c1")
    assigned = wire(ev.assigned("c1", "a", at("08:00")))
    first = stage.handle(None, b"c1", assigned, partition, 10)
    assert first.applied_type == "chat.assigned"
    assert [(p, o, change.agent_id, change.active) for p, o, change in first.sends] == [
        (partition, 10, "a", 1)
    ]
    assert isinstance(first.record, ChatRecord)
    replay = stage.handle(first.record, b"c1", assigned, partition, 10)
    assert replay.replayed
    assert replay.applied_type is None
    assert replay.sends == first.sends
    assert replay.record == first.record


def test_the_agent_stage_skips_changes_it_already_applied(ev: EventFactory) -> None:
    chats, agents = ChatStage(PARTITIONS), AgentStage(PARTITIONS, FoldConfig())
    partition = home("c1")
    step = chats.handle(None, b"c1", wire(ev.assigned("c1", "a", at("08:00"))), partition, 5)
    message = encode_changes(step.sends)
    once = agents.handle_changes(None, message)
    twice = agents.handle_changes(once.record, message)  # type: ignore[arg-type]
    assert twice.replayed
    assert twice.record == once.record
    assert isinstance(once.record, AgentRecord)
    assert once.record.agent.tally.active == 1
    assert once.record.applied(f"chat/{partition}") == 5
    # The delay is measured for the changes applied, not for the skipped ones.
    assert once.event_at == parse_instant(at("08:00"))
    assert twice.event_at is None


def test_a_status_event_at_or_below_the_applied_offset_is_a_replay(ev: EventFactory) -> None:
    stage = AgentStage(PARTITIONS, FoldConfig())
    partition = home("a")
    event = wire(ev.status("a", "online", at("08:00")))
    first = stage.handle_status(None, b"a", event, partition, 3)
    again = stage.handle_status(first.record, b"a", event, partition, 3)  # type: ignore[arg-type]
    assert first.applied_type == "agent.status_changed"
    assert again.replayed
    assert again.record == first.record


@pytest.mark.parametrize(
    ("key", "partition_shift", "reason"),
    [
        (b"c2", 0, "key_mismatch"),
        (None, 0, "key_mismatch"),
        (b"c1", 1, "wrong_partition"),
    ],
)
def test_keys_and_partitions_must_match_the_payload(
    ev: EventFactory, key: bytes | None, partition_shift: int, reason: str
) -> None:
    partition = (home("c1") + partition_shift) % PARTITIONS
    step = ChatStage(PARTITIONS).handle(
        None, key, wire(ev.assigned("c1", "a", at("08:00"))), partition, 0
    )
    assert step.dead_letter is not None
    assert step.dead_letter.reason == reason
    assert step.record is None


def test_events_on_the_wrong_topic_are_dead_letters(ev: EventFactory) -> None:
    status = wire(ev.status("a", "online", at("08:00")))
    chat = wire(ev.assigned("c1", "a", at("08:00")))
    to_chat = ChatStage(PARTITIONS).handle(None, b"a", status, home("a"), 0)
    to_status = AgentStage(PARTITIONS, FoldConfig()).handle_status(None, b"c1", chat, home("c1"), 0)
    assert to_chat.dead_letter is not None
    assert to_chat.dead_letter.reason == "wrong_topic"
    assert to_status.dead_letter is not None
    assert to_status.dead_letter.reason == "wrong_topic"


def test_unknown_types_are_ignored_not_dead_letters() -> None:
    raw = orjson.dumps({"event_id": "e", "type": "chat.rated", "at": "2026-11-25T08:00:00Z"})
    step = ChatStage(PARTITIONS).handle(None, b"c1", raw, home("c1"), 0)
    assert step.unknown_type
    assert step.dead_letter is None
    assert step.record is None


def test_records_and_change_messages_round_trip(ev: EventFactory) -> None:
    chats, agents = ChatStage(PARTITIONS), AgentStage(PARTITIONS, FoldConfig())
    step = chats.handle(None, b"c1", wire(ev.assigned("c1", "a", at("08:00"))), home("c1"), 1)
    assert isinstance(step.record, ChatRecord)
    assert decode_chat_record(encode_chat_record(step.record)) == step.record
    assert decode_changes(encode_changes(step.sends)) == step.sends
    applied = agents.handle_changes(None, encode_changes(step.sends))
    assert isinstance(applied.record, AgentRecord)
    assert decode_agent_record(encode_agent_record(applied.record)) == applied.record


def test_changes_are_grouped_per_agent_in_the_order_they_were_made(ev: EventFactory) -> None:
    chats = ChatStage(PARTITIONS)
    first = chats.handle(None, b"c1", wire(ev.assigned("c1", "a", at("08:00"))), home("c1"), 1)
    moved = chats.handle(
        first.record,
        b"c1",
        wire(ev.transferred("c1", "a", "b", at("08:05"), "manual")),
        home("c1"),
        2,
    )
    other = chats.handle(None, b"c2", wire(ev.assigned("c2", "a", at("08:06"))), home("c2"), 3)
    sends = [*first.sends, *moved.sends, *other.sends]

    grouped = changes_by_agent(sends)

    assert list(grouped) == ["a", "b"]
    assert [offset for _, offset, _ in grouped["a"]] == [1, 2, 3]
    assert [offset for _, offset, _ in grouped["b"]] == [2]
    regrouped = [sent for group in grouped.values() for sent in group]
    assert sorted(regrouped, key=lambda sent: (sent[1], sent[2].agent_id)) == sorted(
        sends, key=lambda sent: (sent[1], sent[2].agent_id)
    )


def test_the_offset_watch_reports_offsets_skipped_on_a_partition() -> None:
    watch = OffsetWatch()
    assert watch.skipped("chats", 0, 10) is None  # the first message seen sets the pace
    assert watch.skipped("chats", 0, 11) is None
    assert watch.skipped("chats", 1, 40) is None  # partitions are watched apart
    assert watch.skipped("chats", 0, 15) == (12, 15)
    # Redelivery after a seek back to the committed offset is not a hole, nor is its end.
    assert watch.skipped("chats", 0, 3) is None
    assert watch.skipped("chats", 0, 16) is None
    assert watch.skipped("chats", 0, 18) == (17, 18)


def test_the_offset_watch_forgets_partitions_that_were_given_away() -> None:
    watch = OffsetWatch()
    watch.skipped("chats", 0, 10)
    watch.skipped("chats", 1, 10)
    watch.keep_only({("chats", 1)})
    # Partition 0 moved on elsewhere meanwhile: its next offset here is no hole.
    assert watch.skipped("chats", 0, 500) is None
    assert watch.skipped("chats", 1, 12) == (11, 12)


def test_the_offset_watch_notes_a_run_of_messages_at_once() -> None:
    watch = OffsetWatch()
    assert watch.run("chats", 0, 10, 19) is None
    assert watch.run("chats", 0, 20, 20) is None  # the next run follows on
    assert watch.run("chats", 0, 25, 30) == (21, 25)  # a hole before the run
    assert watch.skipped("chats", 0, 31) is None
