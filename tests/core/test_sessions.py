"""Session history (spec §10): every ended session's final figures, for every history."""

from __future__ import annotations

import os
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamstats.core.instant import parse_instant
from streamstats.core.replay import ReplayResult, panels, replay_lines, session_histories

from ..factories import EventFactory, Wire, at, lines
from ..strategies import interleaving, streams

FUZZ = settings(
    max_examples=int(os.environ.get("STREAMSTATS_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
READ_AT = parse_instant("2026-11-28T00:00:00Z")


def run(events: list[Wire]) -> ReplayResult:
    return replay_lines(lines(events), sessions=True)


@FUZZ
@given(data=st.data())
def test_sessions_do_not_depend_on_interleaving_or_duplicates(data: st.DataObject) -> None:
    per_key = data.draw(streams())
    first = data.draw(interleaving(per_key))
    second = data.draw(interleaving(per_key))
    for original in data.draw(st.lists(st.sampled_from(second), max_size=5)) if second else []:
        position = data.draw(st.integers(second.index(original) + 1, len(second)))
        second.insert(position, original)
    assert session_histories(run(first), READ_AT) == session_histories(run(second), READ_AT)


@FUZZ
@given(data=st.data())
def test_an_ended_session_has_the_figures_of_the_panel_just_before_the_next_one(
    data: st.DataObject,
) -> None:
    """Its counters are the panel's once every event timed before the next session start
    is folded; its times are the panel's read at its end."""
    events = data.draw(interleaving(data.draw(streams())))
    histories = session_histories(run(events), READ_AT)
    for agent_id, sessions in histories.items():
        if stale_status_events(events, agent_id):
            continue  # the events timed before an instant are then not a prefix of its stream
        for ended, following in pairwise(sessions):
            assert ended["end"] is not None
            next_start = parse_instant(following["start"])
            end = parse_instant(ended["end"])
            assert parse_instant(ended["start"]) <= end <= next_start
            before = [event for event in events if parse_instant(event["at"]) < next_start]
            panel = panels(replay_lines(lines(before)), end)[agent_id]
            assert panel["session"]["first_online"] == ended["start"]
            assert {key: panel["chats"][key] for key in ("closed", "missed", "holds")} == (
                ended["chats"]
            )
            assert panel["time"] == ended["time"]
            assert abs(sum(ended["time"].values()) - ended["seconds"]) < 1e-6


def stale_status_events(events: list[Wire], agent_id: str) -> bool:
    times = [event["at"] for event in events if event.get("agent_id") == agent_id]
    return times != sorted(times)


@FUZZ
@given(data=st.data())
def test_the_current_session_is_last_and_matches_the_panel(data: st.DataObject) -> None:
    events = data.draw(interleaving(data.draw(streams())))
    result = run(events)
    read = panels(result, READ_AT)
    for agent_id, sessions in session_histories(result, READ_AT).items():
        panel = read[agent_id]
        if panel["session"]["first_online"] is None:
            assert sessions == []
            continue
        current = sessions[-1]
        assert current["start"] == panel["session"]["first_online"]
        assert {key: panel["chats"][key] for key in ("closed", "missed", "holds")} == (
            current["chats"]
        )
        if current["end"] is None:
            assert current["time"] == panel["time"]
        starts = [session["start"] for session in sessions]
        assert starts == sorted(set(starts))


def test_a_day_off_ends_the_session_at_the_start_of_the_gap() -> None:
    ev = EventFactory()
    events = [
        ev.status("a", "online", at("08:00")),
        ev.assigned("c1", "a", at("08:10")),
        ev.closed("c1", "a", at("08:20")),
        ev.status("a", "paused", at("12:00")),
        ev.status("a", "offline", at("17:00")),
        ev.status("a", "online", at("08:00", day=1)),
    ]
    sessions = session_histories(run(events), parse_instant("2026-11-26T09:00:00Z"))["a"]
    assert sessions[0] == {
        "start": "2026-11-25T08:00:00Z",
        "end": "2026-11-25T17:00:00Z",
        "seconds": 9 * 3600.0,
        "time": {"online": 4 * 3600.0, "offline": 0.0, "paused": 5 * 3600.0},
        "chats": {"closed": 1, "missed": 0, "holds": 0},
    }
    assert sessions[1]["start"] == "2026-11-26T08:00:00Z"
    assert sessions[1]["end"] is None
    assert sessions[1]["seconds"] == 3600.0


def test_a_late_chat_event_amends_the_ended_session() -> None:
    ev = EventFactory()
    events = [
        ev.status("a", "online", at("08:00")),
        ev.status("a", "offline", at("17:00")),
        ev.status("a", "online", at("08:00", day=1)),
        # Timed in the first session, folded after the second began (topics interleave).
        ev.assigned("c1", "a", at("09:00")),
        ev.closed("c1", "a", at("09:30")),
    ]
    sessions = session_histories(run(events), parse_instant("2026-11-26T09:00:00Z"))["a"]
    assert [session["chats"]["closed"] for session in sessions] == [1, 0]


def test_the_current_session_shows_its_end_once_the_gap_has_passed() -> None:
    ev = EventFactory()
    events = [ev.status("a", "online", at("08:00")), ev.status("a", "offline", at("10:00"))]
    result = run(events)
    assert session_histories(result, parse_instant("2026-11-25T15:00:00Z"))["a"][0]["end"] is None
    late = session_histories(result, parse_instant("2026-11-25T16:00:00Z"))["a"][0]
    assert late["end"] == "2026-11-25T10:00:00Z"
    assert late["seconds"] == 7200.0
