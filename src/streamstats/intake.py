"""Input in whole fetches: a Faust consumer that hands each fetch of chosen topics to one
coroutine instead of pushing every message through a stream.

Faust delivers a message by wrapping its callback in a two-task ``wait_first``, running
it through the conductor and a channel queue, then a stream iterator: at a few thousand
events a second that machinery was most of a worker's time (BENCHMARKS.md). Here the
fetch loop keeps Faust's bookkeeping (read offsets, offset gaps, flow control, the
consumer generation, tracking and acks that commits and rebalances rely on) and gives
the messages of the intake topics to :attr:`Intake.handle` as one list. Messages of
other topics take Faust's usual path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

__all__ = ["Intake", "IntakeTransport"]


@dataclass(frozen=True, slots=True)
class Intake:
    """Which topics arrive in fetches, and the coroutine that takes each fetch.

    ``handle`` must ack every message it is given (``consumer.ack``) once its effects
    are written; until then a rebalance waits for it, and no offset past it is
    committed.
    """

    topics: frozenset[str]
    handle: Callable[[list[Message]], Awaitable[None]]


class IntakeConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer, with the fetch loop handing intake topics over in bulk."""

    async def _drain_messages(self, fetcher: Any) -> None:
        intake: Intake | None = getattr(self.transport, "intake", None)
        if intake is None:
            await super()._drain_messages(fetcher)
            return
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                records, active = await self._wait_next_records(timeout=1.0)
                # A fetch can return at once again and again; let other tasks run.
                await asyncio.sleep(0)
                if records and not self.should_stop:
                    batch = await self._admit(records, active, intake.topics)
                    if batch:
                        await intake.handle(batch)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise

    async def _admit(
        self, records: Any, active: set[TP] | None, topics: frozenset[str]
    ) -> list[Message]:
        """The fetched messages of intake topics, tracked as in flight; other topics'
        messages are delivered through Faust's callback on the way."""
        generation = self.app.consumer_generation_id
        read_offset = self._read_offset
        buffered = self._buffered_partitions
        acks_enabled_for = self.app.topics.acks_enabled_for
        to_message = self._to_message
        # In flight until acked: a rebalance waits for these (Consumer.wait_empty). Added
        # directly: track_message also runs Faust's per-message sensors (~5 % of the time).
        in_flight = self._unacked_messages
        monitor = self.app.monitor
        batch: list[Message] = []
        for tp, tp_records in records.items():
            if active is not None and tp not in active and tp not in buffered:
                continue
            monitor.track_tp_end_offset(tp, self.highwater(tp))
            # What Faust's stall check reads to tell a working stream from a stuck one.
            monitor.stream_inbound_time[tp] = time.monotonic()
            for record in tp_records:
                # A rebalance under way: leave the rest unread; it is fetched again.
                if not self.flow_active or self.app.consumer_generation_id != generation:
                    return batch
                offset = record.offset
                last = read_offset.get(tp)
                if last is not None and offset < last:
                    continue  # already delivered
                if last and offset - last > 1 and acks_enabled_for(tp.topic):
                    # Offsets with no message (transaction markers, compaction): the
                    # commit may pass over them.
                    await self._add_gap(tp, last + 1, offset)
                message = to_message(tp, record)
                if tp.topic in topics:
                    in_flight.add(message)
                    batch.append(message)
                else:
                    await self.callback(message)
                read_offset[tp] = offset
        return batch


class IntakeTransport(faust_aiokafka.Transport):
    """The aiokafka transport, making :class:`IntakeConsumer` consumers."""

    Consumer: ClassVar[Any] = IntakeConsumer
    intake: Intake | None = None
