"""What the agents table keeps beside the agent records: evidence and session summaries.

Both are kept under keys no agent id can have (``records.evidence_key``,
``records.session_key``), in the agent's partition, and written in the same changelog
batch as the record: a crash keeps or loses a record and its items together.

* **Evidence** (spec §9): every agent-changes message an agent applied. When a session
  starts over, the agent's evidence is compacted to what a breakdown can still show.
* **Sessions** (spec §10): the summary of every ended session, amended when a chat
  event that belongs to it arrives later, published to the ``agent-sessions`` topic
  each time, and dropped once it ended longer than the retention before the newest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from ..core.explain import compact_positions
from ..core.instant import MICROS_PER_SECOND
from ..core.rules import amend_session, session_holding
from ..core.state import AgentChange
from .batch import BatchResult, RecordStore
from .records import (
    AgentRecord,
    SourcedChange,
    decode_evidence,
    decode_session,
    encode_changes,
    encode_session,
    evidence_prefix,
    item_prefix,
    session_key,
    session_prefix,
    session_start_of,
)

__all__ = ["DEFAULT_SESSION_RETENTION", "compact_evidence", "settle_items", "settle_sessions"]

DEFAULT_SESSION_RETENTION: Final = 90 * 24 * 3600 * MICROS_PER_SECOND
"""How long an ended session is kept, by default: 90 days."""


def settle_items(
    store: RecordStore, result: BatchResult[AgentRecord], session_retention: int
) -> None:
    """After the agent fold: the item writes a batch asks for (in ``result.items``)."""
    compact_evidence(store, result)
    settle_sessions(store, result, session_retention)


def compact_evidence(store: RecordStore, result: BatchResult[AgentRecord]) -> None:
    """Add to ``result.items`` the writes that compact the evidence of every agent
    whose session started over (``core.explain.compact_positions``): items deleted, or
    cut down to the changes (and parts of them) a later breakdown still shows."""
    if not result.sessions_started:
        return
    written: dict[bytes, dict[bytes, bytes | None]] = {}  # the batch's items, by prefix
    for item, value, _ in result.items:
        written.setdefault(item_prefix(item), {})[item] = value
    for key in result.sessions_started:
        record, partition = result.written[key]
        prefix = evidence_prefix(key)
        items: dict[bytes, bytes | None] = dict(store.scan(prefix, partition))
        items.update(written.get(prefix, {}))
        owners: list[bytes] = []
        sourced: list[SourcedChange] = []
        for item, value in sorted(items.items()):
            for one in decode_evidence(value) if value is not None else ():
                owners.append(item)
                sourced.append(one)
        kept = compact_positions(record.agent, [change for _, _, change in sourced])
        rewritten: dict[bytes, list[SourcedChange]] = {item: [] for item in owners}
        changed: set[bytes] = set()
        for index, item in enumerate(owners):
            chat_partition, chat_offset, change = sourced[index]
            found = kept.get(index)
            if found is not change:
                changed.add(item)
            if found is not None:
                rewritten[item].append((chat_partition, chat_offset, found))
        for item in sorted(changed):
            left = rewritten[item]
            result.items.append((item, encode_changes(left) if left else None, partition))


def settle_sessions(store: RecordStore, result: BatchResult[AgentRecord], retention: int) -> None:
    """Store the sessions that ended in the batch, amend them with late changes, and
    name in ``result.sessions_out`` every summary to publish (new, amended or folded
    again after a crash)."""
    touched: dict[bytes, _SessionWork] = {}
    for key, summary in result.ended_sessions:
        touched.setdefault(key, _SessionWork()).ended.append(summary)
    for key, change in result.late_changes:
        touched.setdefault(key, _SessionWork()).late.append(change)
    for key, instant in result.resend_sessions:
        touched.setdefault(key, _SessionWork()).resend.append(instant)
    for key in sorted(touched):
        _settle_agent_sessions(store, result, key, touched[key], retention)


@dataclass(slots=True)
class _SessionWork:
    """What a batch asks of one agent's sessions."""

    ended: list[list[int]] = field(default_factory=list)
    late: list[AgentChange] = field(default_factory=list)
    resend: list[int] = field(default_factory=list)


def _settle_agent_sessions(
    store: RecordStore,
    result: BatchResult[AgentRecord],
    key: bytes,
    work: _SessionWork,
    retention: int,
) -> None:
    partition = result.written[key][1]
    summaries = {
        session_start_of(item): decode_session(value)
        for item, value in store.scan(session_prefix(key), partition)
    }
    stored = dict(summaries)
    for summary in work.ended:
        summaries[summary[0]] = summary
    for change in work.late:
        amend_session(summaries, change)
    out = {start for start, summary in summaries.items() if stored.get(start) is not summary}
    for instant in work.resend:
        holding = session_holding(summaries, instant)
        if holding is not None:
            out.add(holding)
    newest = max(summaries, default=0)
    for start in sorted(summaries):
        expired = summaries[start][1] < newest - retention
        if expired and start in stored:
            result.items.append((session_key(key, start), None, partition))
        elif not expired and start in out:
            summary = summaries[start]
            if stored.get(start) is not summary:
                result.items.append((session_key(key, start), encode_session(summary), partition))
            result.sessions_out.append((key, summary))
