"""Builders for wire-format events, so tests read like the scenarios they check."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from streamstats.core.instant import parse_instant
from streamstats.core.replay import ReplayResult, panels, replay_lines
from streamstats.core.rules import FoldConfig
from streamstats.core.view import Panel

DAY0 = datetime(2026, 11, 25, tzinfo=UTC)

Wire = dict[str, Any]


def at(clock: str, day: int = 0) -> str:
    """``"08:30"`` or ``"08:30:15"`` on day ``day`` after 2026-11-25, as RFC 3339."""
    parts = [int(part) for part in clock.split(":")]
    hours, minutes, seconds = [*parts, 0, 0][:3]
    moment = DAY0 + timedelta(days=day, hours=hours, minutes=minutes, seconds=seconds)
    return moment.isoformat().replace("+00:00", "Z")


class EventFactory:
    """Makes events with unique ids; each method returns one wire-format dict."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def _event(self, type_: str, when: str, **fields: Any) -> Wire:
        return {"event_id": f"e{next(self._ids)}", "type": type_, "at": when, **fields}

    def status(self, agent: str, status: str, when: str, reason: str | None = None) -> Wire:
        extra = {} if reason is None else {"reason": reason}
        return self._event("agent.status_changed", when, agent_id=agent, status=status, **extra)

    def profile(self, agent: str, when: str, name: str | None, nickname: str | None) -> Wire:
        return self._event(
            "agent.profile_changed", when, agent_id=agent, name=name, nickname=nickname
        )

    def assigned(self, chat: str, agent: str, when: str) -> Wire:
        return self._event("chat.assigned", when, chat_id=chat, agent_id=agent)

    def transferred(self, chat: str, source: str, target: str, when: str, reason: str) -> Wire:
        return self._event(
            "chat.transferred",
            when,
            chat_id=chat,
            from_agent_id=source,
            to_agent_id=target,
            reason=reason,
        )

    def held(self, chat: str, agent: str, when: str) -> Wire:
        return self._event("chat.held", when, chat_id=chat, agent_id=agent)

    def resumed(self, chat: str, agent: str, when: str) -> Wire:
        return self._event("chat.resumed", when, chat_id=chat, agent_id=agent)

    def closed(self, chat: str, agent: str | None, when: str, reason: str = "agent") -> Wire:
        return self._event("chat.closed", when, chat_id=chat, agent_id=agent, reason=reason)

    def reopened(self, chat: str, agent: str, when: str) -> Wire:
        return self._event("chat.reopened", when, chat_id=chat, agent_id=agent)


def fnv1a(key: bytes) -> int:
    """32-bit FNV-1a of a key, as sarama's default partitioner hashes it."""
    hashed = 0x811C9DC5
    for byte in key:
        hashed = ((hashed ^ byte) * 0x01000193) & 0xFFFFFFFF
    return hashed


def lines(events: list[Wire]) -> list[bytes]:
    return [orjson.dumps(event) for event in events]


def fold(events: list[Wire], config: FoldConfig | None = None) -> ReplayResult:
    result = replay_lines(lines(events), config or FoldConfig())
    assert not result.problems, result.problems
    return result


def panel(events: list[Wire], agent: str, when: str, config: FoldConfig | None = None) -> Panel:
    """The agent's panel after folding ``events``, evaluated at ``when``."""
    return panels(fold(events, config), parse_instant(when))[agent]


def counters(events: list[Wire], agent: str, when: str | None = None) -> dict[str, int]:
    moment = when or max(event["at"] for event in events)
    return dict(panel(events, agent, moment)["chats"])
