"""The Faust app, its topics and tables, and where an agent's records live.

:func:`define` declares everything Faust manages for the worker (consumer group,
topics, the two changelogged tables); :class:`Placement` answers the questions the
fold, the panels and the HTTP view ask about it: which partition holds an agent, which
partitions this worker holds, whether it is ready to answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import faust

from ..settings import Settings
from ..streaming.batch import partition_for
from ..streaming.records import decode_session, evidence_prefix, session_prefix
from .seam import IntakeTransport, SharedStoreMemory, partition_store
from .stores import PartitionStore

__all__ = ["ROCKSDB_OPTIONS", "TABLES", "FaustParts", "Placement", "changelog_topics", "define"]

ROCKSDB_OPTIONS: Final = {
    # Faust's defaults give every table partition its own 3 × 64 MiB of write buffers; the
    # records are small and recently used. The block cache is the worker's one shared
    # cache (``STREAMSTATS_STORE_MEMORY_MB``, ``seam.SharedStoreMemory``), not these.
    "write_buffer_size": 4 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "target_file_size_base": 16 * 1024 * 1024,
    # RocksDB's usual 10 bits a key (Faust's default is 3): a read of a key that is not
    # there, as every new chat's first event makes, mostly stops at the filter.
    "bloom_filter_size": 10,
}
"""Options of each table partition's RocksDB database (ignored by the memory store)."""


TABLES: Final = ("chats", "agents")
"""The worker's two tables, by name."""


def changelog_topics(settings: Settings) -> list[str]:
    """The changelog topic of each table, named as Faust names them
    (``{app id}-{table}-changelog``): the worker makes them before Faust starts
    (``kafka.ensure_topics``)."""
    return [f"{settings.app_id}-{name}-changelog" for name in TABLES]


@dataclass(frozen=True, slots=True)
class FaustParts:
    """What the worker declares to Faust."""

    app: faust.App
    transport: IntakeTransport
    status_topic: Any
    chat_topic: Any
    agent_inputs: Any
    """The status and agent-changes topics, read together by the agent stage."""
    chats: Any
    """The chats table: chat id bytes → encoded ``ChatRecord``."""
    agents: Any
    """The agents table: agent id bytes → encoded ``AgentRecord``."""
    store_memory: SharedStoreMemory
    """The one memory budget of both tables' RocksDB databases."""


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


def define(settings: Settings) -> FaustParts:
    """The app, its topics and its tables for ``settings``."""
    app = _faust_app(settings)
    # Before anything asks the app for its transport: the consumer it makes hands input
    # over in whole fetches once an intake is set.
    transport = IntakeTransport(app.conf.broker_consumer, app)
    app.transport = transport

    def raw_topic(*names: str) -> Any:
        # Raw serializers: the stages decode the bytes themselves, so a message that is
        # not JSON reaches them (and the dead-letter topic) instead of crashing the agent.
        return app.topic(
            *names,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.partitions,
        )

    def table(name: str) -> Any:
        return app.Table(
            name,
            key_type=bytes,
            value_type=bytes,
            partitions=settings.partitions,
            options=ROCKSDB_OPTIONS,
        )

    chats, agents = (table(name) for name in TABLES)
    store_memory = SharedStoreMemory(settings.store_memory_mb * 1024 * 1024)
    store_memory.adopt(chats)
    store_memory.adopt(agents)
    return FaustParts(
        app,
        transport,
        raw_topic(settings.status_topic),
        raw_topic(settings.chat_topic),
        raw_topic(settings.status_topic, settings.changes_topic),
        chats,
        agents,
        store_memory,
    )


@dataclass(slots=True)
class Placement:
    """Where agents' records live, and whether this worker can answer for them."""

    app: faust.App
    agents: Any
    """The agents table."""
    partitions: int
    agent_store: PartitionStore = field(init=False)
    """The agents table's records by key and partition."""
    _agent_partitions: dict[bytes, int] = field(default_factory=dict)
    _actives: tuple[int, frozenset[int]] = (-1, frozenset())
    """The active partitions last found, and the rebalance they were found after."""

    def __post_init__(self) -> None:
        self.agent_store = partition_store(self.agents)

    def agent_partition(self, key: bytes) -> int:
        """The partition of an agent's records on the agent-keyed topics (cached: a
        worker meets the same agents again and again)."""
        found = self._agent_partitions.get(key)
        if found is None:
            found = self._agent_partitions[key] = partition_for(key, self.partitions)
        return found

    def active_partitions(self) -> frozenset[int]:
        """The partitions of the agents table this worker holds as active (not standby)."""
        # Asked on every read; Faust builds the whole assignment's set on each call. The
        # assignment changes only within a rebalance, which counts itself before it starts
        # and is over once ``rebalancing`` is false again: outside one, the set found after
        # the same count still holds.
        app = self.app
        generation = app.rebalancing_count
        found_after, actives = self._actives
        if found_after == generation:
            return actives
        changelog = self.agents.changelog_topic.get_topic_name()
        actives = frozenset(
            tp.partition for tp in app.assignor.assigned_actives() if tp.topic == changelog
        )
        if not app.rebalancing:
            self._actives = (generation, actives)
        return actives

    def stored_agent(self, key: bytes) -> bytes | None:
        """The agent record stored under ``key`` here, if this worker holds its partition."""
        return self.agent_store.get(key, self.agent_partition(key))

    def stored_evidence(self, key: bytes) -> list[bytes]:
        """The agent's evidence items stored here, in key order (``records.evidence_key``)."""
        items = self.agent_store.scan(evidence_prefix(key), self.agent_partition(key))
        return [value for _, value in items]

    def stored_sessions(self, key: bytes) -> list[list[int]]:
        """The summaries of the agent's ended sessions stored here, oldest first."""
        items = self.agent_store.scan(session_prefix(key), self.agent_partition(key))
        return [decode_session(value) for _, value in items]

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
