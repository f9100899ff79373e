"""The worker's two stages over in-memory topics and stores, with no Kafka.

:class:`LocalPipeline` moves messages the way the worker does: a fetch takes runs of
consecutive messages from input partitions, the chat stage folds the chat runs and its
agent changes are appended to the agent-changes topic, the agent stage folds the status
and agent-changes runs, and every record a batch reached is written back once. Input
positions advance with each fetch and are committed only when asked, so a crash (back
to the committed positions) folds messages again, as a worker restarted by Kafka would.
The property tests and the benchmarks run the worker's fold through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from ..core.rules import DEFAULT_CONFIG, FoldConfig
from ..core.state import AgentChange, AgentState, ChatState
from .batch import DeadLetter, InputRecord, changes_by_agent, partition_for
from .item_index import ItemIndexedRecords
from .records import (
    AgentRecord,
    ChatRecord,
    decode_agent_record,
    decode_chat_record,
    decode_session,
    encode_changes,
    encode_forwarded,
    evidence_changes,
    evidence_prefix,
    is_item_key,
    session_prefix,
    session_start_of,
)
from .stages import Stage, agent_stage, chat_stage

__all__ = ["CHANGES", "CHATS", "STATUS", "LocalPipeline", "Message", "Position"]

STATUS: Final = "status"
CHATS: Final = "chats"
CHANGES: Final = "changes"

Position = tuple[str, int]
"""``(topic, partition)``."""


class Message(NamedTuple):
    """One message of an in-memory topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class _Partitions:
    """Encoded records by partition and key: what a worker's table store holds.

    Each partition indexes the items kept beside the agent records (evidence, session
    summaries) by their key prefix, so that a scan reads one agent's items, as RocksDB
    seeks."""

    def __init__(self) -> None:
        self.data: dict[int, ItemIndexedRecords] = {}

    def get(self, key: bytes, partition: int) -> bytes | None:
        found = self.data.get(partition)
        return None if found is None else found.get(key)

    def put(self, key: bytes, value: bytes | None, partition: int) -> None:
        """Store ``value`` under ``key``; None deletes it."""
        found = self.data.get(partition)
        if found is None:
            found = self.data[partition] = ItemIndexedRecords()
        if value is None:
            found.pop(key, None)
        else:
            found[key] = value

    def scan(self, prefix: bytes, partition: int) -> list[tuple[bytes, bytes]]:
        found = self.data.get(partition)
        return [] if found is None else found.scan(prefix)

    def values(self) -> list[bytes]:
        """Every agent or chat record (not the items kept beside them)."""
        return [
            value
            for found in self.data.values()
            for key, value in found.items()
            if not is_item_key(key)
        ]


@dataclass(slots=True)
class LocalPipeline:
    """Topics ``status``, ``chats`` and ``changes`` and the worker's two tables, in memory."""

    partitions: int = 4
    config: FoldConfig = DEFAULT_CONFIG
    logs: dict[Position, list[Message]] = field(default_factory=dict)
    read: dict[Position, int] = field(default_factory=dict)
    """Next offset to fetch, per input partition."""
    committed: dict[Position, int] = field(default_factory=dict)
    """Where a restarted worker resumes, per input partition."""
    forgotten: dict[Position, int] = field(default_factory=dict)
    """Messages dropped from the start of each log (:meth:`forget_committed`)."""
    dead_letters: list[tuple[InputRecord, DeadLetter]] = field(default_factory=list)
    published_sessions: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    """The ``agent-sessions`` topic as compaction leaves it: the latest summary per key."""
    chat_store: _Partitions = field(default_factory=_Partitions)
    agent_store: _Partitions = field(default_factory=_Partitions)
    _chats: Stage[ChatRecord] = field(init=False, repr=False)
    _agents: Stage[AgentRecord] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._chats = chat_stage()
        self._agents = agent_stage(self.partitions, CHANGES, self.config)

    def publish(
        self, topic: str, key: bytes | None, value: bytes, partition: int | None = None
    ) -> None:
        """Append a message, to the key's murmur2 partition unless ``partition`` is given."""
        if partition is None:
            partition = 0 if key is None else partition_for(key, self.partitions)
        where = (topic, partition)
        log = self.logs.setdefault(where, [])
        log.append(Message(topic, partition, self.forgotten.get(where, 0) + len(log), key, value))

    def unread(self) -> dict[Position, int]:
        """Messages not fetched yet, per input partition that has any."""
        forgotten, read = self.forgotten, self.read
        left = {
            where: forgotten.get(where, 0) + len(log) - read.get(where, 0)
            for where, log in self.logs.items()
        }
        return {where: count for where, count in left.items() if count}

    def forget_committed(self) -> None:
        """Drop the messages before the committed positions: a crash cannot reach them."""
        for where, log in self.logs.items():
            drop = self.committed.get(where, 0) - self.forgotten.get(where, 0)
            if drop > 0:
                del log[:drop]
                self.forgotten[where] = self.committed[where]

    def fetch(self, take: Mapping[Position, int], *, lose_changes: bool = False) -> None:
        """Fold one fetch: up to ``take[position]`` unread messages of each partition.

        ``lose_changes``: a crash cut the fetch's output short, so its records reached the
        store but its agent changes and sessions never reached their topics (call
        :meth:`crash` next).
        """
        runs: dict[Position, list[Message]] = {}
        for where, count in take.items():
            start = self.read.get(where, 0)
            first = start - self.forgotten.get(where, 0)
            run = self.logs.get(where, [])[first : first + count]
            if run:
                runs[where] = run
                self.read[where] = start + len(run)
        chat_runs = [run for (topic, _), run in runs.items() if topic == CHATS]
        agent_runs = [run for (topic, _), run in runs.items() if topic != CHATS]
        if chat_runs:
            result, writes = self._chats.run(self.chat_store, chat_runs)
            self.dead_letters.extend(result.dead_letters)
            for agent_id, items in changes_by_agent(result.sends).items():
                if not lose_changes:
                    self.publish(CHANGES, agent_id.encode(), encode_changes(items))
            for key, value, _, partition in writes:
                self.chat_store.put(key, value, partition)
        if agent_runs:
            result_agents, agent_writes = self._agents.run(self.agent_store, agent_runs)
            self.dead_letters.extend(result_agents.dead_letters)
            for key, value, _, partition in agent_writes:
                self.agent_store.put(key, value, partition)
            for key, evidence, partition in result_agents.items:
                self.agent_store.put(key, evidence, partition)
            for key, home, forwarded in result_agents.forwards:
                self.publish(CHANGES, key, encode_forwarded(forwarded), home)
            if not lose_changes:
                for key, summary in result_agents.sessions_out:
                    self.published_sessions[(key.decode(), summary[0])] = summary

    def fetch_all(self, per_partition: int) -> None:
        """Fetch until every partition, the agent changes included, is read."""
        while unread := self.unread():
            self.fetch(dict.fromkeys(unread, per_partition))

    def commit(self) -> None:
        """Commit every partition's position: a crash resumes from here."""
        self.committed = dict(self.read)

    def crash(self) -> None:
        """Restart: fetched but uncommitted messages are fetched and folded again."""
        self.read = dict(self.committed)

    def agents(self) -> dict[str, AgentState]:
        """Every agent as stored."""
        states = [decode_agent_record(value).agent for value in self.agent_store.values()]
        return {state.agent_id: state for state in states}

    def evidence(self, agent_id: str) -> list[AgentChange]:
        """The evidence items of one agent as stored, in key order."""
        key = agent_id.encode()
        partition = partition_for(key, self.partitions)
        items = self.agent_store.scan(evidence_prefix(key), partition)
        return evidence_changes(value for _, value in items)

    def sessions(self, agent_id: str) -> dict[int, list[int]]:
        """The summaries of the agent's ended sessions as stored, by start."""
        key = agent_id.encode()
        items = self.agent_store.scan(session_prefix(key), partition_for(key, self.partitions))
        return {session_start_of(item): decode_session(value) for item, value in items}

    def chats(self) -> dict[str, ChatState]:
        """Every chat as stored."""
        states = [decode_chat_record(value).chat for value in self.chat_store.values()]
        return {state.chat_id: state for state in states}
