"""``GET /agents/{agent_id}/stream``: an agent's panel as Server-Sent Events.

Every worker follows the panels topic, so any worker can stream any agent: the panel
now, then every change, with heartbeats while nothing changes.
"""

from __future__ import annotations

import asyncio
from typing import Final, cast
from urllib.parse import quote

from aiohttp import web

from .access import Access, guarded
from .agents import AgentReads
from .worker import PanelUpdate, WorkerView

__all__ = ["HEARTBEAT_SECONDS", "PanelStream"]

HEARTBEAT_SECONDS: Final = 15.0


def _sse(update: PanelUpdate) -> bytes:
    return b"id: " + update.event_id.encode() + b"\nevent: panel\ndata: " + update.panel + b"\n\n"


class PanelStream:
    """The SSE stream of spec §8."""

    def __init__(self, worker: WorkerView, access: Access, reads: AgentReads) -> None:
        self.worker = worker
        self.access = access
        self.reads = reads

    @guarded
    async def stream(self, request: web.Request) -> web.StreamResponse:
        """Server-Sent Events: the agent's panel now, then every change, with heartbeats."""
        agent_id = request.match_info["agent_id"]
        self.access.require_agent(request, agent_id)
        feed = self.worker.feed
        queue = feed.subscribe(agent_id)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        try:
            await response.prepare(cast(web.BaseRequest, request))
            await response.write(b"retry: 2000\n\n")
            latest = feed.latest.get(agent_id)
            if latest is None:
                await self.send_snapshot(request, agent_id, response)
            elif latest.event_id != request.headers.get("Last-Event-ID"):
                await response.write(_sse(latest))
            while not self.worker.app.should_stop:
                try:
                    update = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    await response.write(b": heartbeat\n\n")
                    continue
                await response.write(_sse(update))
        except ConnectionResetError:
            pass
        finally:
            feed.unsubscribe(agent_id, queue)
        return response

    async def send_snapshot(
        self, request: web.Request, agent_id: str, response: web.StreamResponse
    ) -> None:
        """The current panel, read through the usual (possibly forwarded) GET: the owner
        is asked for ``/agents/{agent_id}``, not for another stream."""
        panel_path = f"/agents/{quote(agent_id, safe='')}"
        answer = await self.reads.read(request, agent_id, owner_path=panel_path)
        if answer.status == 200 and isinstance(answer.body, bytes):
            await response.write(_sse(PanelUpdate("snapshot", answer.body)))
