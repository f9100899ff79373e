"""Soak (issue #5): one worker under steady simulated traffic for minutes on end.

Run with ``python benchmarks/soak.py [--minutes 10] [--rate 5000] [--partitions 4]``.

Fresh topics are created and one worker starts on them. Simulated traffic is then
published at a steady ``--rate`` events/s for ``--minutes``; every event's ``at`` is
set to the moment it is sent, so the worker's processing-delay histogram measures
publish-to-applied time. Every few seconds the script samples the consumer lag of
the input topics (end offsets minus the worker group's committed offsets), the
worker's resident memory and its ``/metrics``. At the end it prints the figures and a
PASS/FAIL per check, and exits 1 if any check failed:

- publish rate: the publisher itself sent at least 97 % of ``--rate``;
- lag bounded: over the last third, lag does not grow by more than 2 % of the rate
  per second, or stays within ``--lag-ceiling-seconds`` of traffic;
- memory: resident memory grows by at most ``--rss-slope-limit`` MiB a minute over
  the second half (least squares); judged only in runs of 5 minutes or more, since
  the table stores' buffers and caches fill first (shorter runs print SKIP);
- input valid: the worker rejected no event (a routing or stamping mistake would);
- worker alive: the worker was running when the run ended.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import multiprocessing
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.structs import TopicPartition

try:
    from benchmarks.harness import bootstrap, fresh_settings, machine_speed
    from benchmarks.launcher import Worker
except ModuleNotFoundError:  # run as a script: benchmarks/ itself is on sys.path
    from harness import bootstrap, fresh_settings, machine_speed  # type: ignore[no-redef]
    from launcher import Worker  # type: ignore[no-redef]
from streamstats.runtime.kafka import delete_run_topics, ensure_topics, route_event
from streamstats.settings import Settings
from streamstats.tools.simulate import simulate_lines

START = datetime(2026, 11, 25, 6, tzinfo=UTC)
SEED = 5
TICK = 0.02
AT = re.compile(rb'"at":"[^"]*"')
SAMPLE = re.compile(
    r"^(streamstats_[a-z_]+)(?:\{([^}]*)\})? ([0-9.e+-]+|[+-]Inf|NaN)$", re.MULTILINE
)
LABEL = re.compile(r'([a-z_]+)="([^"]*)"')
DELAY = "streamstats_processing_delay_seconds_bucket"
STORE_MEMORY = "streamstats_store_memory_bytes"
INPUT_COUNTERS = (
    "streamstats_events_applied_total",
    "streamstats_events_invalid_total",
    "streamstats_events_unknown_type_total",
)

MEMORY_WARMUP_MINUTES = 5
"""Shorter runs end while RocksDB's write buffers and block caches still fill."""

Buckets = dict[float, float]
"""Cumulative counts of a histogram, by upper bound (``math.inf`` last)."""


def traffic(events: int) -> Iterator[bytes]:
    """Endless simulated events, sized so the first simulated day holds about ``events``.

    Each further day is a new simulation whose event and chat ids carry the round
    number, so ids never repeat; agents stay the same.
    """
    agents = max(5, events // 230)
    for round_ in range(sys.maxsize):
        lines = simulate_lines(
            seed=SEED + round_, agents=agents, hours=24, start=START + timedelta(days=round_)
        )
        for line in lines:
            line = line.strip()
            if round_:
                tag = b"r%d-" % round_
                line = line.replace(b'"event_id":"', b'"event_id":"' + tag, 1)
                line = line.replace(b'"chat_id":"', b'"chat_id":"' + tag, 1)
            yield line


READ_AHEAD_CHUNKS = 50
"""Chunks of :data:`CHUNK_LINES` the simulating process may run ahead of the publisher."""
CHUNK_LINES = 1000


def _simulate_into(events: int, chunks: multiprocessing.Queue[list[bytes]]) -> None:
    source = traffic(events)
    while True:
        chunks.put(list(islice(source, CHUNK_LINES)))


class TrafficProcess:
    """:func:`traffic` made in a process of its own and read ahead through a queue.

    Simulating a day first takes seconds (every chat's arrival is drawn up front), and
    the simulation's heap grows to millions of objects whose full garbage collections
    pause their process for up to a second. In the publisher's process, both stopped
    publishing and then sent the backlog at once, which the worker's processing delay
    counted as its own.
    """

    def __init__(self, events: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.chunks: multiprocessing.Queue[list[bytes]] = context.Queue(READ_AHEAD_CHUNKS)
        self.process = context.Process(
            target=_simulate_into, args=(events, self.chunks), daemon=True
        )

    def start(self) -> Iterator[bytes]:
        """Start simulating; the lines, once the first chunk is ready (blocks until then:
        the slow start of a simulation happens before the publisher's clock starts)."""
        self.process.start()
        first = self.chunks.get()
        return self._lines(first)

    def stop(self) -> None:
        """Stop the simulating process (if it was started)."""
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()
        self.chunks.close()

    def _lines(self, first: list[bytes]) -> Iterator[bytes]:
        yield from first
        while True:
            yield from self.chunks.get()


@dataclass
class Publisher:
    """Publishes simulated traffic at a steady rate; its counters are read while it runs."""

    settings: Settings
    rate: float
    seconds: float
    sent: int = 0
    elapsed: float = 0.0
    behind: float = 0.0
    """Longest time the publisher was behind its schedule, in seconds."""
    errors: list[str] = field(default_factory=list)

    async def run(self) -> None:
        """Send ``rate`` events a second in ticks of 20 ms, one batch per partition a tick."""
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.bootstrap_servers, max_batch_size=256 * 1024
        )
        await producer.start()
        partitioner = DefaultPartitioner()
        partitions = list(range(self.settings.partitions))
        simulation = TrafficProcess(round(self.rate * self.seconds))
        try:
            source = await asyncio.to_thread(simulation.start)
            pending: list[asyncio.Future[object]] = []
            started = time.monotonic()
            ticks = 0
            while (now := time.monotonic()) - started < self.seconds:
                due = int(self.rate * (now - started))
                # Never more than a second of traffic at once, so a stall shows as a lower rate.
                count = min(due - self.sent, max(1, int(self.rate)))
                self.behind = max(self.behind, (due - self.sent) / self.rate)
                if count > 0:
                    pending.extend(
                        await self._send(producer, source, count, partitioner, partitions)
                    )
                    self.sent += count
                pending = self._settled(pending)
                ticks += 1
                await asyncio.sleep(max(0.0, started + ticks * TICK - time.monotonic()))
            self.elapsed = time.monotonic() - started
            await producer.flush()
            self._settled(pending)
        finally:
            simulation.stop()
            await producer.stop()

    async def _send(
        self,
        producer: AIOKafkaProducer,
        source: Iterator[bytes],
        count: int,
        partitioner: DefaultPartitioner,
        partitions: list[int],
    ) -> list[asyncio.Future[object]]:
        """Stamp ``count`` events with the time now and hand them over in batches."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        stamp = b'"at":"' + now.encode() + b'"'
        batches: dict[tuple[str, int], BatchBuilder] = {}
        futures: list[asyncio.Future[object]] = []
        for line in islice(source, count):
            value = AT.sub(stamp, line, count=1)
            topic, key = route_event(value, self.settings)
            partition = partitioner(key, partitions, partitions)
            batch = batches.get((topic, partition)) or producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)
            batches[(topic, partition)] = batch
        futures.extend(
            await asyncio.gather(
                *(
                    producer.send_batch(batch, topic, partition=partition)
                    for (topic, partition), batch in batches.items()
                )
            )
        )
        return futures

    def _settled(self, pending: list[asyncio.Future[object]]) -> list[asyncio.Future[object]]:
        """The futures still pending; errors of the settled ones are kept."""
        for future in pending:
            if future.done() and future.exception() is not None:
                self.errors.append(repr(future.exception()))
        return [future for future in pending if not future.done()]


@dataclass(frozen=True)
class Scrape:
    """What one read of the worker's ``/metrics`` showed."""

    counters: dict[str, float]
    """Counter totals over all labels."""
    delay: dict[str, Buckets]
    """The processing-delay histogram's buckets by stage."""
    store_mib: dict[str, float]
    """The worker's RocksDB memory in MiB by kind, over both tables."""


@dataclass(frozen=True)
class Sample:
    """What one look at the broker and the worker showed."""

    at: float
    """Seconds since publishing began."""
    published: int
    lag: dict[str, int]
    """End offset minus committed offset, summed over partitions, by topic."""
    rss_mib: float | None
    metrics: Scrape
    """What the worker's ``/metrics`` showed."""

    @property
    def input_lag(self) -> int:
        """Lag of the two input topics together."""
        return sum(value for topic, value in self.lag.items() if not topic.endswith("changes"))

    @property
    def changes_lag(self) -> int:
        """Lag of the internal agent-changes topic."""
        return sum(value for topic, value in self.lag.items() if topic.endswith("changes"))

    @property
    def inputs_done(self) -> float:
        """Input events the worker has handled: applied, rejected or ignored."""
        return sum(self.metrics.counters.get(name, 0.0) for name in INPUT_COUNTERS)


def parse_metrics(text: str) -> Scrape:
    """Counters, delay buckets and RocksDB memory from the text of ``/metrics``."""
    scrape = Scrape({}, {}, {})
    for name, labels, value in SAMPLE.findall(text):
        if name == DELAY:
            found = dict(LABEL.findall(labels))
            bound = math.inf if found["le"] == "+Inf" else float(found["le"])
            scrape.delay.setdefault(found.get("stage", ""), {})[bound] = float(value)
        elif name == STORE_MEMORY:
            kind = dict(LABEL.findall(labels))["kind"]
            scrape.store_mib[kind] = scrape.store_mib.get(kind, 0.0) + float(value) / 2**20
        elif name.endswith("_total"):
            scrape.counters[name] = scrape.counters.get(name, 0.0) + float(value)
    return scrape


class Sampler:
    """Reads lag from the broker and figures from the worker."""

    def __init__(self, settings: Settings, worker: Worker) -> None:
        self.settings = settings
        self.worker = worker
        self.topics = [settings.status_topic, settings.chat_topic, settings.changes_topic]
        self.partitions = [
            TopicPartition(topic, number)
            for topic in self.topics
            for number in range(settings.partitions)
        ]
        self.admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False
        )

    async def start(self) -> None:
        """Connect to the broker."""
        await self.admin.start()
        await self.consumer.start()

    async def close(self) -> None:
        """Disconnect."""
        await self.consumer.stop()
        await self.admin.close()

    async def take(self, at: float, published: int) -> Sample:
        """One sample, ``at`` seconds into the run."""
        ends = await self.consumer.end_offsets(self.partitions)
        committed = await self.admin.list_consumer_group_offsets(
            self.settings.app_id, partitions=self.partitions
        )
        lag = dict.fromkeys(self.topics, 0)
        for partition, end in ends.items():
            mark = committed.get(partition)
            done = mark.offset if mark is not None and mark.offset >= 0 else 0
            lag[partition.topic] += max(0, end - done)
        text = ((await asyncio.to_thread(self.worker.get, "/metrics")) or b"").decode()
        return Sample(at, published, lag, self.worker.rss_mib(), parse_metrics(text))


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x; 0 for fewer than two distinct x."""
    if len(points) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def merged(delay: dict[str, Buckets]) -> Buckets:
    """One histogram of all stages."""
    total: Buckets = {}
    for buckets in delay.values():
        for bound, count in buckets.items():
            total[bound] = total.get(bound, 0.0) + count
    return total


def difference(later: Buckets, earlier: Buckets) -> Buckets:
    """The observations made between two readings of a histogram."""
    return {bound: count - earlier.get(bound, 0.0) for bound, count in later.items()}


def quantile(buckets: Buckets, share: float) -> float | None:
    """The ``share`` quantile, interpolated inside its bucket as Prometheus does.

    None without observations; ``math.inf`` when it lies beyond the largest bound.
    """
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = share * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return math.inf
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, count
    return math.inf


def seconds_text(value: float | None) -> str:
    """A delay for people: ms under a second, '> 300 s' past the last bucket."""
    if value is None:
        return "n/a"
    if math.isinf(value):
        return "> 300 s (beyond the last bucket)"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


@dataclass(frozen=True)
class Check:
    """One verdict of the soak."""

    name: str
    passed: bool
    reason: str
    judged: bool = True


@dataclass
class SoakReport:
    """Everything one soak measured, and its verdicts."""

    minutes: float
    rate: float
    partitions: int
    samples: list[Sample]
    sent: int
    publish_seconds: float
    publisher_errors: list[str]
    publisher_behind: float
    """Longest time the publisher fell behind its schedule, in seconds."""
    worker_alive: bool
    drain_seconds: float | None
    machine_speed: float
    """Bare ``orjson.loads`` lines a second just before the run (``harness.machine_speed``)."""
    checks: list[Check] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return all(check.passed for check in self.checks)


def judge(report: SoakReport, lag_ceiling_seconds: float, rss_slope_limit: float) -> SoakReport:
    """Fill in the report's figures and checks from its samples."""
    samples = report.samples
    first, last = samples[0], samples[-1]
    seconds = report.publish_seconds
    achieved = report.sent / seconds if seconds else 0.0
    applied = (last.inputs_done - first.inputs_done) / (last.at - first.at or 1.0)
    middle = min(samples, key=lambda sample: abs(sample.at - seconds / 2))
    tail = [sample for sample in samples if sample.at >= seconds * 2 / 3]
    lag_slope = slope([(sample.at, float(sample.input_lag)) for sample in tail])
    tail_max = max(sample.input_lag for sample in tail)
    ceiling = lag_ceiling_seconds * report.rate
    half = [sample for sample in samples if sample.at >= seconds / 2 and sample.rss_mib]
    rss_slope = slope([(sample.at / 60, sample.rss_mib or 0.0) for sample in half])
    whole = difference(merged(last.metrics.delay), merged(first.metrics.delay))
    recent = difference(merged(last.metrics.delay), merged(middle.metrics.delay))
    invalid = last.metrics.counters.get("streamstats_events_invalid_total", 0.0)
    unknown = last.metrics.counters.get("streamstats_events_unknown_type_total", 0.0)

    out = report.lines
    out.append(
        f"soak: {report.minutes:g} min at {report.rate:,.0f} events/s, "
        f"{report.partitions} partitions, {len(samples)} samples"
    )
    out.append(
        f"machine    bare orjson.loads {report.machine_speed / 1e6:.2f} M lines/s on one core "
        "before the run (the rate is a load on this machine: compare runs by it)"
    )
    out.append(
        f"published  {report.sent:,} events in {seconds:.1f} s = {achieved:,.0f} events/s "
        f"({achieved / report.rate:.1%} of the target; at most {report.publisher_behind:.2f} s "
        "behind schedule)"
    )
    out.append(
        f"applied    {last.inputs_done - first.inputs_done:,.0f} input events while publishing "
        f"= {applied:,.0f} events/s"
    )
    out.append(
        "lag        (input topics, end offsets minus committed) "
        f"start {first.input_lag:,}, middle {middle.input_lag:,}, end {last.input_lag:,}, "
        f"max {max(sample.input_lag for sample in samples):,}; "
        f"end = {last.input_lag / report.rate:.1f} s of traffic"
    )
    out.append(
        f"           last third: slope {lag_slope:+,.1f} events/s "
        f"({lag_slope / report.rate:+.1%} of the rate), max {tail_max:,}; "
        f"internal agent-changes topic at the end: {last.changes_lag:,}"
    )
    out.append(
        f"backlog    published minus handled by the worker at the end: "
        f"{last.published - last.inputs_done:,.0f}"
    )
    out.append(
        f"memory     RSS first {first.rss_mib or 0:.1f} MiB, last {last.rss_mib or 0:.1f} MiB, "
        f"max {max(sample.rss_mib or 0 for sample in samples):.1f} MiB; "
        f"slope over the second half {rss_slope:+.2f} MiB/min"
    )
    marks = [min(samples, key=lambda s: abs(s.at - seconds * step / 10)) for step in range(11)]
    out.append(
        "           RSS at every tenth of the run (MiB): "
        + " ".join(f"{sample.rss_mib or 0:.0f}" for sample in marks)
    )
    for kind in last.metrics.store_mib:
        out.append(
            f"           RocksDB {kind.replace('_', ' ')} at every tenth (MiB): "
            + " ".join(f"{sample.metrics.store_mib.get(kind, 0):.0f}" for sample in marks)
        )
    out.append(
        "           input lag at every tenth of the run: "
        + " ".join(f"{sample.input_lag:,}" for sample in marks)
    )
    for title, buckets in (("whole run", whole), ("last half", recent)):
        out.append(
            f"delay      {title}: p50 {seconds_text(quantile(buckets, 0.5))}, "
            f"p99 {seconds_text(quantile(buckets, 0.99))} "
            f"over {buckets.get(math.inf, 0):,.0f} events (event `at` to applied, all stages)"
        )
    if report.drain_seconds is not None:
        out.append(f"drain      backlog gone {report.drain_seconds:.1f} s after publishing stopped")
    else:
        out.append("drain      backlog not gone by the end of the drain wait")

    report.checks = [
        Check(
            "publish rate",
            achieved >= 0.97 * report.rate and not report.publisher_errors,
            f"{achieved:,.0f} of {report.rate:,.0f} events/s"
            + (f"; send errors: {report.publisher_errors[:3]}" if report.publisher_errors else ""),
        ),
        Check(
            "lag bounded",
            lag_slope <= 0.02 * report.rate or tail_max <= ceiling,
            f"last third slope {lag_slope:+,.1f} events/s (limit {0.02 * report.rate:,.0f}, "
            f"2 % of the rate), max {tail_max:,} (ceiling {ceiling:,.0f}: "
            f"{lag_ceiling_seconds:g} s of traffic)",
        ),
        Check(
            "memory flat",
            len(half) >= 2 and rss_slope <= rss_slope_limit,
            f"RSS slope {rss_slope:+.2f} MiB/min over {len(half)} samples of the second half "
            f"(limit {rss_slope_limit:g})",
        )
        if report.minutes >= MEMORY_WARMUP_MINUTES
        else Check(
            "memory flat",
            True,
            f"not judged: RSS slope {rss_slope:+.2f} MiB/min, but a run under "
            f"{MEMORY_WARMUP_MINUTES} min ends while the table stores' buffers and caches "
            "still fill",
            judged=False,
        ),
        Check(
            "input valid",
            invalid == 0 and unknown == 0,
            f"{invalid:,.0f} dead-lettered, {unknown:,.0f} of unknown type",
        ),
        Check(
            "worker alive",
            report.worker_alive,
            "running at the end" if report.worker_alive else "the worker exited during the run",
        ),
    ]
    for check in report.checks:
        verdict = "PASS" if check.passed else "FAIL"
        out.append(f"{verdict if check.judged else 'SKIP'}  {check.name}: {check.reason}")
    return report


async def soak(
    settings: Settings,
    worker: Worker,
    rate: float,
    seconds: float,
    every: float,
    drain: float,
    speed: float,
) -> SoakReport:
    """Publish for ``seconds`` while sampling every ``every`` s, then wait for the backlog;
    ``speed`` is the machine's, measured before the run."""
    sampler = Sampler(settings, worker)
    publisher = Publisher(settings, rate, seconds)
    await sampler.start()
    try:
        samples = [await sampler.take(0.0, 0)]
        started = time.monotonic()
        sending = asyncio.create_task(publisher.run())
        while True:
            wake = started + len(samples) * every
            await asyncio.wait({sending}, timeout=max(0.0, wake - time.monotonic()))
            if sending.done():
                break
            samples.append(await sampler.take(time.monotonic() - started, publisher.sent))
        await sending
        samples.append(await sampler.take(time.monotonic() - started, publisher.sent))
        alive = worker.alive()
        stopped = time.monotonic()
        drained: float | None = None
        while alive and time.monotonic() - stopped < drain:
            body = await asyncio.to_thread(worker.get, "/metrics")
            counters = parse_metrics((body or b"").decode()).counters
            handled = sum(counters.get(name, 0.0) for name in INPUT_COUNTERS)
            changes = counters.get("streamstats_agent_changes_sent_total", 0.0)
            received = counters.get("streamstats_agent_changes_received_total", 0.0)
            if handled >= publisher.sent and received >= changes:
                drained = time.monotonic() - stopped
                break
            await asyncio.sleep(0.5)
    finally:
        await sampler.close()
    return SoakReport(
        minutes=seconds / 60,
        rate=rate,
        partitions=settings.partitions,
        samples=samples,
        sent=publisher.sent,
        publish_seconds=publisher.elapsed,
        publisher_errors=publisher.errors,
        publisher_behind=publisher.behind,
        worker_alive=alive,
        drain_seconds=drained,
        machine_speed=speed,
    )


def run_soak(
    minutes: float = 10.0,
    rate: float = 5000.0,
    partitions: int = 4,
    *,
    servers: str | None = None,
    sample_seconds: float = 5.0,
    drain_seconds: float = 30.0,
    lag_ceiling_seconds: float = 5.0,
    rss_slope_limit: float = 2.0,
    keep_topics: bool = False,
) -> SoakReport:
    """Run one soak on fresh topics with one fresh worker and judge it."""
    settings = fresh_settings("soak", servers or bootstrap(), partitions)
    speed = machine_speed()
    asyncio.run(ensure_topics(settings))
    try:
        with tempfile.TemporaryDirectory(prefix="soak-") as scratch:
            worker = Worker(settings, Path(scratch)).start()
            try:
                worker.wait_ready(timeout=180)
                report = asyncio.run(
                    soak(settings, worker, rate, minutes * 60, sample_seconds, drain_seconds, speed)
                )
                if not report.worker_alive:
                    report.lines.append(f"worker output:\n{worker.log_tail()}")
            finally:
                worker.stop()
    finally:
        if not keep_topics:
            with contextlib.suppress(Exception):
                asyncio.run(delete_run_topics(settings.bootstrap_servers, settings.app_id))
    return judge(report, lag_ceiling_seconds, rss_slope_limit)


def main() -> None:
    """Command line: run the soak, print the report, exit 1 if a check failed."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=5000.0, help="events/s")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--sample-seconds", type=float, default=5.0)
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=30.0,
        help="how long to wait for the backlog after publishing stops (reported only)",
    )
    parser.add_argument(
        "--lag-ceiling-seconds",
        type=float,
        default=5.0,
        help="a lag within this many seconds of traffic counts as bounded whatever its slope",
    )
    parser.add_argument(
        "--rss-slope-limit", type=float, default=2.0, help="MiB/min over the second half"
    )
    parser.add_argument("--keep-topics", action="store_true")
    args = parser.parse_args()
    report = run_soak(
        args.minutes,
        args.rate,
        args.partitions,
        sample_seconds=args.sample_seconds,
        drain_seconds=args.drain_seconds,
        lag_ceiling_seconds=args.lag_ceiling_seconds,
        rss_slope_limit=args.rss_slope_limit,
        keep_topics=args.keep_topics,
    )
    print("\n".join(report.lines))
    print("PASS" if report.passed else "FAIL")
    sys.exit(0 if report.passed else 1)


if __name__ == "__main__":
    main()
