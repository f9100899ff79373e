"""End-to-end benchmark: one worker on a real broker, against a naive worker.

Run with ``make bench-e2e`` (or ``python benchmarks/bench_e2e.py --events N``).

1. Throughput: N simulated events are preloaded into fresh input topics, then a
   worker starts; events/s is the events folded from "ready" to "every event
   and every per-agent change applied", over that time. The same is measured
   for the naive baseline: the same worker with ``STREAMSTATS_BATCH_SIZE=1``, a
   plain Faust agent that reads, folds and writes the table for every single
   event. With ``--scale-out N``, also for N workers sharing the partitions.
2. Freshness: while simulated traffic flows at ``--rate`` events/s, a probe
   agent's status is changed every 50 ms; freshness is the time from
   publishing that event to seeing it in ``GET /agents/{id}``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

try:
    from benchmarks.harness import (
        add_input_arguments,
        bootstrap,
        crc32_partitioner,
        fresh_settings,
        input_of,
        interpreter,
        machine_speed,
        publish_partitioned,
    )
    from benchmarks.launcher import Worker, free_port
except ModuleNotFoundError:  # run as a script: benchmarks/ itself is on sys.path
    from harness import (  # type: ignore[no-redef]
        add_input_arguments,
        bootstrap,
        crc32_partitioner,
        fresh_settings,
        input_of,
        interpreter,
        machine_speed,
        publish_partitioned,
    )
    from launcher import Worker, free_port  # type: ignore[no-redef]
from streamstats.runtime.kafka import (
    delete_run_topics,
    ensure_topics,
    publish_lines,
    route_event,
)
from streamstats.settings import DEFAULT_BATCH_SIZE, Settings

METRIC = re.compile(r"^(streamstats_[a-z_]+_total)(?:\{[^}]*\})? ([0-9.e+]+)$", re.MULTILINE)


def counters(workers: list[Worker]) -> dict[str, float]:
    """The workers' counters, summed over their labels and over the workers."""
    totals: dict[str, float] = {}
    for worker in workers:
        text = (worker.get("/metrics") or b"").decode()
        for name, value in METRIC.findall(text):
            totals[name] = totals.get(name, 0.0) + float(value)
    return totals


def inputs_done(seen: dict[str, float]) -> float:
    """Input messages the workers have finished with: applied, dead-lettered or ignored."""
    return (
        seen.get("streamstats_events_applied_total", 0)
        + seen.get("streamstats_events_invalid_total", 0)
        + seen.get("streamstats_events_unknown_type_total", 0)
    )


def throughput(
    servers: str,
    lines: list[bytes],
    partitions: int,
    batch_size: int,
    profile: Path | None = None,
    workers: int = 1,
    crc32: bool = False,
    store: str = "rocksdb",
) -> float | None:
    """Events/s of ``workers`` workers started together on ``lines`` preloaded.

    Counted from the moment every worker answers ``/readyz`` to the moment every input
    event and every per-agent change is applied; events already applied when the
    last worker became ready (folded during the first rebalances) are not counted.
    None when nothing was left to count: too few events for the measurement.
    """
    settings = fresh_settings("bench", servers, partitions, batch_size=batch_size, store=store)
    asyncio.run(ensure_topics(settings))
    asyncio.run(
        publish_partitioned(settings, lines, crc32_partitioner)
        if crc32
        else publish_lines(settings, lines)
    )
    with tempfile.TemporaryDirectory() as scratch:
        group: list[Worker] = []
        try:
            for number in range(workers):
                folder = Path(scratch) / f"worker-{number}"
                folder.mkdir()
                own = settings if number == 0 else replace(settings, web_port=free_port())
                group.append(Worker(own, folder).start())
            for worker in group:
                worker.wait_ready(timeout=180)
            ready = time.monotonic()
            cpu_at_ready = sum(worker.cpu_seconds() for worker in group)
            done_at_ready = inputs_done(counters(group))
            if done_at_ready >= len(lines):
                return None
            if profile is not None:
                sampler = start_profile(group[0], profile)
            while True:
                seen = counters(group)
                sent = seen.get("streamstats_agent_changes_sent_total", 0)
                received = seen.get("streamstats_agent_changes_received_total", 0)
                if inputs_done(seen) >= len(lines) and received >= sent:
                    elapsed = time.monotonic() - ready
                    rate = (len(lines) - done_at_ready) / elapsed
                    cpu = sum(worker.cpu_seconds() for worker in group) - cpu_at_ready
                    print(
                        f"  ({workers} worker{'s' if workers > 1 else ''}, batch size "
                        f"{batch_size}: {elapsed:.1f} s for {len(lines) - done_at_ready:,.0f} "
                        f"events, worker CPU {cpu:.1f} s = {cpu / elapsed:.0%} of one core)"
                    )
                    if profile is not None:
                        sampler.wait()
                    return rate
                time.sleep(0.25)
        finally:
            for worker in group:
                worker.stop()
            asyncio.run(delete_run_topics(settings.bootstrap_servers, settings.app_id))


PROFILE_SECONDS = 15


def start_profile(worker: Worker, output: Path) -> subprocess.Popen[bytes]:
    """Sample the worker's stacks with py-spy for ``PROFILE_SECONDS`` (collapsed format)."""
    assert worker.process is not None, "start the worker first"
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("py-spy")),
            "record",
            "--pid",
            str(worker.process.pid),
            "--duration",
            str(PROFILE_SECONDS),
            "--rate",
            "250",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def profile_summary(collapsed: Path, top: int = 25) -> str:
    """Share of samples in which each function is on the stack, and the leaf functions."""
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = [
            frame.split(" (")[0] + " " + frame.rsplit("/", 1)[-1].split(":")[0]
            for frame in stack.split(";")
        ]
        total += count
        leaves[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    rows = [f"{total:,} samples; on the stack:"]
    rows += [f"  {n / total:6.1%}  {frame}" for frame, n in inclusive.most_common(top)]
    rows.append("leaf (self) time:")
    rows += [f"  {n / total:6.1%}  {frame}" for frame, n in leaves.most_common(top)]
    return "\n".join(rows)


def freshness(
    servers: str, lines: list[bytes], partitions: int, rate: float, probes: int, store: str
) -> list[float]:
    settings = fresh_settings("bench", servers, partitions, store=store)
    asyncio.run(ensure_topics(settings))
    with tempfile.TemporaryDirectory() as scratch:
        worker = Worker(settings, Path(scratch)).start()
        try:
            worker.wait_ready(timeout=180)
            stop = threading.Event()
            traffic = threading.Thread(
                target=lambda: asyncio.run(steady(settings, lines, rate, stop)), daemon=True
            )
            traffic.start()
            time.sleep(2)
            delays = asyncio.run(probe(settings, worker, probes))
            stop.set()
            traffic.join(timeout=30)
            return delays
        finally:
            worker.stop()
            asyncio.run(delete_run_topics(settings.bootstrap_servers, settings.app_id))


async def steady(
    settings: Settings, lines: list[bytes], rate: float, stop: threading.Event
) -> None:
    """Publish ``lines`` at ``rate`` events/s (in 10 ms ticks) until told to stop."""

    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=2)
    await producer.start()
    try:
        started = time.monotonic()
        for sent, line in enumerate(lines, start=1):
            if stop.is_set():
                break
            topic, key = route_event(line, settings)
            await producer.send(topic, line, key=key)
            ahead = sent / rate - (time.monotonic() - started)
            if ahead > 0.01:
                await asyncio.sleep(ahead)
    finally:
        await producer.stop()


async def probe(settings: Settings, worker: Worker, count: int) -> list[float]:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=0)
    await producer.start()
    delays = []
    try:
        for number in range(count):
            reason = f"probe {number}"
            event = {
                "event_id": uuid.uuid4().hex,
                "type": "agent.status_changed",
                "at": datetime.now(UTC).isoformat(),
                "agent_id": "probe",
                "status": "paused",
                "reason": reason,
            }
            sent = time.monotonic()
            await producer.send_and_wait(settings.status_topic, orjson.dumps(event), key=b"probe")
            while True:
                body = await asyncio.to_thread(worker.get, "/agents/probe")
                if body is not None and orjson.loads(body)["status"]["reason"] == reason:
                    delays.append(time.monotonic() - sent)
                    break
                await asyncio.sleep(0.002)
            await asyncio.sleep(0.05)
    finally:
        await producer.stop()
    return delays


def print_rate(what: str, rate: float | None, note: str = "") -> None:
    """One result line; a rate that could not be measured says what to do instead."""
    if rate is None:
        print(
            f"{what:<32}not measured: every event was folded before the last worker "
            "was ready; run with more --events"
        )
    else:
        print(f"{what:<32}{rate:>10,.0f} events/s   {note}".rstrip())


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_input_arguments(parser, default_events=500_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--naive-events", type=int, default=None, help="default: --events")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help="STREAMSTATS_BATCH_SIZE of the batched worker (default: the worker's default)",
    )
    parser.add_argument("--freshness-only", action="store_true", help="skip the throughput runs")
    parser.add_argument(
        "--store",
        choices=["rocksdb", "memory"],
        default="rocksdb",
        help="STREAMSTATS_STORE of every worker (default: the worker's default, rocksdb)",
    )
    parser.add_argument(
        "--scale-out",
        type=int,
        default=0,
        metavar="N",
        help="also measure N workers sharing the partitions (default: not measured)",
    )
    parser.add_argument(
        "--crc32",
        action="store_true",
        help="also measure one worker with the events published by librdkafka's CRC32 "
        "partitioner (status events forwarded to their agents' partitions)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help=f"write py-spy samples of the batched worker's first {PROFILE_SECONDS} s "
        "to this file and print where the time goes",
    )
    args = parser.parse_args()

    servers = bootstrap()
    lines, profile = input_of(args)
    print(
        f"{len(lines):,} simulated events ({profile}), {args.partitions} partitions, "
        f"{args.store} store, {interpreter()}, {os.cpu_count()} cores, "
        f"Kafka at {servers}; "
        f"bare orjson.loads at {machine_speed() / 1e6:.2f} M lines/s on one core"
    )
    if not args.freshness_only:
        batched = throughput(
            servers, lines, args.partitions, args.batch_size, args.profile, store=args.store
        )
        print_rate(f"worker (fetches of ≤{args.batch_size})", batched)
        if args.profile is not None:
            print(profile_summary(args.profile))
        naive_lines = lines[: args.naive_events] if args.naive_events else lines
        naive = throughput(servers, naive_lines, args.partitions, 1, store=args.store)
        print_rate("naive worker (table per event)", naive, f"({len(naive_lines):,} events)")
        if batched is not None and naive is not None:
            print(f"ratio                           {batched / naive:>10.2f}x")
        if args.crc32:
            rekeyed = throughput(
                servers, lines, args.partitions, args.batch_size, crc32=True, store=args.store
            )
            compared = (
                f"({rekeyed / batched:.2f}x murmur2)"
                if rekeyed is not None and batched is not None
                else ""
            )
            print_rate("worker, CRC32-partitioned input", rekeyed, compared)
        if args.scale_out > 1:
            group = throughput(
                servers,
                lines,
                args.partitions,
                args.batch_size,
                workers=args.scale_out,
                store=args.store,
            )
            compared = (
                f"({group / batched:.2f}x one worker)"
                if group is not None and batched is not None
                else ""
            )
            print_rate(f"{args.scale_out} workers together", group, compared)
    delays = freshness(servers, lines, args.partitions, args.rate, args.probes, args.store)
    print(
        f"freshness at {args.rate:,.0f} events/s over {len(delays)} probes: "
        f"p50 {statistics.median(delays) * 1000:.1f} ms, "
        f"p99 {percentile(delays, 0.99) * 1000:.1f} ms, max {max(delays) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
