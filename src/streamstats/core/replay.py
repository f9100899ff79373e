"""Replay: JSON lines of events folded into panels, with no Kafka (spec §7)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

import orjson

from .events import AgentEvent, ChatEvent, InvalidEvent, UnknownEvent, decode_event
from .explain import Breakdown, explain
from .rules import DEFAULT_CONFIG, FoldConfig, Projector
from .sessions import SessionFigures, history
from .view import Panel, view

__all__ = [
    "LineProblem",
    "ReplayResult",
    "breakdowns",
    "compare",
    "panels",
    "render",
    "replay_lines",
    "session_histories",
]


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
    evidence: bool = False,
    sessions: bool = False,
) -> ReplayResult:
    """Fold JSON-lines events in order, in batches; blank lines are skipped silently.

    Pass a previous ``result`` to continue folding into it; ``evidence`` keeps what
    :func:`breakdowns` needs, ``sessions`` what :func:`session_histories` needs.
    """
    if result is None:
        projector = Projector(
            config, evidence={} if evidence else None, sessions={} if sessions else None
        )
        result = ReplayResult(projector)
    fold = result.projector.apply_all
    latest = result.latest_at
    batch: list[AgentEvent | ChatEvent] = []
    for number, line in enumerate(lines, start=1):
        if not line or line.isspace():  # blank; isspace stops at the first other byte
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


def breakdowns(result: ReplayResult, at: int | None = None) -> dict[str, Breakdown]:
    """Every agent's breakdown at ``at`` (default: the latest event time), by agent id.

    The result must come from ``replay_lines(..., evidence=True)``.
    """
    now = at if at is not None else result.latest_at
    evidence = result.projector.evidence
    if evidence is None:
        raise ValueError("breakdowns need a replay folded with evidence=True")
    if now is None:
        return {}
    agents = result.projector.agents
    return {
        agent_id: explain(agents[agent_id], evidence.get(agent_id, ()), now)
        for agent_id in sorted(agents)
    }


def session_histories(
    result: ReplayResult, at: int | None = None
) -> dict[str, list[SessionFigures]]:
    """Every agent's sessions at ``at`` (default: the latest event time), by agent id.

    The result must come from ``replay_lines(..., sessions=True)``.
    """
    now = at if at is not None else result.latest_at
    projector = result.projector
    if projector.sessions is None:
        raise ValueError("session histories need a replay folded with sessions=True")
    if now is None:
        return {}
    gap = projector.config.offline_gap
    return {
        agent_id: history(agent, projector.sessions.get(agent_id, {}).values(), now, gap)
        for agent_id, agent in sorted(projector.agents.items())
    }


def compare(first: ReplayResult, second: ReplayResult, at: int | None = None) -> dict[str, object]:
    """The panel fields that differ between two replays of one input (spec §11).

    ``{"changed": {agent: {field: [first, second]}}, "summary": {...}}``, fields named by
    their path in the panel (``"chats.closed"``), evaluated at ``at`` (default: the
    latest event time).
    """
    now = at if at is not None else first.latest_at
    before, after = panels(first, now), panels(second, now)
    changed: dict[str, dict[str, list[object]]] = {}
    counts: dict[str, int] = {}
    for agent_id in sorted(before.keys() | after.keys()):
        old, new = _fields(before.get(agent_id, {})), _fields(after.get(agent_id, {}))
        differing = {
            name: [old.get(name), new.get(name)]
            for name in sorted(old.keys() | new.keys())
            if old.get(name) != new.get(name)
        }
        if differing:
            changed[agent_id] = differing
            for name in differing:
                counts[name] = counts.get(name, 0) + 1
    summary = {
        "agents": len(before.keys() | after.keys()),
        "changed_agents": len(changed),
        "fields": dict(sorted(counts.items())),
    }
    return {"changed": changed, "summary": summary}


def _fields(panel: object, prefix: str = "") -> dict[str, object]:
    """A panel's values by dotted path, without ``agent_id`` and ``as_of``."""
    flat: dict[str, object] = {}
    assert isinstance(panel, dict)
    for name, value in panel.items():
        if not prefix and name in ("agent_id", "as_of"):
            continue
        if isinstance(value, dict):
            flat.update(_fields(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def render(result: ReplayResult, at: int | None = None, show: str = "panels") -> bytes:
    """The replay output: ``{"agents": {...}}`` with keys sorted, and a newline: the
    panels, or (``show``) the ``"breakdowns"`` or the ``"sessions"``."""
    agents: Mapping[str, object]
    if show == "breakdowns":
        agents = breakdowns(result, at)
    elif show == "sessions":
        agents = session_histories(result, at)
    else:
        agents = panels(result, at)
    return orjson.dumps({"agents": agents}, option=orjson.OPT_SORT_KEYS) + b"\n"
