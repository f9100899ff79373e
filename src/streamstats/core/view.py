"""The read-time view: agent state evaluated at an instant, as the panel JSON (spec §4)."""

from __future__ import annotations

from typing import Literal

from typing_extensions import TypedDict

from .instant import format_instant, to_seconds
from .rules import sum_in_session, time_in_status
from .state import AgentState

__all__ = ["Panel", "TimeView", "display_name", "session_counters", "view"]


class StatusView(TypedDict):
    current: Literal["online", "offline", "paused"] | None
    since: str | None
    reason: str | None
    seconds: float


class SessionView(TypedDict):
    first_online: str | None
    seconds: float


class TimeView(TypedDict):
    online: float
    offline: float
    paused: float


class ChatsView(TypedDict):
    closed: int
    missed: int
    on_hold: int
    active: int
    holds: int


class Panel(TypedDict):
    """One agent's panel projection, keys in the order of the spec."""

    agent_id: str
    name: str | None
    status: StatusView
    session: SessionView
    time: TimeView
    chats: ChatsView
    as_of: str


def view(state: AgentState, now: int) -> Panel:
    """The panel of one agent evaluated at ``now`` (microseconds since the epoch)."""
    since = state.since
    start = state.session_start
    online, offline, paused = _time_in_status(state, now)
    closed, missed, holds = session_counters(state)
    return {
        "agent_id": state.agent_id,
        "name": display_name(state.name, state.nickname),
        "status": {
            "current": state.status,
            "since": None if since is None else format_instant(since),
            "reason": state.reason,
            "seconds": 0.0 if since is None else to_seconds(max(0, now - since)),
        },
        "session": {
            "first_online": None if start is None else format_instant(start),
            "seconds": 0.0 if start is None else to_seconds(max(0, now - start)),
        },
        "time": {"online": online, "offline": offline, "paused": paused},
        "chats": {
            "closed": max(0, closed),
            "missed": max(0, missed),
            "on_hold": max(0, state.on_hold),
            "active": max(0, state.active),
            "holds": max(0, holds),
        },
        "as_of": format_instant(now),
    }


def display_name(name: str | None, nickname: str | None) -> str | None:
    if nickname and nickname.strip():
        return nickname
    if name and name.strip():
        return name
    return None


def _time_in_status(state: AgentState, now: int) -> tuple[float, float, float]:
    """Seconds online, offline and paused since the session start, clipped to ``now``."""
    online, offline, paused = time_in_status(state, now)
    return to_seconds(online), to_seconds(offline), to_seconds(paused)


def session_counters(state: AgentState) -> tuple[int, int, int]:
    """Closed, missed and holds of the current session, before clamping at zero."""
    closed, missed, holds = sum_in_session(state.pending, state)
    return state.closed + closed, state.missed + missed, state.holds + holds
