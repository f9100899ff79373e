"""`make demo` (deploy/demo.sh): it serves simulated agents, and every run starts afresh.

The simulated day is the same each time, event ids included, so a demo folded onto an
earlier demo's topics and tables would drop its events as duplicates. Each run has
topics and tables of its own and removes them when it stops.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from benchmarks.launcher import free_port

from .conftest import ROOT, in_own_loop

pytestmark = pytest.mark.integration

DEMO = ROOT / "deploy" / "demo.sh"
API_TOKEN = re.compile(r"the API: +curl -H \"Authorization: Bearer (\S+)\"")


async def demo_topics(servers: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        return {name for name in await admin.list_topics() if name.startswith("streamstats-demo-")}
    finally:
        await admin.close()


def topics_left(servers: str, run: str) -> set[str]:
    """The run's topics still listed after a few seconds (the broker deletes them async)."""
    deadline = time.monotonic() + 15
    while True:
        left = {name for name in in_own_loop(lambda: demo_topics(servers)) if name.startswith(run)}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def read_panel(port: int, token: str, agent: str) -> dict[str, object] | None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/agents/{agent}", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            panel: dict[str, object] = orjson.loads(answer.read())
            return panel
    except OSError:  # not up yet, or the agent not folded yet (404)
        return None


RUN_NAME = re.compile(r"removes this run's topics \((streamstats-demo-\d+)\.\*")


def run_demo(servers: str, log: Path) -> tuple[str, dict[str, object], set[str]]:
    """Start the demo, wait for a-0001's panel, stop it with Ctrl-C.

    The run's name, the panel, and the demo topics that existed while it ran.
    """
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": servers,
        "STREAMSTATS_WEB_PORT": str(port),
        "DEMO_AGENTS": "5",
    }
    with log.open("wb") as output:
        # A session of its own: Ctrl-C reaches the whole foreground group, as in a terminal.
        demo = subprocess.Popen(
            ["bash", str(DEMO)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        panel = None
        while panel is None:
            text = log.read_text(errors="replace")
            assert demo.poll() is None, f"the demo stopped:\n{text[-3000:]}"
            assert time.monotonic() < deadline, f"no panel after 120 s:\n{text[-3000:]}"
            time.sleep(0.5)
            token = API_TOKEN.search(text)
            if token is not None:
                panel = read_panel(port, token.group(1), "a-0001")
        run = RUN_NAME.search(log.read_text(errors="replace"))
        assert run is not None, log.read_text(errors="replace")[-3000:]
        topics = in_own_loop(lambda: demo_topics(servers))
        os.killpg(demo.pid, signal.SIGINT)
        # 130 when bash takes the Ctrl-C first, the worker's 0 when it stops first.
        assert demo.wait(timeout=90) in (0, 130), log.read_text(errors="replace")[-3000:]
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
    return run.group(1), panel, topics


def test_each_demo_serves_panels_on_its_own_topics_and_removes_them(
    bootstrap_servers: str, tmp_path: Path
) -> None:
    first, panel, topics = run_demo(bootstrap_servers, tmp_path / "first.log")
    assert panel["agent_id"] == "a-0001"
    assert {f"{first}.agent-status", f"{first}.chat-events"} <= topics
    assert not topics_left(bootstrap_servers, first)
    assert not (ROOT / "streamstats-data" / first).exists()

    second, panel, topics = run_demo(bootstrap_servers, tmp_path / "second.log")
    assert second != first
    assert panel["agent_id"] == "a-0001"
    assert not {topic for topic in topics if topic.startswith(first)}
    assert not (ROOT / "streamstats-data" / second).exists()
