"""Output batches against the real broker: order, splitting and the offsets they tell."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streamstats.runtime.kafka import delete_run_topics
from streamstats.runtime.output import OutputBatches

from .conftest import in_own_loop

pytestmark = pytest.mark.integration


async def send_and_read(servers: str, topic: str, per_partition: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 2, 1)])
    finally:
        await admin.close()
    # Small batches: the records of one partition need several.
    producer = AIOKafkaProducer(bootstrap_servers=servers, max_batch_size=1024)
    await producer.start()
    outputs = OutputBatches()
    for number in range(per_partition):
        for partition in (0, 1):
            value = f"{partition}:{number}:".encode() + b"x" * 100
            outputs.add(topic, partition, str(number).encode(), value, [("n", b"%d" % number)])
    try:
        deliveries = await outputs.send(producer)
        await asyncio.gather(*(delivery.future for delivery in deliveries))
    finally:
        await producer.stop()
    assert not outputs.records, "sent records are not kept"
    assert sum(delivery.records for delivery in deliveries) == 2 * per_partition
    assert len(deliveries) > 2, "each partition's records were split into several batches"
    for partition in (0, 1):
        mine = [delivery for delivery in deliveries if delivery.partition == partition]
        assert max(delivery.last_offset() for delivery in mine) == per_partition - 1

    consumer = AIOKafkaConsumer(bootstrap_servers=servers, auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
        seen: dict[int, list[tuple[int, bytes, list[tuple[str, bytes]]]]] = {0: [], 1: []}
        while sum(len(found) for found in seen.values()) < 2 * per_partition:
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                seen[tp.partition] += [
                    (record.offset, record.value or b"", list(record.headers)) for record in records
                ]
    finally:
        await consumer.stop()
    for partition, records in seen.items():
        assert [offset for offset, _, _ in records] == list(range(per_partition))
        assert [value.split(b":")[:2] for _, value, _ in records] == [
            [str(partition).encode(), str(number).encode()] for number in range(per_partition)
        ]
        assert [headers for _, _, headers in records] == [
            [("n", b"%d" % number)] for number in range(per_partition)
        ]


def test_output_batches_keep_order_split_when_full_and_tell_the_last_offset(
    bootstrap_servers: str,
) -> None:
    run = f"out{uuid.uuid4().hex[:8]}"
    try:
        # In a loop of its own: the browser tests leave Playwright's running on this thread.
        in_own_loop(lambda: send_and_read(bootstrap_servers, f"{run}.records", 50))
    finally:
        in_own_loop(lambda: delete_run_topics(bootstrap_servers, run))
