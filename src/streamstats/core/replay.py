"""Replay: JSON lines of events folded into panels, with no Kafka (spec §7)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from .events import InvalidEvent, UnknownEvent, decode_event
from .rules import DEFAULT_CONFIG, FoldConfig, Projector
from .view import Panel, view

__all__ = ["LineProblem", "ReplayResult", "panels", "render", "replay_lines"]


@dataclass(frozen=True, slots=True)
class LineProblem:
    """An input line that was skipped, and why."""

    line: int
    reason: str
    detail: str


@dataclass(slots=True)
class ReplayResult:
    """The folded projection plus what was skipped on the way."""

    projector: Projector
    latest_at: int | None = None
    problems: list[LineProblem] = field(default_factory=list)
    unknown_types: dict[str, int] = field(default_factory=dict)


def replay_lines(
    lines: Iterable[bytes],
    config: FoldConfig = DEFAULT_CONFIG,
    result: ReplayResult | None = None,
) -> ReplayResult:
    """Fold JSON-lines events in order; blank lines are skipped silently.

    Pass a previous ``result`` to continue folding into it.
    """
    if result is None:
        result = ReplayResult(Projector(config))
    apply = result.projector.apply
    latest = result.latest_at
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        event = decode_event(line)
        if isinstance(event, InvalidEvent):
            result.problems.append(LineProblem(number, event.reason, event.detail))
        elif isinstance(event, UnknownEvent):
            result.unknown_types[event.type] = result.unknown_types.get(event.type, 0) + 1
        else:
            apply(event)
            at = event.at_micros
            if latest is None or at > latest:
                latest = at
    result.latest_at = latest
    return result


def panels(result: ReplayResult, at: int | None = None) -> dict[str, Panel]:
    """Every agent's panel at ``at`` (default: the latest event time), by agent id."""
    now = at if at is not None else result.latest_at
    if now is None:
        return {}
    agents = result.projector.agents
    return {agent_id: view(agents[agent_id], now) for agent_id in sorted(agents)}


def render(result: ReplayResult, at: int | None = None) -> bytes:
    """The replay output: ``{"agents": {...}}`` with keys sorted, and a newline."""
    return orjson.dumps({"agents": panels(result, at)}, option=orjson.OPT_SORT_KEYS) + b"\n"
