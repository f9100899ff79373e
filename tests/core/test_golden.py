"""Replay of a fixed simulated day and a half prints, byte for byte, what it printed before
the batch fold (the files in ``golden/`` were written by the per-event fold of a3d3650)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamstats.core.instant import parse_instant
from streamstats.core.replay import render, replay_lines
from streamstats.core.rules import FoldConfig
from streamstats.tools.simulate import simulate_lines

from ..factories import DAY0

GOLDEN = Path(__file__).parent / "golden"
MINUTE = 60_000_000


@pytest.fixture(scope="module")
def day() -> list[bytes]:
    lines = list(simulate_lines(seed=11, agents=40, hours=36, start=DAY0))
    assert len(lines) == 17_840
    return lines


@pytest.mark.parametrize(
    ("golden", "gap_minutes", "at"),
    [
        ("replay-latest.json", 360, None),
        ("replay-at-13h.json", 360, "2026-11-25T13:00:00Z"),
        ("replay-gap-3m.json", 3, None),
    ],
)
def test_replay_prints_what_it_printed_before(
    day: list[bytes], golden: str, gap_minutes: int, at: str | None
) -> None:
    result = replay_lines(day, FoldConfig(offline_gap=gap_minutes * MINUTE))
    printed = render(result, None if at is None else parse_instant(at))
    assert printed == (GOLDEN / golden).read_bytes()
