"""What the HTTP view sees of the worker: :class:`WorkerView`, and nothing else of it.

The web modules are typed against this protocol, not against the runtime's class that
implements it, and take the runtime's types from here (only ``app.py`` imports from the
runtime too, its ``web_router``), so the runtime can be renamed or split by editing this
module alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable
from typing import Protocol

from faust.types import AppT

from ..metrics import Metrics
from ..runtime.panels import PanelFeed, PanelUpdate
from ..runtime.stores import PartitionStore
from ..settings import Settings

__all__ = ["NamedTable", "PanelUpdate", "StatusTopic", "WorkerView"]


class NamedTable(Protocol):
    """A Faust table, of which the web needs only the name (to look up its owners)."""

    @property
    def name(self) -> str:
        """The table's name in the Faust router's metadata."""
        ...


class StatusTopic(Protocol):
    """The topic that ``POST /agents/{agent_id}/status`` sends status changes to."""

    async def send(self, *, key: bytes, value: bytes) -> Awaitable[object]:
        """Queue one message; awaiting the result waits for its delivery."""
        ...


class WorkerView(Protocol):
    """The attributes and methods of the worker that the HTTP view uses."""

    @property
    def app(self) -> AppT:
        """The Faust app: its router, canonical URL, HTTP client and rebalance count."""
        ...

    @property
    def settings(self) -> Settings:
        """The worker's settings."""
        ...

    @property
    def metrics(self) -> Metrics:
        """The worker's Prometheus metrics."""
        ...

    @property
    def agents(self) -> NamedTable:
        """The agents table."""
        ...

    @property
    def status_topic(self) -> StatusTopic:
        """The topic of status changes."""
        ...

    @property
    def agent_store(self) -> PartitionStore:
        """The agents table's records by key and partition."""
        ...

    @property
    def feed(self) -> PanelFeed:
        """Panels read back from the panels topic, for the SSE streams."""
        ...

    @property
    def last_event_at(self) -> float | None:
        """Latest event ``at`` (epoch seconds) this worker applied."""
        ...

    def ready(self) -> bool:
        """True once the tables are recovered, with no rebalance under way."""
        ...

    def active_partitions(self) -> frozenset[int]:
        """The partitions of the agents table this worker holds as active."""
        ...

    def agent_partition(self, key: bytes) -> int:
        """The partition of an agent's records."""
        ...

    def stored_agent(self, key: bytes) -> bytes | None:
        """The agent record stored under ``key`` here, if this worker holds it."""
        ...

    def stored_evidence(self, key: bytes) -> list[bytes]:
        """The evidence items of the agent stored under ``key`` here, in order."""
        ...

    def stored_sessions(self, key: bytes) -> list[list[int]]:
        """The summaries of the agent's ended sessions stored here, oldest first."""
        ...

    async def status_index(self) -> dict[bytes, tuple[int, str]]:
        """Partition and current status of every agent in the table."""
        ...

    async def count_statuses(self, partitions: frozenset[int]) -> Counter[str]:
        """Agents of ``partitions`` by current status."""
        ...
