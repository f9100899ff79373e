"""The worker's batch fold, without a broker: checks, offsets, the outbox and the codecs."""

from __future__ import annotations

import orjson
import pytest
from aiokafka.partitioner import murmur2
from hypothesis import given
from hypothesis import strategies as st

from streamstats.core.instant import parse_instant
from streamstats.core.rules import FoldConfig
from streamstats.core.state import change_of
from streamstats.streaming.batch import (
    BatchResult,
    changes_by_agent,
    fold_agent_batch,
    fold_chat_batch,
    partition_for,
)
from streamstats.streaming.local import CHANGES, CHATS, STATUS, Message
from streamstats.streaming.offsets import OffsetWatch
from streamstats.streaming.records import (
    AgentRecord,
    ChatRecord,
    decode_agent_input,
    decode_agent_record,
    decode_chat_record,
    encode_agent_record,
    encode_changes,
    encode_chat_record,
    encode_forwarded,
    outbox_entries,
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


def chat_message(
    key: bytes | None, value: bytes, offset: int, partition: int | None = None
) -> Message:
    where = home("c1") if partition is None else partition
    return Message(CHATS, where, offset, key, value)


def fold_chats(message: Message, record: ChatRecord | None = None) -> BatchResult[ChatRecord]:
    key = message.key or b""
    return fold_chat_batch({key: record}, [[message]])


def fold_status(message: Message, record: AgentRecord | None = None) -> BatchResult[AgentRecord]:
    key = message.key or b""
    return fold_agent_batch({key: record}, [[message]], PARTITIONS, CHANGES, FoldConfig())


def fold_changes(value: bytes, record: AgentRecord | None = None) -> BatchResult[AgentRecord]:
    message = Message(CHANGES, home("a"), 0, b"a", value)
    return fold_agent_batch({b"a": record}, [[message]], PARTITIONS, CHANGES, FoldConfig())


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
    partition = home("c1")
    assigned = chat_message(b"c1", wire(ev.assigned("c1", "a", at("08:00"))), 10)
    first = fold_chats(assigned)
    assert first.tally.applied == {"chat.assigned": 1}
    sent = [(p, o, change_of(fields)) for p, o, fields in first.sends]
    assert [(p, o, change.agent_id, change.active) for p, o, change in sent] == [
        (partition, 10, "a", 1)
    ]
    record, where = first.written[b"c1"]
    assert (record.applied, where) == (10, partition)
    before = decode_chat_record(encode_chat_record(record))
    replay = fold_chats(assigned, decode_chat_record(encode_chat_record(record)))
    assert replay.tally.replayed == 1
    assert replay.tally.applied == {}
    assert replay.sends == first.sends
    assert replay.written[b"c1"][0] == before


def test_a_batch_decodes_each_record_once_and_folds_its_events_in_order(ev: EventFactory) -> None:
    partition = home("c1")
    run = [
        chat_message(b"c1", wire(ev.assigned("c1", "a", at("08:00"))), 1),
        chat_message(b"c1", wire(ev.held("c1", "a", at("08:01"))), 2),
        chat_message(b"c1", wire(ev.closed("c1", "a", at("08:02"))), 3),
    ]
    result = fold_chat_batch({}, [run])
    record, _ = result.written[b"c1"]
    assert (record.applied, record.chat.open, record.chat.credit_agent) == (3, False, "a")
    assert [offset for _, offset, _ in result.sends] == [1, 2, 3]
    assert [entry[0] for entry in outbox_entries(record)] == [1, 2, 3]
    assert result.tally.applied == {"chat.assigned": 1, "chat.held": 1, "chat.closed": 1}
    assert partition == result.written[b"c1"][1]


def test_the_agent_stage_skips_changes_it_already_applied(ev: EventFactory) -> None:
    sent = fold_chats(chat_message(b"c1", wire(ev.assigned("c1", "a", at("08:00"))), 5)).sends
    message = encode_changes(sent)
    once = fold_changes(message)
    record = once.written[b"a"][0]
    kept = decode_agent_record(encode_agent_record(record))
    twice = fold_changes(message, decode_agent_record(encode_agent_record(record)))
    assert twice.tally.replayed == 1
    assert twice.written[b"a"][0] == kept
    assert record.agent.active == 1
    assert record.applied == {f"chat/{home('c1')}": 5}
    # The delay is measured for the changes applied, not for the skipped ones.
    assert once.tally.event_ats == [parse_instant(at("08:00"))]
    assert twice.tally.event_ats == []


def test_a_status_event_at_or_below_the_applied_offset_is_a_replay(ev: EventFactory) -> None:
    message = Message(STATUS, home("a"), 3, b"a", wire(ev.status("a", "online", at("08:00"))))
    first = fold_status(message)
    record = first.written[b"a"][0]
    kept = decode_agent_record(encode_agent_record(record))
    again = fold_status(message, decode_agent_record(encode_agent_record(record)))
    assert first.tally.applied == {"agent.status_changed": 1}
    assert again.tally.replayed == 1
    assert again.written[b"a"][0] == kept


@pytest.mark.parametrize("key", [b"c2", None])
def test_a_key_that_is_missing_or_contradicts_the_payload_is_a_dead_letter(
    ev: EventFactory, key: bytes | None
) -> None:
    message = chat_message(key, wire(ev.assigned("c1", "a", at("08:00"))), 0)
    result = fold_chat_batch({}, [[message]])
    assert [(sent, problem.reason) for sent, problem in result.dead_letters] == [
        (message, "key_mismatch")
    ]
    assert result.written == {}


def test_a_chat_event_is_folded_in_whatever_partition_it_arrives_in(ev: EventFactory) -> None:
    partition = (home("c1") + 1) % PARTITIONS
    message = chat_message(b"c1", wire(ev.assigned("c1", "a", at("08:00"))), 0, partition)
    result = fold_chat_batch({}, [[message]])
    assert result.dead_letters == []
    assert result.written[b"c1"][1] == partition
    assert [(p, change_of(fields).agent_id) for p, _, fields in result.sends] == [(partition, "a")]


def test_a_status_event_outside_its_agents_partition_is_forwarded_and_applied_once_at_home(
    ev: EventFactory,
) -> None:
    elsewhere = (home("a") + 1) % PARTITIONS
    event = wire(ev.status("a", "online", at("08:00")))
    published = Message(STATUS, elsewhere, 7, b"a", event)
    at_source = fold_status(published)
    assert (at_source.written, at_source.dead_letters) == ({}, [])
    [(key, partition, forwarded)] = at_source.forwards
    assert (key, partition, forwarded) == (b"a", home("a"), (elsewhere, 7, event))
    message = Message(CHANGES, home("a"), 0, b"a", encode_forwarded(forwarded))
    once = fold_agent_batch({}, [[message]], PARTITIONS, CHANGES, FoldConfig())
    record = once.written[b"a"][0]
    assert (record.agent.status, record.applied) == ("online", {f"status/{elsewhere}": 7})
    again = fold_agent_batch({b"a": record}, [[message]], PARTITIONS, CHANGES, FoldConfig())
    assert (again.tally.replayed, again.tally.applied) == (1, {})


def test_events_on_the_wrong_topic_are_dead_letters(ev: EventFactory) -> None:
    status = chat_message(b"a", wire(ev.status("a", "online", at("08:00"))), 0, home("a"))
    chat = Message(STATUS, home("c1"), 0, b"c1", wire(ev.assigned("c1", "a", at("08:00"))))
    to_chat = fold_chat_batch({}, [[status]])
    to_status = fold_status(chat)
    assert [problem.reason for _, problem in to_chat.dead_letters] == ["wrong_topic"]
    assert [problem.reason for _, problem in to_status.dead_letters] == ["wrong_topic"]


def test_unknown_types_are_ignored_not_dead_letters() -> None:
    raw = orjson.dumps({"event_id": "e", "type": "chat.rated", "at": "2026-11-25T08:00:00Z"})
    result = fold_chats(chat_message(b"c1", raw, 0))
    assert result.tally.unknown == 1
    assert result.dead_letters == []
    assert result.written == {}


def test_records_and_change_messages_round_trip(ev: EventFactory) -> None:
    chats = fold_chats(chat_message(b"c1", wire(ev.assigned("c1", "a", at("08:00"))), 1))
    record = chats.written[b"c1"][0]
    assert decode_chat_record(encode_chat_record(record)) == record
    sent = [(partition, offset, change_of(fields)) for partition, offset, fields in chats.sends]
    assert decode_agent_input(encode_changes(chats.sends)) == sent
    agent = fold_changes(encode_changes(chats.sends)).written[b"a"][0]
    assert decode_agent_record(encode_agent_record(agent)) == agent


def test_changes_are_grouped_per_agent_in_the_order_they_were_made(ev: EventFactory) -> None:
    run = [
        chat_message(b"c1", wire(ev.assigned("c1", "a", at("08:00"))), 1),
        chat_message(b"c1", wire(ev.transferred("c1", "a", "b", at("08:05"), "manual")), 2),
    ]
    other = [chat_message(b"c2", wire(ev.assigned("c2", "a", at("08:06"))), 3, home("c2"))]
    runs = [run, other] if home("c1") != home("c2") else [[*run, *other]]
    sends = fold_chat_batch({}, runs).sends

    grouped = changes_by_agent(sends)

    assert list(grouped) == ["a", "b"]
    assert [offset for _, offset, _ in grouped["a"]] == [1, 2, 3]
    assert [offset for _, offset, _ in grouped["b"]] == [2]
    regrouped = [sent for group in grouped.values() for sent in group]
    assert sorted(regrouped, key=lambda sent: (sent[1], sent[2][0])) == sorted(
        sends, key=lambda sent: (sent[1], sent[2][0])
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
