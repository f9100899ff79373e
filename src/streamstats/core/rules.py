"""The rules: how one event changes the working records of a batch (spec §2, §3, §5).

Two folds, one per Kafka key, so that the streaming worker can run each next to its
own input partition:

* :func:`apply_chat_event` folds the chat topic, keyed by chat, into a chat record and
  returns the per-agent :class:`AgentChange` records the event causes;
* :func:`apply_agent_event` and :func:`apply_change` fold the status topic and those
  changes, keyed by agent, into an agent record.

Each changes the record it is given in place: a batch owns its records (freshly read
from a store, or a replay's own), so the per-event path is plain field arithmetic.
Agent changes commute with each other and carry their event time, so the agent record
does not depend on how the two topics interleave (spec §3). :class:`Projector` wires
both folds together for replay; the worker runs the same functions per partition
(``streamstats.streaming.batch``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from .events import (
    AgentEvent,
    AgentProfileChanged,
    AgentStatusChanged,
    ChatAssigned,
    ChatClosed,
    ChatEvent,
    ChatHeld,
    ChatReopened,
    ChatResumed,
    ChatTransferred,
    Status,
)
from .instant import MICROS_PER_SECOND
from .state import (
    AgentChange,
    AgentState,
    ChangeFields,
    ChatState,
    change_of,
    event_id_line,
    remember,
    remember_line,
)

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_OFFLINE_GAP",
    "MAX_SEGMENTS",
    "FoldConfig",
    "Projector",
    "amend_session",
    "apply_agent_event",
    "apply_change",
    "apply_chat_event",
    "carries_evidence",
    "counted_in_session",
    "counts_in_session",
    "reset_since_credit",
    "session_holding",
    "sum_in_session",
    "time_in_status",
]

DEFAULT_OFFLINE_GAP: Final = 6 * 3600 * MICROS_PER_SECOND
MAX_SEGMENTS: Final = 1000
"""Status segments kept per session; older ones are folded into totals."""

STATUS_SLOT: Final = {"online": 0, "offline": 1, "paused": 2}


@dataclass(frozen=True, slots=True)
class FoldConfig:
    """Rules that are settings rather than contract: the offline gap that ends a session."""

    offline_gap: int = DEFAULT_OFFLINE_GAP
    """Microseconds of continuous offline time that end a session (spec §2)."""


DEFAULT_CONFIG: Final = FoldConfig()


# --- chats -------------------------------------------------------------------------------


# Slots of AgentChange's fields, which _Changes fills in place.
_ACTIVE, _ON_HOLD, _CLOSED, _UNCREDIT, _MISSED, _HOLDS = 2, 3, 4, 5, 6, 7
_CLOSED_BY, _BY_PLATFORM = 10, 11


class _Changes:
    """Collects the per-agent changes of one chat event, one record per agent."""

    __slots__ = ("at", "fields", "tail")

    def __init__(self, at: int, chat_id: str, event_id: str) -> None:
        self.at = at
        # The fields of a new AgentChange after its agent id.
        self.tail = (at, 0, 0, 0, None, 0, 0, chat_id, event_id, None, False)
        # agent id -> the fields of its AgentChange; insertion order is the order the
        # agents were named in.
        self.fields: dict[str, list[object]] = {}

    def _of(self, agent_id: str) -> list[object]:
        found = self.fields.get(agent_id)
        if found is None:
            found = self.fields[agent_id] = [agent_id, *self.tail]
        return found

    def add(self, agent_id: str | None, slot: int, delta: int) -> None:
        if agent_id is not None:
            fields = self.fields.get(agent_id)
            if fields is None:
                fields = self.fields[agent_id] = [agent_id, *self.tail]
            fields[slot] += delta  # type: ignore[operator]

    def name(self, agent_id: str | None) -> None:
        """The event names the agent: it appears on the panel even when nothing changes."""
        if agent_id is not None:
            self._of(agent_id)

    def uncredit(self, agent_id: str, since: int, closed_by: str) -> None:
        """The agent loses the close credit it took at ``since``; ``closed_by`` took it."""
        fields = self._of(agent_id)
        fields[_UNCREDIT] = since
        fields[_CLOSED_BY] = closed_by

    def credit(self, agent_id: str, by_platform: bool) -> None:
        """The agent takes the chat's close credit (the platform's timer closed it)."""
        fields = self._of(agent_id)
        fields[_CLOSED] += 1  # type: ignore[operator]
        fields[_CLOSED_BY] = agent_id
        fields[_BY_PLATFORM] = by_platform

    def records(self) -> list[ChangeFields]:
        return list(self.fields.values())


def _take_ownership(chat: ChatState, agent_id: str, changes: _Changes) -> None:
    """``agent_id`` owns the chat from now on and it is open; a change of owner ends a hold."""
    if not chat.open:
        changes.add(agent_id, _ACTIVE, 1)
    elif chat.owner == agent_id:
        changes.name(agent_id)
        return
    else:
        changes.add(chat.owner, _ACTIVE, -1)
        if chat.on_hold:
            changes.add(chat.owner, _ON_HOLD, -1)
        changes.add(agent_id, _ACTIVE, 1)
    chat.open = True
    chat.owner = agent_id
    chat.on_hold = False


def _chat_assigned(chat: ChatState, event: ChatAssigned, changes: _Changes) -> None:
    _take_ownership(chat, event.agent_id, changes)


def _chat_reopened(chat: ChatState, event: ChatReopened, changes: _Changes) -> None:
    _take_ownership(chat, event.agent_id, changes)


def _chat_transferred(chat: ChatState, event: ChatTransferred, changes: _Changes) -> None:
    if event.reason == "no_agent_answer":
        changes.add(event.from_agent_id, _MISSED, 1)
    else:
        changes.name(event.from_agent_id)
    if chat.open:
        _take_ownership(chat, event.to_agent_id, changes)
    else:
        # A transfer does not open a chat, but it still says who the chat belongs to.
        changes.name(event.to_agent_id)
        chat.owner = event.to_agent_id


def _chat_held(chat: ChatState, event: ChatHeld, changes: _Changes) -> None:
    if not chat.open or chat.on_hold:
        changes.name(event.agent_id)
        return
    changes.add(event.agent_id, _HOLDS, 1)
    changes.add(chat.owner, _ON_HOLD, 1)
    chat.on_hold = True


def _chat_resumed(chat: ChatState, event: ChatResumed, changes: _Changes) -> None:
    changes.name(event.agent_id)
    if chat.open and chat.on_hold:
        changes.add(chat.owner, _ON_HOLD, -1)
        chat.on_hold = False


def _chat_closed(chat: ChatState, event: ChatClosed, changes: _Changes) -> None:
    changes.name(event.agent_id)
    owner = chat.owner
    if chat.open:
        changes.add(owner, _ACTIVE, -1)
        if chat.on_hold:
            changes.add(owner, _ON_HOLD, -1)
    target = event.agent_id if event.reason == "agent" or owner is None else owner
    if target is not None:
        if chat.credit_agent is not None:
            assert chat.credit_at is not None
            changes.uncredit(chat.credit_agent, chat.credit_at, target)
        changes.credit(target, event.reason == "client_inactive")
        chat.credit_agent, chat.credit_at = target, changes.at
    chat.open = False
    chat.on_hold = False


_ChatHandler = Callable[[ChatState, ChatEvent, _Changes], None]
_CHAT_HANDLERS: Final[dict[type, _ChatHandler]] = {
    ChatAssigned: _chat_assigned,  # type: ignore[dict-item]
    ChatTransferred: _chat_transferred,  # type: ignore[dict-item]
    ChatHeld: _chat_held,  # type: ignore[dict-item]
    ChatResumed: _chat_resumed,  # type: ignore[dict-item]
    ChatClosed: _chat_closed,  # type: ignore[dict-item]
    ChatReopened: _chat_reopened,  # type: ignore[dict-item]
}


def apply_chat_event(chat: ChatState, event: ChatEvent) -> list[ChangeFields] | None:
    """Fold one chat event into ``chat`` (in place); the agent changes it causes, as the
    fields of each :class:`AgentChange` (``state.change_of`` makes one of them).

    None for a duplicate ``event_id``: nothing changed.
    """
    if event.event_id in chat.recent_ids:
        return None
    changes = _Changes(event.at_micros, event.chat_id, event.event_id)
    _CHAT_HANDLERS[type(event)](chat, event, changes)
    remember(chat.recent_ids, event.event_id)
    return changes.records()


# --- agents ------------------------------------------------------------------------------


def counted_in_session(change: AgentChange, agent: AgentState) -> bool:
    """Whether the panel of the agent's current session counts ``change`` (spec §3):
    one timed at or after the session start, or any while there is nothing to reset."""
    start = agent.session_start
    return agent.session_index < 2 or (start is not None and change.at >= start)


def reset_since_credit(credit_at: int, session_index: int, session_start: int | None) -> bool:
    """Whether a reset of its holder happened after a close credit taken at ``credit_at``,
    judged by the holder's session number ``session_index`` begun at ``session_start``:
    the credit predates a session that is not the first. Losing such a credit is not
    a -1 (spec §3: the credit already vanished with the reset)."""
    return session_index > 1 and session_start is not None and credit_at < session_start


def counts_in_session(change: AgentChange, agent: AgentState) -> tuple[int, int, int]:
    """(closed, missed, holds) that ``change`` adds to the current session's panel.

    Called only for changes not earlier than the session start (or while there
    is nothing to reset yet), so only the lost credit needs judging: it counts
    unless a reset happened after the credit was taken, i.e. unless the credit
    predates the current session and that session is not the first.
    """
    closed = change.closed
    lost = change.uncredit_since
    if lost is not None and not reset_since_credit(lost, agent.session_index, agent.session_start):
        closed -= 1
    return closed, change.missed, change.holds


def sum_in_session(changes: Iterable[AgentChange], agent: AgentState) -> tuple[int, int, int]:
    """(closed, missed, holds) that ``changes`` add to the current session's panel."""
    closed = missed = holds = 0
    for change in changes:
        add_closed, add_missed, add_holds = counts_in_session(change, agent)
        closed, missed, holds = closed + add_closed, missed + add_missed, holds + add_holds
    return closed, missed, holds


def _reset_horizon(agent: AgentState, gap: int) -> int | None:
    """The earliest instant a future session start could reset the agent's counters.

    Changes timed before it are judged by the current session for good. None when
    there is no bound yet (no status event so far).
    """
    since = agent.since
    if since is None:
        return None
    if agent.session_index >= 1 and agent.gap_start is not None:
        return since  # the next transition to online starts a session
    if agent.session_index >= 1 and agent.status == "offline":
        assert agent.offline_since is not None
        return max(since, agent.offline_since + gap)
    # Going offline now and back after the gap is the soonest possible reset (or, with
    # no session yet, the first session must start and then end with a gap).
    return since + gap


def apply_change(agent: AgentState, change: AgentChange, config: FoldConfig) -> bool:
    """Fold a change caused by a chat event into ``agent`` (in place).

    True when the change counts in a session that has ended, not in the current one:
    only that session's summary can count it (``core.sessions.amend_session``).
    """
    agent.active += change.active
    agent.on_hold += change.on_hold
    if not (change.closed or change.uncredit_since is not None or change.missed or change.holds):
        return False
    horizon = _reset_horizon(agent, config.offline_gap)
    if horizon is None or change.at >= horizon:
        # A later status event may still start a session before this change: keep it apart.
        agent.pending.append(change)
    elif counted_in_session(change, agent):
        closed, missed, holds = counts_in_session(change, agent)
        agent.closed += closed
        agent.missed += missed
        agent.holds += holds
    else:
        return True
    return False


def time_in_status(agent: AgentState, until: int) -> list[int]:
    """Microseconds online, offline and paused in the session up to ``until``."""
    totals = list(agent.folded)
    starts, statuses = agent.segment_starts, agent.segment_statuses
    last = len(starts) - 1
    for index, begin in enumerate(starts):
        end = min(starts[index + 1] if index < last else until, until)
        if end > begin:
            totals[STATUS_SLOT[statuses[index]]] += end - begin
    return totals


def _ended_session(agent: AgentState, next_start: int) -> list[int]:
    """The summary of the agent's session as it ends, before the next one starts at
    ``next_start``: times up to its end, and every change timed before ``next_start``."""
    end = agent.gap_start
    assert end is not None
    assert agent.session_start is not None
    closed, missed, holds = sum_in_session(
        (change for change in agent.pending if change.at < next_start), agent
    )
    online, offline, paused = time_in_status(agent, end)
    return [
        agent.session_start,
        end,
        online,
        offline,
        paused,
        agent.closed + closed,
        agent.missed + missed,
        agent.holds + holds,
        agent.session_index,
    ]


def _settle(agent: AgentState, new_session: bool, gap: int) -> None:
    """Re-judge pending changes after the status moved to ``agent.since``.

    A new session (after the first) discards everything timed before its start.
    Pending changes earlier than the reset horizon can no longer be discarded by a
    later session start without being discarded whole, so they are summed.
    """
    since = agent.since
    assert since is not None
    pending = agent.pending
    if new_session and agent.session_index > 1:
        agent.closed = agent.missed = agent.holds = 0
        pending = [change for change in pending if change.at >= since]
    if not pending:
        agent.pending = pending
        return
    horizon = _reset_horizon(agent, gap)
    assert horizon is not None
    closed, missed, holds = sum_in_session(
        (change for change in pending if change.at < horizon), agent
    )
    agent.closed += closed
    agent.missed += missed
    agent.holds += holds
    agent.pending = [change for change in pending if change.at >= horizon]


def _move_clock(agent: AgentState, at: int, status: Status, reason: str | None, gap: int) -> bool:
    """Move the agent's clock to ``status`` at ``at``; whether that starts a session."""
    offline_since = agent.offline_since
    if agent.status == "offline" and status != "offline":
        assert offline_since is not None
        if agent.gap_start is None and at - offline_since >= gap:
            agent.gap_start = offline_since  # the session ends where the gap began
        offline_since = None
    elif status == "offline" and agent.status != "offline":
        offline_since = at
    new_session = (
        status == "online"
        and agent.status != "online"
        and (agent.session_index == 0 or agent.gap_start is not None)
    )
    if new_session:
        if agent.session_index >= 1:
            agent.last_session = _ended_session(agent, at)
        agent.session_start = at
        agent.session_index += 1
        agent.gap_start = None
        agent.segment_starts = [at]
        agent.segment_statuses = [status]
        agent.segment_reasons = [reason]
        agent.folded = [0, 0, 0]
    elif agent.session_start is not None:
        # A change of reason alone starts a segment too, so that the breakdown can name it.
        agent.segment_starts.append(at)
        agent.segment_statuses.append(status)
        agent.segment_reasons.append(reason)
        if len(agent.segment_starts) > MAX_SEGMENTS:
            _fold_oldest(agent)
    agent.status, agent.since, agent.reason = status, at, reason
    agent.offline_since = offline_since
    return new_session


def _fold_oldest(agent: AgentState) -> None:
    starts, statuses = agent.segment_starts, agent.segment_statuses
    agent.folded[STATUS_SLOT[statuses[0]]] += starts[1] - starts[0]
    del starts[0], statuses[0], agent.segment_reasons[0]


def _apply_status(agent: AgentState, event: AgentStatusChanged, gap: int) -> None:
    at = event.at_micros
    if agent.since is not None and at < agent.since:
        agent.late_status_events += 1
    elif event.status != agent.status or event.reason != agent.reason:
        new_session = _move_clock(agent, at, event.status, event.reason, gap)
        _settle(agent, new_session, gap)


def apply_agent_event(agent: AgentState, event: AgentEvent, config: FoldConfig) -> bool:
    """Fold a status or profile event into ``agent`` (in place).

    False for a duplicate ``event_id``: nothing changed.
    """
    line = event_id_line(event.event_id)
    if line in agent.recent_ids:
        return False
    if type(event) is AgentStatusChanged:
        _apply_status(agent, event, config.offline_gap)
    else:
        assert not isinstance(event, AgentStatusChanged)
        agent.name, agent.nickname = event.name, event.nickname
    remember_line(agent, line)
    return True


_AGENT_EVENTS: Final = frozenset({AgentStatusChanged, AgentProfileChanged})


# --- both --------------------------------------------------------------------------------


def carries_evidence(change: AgentChange) -> bool:
    """Whether a breakdown can show ``change`` (it is not a mere mention of the agent)."""
    return bool(
        change.active
        or change.on_hold
        or change.closed
        or change.uncredit_since is not None
        or change.missed
        or change.holds
    )


@dataclass(slots=True)
class Projector:
    """Folds a mixed stream of events into agent and chat records, as replay does.

    With ``evidence`` (a dictionary), every change an agent applies that a breakdown can
    show is also kept there, by agent id, in order (``streamstats.core.explain``). With
    ``sessions``, every ended session's summary, by agent id and session start.
    """

    config: FoldConfig = DEFAULT_CONFIG
    agents: dict[str, AgentState] = field(default_factory=dict)
    chats: dict[str, ChatState] = field(default_factory=dict)
    evidence: dict[str, list[AgentChange]] | None = None
    sessions: dict[str, dict[int, list[int]]] | None = None

    def apply_all(self, events: Iterable[AgentEvent | ChatEvent]) -> None:
        """Fold a batch of events, in order."""
        agents, chats, config, evidence = self.agents, self.chats, self.config, self.evidence
        sessions = self.sessions
        for event in events:
            if type(event) in _AGENT_EVENTS:
                assert isinstance(event, (AgentStatusChanged, AgentProfileChanged))
                agent = agents.get(event.agent_id)
                if agent is None:
                    agent = agents[event.agent_id] = AgentState(event.agent_id)
                last = agent.last_session
                apply_agent_event(agent, event, config)
                if sessions is not None and agent.last_session is not last:
                    _keep_session(sessions, agent)
                continue
            chat = chats.get(event.chat_id)  # type: ignore[union-attr]
            if chat is None:
                chat = chats[event.chat_id] = ChatState(event.chat_id)  # type: ignore[union-attr]
            for fields in apply_chat_event(chat, event) or ():  # type: ignore[arg-type]
                change = change_of(fields)
                agent = agents.get(change.agent_id)
                if agent is None:
                    agent = agents[change.agent_id] = AgentState(change.agent_id)
                ended = apply_change(agent, change, config)
                if evidence is not None and carries_evidence(change):
                    evidence.setdefault(change.agent_id, []).append(change)
                if ended and sessions is not None:
                    amend_session(sessions.get(agent.agent_id, {}), change)


def _keep_session(sessions: dict[str, dict[int, list[int]]], agent: AgentState) -> None:
    summary = agent.last_session
    assert summary is not None
    sessions.setdefault(agent.agent_id, {})[summary[0]] = summary


def session_holding(summaries: dict[int, list[int]], at: int) -> int | None:
    """The start of the ended session (of ``summaries``, by start) whose counters count a
    change timed ``at``: the latest begun by then, or the first for an earlier change."""
    starts = [start for start in summaries if start <= at]
    if starts:
        return max(starts)
    if summaries and summaries[min(summaries)][8] == 1:
        return min(summaries)  # the first session counts every change before it
    return None


def amend_session(summaries: dict[int, list[int]], change: AgentChange) -> int | None:
    """Count a change that arrived after its session ended in that session's summary
    (``summaries`` by session start, changed in place); the start of the session it
    changed, if any. A summary is replaced, never changed in place."""
    start = session_holding(summaries, change.at)
    if start is None:
        return None
    summary = summaries[start]
    index = summary[8]
    closed = change.closed
    lost = change.uncredit_since
    if lost is not None and not reset_since_credit(lost, index, start):
        closed -= 1
    if not (closed or change.missed or change.holds):
        return None
    counters = [summary[5] + closed, summary[6] + change.missed, summary[7] + change.holds]
    summaries[start] = [*summary[:5], *counters, index]
    return start
