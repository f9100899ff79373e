"""``POST /agents/{agent_id}/status``: a status change, sent to the status topic as an event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..core.events import AgentStatusChanged
from .access import Access, guarded
from .responses import error_response, json_response
from .worker import WorkerView

__all__ = ["StatusChanges", "StatusRequest"]


class StatusRequest(BaseModel):
    """Body of ``POST /agents/{agent_id}/status``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    status: Literal["online", "offline", "paused"]
    reason: str | None = Field(default=None, max_length=64)


def _problems(error: ValidationError) -> str:
    """Each problem of an invalid body as ``field: message``, joined by ``; ``."""
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'body'}: {problem['msg']}"
        for problem in error.errors(include_url=False)
    )


class StatusChanges:
    """The one write of spec §8."""

    def __init__(self, worker: WorkerView, access: Access) -> None:
        self.worker = worker
        self.access = access

    @guarded
    async def change_status(self, request: web.Request) -> web.Response:
        """Validate the body, send an ``agent.status_changed`` event, answer 202 once the
        broker has it."""
        agent_id = request.match_info["agent_id"]
        self.access.require_agent(request, agent_id)
        try:
            wanted = StatusRequest.model_validate_json(await request.read())
        except ValidationError as error:
            return error_response(400, _problems(error))
        try:
            event = AgentStatusChanged(
                event_id=uuid.uuid4().hex,
                type="agent.status_changed",
                at=datetime.now(UTC),
                agent_id=agent_id,
                status=wanted.status,
                reason=wanted.reason,
            )
        except ValidationError as error:
            return error_response(400, f"agent_id: {error.errors(include_url=False)[0]['msg']}")
        delivery = await self.worker.status_topic.send(
            key=agent_id.encode(), value=event.model_dump_json(exclude_none=True).encode()
        )
        await delivery
        return json_response({"event_id": event.event_id}, status=202)
