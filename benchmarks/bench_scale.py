"""Scale and HTTP under load (issue #5): 100,000 agents and 1,000,000 chats.

Run with ``python benchmarks/bench_scale.py`` (defaults: ``--agents 100000
--chats 1000000``); ``--agents 2000 --chats 20000`` is a short version.

Folding a million chats through the input topics would take the worker far
too long, so the tables are seeded through their changelog topics instead:

1. ``streamstats.tools.simulate`` makes a day of traffic for the agents and chats,
   and the worker's own stages (``ChatStage``, ``AgentStage``, the same code
   the worker runs) fold it in memory into the exact records the worker
   would store, with input offsets counted per partition as if produced;
2. the records are produced to ``{app_id}-chats-changelog`` and
   ``{app_id}-agents-changelog`` (compacted, same partition count, key = id
   bytes, partition = murmur2), before any worker starts;
3. workers start on those topics and recover the tables. Measured: time from
   process start to ``/readyz`` 200 (RocksDB first start, RocksDB restart
   with its data on disk, memory store), resident memory after ready, the
   changelog's size, and a sample of panels checked against the fold;
4. ``wrk`` loads ``GET /agents/{id}`` with a random agent id per request
   (``bench_scale.lua``): on one worker that owns every partition, then with
   two workers, through worker A for agents A owns and for agents B owns
   (each of those requests is forwarded to B).

Every figure is printed with the command that produced it, as Markdown for
BENCHMARKS.md. Topics made by a run are deleted at its end.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

try:
    from benchmarks.harness import interpreter, machine_speed, routed_messages
    from benchmarks.launcher import Worker, free_port, settings_from_env
except ModuleNotFoundError:  # run as a script: benchmarks/ itself is on sys.path
    from harness import (  # type: ignore[no-redef]
        interpreter,
        machine_speed,
        routed_messages,
    )
    from launcher import Worker, free_port, settings_from_env  # type: ignore[no-redef]

from streamstats.core.instant import format_instant, to_micros
from streamstats.core.view import view
from streamstats.runtime.kafka import delete_run_topics
from streamstats.settings import DEFAULT_BATCH_SIZE
from streamstats.streaming.batch import partition_for
from streamstats.streaming.local import CHATS, STATUS, LocalPipeline
from streamstats.streaming.records import (
    EVIDENCE_KEY_MARK,
    SESSION_KEY_MARK,
    decode_agent_record,
    is_item_key,
)
from streamstats.tools.simulate import simulate_lines

ROOT = Path(__file__).resolve().parents[1]
LUA = Path(__file__).with_suffix(".lua")
START = datetime(2026, 11, 25, tzinfo=UTC)
HOURS = 24.0
READ_AT = START + timedelta(hours=HOURS + 1)
"""The instant the sampled panels are read at (``?at=``), after the simulated day."""


@dataclass(frozen=True, slots=True)
class Options:
    """What to run: sizes, the broker and the load."""

    bootstrap: str = "127.0.0.1:9092"
    agents: int = 100_000
    chats: int = 1_000_000
    partitions: int = 4
    seed: int = 5
    samples: int = 200
    wrk_seconds: int = 20
    wrk_threads: int = 2
    wrk_connections: int = 8
    ready_timeout: float = 1800.0
    kafka_log_dir: Path = Path(os.environ.get("STREAMSTATS_KAFKA_DATA", "/tmp/streamstats-kafka"))
    """The broker's data dir (deploy/local-kafka/kafka.sh); its log dirs are ``kraft/``."""
    keep_topics: bool = False
    command: str = "python benchmarks/bench_scale.py"


# --- the state, made by the core ------------------------------------------------------------


@dataclass(slots=True)
class Seeded:
    """Encoded table records, exactly as the worker would have stored them."""

    chats: dict[bytes, bytes]
    agents: dict[bytes, bytes]
    events: int
    dead_letters: int
    seconds: float

    @property
    def record_bytes(self) -> int:
        """Keys plus values of every changelog record."""
        return sum(len(k) + len(v) for table in (self.chats, self.agents) for k, v in table.items())

    @property
    def agent_keys(self) -> list[bytes]:
        """The keys of the agent records (not of the items kept beside them)."""
        return [key for key in self.agents if not is_item_key(key)]

    def items(self, mark: bytes) -> tuple[int, int]:
        """How many items of the agents table have keys starting with ``mark`` (evidence
        or session summaries), and their keys plus values in bytes."""
        found = [(k, v) for k, v in self.agents.items() if k[:1] == mark]
        return len(found), sum(len(k) + len(v) for k, v in found)


CHUNK = 200_000
"""Simulated lines published to the local pipeline and folded at a time."""


def build_state(options: Options) -> Seeded:
    """Fold a simulated day through the worker's stages into chat and agent records.

    The local pipeline keeps records encoded between fetches, as the worker's store does,
    and forgets each chunk of input once it is folded.
    """
    started = time.perf_counter()
    pipeline = LocalPipeline(options.partitions)
    lines = simulate_lines(
        seed=options.seed,
        agents=options.agents,
        chats=options.chats,
        hours=HOURS,
        start=START,
    )
    events = 0
    for on_chat_topic, key, partition, _, raw in routed_messages(lines, options.partitions):
        events += 1
        pipeline.publish(CHATS if on_chat_topic else STATUS, key, raw, partition)
        if events % CHUNK == 0:
            _fold_published(pipeline)
    _fold_published(pipeline)
    gc.unfreeze()
    return Seeded(
        chats={
            key: value
            for found in pipeline.chat_store.data.values()
            for key, value in found.items()
        },
        agents={
            key: value
            for found in pipeline.agent_store.data.values()
            for key, value in found.items()
        },
        events=events,
        dead_letters=len(pipeline.dead_letters),
        seconds=time.perf_counter() - started,
    )


def _fold_published(pipeline: LocalPipeline) -> None:
    """Fold what was published in fetches of about the worker's batch size."""
    pipeline.fetch_all(DEFAULT_BATCH_SIZE // (2 * pipeline.partitions))
    pipeline.commit()
    pipeline.forget_committed()
    # Millions of live records and messages would make every full collection slow: what
    # lives on is frozen out of the cyclic collector's sight (unfrozen at the end).
    gc.freeze()


# --- Kafka ----------------------------------------------------------------------------------


def changelog_topics(app_id: str) -> tuple[str, str]:
    """Faust's changelog topic names of the chats and agents tables."""
    return f"{app_id}-chats-changelog", f"{app_id}-agents-changelog"


async def produce_changelogs(options: Options, app_id: str, seeded: Seeded) -> float:
    """Create both changelog topics and fill them; returns the seconds it took."""
    chats_topic, agents_topic = changelog_topics(app_id)
    admin = AIOKafkaAdminClient(bootstrap_servers=options.bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(name, options.partitions, 1, topic_configs={"cleanup.policy": "compact"})
                for name in (chats_topic, agents_topic)
            ]
        )
    finally:
        await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=options.bootstrap,
        acks=1,
        linger_ms=50,
        max_batch_size=1 << 20,
        max_request_size=8 << 20,
    )
    await producer.start()
    started = time.perf_counter()
    try:
        pending: list[asyncio.Future[Any]] = []
        for topic, records in ((chats_topic, seeded.chats), (agents_topic, seeded.agents)):
            for key, value in records.items():
                partition = partition_for(key, options.partitions)
                pending.append(await producer.send(topic, value, key=key, partition=partition))
                if len(pending) >= 50_000:
                    await asyncio.gather(*pending)
                    pending.clear()
        await asyncio.gather(*pending)
        await producer.flush()
    finally:
        await producer.stop()
    return time.perf_counter() - started


def log_segment_bytes(log_dir: Path, topics: tuple[str, ...]) -> int | None:
    """Bytes of the topics' ``.log`` segments in the broker's log dir; None if not local."""
    if not log_dir.is_dir():
        return None
    total = 0
    pattern = re.compile(rf"^({'|'.join(re.escape(topic) for topic in topics)})-\d+$")
    for folder in log_dir.iterdir():
        if pattern.match(folder.name):
            total += sum(path.stat().st_size for path in folder.glob("*.log"))
    return total


def tree_bytes(folder: Path) -> int:
    """Bytes of the files under ``folder``."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


# --- workers --------------------------------------------------------------------------------


def http_get(url: str, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a GET; raises OSError when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@dataclass(slots=True)
class Run:
    """This run's names, folders and workers."""

    options: Options
    app_id: str = field(default_factory=lambda: f"scale{uuid.uuid4().hex[:10]}")
    scratch: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-scale-")))
    workers: list[Worker] = field(default_factory=list)

    def worker(self, name: str, store: str = "rocksdb") -> Worker:
        """A worker of this run with its own port, data dir and log (same dir per name)."""
        app = self.app_id
        settings = settings_from_env(
            bootstrap_servers=self.options.bootstrap,
            app_id=app,
            partitions=self.options.partitions,
            status_topic=f"{app}.agent-status",
            chat_topic=f"{app}.chat-events",
            dead_letter_topic=f"{app}.dead-letter",
            panels_topic=f"{app}.agent-panels",
            sessions_topic=f"{app}.agent-sessions",
            store=store,
            web_port=free_port(),
            web_host="127.0.0.1",
            log_level="warning",
            auth="off",
        )
        # A session of its own: stopped with any children it has.
        worker = Worker(settings, self.scratch / name, own_session=True)
        self.workers.append(worker)
        return worker

    def stop_all(self) -> None:
        """Stop every worker this run started."""
        for worker in self.workers:
            worker.stop()


# --- checks and load ------------------------------------------------------------------------


def check_panels(worker: Worker, seeded: Seeded, keys: list[bytes]) -> list[str]:
    """Differences between the worker's panels and the fold's, for the sampled agents."""
    at = to_micros(READ_AT)
    problems = []
    for key in keys:
        agent_id = key.decode()
        status, _, body = http_get(f"{worker.url}/agents/{agent_id}?at={format_instant(at)}")
        expected = orjson.loads(
            orjson.dumps(view(decode_agent_record(seeded.agents[key]).agent, at))
        )
        if status != 200 or orjson.loads(body) != expected:
            problems.append(f"{worker.name} GET /agents/{agent_id}: {status} {body[:200]!r}")
    return problems


def owners(worker: Worker, seeded: Seeded, partitions: int, timeout: float = 120.0) -> list[str]:
    """The URL of the worker that owns each partition, from the answers' headers."""
    examples: dict[int, bytes] = {}
    for key in seeded.agent_keys:
        examples.setdefault(partition_for(key, partitions), key)
        if len(examples) == partitions:
            break
    deadline = time.monotonic() + timeout
    found: list[str] = []
    while time.monotonic() < deadline:
        found = []
        for partition in range(partitions):
            status, headers, _ = http_get(f"{worker.url}/agents/{examples[partition].decode()}")
            if status != 200:
                break
            found.append(headers["X-Streamstats-Worker"])
        if len(found) == partitions:
            return found
        time.sleep(0.5)
    raise RuntimeError(f"could not learn every partition's owner from {worker.name}: {found}")


@dataclass(frozen=True, slots=True)
class WrkResult:
    """What one wrk run reported."""

    command: str
    requests: int
    per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    output: str


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _millis(text: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def run_wrk(options: Options, url: str, ids_file: Path) -> WrkResult:
    """Load ``GET /agents/{random id from ids_file}`` with wrk and parse its report."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is missing: apt-get install -y wrk")
    command = [
        wrk,
        f"-t{options.wrk_threads}",
        f"-c{options.wrk_connections}",
        f"-d{options.wrk_seconds}s",
        "--latency",
        "-s",
        str(LUA),
        url,
        "--",
        str(ids_file),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=options.wrk_seconds + 120, check=False
    )
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{output}")
    latency = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)$", output, re.MULTILINE))
    requests = re.search(r"^\s+(\d+) requests in", output, re.MULTILINE)
    rate = re.search(r"^Requests/sec:\s+([0-9.]+)", output, re.MULTILINE)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if not (latency and requests and rate):
        raise RuntimeError(f"cannot read wrk's report:\n{output}")
    shown = " ".join(["wrk", *command[1:6], "benchmarks/bench_scale.lua", url, "--", ids_file.name])
    return WrkResult(
        command=shown,
        requests=int(requests.group(1)),
        per_second=float(rate.group(1)),
        p50_ms=_millis(latency["50"]),
        p99_ms=_millis(latency["99"]),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(count) for count in errors.groups()) if errors else 0,
        output=output,
    )


def timed_get(url: str, timeout: float = 600.0) -> tuple[float, int, int]:
    """(seconds, status, body bytes) of one GET."""
    started = time.perf_counter()
    status, _, body = http_get(url, timeout=timeout)
    return time.perf_counter() - started, status, len(body)


# --- the run --------------------------------------------------------------------------------


@dataclass(slots=True)
class Results:
    """Every figure and check of a run."""

    options: Options
    machine_speed: float = 0.0
    """Bare ``orjson.loads`` lines a second before the run (``harness.machine_speed``)."""
    seeded_events: int = 0
    seeded_dead_letters: int = 0
    chats: int = 0
    agents: int = 0
    build_seconds: float = 0.0
    produce_seconds: float = 0.0
    record_bytes: int = 0
    evidence: tuple[int, int] = (0, 0)
    """Evidence items kept for the breakdowns, and their bytes."""
    sessions: tuple[int, int] = (0, 0)
    """Session summaries kept, and their bytes."""
    segment_bytes: int | None = None
    ready: dict[str, float] = field(default_factory=dict)
    memory: dict[str, tuple[int, int]] = field(default_factory=dict)
    rocksdb_bytes: int = 0
    wrk: dict[str, WrkResult] = field(default_factory=dict)
    metrics_seconds: list[float] = field(default_factory=list)
    list_seconds: float | None = None
    list_bytes: int = 0
    page_seconds: float | None = None
    owners_before: list[str] = field(default_factory=list)
    owners_after: list[str] = field(default_factory=list)
    worker_urls: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def say(text: str) -> None:
    """Progress on stderr; the report goes to stdout."""
    print(f"[bench_scale {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def run(options: Options) -> Results:
    """Seed, start, restart and load workers; stops them and deletes the topics at the end."""
    results = Results(options, machine_speed=machine_speed())
    scenario = Run(options)
    say(f"app id {scenario.app_id}, scratch {scenario.scratch}")
    try:
        seeded = _seed(options, scenario, results)
        _scenarios(options, scenario, results, seeded)
    finally:
        scenario.stop_all()
        if not options.keep_topics:
            deleted = asyncio.run(delete_run_topics(options.bootstrap, scenario.app_id))
            say(f"deleted {len(deleted)} topics")
        shutil.rmtree(scenario.scratch, ignore_errors=True)
    return results


def _seed(options: Options, scenario: Run, results: Results) -> Seeded:
    say(f"folding a simulated day: {options.agents:,} agents, {options.chats:,} chats")
    seeded = build_state(options)
    results.seeded_events = seeded.events
    results.seeded_dead_letters = seeded.dead_letters
    results.chats, results.agents = len(seeded.chats), len(seeded.agent_keys)
    results.evidence = seeded.items(EVIDENCE_KEY_MARK)
    results.sessions = seeded.items(SESSION_KEY_MARK)
    results.build_seconds = seeded.seconds
    results.record_bytes = seeded.record_bytes
    say(f"{seeded.events:,} events folded in {seeded.seconds:.0f} s; producing the changelogs")
    results.produce_seconds = asyncio.run(produce_changelogs(options, scenario.app_id, seeded))
    results.segment_bytes = log_segment_bytes(
        options.kafka_log_dir / "kraft", changelog_topics(scenario.app_id)
    )
    return seeded


def _scenarios(options: Options, scenario: Run, results: Results, seeded: Seeded) -> None:
    keys = seeded.agent_keys
    sample = random.Random(options.seed).sample(keys, min(options.samples, len(keys)))
    all_ids = scenario.scratch / "agents-all.txt"
    all_ids.write_bytes(b"\n".join(keys) + b"\n")

    # (a) first start: the RocksDB tables are recovered from the changelogs.
    say("worker A, RocksDB, first start")
    first = scenario.worker("a").start()
    results.ready["rocksdb_first"] = first.wait_ready(options.ready_timeout)
    results.memory["rocksdb_first"] = first.memory()
    results.problems += check_panels(first, seeded, sample)
    say("wrk against the only worker")
    results.wrk["one_worker"] = run_wrk(options, first.url, all_ids)
    for _ in range(3):
        seconds, status, _ = timed_get(f"{first.url}/metrics")
        results.metrics_seconds.append(seconds)
        if status != 200:
            results.problems.append(f"GET /metrics answered {status}")
    results.list_seconds, status, results.list_bytes = timed_get(f"{first.url}/agents")
    if status != 200:
        results.problems.append(f"GET /agents answered {status}")
    middle = urllib.parse.quote(sorted(keys)[len(keys) // 2].decode())
    results.page_seconds, status, _ = timed_get(f"{first.url}/agents?limit=100&after={middle}")
    if status != 200:
        results.problems.append(f"GET /agents?limit=100 answered {status}")
    first.stop()
    results.rocksdb_bytes = tree_bytes(first.data_dir)

    # (b) restart with the RocksDB data on disk.
    say("worker A, RocksDB, restart")
    again = first.start()
    results.ready["rocksdb_restart"] = again.wait_ready(options.ready_timeout)
    results.memory["rocksdb_restart"] = again.memory()
    results.problems += check_panels(again, seeded, sample[:20])

    # Two workers: B joins with an empty data dir; A keeps its RocksDB data.
    say("worker B joins")
    other = scenario.worker("b").start()
    results.ready["second_worker_join"] = other.wait_ready(options.ready_timeout)
    again.wait_ready(options.ready_timeout)
    results.worker_urls = {"A": again.url, "B": other.url}
    results.owners_before = owners(again, seeded, options.partitions)
    own = {partition for partition, url in enumerate(results.owners_before) if url == again.url}
    if not own or len(own) == options.partitions:
        results.problems.append(
            f"partitions not shared by the two workers: {results.owners_before}"
        )
    a_ids = scenario.scratch / "agents-owned-by-a.txt"
    b_ids = scenario.scratch / "agents-owned-by-b.txt"
    a_ids.write_bytes(
        b"".join(key + b"\n" for key in keys if partition_for(key, options.partitions) in own)
    )
    b_ids.write_bytes(
        b"".join(key + b"\n" for key in keys if partition_for(key, options.partitions) not in own)
    )
    say("wrk against A for A's agents, then for B's (routed)")
    results.wrk["two_workers_owner"] = run_wrk(options, again.url, a_ids)
    results.wrk["two_workers_routed"] = run_wrk(options, again.url, b_ids)
    results.owners_after = owners(again, seeded, options.partitions)
    if results.owners_after != results.owners_before:
        results.problems.append(
            f"ownership moved during the load: {results.owners_before} -> {results.owners_after}"
        )
    results.problems += check_panels(again, seeded, sample[:50])
    again.stop()
    other.stop()

    # (c) the memory store recovers everything from the changelogs at every start.
    say("worker M, memory store")
    memory = scenario.worker("m", store="memory").start()
    results.ready["memory"] = memory.wait_ready(options.ready_timeout)
    results.memory["memory"] = memory.memory()
    results.problems += check_panels(memory, seeded, sample[:20])
    memory.stop()


# --- the report -----------------------------------------------------------------------------


def checks(results: Results) -> list[str]:
    """What must hold at any size: workers ready, panels equal to the fold, no failed request."""
    failures = list(results.problems)
    for name in ("rocksdb_first", "rocksdb_restart", "second_worker_join", "memory"):
        if name not in results.ready:
            failures.append(f"no readiness figure for {name}")
    if results.agents != results.options.agents:
        failures.append(f"{results.agents:,} agents folded, not {results.options.agents:,}")
    for name, load in results.wrk.items():
        if load.requests == 0 or load.non_2xx or load.socket_errors:
            failures.append(
                f"wrk {name}: {load.requests} requests, {load.non_2xx} non-2xx, "
                f"{load.socket_errors} socket errors"
            )
    return failures


def targets(results: Results) -> list[tuple[str, bool]]:
    """The issue's targets, met or missed."""
    met = []
    restart = results.ready.get("rocksdb_restart")
    met.append(("restart-to-ready with RocksDB < 10 s", restart is not None and restart < 10))
    for name, label in (("one_worker", "owner"), ("two_workers_routed", "routed")):
        load = results.wrk.get(name)
        if load is not None:
            met.append((f"{label}: ≥ 5,000 req/s", load.per_second >= 5000))
            met.append((f"{label}: p99 < 10 ms", load.p99_ms < 10))
    return met


def _mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / (1 << 20):,.0f} MiB"


def report(results: Results) -> str:
    """Markdown for BENCHMARKS.md."""
    options = results.options
    ready, memory = results.ready, results.memory
    lines = [
        "## 3. Scale and HTTP under load (issue #5)",
        "",
        f"Command: `{options.command}` ({interpreter()}, {os.cpu_count()} cores, "
        f"Kafka at {options.bootstrap}, {options.partitions} partitions, "
        f"run {datetime.now(UTC):%Y-%m-%d}; bare `orjson.loads` at "
        f"{results.machine_speed / 1e6:.2f} M lines/s on one core before it).",
        f"State: `streamstats simulate --seed {options.seed} --agents {options.agents} "
        f"--chats {options.chats} --hours {HOURS:g}` ({results.seeded_events:,} events, "
        f"{results.seeded_dead_letters} rejected) folded by the worker's own stages in "
        f"{results.build_seconds:,.0f} s into {results.agents:,} agent and {results.chats:,} "
        f"chat records, produced to the two changelog topics in {results.produce_seconds:,.1f} s "
        "before the workers start.",
        "",
        "| what | figure | target |",
        "|---|---:|---:|",
        f"| changelog records (keys + values) | {_mib(results.record_bytes)} | |",
        f"| of which evidence for the breakdowns (spec §9) | {results.evidence[0]:,} items, "
        f"{_mib(results.evidence[1])}, {results.evidence[1] / max(1, results.agents):,.0f} "
        "bytes an agent | the current session's items |",
        f"| of which ended sessions (spec §10) | {results.sessions[0]:,} summaries, "
        f"{_mib(results.sessions[1])} | |",
        f"| changelog on the broker's disk (`.log` segments) | {_mib(results.segment_bytes)} | |",
        f"| RocksDB data dir of one worker holding every partition | "
        f"{_mib(results.rocksdb_bytes)} | |",
    ]
    labels = {
        "rocksdb_first": "RocksDB, first start (recovery from the changelogs)",
        "rocksdb_restart": "RocksDB, restart with its data on disk",
        "second_worker_join": "second worker joining (empty data dir)",
        "memory": "memory store (recovery from the changelogs)",
    }
    for name, label in labels.items():
        if name in ready:
            target = "< 10 s" if name == "rocksdb_restart" else ""
            lines.append(f"| start to `/readyz` 200: {label} | {ready[name]:,.1f} s | {target} |")
    for name, label in labels.items():
        if name in memory:
            rss, peak = memory[name]
            lines.append(f"| worker RSS after ready: {label} | {_mib(rss)} (peak {_mib(peak)}) | |")
    wrk_labels = {
        "one_worker": "one worker owning every partition",
        "two_workers_owner": "two workers, through A, agents A owns",
        "two_workers_routed": "two workers, through A, agents B owns (routed)",
    }
    for name, label in wrk_labels.items():
        load = results.wrk.get(name)
        if load is None:
            continue
        lines.append(
            f"| `GET /agents/{{id}}`, {label}: req/s, p50 / p99 | {load.per_second:,.0f} req/s, "
            f"{load.p50_ms:.2f} / {load.p99_ms:.2f} ms ({load.non_2xx} non-2xx, "
            f"{load.socket_errors} socket errors) | ≥ 5,000 req/s, p99 < 10 ms |"
        )
    if results.metrics_seconds:
        shown = ", ".join(f"{seconds:.2f}" for seconds in results.metrics_seconds)
        lines.append(f"| `GET /metrics` with {results.agents:,} agents (3 scrapes) | {shown} s | |")
    if results.list_seconds is not None:
        lines.append(
            f"| `GET /agents` (every panel) | {results.list_seconds:,.2f} s, "
            f"{_mib(results.list_bytes)} | |"
        )
    if results.page_seconds is not None:
        lines.append(
            f"| `GET /agents?limit=100&after=…` (a page from the middle) | "
            f"{results.page_seconds:,.2f} s | |"
        )
    lines += ["", "wrk commands (ids files: one agent id a line; `bench_scale.lua` picks one at"]
    lines.append("random per request):")
    lines.append("")
    for name, load in results.wrk.items():
        lines.append(f"- {name}: `{load.command}` ({load.requests:,} requests)")
    lines += ["", "Targets:"]
    lines += [f"- {what}: {'met' if ok else '**missed**'}" for what, ok in targets(results)]
    failures = checks(results)
    lines += ["", "Checks: " + ("all passed" if not failures else "; ".join(failures))]
    return "\n".join(lines)


DEFAULTS = Options()


def main() -> None:
    """Parse arguments, run, print the report and the raw wrk outputs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=DEFAULTS.agents)
    parser.add_argument("--chats", type=int, default=DEFAULTS.chats)
    parser.add_argument("--partitions", type=int, default=DEFAULTS.partitions)
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed)
    parser.add_argument("--wrk-seconds", type=int, default=DEFAULTS.wrk_seconds)
    parser.add_argument("--wrk-threads", type=int, default=DEFAULTS.wrk_threads)
    parser.add_argument("--wrk-connections", type=int, default=DEFAULTS.wrk_connections)
    parser.add_argument("--kafka-log-dir", type=Path, default=DEFAULTS.kafka_log_dir)
    parser.add_argument("--keep-topics", action="store_true", help="do not delete the topics")
    args = parser.parse_args()
    options = Options(
        bootstrap=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULTS.bootstrap),
        agents=args.agents,
        chats=args.chats,
        partitions=args.partitions,
        seed=args.seed,
        wrk_seconds=args.wrk_seconds,
        wrk_threads=args.wrk_threads,
        wrk_connections=args.wrk_connections,
        kafka_log_dir=args.kafka_log_dir,
        keep_topics=args.keep_topics,
    )
    options = replace(
        options, command="python " + " ".join(["benchmarks/bench_scale.py", *sys.argv[1:]])
    )
    results = run(options)
    for name, load in results.wrk.items():
        print(f"--- wrk {name}: {load.command}\n{load.output}", file=sys.stderr)
    print(report(results))
    if checks(results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
