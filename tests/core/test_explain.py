"""The breakdown (spec §9): its invariants against the panel, for every history."""

from __future__ import annotations

import os
from itertools import pairwise

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamstats.core.explain import Breakdown, compact, explain
from streamstats.core.instant import parse_instant
from streamstats.core.replay import ReplayResult, breakdowns, panels, replay_lines
from streamstats.core.state import AgentChange, AgentState
from streamstats.core.view import Panel

from ..factories import Wire, lines
from ..strategies import interleaving, streams

FUZZ = settings(
    max_examples=int(os.environ.get("STREAMSTATS_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
DAY = parse_instant("2026-11-25T00:00:00Z")
MINUTE = 60_000_000


def run(events: list[Wire]) -> ReplayResult:
    return replay_lines(lines(events), evidence=True)


def check_invariants(panel: Panel, breakdown: Breakdown) -> None:
    """Every invariant of spec §9 for one agent, panel and breakdown read at one instant."""
    session, chats = breakdown["session"], breakdown["chats"]
    assert breakdown["as_of"] == panel["as_of"]
    assert session["first_online"] == panel["session"]["first_online"]
    segments = session["segments"]
    if session["first_online"] is None:
        assert segments == []
    if segments:
        assert segments[0]["from"] == session["first_online"]
        assert segments[-1]["to"] == breakdown["as_of"]
        for before, after in pairwise(segments):
            assert before["to"] == after["from"]
    for status in ("online", "offline", "paused"):
        total = sum(item["seconds"] for item in segments if item["status"] == status)
        assert abs(total - panel["time"][status]) < 1e-6  # type: ignore[literal-required]
    assert abs(sum(item["seconds"] for item in segments) - panel["session"]["seconds"]) < 1e-6
    counts = panel["chats"]
    assert max(0, sum(item["change"] for item in chats["closed"])) == counts["closed"]
    assert all(item["change"] == -1 for item in chats["closed_not_counted"])
    assert len(chats["missed"]) == counts["missed"]
    assert len(chats["holds"]) == counts["holds"]
    assert len(chats["on_hold"]) == counts["on_hold"]
    assert len(chats["active"]) == counts["active"]
    assert {item["chat_id"] for item in chats["on_hold"]} <= {
        item["chat_id"] for item in chats["active"]
    }


@FUZZ
@given(data=st.data(), at_minutes=st.integers(-60, 5000))
def test_the_breakdown_sums_to_the_panel_for_every_agent_at_every_instant(
    data: st.DataObject, at_minutes: int
) -> None:
    events = data.draw(interleaving(data.draw(streams())))
    result = run(events)
    moment = DAY + at_minutes * MINUTE
    read_panels, read_breakdowns = panels(result, moment), breakdowns(result, moment)
    assert read_panels.keys() == read_breakdowns.keys()
    for agent_id, panel in read_panels.items():
        check_invariants(panel, read_breakdowns[agent_id])


@FUZZ
@given(data=st.data())
def test_the_breakdown_does_not_depend_on_interleaving_or_duplicates(
    data: st.DataObject,
) -> None:
    per_key = data.draw(streams())
    first = data.draw(interleaving(per_key))
    second = data.draw(interleaving(per_key))
    for original in data.draw(st.lists(st.sampled_from(second), max_size=5)) if second else []:
        position = data.draw(st.integers(second.index(original) + 1, len(second)))
        second.insert(position, original)
    at = DAY + 5000 * MINUTE
    assert breakdowns(run(first), at) == breakdowns(run(second), at)


@FUZZ
@given(data=st.data(), cut=st.integers(0, 200), at_minutes=st.integers(-60, 5000))
def test_compacted_evidence_explains_the_same_now_and_after_more_events(
    data: st.DataObject, cut: int, at_minutes: int
) -> None:
    events = data.draw(interleaving(data.draw(streams())))
    cut = min(cut, len(events))
    straight = run(events)
    result = replay_lines(lines(events[:cut]), evidence=True)
    evidence = result.projector.evidence
    assert evidence is not None
    for agent_id, changes in evidence.items():
        evidence[agent_id] = compact(result.projector.agents[agent_id], changes)
    result = replay_lines(lines(events[cut:]), result=result)
    moment = DAY + at_minutes * MINUTE
    assert breakdowns(result, moment) == breakdowns(straight, moment)


def test_a_re_close_by_another_agent_moves_the_credit_and_says_why() -> None:
    result = replay_lines(
        [
            b'{"event_id":"s1","type":"agent.status_changed","at":"2026-11-25T08:00:00Z",'
            b'"agent_id":"a","status":"online"}',
            b'{"event_id":"e1","type":"chat.assigned","at":"2026-11-25T08:01:00Z",'
            b'"chat_id":"c","agent_id":"a"}',
            b'{"event_id":"e2","type":"chat.closed","at":"2026-11-25T08:02:00Z",'
            b'"chat_id":"c","agent_id":"a","reason":"agent"}',
            b'{"event_id":"e3","type":"chat.reopened","at":"2026-11-25T08:03:00Z",'
            b'"chat_id":"c","agent_id":"b"}',
            b'{"event_id":"e4","type":"chat.closed","at":"2026-11-25T08:04:00Z",'
            b'"chat_id":"c","agent_id":null,"reason":"client_inactive"}',
        ],
        evidence=True,
    )
    explained = breakdowns(result)
    assert explained["a"]["chats"]["closed"] == [
        {"chat_id": "c", "event_id": "e2", "at": "2026-11-25T08:02:00Z", "change": 1,
         "why": "closed"},
        {"chat_id": "c", "event_id": "e4", "at": "2026-11-25T08:04:00Z", "change": -1,
         "why": "closed again by b"},
    ]  # fmt: skip
    assert explained["b"]["chats"]["closed"] == [
        {"chat_id": "c", "event_id": "e4", "at": "2026-11-25T08:04:00Z", "change": 1,
         "why": "closed by the platform (was assigned)"},
    ]  # fmt: skip
    assert panels(result)["a"]["chats"]["closed"] == 0
    assert explained["a"]["session"]["segments"] == [
        {"status": "online", "reason": None, "from": "2026-11-25T08:00:00Z",
         "to": "2026-11-25T08:04:00Z", "seconds": 240.0},
    ]  # fmt: skip


def test_a_credit_lost_after_a_reset_is_listed_as_not_counted() -> None:
    def status(event_id: str, at: str, value: str) -> bytes:
        return orjson.dumps(
            {"event_id": event_id, "type": "agent.status_changed", "at": at,
             "agent_id": "a", "status": value}
        )  # fmt: skip

    def chat(event_id: str, kind: str, at: str, agent: str, **extra: str) -> bytes:
        return orjson.dumps(
            {"event_id": event_id, "type": kind, "at": at, "chat_id": "c", "agent_id": agent,
             **extra}
        )  # fmt: skip

    result = replay_lines(
        [
            status("s1", "2026-11-25T08:00:00Z", "online"),
            chat("e1", "chat.assigned", "2026-11-25T08:01:00Z", "a"),
            chat("e2", "chat.closed", "2026-11-25T08:02:00Z", "a", reason="agent"),
            status("s2", "2026-11-25T09:00:00Z", "offline"),
            status("s3", "2026-11-26T08:00:00Z", "online"),
            chat("e3", "chat.reopened", "2026-11-26T08:03:00Z", "b"),
            chat("e4", "chat.closed", "2026-11-26T08:04:00Z", "b", reason="agent"),
        ],
        evidence=True,
    )
    chats = breakdowns(result)["a"]["chats"]
    assert chats["closed"] == []
    assert chats["closed_not_counted"] == [
        {"chat_id": "c", "event_id": "e4", "at": "2026-11-26T08:04:00Z", "change": -1,
         "why": "credit ended with a reset"},
    ]  # fmt: skip
    assert panels(result)["a"]["chats"]["closed"] == 0


def test_no_session_means_no_segments() -> None:
    result = replay_lines(
        [
            b'{"event_id":"e1","type":"chat.assigned","at":"2026-11-25T08:01:00Z",'
            b'"chat_id":"c","agent_id":"a"}'
        ],
        evidence=True,
    )
    agent = result.projector.agents["a"]
    breakdown = explain(agent, (result.projector.evidence or {})["a"], DAY)
    assert breakdown["session"] == {"first_online": None, "segments": []}
    # Open chats are a fact of now, whatever the instant the durations are read at.
    assert breakdown["chats"]["active"] == [{"chat_id": "c", "since": "2026-11-25T08:01:00Z"}]


def test_compaction_keeps_a_close_timed_before_the_session_that_ends_a_later_ownership() -> None:
    # Event times need not grow within a chat: a chat taken in this session may be
    # closed by an event stamped before the session started.
    agent = AgentState("a", session_index=2, session_start=100 * MINUTE)
    taken = AgentChange("a", 150 * MINUTE, active=1, chat_id="c", event_id="e1")
    closed = AgentChange("a", 50 * MINUTE, active=-1, chat_id="c", event_id="e2")
    kept = compact(agent, [taken, closed])
    assert kept == [taken, closed]
    assert explain(agent, kept, 200 * MINUTE)["chats"]["active"] == []
