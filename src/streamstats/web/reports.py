"""``GET /reports/sessions``: one row per agent-session in a range, for supervisors (§10).

Every worker reports the agents of its own partitions; the worker asked merges the
others' rows, as ``GET /agents`` merges pages. ``format=csv`` gives a file for a
spreadsheet or payroll; the workers exchange JSON.
"""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Final

import orjson
from aiohttp import web

from ..core.instant import format_instant, parse_instant
from ..core.sessions import SessionFigures, history
from ..core.view import display_name
from ..streaming.records import decode_agent_record
from .access import Access, guarded
from .agents import read_at, read_instant
from .responses import Freshness, error_response, json_response
from .routing import Routing
from .worker import WorkerView

__all__ = ["CSV_COLUMNS", "SessionReports", "sort_rows"]

CSV_COLUMNS: Final = (
    "agent_id",
    "name",
    "start",
    "end",
    "seconds",
    "online",
    "offline",
    "paused",
    "closed",
    "missed",
    "holds",
)
AGENTS_PER_SLICE: Final = 200
"""Agents reported between two yields to the event loop."""

Row = dict[str, object]


def _row(agent_id: str, name: str | None, session: SessionFigures) -> Row:
    return {
        "agent_id": agent_id,
        "name": name,
        "start": session["start"],
        "end": session["end"],
        "seconds": session["seconds"],
        **session["time"],
        **session["chats"],
    }


def sort_rows(rows: list[Row]) -> None:
    """Sort report rows in place by agent, then session start."""
    # Starts compare as instants: trimmed fractions ("…01.5Z" before "…01Z") misorder as text.
    rows.sort(key=lambda row: (str(row["agent_id"]), parse_instant(str(row["start"]))))


def _csv(rows: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(["" if row[column] is None else row[column] for column in CSV_COLUMNS])
    return out.getvalue()


class SessionReports:
    """The sessions report of every agent of the deployment."""

    def __init__(
        self, worker: WorkerView, access: Access, routing: Routing, freshness: Freshness
    ) -> None:
        self.worker = worker
        self.access = access
        self.routing = routing
        self.freshness = freshness
        self.gap = worker.settings.fold_config.offline_gap

    @guarded
    async def sessions(self, request: web.Request) -> web.Response:
        """``GET /reports/sessions?from=&to=[&format=csv]``: every agent-session that
        overlaps the range, sorted by agent and start."""
        self.access.require_supervisor(request)
        try:
            since, until, now = self._range(request)
        except ValueError as error:
            return error_response(400, str(error))
        wanted = request.query.get("format", "json")
        if wanted not in ("json", "csv"):
            return error_response(400, f"format: must be json or csv, not {wanted!r}")
        if not self.worker.ready():
            return self.freshness.unavailable()
        generation = self.routing.generation
        rows = await self.local_rows(since, until, now)
        if self.routing.was_routed(request):
            return json_response({"sessions": rows})
        others = await self.other_rows(request)
        if isinstance(others, web.Response):
            return others
        if generation != self.routing.generation or not self.worker.ready():
            return self.freshness.unavailable()  # partitions moved while the rows were read
        rows.extend(others)
        sort_rows(rows)
        if wanted == "csv":
            return web.Response(
                text=_csv(rows),
                content_type="text/csv",
                headers={
                    "Content-Disposition": 'attachment; filename="sessions.csv"',
                    **self.freshness.headers(),
                },
            )
        body = {"from": format_instant(since), "to": format_instant(until), "sessions": rows}
        return json_response(body, headers=self.freshness.headers())

    @staticmethod
    def _range(request: web.Request) -> tuple[int, int, int]:
        since, until = read_instant(request, "from"), read_instant(request, "to")
        if since is None or until is None:
            raise ValueError(
                "from and to are required: RFC 3339 instants such as 2026-11-25T00:00:00Z"
            )
        if until < since:
            raise ValueError("to: must not be before from")
        return since, until, read_at(request)

    async def local_rows(self, since: int, until: int, now: int) -> list[Row]:
        """The rows of the agents whose partitions this worker holds as active."""
        mine = self.worker.active_partitions()
        index = list((await self.worker.status_index()).items())
        rows: list[Row] = []
        for count, (key, (partition, _)) in enumerate(index, start=1):
            stored = self.worker.agent_store.get(key, partition) if partition in mine else None
            if stored is not None:
                agent = decode_agent_record(stored).agent
                name = display_name(agent.name, agent.nickname)
                ended = self.worker.stored_sessions(key)
                for session in history(agent, ended, now, self.gap, since, until):
                    rows.append(_row(agent.agent_id, name, session))
            if count % AGENTS_PER_SLICE == 0:
                await asyncio.sleep(0)
        return rows

    async def other_rows(self, request: web.Request) -> list[Row] | web.Response:
        """The other workers' rows, or the first answer other than 200 one of them gave."""
        answers = await asyncio.gather(
            *(self.routing.forward(request, url) for url in self.routing.other_workers())
        )
        rows: list[Row] = []
        for answer in answers:
            if answer.status != 200:
                return answer
            assert isinstance(answer.body, bytes)
            rows.extend(orjson.loads(answer.body)["sessions"])
        return rows
