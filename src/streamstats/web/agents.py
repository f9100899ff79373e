"""Reading panels: ``GET /agents/{agent_id}`` and the paged ``GET /agents``.

A single agent is read where its partition is active (forwarded there if that is
another worker); the list is this worker's page merged with every other worker's.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Callable, Mapping
from typing import Final, NamedTuple

import orjson
from aiohttp import web

from ..core.instant import format_instant, parse_instant
from ..core.state import AgentState
from ..core.view import Panel, view
from ..streaming.records import decode_agent_record
from .access import Access, guarded
from .responses import Freshness, error_response, json_response
from .routing import Routing
from .worker import WorkerView

__all__ = ["STATUSES", "AgentReads", "ListQuery", "Render", "read_at", "read_instant"]

STATUSES: Final = ("online", "offline", "paused")
PANELS_PER_SLICE: Final = 500
"""Panels built between two yields to the event loop in a list of agents."""
KEYS_PER_SLICE: Final = 20_000
"""Agents of the status index looked at between two yields to the event loop in a list."""


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


Render = Callable[[AgentState, int, web.Request], object]
"""What a read answers from an agent record, the instant read at and the request."""


def read_at(request: web.Request) -> int:
    """The instant to evaluate at (``?at=``, else now); raises ``ValueError`` naming ``at``."""
    found = read_instant(request, "at")
    return time.time_ns() // 1000 if found is None else found


def read_instant(request: web.Request, name: str) -> int | None:
    """The instant in query parameter ``name``, if given; ``ValueError`` naming it."""
    text = request.query.get(name)
    if text is None:
        return None
    try:
        return parse_instant(text)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from error


def _list_body(panels: list[Panel], more: bool, now: int, wanted: ListQuery) -> dict[str, object]:
    """The JSON body of ``GET /agents`` from every worker's page (sorts ``panels``)."""
    panels.sort(key=lambda panel: panel["agent_id"])
    body: dict[str, object] = {"agents": panels, "as_of": format_instant(now)}
    if wanted.limit is not None:
        # Each worker sent at most a page; together they may hold more than one.
        more = more or len(panels) > wanted.limit
        del panels[wanted.limit :]
        body["next"] = panels[-1]["agent_id"] if more else None
    return body


class AgentReads:
    """The panel reads of spec §8."""

    def __init__(
        self, worker: WorkerView, access: Access, routing: Routing, freshness: Freshness
    ) -> None:
        self.worker = worker
        self.access = access
        self.routing = routing
        self.freshness = freshness

    @guarded
    async def agent(self, request: web.Request) -> web.Response:
        """``GET /agents/{agent_id}``: one agent's panel."""
        return await self.read(request, request.match_info["agent_id"])

    async def read(
        self,
        request: web.Request,
        agent_id: str,
        render: Render | None = None,
        owner_path: str | None = None,
    ) -> web.Response:
        """The panel of ``agent_id`` as of ``?at=`` (or what ``render`` makes of its
        record), read here or where it is owned (asked at ``owner_path`` if given, else
        at the request's own path); ``render`` raises ``ValueError`` naming a bad query
        parameter."""
        self.access.require_agent(request, agent_id)
        try:
            now = read_at(request)
        except ValueError as error:
            return error_response(400, str(error))
        if not self.worker.ready():
            return self.freshness.unavailable()
        key = agent_id.encode()
        try:
            owner = self.routing.owner_url(key)
        except KeyError:
            return self.freshness.unavailable()
        if owner is not None:
            if self.routing.was_routed(request):
                # Routed here by a worker whose routing table disagrees with ours: a
                # rebalance is under way, and our copy may be a standby's.
                return self.freshness.unavailable()
            return await self.routing.forward(request, owner, owner_path)
        stored = self.worker.stored_agent(key)
        if stored is None:
            message = f"no agent {agent_id!r}: no event has named it"
            return error_response(404, message, self.freshness.headers())
        agent = decode_agent_record(stored).agent
        try:
            body = view(agent, now) if render is None else render(agent, now, request)
        except ValueError as error:
            return error_response(400, str(error))
        return json_response(body, headers=self.freshness.headers())

    @guarded
    async def agent_list(self, request: web.Request) -> web.Response:
        """``GET /agents``: every worker's agents, or one page of them (supervisors only)."""
        self.access.require_supervisor(request)
        try:
            wanted = ListQuery.from_query(request.query)
            now = read_at(request)
        except ValueError as error:
            return error_response(400, str(error))
        if not self.worker.ready():
            return self.freshness.unavailable()
        generation = self.routing.generation
        panels, more = await self.local_page(now, wanted)
        if not self.routing.was_routed(request):
            others = await self.other_pages(request)
            if isinstance(others, web.Response):
                return others
            panels.extend(others[0])
            more = more or others[1]
        if generation != self.routing.generation or not self.worker.ready():
            # Partitions moved while the pages were built: an agent could be in two of
            # them, or in none. Every member counts a rebalance before it ends anywhere.
            return self.freshness.unavailable()
        return json_response(
            _list_body(panels, more, now, wanted), headers=self.freshness.headers()
        )

    async def other_pages(self, request: web.Request) -> tuple[list[Panel], bool] | web.Response:
        """The other workers' pages of the list and whether more follow, or the first
        answer other than 200 that one of them gave."""
        answers = await asyncio.gather(
            *(self.routing.forward(request, url) for url in self.routing.other_workers())
        )
        panels: list[Panel] = []
        more = False
        for answer in answers:
            if answer.status != 200:
                return answer
            assert isinstance(answer.body, bytes)
            page = orjson.loads(answer.body)
            panels.extend(page["agents"])
            more = more or page.get("next") is not None
        return panels, more

    async def local_page(self, now: int, wanted: ListQuery) -> tuple[list[Panel], bool]:
        """This worker's page of ``wanted``, sorted by agent id, and whether more follow.

        Agents are chosen from the status index, so only the page's records are decoded;
        the work is done in slices so that a big table does not hold up the fold and
        other requests (100,000 panels take seconds).
        """
        chosen = await self.choose(wanted)
        limit = wanted.limit
        if limit is None:
            chosen.sort()
        else:
            chosen = heapq.nsmallest(limit + 1, chosen)
        more = limit is not None and len(chosen) > limit
        return await self.build_panels(chosen[:limit], now, wanted.status), more

    async def choose(self, wanted: ListQuery) -> list[tuple[bytes, int]]:
        """Key and partition of this worker's agents that ``wanted`` asks for, unsorted."""
        index = list((await self.worker.status_index()).items())
        mine = self.worker.active_partitions()
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
        return chosen

    async def build_panels(
        self, chosen: list[tuple[bytes, int]], now: int, status: str | None
    ) -> list[Panel]:
        """The panels of the ``chosen`` agents at ``now`` still in ``status``, in order."""
        panels: list[Panel] = []
        for count, (key, partition) in enumerate(chosen, start=1):
            stored = self.worker.agent_store.get(key, partition)
            if stored is not None:
                panel = view(decode_agent_record(stored).agent, now)
                if status in (None, panel["status"]["current"]):
                    panels.append(panel)
            if count % PANELS_PER_SLICE == 0:
                await asyncio.sleep(0)
        return panels
