"""The change feed of projections: the ``agent-panels`` topic and its fan-out to SSE.

After the agent stage writes an agent, the agent is marked dirty; every
``panel_interval_ms`` the worker publishes the panel of each dirty agent it
owns to the compacted ``agent-panels`` topic (key agent id, value the panel
JSON), so each agent gets at most a few updates a second whatever the input
rate. Every worker also reads the whole topic from its end and hands each new
panel to the Server-Sent Events streams open for that agent, so a browser can
stream from whichever worker it reaches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from ..core.view import view
from ..streaming.records import AgentRecord
from .output import OutputBatches
from .tables import Placement

__all__ = ["PanelFeed", "PanelPublisher", "PanelUpdate"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PanelUpdate:
    """One record of the panels topic: its position (the SSE event id) and the panel JSON."""

    event_id: str
    panel: bytes


@dataclass(slots=True)
class PanelFeed:
    """The queues of the streams open on this worker, and the newest panel of their agents."""

    subscribers: dict[str, set[asyncio.Queue[PanelUpdate]]] = field(default_factory=dict)
    latest: dict[str, PanelUpdate] = field(default_factory=dict)
    """The newest panel seen of each agent with a stream open here, for the next stream of
    that agent to start from. Only for those agents: every worker reads every panel of the
    deployment, and keeping them all would cost each worker ~600 bytes an agent of the
    whole deployment (60 MiB at 100,000 agents). A stream that finds none reads the panel."""

    def subscribe(self, agent_id: str) -> asyncio.Queue[PanelUpdate]:
        """A queue that receives every new panel of ``agent_id``."""
        queue: asyncio.Queue[PanelUpdate] = asyncio.Queue(maxsize=64)
        self.subscribers.setdefault(agent_id, set()).add(queue)
        return queue

    def unsubscribe(self, agent_id: str, queue: asyncio.Queue[PanelUpdate]) -> None:
        """Stop sending to ``queue``."""
        queues = self.subscribers.get(agent_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self.subscribers[agent_id]
                self.latest.pop(agent_id, None)

    def offer(self, agent_id: str, update: PanelUpdate) -> None:
        """Hand a new panel to every open stream of the agent, and keep it for the next."""
        queues = self.subscribers.get(agent_id)
        if not queues:
            return
        self.latest[agent_id] = update
        for queue in queues:
            if queue.full():
                # A slow reader only needs the newest panel: drop the oldest.
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(update)

    async def follow(self, bootstrap_servers: str, topic: str) -> None:
        """Read ``topic`` from its current end, forever, offering each panel.

        Never raises: a failure is logged and the feed starts again a second later,
        so a broker hiccup cannot stop the worker.
        """
        while True:
            try:
                await self._follow_once(bootstrap_servers, topic)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reading %s failed; retrying in 1 s", topic)
            await asyncio.sleep(1.0)

    async def _follow_once(self, bootstrap_servers: str, topic: str) -> None:
        # No group: every worker reads every partition, starting at the end.
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap_servers,
            group_id=None,
            auto_offset_reset="latest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=1000)
                for records in batches.values():
                    for record in records:
                        self._offer_record(record)
        finally:
            await consumer.stop()

    def _offer_record(self, record: Any) -> None:
        key, value = record.key, record.value
        if key is None or value is None:
            return
        agent_id = key.decode()
        if agent_id in self.subscribers:  # most agents have no stream open on this worker
            self.offer(agent_id, PanelUpdate(f"{record.partition}-{record.offset}", value))


@dataclass(slots=True)
class PanelPublisher:
    """Publishes the panel of each agent the fold wrote, at most once a tick."""

    placement: Placement
    producer: Callable[[], Any]
    """The aiokafka producer to send with (looked up when a tick sends)."""
    topic: str
    dirty: dict[bytes, tuple[AgentRecord, int]] = field(default_factory=dict)
    """Agents written since their panel was last published: the record written last
    and its partition."""

    def written(self, key: bytes, record: AgentRecord, partition: int) -> None:
        """Note an agent the fold wrote: its panel is due."""
        self.dirty[key] = (record, partition)

    async def publish(self) -> None:
        """Publish the panel of every agent written since the last tick, once each."""
        if not self.dirty:
            return
        written, self.dirty = self.dirty, {}
        now = time.time_ns() // 1000
        # An agent whose partition moved away since is the new owner's to publish.
        mine = self.placement.active_partitions()
        outputs = OutputBatches()
        for key, (record, partition) in written.items():
            if partition in mine:
                outputs.add(self.topic, partition, key, orjson.dumps(view(record.agent, now)))
        await outputs.send(self.producer())
