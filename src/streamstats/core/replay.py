"""Replay: JSON lines of events folded into panels, with no Kafka (spec §7)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

import orjson

from .events import AgentEvent, ChatEvent, InvalidEvent, UnknownEvent, decode_event
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


REPLAY_BATCH: Final = 5000
"""Events decoded before they are folded as one batch (the worker's fetch size)."""


def replay_lines(
    lines: Iterable[bytes],
    config: FoldConfig = DEFAULT_CONFIG,
    result: ReplayResult | None = None,
) -> ReplayResult:
    """Fold JSON-lines events in order, in batches; blank lines are skipped silently.

    Pass a previous ``result`` to continue folding into it.
    """
    if result is None:
        result = ReplayResult(Projector(config))
    fold = result.projector.apply_all
    latest = result.latest_at
    batch: list[AgentEvent | ChatEvent] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        event = decode_event(line)
        if isinstance(event, InvalidEvent):
            result.problems.append(LineProblem(number, event.reason, event.detail))
        elif isinstance(event, UnknownEvent):
            result.unknown_types[event.type] = result.unknown_types.get(event.type, 0) + 1
        else:
            batch.append(event)
            at = event.at_micros
            if latest is None or at > latest:
                latest = at
            if len(batch) >= REPLAY_BATCH:
                fold(batch)
                batch = []
    fold(batch)
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
