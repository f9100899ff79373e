"""A dictionary of a table's records that also knows the keys of each agent's items.

Items (evidence, session summaries) are kept beside the agent records under keys that
start with the agent's item prefix (``records.item_prefix``). The agent fold scans an
agent's items each time a session starts or ends; in a plain dictionary that scan is a
pass over every key, and it grew with the table. RocksDB seeks instead; this index gives
an in-memory store the same cost. The seam gives it to Faust's memory store, and the
local pipeline keeps one per partition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .records import is_item_key, item_prefix

__all__ = ["ItemIndexedRecords"]


class ItemIndexedRecords(dict[bytes, Any]):
    """Records by key, plus ``items_by_prefix``: each item prefix to its keys.

    Every write goes through the methods below, which keep the index (Faust's changelog
    recovery writes with ``update``)."""

    __slots__ = ("items_by_prefix",)

    def __init__(self, data: Mapping[bytes, Any] | None = None) -> None:
        super().__init__(data or {})
        self.items_by_prefix: dict[bytes, set[bytes]] = {}
        for key in self:
            self._index(key)

    def _index(self, key: object) -> None:
        if isinstance(key, bytes) and is_item_key(key):
            self._add_item(key)

    def _unindex(self, key: object) -> None:
        if isinstance(key, bytes) and is_item_key(key):
            self._drop_item(key)

    def _add_item(self, key: bytes) -> None:
        self.items_by_prefix.setdefault(item_prefix(key), set()).add(key)

    def _drop_item(self, key: bytes) -> None:
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
            get = self.__getitem__
            return [(key, get(key)) for key in sorted(self.items_by_prefix.get(prefix, ()))]
        return sorted((key, value) for key, value in self.items() if key.startswith(prefix))

    def __setitem__(self, key: bytes, value: Any) -> None:
        # Every record the fold writes comes here: no call beyond dict's for a record key.
        dict.__setitem__(self, key, value)
        if isinstance(key, bytes) and is_item_key(key):
            self._add_item(key)

    def __delitem__(self, key: bytes) -> None:
        super().__delitem__(key)
        self._unindex(key)

    def pop(self, key: bytes, *default: Any) -> Any:
        """As :meth:`dict.pop`, and the key leaves the index."""
        if isinstance(key, bytes) and is_item_key(key):
            self._drop_item(key)
        return dict.pop(self, key, *default)

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
