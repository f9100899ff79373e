"""Fixtures that run real workers against a real Kafka broker.

The broker comes from ``KAFKA_BOOTSTRAP_SERVERS`` or is started (or reused) by
``deploy/local-kafka/kafka.sh``. Every test gets its own topics and consumer
group, so tests never see each other's data.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from benchmarks.harness import Partitioner, publish_partitioned
from benchmarks.launcher import Worker, free_port, settings_from_env
from playwright.sync_api import Browser, sync_playwright

from streamstats.runtime.kafka import delete_run_topics, ensure_topics, publish_lines
from streamstats.settings import DEFAULT_BATCH_SIZE, Settings

from ..factories import fnv1a
from ..loops import in_own_loop

ROOT = Path(__file__).resolve().parents[2]
KAFKA_SCRIPT = ROOT / "deploy" / "local-kafka" / "kafka.sh"


CHROMIUM = "/usr/bin/chromium"
# No sandbox as root; no background networking on a machine with no way out.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright (browsers cannot be downloaded here)."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def fnv1a_partitioner(key: bytes, all_partitions: list[int], available: list[int]) -> int:
    """sarama's default: 32-bit FNV-1a of the key, modulo the partition count."""
    return all_partitions[fnv1a(key) % len(all_partitions)]


@pytest.fixture(scope="session")
def bootstrap_servers() -> str:
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        return configured
    started = subprocess.run(
        ["bash", str(KAFKA_SCRIPT), "start"], capture_output=True, text=True, timeout=300
    )
    assert started.returncode == 0, f"could not start Kafka:\n{started.stderr}"
    return started.stdout.strip().split("=", 1)[1]


def tool(name: str, package: str) -> str:
    """The path of a Debian tool the tests drive; `make system-deps` installs them."""
    path = shutil.which(name)
    assert path is not None, f"{name} is missing: run `make system-deps` (Debian {package})"
    return path


def run_checked(*command: str) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in the repository; fail the test with its output unless it exits 0."""
    result = subprocess.run(
        command, cwd=ROOT, check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, (
        f"{' '.join(command)} exited {result.returncode}\n"
        f"--- stderr ---\n{result.stderr}\n--- stdout ---\n{result.stdout}"
    )
    return result


def http(method: str, url: str, body: bytes | None = None) -> tuple[int, dict[str, str], Any]:
    """(status, headers, parsed JSON body) of one request; never raises for HTTP errors."""
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), orjson.loads(answer.read())
    except urllib.error.HTTPError as error:
        payload = error.read()
        return error.code, dict(error.headers), orjson.loads(payload) if payload else None


def page_by_page(worker: Worker, at: str, limit: int, status: str | None = None) -> list[Any]:
    """Every panel of ``GET /agents`` at ``at``, read ``limit`` at a time following ``next``."""
    listed: list[Any] = []
    query = {"at": at, "limit": str(limit)} | ({} if status is None else {"status": status})
    while True:
        code, _, body = http("GET", f"{worker.url}/agents?{urllib.parse.urlencode(query)}")
        assert code == 200, body
        assert len(body["agents"]) <= limit
        listed.extend(body["agents"])
        if body["next"] is None:
            return listed
        assert body["next"] == body["agents"][-1]["agent_id"]
        query["after"] = body["next"]


def fetch_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        text: str = answer.read().decode()
        return text


@dataclass
class Deployment:
    """Topics and settings shared by the workers of one test."""

    settings: Settings
    tmp_path: Path
    workers: list[Worker] = field(default_factory=list)

    def worker(
        self,
        name: str = "w1",
        store: str = "rocksdb",
        jwt_secret: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        log_format: str = "text",
    ) -> Worker:
        """A worker of this deployment in ``tmp_path/name``; access control only with a secret."""
        shared = self.settings
        settings = settings_from_env(
            bootstrap_servers=shared.bootstrap_servers,
            app_id=shared.app_id,
            partitions=shared.partitions,
            status_topic=shared.status_topic,
            chat_topic=shared.chat_topic,
            dead_letter_topic=shared.dead_letter_topic,
            panels_topic=shared.panels_topic,
            sessions_topic=shared.sessions_topic,
            store=store,
            web_port=free_port(),
            web_host="127.0.0.1",
            log_level="info",
            log_format=log_format,
            auth="off" if jwt_secret is None else "on",
            jwt_secret=jwt_secret or "",
            batch_size=batch_size,
            # A SIGKILLed worker's partitions move after this long (tests kill many).
            session_timeout_s=10,
        )
        worker = Worker(settings, self.tmp_path / name)
        self.workers.append(worker)
        return worker

    def publish(
        self, lines: list[bytes], speed: float | None = None, partitioner: Partitioner | None = None
    ) -> None:
        """Publish events keyed as spec §1 says, by ``streamstats produce``'s code (murmur2
        partitions) or, with ``partitioner``, by an aiokafka producer that uses it."""
        if partitioner is None:
            in_own_loop(lambda: publish_lines(self.settings, lines, speed))
        else:
            in_own_loop(lambda: publish_partitioned(self.settings, lines, partitioner))

    def publish_raw(self, messages: list[tuple[str, bytes | None, bytes, int | None]]) -> None:
        """Send (topic, key, value, partition) messages exactly as given."""

        async def send_all() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=self.settings.bootstrap_servers)
            await producer.start()
            try:
                for topic, key, value, partition in messages:
                    await producer.send_and_wait(topic, value, key=key, partition=partition)
            finally:
                await producer.stop()

        in_own_loop(send_all)

    def consume(
        self, topic: str, count: int, timeout: float = 30.0
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """The first ``count`` records of ``topic`` (all partitions), waiting up to ``timeout``."""

        async def read() -> list[ConsumerRecord[bytes, bytes]]:
            consumer = AIOKafkaConsumer(
                topic,
                bootstrap_servers=self.settings.bootstrap_servers,
                auto_offset_reset="earliest",
                enable_auto_commit=False,
            )
            await consumer.start()
            records: list[ConsumerRecord[bytes, bytes]] = []
            try:
                deadline = time.monotonic() + timeout
                while len(records) < count and time.monotonic() < deadline:
                    batches = await consumer.getmany(timeout_ms=500)
                    for batch in batches.values():
                        records.extend(batch)
            finally:
                await consumer.stop()
            return records

        return in_own_loop(read)

    def stop(self) -> None:
        """Stop the workers and delete the run's topics, so a long-lived broker stays small."""
        for worker in self.workers:
            worker.stop()
        servers, app_id = self.settings.bootstrap_servers, self.settings.app_id
        # Clean-up only: a broker that is down keeps the topics, nothing else breaks.
        with contextlib.suppress(KafkaError):
            in_own_loop(lambda: delete_run_topics(servers, app_id))


def new_deployment(bootstrap_servers: str, tmp_path: Path) -> Deployment:
    """Fresh topics and a fresh consumer group on the broker."""
    run = f"t{uuid.uuid4().hex[:10]}"
    settings = Settings(
        bootstrap_servers=bootstrap_servers,
        app_id=run,
        partitions=4,
        status_topic=f"{run}.agent-status",
        chat_topic=f"{run}.chat-events",
        dead_letter_topic=f"{run}.dead-letter",
        panels_topic=f"{run}.agent-panels",
        sessions_topic=f"{run}.agent-sessions",
    )
    in_own_loop(lambda: ensure_topics(settings))
    return Deployment(settings, tmp_path)


@pytest.fixture
def deployment(bootstrap_servers: str, tmp_path: Path) -> Iterator[Deployment]:
    deployment = new_deployment(bootstrap_servers, tmp_path)
    yield deployment
    deployment.stop()
