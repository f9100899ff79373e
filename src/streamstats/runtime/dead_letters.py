"""The dead-letter topic, read for an operator: ``streamstats dead-letters``.

The worker writes a dead letter at least once: after a crash it may fold the same bad
message again and write it again. Every copy carries the message's source topic,
partition and offset in its headers, so copies are folded into one entry here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from ..core.instant import format_instant

__all__ = ["DeadLetterEntry", "fold_copies", "read_dead_letters", "render", "select"]

PAYLOAD_SHOWN: Final = 120
"""Characters of the original message shown in the text listing."""


@dataclass(frozen=True, slots=True)
class DeadLetterEntry:
    """One rejected input message, however many copies of it the topic holds."""

    reason: str
    detail: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    payload: bytes
    at_ms: int
    """When the newest copy was written (Kafka timestamp, epoch milliseconds)."""
    copies: int

    def as_json(self) -> dict[str, Any]:
        """The entry as one JSON object of ``--json``."""
        return {
            "at": format_instant(self.at_ms * 1000),
            "reason": self.reason,
            "detail": self.detail,
            "source": {"topic": self.topic, "partition": self.partition, "offset": self.offset},
            "key": None if self.key is None else self.key.decode(errors="replace"),
            "payload": self.payload.decode(errors="replace"),
            "copies": self.copies,
        }


DeadLetterRecord = tuple[int, bytes | None, bytes | None, Sequence[tuple[str, bytes]]]
"""``(timestamp ms, key, value, headers)`` of one record of the dead-letter topic."""


def fold_copies(records: Iterable[DeadLetterRecord]) -> list[DeadLetterEntry]:
    """One entry per source position, newest first; records without the worker's headers
    (not written by streamstats) are skipped."""
    entries: dict[tuple[str, int, int], DeadLetterEntry] = {}
    for at_ms, key, value, headers in records:
        named = {name: raw.decode(errors="replace") for name, raw in headers}
        try:
            where = (
                named["streamstats.source.topic"],
                int(named["streamstats.source.partition"]),
                int(named["streamstats.source.offset"]),
            )
        except (KeyError, ValueError):
            continue
        seen = entries.get(where)
        copies = 1 if seen is None else seen.copies + 1
        newest = at_ms if seen is None else max(at_ms, seen.at_ms)
        entries[where] = DeadLetterEntry(
            named.get("streamstats.reason", "unknown"),
            named.get("streamstats.detail", ""),
            *where,
            key,
            value or b"",
            newest,
            copies,
        )
    return sorted(entries.values(), key=lambda entry: (entry.at_ms, entry.offset), reverse=True)


def select(
    entries: Iterable[DeadLetterEntry],
    reason: str | None = None,
    since_micros: int | None = None,
    limit: int | None = None,
) -> list[DeadLetterEntry]:
    """The entries of ``reason`` written at or after ``since_micros``, at most ``limit``."""
    chosen = [
        entry
        for entry in entries
        if (reason is None or entry.reason == reason)
        and (since_micros is None or entry.at_ms * 1000 >= since_micros)
    ]
    return chosen if limit is None else chosen[:limit]


def render(entry: DeadLetterEntry, as_json: bool = False) -> str:
    """One line of the listing: a JSON object, or text for a terminal."""
    if as_json:
        return orjson.dumps(entry.as_json()).decode()
    payload = entry.payload.decode(errors="replace").replace("\n", " ")
    if len(payload) > PAYLOAD_SHOWN:
        payload = payload[:PAYLOAD_SHOWN] + "…"
    key = "(none)" if entry.key is None else entry.key.decode(errors="replace")
    copies = f" ({entry.copies} copies)" if entry.copies > 1 else ""
    return (
        f"{format_instant(entry.at_ms * 1000)}  {entry.reason}  "
        f"{entry.topic}/{entry.partition}@{entry.offset}  key {key}{copies}\n"
        f"    {entry.detail}\n    {payload}"
    )


async def read_dead_letters(
    bootstrap_servers: str, topic: str, partitions: int
) -> list[DeadLetterRecord]:
    """Every record of the dead-letter topic (``partitions`` partitions, as every topic of
    the app has), read with a consumer of no group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        if topic not in await consumer.topics():
            return []
        assigned = [TopicPartition(topic, partition) for partition in range(partitions)]
        consumer.assign(assigned)
        ends = await consumer.end_offsets(assigned)
        for where, start in (await consumer.beginning_offsets(assigned)).items():
            consumer.seek(where, start)
        records: list[DeadLetterRecord] = []
        while await _behind(consumer, assigned, ends):
            fetched = await consumer.getmany(*assigned, timeout_ms=1000)
            for batch in fetched.values():
                records.extend(
                    (record.timestamp, record.key, record.value, list(record.headers))
                    for record in batch
                )
        return records
    finally:
        await consumer.stop()


async def _behind(
    consumer: AIOKafkaConsumer, assigned: list[TopicPartition], ends: dict[TopicPartition, int]
) -> bool:
    """Whether any partition is still short of the end it had when reading began."""
    for where in assigned:
        if await consumer.position(where) < ends[where]:
            return True
    return False
