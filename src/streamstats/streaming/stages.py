"""The worker's two stages: how each reads, folds and writes its records per fetch.

:class:`Stage` is the per-fetch loop the worker, the local pipeline and the benchmarks
share; :func:`chat_stage` and :func:`agent_stage` make the two the worker runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Generic

from ..core.rules import FoldConfig
from .batch import (
    BatchResult,
    InputRecord,
    R,
    RecordStore,
    fold_agent_batch,
    fold_chat_batch,
    partition_for,
)
from .items import DEFAULT_SESSION_RETENTION, settle_items
from .records import (
    AgentRecord,
    ChatRecord,
    decode_agent_record,
    decode_chat_record,
    encode_agent_record,
    encode_chat_record,
)

__all__ = ["Stage", "Write", "agent_stage", "chat_stage"]


Write = tuple[bytes, bytes, R, int]
"""``(key, encoded record, record, partition)``: one store write of a batch."""


@dataclass(frozen=True, slots=True)
class Stage(Generic[R]):
    """One keyed fold of the worker: how its records are read, folded and written.

    :meth:`run` is the per-fetch loop the worker, the local pipeline and the benchmarks
    share: each record a batch names is read and decoded once, the batch is folded, and
    each record it reached is encoded once.
    """

    name: str
    decode: Callable[[bytes], R]
    encode: Callable[[R], bytes]
    fold: Callable[[dict[bytes, R | None], Sequence[Sequence[InputRecord]]], BatchResult[R]]
    home: Callable[[bytes, int], int]
    """The partition of the store that holds a key's record, given a message's partition."""
    settle: Callable[[RecordStore, BatchResult[R]], None] | None = None
    """Run after the fold with the store: what a stage adds from records it did not read."""

    def run(
        self, store: RecordStore, runs: Sequence[Sequence[InputRecord]]
    ) -> tuple[BatchResult[R], list[Write[R]]]:
        """Fold ``runs`` (each one partition's messages, in offset order) against
        ``store``; the batch's result and the writes it asks for."""
        decode, home = self.decode, self.home
        records: dict[bytes, R | None] = {}
        for run in runs:
            for message in run:
                key = message.key
                if key is not None and key not in records:
                    data = store.get(key, home(key, message.partition))
                    records[key] = None if data is None else decode(data)
        result = self.fold(records, runs)
        if self.settle is not None:
            self.settle(store, result)
        encode = self.encode
        writes = [
            (key, encode(record), record, partition)
            for key, (record, partition) in result.written.items()
        ]
        return result, writes


def chat_stage() -> Stage[ChatRecord]:
    """The chat stage: the chat topic folded into chat records, each kept in the partition
    its chat's messages arrive in."""
    return Stage("chat", decode_chat_record, encode_chat_record, fold_chat_batch, _arrival)


def _arrival(key: bytes, partition: int) -> int:
    return partition


def agent_stage(
    partitions: int,
    changes_topic: str,
    config: FoldConfig,
    session_retention: int = DEFAULT_SESSION_RETENTION,
) -> Stage[AgentRecord]:
    """The agent stage: the status topic and the agent-changes topic folded into agent
    records, each kept in its agent's murmur2 partition (where the agent-changes topic
    brings its changes and its forwarded status messages), with the items kept beside
    them (``streaming.items``): evidence, and session summaries for
    ``session_retention`` microseconds."""
    return Stage(
        "agent",
        decode_agent_record,
        encode_agent_record,
        partial(
            fold_agent_batch, partitions=partitions, changes_topic=changes_topic, config=config
        ),
        partial(_murmur2_home, partitions=partitions),
        partial(settle_items, session_retention=session_retention),
    )


def _murmur2_home(key: bytes, partition: int, partitions: int) -> int:
    return partition_for(key, partitions)
