"""What a fetch writes to Kafka, sent as one produce batch per topic partition.

aiokafka's ``send`` makes a future, a metadata record and an accumulator round per
message, and resolves every future when the broker answers; a fetch of a few thousand
events writes a few thousand records (changelogs, agent changes, panels), so that was a
large share of the worker's time. Here records are grouped per topic partition and
handed to the producer as closed batches (``create_batch``/``send_batch``): one future
per batch, which tells the offset of the batch's first record.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = ["Delivery", "OutputBatches"]

Headers = list[tuple[str, bytes]]
_NO_HEADERS: Headers = []  # the record builder takes a list; it only reads it


class Delivery(NamedTuple):
    """One batch handed to the producer: where it goes, how many records, and the future
    of its broker acknowledgement (an aiokafka ``RecordMetadata``)."""

    topic: str
    partition: int
    records: int
    future: asyncio.Future[Any]

    def last_offset(self) -> int:
        """The offset of the batch's last record; only once the future is done."""
        base: int = self.future.result().offset
        return base + self.records - 1


@dataclass(slots=True)
class OutputBatches:
    """Records collected for Kafka, per topic partition, in the order they were added."""

    records: dict[tuple[str, int], list[tuple[bytes | None, bytes | None, Headers]]]

    def __init__(self) -> None:
        self.records = {}

    def add(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        headers: Headers = _NO_HEADERS,
    ) -> None:
        """Queue one record for ``topic``/``partition`` (a None value: a tombstone)."""
        where = (topic, partition)
        queued = self.records.get(where)
        if queued is None:
            queued = self.records[where] = []
        queued.append((key, value, headers))

    async def send(self, producer: Any) -> list[Delivery]:
        """Hand everything queued to an aiokafka producer; the batches' deliveries.

        Records of one partition keep their order. Nothing is queued afterwards.
        """
        deliveries: list[Delivery] = []
        for (topic, partition), queued in self.records.items():
            batch = producer.create_batch()
            count = 0
            for key, value, headers in queued:
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    # Full: send it and start the next one, which takes any first record.
                    deliveries.append(await _send(producer, batch, topic, partition, count))
                    batch = producer.create_batch()
                    count = 0
                    batch.append(key=key, value=value, timestamp=None, headers=headers)
                count += 1
            deliveries.append(await _send(producer, batch, topic, partition, count))
        self.records = {}
        return deliveries


async def _send(producer: Any, batch: Any, topic: str, partition: int, count: int) -> Delivery:
    # Closed, the batch is sent at once rather than after the producer's linger time.
    batch.close()
    future = await producer.send_batch(batch, topic, partition=partition)
    return Delivery(topic, partition, count, future)
