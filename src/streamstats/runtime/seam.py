"""Faust behind one seam: every private Faust, mode or aiokafka name the worker uses.

faust-streaming and aiokafka are used through their public APIs everywhere else. What
needs more lives here, and only here:

- :class:`IntakeConsumer` (with :class:`IntakeConsumerThread` and
  :class:`IntakeTransport`): Faust's aiokafka consumer with its fetch loop replaced, so
  that each fetch of the intake topics reaches the fold as one :class:`~.intake.Fetch`
  (``intake.py``), acked as a whole, and with a short broker fetch wait;
- :func:`restore_changelog`: a fetch of a changelog partition applied to its table in
  one batch, with the bookkeeping of Faust's recovery, instead of a record at a time;
- :func:`partition_store`: a table's records by partition, straight from the RocksDB
  database of the partition (``stores.py``);
- :class:`SharedStoreMemory`: one memory budget for every RocksDB database of the
  worker's tables, set through the options Faust opens each database with;
- :func:`kafka_producer`: the aiokafka producer behind Faust's, for produce batches
  (``output.py``);
- :func:`web_router`: the aiohttp router of Faust's web server, for plain handlers.

Each name is listed, with why it is used and the versions checked, in docs/decisions.md
("Faust and aiokafka internals"), and tested against the installed Faust and aiokafka by
``tests/contract/test_faust_seam.py``: an upgrade that moves one breaks a named test
there (``make check-upgrade`` runs them with the newest releases).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Final

import rocksdict
from aiohttp import web
from faust.stores import rocksdb as faust_rocksdb
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from faust.types.tuples import ack_lock

from ..streaming.batch import InputRecord
from ..streaming.item_index import ItemIndexedRecords
from ..streaming.records import is_item_key
from .intake import Fetch, Intake
from .stores import PartitionStore

__all__ = [
    "FETCH_MAX_WAIT_MS",
    "IntakeConsumer",
    "IntakeConsumerThread",
    "IntakeTransport",
    "SharedStoreMemory",
    "kafka_producer",
    "partition_store",
    "restore_changelog",
    "web_router",
]


FETCH_MAX_WAIT_MS: Final = 10
"""How long the broker may hold a fetch for data to arrive (Faust asks for 1,500 ms).

The client keeps one fetch in flight per broker, for the partitions with nothing left
in its buffer. When the worker's own agent-changes partitions are caught up, such a
fetch waited for new data while the input partitions, drained meanwhile, could not be
fetched: the worker sat idle a third of the time (BENCHMARKS.md).
"""


class IntakeConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """The thread that runs Faust's aiokafka consumer, with a short fetch wait."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Read by the consumer when it starts and creates its fetcher.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class IntakeConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer, with the fetch loop handing intake topics over in bulk."""

    def _new_consumer_thread(self) -> IntakeConsumerThread:
        return IntakeConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:
        intake: Intake | None = getattr(self.transport, "intake", None)
        if intake is None:
            await super()._drain_messages(fetcher)
            return
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                records, active = await self._wait_next_records(timeout=1.0)
                # A fetch can return at once again and again; let other tasks run.
                await asyncio.sleep(0)
                if records and not self.should_stop:
                    fetch = await self._admit(records, active, intake.topics)
                    if fetch is not None:
                        await intake.handle(fetch)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise

    async def _admit(
        self, records: Mapping[TP, Sequence[Any]], active: set[TP] | None, topics: frozenset[str]
    ) -> Fetch | None:
        """The fetched records of intake topics, in flight as one :class:`Fetch`. On the
        way, changelog records Faust's recovery follows are applied in bulk
        (:func:`restore_changelog`) and other messages go to Faust's callback."""
        generation = self.app.consumer_generation_id
        read_offset = self._read_offset
        buffered = self._buffered_partitions
        acks_enabled_for = self.app.topics.acks_enabled_for
        monitor = self.app.monitor
        admitted: dict[TP, list[InputRecord]] = {}
        for tp, tp_records in records.items():
            if active is not None and tp not in active and tp not in buffered:
                continue
            # A rebalance under way: leave the rest unread; it is fetched again.
            if not self.flow_active or self.app.consumer_generation_id != generation:
                break
            monitor.track_tp_end_offset(tp, self.highwater(tp))
            # What Faust's stall check reads to tell a working stream from a stuck one.
            monitor.stream_inbound_time[tp] = time.monotonic()
            last = read_offset.get(tp)
            if last is not None and tp_records[0].offset < last:
                tp_records = [record for record in tp_records if record.offset >= last]
            if not tp_records:
                continue
            first, final = tp_records[0].offset, tp_records[-1].offset
            # Most fetches are consecutive offsets following the last read: no gap to note.
            contiguous = final - first == len(tp_records) - 1 and (not last or first - last <= 1)
            if not contiguous and acks_enabled_for(tp.topic):
                for record in tp_records:
                    offset = record.offset
                    if last and offset - last > 1:
                        # Offsets with no message (transaction markers, compaction): the
                        # commit may pass over them.
                        await self._add_gap(tp, last + 1, offset)
                    last = offset
            if tp.topic in topics:
                admitted[tp] = list(tp_records)
            elif not restore_changelog(self.app, tp, tp_records):
                for record in tp_records:
                    await self.callback(self._to_message(tp, record))
            read_offset[tp] = final
        if not admitted:
            return None
        fetch = Fetch(admitted)
        self._unacked_messages.add(fetch)  # type: ignore[arg-type]
        return fetch

    def ack_fetch(self, fetch: Fetch, done: Mapping[TP, tuple[int, int]]) -> None:
        """Ack a fetch: the offsets ``done[tp]`` (first, last; both included) are
        applied and may be committed, and a rebalance need not wait for it any more.

        The same bookkeeping as Faust's per-message ``ack``, a partition at a time.
        """
        with ack_lock:
            if fetch.acked:
                return
            fetch.acked = True
            self._unacked_messages.discard(fetch)  # type: ignore[arg-type]
            for tp, (first, last) in done.items():
                committed = self._committed_offset[tp]
                if committed is not None:
                    first = max(first, committed)
                acked_index = self._acked_index[tp]
                offsets = set(range(first, last + 1))
                offsets.difference_update(acked_index)
                if offsets:
                    acked_index |= offsets
                    self._acked[tp].extend(offsets)
                    self._n_acked += len(offsets)
            waiting = self._waiting_for_ack
            if waiting is not None and not waiting.done():
                waiting.set_result(None)


class _ChangelogRecord:
    """A changelog record as a table's ``apply_changelog_batch`` reads an event: the
    event and its message in one (the tables' serializers are raw)."""

    __slots__ = ("key", "offset", "partition", "tp", "value")

    def __init__(self, tp: TP, record: Any) -> None:
        self.tp = tp
        self.partition = tp.partition
        self.offset: int = record.offset
        self.key: bytes = record.key
        self.value: bytes | None = record.value

    @property
    def message(self) -> _ChangelogRecord:
        return self


def restore_changelog(app: Any, tp: TP, records: Sequence[Any]) -> bool:
    """Apply a fetch of changelog partition ``tp`` to its table in one batch, as Faust's
    recovery would a record at a time; False (nothing done) for a partition that Faust's
    recovery does not follow now, whose records go to Faust's callback instead.

    Faust's recovery takes each changelog record through the conductor, a queue and a
    loop that recounts the remaining offsets of every partition: a first start at 100,000
    agents spent minutes there (BENCHMARKS.md). Here the offsets it keeps are advanced a
    fetch at a time, and its recovery task is woken the moment no active partition is
    behind.
    """
    recovery = app.tables.recovery
    if tp in recovery.active_tps:
        if not app.in_recovery:
            return False  # caught up and paused: a late record is Faust's to drop
        offsets = recovery.active_offsets
        # What Faust's recovery stats read to warn of a partition that sends nothing.
        recovery._active_events_received_at[tp] = time.monotonic()
    elif tp in recovery.standby_tps:
        offsets = recovery.standby_offsets
    else:
        return False
    seen = offsets.get(tp)
    fresh = records if seen is None else [record for record in records if record.offset > seen]
    if fresh:
        # Whatever Faust's own loop holds for the table was read before: it goes first.
        recovery.flush_buffers()
        recovery.tp_to_table[tp].apply_changelog_batch([_ChangelogRecord(tp, r) for r in fresh])
        offsets[tp] = fresh[-1].offset
    if app.in_recovery and not recovery.need_recovery():
        recovery.flush_buffers()
        # Wake Faust's recovery task as its own loop does: set, then clear at once. Left
        # set, the event would end the next rebalance's recovery before it read anything.
        # The task ends the recovery itself; were it not waiting yet, Faust's loop sees
        # within five seconds that nothing is left and sets the event again.
        ended = recovery.signal_recovery_end
        ended.set()
        ended.clear()
    return True


class IntakeTransport(faust_aiokafka.Transport):
    """The aiokafka transport, making :class:`IntakeConsumer` consumers."""

    Consumer: ClassVar[Any] = IntakeConsumer
    intake: Intake | None = None


class _RocksPartitions:
    """Faust's RocksDB store, one database per partition."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def get(self, key: bytes, partition: int) -> bytes | None:
        # Only databases already open: a partition this worker never held has none,
        # and opening one would create it on disk.
        db = self.store._dbs.get(partition)
        if db is None:
            return None
        value: bytes | None = db.get(key)
        return value

    def put_all(self, records: Iterable[tuple[bytes, bytes | None, int]]) -> None:
        batches: dict[int, Any] = {}
        for key, value, partition in records:
            batch = batches.get(partition)
            if batch is None:
                batch = batches[partition] = rocksdict.WriteBatch(raw_mode=True)
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        for partition, batch in batches.items():
            self.store._db_for_partition(partition).write(batch)

    def records(self) -> Iterator[tuple[bytes, bytes]]:
        offset_key = self.store.offset_key  # where Faust keeps the persisted offset
        for db in list(self.store._dbs.values()):
            for key, value in db.items():
                if is_item_key(key):
                    break  # items sort after every record: no UTF-8 text has their first byte
                if key != offset_key:
                    yield key, value

    def scan(self, prefix: bytes, partition: int) -> list[tuple[bytes, bytes]]:
        db = self.store._dbs.get(partition)
        if db is None:
            return []
        found: list[tuple[bytes, bytes]] = []
        for key, value in db.items(from_key=prefix):
            if not key.startswith(prefix):
                break
            found.append((key, value))
        return found


class _MemoryPartitions:
    """Faust's memory store: one dictionary for every partition, made to index the
    agents' item keys (``streaming.item_index.ItemIndexedRecords``) the first time it is wrapped.

    Each key written is also entered in the store's ``_key_partition``, as Faust's own
    recovery enters the keys it reads: after a rebalance Faust drops the keys of the
    partitions the worker no longer holds by that map, and a key missing from it would
    stay behind, stale, for as long as the worker runs.
    """

    def __init__(self, store: Any) -> None:
        if not isinstance(store.data, ItemIndexedRecords):
            store.data = ItemIndexedRecords(store.data)
        self.data: ItemIndexedRecords = store.data
        self.key_partition: dict[bytes, int] = store._key_partition

    def get(self, key: bytes, partition: int) -> bytes | None:
        return self.data.get(key)

    def put_all(self, records: Iterable[tuple[bytes, bytes | None, int]]) -> None:
        data = self.data
        key_partition = self.key_partition
        for key, value, partition in records:
            if value is None:
                data.pop(key, None)
                key_partition.pop(key, None)
            else:
                data[key] = value
                key_partition[key] = partition

    def records(self) -> Iterator[tuple[bytes, bytes]]:
        for key, value in list(self.data.items()):
            if not is_item_key(key):
                yield key, value

    def scan(self, prefix: bytes, partition: int) -> list[tuple[bytes, bytes]]:
        return self.data.scan(prefix)


def partition_store(table: Any) -> PartitionStore:
    """Partition-wise access to the store of a Faust table with raw keys and values."""
    store = table.data
    if isinstance(store, faust_rocksdb.Store):
        return _RocksPartitions(store)
    return _MemoryPartitions(store)


class _BudgetedOptions(faust_rocksdb.RocksDBOptions):
    """Faust's options of a table's databases, with the block cache and the write buffer
    manager of a :class:`SharedStoreMemory`."""

    def __init__(
        self,
        options: faust_rocksdb.RocksDBOptions,
        memory: SharedStoreMemory,
        partitioned: bool,
    ) -> None:
        self.__dict__.update(vars(options))
        self.memory = memory
        self.partitioned = partitioned

    def as_options(self) -> Any:
        options = super().as_options()
        if not self.use_rocksdict:  # pragma: no cover - the project installs rocksdict
            raise RuntimeError("a shared store memory needs rocksdict; pip install rocksdict")
        table = rocksdict.BlockBasedOptions()
        table.set_bloom_filter(self.bloom_filter_size, True)
        table.set_block_cache(self.memory.cache)
        # Indexes and filters in the cache too, so that they count against the budget;
        # level 0's stay pinned there, as RocksDB advises when they are cached.
        table.set_cache_index_and_filter_blocks(True)
        table.set_pin_l0_filter_and_index_blocks_in_cache(True)
        if self.partitioned:
            # A file's whole index and filter are one block each, hundreds of KiB for a
            # full file; in a cache smaller than the data, such a block is evicted by the
            # data blocks of its own cache shard and read again on nearly every lookup
            # (0.3 ms a read, benchmarks/bench_store.py). Cut into 4 KiB partitions, only
            # the small top level stays pinned.
            table.set_index_type(rocksdict.BlockBasedIndexType.two_level_index_search())
            table.set_partition_filters(True)
            table.set_metadata_block_size(4096)
            table.set_pin_top_level_index_and_filter(True)
        else:
            table.set_index_type(rocksdict.BlockBasedIndexType.binary_search())
        options.set_block_based_table_factory(table)
        options.set_write_buffer_manager(self.memory.write_buffers)
        return options

    def open(self, path: Path, *, read_only: bool = False) -> Any:
        """Open the database at ``path`` with :meth:`as_options`, also after a restart.

        Faust passes the options to rocksdict as the database's only. Opening an
        existing database, rocksdict then takes its column families' options from the
        database's OPTIONS file, which cannot hold a block cache or a filter policy: a
        restarted worker's databases would each get RocksDB's default 8 MiB cache and no
        bloom filter. Named for the default column family, the options are kept.
        """
        options = self.as_options()
        access = (
            rocksdict.AccessType.read_write()
            if self.ttl is None
            else rocksdict.AccessType.with_ttl(self.ttl)
        )
        db = rocksdict.Rdict(
            str(path), options, column_families={"default": options}, access_type=access
        )
        db.set_read_options(rocksdict.ReadOptions())
        return db


class SharedStoreMemory:
    """One memory budget for every RocksDB database of the worker's tables.

    Faust gives each table partition's database a block cache of its own, so a worker's
    memory grows with the partitions it holds (and the indexes and filters of the files
    grow with the data, outside any cache). Here one block cache of ``budget`` bytes
    holds the data blocks, indexes and filters of all of them, and the write buffers are
    charged to it: RocksDB keeps the total near ``budget``.
    """

    def __init__(self, budget: int) -> None:
        self.cache = rocksdict.Cache(budget)
        self.write_buffers = rocksdict.WriteBufferManager.new_write_buffer_manager_with_cache(
            budget // 2, False, self.cache
        )
        self._stores: list[Any] = []

    def adopt(self, table: Any) -> None:
        """Open ``table``'s databases within the budget (a memory store is left alone);
        before the table opens any."""
        store = table.data
        if isinstance(store, faust_rocksdb.Store):
            store.rocksdb_options = self.budgeted(store.rocksdb_options)
            self._stores.append(store)

    def budgeted(
        self, options: faust_rocksdb.RocksDBOptions, *, partitioned: bool = True
    ) -> faust_rocksdb.RocksDBOptions:
        """``options`` with this budget's block cache and write buffers: what a table's
        databases open with (``open(path)`` opens one). ``partitioned``: indexes and
        bloom filters cut into small blocks, as the worker keeps them."""
        return _BudgetedOptions(options, self, partitioned)

    def memory(self) -> dict[str, int]:
        """Bytes held by kind: ``cache`` (all that is charged to the budget), and within
        it ``memtables``; ``table_readers``, what the files' readers hold outside it."""
        if not self._stores:
            return {}
        databases = [db for store in self._stores for db in list(store._dbs.values())]
        return {
            "cache": self.cache.get_usage(),
            "memtables": sum(_property(db, "rocksdb.size-all-mem-tables") for db in databases),
            "table_readers": sum(
                _property(db, "rocksdb.estimate-table-readers-mem") for db in databases
            ),
        }


def _property(db: Any, name: str) -> int:
    value: int | None = db.property_int_value(name)
    return value or 0


def kafka_producer(app: Any) -> Any:
    """The started aiokafka producer behind the app's Faust producer (for
    ``create_batch``/``send_batch``); raises Faust's ``NotReady`` before it starts."""
    return app.producer._ensure_producer()


def web_router(app: Any) -> web.UrlDispatcher:
    """The router of the aiohttp application that Faust's web server serves."""
    router: web.UrlDispatcher = app.web.web_app.router
    return router
