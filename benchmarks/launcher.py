"""One way to run a ``streamstats worker`` process, for tests, benchmarks and proofs.

A :class:`Worker` is configured by a :class:`~streamstats.settings.Settings`, written
into its environment as ``STREAMSTATS_*`` variables, and lives in a folder of its
own: its working directory, its log ``worker.log`` and its data dir ``data/``.

Tests import this module as ``benchmarks.launcher``; the benchmark scripts, run as
``python benchmarks/<name>.py``, import it as ``launcher``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from streamstats.settings import Settings

__all__ = ["Worker", "free_port", "settings_from_env", "worker_env"]

READY_POLL_SECONDS = 0.05
"""How often :meth:`Worker.wait_ready` asks ``/readyz``."""


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def settings_from_env(**values: object) -> Settings:
    """Settings from this process's ``STREAMSTATS_*`` variables, with ``values`` over them.

    ``values`` are given by field name (``store="memory"``) and checked like the
    variables a worker reads.
    """
    env = {name: raw for name, raw in os.environ.items() if name.startswith("STREAMSTATS_")}
    for name, value in values.items():
        env[f"STREAMSTATS_{name.upper()}"] = str(value)
    return Settings.from_env(env)


def worker_env(settings: Settings) -> dict[str, str]:
    """This process's environment with every field of ``settings`` as its variable."""
    env = dict(os.environ)
    for item in dataclasses.fields(Settings):
        env[f"STREAMSTATS_{item.name.upper()}"] = str(getattr(settings, item.name))
    return env


@dataclass
class Worker:
    """One ``streamstats worker`` process, started and stopped as often as needed.

    Its data dir is ``folder / "data"`` whatever ``settings`` says, so that
    ``settings`` is exactly what the process runs with.
    """

    settings: Settings
    folder: Path
    """Working directory; holds ``worker.log`` (appended to at every start) and ``data/``."""
    own_session: bool = False
    """Start the process in a session of its own and signal its whole process group."""
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    started: float = field(default=0.0, init=False)
    """``time.monotonic()`` at the last start."""

    def __post_init__(self) -> None:
        self.settings = dataclasses.replace(self.settings, data_dir=self.folder / "data")

    @property
    def name(self) -> str:
        """The folder's name, for messages."""
        return self.folder.name

    @property
    def url(self) -> str:
        """Where the worker's HTTP view answers."""
        return self.settings.web_url

    @property
    def data_dir(self) -> Path:
        """The worker's RocksDB folder."""
        return self.settings.data_dir

    @property
    def log_path(self) -> Path:
        """The worker's standard output and error, all starts one after the other."""
        return self.folder / "worker.log"

    def start(self) -> Worker:
        """Start the process (again, after a stop or a kill); returns the worker."""
        if self.alive():
            raise RuntimeError(f"worker {self.name} is already running")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.started = time.monotonic()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streamstats", "worker"],
                env=worker_env(self.settings),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.folder,
                start_new_session=self.own_session,
            )
        return self

    def wait_ready(self, timeout: float = 90.0) -> float:
        """Block until ``/readyz`` answers 200; the seconds since the last start.

        Raises :class:`RuntimeError` with the end of the log if the process exits
        or is not ready within ``timeout`` seconds.
        """
        process = self._running()
        deadline = time.monotonic() + timeout
        while self.get("/readyz") is None:
            code = process.poll()
            if code is not None:
                raise RuntimeError(f"worker {self.name} exited ({code}):\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"worker {self.name} not ready after {timeout:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(READY_POLL_SECONDS)
        return time.monotonic() - self.started

    def get(self, path: str, timeout: float = 5.0) -> bytes | None:
        """The body of ``GET path``, or None when the worker does not answer 200."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as answer:
                body: bytes = answer.read()
                return body
        except OSError:  # urllib.error.URLError and HTTPError among them
            return None

    def alive(self) -> bool:
        """Whether the process is running."""
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash would; returns once the process is gone."""
        process = self._running()
        self._signal(signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if the process has not exited after a minute."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            process.wait(timeout=30)

    def log_tail(self, lines: int = 60) -> str:
        """The last ``lines`` lines of the worker's log."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def memory(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) of the running process, in bytes."""
        status = self._status_kib()
        if status is None:
            raise RuntimeError(f"worker {self.name} is not running")
        return status["VmRSS"] * 1024, status["VmHWM"] * 1024

    def rss_mib(self) -> float | None:
        """Resident memory (VmRSS) in MiB, or None once the process is gone."""
        status = self._status_kib()
        return None if status is None else status["VmRSS"] / 1024

    def cpu_seconds(self) -> float:
        """CPU time (user + system, all threads) the process has used so far."""
        stat = Path(f"/proc/{self._running().pid}/stat").read_text()
        values = stat.rsplit(")", 1)[1].split()
        return (int(values[11]) + int(values[12])) / os.sysconf("SC_CLK_TCK")

    def _running(self) -> subprocess.Popen[bytes]:
        if self.process is None:
            raise RuntimeError(f"worker {self.name} was never started")
        return self.process

    def _signal(self, number: signal.Signals) -> None:
        process = self._running()
        if process.poll() is not None:
            return
        if not self.own_session:
            process.send_signal(number)
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, number)

    def _status_kib(self) -> dict[str, int] | None:
        try:
            text = Path(f"/proc/{self._running().pid}/status").read_text()
        except OSError:
            return None
        found = re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB$", text, re.MULTILINE)
        return {name: int(kib) for name, kib in found} or None
