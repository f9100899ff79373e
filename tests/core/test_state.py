"""Agent and chat state round-trip through compact, versioned bytes."""

from __future__ import annotations

import orjson
import pytest

from streamstats.core.replay import replay_lines
from streamstats.core.state import (
    AgentRecord,
    StateFormatError,
    decode_agent,
    decode_agent_status,
    decode_chat,
    encode_agent,
    encode_agent_record,
    encode_chat,
)
from streamstats.tools.simulate import simulate_lines

from ..factories import DAY0


@pytest.fixture(scope="module")
def simulated() -> list[bytes]:
    return list(simulate_lines(seed=7, agents=12, hours=30, start=DAY0))


def test_every_state_round_trips(simulated: list[bytes]) -> None:
    projector = replay_lines(simulated).projector
    assert projector.agents
    assert projector.chats
    for agent in projector.agents.values():
        assert decode_agent(encode_agent(agent)) == agent
    for chat in projector.chats.values():
        assert decode_chat(encode_chat(chat)) == chat


def test_the_status_alone_is_read_from_a_stored_agent_record(simulated: list[bytes]) -> None:
    agents = replay_lines(simulated).projector.agents.values()
    statuses = {agent.clock.status for agent in agents}
    assert len(statuses) > 1
    for agent in agents:
        stored = encode_agent_record(AgentRecord(agent, (("status/0", 5),)))
        assert decode_agent_status(stored) == agent.clock.status


def test_encoded_state_is_compact(simulated: list[bytes]) -> None:
    projector = replay_lines(simulated).projector
    chat = next(iter(projector.chats.values()))
    assert len(encode_chat(chat)) < 400


def test_an_unknown_format_version_is_refused_with_advice(simulated: list[bytes]) -> None:
    chat = next(iter(replay_lines(simulated).projector.chats.values()))
    _, fields = orjson.loads(encode_chat(chat))
    with pytest.raises(StateFormatError, match="replaying the input topics"):
        decode_chat(orjson.dumps([99, fields]))
    with pytest.raises(StateFormatError, match="not readable"):
        decode_agent(b"\x00garbage")
