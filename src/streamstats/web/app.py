"""The HTTP view (spec §8) on the Faust web server.

Every worker answers for every agent: a request for an agent held by another
worker is forwarded to it, headers included. Responses say how fresh they are
in ``X-Streamstats-*`` headers, so the JSON body stays exactly the panel.
"""

from __future__ import annotations

import asyncio
import heapq
import html
import logging
import time
import uuid
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from importlib import resources
from typing import Final, Literal, NamedTuple, cast

import orjson
from aiohttp import ClientError, web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..core.events import AgentStatusChanged
from ..core.instant import MICROS_PER_SECOND, format_instant, parse_instant
from ..core.view import Panel, view
from ..runtime.panels import PanelUpdate
from ..runtime.seam import web_router
from ..streaming.records import decode_agent_record
from .auth import COOKIE, Authenticator, AuthError, Identity
from .worker import WorkerView

__all__ = ["install_web"]

log = logging.getLogger(__name__)

ROUTED_HEADER: Final = "X-Streamstats-Routed"
HEARTBEAT_SECONDS: Final = 15.0
STATUSES: Final = ("online", "offline", "paused")
PANELS_PER_SLICE: Final = 500
"""Panels built between two yields to the event loop in a list of agents."""
KEYS_PER_SLICE: Final = 20_000
"""Agents of the status index looked at between two yields to the event loop in a list."""


class StatusRequest(BaseModel):
    """Body of ``POST /agents/{agent_id}/status``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    status: Literal["online", "offline", "paused"]
    reason: str | None = Field(default=None, max_length=64)


class ListQuery(NamedTuple):
    """What ``GET /agents`` asks for: a status, and optionally one page of the list."""

    status: str | None = None
    after: str | None = None
    """Only agents whose id sorts after this one: the ``next`` of the page before."""
    limit: int | None = None
    """At most this many agents; None: all of them."""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> ListQuery:
        """Read ``status``, ``after`` and ``limit``; raise ``ValueError`` naming a bad one."""
        status = query.get("status")
        if status is not None and status not in STATUSES:
            raise ValueError(f"status: must be one of {', '.join(STATUSES)}, not {status!r}")
        limit_text = query.get("limit")
        limit = None
        if limit_text is not None:
            if not (limit_text.isascii() and limit_text.isdigit()) or int(limit_text) < 1:
                raise ValueError(f"limit: must be a whole number of 1 or more, not {limit_text!r}")
            limit = int(limit_text)
        return cls(status, query.get("after"), limit)


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return _json({"error": message}, status, headers)


def _now_micros() -> int:
    return time.time_ns() // 1000


class _Api:
    def __init__(self, topology: WorkerView) -> None:
        self.topology = topology
        self.app = topology.app
        self.table = topology.agents
        settings = topology.settings
        self.authenticator = (
            None
            if settings.auth == "off"
            else Authenticator.from_settings(settings.jwt_secret, settings.jwt_public_key_file)
        )
        self.last_event_at: float | None = None
        self.last_event_text = ""

    # --- access control ------------------------------------------------------------------

    @staticmethod
    def token(request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header[len("Bearer ") :].strip()
        return request.cookies.get(COOKIE) or request.query.get("token")

    def identify(self, request: web.Request) -> Identity | None:
        """The caller, or None when access control is off; raises :class:`AuthError`."""
        if self.authenticator is None:
            return None
        return self.authenticator.identify(self.token(request))

    def require_agent(self, request: web.Request, agent_id: str) -> None:
        identity = self.identify(request)
        if identity is not None and not identity.may_see(agent_id):
            raise AuthError(403, f"{identity.agent_id} may not see the data of agent {agent_id!r}")

    def require_supervisor(self, request: web.Request) -> None:
        identity = self.identify(request)
        if identity is not None and identity.role != "supervisor":
            raise AuthError(403, "only supervisors may see every agent")

    # --- freshness and ownership ---------------------------------------------------------

    def freshness(self) -> dict[str, str]:
        last = self.topology.last_event_at
        if last != self.last_event_at:
            # Formatted once per change, not per request.
            self.last_event_at = last
            self.last_event_text = (
                "" if last is None else format_instant(round(last * MICROS_PER_SECOND))
            )
        return {
            "X-Streamstats-Worker": self.topology.settings.web_url,
            "X-Streamstats-Recovering": "false" if self.topology.ready() else "true",
            "X-Streamstats-Last-Event-At": self.last_event_text,
        }

    def unavailable(self) -> web.Response:
        return _error(
            503,
            "the worker is recovering or rebalancing its tables; retry shortly",
            {"Retry-After": "1", **self.freshness()},
        )

    def owner_url(self, key: bytes) -> str | None:
        """The owner's URL, or None when this worker owns ``key``; KeyError if nobody does
        (or the routing table names this worker for a partition it does not hold)."""
        if self.topology.agent_partition(key) in self.topology.active_partitions():
            return None
        url = self.app.router.key_store(self.table.name, key)
        mine = self.app.conf.canonical_url
        if (url.host, url.port) == (mine.host, mine.port):
            raise KeyError(key)
        return str(url)

    async def forward(self, request: web.Request, base_url: str) -> web.Response:
        target = f"{base_url.rstrip('/')}{request.rel_url}"
        headers = {ROUTED_HEADER: "1"}
        token = self.token(request)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            async with self.app.http_client.request(
                request.method, target, headers=headers
            ) as answer:
                body = await answer.read()
                headers = {
                    name: value
                    for name, value in answer.headers.items()
                    if name.startswith("X-Streamstats-") or name == "Retry-After"
                }
                return web.Response(
                    body=body,
                    status=answer.status,
                    headers=headers,
                    content_type=answer.content_type,
                )
        except (ClientError, TimeoutError, RuntimeError):
            # RuntimeError: the HTTP client session closed because this worker is stopping.
            return self.unavailable()

    # --- reads ---------------------------------------------------------------------------

    @staticmethod
    def read_at(request: web.Request) -> int:
        """The instant to evaluate at; raises ``ValueError`` naming the ``at`` parameter."""
        text = request.query.get("at")
        if text is None:
            return _now_micros()
        try:
            return parse_instant(text)
        except ValueError as error:
            raise ValueError(f"at: {error}") from error

    def local_panel(self, key: bytes, now: int) -> Panel | None:
        stored = self.topology.stored_agent(key)
        return None if stored is None else view(decode_agent_record(stored).agent, now)

    async def local_panels(self, now: int, wanted: ListQuery) -> tuple[list[Panel], bool]:
        """This worker's page of ``wanted``, sorted by agent id, and whether more follow.

        Agents are chosen from the status index, so only the page's records are decoded;
        the work is done in slices so that a big table does not hold up the fold and
        other requests (100,000 panels take seconds).
        """
        index = list((await self.topology.status_index()).items())
        mine = self.topology.active_partitions()
        after = None if wanted.after is None else wanted.after.encode()
        status = wanted.status
        chosen: list[tuple[bytes, int]] = []
        for count, (key, (partition, current)) in enumerate(index, start=1):
            # The table also holds standby copies of other workers' partitions.
            if (
                partition in mine
                and (after is None or key > after)  # UTF-8 keeps the order of code points
                and (status is None or current == status)
            ):
                chosen.append((key, partition))
            if count % KEYS_PER_SLICE == 0:
                await asyncio.sleep(0)
        limit = wanted.limit
        if limit is None:
            chosen.sort()
        else:
            chosen = heapq.nsmallest(limit + 1, chosen)
        more = limit is not None and len(chosen) > limit
        panels: list[Panel] = []
        for count, (key, partition) in enumerate(chosen[:limit], start=1):
            stored = self.topology.agent_store.get(key, partition)
            if stored is not None:
                panel = view(decode_agent_record(stored).agent, now)
                if status in (None, panel["status"]["current"]):
                    panels.append(panel)
            if count % PANELS_PER_SLICE == 0:
                await asyncio.sleep(0)
        return panels, more

    async def agent(self, request: web.Request, agent_id: str) -> web.Response:
        self.require_agent(request, agent_id)
        try:
            now = self.read_at(request)
        except ValueError as error:
            return _error(400, str(error))
        if not self.topology.ready():
            return self.unavailable()
        key = agent_id.encode()
        try:
            owner = self.owner_url(key)
        except KeyError:
            return self.unavailable()
        if owner is not None:
            if ROUTED_HEADER in request.headers:
                # Routed here by a worker whose routing table disagrees with ours: a
                # rebalance is under way, and our copy may be a standby's.
                return self.unavailable()
            return await self.forward(request, owner)
        panel = self.local_panel(key, now)
        if panel is None:
            return _error(404, f"no agent {agent_id!r}: no event has named it", self.freshness())
        return _json(panel, headers=self.freshness())

    async def agent_list(self, request: web.Request) -> web.Response:
        self.require_supervisor(request)
        try:
            wanted = ListQuery.from_query(request.query)
            now = self.read_at(request)
        except ValueError as error:
            return _error(400, str(error))
        if not self.topology.ready():
            return self.unavailable()
        generation = self.app.rebalancing_count
        panels, more = await self.local_panels(now, wanted)
        if ROUTED_HEADER not in request.headers:
            mine = str(self.app.conf.canonical_url)
            others = [url for url in self.app.router.table_metadata(self.table.name) if url != mine]
            answers = await asyncio.gather(*(self.forward(request, url) for url in others))
            for answer in answers:
                if answer.status != 200:
                    return answer
                assert isinstance(answer.body, bytes)
                page = orjson.loads(answer.body)
                panels.extend(page["agents"])
                more = more or page.get("next") is not None
        if generation != self.app.rebalancing_count or not self.topology.ready():
            # Partitions moved while the pages were built: an agent could be in two of
            # them, or in none. Every member counts a rebalance before it ends anywhere.
            return self.unavailable()
        panels.sort(key=lambda panel: panel["agent_id"])
        body: dict[str, object] = {"agents": panels, "as_of": format_instant(now)}
        if wanted.limit is not None:
            # Each worker sent at most a page; together they may hold more than one.
            more = more or len(panels) > wanted.limit
            del panels[wanted.limit :]
            body["next"] = panels[-1]["agent_id"] if more else None
        return _json(body, headers=self.freshness())

    async def stream(self, request: web.Request, agent_id: str) -> web.StreamResponse:
        """Server-Sent Events: the agent's panel now, then every change, with heartbeats."""
        self.require_agent(request, agent_id)
        feed = self.topology.feed
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
            while not self.app.should_stop:
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
        """The current panel, read through the usual (possibly forwarded) GET."""
        answer = await self.agent(request, agent_id)
        if answer.status == 200 and isinstance(answer.body, bytes):
            await response.write(_sse(PanelUpdate("snapshot", answer.body)))

    # --- writes --------------------------------------------------------------------------

    async def change_status(self, request: web.Request, agent_id: str) -> web.Response:
        self.require_agent(request, agent_id)
        try:
            wanted = StatusRequest.model_validate_json(await request.read())
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in problem['loc']) or 'body'}: {problem['msg']}"
                for problem in error.errors(include_url=False)
            )
            return _error(400, problems)
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
            return _error(400, f"agent_id: {error.errors(include_url=False)[0]['msg']}")
        delivery = await self.topology.status_topic.send(
            key=agent_id.encode(), value=event.model_dump_json(exclude_none=True).encode()
        )
        await delivery
        return _json({"event_id": event.event_id}, status=202)

    # --- operations ----------------------------------------------------------------------

    async def metrics(self, request: web.Request) -> web.Response:
        if self.topology.settings.metrics_auth:
            self.require_supervisor(request)
        metrics = self.topology.metrics
        if self.topology.ready():
            by_status = await self.topology.count_statuses(self.topology.active_partitions())
            for status in (*STATUSES, "unknown"):
                metrics.agents_by_status.labels(status).set(by_status[status])
            metrics.table_entries.labels("agents").set(by_status.total())
        return web.Response(
            body=generate_latest(metrics.registry),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )


_STATIC_TYPES: Final = {".css": "text/css", ".js": "text/javascript", ".html": "text/html"}


def _static(name: str) -> bytes:
    return (resources.files("streamstats.web") / "static" / name).read_bytes()


def _page(request: web.Request, name: str, values: dict[str, str]) -> web.Response:
    text = _static(name).decode()
    for key, value in values.items():
        text = text.replace("{" + key + "}", html.escape(value, quote=True))
    page = web.Response(text=text, content_type="text/html")
    token = request.query.get("token")
    if token:
        # Set once from the link; the page's own requests then carry it.
        page.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
    return page


def _sse(update: PanelUpdate) -> bytes:
    return b"id: " + update.event_id.encode() + b"\nevent: panel\ndata: " + update.panel + b"\n\n"


async def _guarded(answer: Awaitable[web.StreamResponse]) -> web.StreamResponse:
    """The handler's answer, or the JSON 401/403 it was refused with."""
    try:
        return await answer
    except AuthError as error:
        return _error(error.status, error.message)


def install_web(topology: WorkerView) -> None:
    """Register the HTTP routes of spec §8 on the topology's Faust web server."""
    api = _Api(topology)
    app = topology.app
    if api.authenticator is None:
        log.warning(
            "access control is off (STREAMSTATS_AUTH=off): anyone who reaches port %s "
            "can read every agent and change statuses",
            topology.settings.web_port,
        )

    async def agent(request: web.Request) -> web.StreamResponse:
        return await _guarded(api.agent(request, request.match_info["agent_id"]))

    async def agent_stream(request: web.Request) -> web.StreamResponse:
        return await _guarded(api.stream(request, request.match_info["agent_id"]))

    async def change_status(request: web.Request) -> web.StreamResponse:
        return await _guarded(api.change_status(request, request.match_info["agent_id"]))

    async def agent_list(request: web.Request) -> web.StreamResponse:
        return await _guarded(api.agent_list(request))

    async def health(request: web.Request) -> web.StreamResponse:
        return _json({"status": "ok"})

    async def ready(request: web.Request) -> web.StreamResponse:
        if topology.ready():
            return _json({"status": "ready"}, headers=api.freshness())
        return _json({"status": "recovering"}, status=503, headers={"Retry-After": "1"})

    async def metrics(request: web.Request) -> web.StreamResponse:
        return await _guarded(api.metrics(request))

    links = {
        "faq_url": topology.settings.faq_url,
        "support_url": topology.settings.support_url,
    }

    async def panel_page(request: web.Request) -> web.StreamResponse:
        return _page(request, "panel.html", {"agent_id": request.match_info["agent_id"], **links})

    async def team_page(request: web.Request) -> web.StreamResponse:
        return _page(request, "team.html", {})

    async def static_file(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        suffix = name[name.rfind(".") :] if "." in name else ""
        if "/" in name or suffix not in _STATIC_TYPES:
            return _error(404, f"no static file {name!r}")
        try:
            body = _static(name)
        except FileNotFoundError:
            return _error(404, f"no static file {name!r}")
        return web.Response(body=body, content_type=_STATIC_TYPES[suffix])

    # Plain aiohttp handlers on the Faust web server's application: Faust's View layer
    # (dispatch and per-request web sensors) cost ~10 % of a panel read.
    router = web_router(app)
    router.add_get("/agents/{agent_id}", agent)
    router.add_get("/agents/{agent_id}/stream", agent_stream)
    router.add_post("/agents/{agent_id}/status", change_status)
    router.add_get("/agents", agent_list)
    router.add_get("/healthz", health)
    router.add_get("/readyz", ready)
    router.add_get("/metrics", metrics)
    router.add_get("/panel/{agent_id}", panel_page)
    router.add_get("/team", team_page)
    router.add_get("/static/{name}", static_file)
