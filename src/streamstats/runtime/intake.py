"""Input in whole fetches: what the fold is given instead of a stream of messages.

Faust delivers a message by wrapping its callback in a two-task ``wait_first``, running
it through the conductor and a channel queue, then a stream iterator: at a few thousand
events a second that machinery was most of a worker's time (BENCHMARKS.md). The
worker's consumer (``seam.IntakeConsumer``) keeps Faust's bookkeeping (read offsets,
offset gaps, flow control, the consumer generation, in-flight tracking and acks that
commits and rebalances rely on) and gives the records of the intake topics to
:attr:`Intake.handle` as one :class:`Fetch`, acked as a whole. Messages of other topics
take Faust's usual path. This module holds no Faust internals: they are all in
``seam.py``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from faust.types import TP

from ..streaming.batch import InputRecord

__all__ = ["Fetch", "Intake"]


class Fetch:
    """The records of one fetch, per partition in offset order, in flight until acked.

    Faust waits for every in-flight message before it lets a rebalance go on
    (``Consumer.wait_empty``); a fetch takes part in that wait as one message would.
    """

    __slots__ = ("__weakref__", "acked", "records", "refcount")

    def __init__(self, records: dict[TP, list[InputRecord]]) -> None:
        self.records = records
        self.acked = False
        self.refcount = 1  # Faust's wait_empty logs it for what it waits on

    def __repr__(self) -> str:
        counts = {f"{tp.topic}/{tp.partition}": len(found) for tp, found in self.records.items()}
        return f"<Fetch {counts}>"


@dataclass(frozen=True, slots=True)
class Intake:
    """Which topics arrive in fetches, and the coroutine that takes each fetch.

    ``handle`` must ack every fetch it is given (``seam.IntakeConsumer.ack_fetch``)
    once its effects are written; until then a rebalance waits for it, and no
    offset past it is committed.
    """

    topics: frozenset[str]
    handle: Callable[[Fetch], Awaitable[None]]
