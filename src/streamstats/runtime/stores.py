"""Reading and writing a table's records by partition, below Faust's table API.

Faust's RocksDB store keeps one database per partition and finds a key's database
through the stream's "current event", a key index (an LRU cache) or, failing both, by
asking every database. The worker always knows the partition of a key (the partition
of the message, or murmur2 of the key), so it goes to that database directly, and
writes each fetch's records with one ``WriteBatch`` per partition: through Faust's
store each write cost a context lookup, two serializer calls, a cache update and a
separate ``put``.

This module says what the fold expects of a store; ``seam.partition_store`` makes one
from a Faust table (it reaches into Faust's stores, so it lives with the other Faust
internals in ``seam.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

__all__ = ["PartitionStore"]


class PartitionStore(Protocol):
    """A table's records, addressed by key and partition."""

    def get(self, key: bytes, partition: int) -> bytes | None:
        """The record stored under ``key`` in ``partition``, if this worker has it."""
        ...

    def put_all(self, records: Iterable[tuple[bytes, bytes | None, int]]) -> None:
        """Store ``(key, value, partition)`` records, in order; a None value deletes."""
        ...

    def scan(self, prefix: bytes, partition: int) -> list[tuple[bytes, bytes]]:
        """Every ``(key, value)`` of ``partition`` whose key starts with ``prefix``, by key."""
        ...

    def records(self) -> Iterator[tuple[bytes, bytes]]:
        """Every ``(key, value)`` this worker holds (any partition) whose key is a record's,
        not an item's (``streaming.records.is_item_key``)."""
        ...
