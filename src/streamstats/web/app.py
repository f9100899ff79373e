"""The HTTP view (spec §8) on the Faust web server: the composition root.

Every worker answers for every agent: a request for an agent held by another
worker is forwarded to it, headers included (``routing.py``). Responses say how
fresh they are in ``X-Streamstats-*`` headers, so the JSON body stays exactly the
panel (``responses.py``). Who may see what is checked in ``access.py``.
"""

from __future__ import annotations

import logging

from ..runtime.seam import web_router
from .access import Access
from .agents import AgentReads
from .history import AgentHistory
from .operations import Operations
from .pages import Pages
from .reports import SessionReports
from .responses import Freshness
from .routing import Routing
from .status import StatusChanges
from .stream import PanelStream
from .worker import WorkerView

__all__ = ["install_web"]

log = logging.getLogger(__name__)


def install_web(worker: WorkerView) -> None:
    """Register the HTTP routes of spec §8 on the worker's Faust web server."""
    settings = worker.settings
    access = Access.from_settings(settings)
    if not access.enabled:
        log.warning(
            "access control is off (STREAMSTATS_AUTH=off): anyone who reaches port %s "
            "can read every agent and change statuses",
            settings.web_port,
        )
    freshness = Freshness(worker)
    routing = Routing(worker, freshness)
    reads = AgentReads(worker, access, routing, freshness)
    agent_history = AgentHistory(worker, reads)
    reports = SessionReports(worker, access, routing, freshness)
    stream = PanelStream(worker, access, reads)
    status = StatusChanges(worker, access)
    operations = Operations(worker, access, freshness)
    pages = Pages(settings)

    # Plain aiohttp handlers on the Faust web server's application: Faust's View layer
    # (dispatch and per-request web sensors) cost ~10 % of a panel read.
    router = web_router(worker.app)
    router.add_get("/agents/{agent_id}", reads.agent)
    router.add_get("/agents/{agent_id}/explain", agent_history.explanation)
    router.add_get("/agents/{agent_id}/sessions", agent_history.sessions)
    router.add_get("/reports/sessions", reports.sessions)
    router.add_get("/agents/{agent_id}/stream", stream.stream)
    router.add_post("/agents/{agent_id}/status", status.change_status)
    router.add_get("/agents", reads.agent_list)
    router.add_get("/healthz", operations.health)
    router.add_get("/readyz", operations.ready)
    router.add_get("/metrics", operations.metrics)
    router.add_get("/panel/{agent_id}", pages.panel_page)
    router.add_get("/team", pages.team_page)
    router.add_get("/static/{name}", pages.static_file)
