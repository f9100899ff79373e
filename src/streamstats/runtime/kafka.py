"""Plain aiokafka helpers for the command line: topic setup and publishing events."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from ..core.events import AGENT_EVENT_TYPES
from ..core.instant import parse_instant
from ..settings import Settings

__all__ = [
    "LEADER_WAIT_SECONDS",
    "KafkaSetupError",
    "PublishReport",
    "delete_run_topics",
    "ensure_topics",
    "publish_lines",
    "read_offsets",
    "route_event",
]


class KafkaSetupError(RuntimeError):
    """The cluster cannot be used as configured; the message says what to do."""


async def delete_run_topics(bootstrap_servers: str, app_id: str) -> list[str]:
    """Delete the topics of one run: those named ``{app_id}.…`` or ``{app_id}-…`` (inputs
    named after the app id, internal topics, changelogs); their names."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        names = [
            name
            for name in await admin.list_topics()
            if name.startswith((f"{app_id}.", f"{app_id}-"))
        ]
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await admin.close()


LEADER_WAIT_SECONDS: Final = 30.0
"""How long :func:`ensure_topics` waits for the broker to lead, and serve, every partition
it made."""

_COMPACTED: Final = {"cleanup.policy": "compact"}
# The panels topic's configuration, and the one Faust gives a table's changelog topic.


async def ensure_topics(settings: Settings, changelogs: Sequence[str] = ()) -> None:
    """Create the input, internal and dead-letter topics if missing, and the tables'
    changelog topics named in ``changelogs``; check partition counts; return once the
    broker names a leader for every partition of every one of them, and the leaders of
    the topics it made answer requests.

    The broker would auto-create a missing topic with its default partition count at
    the first send, which breaks co-partitioning, so every topic is made here first.
    A worker's consumer group must not form before its changelog topics can be seen:
    Faust's assignor leaves out a topic the metadata lacks, and the worker would hold
    no table partition until the next metadata refresh, minutes later.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    try:
        await admin.start()
    except KafkaConnectionError as error:
        raise KafkaSetupError(
            f"cannot reach Kafka at {settings.bootstrap_servers}: {error}; start a broker "
            "(make kafka-up) or set STREAMSTATS_BOOTSTRAP_SERVERS"
        ) from error
    try:
        inputs = [settings.status_topic, settings.chat_topic, settings.changes_topic]
        outputs = [settings.dead_letter_topic, settings.panels_topic, settings.sessions_topic]
        configs = {name: _topic_configs(name, settings) for name in inputs + outputs}
        configs.update(dict.fromkeys(changelogs, _COMPACTED))
        existing = set(await admin.list_topics())
        missing = [name for name in configs if name not in existing]
        if missing:
            # Another worker may create them at the same moment.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(name, settings.partitions, 1, topic_configs=configs[name])
                        for name in missing
                    ]
                )
        deadline = time.monotonic() + LEADER_WAIT_SECONDS
        counts = await _led_partition_counts(
            admin, list(configs), settings.bootstrap_servers, deadline
        )
        if missing:
            await _await_leaders_serving(
                {name: counts[name] for name in missing}, settings.bootstrap_servers, deadline
            )
        for name in [*inputs, *changelogs]:
            if counts[name] != settings.partitions:
                raise KafkaSetupError(_wrong_count(name, counts[name], name in inputs, settings))
    finally:
        await admin.close()


def _wrong_count(name: str, count: int, is_input: bool, settings: Settings) -> str:
    """What to do about a topic whose partition count is not ``STREAMSTATS_PARTITIONS``."""
    if is_input:
        return (
            f"topic {name} has {count} partitions but "
            f"STREAMSTATS_PARTITIONS={settings.partitions}; all input topics need the "
            "same count, so set STREAMSTATS_PARTITIONS to match"
        )
    return (
        f"changelog topic {name} has {count} partitions but the input topics have "
        f"{settings.partitions}; a table's partitions follow its input's, so rebuild the "
        "tables: delete the worker's data folder and the app's changelog topics, or start "
        "under a new STREAMSTATS_APP_ID"
    )


def _topic_configs(name: str, settings: Settings) -> dict[str, str] | None:
    if name == settings.panels_topic:
        return dict(_COMPACTED)
    if name == settings.sessions_topic:
        retention_ms = settings.session_retention // 1000
        # Compacted, so each session keeps its latest figures; deleted after the retention.
        return {"cleanup.policy": "compact,delete", "retention.ms": str(retention_ms)}
    return None


async def _led_partition_counts(
    admin: AIOKafkaAdminClient, topics: list[str], servers: str, deadline: float
) -> dict[str, int]:
    """Partition count of each topic, once the broker names a leader for every partition
    of all of them (a topic just created takes a moment to show up)."""
    while True:
        # Every one exists (made above): the broker would auto-create a missing one.
        described = await admin.describe_topics(topics)
        led = {
            item["topic"]: len(item["partitions"])
            for item in described
            if item["error_code"] == 0
            and item["partitions"]
            and all(part["leader"] >= 0 for part in item["partitions"])
        }
        waiting = [name for name in topics if name not in led]
        if not waiting:
            return led
        if time.monotonic() > deadline:
            raise KafkaSetupError(
                f"Kafka at {servers} has no leader for every partition of "
                f"{', '.join(waiting)} after {LEADER_WAIT_SECONDS:g} s; check the broker's "
                "log, then start again"
            )
        await asyncio.sleep(0.1)


async def _await_leaders_serving(counts: dict[str, int], servers: str, deadline: float) -> None:
    """Return once the leader of every partition of these new topics answers requests.

    The metadata names a new partition's leader a moment before that broker takes the
    partition on; a send in between is refused (``NotLeaderForPartitionError``) and
    retried with a warning. Asking for the end offsets retries the same refusal quietly.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(name, index) for name, count in counts.items() for index in range(count)
        ]
        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
            await consumer.end_offsets(partitions)
    except TimeoutError as error:
        raise KafkaSetupError(
            f"Kafka at {servers} named leaders for {', '.join(counts)} but they did not "
            f"answer within {LEADER_WAIT_SECONDS:g} s; check the broker's log, then start again"
        ) from error
    finally:
        await consumer.stop()


def route_event(line: bytes, settings: Settings) -> tuple[str, bytes | None]:
    """(topic, key) for one JSON-lines event, as the platform would publish it."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        return settings.chat_topic, None
    if not isinstance(event, dict):
        return settings.chat_topic, None
    if event.get("type") in AGENT_EVENT_TYPES:
        key = event.get("agent_id")
        return settings.status_topic, key.encode() if isinstance(key, str) else None
    key = event.get("chat_id")
    return settings.chat_topic, key.encode() if isinstance(key, str) else None


@dataclass(slots=True)
class PublishReport:
    """What :func:`publish_lines` sent."""

    messages: int = 0
    seconds: float = 0.0


async def publish_lines(
    settings: Settings,
    lines: Iterable[bytes],
    speed: float | None = None,
    realtime: bool = False,
) -> PublishReport:
    """Publish JSON-lines events to their topics, keyed as spec §1 says.

    With ``speed``, events are paced by their ``at``: 1.0 is real time, 60.0 a
    minute per second. With ``realtime``, each event waits until the clock
    reaches its ``at`` (events in the past go at once).
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        linger_ms=5,
        max_batch_size=256 * 1024,
        acks="all",
        enable_idempotence=True,
    )
    try:
        await producer.start()
    except KafkaConnectionError as error:
        raise KafkaSetupError(
            f"cannot reach Kafka at {settings.bootstrap_servers}: {error}"
        ) from error
    report = PublishReport()
    started = time.monotonic()
    first_at: int | None = None
    try:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            topic, key = route_event(line, settings)
            if realtime:
                await _wait_until_due(line)
            elif speed is not None:
                first_at = await _pace(line, first_at, started, speed)
            await producer.send(topic, line, key=key)
            report.messages += 1
        await producer.flush()
    finally:
        await producer.stop()
    report.seconds = time.monotonic() - started
    return report


def _event_time(line: bytes) -> int | None:
    """The event's ``at`` in microseconds, or None for a line without a readable one."""
    try:
        return parse_instant(orjson.loads(line)["at"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


async def _sleep_until(moment: float, clock: Callable[[], float]) -> None:
    delay = moment - clock()
    if delay > 0:
        await asyncio.sleep(delay)


async def _wait_until_due(line: bytes) -> None:
    at = _event_time(line)
    if at is not None:
        await _sleep_until(at / 1_000_000, time.time)


async def _pace(line: bytes, first_at: int | None, started: float, speed: float) -> int | None:
    at = _event_time(line)
    if at is None:
        return first_at
    if first_at is None:
        return at
    await _sleep_until(started + (at - first_at) / 1_000_000 / speed, time.monotonic)
    return first_at


async def read_offsets(
    bootstrap_servers: str, topic: str, partition: int, start: int, end: int
) -> list[tuple[int, bytes | None, bytes | None]]:
    """The records at offsets ``[start, end)`` of one partition as (offset, key, value).

    Reads with a consumer of no group, so no group's offsets or assignment change.
    Offsets that hold no record (transaction markers, compacted away) are simply absent.
    """
    where = TopicPartition(topic, partition)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([where])
        consumer.seek(where, start)
        records: list[tuple[int, bytes | None, bytes | None]] = []
        while await consumer.position(where) < end:
            fetched = await consumer.getmany(where, timeout_ms=1000)
            records.extend(
                (record.offset, record.key, record.value)
                for record in fetched.get(where, [])
                if record.offset < end
            )
        return records
    finally:
        await consumer.stop()
