"""Reading and writing a table's records by partition, below Faust's table API.

Faust's RocksDB store keeps one database per partition and finds a key's database
through the stream's "current event", a key index (an LRU cache) or, failing both, by
asking every database. The worker always knows the partition of a key (the partition
of the message, or murmur2 of the key), so it goes to that database directly, and
writes each fetch's records with one ``WriteBatch`` per partition: through Faust's
store each write cost a context lookup, two serializer calls, a cache update and a
separate ``put``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import rocksdict
from faust.stores import rocksdb as faust_rocksdb

__all__ = ["PartitionStore", "partition_store"]


class PartitionStore(Protocol):
    """A table's records, addressed by key and partition."""

    def get(self, key: bytes, partition: int) -> bytes | None:
        """The record stored under ``key`` in ``partition``, if this worker has it."""
        ...

    def put_all(self, records: Iterable[tuple[bytes, bytes, int]]) -> None:
        """Store ``(key, value, partition)`` records, in order."""
        ...


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

    def put_all(self, records: Iterable[tuple[bytes, bytes, int]]) -> None:
        batches: dict[int, Any] = {}
        for key, value, partition in records:
            batch = batches.get(partition)
            if batch is None:
                batch = batches[partition] = rocksdict.WriteBatch(raw_mode=True)
            batch.put(key, value)
        for partition, batch in batches.items():
            self.store._db_for_partition(partition).write(batch)


class _MemoryPartitions:
    """Faust's memory store: one dictionary for every partition."""

    def __init__(self, store: Any) -> None:
        self.data: dict[bytes, bytes] = store.data

    def get(self, key: bytes, partition: int) -> bytes | None:
        return self.data.get(key)

    def put_all(self, records: Iterable[tuple[bytes, bytes, int]]) -> None:
        data = self.data
        for key, value, _ in records:
            data[key] = value


def partition_store(table: Any) -> PartitionStore:
    """Partition-wise access to the store of a Faust table with raw keys and values."""
    store = table.data
    if isinstance(store, faust_rocksdb.Store):
        return _RocksPartitions(store)
    return _MemoryPartitions(store)
