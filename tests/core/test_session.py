"""Spec §2: status, session, First Online and time in status (seed items 1, 2, 9–14)."""

from __future__ import annotations

import pytest

from streamstats.core.instant import MICROS_PER_SECOND
from streamstats.core.rules import FoldConfig

from ..factories import EventFactory, at, counters, panel


@pytest.fixture
def ev() -> EventFactory:
    return EventFactory()


def test_status_since_and_time_under_status(ev: EventFactory) -> None:
    events = [ev.status("a", "online", at("08:00")), ev.status("a", "paused", at("09:00"), "lunch")]
    status = panel(events, "a", at("09:30"))["status"]
    assert status == {
        "current": "paused",
        "since": "2026-11-25T09:00:00Z",
        "reason": "lunch",
        "seconds": 1800.0,
    }


def test_agent_never_in_a_status_event_has_null_status(ev: EventFactory) -> None:
    events = [ev.profile("a", at("08:00"), "Ann", None)]
    result = panel(events, "a", at("09:00"))
    assert result["status"] == {"current": None, "since": None, "reason": None, "seconds": 0.0}
    assert result["session"] == {"first_online": None, "seconds": 0.0}


def test_first_online_is_null_when_never_online(ev: EventFactory) -> None:
    """Seed, First Online step 3."""
    events = [ev.status("a", "paused", at("08:00")), ev.status("a", "offline", at("09:00"))]
    result = panel(events, "a", at("10:00"))
    assert result["session"] == {"first_online": None, "seconds": 0.0}
    assert result["time"] == {"online": 0.0, "offline": 0.0, "paused": 0.0}


def test_first_online_is_the_oldest_online_without_a_gap(ev: EventFactory) -> None:
    """Seed, First Online step 2."""
    events = [
        ev.status("a", "offline", at("06:00")),
        ev.status("a", "online", at("08:00")),
        ev.status("a", "offline", at("10:00")),
        ev.status("a", "online", at("12:00")),
    ]
    assert panel(events, "a", at("13:00"))["session"] == {
        "first_online": "2026-11-25T08:00:00Z",
        "seconds": 5 * 3600.0,
    }


def test_first_online_moves_to_the_online_after_a_six_hour_offline_gap(ev: EventFactory) -> None:
    """Seed, First Online step 1."""
    events = [
        ev.status("a", "online", at("08:00")),
        ev.status("a", "offline", at("17:00")),
        ev.status("a", "online", at("07:00", day=1)),
    ]
    assert panel(events, "a", at("08:00", day=1))["session"]["first_online"] == at("07:00", 1)


def test_an_offline_gap_of_exactly_six_hours_ends_the_session(ev: EventFactory) -> None:
    events = [
        ev.status("a", "online", at("08:00")),
        ev.status("a", "offline", at("10:00")),
        ev.status("a", "online", at("16:00")),
    ]
    assert panel(events, "a", at("17:00"))["session"]["first_online"] == at("16:00")


def test_offline_shorter_than_the_gap_keeps_the_session(ev: EventFactory) -> None:
    events = [
        ev.status("a", "online", at("08:00")),
        ev.status("a", "offline", at("10:00")),
        ev.status("a", "online", at("15:59:59")),
    ]
    assert panel(events, "a", at("17:00"))["session"]["first_online"] == at("08:00")


def test_paused_never_starts_a_session(ev: EventFactory) -> None:
    events = [
        ev.status("a", "online", at("08:00")),
        ev.status("a", "offline", at("09:00")),
        ev.status("a", "paused", at("16:00")),
    ]
    assert panel(events, "a", at("17:00"))["session"]["first_online"] == at("08:00")


def test_the_online_after_gap_then_pause_starts_the_session(ev: EventFactory) -> None:
    """Whatever came between the gap and the online, the online starts the session."""
    events = [
        ev.status("a", "online", at("08:00")),
        ev.status("a", "offline", at("09:00")),
        ev.status("a", "paused", at("16:00")),
        ev.status("a", "offline", at("16:30")),
        ev.status("a", "online", at("17:00")),
    ]
    assert panel(events, "a", at("18:00"))["session"]["first_online"] == at("17:00")


def test_the_ended_session_stays_shown_and_its_offline_time_grows(ev: EventFactory) -> None:
    events = [ev.status("a", "online", at("08:00")), ev.status("a", "offline", at("10:00"))]
    late = panel(events, "a", at("20:00"))
    assert late["session"] == {"first_online": at("08:00"), "seconds": 12 * 3600.0}
    assert late["time"] == {"online": 2 * 3600.0, "offline": 10 * 3600.0, "paused": 0.0}


def test_online_offline_paused_add_up_to_total_time(ev: EventFactory) -> None:
    events = [
        ev.status("a", "paused", at("07:00")),
        ev.status("a", "online", at("08:00")),
        ev.status("a", "paused", at("09:00"), "lunch"),
        ev.status("a", "paused", at("09:30"), "coffee"),
        ev.status("a", "offline", at("10:00")),
        ev.status("a", "online", at("10:15")),
    ]
    result = panel(events, "a", at("11:00"))
    assert result["time"] == {"online": 1.75 * 3600, "offline": 900.0, "paused": 3600.0}
    assert sum(result["time"].values()) == result["session"]["seconds"] == 3 * 3600.0


def test_a_new_session_resets_counters_and_durations_but_not_open_chats(
    ev: EventFactory,
) -> None:
    """The seed's last paragraph: statistics reset after 6 h offline then online."""
    events = [
        ev.status("a", "online", at("08:00")),
        ev.assigned("c1", "a", at("08:10")),
        ev.closed("c1", "a", at("08:20")),
        ev.assigned("c2", "a", at("08:30")),
        ev.held("c2", "a", at("08:40")),
        ev.assigned("c3", "a", at("08:45")),
        ev.transferred("c3", "a", "b", at("08:50"), "no_agent_answer"),
        ev.status("a", "offline", at("09:00")),
        ev.status("a", "online", at("16:00")),
    ]
    result = panel(events, "a", at("17:00"))
    assert result["chats"] == {"closed": 0, "missed": 0, "on_hold": 1, "active": 1, "holds": 0}
    assert result["time"] == {"online": 3600.0, "offline": 0.0, "paused": 0.0}
    before = panel(events[:-1], "a", at("15:00"))
    assert before["chats"] == {"closed": 1, "missed": 1, "on_hold": 1, "active": 1, "holds": 1}


def test_a_stale_status_event_changes_nothing_and_is_counted_late(ev: EventFactory) -> None:
    from ..factories import fold

    events = [ev.status("a", "online", at("08:00")), ev.status("a", "offline", at("07:59"))]
    result = fold(events)
    assert result.projector.agents["a"].late_status_events == 1
    assert panel(events, "a", at("09:00"))["status"]["current"] == "online"


def test_repeating_status_and_reason_keeps_since(ev: EventFactory) -> None:
    events = [
        ev.status("a", "paused", at("08:00"), "lunch"),
        ev.status("a", "paused", at("08:30"), "lunch"),
    ]
    assert panel(events, "a", at("09:00"))["status"]["since"] == at("08:00")


def test_a_change_of_reason_alone_moves_since(ev: EventFactory) -> None:
    events = [
        ev.status("a", "paused", at("08:00"), "lunch"),
        ev.status("a", "paused", at("08:30"), "coffee"),
    ]
    status = panel(events, "a", at("09:00"))["status"]
    assert (status["since"], status["reason"], status["seconds"]) == (at("08:30"), "coffee", 1800.0)


def test_an_offline_period_stays_continuous_across_reasons(ev: EventFactory) -> None:
    events = [
        ev.status("a", "online", at("08:00")),
        ev.status("a", "offline", at("09:00"), "home"),
        ev.status("a", "offline", at("12:00"), "sick"),
        ev.status("a", "online", at("15:00")),
    ]
    assert panel(events, "a", at("16:00"))["session"]["first_online"] == at("15:00")


def test_the_offline_gap_is_configurable(ev: EventFactory) -> None:
    events = [
        ev.status("a", "online", at("08:00")),
        ev.status("a", "offline", at("09:00")),
        ev.status("a", "online", at("10:00")),
    ]
    one_hour = FoldConfig(offline_gap=3600 * MICROS_PER_SECOND)
    assert panel(events, "a", at("11:00"), one_hour)["session"]["first_online"] == at("10:00")
    assert panel(events, "a", at("11:00"))["session"]["first_online"] == at("08:00")


def test_durations_before_an_interval_began_count_zero(ev: EventFactory) -> None:
    events = [
        ev.status("a", "online", at("08:00")),
        ev.status("a", "paused", at("10:00")),
    ]
    early = panel(events, "a", at("09:00"))
    assert early["time"] == {"online": 3600.0, "offline": 0.0, "paused": 0.0}
    assert early["status"]["seconds"] == 0.0
    assert panel(events, "a", at("07:00"))["session"]["seconds"] == 0.0


def test_counters_are_not_affected_by_read_time(ev: EventFactory) -> None:
    events = [
        ev.status("a", "online", at("08:00")),
        ev.assigned("c1", "a", at("08:10")),
        ev.closed("c1", "a", at("08:20")),
    ]
    assert counters(events, "a", at("12:00"))["closed"] == 1
