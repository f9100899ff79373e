"""The benchmark scripts, run at tiny sizes so that they keep working between measurements.

Rates at these sizes mean nothing; the tests check that every figure is measured and
printed, with the script exiting cleanly.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from benchmarks.soak import parse_metrics
from prometheus_client import generate_latest

from streamstats.metrics import Metrics

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RATE = re.compile(r"^(\S.*?)\s+([\d,]+) events/s", re.MULTILINE)


def run_script(name: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``benchmarks/<name>`` as the README says; its standard output."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / name), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert done.returncode == 0, f"{name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def rates(output: str) -> dict[str, int]:
    """The ``<what>  <n> events/s`` lines of a script's output."""
    return {what.strip(): int(rate.replace(",", "")) for what, rate in RATE.findall(output)}


def test_bench_fold_measures_every_row() -> None:
    output = run_script("bench_fold.py", "--events", "3000", "--repeat", "1")
    measured = rates(output)
    assert set(measured) == {
        "orjson.loads only (baseline)",
        "decode + validate (pydantic)",
        "decode + validate + fold",
        "the worker's stages, no Kafka",
    }, output
    assert all(rate > 0 for rate in measured.values()), output


def test_bench_e2e_measures_a_worker_the_baseline_two_workers_and_freshness(
    bootstrap_servers: str,
) -> None:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers}
    # A worker folds up to ~15,000 events before it answers /readyz, left out of its rate:
    # the input must outlast that for the batched worker to be measured at all.
    output = run_script(
        "bench_e2e.py",
        *("--events", "60000", "--naive-events", "300", "--probes", "3", "--scale-out", "2"),
        env=env,
    )
    measured = rates(output)
    assert re.search(r"; bare orjson.loads at [\d.]+ M lines/s on one core$", output, re.M), output
    assert ", rocksdb store, " in output, output
    assert any(what.startswith("worker (fetches of") for what in measured), output
    assert "naive worker (table per event)" in measured, output
    assert all(rate > 0 for rate in measured.values()), output
    assert re.search(r"^ratio\s+[\d.]+x$", output, re.MULTILINE), output
    # At this size the first worker may fold everything before the second is ready.
    assert "2 workers together" in measured or re.search(
        r"^2 workers together\s+not measured: .* run with more --events$", output, re.MULTILINE
    ), output
    assert re.search(
        r"^freshness at 2,000 events/s over 3 probes: p50 [\d.]+ ms, p99 [\d.]+ ms", output, re.M
    ), output


def test_the_soak_reads_counters_delays_and_store_memory_from_one_scrape() -> None:
    metrics = Metrics()
    metrics.events_applied.labels("chat.closed").inc(3)
    metrics.events_applied.labels("agent.status_changed").inc(4)
    metrics.processing_delay.observe_events("chat", [1_000_000, 1_950_000], 2.0)
    metrics.watch_store_memory(lambda: {"cache": 3 * 2**20, "memtables": 2**19})
    scrape = parse_metrics(generate_latest(metrics.registry).decode())
    assert scrape.counters["streamstats_events_applied_total"] == 7.0
    assert scrape.delay["chat"][math.inf] == 2.0
    assert scrape.delay["chat"][0.1] == 1.0
    assert scrape.store_mib == {"cache": 3.0, "memtables": 0.5}
