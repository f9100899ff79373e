"""What the benchmark scripts share: the broker's address, fresh settings, routed input.

The scripts run as ``python benchmarks/<name>.py`` and import this module as
``harness``; tests import them as ``benchmarks.<name>``. Worker processes are
started by :mod:`launcher`.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import subprocess
import sys
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

try:
    from benchmarks.launcher import free_port
except ModuleNotFoundError:  # run as a script: benchmarks/ itself is on sys.path
    from launcher import free_port  # type: ignore[no-redef]
from streamstats.runtime.kafka import route_event
from streamstats.settings import Settings
from streamstats.streaming.batch import partition_for
from streamstats.tools.simulate import simulate_lines

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 11, 25, 6, tzinfo=UTC)

BUSY_AGENTS, BUSY_HOURS, BUSY_CHATS, BUSY_STATUS_RESEND_MINUTES = 428, 72, 65_000, 4.0
"""The busy-agent profile (issue #13), after the outside run it copies: 428 agents over
three days, 65,000 chats, ~770 events an agent, of them ~370 status events (each agent's
client re-sends its status every 4 minutes on shift), so that every agent record carries
hundreds of remembered event ids."""


def simulated_input(count: int | None, seed: int = 1, busy: bool = False) -> list[bytes]:
    """Simulated JSON lines, without their newlines: the first ``count`` (None: all) of a
    day of ~230 events an agent for ``count // 230`` agents, or of the busy profile."""
    if busy:
        lines = simulate_lines(
            seed=seed,
            agents=BUSY_AGENTS,
            hours=BUSY_HOURS,
            chats=BUSY_CHATS,
            start=START,
            status_resend_minutes=BUSY_STATUS_RESEND_MINUTES,
        )
    else:
        if count is None:
            raise ValueError("the daily profile needs an event count")
        agents = max(5, count // 230)
        lines = simulate_lines(seed=seed, agents=agents, hours=24, start=START)
    return [line.rstrip(b"\n") for line in islice(lines, count)]


def best_rate(
    work: Callable[[Sequence[bytes]], object], lines: Sequence[bytes], repeat: int
) -> float:
    """Lines a second that ``work`` gets through ``lines``, best of ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        work(lines)
        best = min(best, time.perf_counter() - started)
    return len(lines) / best


def parse_only(lines: Sequence[bytes]) -> None:
    """Bare ``orjson.loads`` of every line: the baseline of the fold benchmarks."""
    loads = orjson.loads
    for line in lines:
        loads(line)


def interpreter() -> str:
    """The Python running the benchmark and where its binary is: builds of one version
    differ (the same fold runs 10-15 % faster on an interpreter built with PGO and LTO)."""
    return f"Python {platform.python_version()} ({os.path.realpath(sys.executable)})"


def machine_speed(events: int = 50_000, repeat: int = 3) -> float:
    """How fast this machine runs right now: bare ``orjson.loads`` of simulated events, in
    lines a second on one core. Shared machines run at half speed in some hours; printed
    beside a run's figures, it tells a slow hour from a slower change."""
    return best_rate(parse_only, simulated_input(events), repeat)


def add_input_arguments(parser: argparse.ArgumentParser, default_events: int) -> None:
    """``--events N`` and ``--busy``, the simulated input of a benchmark script."""
    parser.add_argument(
        "--events", type=int, default=None, help=f"default: {default_events:,} (a day)"
    )
    parser.add_argument(
        "--busy",
        action="store_true",
        help="the busy-agent profile: 428 agents over three days, ~770 events each "
        "(--events: at most that many of them)",
    )
    parser.set_defaults(default_events=default_events)


def input_of(args: argparse.Namespace, seed: int = 1) -> tuple[list[bytes], str]:
    """The simulated lines that :func:`add_input_arguments`' options ask for, and the
    profile's name."""
    count = args.events if args.events is not None or args.busy else args.default_events
    lines = simulated_input(count, seed, args.busy)
    return lines, "busy agents" if args.busy else "a day"


InputMessage = tuple[bool, bytes, int, int, bytes]
"""(on the chat topic, key, partition, offset, value) of one input message."""


def routed_messages(lines: Iterable[bytes], partitions: int) -> Iterator[InputMessage]:
    """Simulated lines as the worker would read them once produced: on the topic and
    partition of their key, numbered per topic partition from offset 0."""
    routing = Settings()  # only its topic names, to tell chat events from status events
    next_offset: dict[tuple[bool, int], int] = {}
    for line in lines:
        value = line.rstrip(b"\n")
        topic, key = route_event(value, routing)
        assert key is not None, "simulated events all have a key"
        partition = partition_for(key, partitions)
        on_chat_topic = topic == routing.chat_topic
        offset = next_offset.get((on_chat_topic, partition), 0)
        next_offset[(on_chat_topic, partition)] = offset + 1
        yield on_chat_topic, key, partition, offset, value


def bootstrap() -> str:
    """Kafka's address: ``KAFKA_BOOTSTRAP_SERVERS``, else the local broker (started if down)."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    started = subprocess.run(
        ["bash", str(ROOT / "deploy/local-kafka/kafka.sh"), "start"],
        capture_output=True,
        text=True,
        check=True,
    )
    return started.stdout.strip().split("=", 1)[1]


def fresh_settings(prefix: str, servers: str, partitions: int, **overrides: Any) -> Settings:
    """Settings naming topics and a consumer group of this run only."""
    run = f"{prefix}{uuid.uuid4().hex[:8]}"
    return Settings(
        bootstrap_servers=servers,
        app_id=run,
        partitions=partitions,
        status_topic=f"{run}.agent-status",
        chat_topic=f"{run}.chat-events",
        dead_letter_topic=f"{run}.dead-letter",
        panels_topic=f"{run}.agent-panels",
        sessions_topic=f"{run}.agent-sessions",
        auth="off",
        web_port=free_port(),
        log_level="warning",
        **overrides,
    )


Partitioner = Callable[[bytes, list[int], list[int]], int]
"""aiokafka's partitioner signature: (key, all partitions, available partitions)."""


def crc32_partitioner(key: bytes, all_partitions: list[int], available: list[int]) -> int:
    """librdkafka's default (``consistent_random``): CRC32 of the key (kcat, confluent-kafka,
    the Go, .NET and C clients)."""
    return all_partitions[zlib.crc32(key) % len(all_partitions)]


async def publish_partitioned(
    settings: Settings, lines: Iterable[bytes], partitioner: Partitioner
) -> None:
    """Publish events keyed as ``streamstats produce`` does (spec §1), but with
    ``partitioner`` choosing the partitions, as a producer in another language would."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        partitioner=partitioner,
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    try:
        for line in lines:
            if line.strip():
                topic, key = route_event(line, settings)
                await producer.send(topic, line, key=key)
        await producer.flush()
    finally:
        await producer.stop()
