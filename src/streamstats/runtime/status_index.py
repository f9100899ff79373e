"""Partition and current status of every agent this worker holds, kept by the fold.

The gauges and the supervisor list ask for it on every scrape or page: decoding every
agent record each time would cost a second at 100,000 agents.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

import faust

from ..streaming.records import AgentRecord, decode_agent_status
from .tables import Placement

__all__ = ["STATUSES_PER_SLICE", "StatusIndex"]

STATUSES_PER_SLICE: Final = 5000
"""Agent records a rebuild decodes between two yields to the event loop."""

Entry = tuple[int, str]
"""``(partition, status)``; the status is ``"unknown"`` before any status event."""


@dataclass(slots=True)
class StatusIndex:
    """Agent id bytes → (partition, current status)."""

    app: faust.App
    agents: Any
    """The agents table, read when the index is rebuilt."""
    placement: Placement
    statuses: dict[bytes, Entry] = field(default_factory=dict)
    generation: int = -1
    """The rebalance ``statuses`` was last rebuilt after."""
    rebuilding: dict[bytes, Entry] | None = None
    """While ``statuses`` is rebuilt: the agents the fold wrote meanwhile."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def written(self, key: bytes, record: AgentRecord, partition: int) -> None:
        """Note an agent the fold wrote: its status may have changed."""
        entry = (partition, record.agent.status or "unknown")
        self.statuses[key] = entry
        if self.rebuilding is not None:
            self.rebuilding[key] = entry

    async def current(self) -> dict[bytes, Entry]:
        """Partition and current status of every agent in the table.

        After a rebalance the table holds partitions the fold has not written since,
        so the index is rebuilt once from the table, in slices that let the fold and
        other requests run (100,000 agents take about a second). The fold keeps it up
        to date: copy it before awaiting anything while going through it.
        """
        async with self.lock:
            generation = self.app.rebalancing_count
            if self.generation != generation:
                rebuilt = await self._rebuilt()
                if generation == self.app.rebalancing_count:
                    self.statuses = rebuilt
                    self.generation = generation
        return self.statuses

    async def _rebuilt(self) -> dict[bytes, Entry]:
        rebuilt: dict[bytes, Entry] = {}
        # Written while the rebuild reads the table: newer than what it read.
        written: dict[bytes, Entry] = {}
        self.rebuilding = written
        try:
            # Only the agent records, not the items kept beside them in the same table.
            records = list(self.placement.agent_store.records())
            for number, (key, stored) in enumerate(records, 1):
                status = decode_agent_status(stored) or "unknown"
                rebuilt[key] = (self.placement.agent_partition(key), status)
                if number % STATUSES_PER_SLICE == 0:
                    await asyncio.sleep(0)
        finally:
            self.rebuilding = None
        return rebuilt | written

    async def count(self, partitions: frozenset[int]) -> Counter[str]:
        """Agents of ``partitions`` by current status."""
        index = await self.current()
        return Counter(status for partition, status in index.values() if partition in partitions)
