"""Session history: each session's final figures, and the current one's (spec §10).

A session ends with an offline gap; its ``end`` is the start of that offline period.
The fold keeps the summary of the session before the current one in the agent record
(``AgentState.last_session``, a list of :data:`~.state.SESSION_FIELDS`), amended while
late chat events still change it; the worker and replay keep every summary they see.
"""

from __future__ import annotations

from collections.abc import Iterable

from typing_extensions import TypedDict

from .instant import format_instant, to_seconds
from .rules import time_in_status
from .state import AgentState
from .view import TimeView, session_counters

__all__ = [
    "SessionChats",
    "SessionFigures",
    "current_session",
    "ended_session",
    "history",
    "session_end",
]


class SessionChats(TypedDict):
    closed: int
    missed: int
    holds: int


class SessionFigures(TypedDict):
    """One session as ``GET /agents/{id}/sessions`` lists it."""

    start: str
    end: str | None
    seconds: float
    time: TimeView
    chats: SessionChats


def _figures(
    start: int, end: int | None, until: int, times: list[int], counters: tuple[int, int, int]
) -> SessionFigures:
    """A session's figures: begun at ``start``, ended at ``end`` (None: live), its
    times in microseconds and its counters (closed, missed, holds) up to ``until``."""
    online, offline, paused = times
    closed, missed, holds = counters
    return {
        "start": format_instant(start),
        "end": None if end is None else format_instant(end),
        "seconds": to_seconds(max(0, until - start)),
        "time": {
            "online": to_seconds(online),
            "offline": to_seconds(offline),
            "paused": to_seconds(paused),
        },
        "chats": {"closed": max(0, closed), "missed": max(0, missed), "holds": max(0, holds)},
    }


def ended_session(summary: list[int]) -> SessionFigures:
    """The figures of an ended session from its summary."""
    start, end, online, offline, paused, closed, missed, holds = summary[:8]
    return _figures(start, end, end, [online, offline, paused], (closed, missed, holds))


def session_end(agent: AgentState, now: int, gap: int) -> int | None:
    """When the agent's current session ended, as read at ``now``: the start of the
    offline gap that ended it (None while it is live)."""
    if agent.gap_start is not None:
        return agent.gap_start
    offline_since = agent.offline_since
    if agent.status == "offline" and offline_since is not None and now - offline_since >= gap:
        return offline_since
    return None


def current_session(agent: AgentState, now: int, gap: int) -> SessionFigures | None:
    """The agent's current session read at ``now`` (None if it never had one)."""
    start = agent.session_start
    if start is None:
        return None
    return _current(agent, start, session_end(agent, now, gap), now)


def _current(agent: AgentState, start: int, end: int | None, now: int) -> SessionFigures:
    until = now if end is None else min(end, now)
    return _figures(start, end, until, time_in_status(agent, until), session_counters(agent))


def history(
    agent: AgentState,
    ended: Iterable[list[int]],
    now: int,
    gap: int,
    since: int | None = None,
    until: int | None = None,
) -> list[SessionFigures]:
    """The agent's sessions overlapping ``[since, until]`` (either open), oldest first,
    the current one last. ``ended`` holds the summaries of its ended sessions."""
    found: list[tuple[int, SessionFigures]] = []
    current_start = agent.session_start
    for summary in ended:
        start, end = summary[0], summary[1]
        if start != current_start and _overlaps(start, end, since, until):
            found.append((start, ended_session(summary)))
    found.sort(key=lambda item: item[0])
    sessions = [figures for _, figures in found]
    if current_start is not None:
        ended_at = session_end(agent, now, gap)
        if _overlaps(current_start, now if ended_at is None else ended_at, since, until):
            sessions.append(_current(agent, current_start, ended_at, now))
    return sessions


def _overlaps(start: int, end: int, since: int | None, until: int | None) -> bool:
    return (until is None or start <= until) and (since is None or end >= since)
