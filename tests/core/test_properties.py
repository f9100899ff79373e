"""Properties of the fold that must hold for every history (Hypothesis)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamstats.core.instant import parse_instant
from streamstats.core.replay import ReplayResult, panels, replay_lines
from streamstats.core.view import Panel, session_counters
from streamstats.streaming.records import (
    AgentRecord,
    ChatRecord,
    decode_agent_record,
    decode_chat_record,
    encode_agent_record,
    encode_chat_record,
)

from ..factories import Wire, lines
from ..strategies import interleaving, streams

FUZZ = settings(
    max_examples=int(os.environ.get("STREAMSTATS_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
READ_AT = parse_instant("2026-11-28T00:00:00Z")


def run(events: list[Wire]) -> ReplayResult:
    return replay_lines(lines(events))


def read(result: ReplayResult, at: int = READ_AT) -> dict[str, Panel]:
    return panels(result, at)


@FUZZ
@given(data=st.data())
def test_any_interleaving_that_keeps_per_key_order_gives_the_same_panels(
    data: st.DataObject,
) -> None:
    per_key = data.draw(streams())
    first = data.draw(interleaving(per_key))
    second = data.draw(interleaving(per_key))
    assert read(run(first)) == read(run(second))


@FUZZ
@given(data=st.data(), at_minutes=st.integers(-60, 5000))
def test_online_offline_paused_add_up_to_the_session_time(
    data: st.DataObject, at_minutes: int
) -> None:
    events = data.draw(interleaving(data.draw(streams())))
    moment = parse_instant("2026-11-25T00:00:00Z") + at_minutes * 60_000_000
    for panel in read(run(events), moment).values():
        total = panel["time"]["online"] + panel["time"]["offline"] + panel["time"]["paused"]
        assert abs(total - panel["session"]["seconds"]) < 1e-6
        assert min(panel["time"].values()) >= 0.0
        assert panel["status"]["seconds"] >= 0.0


@FUZZ
@given(data=st.data())
def test_counters_never_go_negative_and_a_close_credits_at_most_one_agent(
    data: st.DataObject,
) -> None:
    events = data.draw(interleaving(data.draw(streams())))
    projector = run(events).projector
    credited_chats = sum(chat.credit_agent is not None for chat in projector.chats.values())
    total_closed = 0
    for agent in projector.agents.values():
        closed, missed, holds = session_counters(agent)
        assert min(closed, missed, holds, agent.active, agent.on_hold) >= 0
        total_closed += closed
    assert total_closed <= credited_chats
    if all(agent.session_index <= 1 for agent in projector.agents.values()):
        assert total_closed == credited_chats
    open_chats = sum(chat.open for chat in projector.chats.values())
    assert sum(agent.active for agent in projector.agents.values()) == open_chats


@FUZZ
@given(data=st.data())
def test_redelivered_events_change_nothing(data: st.DataObject) -> None:
    events = data.draw(interleaving(data.draw(streams())))
    with_duplicates = list(events)
    for original in data.draw(st.lists(st.sampled_from(events), max_size=10)) if events else []:
        earliest = with_duplicates.index(original) + 1
        position = data.draw(st.integers(earliest, len(with_duplicates)))
        with_duplicates.insert(position, original)
    assert read(run(with_duplicates)) == read(run(events))


@FUZZ
@given(data=st.data())
def test_chunked_replay_through_serialized_state_equals_straight_replay(
    data: st.DataObject,
) -> None:
    events = data.draw(interleaving(data.draw(streams())))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(events)), max_size=4)))
    result: ReplayResult | None = None
    for start, end in zip([0, *cuts], [*cuts, len(events)], strict=True):
        result = replay_lines(lines(events[start:end]), result=result)
        projector = result.projector
        projector.agents = {
            key: decode_agent_record(encode_agent_record(AgentRecord(agent))).agent
            for key, agent in projector.agents.items()
        }
        projector.chats = {
            key: decode_chat_record(encode_chat_record(ChatRecord(chat))).chat
            for key, chat in projector.chats.items()
        }
    assert result is not None
    assert read(result) == read(run(events))
