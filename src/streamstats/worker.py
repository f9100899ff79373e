"""Run the streaming worker: topology, HTTP view and logging, in one process."""

from __future__ import annotations

import logging

import faust

from .settings import Settings
from .topology import build_topology
from .web import install_web

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
    try:
        worker.execute_from_commandline()
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 0
    return 0
