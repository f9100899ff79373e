"""Run the streaming worker: topology, HTTP view and logging, in one process."""

from __future__ import annotations

import faust

from .settings import Settings
from .topology import build_topology
from .web import install_web

__all__ = ["run_worker"]


def run_worker(settings: Settings) -> int:
    """Start the worker and block until it stops (SIGTERM/SIGINT); returns the exit code."""
    topology = build_topology(settings)
    install_web(topology)
    worker = faust.Worker(topology.app, loglevel=settings.log_level.upper(), redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 0
    return 0
