"""Spec §3: active, on hold, holds, closed (with the credit rule) and missed (seed items 3–6)."""

from __future__ import annotations

import pytest

from streamstats.core.state import AgentState
from streamstats.core.view import view

from ..factories import EventFactory, Wire, at, counters, fold, panel


@pytest.fixture
def ev() -> EventFactory:
    return EventFactory()


def online(ev: EventFactory, *agents: str, when: str = "07:00", day: int = 0) -> list[Wire]:
    return [ev.status(agent, "online", at(when, day)) for agent in agents]


def new_session(ev: EventFactory, agent: str, day: int) -> list[Wire]:
    """Offline for 8 h, then online again: a new session on ``day`` at 07:00."""
    return [
        ev.status(agent, "offline", at("23:00", day - 1)),
        ev.status(agent, "online", at("07:00", day)),
    ]


def test_active_counts_open_chats_owned_by_the_agent(ev: EventFactory) -> None:
    events = [
        *online(ev, "a", "b"),
        ev.assigned("c1", "a", at("08:00")),
        ev.assigned("c2", "a", at("08:01")),
        ev.assigned("c3", "a", at("08:02")),
        ev.transferred("c2", "a", "b", at("08:03"), "manual"),
        ev.closed("c3", "a", at("08:04")),
    ]
    assert counters(events, "a")["active"] == 1
    assert counters(events, "b")["active"] == 1


def test_assigning_an_open_chat_to_another_agent_moves_it(ev: EventFactory) -> None:
    events = [ev.assigned("c1", "a", at("08:00")), ev.assigned("c1", "b", at("08:05"))]
    assert (counters(events, "a")["active"], counters(events, "b")["active"]) == (0, 1)


def test_on_hold_counts_held_chats_of_the_owner_and_holds_counts_hold_actions(
    ev: EventFactory,
) -> None:
    events = [
        *online(ev, "a"),
        ev.assigned("c1", "a", at("08:00")),
        ev.held("c1", "a", at("08:01")),
        ev.resumed("c1", "a", at("08:02")),
        ev.held("c1", "a", at("08:03")),
    ]
    assert counters(events, "a") | {} == {
        "closed": 0,
        "missed": 0,
        "on_hold": 1,
        "active": 1,
        "holds": 2,
    }


def test_holding_a_closed_or_already_held_chat_changes_nothing(ev: EventFactory) -> None:
    events = [
        *online(ev, "a"),
        ev.held("c0", "a", at("07:30")),
        ev.assigned("c1", "a", at("08:00")),
        ev.held("c1", "a", at("08:01")),
        ev.held("c1", "a", at("08:02")),
        ev.resumed("c1", "a", at("08:03")),
        ev.resumed("c1", "a", at("08:04")),
    ]
    assert counters(events, "a")["holds"] == 1
    assert counters(events, "a")["on_hold"] == 0


def test_a_change_of_owner_and_a_close_end_a_hold(ev: EventFactory) -> None:
    events = [
        *online(ev, "a", "b"),
        ev.assigned("c1", "a", at("08:00")),
        ev.held("c1", "a", at("08:01")),
        ev.transferred("c1", "a", "b", at("08:02"), "manual"),
        ev.assigned("c2", "a", at("08:03")),
        ev.held("c2", "a", at("08:04")),
        ev.closed("c2", "a", at("08:05")),
    ]
    assert counters(events, "a")["on_hold"] == 0
    assert counters(events, "b")["on_hold"] == 0
    events.append(ev.resumed("c1", "b", at("08:06")))
    assert counters(events, "b")["on_hold"] == 0


def test_seed_rule_1_reopened_and_closed_by_another_agent_moves_the_credit(
    ev: EventFactory,
) -> None:
    events = [
        *online(ev, "a", "b"),
        ev.assigned("c1", "a", at("08:00")),
        ev.closed("c1", "a", at("08:10")),
    ]
    assert counters(events, "a")["closed"] == 1
    events += [ev.reopened("c1", "b", at("09:00")), ev.closed("c1", "b", at("09:10"))]
    assert counters(events, "a")["closed"] == 0
    assert counters(events, "b")["closed"] == 1


def test_seed_rule_2_a_transferred_chat_credits_whoever_closes_it(ev: EventFactory) -> None:
    events = [
        *online(ev, "a", "b"),
        ev.assigned("c1", "a", at("08:00")),
        ev.transferred("c1", "a", "b", at("08:05"), "manual"),
        ev.closed("c1", "b", at("08:10")),
    ]
    assert counters(events, "a") == {
        "closed": 0,
        "missed": 0,
        "on_hold": 0,
        "active": 0,
        "holds": 0,
    }
    assert counters(events, "b")["closed"] == 1


def test_seed_rule_3_an_auto_closed_chat_credits_the_agent_it_was_distributed_to(
    ev: EventFactory,
) -> None:
    events = [
        *online(ev, "a"),
        ev.assigned("c1", "a", at("08:00")),
        ev.closed("c1", None, at("08:30"), "client_inactive"),
    ]
    assert counters(events, "a")["closed"] == 1
    assert counters(events, "a")["active"] == 0


def test_an_auto_close_credits_the_owner_not_the_event_agent(ev: EventFactory) -> None:
    events = [
        *online(ev, "a", "b"),
        ev.assigned("c1", "a", at("08:00")),
        ev.closed("c1", "b", at("08:30"), "client_inactive"),
    ]
    assert (counters(events, "a")["closed"], counters(events, "b")["closed"]) == (1, 0)


def test_an_auto_close_of_an_ownerless_chat_credits_the_event_agent(ev: EventFactory) -> None:
    events = [*online(ev, "b"), ev.closed("c1", "b", at("08:30"), "client_inactive")]
    assert counters(events, "b")["closed"] == 1


def test_a_close_without_a_target_credits_nobody(ev: EventFactory) -> None:
    events = [
        *online(ev, "a"),
        ev.closed("c1", None, at("08:30"), "client_inactive"),
        ev.closed("c2", None, at("08:31"), "agent"),
    ]
    result = fold(events)
    assert set(result.projector.agents) == {"a"}
    assert counters(events, "a")["closed"] == 0


def test_the_same_agent_reclosing_within_a_session_counts_once(ev: EventFactory) -> None:
    events = [
        *online(ev, "a"),
        ev.assigned("c1", "a", at("08:00")),
        ev.closed("c1", "a", at("08:10")),
        ev.reopened("c1", "a", at("08:20")),
        ev.closed("c1", "a", at("08:30")),
        ev.closed("c1", "a", at("08:40")),
    ]
    assert counters(events, "a")["closed"] == 1


def test_reclosing_in_a_later_session_counts_in_that_session(ev: EventFactory) -> None:
    events = [
        *online(ev, "a"),
        ev.assigned("c1", "a", at("08:00")),
        ev.closed("c1", "a", at("08:10")),
        *new_session(ev, "a", day=1),
        ev.reopened("c1", "a", at("08:00", 1)),
        ev.closed("c1", "a", at("08:10", 1)),
    ]
    assert counters(events, "a")["closed"] == 1


def test_losing_a_credit_from_an_earlier_session_does_not_subtract(ev: EventFactory) -> None:
    """The credit vanished with A's reset, so B taking it costs A nothing now."""
    events = [
        *online(ev, "a", "b"),
        ev.assigned("c1", "a", at("08:00")),
        ev.closed("c1", "a", at("08:10")),
        *new_session(ev, "a", day=1),
        ev.assigned("c2", "a", at("08:00", 1)),
        ev.closed("c2", "a", at("08:05", 1)),
        ev.reopened("c1", "b", at("09:00", 1)),
        ev.closed("c1", "b", at("09:10", 1)),
    ]
    assert counters(events, "a")["closed"] == 1
    assert counters(events, "b")["closed"] == 1


def test_losing_a_credit_in_the_first_session_always_subtracts(ev: EventFactory) -> None:
    events = [
        ev.assigned("c1", "a", at("06:00")),
        ev.closed("c1", "a", at("06:10")),
        *online(ev, "a", "b"),
        ev.reopened("c1", "b", at("09:00")),
        ev.closed("c1", "b", at("09:10")),
    ]
    assert counters(events, "a")["closed"] == 0


def test_missed_counts_chats_transferred_for_no_agent_answer(ev: EventFactory) -> None:
    events = [
        *online(ev, "a", "b"),
        ev.assigned("c1", "a", at("08:00")),
        ev.transferred("c1", "a", "b", at("08:05"), "no_agent_answer"),
        ev.assigned("c2", "a", at("08:06")),
        ev.transferred("c2", "a", "b", at("08:07"), "manual"),
    ]
    assert counters(events, "a")["missed"] == 1
    assert counters(events, "b")["missed"] == 0


def test_changes_before_the_first_session_count(ev: EventFactory) -> None:
    events = [
        ev.assigned("c1", "a", at("06:00")),
        ev.closed("c1", "a", at("06:10")),
        *online(ev, "a"),
    ]
    assert counters(events, "a")["closed"] == 1


def test_changes_are_attributed_to_sessions_by_event_time(ev: EventFactory) -> None:
    """A close timed before the new session does not count, whenever it is applied."""
    first = [*online(ev, "a"), ev.status("a", "offline", at("09:00"))]
    late_close = [ev.assigned("c1", "a", at("08:00")), ev.closed("c1", "a", at("08:30"))]
    restart = [ev.status("a", "online", at("16:00"))]
    after = [ev.assigned("c2", "a", at("16:10")), ev.closed("c2", "a", at("16:20"))]
    for events in (
        first + late_close + restart + after,
        first + restart + after + late_close,
        after + late_close + first + restart,
    ):
        assert counters(events, "a", at("17:00"))["closed"] == 1


def test_a_counter_shown_is_never_below_zero() -> None:
    state = AgentState("a", active=-1, on_hold=-2, closed=-1, missed=-1, holds=-1)
    assert view(state, 0)["chats"] == {
        "closed": 0,
        "missed": 0,
        "on_hold": 0,
        "active": 0,
        "holds": 0,
    }


def test_an_agent_appears_once_any_event_names_it(ev: EventFactory) -> None:
    events = [
        ev.assigned("c1", "a", at("08:00")),
        ev.transferred("c1", "a", "b", at("08:05"), "manual"),
        ev.resumed("c1", "c", at("08:06")),
    ]
    result = panel(events, "c", at("09:00"))
    assert result["chats"] == {"closed": 0, "missed": 0, "on_hold": 0, "active": 0, "holds": 0}
    assert set(fold(events).projector.agents) == {"a", "b", "c"}
