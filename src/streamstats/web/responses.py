"""JSON answers, errors, and the ``X-Streamstats-*`` headers that say how fresh they are.

Freshness goes in headers so that a JSON body stays exactly the panel (spec §8).
"""

from __future__ import annotations

import orjson
from aiohttp import web

from ..core.instant import MICROS_PER_SECOND, format_instant
from .worker import WorkerView

__all__ = ["Freshness", "error_response", "json_response"]


def json_response(
    body: object, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """``body`` as ``application/json``."""
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    """The JSON error ``{"error": message}``."""
    return json_response({"error": message}, status, headers)


class Freshness:
    """The worker's freshness headers, and the 503 it answers while it cannot serve."""

    def __init__(self, worker: WorkerView) -> None:
        self.worker = worker
        self.last_event_at: float | None = None
        self.last_event_text = ""

    def headers(self) -> dict[str, str]:
        """Which worker answers, whether it is recovering, and its latest event's instant."""
        last = self.worker.last_event_at
        if last != self.last_event_at:
            # Formatted once per change, not per request.
            self.last_event_at = last
            self.last_event_text = (
                "" if last is None else format_instant(round(last * MICROS_PER_SECOND))
            )
        return {
            "X-Streamstats-Worker": self.worker.settings.web_url,
            "X-Streamstats-Recovering": "false" if self.worker.ready() else "true",
            "X-Streamstats-Last-Event-At": self.last_event_text,
        }

    def unavailable(self) -> web.Response:
        """503: the worker is recovering or rebalancing; retry in a second."""
        return error_response(
            503,
            "the worker is recovering or rebalancing its tables; retry shortly",
            {"Retry-After": "1", **self.headers()},
        )
