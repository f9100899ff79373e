"""An agent drops an event whose id it applied among its last 1,000 (spec §5), whatever
characters the id holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streamstats.core.events import AgentProfileChanged, AgentStatusChanged
from streamstats.core.rules import DEFAULT_CONFIG, apply_agent_event
from streamstats.core.state import NO_EVENT_IDS, REMEMBERED_EVENT_IDS, AgentState

START = datetime(2026, 11, 25, 8, tzinfo=UTC)

AWKWARD_IDS = (
    "e-1",
    "e-10",
    "1",
    'a"b',
    'q"x',
    "a\nb",
    "\n",
    '"\n"',
    'x\\"\\n\\"y',
    "\\",
    "b",
    "é-ü-😀",
    "\u2028",
    "a" * 128,
)


def status(event_id: str, minute: int = 0, state: str = "online") -> AgentStatusChanged:
    return AgentStatusChanged.model_validate(
        {
            "event_id": event_id,
            "type": "agent.status_changed",
            "at": START + timedelta(minutes=minute),
            "agent_id": "a",
            "status": state,
        }
    )


def test_every_awkward_id_is_remembered_exactly() -> None:
    agent = AgentState("a")
    for minute, event_id in enumerate(AWKWARD_IDS):
        assert apply_agent_event(agent, status(event_id, minute), DEFAULT_CONFIG)
    for event_id in AWKWARD_IDS:
        # A copy with other content would change the status: it must be dropped.
        assert not apply_agent_event(agent, status(event_id, 99, "paused"), DEFAULT_CONFIG)
    assert agent.status == "online"
    assert agent.recent_count == len(AWKWARD_IDS)
    for fragment in ("e-", "a", '"', "n", "x", "y", "a" * 127, "a\n", "é"):
        assert apply_agent_event(agent, status(fragment, 100), DEFAULT_CONFIG), fragment


def test_a_profile_event_is_remembered_too() -> None:
    agent = AgentState("a")
    profile = AgentProfileChanged.model_validate(
        {
            "event_id": "p\n1",
            "type": "agent.profile_changed",
            "at": START,
            "agent_id": "a",
            "name": "Ann",
            "nickname": None,
        }
    )
    assert apply_agent_event(agent, profile, DEFAULT_CONFIG)
    assert not apply_agent_event(agent, status("p\n1", 1), DEFAULT_CONFIG)
    assert agent.status is None


def test_the_last_thousand_ids_are_remembered_and_no_more() -> None:
    agent = AgentState("a")
    assert agent.recent_ids == NO_EVENT_IDS
    for number in range(REMEMBERED_EVENT_IDS):
        assert apply_agent_event(agent, status(f"e-{number}", number), DEFAULT_CONFIG)
    assert not apply_agent_event(agent, status("e-0", 2000), DEFAULT_CONFIG)
    assert apply_agent_event(agent, status("e-new", 2000), DEFAULT_CONFIG)
    assert agent.recent_count == REMEMBERED_EVENT_IDS
    # e-0 was the oldest: forgotten, so applied again, which forgets e-1 in turn.
    assert apply_agent_event(agent, status("e-0", 2001), DEFAULT_CONFIG)
    assert not apply_agent_event(agent, status("e-2", 2002), DEFAULT_CONFIG)
    assert apply_agent_event(agent, status("e-1", 2003), DEFAULT_CONFIG)
    assert agent.recent_ids.count(b"\n") == REMEMBERED_EVENT_IDS + 1
