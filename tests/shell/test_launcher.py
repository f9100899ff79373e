"""The one worker launcher of tests, benchmarks and proofs: what it hands the process."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmarks.launcher import Worker, settings_from_env, worker_env

from streamstats.settings import Settings


def test_the_worker_environment_gives_back_the_settings() -> None:
    settings = Settings(
        auth="off",
        metrics_auth=True,
        store="memory",
        data_dir=Path("/somewhere/data"),
        offline_gap_hours=1.5,
        batch_size=1,
        web_port=7001,
    )
    assert Settings.from_env(worker_env(settings)) == settings


def test_settings_from_env_sets_values_over_the_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STREAMSTATS_BATCH_SIZE", "7")
    monkeypatch.setenv("STREAMSTATS_STORE", "rocksdb")
    settings = settings_from_env(auth="off", store="memory", session_timeout_s=10)
    assert (settings.batch_size, settings.store, settings.session_timeout_s) == (7, "memory", 10.0)


def test_the_data_dir_and_log_live_in_the_workers_folder(tmp_path: Path) -> None:
    worker = Worker(Settings(auth="off", web_port=7002), tmp_path / "w1")
    assert worker.data_dir == worker.settings.data_dir == tmp_path / "w1" / "data"
    assert worker.log_path == tmp_path / "w1" / "worker.log"
    assert (worker.name, worker.url) == ("w1", "http://127.0.0.1:7002")


def test_a_worker_that_exits_at_start_is_reported_with_its_log(tmp_path: Path) -> None:
    worker = Worker(Settings(auth="off", offline_gap_hours=-1.0), tmp_path / "bad")
    worker.start()
    with pytest.raises(RuntimeError, match=r"worker bad exited \(2\)") as raised:
        worker.wait_ready(timeout=60)
    assert "STREAMSTATS_OFFLINE_GAP_HOURS='-1.0' is not a positive" in str(raised.value)
    assert not worker.alive()
    worker.stop()
    worker.kill()
    assert "is not a positive" in worker.log_tail(1)
