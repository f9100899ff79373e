"""What the benchmark scripts share: the broker's address, fresh settings, a worker process.

The scripts run as ``python benchmarks/<name>.py`` and import this module as
``harness``; tests import them as ``benchmarks.<name>``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from streamstats.runtime.kafka import route_event
from streamstats.settings import Settings
from streamstats.streaming.batch import partition_for

ROOT = Path(__file__).resolve().parents[1]

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


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


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
        auth="off",
        web_port=free_port(),
        log_level="warning",
        **overrides,
    )


class Worker:
    """One ``streamstats worker`` process, configured through ``STREAMSTATS_*``."""

    def __init__(self, settings: Settings, scratch: Path) -> None:
        env = dict(os.environ)
        for item in dataclasses.fields(Settings):
            env[f"STREAMSTATS_{item.name.upper()}"] = str(getattr(settings, item.name))
        env["STREAMSTATS_DATA_DIR"] = str(scratch / "data")
        self.url = settings.web_url
        self.log = scratch / "worker.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streamstats", "worker"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=scratch,
            )

    def get(self, path: str) -> bytes | None:
        """The body of ``GET path``, or None when the worker does not answer 200."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as answer:
                body: bytes = answer.read()
                return body
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Block until ``/readyz`` answers 200; raise if the worker dies or takes too long."""
        deadline = time.monotonic() + timeout
        while self.get("/readyz") is None:
            if not self.alive():
                raise RuntimeError(f"worker died:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker not ready after {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.1)

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.process.poll() is None

    def rss_mib(self) -> float | None:
        """Resident memory (VmRSS) in MiB, or None once the process is gone."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        found = re.search(r"^VmRSS:\s+(\d+) kB$", status, re.MULTILINE)
        return int(found.group(1)) / 1024 if found else None

    def cpu_seconds(self) -> float:
        """CPU time (user + system, all threads) the process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the worker's output."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a minute."""
        stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a worker process: SIGTERM, then SIGKILL if it has not exited after a minute."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
