"""The evidence and the history of one agent: ``GET /agents/{agent_id}/explain`` (spec
§9) and ``GET /agents/{agent_id}/sessions`` (spec §10), read like its panel."""

from __future__ import annotations

from aiohttp import web

from ..core.explain import Breakdown, explain
from ..core.sessions import history
from ..core.state import AgentState
from ..streaming.records import evidence_changes
from .access import guarded
from .agents import AgentReads, read_instant
from .worker import WorkerView

__all__ = ["AgentHistory"]


class AgentHistory:
    """The breakdown and the sessions of one agent, for the agent or a supervisor."""

    def __init__(self, worker: WorkerView, reads: AgentReads) -> None:
        self.worker = worker
        self.reads = reads
        self.gap = worker.settings.fold_config.offline_gap

    @guarded
    async def explanation(self, request: web.Request) -> web.Response:
        """``GET /agents/{agent_id}/explain[?at=]``: the evidence behind the panel."""
        return await self.reads.read(request, request.match_info["agent_id"], self.breakdown)

    @guarded
    async def sessions(self, request: web.Request) -> web.Response:
        """``GET /agents/{agent_id}/sessions[?from=&to=&at=]``: the agent's sessions."""
        return await self.reads.read(request, request.match_info["agent_id"], self.session_list)

    def breakdown(self, agent: AgentState, now: int, request: web.Request) -> Breakdown:
        """The breakdown of ``agent``'s panel at ``now`` from its stored evidence."""
        key = agent.agent_id.encode()
        return explain(agent, evidence_changes(self.worker.stored_evidence(key)), now)

    def session_list(self, agent: AgentState, now: int, request: web.Request) -> object:
        """``{"agent_id", "sessions"}``: the sessions overlapping ``?from=``/``?to=``."""
        since, until = read_instant(request, "from"), read_instant(request, "to")
        ended = self.worker.stored_sessions(agent.agent_id.encode())
        sessions = history(agent, ended, now, self.gap, since, until)
        return {"agent_id": agent.agent_id, "sessions": sessions}
