"""Fold benchmark: decode + validate + fold of simulated events, against bare orjson parsing.

Run with ``make bench-fold`` (or ``python benchmarks/bench_fold.py --events N``).
Every figure is the best of ``--repeat`` runs over the same in-memory lines, so
the ratio to the baseline measured in the same run is what to compare.
"""

from __future__ import annotations

import argparse
import gc
import platform
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from itertools import islice

import orjson

from streamstats.events import decode_event
from streamstats.replay import replay_lines
from streamstats.simulate import simulate_lines

START = datetime(2026, 11, 25, 6, tzinfo=UTC)


def simulated(count: int, seed: int) -> list[bytes]:
    """At least ``count`` lines: about 1M events come from 4,300 agents over 24 h."""
    agents = max(5, count // 230)
    return list(islice(simulate_lines(seed=seed, agents=agents, hours=24, start=START), count))


def best_rate(
    work: Callable[[Sequence[bytes]], object], lines: Sequence[bytes], repeat: int
) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        work(lines)
        best = min(best, time.perf_counter() - started)
    return len(lines) / best


def parse_only(lines: Sequence[bytes]) -> None:
    loads = orjson.loads
    for line in lines:
        loads(line)


def decode_only(lines: Sequence[bytes]) -> None:
    for line in lines:
        decode_event(line)


def decode_and_fold(lines: Sequence[bytes]) -> None:
    replay_lines(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    lines = simulated(args.events, args.seed)
    print(f"{len(lines):,} simulated events, Python {platform.python_version()}, one core")
    baseline = best_rate(parse_only, lines, args.repeat)
    rows = [
        ("orjson.loads only (baseline)", baseline),
        ("decode + validate (pydantic)", best_rate(decode_only, lines, args.repeat)),
        ("decode + validate + fold", best_rate(decode_and_fold, lines, args.repeat)),
    ]
    for name, rate in rows:
        print(f"{name:<32} {rate:>12,.0f} events/s   {baseline / rate:5.2f}x baseline time")


if __name__ == "__main__":
    main()
