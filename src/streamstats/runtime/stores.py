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
internals in ``seam.py``). It also holds the dictionary the seam gives Faust's memory
store, which finds an agent's items without a pass over the whole table.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

from ..streaming.records import is_item_key, item_prefix

__all__ = ["ItemIndexedRecords", "PartitionStore"]


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


class ItemIndexedRecords(dict[bytes, Any]):
    """A memory store's dictionary that also knows the keys of each agent's items.

    The memory store keeps every partition in one dictionary, so a prefix scan went
    through all of it. The agent fold scans an agent's items each time a session starts
    or ends, and that scan grew with the table: the fold of a day ran at a third of its
    speed on RocksDB. Every write, Faust's changelog recovery included, goes through the
    methods below, which keep ``items_by_prefix``: item prefix (``records.item_prefix``)
    to keys.
    """

    __slots__ = ("items_by_prefix",)

    def __init__(self, data: Mapping[bytes, Any]) -> None:
        super().__init__(data)
        self.items_by_prefix: dict[bytes, set[bytes]] = {}
        for key in self:
            self._index(key)

    def _index(self, key: object) -> None:
        if isinstance(key, bytes) and is_item_key(key):
            self.items_by_prefix.setdefault(item_prefix(key), set()).add(key)

    def _unindex(self, key: object) -> None:
        if isinstance(key, bytes) and is_item_key(key):
            prefix = item_prefix(key)
            keys = self.items_by_prefix.get(prefix)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.items_by_prefix[prefix]

    def scan(self, prefix: bytes) -> list[tuple[bytes, Any]]:
        """Every ``(key, value)`` whose key starts with ``prefix``, by key: from the index
        for a whole item prefix, else from a pass over every key."""
        if len(prefix) >= 3 and is_item_key(prefix) and item_prefix(prefix) == prefix:
            keys = sorted(self.items_by_prefix.get(prefix, ()))
            return [(key, self[key]) for key in keys]
        return sorted((key, value) for key, value in self.items() if key.startswith(prefix))

    def __setitem__(self, key: bytes, value: Any) -> None:
        super().__setitem__(key, value)
        self._index(key)

    def __delitem__(self, key: bytes) -> None:
        super().__delitem__(key)
        self._unindex(key)

    def pop(self, key: bytes, *default: Any) -> Any:
        """As :meth:`dict.pop`, and the key leaves the index."""
        self._unindex(key)
        return super().pop(key, *default)

    def popitem(self) -> tuple[bytes, Any]:
        """As :meth:`dict.popitem`, and the key leaves the index."""
        key, value = super().popitem()
        self._unindex(key)
        return key, value

    def setdefault(self, key: bytes, default: Any = None) -> Any:
        """As :meth:`dict.setdefault`, and the key is indexed."""
        self._index(key)
        return super().setdefault(key, default)

    def update(self, other: Any = (), /) -> None:
        """As :meth:`dict.update`, and every key is indexed (Faust's recovery writes so)."""
        pairs = list(other.items() if isinstance(other, Mapping) else other)
        super().update(pairs)
        for key, _ in pairs:
            self._index(key)

    def __ior__(self, other: Any) -> ItemIndexedRecords:  # type: ignore[override,misc]
        self.update(other)
        return self

    def clear(self) -> None:
        """As :meth:`dict.clear`, and the index too."""
        super().clear()
        self.items_by_prefix.clear()
