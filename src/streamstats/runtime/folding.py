"""The worker's fold loop: a fetch in, its records, agent changes and dead letters out.

Each fetch of input (``intake.py``) is folded by the batch fold (``streaming.batch``),
chat runs first, then the agent runs; everything it produced goes to Kafka as one produce
batch per topic partition, then to the stores, and the input is acked once Kafka has it
all. With ``STREAMSTATS_BATCH_SIZE=1`` plain Faust agents fold message by message with
the same stages: the benchmarks' naive baseline.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

import faust
import orjson
from faust.types import TP, StreamT

from ..core.sessions import ended_session
from ..metrics import BatchCounter, Metrics
from ..settings import Settings
from ..streaming.batch import DeadLetter, InputRecord, ItemWrite, changes_by_agent
from ..streaming.offsets import OffsetWatch
from ..streaming.records import (
    ForwardedStatus,
    SentChange,
    encode_changes,
    encode_forwarded,
)
from ..streaming.stages import Stage, Write
from .intake import Fetch
from .kafka import read_offsets
from .output import Delivery, OutputBatches
from .seam import kafka_producer
from .stores import PartitionStore
from .tables import Placement

__all__ = ["FetchFolder", "Incoming", "StageTable"]

log = logging.getLogger(__name__)

Listener = Callable[[bytes, Any, int], None]
"""Told of every record a stage writes: key, record, partition."""


class StageTable(NamedTuple):
    """A stage, its table and who is told of the records it writes."""

    stage: Stage[Any]
    table: Any
    store: PartitionStore
    listeners: tuple[Listener, ...] = ()


class Incoming(NamedTuple):
    """An input message read back from Kafka after the consumer skipped it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


Runs = list[list[InputRecord]]


@dataclass(slots=True)
class FetchFolder:
    """Folds the worker's input and writes what it produced to Kafka and the stores."""

    app: faust.App
    settings: Settings
    metrics: Metrics
    placement: Placement
    chats: StageTable
    agents: StageTable
    on_fetch: Callable[[int], None] | None = None
    """Told the number of messages of each fetch (the console's caught-up line)."""
    counter: BatchCounter = field(init=False)
    watch: OffsetWatch = field(default_factory=OffsetWatch)
    _crashing: set[asyncio.Future[Any]] = field(default_factory=set)
    _tables_by_changelog: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.counter = BatchCounter(self.metrics)
        tables = (self.chats.table, self.agents.table)
        self._tables_by_changelog = {
            table.changelog_topic.get_topic_name(): table for table in tables
        }

    async def fold_fetch(self, fetch: Fetch) -> None:
        """One fetch: chat events first (their changes go out), then the agent inputs;
        then everything they produced goes to Kafka and the stores are written.

        The input is acked once everything it produced is in Kafka; until then no
        offset past it is committed and a rebalance waits for it.
        """
        chat_runs, agent_runs, done = await self._runs(fetch)
        if self.on_fetch is not None:
            self.on_fetch(sum(map(len, fetch.records.values())))
        now = time.time()
        outputs = OutputBatches()
        chat_writes, _ = self._fold_runs(chat_runs, self.chats, now, outputs)
        agent_writes, items = self._fold_runs(agent_runs, self.agents, now, outputs)
        # Changelog first: if this is cut short, the store does not hold a record the
        # changelog lacks, and the unacked input is folded again.
        deliveries = await outputs.send(kafka_producer(self.app))
        self._store(self.chats, chat_writes)
        self._store(self.agents, agent_writes)
        if items:
            self.agents.store.put_all(items)
        delivered = asyncio.gather(*(delivery.future for delivery in deliveries))
        delivered.add_done_callback(partial(self._settle, fetch, done, deliveries))

    async def _runs(self, fetch: Fetch) -> tuple[Runs, Runs, dict[TP, tuple[int, int]]]:
        """The fetch's chat runs and agent runs, each with any messages the consumer
        skipped before it read back, and the offsets ``(first, last)`` each covers."""
        chat_runs: Runs = []
        agent_runs: Runs = []
        done: dict[TP, tuple[int, int]] = {}
        for tp, run in fetch.records.items():
            first = run[0].offset
            hole = self.watch.run(tp.topic, tp.partition, first, run[-1].offset)
            if hole is not None:
                run = [*await self._read_back(tp.topic, tp.partition, hole), *run]
                first = hole[0]
            done[tp] = (first, run[-1].offset)
            (chat_runs if tp.topic == self.settings.chat_topic else agent_runs).append(run)
        return chat_runs, agent_runs, done

    async def fold_chat_stream(self, stream: StreamT[bytes]) -> None:
        """The naive chat stage: a Faust agent folding message by message."""
        await self._fold_stream(stream, self.chats)

    async def fold_agent_stream(self, stream: StreamT[bytes]) -> None:
        """The naive agent stage: a Faust agent folding message by message."""
        await self._fold_stream(stream, self.agents)

    async def _fold_stream(self, stream: StreamT[bytes], stage: StageTable) -> None:
        """The plain way: read, fold and write the table for every single event."""
        async for event in stream.events():
            message = event.message
            run: list[InputRecord] = [message]
            hole = self.watch.skipped(message.topic, message.partition, message.offset)
            if hole is not None:
                run = [*await self._read_back(message.topic, message.partition, hole), message]
            outputs = OutputBatches()
            for incoming in run:
                writes, items = self._fold([[incoming]], stage, outputs)
                for key, value, record, partition in writes:
                    stage.table[key] = value
                    for listener in stage.listeners:
                        listener(key, record, partition)
                for key, item, _ in items:
                    if item is None:
                        stage.table.pop(key, None)
                    else:
                        stage.table[key] = item
            if outputs.records:
                await outputs.send(kafka_producer(self.app))

    async def keep_watching(self, sender: Any, assigned: set[Any], **kwargs: Any) -> None:
        """On assignment: forget the partitions that moved to another worker."""
        self.watch.keep_only({(tp.topic, tp.partition) for tp in assigned})

    def _fold(
        self, runs: Runs, stage: StageTable, outputs: OutputBatches, now: float | None = None
    ) -> tuple[list[Write[Any]], list[ItemWrite]]:
        """Fold runs of consecutive messages (one per partition) of one stage; queue the
        dead letters and agent changes in ``outputs``; the store writes it asks for, and
        the items kept beside the records (agent stage: evidence, sessions) to write
        after them."""
        result, writes = stage.stage.run(stage.store, runs)
        for message, problem in result.dead_letters:
            self._dead_letter(message, problem, outputs)
        self.counter.count(result.tally, stage.stage.name, time.time() if now is None else now)
        if result.sends:
            self._send_changes(result.sends, outputs)
        if result.forwards:
            self._forward(result.forwards, outputs)
        if result.sessions_out:
            self._publish_sessions(result.sessions_out, outputs)
        return writes, result.items

    def _fold_runs(
        self, runs: Runs, stage: StageTable, now: float, outputs: OutputBatches
    ) -> tuple[list[Write[Any]], list[ItemWrite]]:
        """Fold a fetch's runs of one stage, and queue the changelog records of its writes."""
        if not runs:
            return [], []
        changelog = stage.table.changelog_topic.get_topic_name()
        writes, items = self._fold(runs, stage, outputs, now)
        for key, value, _, partition in writes:
            outputs.add(changelog, partition, key, value)
        # After the records, in their partition's produce batch: a crash keeps or loses
        # an agent record and its items together.
        for key, item, partition in items:
            outputs.add(changelog, partition, key, item)
        return writes, items

    @staticmethod
    def _store(stage: StageTable, writes: list[Write[Any]]) -> None:
        stage.store.put_all((key, value, partition) for key, value, _, partition in writes)
        for listener in stage.listeners:
            for key, _, record, partition in writes:
                listener(key, record, partition)

    def _send_changes(self, changes: list[SentChange], outputs: OutputBatches) -> None:
        """Queue changes for the agent stage, one message per agent."""
        topic, placement = self.settings.changes_topic, self.placement
        for agent_id, items in changes_by_agent(changes).items():
            key = agent_id.encode()
            outputs.add(topic, placement.agent_partition(key), key, encode_changes(items))
        self.metrics.changes_sent.inc(len(changes))

    def _forward(
        self, forwards: list[tuple[bytes, int, ForwardedStatus]], outputs: OutputBatches
    ) -> None:
        """Queue status messages for their agents' partitions of the agent-changes topic."""
        topic = self.settings.changes_topic
        for key, home, forwarded in forwards:
            outputs.add(topic, home, key, encode_forwarded(forwarded))
        self.metrics.status_forwarded.inc(len(forwards))

    def _publish_sessions(
        self, sessions: list[tuple[bytes, list[int]]], outputs: OutputBatches
    ) -> None:
        """Queue ended sessions for the compacted sessions topic (spec §10), each in its
        agent's partition under the key ``agent id@start``."""
        topic, placement = self.settings.sessions_topic, self.placement
        for key, summary in sessions:
            figures = ended_session(summary)
            value = orjson.dumps({"agent_id": key.decode(), **figures})
            session = key + b"@" + figures["start"].encode()
            outputs.add(topic, placement.agent_partition(key), session, value)
        self.metrics.sessions_published.inc(len(sessions))

    def _dead_letter(
        self, message: InputRecord, problem: DeadLetter, outputs: OutputBatches
    ) -> None:
        self.metrics.events_invalid.labels(problem.reason).inc()
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
            self.settings.dead_letter_topic,
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

    async def _read_back(self, topic: str, partition: int, hole: tuple[int, int]) -> list[Incoming]:
        """The messages at offsets ``[start, end)`` the consumer skipped, from Kafka."""
        found = await read_offsets(self.settings.bootstrap_servers, topic, partition, *hole)
        log.warning(
            "%s/%s: offsets %s-%s were skipped by the consumer; read %d back from Kafka",
            topic,
            partition,
            hole[0],
            hole[1] - 1,
            len(found),
        )
        self.metrics.messages_read_back.inc(len(found))
        return [Incoming(topic, partition, offset, key, value) for offset, key, value in found]

    def _settle(
        self,
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
            self._crashing.add(asyncio.ensure_future(self.app.crash(error)))
            return
        app = self.app
        actives = app.assignor.assigned_actives()
        persisted: dict[TP, int] = {}
        for delivery in deliveries:
            tp = TP(delivery.topic, delivery.partition)
            if delivery.topic in self._tables_by_changelog and tp in actives:
                persisted[tp] = max(delivery.last_offset(), persisted.get(tp, -1))
        if not app.rebalancing:
            # Where recovery resumes reading the changelog into this worker's store.
            for tp, offset in persisted.items():
                store: Any = self._tables_by_changelog[tp.topic].data
                store.set_persisted_offset(tp, offset)
        consumer: Any = app.consumer  # the seam's IntakeConsumer
        consumer.ack_fetch(fetch, done)
