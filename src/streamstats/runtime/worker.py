"""The worker: its parts wired together (the composition root), and how it runs.

:func:`build_worker` declares the Faust app (``tables.py``), makes the fold loop
(``folding.py``), the panel publisher and feed (``panels.py``) and the status index
(``status_index.py``), and registers them with Faust: the intake or, with batch size 1,
two plain agents; a timer for the panels; a task following the panels topic.
:class:`Worker` is what the HTTP view (``streamstats.web``) reads.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any

import faust
from faust.exceptions import ConsistencyError

from ..collector import tune_garbage_collector
from ..metrics import Metrics
from ..settings import Settings
from ..streaming.stages import agent_stage, chat_stage
from ..web.app import install_web
from .console import Console, configure_logging
from .folding import FetchFolder, StageTable
from .intake import Intake
from .panels import PanelFeed, PanelPublisher
from .seam import kafka_producer, partition_store
from .status_index import StatusIndex
from .stores import PartitionStore
from .tables import FaustParts, Placement, define

__all__ = ["Worker", "build_worker", "run_worker", "tables_ahead_advice"]


@dataclass(slots=True)
class Worker:
    """A worker's parts: the Faust app, the fold loop, the panels and the status index."""

    settings: Settings
    metrics: Metrics
    parts: FaustParts
    placement: Placement
    folder: FetchFolder
    panels: PanelPublisher
    feed: PanelFeed
    """Panels read back from the panels topic, for the SSE streams."""
    statuses: StatusIndex

    @property
    def app(self) -> faust.App:
        """The Faust app."""
        return self.parts.app

    @property
    def agents(self) -> Any:
        """The agents table."""
        return self.parts.agents

    @property
    def status_topic(self) -> Any:
        """The status topic, which ``POST /agents/{id}/status`` publishes to."""
        return self.parts.status_topic

    @property
    def agent_store(self) -> PartitionStore:
        """The agents table's records by key and partition."""
        return self.placement.agent_store

    @property
    def last_event_at(self) -> float | None:
        """Latest event ``at`` (epoch seconds) this worker applied."""
        return self.folder.counter.last_event_at

    def ready(self) -> bool:
        """Whether the worker can answer (tables recovered, no rebalance, not stopping)."""
        return self.placement.ready()

    def active_partitions(self) -> frozenset[int]:
        """The agents table's partitions this worker holds as active."""
        return self.placement.active_partitions()

    def agent_partition(self, key: bytes) -> int:
        """The partition of an agent's records."""
        return self.placement.agent_partition(key)

    def stored_agent(self, key: bytes) -> bytes | None:
        """The agent record stored here, if this worker holds its partition."""
        return self.placement.stored_agent(key)

    def stored_evidence(self, key: bytes) -> list[bytes]:
        """The agent's evidence items stored here, in order."""
        return self.placement.stored_evidence(key)

    def stored_sessions(self, key: bytes) -> list[list[int]]:
        """The summaries of the agent's ended sessions stored here, oldest first."""
        return self.placement.stored_sessions(key)

    async def status_index(self) -> dict[bytes, tuple[int, str]]:
        """Partition and current status of every agent in the table."""
        return await self.statuses.current()

    async def count_statuses(self, partitions: frozenset[int]) -> Counter[str]:
        """Agents of ``partitions`` by current status."""
        return await self.statuses.count(partitions)

    async def follow_panels(self) -> None:
        """Read the panels topic into the feed, for as long as the worker runs."""
        await self.feed.follow(self.settings.bootstrap_servers, self.settings.panels_topic)


def build_worker(settings: Settings) -> Worker:
    """Make every part of a worker for ``settings`` and register them with Faust."""
    parts = define(settings)
    app, partitions = parts.app, settings.partitions
    placement = Placement(app, parts.agents, partitions)
    statuses = StatusIndex(app, parts.agents, placement)
    panels = PanelPublisher(placement, lambda: kafka_producer(app), settings.panels_topic)
    chats = StageTable(chat_stage(), parts.chats, partition_store(parts.chats))
    agents = StageTable(
        agent_stage(
            partitions, settings.changes_topic, settings.fold_config, settings.session_retention
        ),
        parts.agents,
        placement.agent_store,
        (statuses.written, panels.written),
    )
    metrics = Metrics()
    metrics.watch_store_memory(parts.store_memory.memory)
    console = Console(settings, metrics, placement)
    folder = FetchFolder(app, settings, metrics, placement, chats, agents, console.fetched)
    worker = Worker(settings, metrics, parts, placement, folder, panels, PanelFeed(), statuses)
    _register(worker, console)
    return worker


def _register(worker: Worker, console: Console) -> None:
    """Hand the worker's loops and its console lines to Faust."""
    app, settings, parts, folder = worker.app, worker.settings, worker.parts, worker.folder
    app.on_partitions_assigned.connect(folder.keep_watching)  # type: ignore[arg-type]
    if settings.batch_size > 1:
        topics = (settings.status_topic, settings.chat_topic, settings.changes_topic)
        parts.transport.intake = Intake(frozenset(topics), folder.fold_fetch)
        for topic in (parts.chat_topic, parts.agent_inputs):
            app.topics.add(topic)
    else:
        app.agent(parts.chat_topic, name="fold_chats", concurrency=1)(folder.fold_chat_stream)
        app.agent(parts.agent_inputs, name="fold_agents", concurrency=1)(folder.fold_agent_stream)
    app.timer(interval=settings.panel_interval_ms / 1000, name="publish_panels")(
        worker.panels.publish
    )
    app.task(worker.follow_panels)
    app.on_partitions_assigned.connect(console.assigned)  # type: ignore[arg-type]
    app.on_partitions_revoked.connect(console.revoked)  # type: ignore[arg-type]
    app.timer(interval=0.25, name="console_ready")(console.watch_readiness)
    app.timer(interval=60.0, name="console_minute")(console.minute)


def run_worker(settings: Settings) -> int:
    """Start the worker and block until it stops (SIGTERM/SIGINT); returns the exit code."""
    configure_logging(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    worker = build_worker(settings)
    install_web(worker)
    runner = faust.Worker(
        worker.app,
        loglevel=settings.log_level.upper(),
        redirect_stdouts=False,
        override_logging=False,  # configure_logging did it
        quiet=settings.log_level.lower() != "debug",  # Faust's start-up banner
    )
    if runner.quiet:
        runner.spinner = None  # its terminal codes would end up in the log
    tune_garbage_collector()
    try:
        runner.execute_from_commandline()
    except SystemExit as stop:
        if isinstance(runner.crash_reason, ConsistencyError):
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
