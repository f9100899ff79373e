"""For operators: ``GET /healthz``, ``GET /readyz`` and the Prometheus ``GET /metrics``."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .access import Access, guarded
from .agents import STATUSES
from .responses import Freshness, json_response
from .worker import WorkerView

__all__ = ["Operations"]


class Operations:
    """Liveness, readiness and metrics of this worker."""

    def __init__(self, worker: WorkerView, access: Access, freshness: Freshness) -> None:
        self.worker = worker
        self.access = access
        self.freshness = freshness

    async def health(self, request: web.Request) -> web.Response:
        """``GET /healthz``: the process answers."""
        return json_response({"status": "ok"})

    async def ready(self, request: web.Request) -> web.Response:
        """``GET /readyz``: 200 once the tables are recovered, 503 before and meanwhile."""
        if self.worker.ready():
            return json_response({"status": "ready"}, headers=self.freshness.headers())
        return json_response({"status": "recovering"}, status=503, headers={"Retry-After": "1"})

    @guarded
    async def metrics(self, request: web.Request) -> web.Response:
        """``GET /metrics``: the worker's metrics, with the agents gauges brought up to date
        (supervisors only when ``metrics_auth`` is set)."""
        worker = self.worker
        if worker.settings.metrics_auth:
            self.access.require_supervisor(request)
        metrics = worker.metrics
        if worker.ready():
            by_status = await worker.count_statuses(worker.active_partitions())
            for status in (*STATUSES, "unknown"):
                metrics.agents_by_status.labels(status).set(by_status[status])
            metrics.table_entries.labels("agents").set(by_status.total())
        return web.Response(
            body=generate_latest(metrics.registry),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )
