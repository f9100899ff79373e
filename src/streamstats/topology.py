"""The Faust topology: topics, tables, and how input reaches the stages.

Each fetch of input (``intake.py``) is folded in one pass: the stages
(``stages.py``) say what to do with each message, and this module does the I/O:
one table write per key per fetch, sends, dead letters and metrics. With
``batch_size=1`` plain Faust agents do the same event by event.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import faust
import orjson
from faust.streams import _current_event
from faust.types import TP, Message, StreamT

from .intake import Intake, IntakeTransport
from .kafka import read_offsets
from .metrics import Metrics
from .panels import PanelFeed
from .settings import Settings
from .stages import AgentStage, ChatStage, DeadLetter, OffsetWatch, Step, partition_for
from .state import (
    AgentRecord,
    ChatRecord,
    SourcedChange,
    decode_agent_record,
    decode_chat_record,
    encode_agent_record,
    encode_changes,
    encode_chat_record,
)
from .view import view

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
    feed: PanelFeed = field(default_factory=PanelFeed)
    """Panels read back from the panels topic, for the SSE streams."""
    dirty: set[bytes] = field(default_factory=set)
    """Agents written since their panel was last published."""
    last_event_at: float | None = None
    """Latest event ``at`` (epoch seconds) this worker applied."""
    statuses: dict[bytes, tuple[int, str]] = field(default_factory=dict)
    """Partition and current status of each agent in the table, kept by the agents fold
    so the gauges need not decode every record per scrape."""
    statuses_generation: int = -1
    """The rebalance ``statuses`` was last rebuilt after."""

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
        self.dirty.add(key)
        self.statuses[key] = (partition, record.agent.clock.status or "unknown")

    def count_statuses(self, partitions: set[int]) -> Counter[str]:
        """Agents of ``partitions`` by current status.

        After a rebalance the table holds partitions the fold has not written since,
        so the index is rebuilt once from the table.
        """
        if self.statuses_generation != self.app.rebalancing_count:
            count = self.settings.partitions
            self.statuses = {
                key: (
                    partition_for(key, count),
                    decode_agent_record(stored).agent.clock.status or "unknown",
                )
                for key, stored in list(self.agents.items())
            }
            self.statuses_generation = self.app.rebalancing_count
        return Counter(
            status for partition, status in self.statuses.values() if partition in partitions
        )


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
    """One input message, whether Faust delivered it or it was read back from a hole."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes

    @classmethod
    def of(cls, message: Message) -> Incoming:
        return cls(
            message.topic, message.partition, message.offset, message.key, message.value or b""
        )


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
    dead_letter_topic = raw_topic(settings.dead_letter_topic)
    agent_inputs = raw_topic(settings.status_topic, settings.changes_topic)
    chats = app.Table(
        "chats", key_type=bytes, value_type=bytes, partitions=partitions, options=ROCKSDB_OPTIONS
    )
    agents = app.Table(
        "agents", key_type=bytes, value_type=bytes, partitions=partitions, options=ROCKSDB_OPTIONS
    )
    topology = Topology(app, settings, metrics, agents, status_topic)

    chat_stage = ChatStage(partitions)
    agent_stage = AgentStage(partitions, settings.fold_config)

    async def dead_letter(message: Incoming, problem: DeadLetter) -> None:
        metrics.events_invalid.labels(problem.reason).inc()
        log.warning(
            "dead letter %s/%s@%s: %s: %s",
            message.topic,
            message.partition,
            message.offset,
            problem.reason,
            problem.detail,
        )
        await dead_letter_topic.send(
            key=message.key,
            value=message.value,
            headers=[
                ("streamstats.reason", problem.reason.encode()),
                ("streamstats.detail", problem.detail.encode()),
                ("streamstats.source.topic", message.topic.encode()),
                ("streamstats.source.partition", str(message.partition).encode()),
                ("streamstats.source.offset", str(message.offset).encode()),
            ],
        )

    def account(step: Step, stage: str) -> None:
        if step.replayed:
            metrics.events_replayed.labels(stage).inc()
        if step.unknown_type:
            metrics.events_unknown.inc()
        if step.late:
            metrics.late_status_events.inc()
        if step.applied_type is not None:
            metrics.events_applied.labels(step.applied_type).inc()
        if step.event_at is not None:
            at = step.event_at / 1_000_000
            metrics.processing_delay.labels(stage).observe(max(0.0, time.time() - at))
            if topology.last_event_at is None or at > topology.last_event_at:
                topology.last_event_at = at

    async def emit(message: Incoming, step: Step, stage: str) -> bool:
        """Send what a step sends; False when the message went to the dead letters."""
        if step.dead_letter is not None:
            await dead_letter(message, step.dead_letter)
            return False
        account(step, stage)
        return step.record is not None

    async def send_changes(changes: list[SourcedChange]) -> None:
        """Send changes to the agent stage, one message per agent."""
        by_agent: dict[str, list[SourcedChange]] = {}
        for sourced in changes:
            by_agent.setdefault(sourced[2].agent_id, []).append(sourced)
        # Straight to the Kafka producer: Faust's Topic.send costs ~150 µs a message. The
        # source offsets are committed only after a producer flush, so nothing is lost.
        send = app.producer.send
        for agent_id, items in by_agent.items():
            await send(
                settings.changes_topic,
                key=agent_id.encode(),
                value=encode_changes(items),
                partition=None,
                timestamp=None,
                headers=None,
            )
        metrics.changes_sent.inc(len(changes))

    def chat_step(record: ChatRecord | None, message: Incoming) -> Step:
        return chat_stage.handle(
            record, message.key, message.value, message.partition, message.offset
        )

    def agent_step(record: AgentRecord | None, message: Incoming) -> Step:
        if message.topic == settings.changes_topic:
            step = agent_stage.handle_changes(record, message.value)
            metrics.changes_received.inc(step.changes)
            return step
        return agent_stage.handle_status(
            record, message.key, message.value, message.partition, message.offset
        )

    watch = OffsetWatch()

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def keep_watching(sender: Any, assigned: set[Any], **kwargs: Any) -> None:
        watch.keep_only({(tp.topic, tp.partition) for tp in assigned})

    async def with_skipped(message: Incoming) -> list[Incoming]:
        """The message, after any messages the consumer skipped right before it."""
        hole = watch.skipped(message.topic, message.partition, message.offset)
        if hole is None:
            return [message]
        found = await read_offsets(
            settings.bootstrap_servers, message.topic, message.partition, *hole
        )
        log.warning(
            "%s/%s: offsets %s-%s were skipped by the consumer; read %d back from Kafka",
            message.topic,
            message.partition,
            hole[0],
            hole[1] - 1,
            len(found),
        )
        metrics.messages_read_back.inc(len(found))
        skipped = [
            Incoming(message.topic, message.partition, offset, key, value or b"")
            for offset, key, value in found
        ]
        return [*skipped, message]

    def stored(table: Any, key: bytes | None, decode: Any) -> Any:
        data = table.get(key) if key is not None else None
        return None if data is None else decode(data)

    async def fold_one_by_one(
        stream: StreamT[bytes],
        table: Any,
        decode: Any,
        encode: Any,
        step_for: Any,
        stage: str,
        written: Callable[[bytes, Any, int], None],
    ) -> None:
        """The plain way: read, fold and write the table for every single event."""
        async for event in stream.events():
            for message in await with_skipped(Incoming.of(event.message)):
                step = step_for(stored(table, message.key, decode), message)
                if await emit(message, step, stage):
                    assert message.key is not None
                    if step.sends:
                        await send_changes(step.sends)
                    table[message.key] = encode(step.record)
                    written(message.key, step.record, message.partition)

    async def fold_fetched(
        messages: list[Message],
        table: Any,
        decode: Any,
        encode: Any,
        step_for: Any,
        stage: str,
        written: Callable[[bytes, Any, int], None],
    ) -> None:
        """Fold fetched messages of one stage, then write each changed key once.

        Records are decoded once per fetch and encoded once per key, and the
        changelog gets one write per key instead of one per event.
        """
        records: dict[bytes, Any] = {}
        writer: dict[bytes, Message] = {}
        changes: list[SourcedChange] = []
        for fetched in messages:
            for message in await with_skipped(Incoming.of(fetched)):
                key = message.key
                record = records[key] if key in records else stored(table, key, decode)
                step = step_for(record, message)
                if await emit(message, step, stage):
                    assert key is not None
                    records[key] = step.record
                    writer[key] = fetched
                    changes.extend(step.sends)
        if changes:
            await send_changes(changes)
        # The table takes the partition a write belongs to (its store and changelog
        # partition) from the "current event": one per source partition will do.
        events: dict[TP, faust.Event] = {}
        for key, record in records.items():
            fetched = writer[key]
            event = events.get(fetched.tp)
            if event is None:
                event = events[fetched.tp] = faust.Event(app, key, None, None, fetched)
            _current_event.set(weakref.ref(event))
            table[key] = encode(record)
            written(key, record, fetched.partition)
        _current_event.set(None)

    async def fold_fetch(messages: list[Message]) -> None:
        """One fetch: chat events first (their changes go out), then the agent inputs."""
        chat_messages = [m for m in messages if m.topic == settings.chat_topic]
        agent_messages = [m for m in messages if m.topic != settings.chat_topic]
        if chat_messages:
            await fold_fetched(
                chat_messages,
                chats,
                decode_chat_record,
                encode_chat_record,
                chat_step,
                "chat",
                _ignore,
            )
        if agent_messages:
            await fold_fetched(
                agent_messages,
                agents,
                decode_agent_record,
                encode_agent_record,
                agent_step,
                "agent",
                topology.agent_written,
            )
        ack = app.consumer.ack
        for message in messages:
            ack(message)

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
            await fold_one_by_one(
                stream, chats, decode_chat_record, encode_chat_record, chat_step, "chat", _ignore
            )

        @app.agent(agent_inputs, concurrency=1)
        async def fold_agents(stream: StreamT[bytes]) -> None:
            await fold_one_by_one(
                stream,
                agents,
                decode_agent_record,
                encode_agent_record,
                agent_step,
                "agent",
                topology.agent_written,
            )

    @app.timer(interval=settings.panel_interval_ms / 1000)  # type: ignore[untyped-decorator]
    async def publish_panels() -> None:
        """Publish the panel of every agent written since the last tick, once each."""
        if not topology.dirty:
            return
        keys = list(topology.dirty)
        topology.dirty.clear()
        now = time.time_ns() // 1000
        for key in keys:
            data = agents.get(key)
            if data is None:
                continue
            panel = view(decode_agent_record(data).agent, now)
            await app.producer.send(
                settings.panels_topic,
                key=key,
                value=orjson.dumps(panel),
                partition=None,
                timestamp=None,
                headers=None,
            )

    @app.task  # type: ignore[untyped-decorator]
    async def follow_panels() -> None:
        await topology.feed.follow(settings.bootstrap_servers, settings.panels_topic)

    return topology
