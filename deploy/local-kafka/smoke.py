"""Round trip through a Kafka broker with aiokafka: create a 3-partition topic,
produce one record to each partition, consume them back in a consumer group and
commit. Exits non-zero on any failure.

    deploy/local-kafka/kafka.sh start
    .venv/bin/python deploy/local-kafka/smoke.py      # uses $KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092
"""

import asyncio
import os
import sys
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
TOPIC = os.environ.get("SMOKE_TOPIC", "streamstats-smoke")
PARTITIONS = 3


async def main() -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        try:
            await admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])
        except TopicAlreadyExistsError:
            pass
        (desc,) = await admin.describe_topics([TOPIC])
        n = len(desc["partitions"])
    finally:
        await admin.close()
    if n != PARTITIONS:
        print(f"smoke: topic {TOPIC} has {n} partitions, want {PARTITIONS}", file=sys.stderr)
        return 1

    token = uuid.uuid4().hex
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for p in range(PARTITIONS):
            await producer.send_and_wait(TOPIC, f"{token}-{p}".encode(), key=b"smoke", partition=p)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=BOOTSTRAP,
        group_id=f"smoke-{token}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    t0 = time.monotonic()
    got: set[str] = set()
    await consumer.start()
    try:
        while len(got) < PARTITIONS and time.monotonic() - t0 < 30:
            for msgs in (await consumer.getmany(timeout_ms=1000)).values():
                got.update(m.value.decode() for m in msgs if m.value.decode().startswith(token))
        await consumer.commit()
    finally:
        await consumer.stop()
    if len(got) != PARTITIONS:
        print(f"smoke: consumed {sorted(got)}, want {PARTITIONS} records", file=sys.stderr)
        return 1
    print(f"smoke: ok, {PARTITIONS} records through {TOPIC} at {BOOTSTRAP} in {time.monotonic() - t0:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
