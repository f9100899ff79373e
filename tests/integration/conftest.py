"""Fixtures that run real workers against a real Kafka broker.

The broker comes from ``KAFKA_BOOTSTRAP_SERVERS`` or is started (or reused) by
``deploy/local-kafka/kafka.sh``. Every test gets its own topics and consumer
group, so tests never see each other's data.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from benchmarks.harness import free_port, stop_process
from playwright.sync_api import Browser, sync_playwright

from streamstats.runtime.kafka import delete_run_topics, ensure_topics, publish_lines
from streamstats.settings import DEFAULT_BATCH_SIZE, Settings

T = TypeVar("T")
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


def in_own_loop(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on a fresh event loop in another thread.

    Playwright's sync API keeps an event loop running on the test's thread.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def fetch_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        text: str = answer.read().decode()
        return text


@dataclass
class Worker:
    """One ``streamstats worker`` process."""

    settings: Settings
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.settings.web_url

    def start(self) -> Worker:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streamstats", "worker"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.log_path.parent,
            )
        return self

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited early:\n{self.log_tail()}")
            try:
                status, _, _ = http("GET", f"{self.url}/readyz")
                if status == 200:
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        raise AssertionError(f"worker not ready after {timeout} s:\n{self.log_tail()}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def panels(self, at: str) -> dict[str, Any]:
        status, _, body = http("GET", f"{self.url}/agents?at={at}")
        assert status == 200, body
        return {panel["agent_id"]: panel for panel in body["agents"]}


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
    ) -> Worker:
        """A worker of this deployment; access control only when given a secret."""
        port = free_port()
        data_dir = self.tmp_path / name / "data"
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "STREAMSTATS_BOOTSTRAP_SERVERS": self.settings.bootstrap_servers,
            "STREAMSTATS_APP_ID": self.settings.app_id,
            "STREAMSTATS_PARTITIONS": str(self.settings.partitions),
            "STREAMSTATS_STATUS_TOPIC": self.settings.status_topic,
            "STREAMSTATS_CHAT_TOPIC": self.settings.chat_topic,
            "STREAMSTATS_DEAD_LETTER_TOPIC": self.settings.dead_letter_topic,
            "STREAMSTATS_PANELS_TOPIC": self.settings.panels_topic,
            "STREAMSTATS_STORE": store,
            "STREAMSTATS_DATA_DIR": str(data_dir),
            "STREAMSTATS_WEB_PORT": str(port),
            "STREAMSTATS_WEB_HOST": "127.0.0.1",
            "STREAMSTATS_LOG_LEVEL": "info",
            "STREAMSTATS_AUTH": "off" if jwt_secret is None else "on",
            "STREAMSTATS_JWT_SECRET": jwt_secret or "",
            "STREAMSTATS_BATCH_SIZE": str(batch_size),
            # A SIGKILLed worker's partitions move after this long (tests kill many).
            "STREAMSTATS_SESSION_TIMEOUT_S": "10",
        }
        settings = Settings.from_env({k: v for k, v in env.items() if k.startswith("STREAMSTATS_")})
        worker = Worker(settings, env, self.tmp_path / name / "worker.log")
        self.workers.append(worker)
        return worker

    def publish(self, lines: list[bytes], speed: float | None = None) -> None:
        in_own_loop(lambda: publish_lines(self.settings, lines, speed))

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
    )
    in_own_loop(lambda: ensure_topics(settings))
    return Deployment(settings, tmp_path)


@pytest.fixture
def deployment(bootstrap_servers: str, tmp_path: Path) -> Iterator[Deployment]:
    deployment = new_deployment(bootstrap_servers, tmp_path)
    yield deployment
    deployment.stop()
