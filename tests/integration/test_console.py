"""The worker's console: its own few lines, Faust's tables only when debugging, JSON lines."""

from __future__ import annotations

import time

import orjson
import pytest
from benchmarks.launcher import Worker

from .conftest import Deployment
from .test_stream import simulated, wait_until_replayed

pytestmark = pytest.mark.integration

FAUST_TABLES = ("┌", "│", "[^Worker]", "Starting...", "\x1b[")


def wait_for_line(worker: Worker, text: str, timeout: float = 10.0) -> None:
    """Wait until the worker's log holds ``text``."""
    deadline = time.monotonic() + timeout
    while text not in worker.log_path.read_text():
        assert time.monotonic() < deadline, f"no {text!r} in {worker.log_tail()}"
        time.sleep(0.1)


def test_the_console_says_ready_and_the_assignment_and_not_faust_s_tables(
    deployment: Deployment,
) -> None:
    lines = simulated(seed=31, agents=4, hours=4)
    worker = deployment.worker().start()
    worker.wait_ready()
    deployment.publish(lines)
    wait_until_replayed(worker, lines)
    wait_for_line(worker, "streamstats: ready: http://127.0.0.1:")
    worker.stop()
    log = worker.log_path.read_text()
    assert "streamstats: ready: http://127.0.0.1:" in log
    assert "streamstats: partitions assigned: " in log
    assert deployment.settings.status_topic in log
    for marker in FAUST_TABLES:
        assert marker not in log, marker
    assert len(log.splitlines()) < 40, log


def test_json_logs_are_one_object_a_line(deployment: Deployment) -> None:
    worker = deployment.worker(log_format="json").start()
    worker.wait_ready()
    wait_for_line(worker, '"message":"ready: ')
    worker.stop()
    records = [orjson.loads(line) for line in worker.log_path.read_text().splitlines() if line]
    assert records
    assert {"at", "level", "logger", "message"} <= set(records[0])
    assert any(record["message"].startswith("ready: ") for record in records)
