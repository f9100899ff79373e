"""Hypothesis strategies: small worlds of agents and chats with per-key ordered events."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import strategies as st

from .factories import DAY0, Wire

AGENTS = ("a", "b", "c")
CHATS = ("c1", "c2", "c3", "c4")
STATUSES = ("online", "offline", "paused")
REASONS = (None, "lunch", "break")

# Steps in minutes between two events of one key: often small, sometimes long enough
# to cross the six-hour offline gap, sometimes zero (equal timestamps).
minute_steps = st.one_of(st.integers(0, 90), st.integers(300, 500), st.sampled_from([0, 360, 361]))


def _stamp(minutes: int) -> str:
    return (DAY0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


@st.composite
def status_stream(draw: st.DrawFn, agent: str) -> list[Wire]:
    events: list[Wire] = []
    clock = draw(st.integers(0, 600))
    for index in range(draw(st.integers(0, 10))):
        clock += draw(minute_steps)
        if draw(st.booleans()) and index and draw(st.integers(0, 9)) == 0:
            clock -= draw(st.integers(1, 30))  # a stale event, older than the current status
        kind = draw(st.sampled_from(["status"] * 9 + ["profile"]))
        base = {"event_id": f"{agent}-s{index}", "at": _stamp(clock), "agent_id": agent}
        if kind == "profile":
            base |= {
                "type": "agent.profile_changed",
                "name": draw(st.sampled_from([None, "Ann", ""])),
                "nickname": draw(st.sampled_from([None, "Jo", ""])),
            }
        else:
            base |= {"type": "agent.status_changed", "status": draw(st.sampled_from(STATUSES))}
            reason = draw(st.sampled_from(REASONS))
            if reason is not None:
                base["reason"] = reason
        events.append(base)
    return events


@st.composite
def chat_stream(draw: st.DrawFn, chat: str) -> list[Wire]:
    events: list[Wire] = []
    clock = draw(st.integers(0, 600))
    agent = st.sampled_from(AGENTS)
    for index in range(draw(st.integers(0, 8))):
        clock += draw(minute_steps)
        base: Wire = {"event_id": f"{chat}-{index}", "at": _stamp(clock), "chat_id": chat}
        kind = draw(
            st.sampled_from(
                ["assigned", "transferred", "held", "resumed", "closed", "closed", "reopened"]
            )
        )
        if kind == "transferred":
            base |= {
                "type": "chat.transferred",
                "from_agent_id": draw(agent),
                "to_agent_id": draw(agent),
                "reason": draw(st.sampled_from(["manual", "no_agent_answer"])),
            }
        elif kind == "closed":
            base |= {
                "type": "chat.closed",
                "agent_id": draw(st.one_of(st.none(), agent)),
                "reason": draw(st.sampled_from(["agent", "client_inactive"])),
            }
        else:
            base |= {"type": f"chat.{kind}", "agent_id": draw(agent)}
        events.append(base)
    return events


@st.composite
def streams(draw: st.DrawFn) -> list[list[Wire]]:
    """One ordered event list per agent and per chat."""
    return [draw(status_stream(agent)) for agent in AGENTS] + [
        draw(chat_stream(chat)) for chat in CHATS
    ]


@st.composite
def interleaving(draw: st.DrawFn, per_key: list[list[Wire]]) -> list[Wire]:
    """Any merge of the per-key lists that keeps the order within each list."""
    queues = [list(stream) for stream in per_key if stream]
    merged: list[Wire] = []
    while queues:
        queue = queues[draw(st.integers(0, len(queues) - 1))]
        merged.append(queue.pop(0))
        if not queue:
            queues.remove(queue)
    return merged
