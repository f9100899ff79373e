"""The Faust topology: topics, tables, and how input reaches the stages.

Each fetch of input (``intake.py``; the consumer that makes it is in ``seam.py``)
is folded in one pass: the stages (``stages.py``) say what to do with each message,
and this module does the I/O: one table write per key per fetch, sends, dead letters
and metrics. With ``batch_size=1`` plain Faust agents do the same event by event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final, NamedTuple

import faust
import orjson
from faust.types import TP, StreamT

from ..core.view import view
from ..metrics import Metrics
from ..settings import Settings
from ..streaming.batch import (
    BatchTally,
    DeadLetter,
    InputRecord,
    Stage,
    Write,
    agent_stage,
    changes_by_agent,
    chat_stage,
    partition_for,
)
from ..streaming.offsets import OffsetWatch
from ..streaming.records import (
    AgentRecord,
    SourcedChange,
    decode_agent_status,
    encode_changes,
)
from .intake import Fetch, Intake
from .kafka import read_offsets
from .output import Delivery, OutputBatches
from .panels import PanelFeed
from .seam import IntakeTransport, kafka_producer, partition_store
from .stores import PartitionStore

__all__ = ["Topology", "build_topology"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Topology:
    """The Faust app and the parts of it the web view and the CLI need."""

    app: faust.App
    settings: Settings
    metrics: Metrics
    agents: Any
    """The agents table: agent id bytes → encoded :class:`AgentRecord`."""
    status_topic: Any
    agent_store: PartitionStore
    """The agents table's records by key and partition."""
    feed: PanelFeed = field(default_factory=PanelFeed)
    """Panels read back from the panels topic, for the SSE streams."""
    dirty: dict[bytes, tuple[AgentRecord, int]] = field(default_factory=dict)
    """Agents written since their panel was last published: the record written last
    and its partition."""
    last_event_at: float | None = None
    """Latest event ``at`` (epoch seconds) this worker applied."""
    statuses: dict[bytes, tuple[int, str]] = field(default_factory=dict)
    """Partition and current status of each agent in the table, kept by the agents fold
    so the gauges need not decode every record per scrape."""
    statuses_generation: int = -1
    """The rebalance ``statuses`` was last rebuilt after."""
    rebuilding: dict[bytes, tuple[int, str]] | None = None
    """While ``statuses`` is rebuilt: the agents the fold wrote meanwhile."""
    rebuild_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    agent_partitions: dict[bytes, int] = field(default_factory=dict)

    def agent_partition(self, key: bytes) -> int:
        """The partition of an agent's records on the agent-keyed topics (cached: a
        worker meets the same agents again and again)."""
        found = self.agent_partitions.get(key)
        if found is None:
            found = self.agent_partitions[key] = partition_for(key, self.settings.partitions)
        return found

    def active_partitions(self) -> set[int]:
        """The partitions of the agents table this worker holds as active (not standby)."""
        changelog = self.agents.changelog_topic.get_topic_name()
        return {
            tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == changelog
        }

    def stored_agent(self, key: bytes) -> bytes | None:
        """The agent record stored under ``key`` here, if this worker holds its partition."""
        return self.agent_store.get(key, self.agent_partition(key))

    def ready(self) -> bool:
        """True once table recovery is complete, no rebalance is under way and the
        worker is not stopping (its tables close as it stops)."""
        app = self.app
        return (
            bool(app.tables.actives_ready)
            and not app.rebalancing
            and not app.in_recovery
            and not app.should_stop
        )

    def agent_written(self, key: bytes, record: AgentRecord, partition: int) -> None:
        """Note an agent the fold wrote: its panel is due, its status may have changed."""
        self.dirty[key] = (record, partition)
        entry = (partition, record.agent.status or "unknown")
        self.statuses[key] = entry
        if self.rebuilding is not None:
            self.rebuilding[key] = entry

    async def status_index(self) -> dict[bytes, tuple[int, str]]:
        """Partition and current status of every agent in the table.

        After a rebalance the table holds partitions the fold has not written since,
        so the index is rebuilt once from the table, in slices that let the fold and
        other requests run (100,000 agents take about a second). The fold keeps it up
        to date: copy it before awaiting anything while going through it.
        """
        async with self.rebuild_lock:
            generation = self.app.rebalancing_count
            if self.statuses_generation != generation:
                rebuilt: dict[bytes, tuple[int, str]] = {}
                # Written while the rebuild reads the table: newer than what it read.
                written: dict[bytes, tuple[int, str]] = {}
                self.rebuilding = written
                try:
                    for number, (key, stored) in enumerate(list(self.agents.items()), 1):
                        status = decode_agent_status(stored) or "unknown"
                        rebuilt[key] = (self.agent_partition(key), status)
                        if number % STATUSES_PER_SLICE == 0:
                            await asyncio.sleep(0)
                finally:
                    self.rebuilding = None
                if generation == self.app.rebalancing_count:
                    self.statuses = rebuilt | written
                    self.statuses_generation = generation
        return self.statuses

    async def count_statuses(self, partitions: set[int]) -> Counter[str]:
        """Agents of ``partitions`` by current status."""
        index = await self.status_index()
        return Counter(status for partition, status in index.values() if partition in partitions)


STATUSES_PER_SLICE: Final = 5000
"""Agent records the status index rebuild decodes between two yields to the event loop."""


ROCKSDB_OPTIONS: Final = {
    # Faust's defaults give every table partition its own 3 × 64 MiB of write buffers and
    # a 2 GiB block cache: a worker's memory would grow towards gigabytes. These bound
    # each partition's database to ~24 MiB; the records are small and recently used.
    "write_buffer_size": 4 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "target_file_size_base": 16 * 1024 * 1024,
    "block_cache_size": 16 * 1024 * 1024,
}
"""Options of each table partition's RocksDB database (ignored by the memory store)."""


class Incoming(NamedTuple):
    """An input message read back from Kafka after the consumer skipped it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class StageTable(NamedTuple):
    """A stage, its table and who is told of the records it writes."""

    stage: Stage[Any]
    table: Any
    store: PartitionStore
    written: Callable[[bytes, Any, int], None]
    """Told of every record written: key, record, partition."""


def _ignore(key: bytes, record: Any, partition: int) -> None:
    pass


def _faust_app(settings: Settings) -> faust.App:
    brokers = [f"kafka://{server.strip()}" for server in settings.bootstrap_servers.split(",")]
    return faust.App(
        settings.app_id,
        broker=brokers,
        store="rocksdb://" if settings.store == "rocksdb" else "memory://",
        datadir=str(settings.data_dir),
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_bind=settings.web_bind,
        topic_partitions=settings.partitions,
        topic_disable_leader=True,
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        stream_buffer_maxsize=16384,
        # A fetch is folded as one batch: up to this many messages when behind.
        broker_max_poll_records=settings.batch_size if settings.batch_size > 1 else None,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),
        web_tables_enabled=False,
        producer_acks=-1,
        cython_optimizations=True,
        # Changelog records and agent changes go out in bigger, fewer produce requests.
        producer_linger_ms=5,
        producer_max_batch_size=1_000_000,
    )


def build_topology(settings: Settings) -> Topology:
    """Define the app, its topics, tables and agents for ``settings``."""
    app = _faust_app(settings)
    # Before anything asks the app for its transport: the consumer it makes hands input
    # over in whole fetches once the intake is set below.
    transport = IntakeTransport(app.conf.broker_consumer, app)
    app.transport = transport
    metrics = Metrics()
    partitions = settings.partitions

    def raw_topic(*names: str) -> Any:
        # Raw serializers: the stages decode the bytes themselves, so a message that is
        # not JSON reaches them (and the dead-letter topic) instead of crashing the agent.
        return app.topic(
            *names,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=partitions,
        )

    status_topic = raw_topic(settings.status_topic)
    chat_topic = raw_topic(settings.chat_topic)
    agent_inputs = raw_topic(settings.status_topic, settings.changes_topic)
    chats = app.Table(
        "chats", key_type=bytes, value_type=bytes, partitions=partitions, options=ROCKSDB_OPTIONS
    )
    agents = app.Table(
        "agents", key_type=bytes, value_type=bytes, partitions=partitions, options=ROCKSDB_OPTIONS
    )
    chat_store, agent_store = partition_store(chats), partition_store(agents)
    topology = Topology(app, settings, metrics, agents, status_topic, agent_store)

    agent_partition = topology.agent_partition

    def producer() -> Any:
        # The aiokafka producer behind Faust's: batches go to it directly (output.py).
        return kafka_producer(app)

    def dead_letter(message: InputRecord, problem: DeadLetter, outputs: OutputBatches) -> None:
        metrics.events_invalid.labels(problem.reason).inc()
        log.warning(
            "dead letter %s/%s@%s: %s: %s",
            message.topic,
            message.partition,
            message.offset,
            problem.reason,
            problem.detail,
        )
        # Same partition number as the source: every topic has the same partition count.
        outputs.add(
            settings.dead_letter_topic,
            message.partition,
            message.key,
            message.value or b"",
            [
                ("streamstats.reason", problem.reason.encode()),
                ("streamstats.detail", problem.detail.encode()),
                ("streamstats.source.topic", message.topic.encode()),
                ("streamstats.source.partition", str(message.partition).encode()),
                ("streamstats.source.offset", str(message.offset).encode()),
            ],
        )

    applied_counters: dict[str, Any] = {}
    delays = {stage: metrics.processing_delay.labels(stage) for stage in ("chat", "agent")}

    def count(tally: BatchTally, stage: str, now: float) -> None:
        """Add what a batch did to the metrics."""
        if tally.replayed:
            metrics.events_replayed.labels(stage).inc(tally.replayed)
        if tally.unknown:
            metrics.events_unknown.inc(tally.unknown)
        if tally.late:
            metrics.late_status_events.inc(tally.late)
        if tally.changes_received:
            metrics.changes_received.inc(tally.changes_received)
        for applied, times in tally.applied.items():
            counter = applied_counters.get(applied)
            if counter is None:
                counter = applied_counters[applied] = metrics.events_applied.labels(applied)
            counter.inc(times)
        if tally.event_ats:
            observe = delays[stage].observe
            for at in tally.event_ats:
                observe(max(0.0, now - at / 1_000_000))
            latest = max(tally.event_ats) / 1_000_000
            if topology.last_event_at is None or latest > topology.last_event_at:
                topology.last_event_at = latest

    def add_changes(changes: list[SourcedChange], outputs: OutputBatches) -> None:
        """Queue changes for the agent stage, one message per agent."""
        topic = settings.changes_topic
        for agent_id, items in changes_by_agent(changes).items():
            key = agent_id.encode()
            outputs.add(topic, agent_partition(key), key, encode_changes(items))
        metrics.changes_sent.inc(len(changes))

    chat_table = StageTable(chat_stage(partitions), chats, chat_store, _ignore)
    agent_table = StageTable(
        agent_stage(partitions, settings.changes_topic, settings.fold_config),
        agents,
        agent_store,
        topology.agent_written,
    )

    watch = OffsetWatch()

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def keep_watching(sender: Any, assigned: set[Any], **kwargs: Any) -> None:
        watch.keep_only({(tp.topic, tp.partition) for tp in assigned})

    async def read_back(topic: str, partition: int, hole: tuple[int, int]) -> list[Incoming]:
        """The messages at offsets ``[start, end)`` the consumer skipped, from Kafka."""
        found = await read_offsets(settings.bootstrap_servers, topic, partition, *hole)
        log.warning(
            "%s/%s: offsets %s-%s were skipped by the consumer; read %d back from Kafka",
            topic,
            partition,
            hole[0],
            hole[1] - 1,
            len(found),
        )
        metrics.messages_read_back.inc(len(found))
        return [Incoming(topic, partition, offset, key, value) for offset, key, value in found]

    def fold_batch(
        runs: list[list[InputRecord]], stage: StageTable, now: float, outputs: OutputBatches
    ) -> list[Write[Any]]:
        """Fold runs of consecutive messages (one per partition) of one stage; queue the
        dead letters and agent changes in ``outputs``; the store writes it asks for."""
        result, writes = stage.stage.run(stage.store, runs)
        for message, problem in result.dead_letters:
            dead_letter(message, problem, outputs)
        count(result.tally, stage.stage.name, now)
        if result.sends:
            add_changes(result.sends, outputs)
        return writes

    async def fold_one_by_one(stream: StreamT[bytes], stage: StageTable) -> None:
        """The plain way: read, fold and write the table for every single event."""
        async for event in stream.events():
            message = event.message
            run: list[InputRecord] = [message]
            hole = watch.skipped(message.topic, message.partition, message.offset)
            if hole is not None:
                run = [*await read_back(message.topic, message.partition, hole), message]
            outputs = OutputBatches()
            for incoming in run:
                for key, value, record, partition in fold_batch(
                    [[incoming]], stage, time.time(), outputs
                ):
                    stage.table[key] = value
                    stage.written(key, record, partition)
            if outputs.records:
                await outputs.send(producer())

    tables_by_changelog = {
        table.changelog_topic.get_topic_name(): table for table in (chats, agents)
    }

    def fold_runs(
        runs: list[list[InputRecord]], stage: StageTable, now: float, outputs: OutputBatches
    ) -> list[Write[Any]]:
        """Fold a fetch's runs of one stage; queue its changelog records, agent changes and
        dead letters in ``outputs`` and return the store writes due once they are sent."""
        changelog = stage.table.changelog_topic.get_topic_name()
        writes = fold_batch(runs, stage, now, outputs)
        for key, value, _, partition in writes:
            outputs.add(changelog, partition, key, value)
        return writes

    def store_writes(stage: StageTable, writes: list[tuple[bytes, bytes, Any, int]]) -> None:
        stage.store.put_all((key, value, partition) for key, value, _, partition in writes)
        written = stage.written
        for key, _, record, partition in writes:
            written(key, record, partition)

    def settle(
        fetch: Fetch,
        done: dict[TP, tuple[int, int]],
        deliveries: list[Delivery],
        delivered: asyncio.Future[list[Any]],
    ) -> None:
        """Once a fetch's output is in Kafka: note the changelog offsets, ack the input."""
        if delivered.cancelled():
            return
        error = delivered.exception()
        if error is not None:
            log.error(
                "could not write to Kafka (%r); stopping, so that the input is folded again "
                "from the last committed offsets when the worker restarts",
                error,
            )
            crashing.add(asyncio.ensure_future(app.crash(error)))
            return
        actives = app.assignor.assigned_actives()
        persisted: dict[TP, int] = {}
        for delivery in deliveries:
            tp = TP(delivery.topic, delivery.partition)
            if delivery.topic in tables_by_changelog and tp in actives:
                persisted[tp] = max(delivery.last_offset(), persisted.get(tp, -1))
        if not app.rebalancing:
            # Where recovery resumes reading the changelog into this worker's store.
            for tp, offset in persisted.items():
                store: Any = tables_by_changelog[tp.topic].data
                store.set_persisted_offset(tp, offset)
        consumer: Any = app.consumer  # an IntakeConsumer
        consumer.ack_fetch(fetch, done)

    crashing: set[asyncio.Future[Any]] = set()

    async def fold_fetch(fetch: Fetch) -> None:
        """One fetch: chat events first (their changes go out), then the agent inputs;
        then everything they produced goes to Kafka and the stores are written.

        The input is acked once everything it produced is in Kafka; until then no
        offset past it is committed and a rebalance waits for it.
        """
        chat_runs: list[list[InputRecord]] = []
        agent_runs: list[list[InputRecord]] = []
        done: dict[TP, tuple[int, int]] = {}
        for tp, run in fetch.records.items():
            first = run[0].offset
            hole = watch.run(tp.topic, tp.partition, first, run[-1].offset)
            if hole is not None:
                run = [*await read_back(tp.topic, tp.partition, hole), *run]
                first = hole[0]
            done[tp] = (first, run[-1].offset)
            (chat_runs if tp.topic == settings.chat_topic else agent_runs).append(run)
        now = time.time()
        outputs = OutputBatches()
        chat_writes = fold_runs(chat_runs, chat_table, now, outputs) if chat_runs else []
        agent_writes = fold_runs(agent_runs, agent_table, now, outputs) if agent_runs else []
        # Changelog first: if this is cut short, the store does not hold a record the
        # changelog lacks, and the unacked input is folded again.
        deliveries = await outputs.send(producer())
        store_writes(chat_table, chat_writes)
        store_writes(agent_table, agent_writes)
        delivered = asyncio.gather(*(delivery.future for delivery in deliveries))
        delivered.add_done_callback(partial(settle, fetch, done, deliveries))

    if settings.batch_size > 1:
        transport.intake = Intake(
            frozenset((settings.status_topic, settings.chat_topic, settings.changes_topic)),
            fold_fetch,
        )
        for topic in (chat_topic, agent_inputs):
            app.topics.add(topic)
    else:

        @app.agent(chat_topic, concurrency=1)
        async def fold_chats(stream: StreamT[bytes]) -> None:
            await fold_one_by_one(stream, chat_table)

        @app.agent(agent_inputs, concurrency=1)
        async def fold_agents(stream: StreamT[bytes]) -> None:
            await fold_one_by_one(stream, agent_table)

    @app.timer(interval=settings.panel_interval_ms / 1000)  # type: ignore[untyped-decorator]
    async def publish_panels() -> None:
        """Publish the panel of every agent written since the last tick, once each."""
        if not topology.dirty:
            return
        written, topology.dirty = topology.dirty, {}
        now = time.time_ns() // 1000
        # An agent whose partition moved away since is the new owner's to publish.
        mine = topology.active_partitions()
        outputs = OutputBatches()
        for key, (record, partition) in written.items():
            if partition in mine:
                panel = orjson.dumps(view(record.agent, now))
                outputs.add(settings.panels_topic, partition, key, panel)
        await outputs.send(producer())

    @app.task  # type: ignore[untyped-decorator]
    async def follow_panels() -> None:
        await topology.feed.follow(settings.bootstrap_servers, settings.panels_topic)

    return topology
