"""Run the streaming worker: topology, HTTP view and logging, in one process."""

from __future__ import annotations

import logging
import sys

import faust
from faust.exceptions import ConsistencyError

from ..collector import tune_garbage_collector
from ..settings import Settings
from ..web.app import install_web
from .topology import build_topology

__all__ = ["run_worker"]


def run_worker(settings: Settings) -> int:
    """Start the worker and block until it stops (SIGTERM/SIGINT); returns the exit code."""
    # Debug records of the Kafka client cost ~10% of the worker's time even when no
    # handler prints them; build them only when debugging.
    level = logging.getLevelName(settings.log_level.upper())
    if level != logging.DEBUG:
        for name in ("aiokafka", "faust", "mode"):
            logging.getLogger(name).setLevel(
                max(logging.INFO, level if isinstance(level, int) else 0)
            )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    topology = build_topology(settings)
    install_web(topology)
    worker = faust.Worker(topology.app, loglevel=settings.log_level.upper(), redirect_stdouts=False)
    tune_garbage_collector()
    try:
        worker.execute_from_commandline()
    except SystemExit as stop:
        if isinstance(worker.crash_reason, ConsistencyError):
            print(tables_ahead_advice(settings), file=sys.stderr)
            return 2
        return stop.code if isinstance(stop.code, int) else 0
    return 0


def tables_ahead_advice(settings: Settings) -> str:
    """What to do when the worker's tables on disk are ahead of their changelog topics."""
    return (
        f"streamstats worker: the tables in {settings.data_dir} hold changelog offsets that "
        f"Kafka at {settings.bootstrap_servers} does not have: the topics of app "
        f"{settings.app_id!r} were deleted or the broker was reset since this worker last "
        f"ran. To rebuild from what Kafka holds, delete {settings.data_dir} and start "
        "again; to keep the old tables, point STREAMSTATS_BOOTSTRAP_SERVERS at the cluster "
        "they came from."
    )
