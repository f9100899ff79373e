"""Stored chat and agent records round-trip through compact, versioned bytes."""

from __future__ import annotations

import orjson
import pytest

from streamstats.core.replay import replay_lines
from streamstats.core.state import (
    AgentChange,
    AgentState,
    ChatState,
    event_id_line,
    remember_line,
)
from streamstats.streaming.records import (
    OUTBOX_EVENTS,
    AgentRecord,
    ChatRecord,
    StateFormatError,
    add_to_outbox,
    decode_agent_record,
    decode_agent_status,
    decode_chat_record,
    encode_agent_record,
    encode_chat_record,
    outbox_entries,
)
from streamstats.tools.simulate import simulate_lines

from ..factories import DAY0


@pytest.fixture(scope="module")
def simulated() -> list[bytes]:
    return list(simulate_lines(seed=7, agents=12, hours=30, start=DAY0))


def test_every_record_round_trips(simulated: list[bytes]) -> None:
    projector = replay_lines(simulated).projector
    assert projector.agents
    assert projector.chats
    for agent in projector.agents.values():
        record = AgentRecord(agent, {"status/0": 5, "chat/1": 7})
        assert decode_agent_record(encode_agent_record(record)) == record
    for chat in projector.chats.values():
        chat_record = ChatRecord(chat, 9)
        changes = [["a\nb", 1, 1, 0, 0, None, 0, 0, chat.chat_id, "e\n", None, False]]
        add_to_outbox(chat_record, 9, changes)
        assert decode_chat_record(encode_chat_record(chat_record)) == chat_record
        assert decode_chat_record(encode_chat_record(ChatRecord(chat))) == ChatRecord(chat)


def test_the_outbox_keeps_the_latest_events_in_order() -> None:
    record = ChatRecord(ChatState("c\n1"))
    for offset in range(OUTBOX_EVENTS + 5):
        add_to_outbox(record, offset, [[f"a{offset}", offset]])
    stored = decode_chat_record(encode_chat_record(record))
    expected = [[offset, [[f"a{offset}", offset]]] for offset in range(5, OUTBOX_EVENTS + 5)]
    assert outbox_entries(stored) == expected
    assert stored.chat.chat_id == "c\n1"
    assert outbox_entries(ChatRecord(ChatState("c"))) == []


def test_remembered_event_ids_round_trip_whatever_they_hold() -> None:
    agent = AgentState("a\nb", status="online", since=5)
    for event_id in ("e-1", "x\ny", 'q"x', "\\", "é😀", "\u2028"):
        remember_line(agent, event_id_line(event_id))
    record = AgentRecord(agent, {"status/0": 5})
    stored = encode_agent_record(record)
    assert decode_agent_record(stored) == record
    assert decode_agent_status(stored) == "online"
    assert decode_agent_record(encode_agent_record(AgentRecord(AgentState("b")))).agent == (
        AgentState("b")
    )


def test_pending_changes_round_trip_as_agent_changes() -> None:
    agent = AgentState("a", pending=[AgentChange("a", 5, closed=1, uncredit_since=3)])
    decoded = decode_agent_record(encode_agent_record(AgentRecord(agent))).agent
    assert decoded == agent
    assert type(decoded.pending[0]) is AgentChange


def test_the_status_alone_is_read_from_a_stored_agent_record(simulated: list[bytes]) -> None:
    agents = replay_lines(simulated).projector.agents.values()
    statuses = {agent.status for agent in agents}
    assert len(statuses) > 1
    for agent in agents:
        stored = encode_agent_record(AgentRecord(agent, {"status/0": 5}))
        assert decode_agent_status(stored) == agent.status


def test_encoded_records_are_compact(simulated: list[bytes]) -> None:
    projector = replay_lines(simulated).projector
    chat = next(iter(projector.chats.values()))
    assert len(encode_chat_record(ChatRecord(chat))) < 400


def test_an_unknown_format_version_is_refused_with_advice(simulated: list[bytes]) -> None:
    chat = next(iter(replay_lines(simulated).projector.chats.values()))
    fields = orjson.loads(encode_chat_record(ChatRecord(chat)))
    with pytest.raises(StateFormatError, match="replaying the input topics"):
        decode_chat_record(orjson.dumps([1, *fields[1:]]))
    with pytest.raises(StateFormatError, match="not readable"):
        decode_agent_record(b"\x00garbage")
    with pytest.raises(StateFormatError, match="not readable"):
        decode_agent_record(b'{"a": 1}')
    agent_fields = orjson.loads(encode_agent_record(AgentRecord(AgentState("a"))).rstrip())
    with pytest.raises(StateFormatError, match="replaying the input topics"):
        decode_agent_record(orjson.dumps([4, *agent_fields[1:], []]))  # ids in the array
    with pytest.raises(StateFormatError, match="event ids are missing"):
        decode_agent_record(orjson.dumps(agent_fields))
