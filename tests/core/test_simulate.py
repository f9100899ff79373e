"""The traffic simulator: deterministic, valid, in time order, and as messy as real traffic."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import pairwise

import orjson
import pytest

from streamstats.core.events import (
    AGENT_EVENT_TYPES,
    CHAT_EVENT_TYPES,
    InvalidEvent,
    UnknownEvent,
    decode_event,
)
from streamstats.tools.simulate import simulate, simulate_lines

START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
SIX_HOURS = timedelta(hours=6)

Event = dict[str, object]


@cache
def day(*, seed: int = 7, agents: int = 40, duplicate_rate: float = 0.01) -> tuple[Event, ...]:
    """A 24 h run, big enough to contain every kind of event."""
    return tuple(simulate(seed=seed, agents=agents, start=START, duplicate_rate=duplicate_rate))


def first_deliveries(events: tuple[Event, ...]) -> list[Event]:
    seen: set[object] = set()
    unique = []
    for event in events:
        if event["event_id"] not in seen:
            seen.add(event["event_id"])
            unique.append(event)
    return unique


def instant(event: Event) -> datetime:
    text = event["at"]
    assert isinstance(text, str)
    return datetime.fromisoformat(text)


def with_status_of_agents(events: tuple[Event, ...]) -> list[tuple[Event, dict[object, object]]]:
    """Each first delivery with the status every agent had just before it."""
    status: dict[object, object] = {}
    paired = []
    for event in first_deliveries(events):
        paired.append((event, dict(status)))
        if event["type"] == "agent.status_changed":
            status[event["agent_id"]] = event["status"]
    return paired


def test_the_same_arguments_give_the_same_bytes() -> None:
    def output(seed: int) -> bytes:
        return b"".join(simulate_lines(seed=seed, agents=12, start=START, duplicate_rate=0.01))

    assert output(3) == output(3)
    assert output(3) != output(4)


def test_lines_are_the_events_as_json_lines() -> None:
    events = list(simulate(seed=5, agents=3, hours=6, start=START))
    lines = list(simulate_lines(seed=5, agents=3, hours=6, start=START))
    assert lines == [orjson.dumps(event) + b"\n" for event in events]


def test_every_event_is_a_valid_known_event() -> None:
    for event in day():
        decoded = decode_event(orjson.dumps(event))
        assert not isinstance(decoded, InvalidEvent | UnknownEvent), (event, decoded)
        assert decoded.type == event["type"]
        assert list(event)[:3] == ["event_id", "type", "at"]


def test_events_are_in_time_order_within_the_run() -> None:
    moments = [instant(event) for event in day()]
    assert moments == sorted(moments)
    assert moments[0] >= START
    assert moments[-1] < START + timedelta(hours=24)


def test_timestamps_are_utc_with_milliseconds() -> None:
    pattern = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
    assert all(pattern.fullmatch(str(event["at"])) for event in day())


def test_ids_have_the_documented_shape() -> None:
    for event in day():
        assert re.fullmatch(r"e-\d+", str(event["event_id"]))
        for key in ("agent_id", "from_agent_id", "to_agent_id"):
            if event.get(key) is not None:
                assert re.fullmatch(r"a-\d{4}", str(event[key]))
        if "chat_id" in event:
            assert re.fullmatch(r"c-\d{6}", str(event["chat_id"]))


def test_the_mix_contains_every_event_type() -> None:
    assert {event["type"] for event in day()} == AGENT_EVENT_TYPES | CHAT_EVENT_TYPES


def test_only_duplicates_share_an_event_id_and_they_are_identical() -> None:
    by_id: dict[object, list[Event]] = {}
    for event in day():
        by_id.setdefault(event["event_id"], []).append(event)
    repeated = [copies for copies in by_id.values() if len(copies) > 1]
    assert repeated
    assert all(len(copies) == 2 and copies[0] == copies[1] for copies in repeated)


def test_duplicates_do_not_change_the_rest_of_the_traffic() -> None:
    plain = list(simulate(seed=7, agents=40, start=START, duplicate_rate=0.0))
    assert len({event["event_id"] for event in plain}) == len(plain)
    assert first_deliveries(day()) == plain


def test_missed_chats_and_manual_transfers_go_to_another_online_agent() -> None:
    reasons: Counter[object] = Counter()
    for event, status in with_status_of_agents(day()):
        if event["type"] == "chat.transferred":
            reasons[event["reason"]] += 1
            assert event["from_agent_id"] != event["to_agent_id"]
            assert status.get(event["to_agent_id"]) == "online"
    assert reasons["no_agent_answer"] > 0
    assert reasons["manual"] > 0


def test_chats_are_distributed_only_to_online_agents() -> None:
    for event, status in with_status_of_agents(day()):
        if event["type"] in {"chat.assigned", "chat.reopened"}:
            assert status.get(event["agent_id"]) == "online", event


def test_client_inactive_closes_name_the_owner_or_nobody() -> None:
    owners: dict[object, object] = {}
    named = anonymous = 0
    for event in first_deliveries(day()):
        if event["type"] in {"chat.assigned", "chat.reopened"}:
            owners[event["chat_id"]] = event["agent_id"]
        elif event["type"] == "chat.transferred":
            owners[event["chat_id"]] = event["to_agent_id"]
        elif event["type"] == "chat.closed" and event["reason"] == "client_inactive":
            if event["agent_id"] is None:
                anonymous += 1
            else:
                assert event["agent_id"] == owners[event["chat_id"]]
                named += 1
    assert named > 0
    assert anonymous > 0


def test_chat_lifecycles_are_consistent() -> None:
    """Hold, resume and close come from the owner; only closed chats re-open."""
    owners: dict[object, object] = {}
    is_open: dict[object, bool] = {}
    on_hold: set[object] = set()
    for event in first_deliveries(day()):
        kind, chat = event["type"], event.get("chat_id")
        if kind == "chat.assigned":
            assert not is_open.get(chat, False)
            owners[chat], is_open[chat] = event["agent_id"], True
        elif kind == "chat.transferred":
            assert is_open[chat]
            assert owners[chat] == event["from_agent_id"]
            owners[chat] = event["to_agent_id"]
            on_hold.discard(chat)
        elif kind in {"chat.held", "chat.resumed"}:
            assert is_open[chat]
            assert owners[chat] == event["agent_id"]
            assert (chat in on_hold) == (kind == "chat.resumed")
            on_hold.symmetric_difference_update({chat})
        elif kind == "chat.closed":
            assert is_open[chat]
            assert event["reason"] == "client_inactive" or owners[chat] == event["agent_id"]
            is_open[chat] = False
            on_hold.discard(chat)
        elif kind == "chat.reopened":
            assert is_open[chat] is False
            owners[chat], is_open[chat] = event["agent_id"], True


def test_closed_chats_are_reopened_and_closed_again_by_another_agent() -> None:
    closed_by: dict[object, object] = {}
    reopened_by: dict[object, object] = {}
    reclosed = 0
    for event in first_deliveries(day()):
        chat = event.get("chat_id")
        if event["type"] == "chat.reopened":
            assert event["agent_id"] != closed_by[chat]
            reopened_by[chat] = event["agent_id"]
        elif event["type"] == "chat.closed":
            if event["reason"] == "agent" and reopened_by.pop(chat, None) == event["agent_id"]:
                reclosed += 1
            closed_by[chat] = event["agent_id"]
    assert reclosed > 0


def test_some_agent_returns_online_after_an_offline_gap_of_six_hours() -> None:
    events = day(seed=11, agents=4, duplicate_rate=0.0)
    offline_since: dict[object, datetime] = {}
    returns = 0
    for event in events:
        if event["type"] != "agent.status_changed":
            continue
        agent = event["agent_id"]
        if event["status"] == "offline":
            offline_since.setdefault(agent, instant(event))
            continue
        went_offline = offline_since.pop(agent, None)
        if event["status"] == "online" and went_offline is not None:
            returns += instant(event) - went_offline >= SIX_HOURS
    assert returns > 0


def test_agents_pause_take_breaks_and_repeat_statuses() -> None:
    statuses = [
        event for event in first_deliveries(day()) if event["type"] == "agent.status_changed"
    ]
    reasons = {event.get("reason") for event in statuses if event["status"] == "paused"}
    assert {"lunch", "break"} <= reasons
    latest: dict[object, object] = {}
    repeats = reason_changes = 0
    for event in statuses:
        previous = latest.get(event["agent_id"])
        if isinstance(previous, dict) and previous["status"] == event["status"]:
            repeats += 1
            reason_changes += previous.get("reason") != event.get("reason")
        latest[event["agent_id"]] = event
    assert repeats > 0
    assert reason_changes > 0


def test_a_status_heartbeat_resends_the_current_status_on_shift_only() -> None:
    plain = tuple(simulate(seed=3, agents=6, hours=24, start=START, duplicate_rate=0.0))
    beating = tuple(
        simulate(
            seed=3,
            agents=6,
            hours=24,
            start=START,
            duplicate_rate=0.0,
            status_resend_minutes=5,
        )
    )
    # Every 5 min of ~8 h on shift is ~96 an agent; off shift too would be 288.
    assert len(plain) + 6 * 50 < len(beating) < len(plain) + 6 * 150
    latest: dict[object, Event] = {}
    resent_at: dict[object, list[datetime]] = {}
    for event in beating:
        if event["type"] != "agent.status_changed":
            continue
        previous = latest.get(event["agent_id"])
        if previous is not None and (previous["status"], previous.get("reason")) == (
            event["status"],
            event.get("reason"),
        ):
            resent_at.setdefault(event["agent_id"], []).append(instant(event))
        latest[event["agent_id"]] = event
    gaps = [
        later - earlier for instants in resent_at.values() for earlier, later in pairwise(instants)
    ]
    assert min(gaps) >= timedelta(0)
    assert Counter(gaps).most_common(1)[0][0] == timedelta(minutes=5)


def test_every_agent_has_a_profile_and_some_have_nicknames() -> None:
    profiles = [event for event in day() if event["type"] == "agent.profile_changed"]
    agents = {event["agent_id"] for event in profiles}
    assert agents == {f"a-{number:04d}" for number in range(1, 41)}
    assert any(event["nickname"] for event in profiles)
    assert all(event["name"] for event in profiles)
    assert len(profiles) > len(agents)


def test_the_chats_argument_sets_how_many_chats_arrive() -> None:
    events = list(simulate(seed=2, agents=10, chats=200, hours=24, start=START))
    chats = {event["chat_id"] for event in events if "chat_id" in event}
    assert 180 <= len(chats) <= 200


def test_the_default_volume_matches_the_documented_sizing() -> None:
    count = sum(1 for _ in simulate(seed=1, agents=200, hours=24, start=START))
    assert 40_000 <= count <= 65_000  # about 11 events per agent per simulated hour


def test_nothing_happens_without_agents() -> None:
    assert list(simulate(seed=1, agents=0, chats=10, hours=1, start=START)) == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: simulate(seed=1, agents=2, start=datetime(2026, 11, 25, 8, 0)), "offset-aware"),
        (lambda: simulate(seed=1, agents=-1, start=START), "negative"),
        (lambda: simulate(seed=1, agents=2, chats=-1, start=START), "negative"),
        (lambda: simulate(seed=1, agents=2, hours=0.0, start=START), "hours"),
        (lambda: simulate(seed=1, agents=2, start=START, duplicate_rate=1.5), "duplicate_rate"),
        (
            lambda: simulate(seed=1, agents=2, start=START, status_resend_minutes=0),
            "status_resend_minutes",
        ),
    ],
)
def test_bad_arguments_are_rejected_at_the_call(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
