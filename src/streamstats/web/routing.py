"""Which worker owns an agent, and forwarding a request to it.

Every worker answers for every agent: a request for an agent held by another worker
is forwarded to that worker with the caller's token, and its answer is passed back
with its ``X-Streamstats-*`` headers.
"""

from __future__ import annotations

from typing import Final

from aiohttp import ClientError, web
from yarl import URL

from .access import bearer_token
from .responses import Freshness
from .worker import WorkerView

__all__ = ["ROUTED_HEADER", "Routing"]

ROUTED_HEADER: Final = "X-Streamstats-Routed"
"""Set on forwarded requests: the worker they reach answers them itself."""


class Routing:
    """The owners of the agents table's partitions, as Faust's router knows them."""

    def __init__(self, worker: WorkerView, freshness: Freshness) -> None:
        self.worker = worker
        self.app = worker.app
        self.freshness = freshness

    @staticmethod
    def was_routed(request: web.Request) -> bool:
        """Whether another worker forwarded ``request`` here."""
        return ROUTED_HEADER in request.headers

    @property
    def generation(self) -> int:
        """The rebalances so far: partitions may have moved when this changes."""
        return self.app.rebalancing_count

    def owner_url(self, key: bytes) -> str | None:
        """The owner's URL, or None when this worker owns ``key``; KeyError if nobody does
        (or the routing table names this worker for a partition it does not hold)."""
        partition = self.worker.agent_partition(key)
        if partition in self.worker.active_partitions():
            return None
        # Looked up in the assignment (the table's metadata names only its changelog
        # topic), not through Faust's key_store: that asks the producer's partitioner,
        # which fails with a TypeError while the producer's metadata lacks the topic.
        for url, topics in self.app.router.table_metadata(self.worker.agents.name).items():
            if any(partition in partitions for partitions in topics.values()):
                if url == str(self.app.conf.canonical_url):
                    break
                return str(url)
        raise KeyError(key)

    def other_workers(self) -> list[str]:
        """The URLs of the other workers that hold partitions of the agents table."""
        mine = str(self.app.conf.canonical_url)
        return [
            url for url in self.app.router.table_metadata(self.worker.agents.name) if url != mine
        ]

    async def forward(
        self, request: web.Request, base_url: str, path: str | None = None
    ) -> web.Response:
        """``request`` as the worker at ``base_url`` answers it (at ``path``, encoded, with
        the request's query, instead of its own path, if given); 503 if it cannot be asked."""
        rel_url = request.rel_url
        if path is not None:
            rel_url = URL.build(path=path, query_string=rel_url.raw_query_string, encoded=True)
        target = f"{base_url.rstrip('/')}{rel_url}"
        headers = {ROUTED_HEADER: "1"}
        token = bearer_token(request)
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
            return self.freshness.unavailable()
