"""Spec §8: the HTTP view of one worker: reads, errors, status changes, health and metrics."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import orjson
import pytest
from benchmarks.launcher import Worker

from ..factories import EventFactory, at, lines
from .conftest import Deployment, fetch_text, http, new_deployment, page_by_page
from .test_stream import READ_AT, expected_panels, simulated, wait_until_replayed

pytestmark = pytest.mark.integration

LINES = simulated(seed=31, agents=12, hours=12)


@pytest.fixture(scope="module")
def served(
    bootstrap_servers: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Deployment, Worker]]:
    deployment = new_deployment(bootstrap_servers, tmp_path_factory.mktemp("http"))
    worker = deployment.worker().start()
    worker.wait_ready()
    deployment.publish(LINES)
    wait_until_replayed(worker, LINES)
    yield deployment, worker
    deployment.stop()


def test_an_agent_panel_is_served_with_freshness_headers(
    served: tuple[Deployment, Worker],
) -> None:
    _, worker = served
    agent_id, panel = next(iter(expected_panels(LINES).items()))
    status, headers, body = http("GET", f"{worker.url}/agents/{agent_id}?at={READ_AT}")
    assert (status, body) == (200, panel)
    assert headers["X-Streamstats-Last-Event-At"].endswith("Z")
    assert headers["X-Streamstats-Recovering"] == "false"


def test_without_at_durations_are_evaluated_now(served: tuple[Deployment, Worker]) -> None:
    _, worker = served
    agent_id = next(iter(expected_panels(LINES)))
    status, _, body = http("GET", f"{worker.url}/agents/{agent_id}")
    assert status == 200
    as_of = datetime.fromisoformat(body["as_of"])
    assert abs((datetime.now(UTC) - as_of).total_seconds()) < 60


def test_an_unknown_agent_is_a_404_with_a_json_error(served: tuple[Deployment, Worker]) -> None:
    _, worker = served
    status, _, body = http("GET", f"{worker.url}/agents/nobody")
    assert status == 404
    assert "nobody" in body["error"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/agents/a-0001?at=yesterday", "at"),
        ("/agents/a-0001?at=2026-11-25T10:00:00", "at"),
        ("/agents?status=sleeping", "status"),
        ("/agents?at=soon", "at"),
        ("/agents?limit=0", "limit"),
        ("/agents?limit=ten", "limit"),
        ("/agents?limit=-3", "limit"),
    ],
)
def test_a_bad_request_is_a_400_naming_the_problem(
    served: tuple[Deployment, Worker], path: str, field: str
) -> None:
    _, worker = served
    status, _, body = http("GET", f"{worker.url}{path}")
    assert status == 400
    assert body["error"].startswith(f"{field}:")


def test_the_supervisor_list_filters_by_status(served: tuple[Deployment, Worker]) -> None:
    _, worker = served
    expected = expected_panels(LINES)
    for wanted in ("online", "offline", "paused"):
        status, _, body = http("GET", f"{worker.url}/agents?status={wanted}&at={READ_AT}")
        assert status == 200
        assert body["agents"] == [
            panel for _, panel in sorted(expected.items()) if panel["status"]["current"] == wanted
        ]


@pytest.mark.parametrize("status", [None, "offline"])
def test_the_supervisor_list_comes_in_pages(
    served: tuple[Deployment, Worker], status: str | None
) -> None:
    _, worker = served
    expected = [
        panel
        for _, panel in sorted(expected_panels(LINES).items())
        if status in (None, panel["status"]["current"])
    ]
    assert len(expected) > 3, "the test needs more than one page"
    assert page_by_page(worker, READ_AT, limit=3, status=status) == expected


def test_posting_a_status_publishes_the_event_and_the_panel_shows_it(
    served: tuple[Deployment, Worker],
) -> None:
    deployment, worker = served
    body = orjson.dumps({"status": "paused", "reason": "coffee"})
    status, _, answer = http("POST", f"{worker.url}/agents/a-new/status", body)
    assert status == 202
    event_id = answer["event_id"]
    published = deployment.consume(deployment.settings.status_topic, 10_000, timeout=10)
    events = [orjson.loads(record.value) for record in published if record.key == b"a-new"]
    assert [event["event_id"] for event in events] == [event_id]
    assert events[0]["status"] == "paused"
    assert events[0]["reason"] == "coffee"
    for _ in range(50):
        code, _, panel = http("GET", f"{worker.url}/agents/a-new")
        if code == 200:
            break
        time.sleep(0.2)
    assert panel["status"]["current"] == "paused"
    assert panel["status"]["reason"] == "coffee"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"status": "away"}', "status"),
        (b'{"status": "online", "mood": "good"}', "mood"),
        (b'{"status": "online", "reason": 5}', "reason"),
        (b"not json", "body"),
    ],
)
def test_a_bad_status_request_is_a_400_naming_the_field(
    served: tuple[Deployment, Worker], body: bytes, field: str
) -> None:
    _, worker = served
    status, _, answer = http("POST", f"{worker.url}/agents/a-0001/status", body)
    assert status == 400
    assert answer["error"].startswith(field)


def test_health_and_readiness(served: tuple[Deployment, Worker]) -> None:
    _, worker = served
    assert http("GET", f"{worker.url}/healthz")[:3:2] == (200, {"status": "ok"})
    assert http("GET", f"{worker.url}/readyz")[:3:2] == (200, {"status": "ready"})


def test_metrics_pass_promtool_and_count_what_happened(
    served: tuple[Deployment, Worker], tmp_path: Path
) -> None:
    _, worker = served
    exposition = fetch_text(f"{worker.url}/metrics")
    promtool = shutil.which("promtool")
    assert promtool is not None, "install Debian's prometheus package (the CI script does)"
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=exposition.encode(), capture_output=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    applied = sum(
        float(line.rsplit(" ", 1)[1])
        for line in exposition.splitlines()
        if line.startswith("streamstats_events_applied_total{")
    )
    assert applied >= len({orjson.loads(line)["event_id"] for line in LINES})
    assert "streamstats_processing_delay_seconds_bucket" in exposition
    gauges = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in exposition.splitlines()
        if line.startswith(("streamstats_agents{", "streamstats_table_entries{"))
    }
    _, _, listed = http("GET", f"{worker.url}/agents")
    by_status = Counter(panel["status"]["current"] or "unknown" for panel in listed["agents"])
    assert {
        status: gauges[f'streamstats_agents{{status="{status}"}}'] for status in by_status
    } == by_status
    assert sum(
        value for name, value in gauges.items() if name.startswith("streamstats_agents{")
    ) == (len(listed["agents"]))
    assert gauges['streamstats_table_entries{table="agents"}'] == len(listed["agents"])


class EventStream:
    """A minimal Server-Sent Events reader over http.client."""

    def __init__(self, url: str, last_event_id: str | None = None) -> None:
        parts = urllib.parse.urlsplit(url)
        self.connection = HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        self.connection.request("GET", parts.path, headers=headers)
        self.response = self.connection.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("Content-Type") == "text/event-stream"

    def next_panel(self, timeout: float = 10.0) -> tuple[str, Any]:
        """(event id, panel) of the next panel event."""
        deadline = time.monotonic() + timeout
        fields: dict[str, str] = {}
        while time.monotonic() < deadline:
            line = self.response.readline().decode().rstrip("\n")
            if line == "":
                if fields.get("event") == "panel":
                    return fields["id"], orjson.loads(fields["data"])
                fields = {}
            elif not line.startswith(":") and ":" in line:
                name, value = line.split(":", 1)
                fields[name] = value.strip()
        raise AssertionError("no panel event in time")

    def close(self) -> None:
        self.connection.close()


def test_the_stream_sends_a_snapshot_then_changes(served: tuple[Deployment, Worker]) -> None:
    _, worker = served
    agent_id = next(iter(expected_panels(LINES)))
    stream = EventStream(f"{worker.url}/agents/{agent_id}/stream")
    try:
        _, snapshot = stream.next_panel()
        assert snapshot["agent_id"] == agent_id
        body = orjson.dumps({"status": "paused", "reason": "stream test"})
        assert http("POST", f"{worker.url}/agents/{agent_id}/status", body)[0] == 202
        for _ in range(20):
            event_id, panel = stream.next_panel()
            if panel["status"]["reason"] == "stream test":
                break
        else:
            raise AssertionError("the change never came")
        assert event_id != "snapshot"
    finally:
        stream.close()
    resumed = EventStream(f"{worker.url}/agents/{agent_id}/stream", last_event_id=event_id)
    try:
        resumed.connection.sock.settimeout(1.5)  # type: ignore[union-attr]
        with pytest.raises(TimeoutError):
            resumed.next_panel(timeout=1.5)
    finally:
        resumed.close()


def test_a_stream_of_an_unknown_agent_stays_open_for_its_first_event(
    served: tuple[Deployment, Worker],
) -> None:
    _, worker = served
    stream = EventStream(f"{worker.url}/agents/a-streamed/stream")
    try:
        body = orjson.dumps({"status": "online"})
        assert http("POST", f"{worker.url}/agents/a-streamed/status", body)[0] == 202
        _, panel = stream.next_panel()
        assert panel["status"]["current"] == "online"
    finally:
        stream.close()


def test_the_live_breakdown_equals_replay_explain_of_the_same_input(
    served: tuple[Deployment, Worker], tmp_path: Path
) -> None:
    """Spec §9: ``GET /agents/{id}/explain`` and ``streamstats replay --explain`` agree."""
    _, worker = served
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(LINES) + b"\n")
    done = subprocess.run(
        [sys.executable, "-m", "streamstats", "replay", str(events), "--explain", "--at", READ_AT],
        capture_output=True,
        check=True,
        timeout=120,
    )
    expected = orjson.loads(done.stdout)["agents"]
    assert expected
    for agent_id, breakdown in expected.items():
        status, _, body = http("GET", f"{worker.url}/agents/{agent_id}/explain?at={READ_AT}")
        assert (status, body) == (200, breakdown), agent_id
    assert any(breakdown["chats"]["closed"] for breakdown in expected.values())
    status, _, body = http("GET", f"{worker.url}/agents/nobody/explain")
    assert status == 404


def two_days_of_hist() -> list[bytes]:
    """Agent hist: a day's session, a night off, the next morning online again."""
    ev = EventFactory()
    return lines(
        [
            ev.status("hist", "online", at("08:00")),
            ev.assigned("hist-c1", "hist", at("08:10")),
            ev.closed("hist-c1", "hist", at("08:20")),
            ev.status("hist", "paused", at("12:00")),
            ev.status("hist", "offline", at("17:00")),
            ev.status("hist", "online", at("08:00", day=1)),
        ]
    )


def test_sessions_are_listed_reported_and_published_as_replay_prints_them(
    served: tuple[Deployment, Worker], tmp_path: Path
) -> None:
    """Spec §10, run last in this module: it adds an agent to the deployment."""
    deployment, worker = served
    events = two_days_of_hist()
    deployment.publish(events)
    path = tmp_path / "hist.jsonl"
    path.write_bytes(b"\n".join(events) + b"\n")
    read_at = "2026-11-26T09:00:00Z"
    done = subprocess.run(
        [sys.executable, "-m", "streamstats", "replay", str(path), "--sessions", "--at", read_at],
        capture_output=True,
        check=True,
        timeout=120,
    )
    expected = orjson.loads(done.stdout)["agents"]["hist"]
    assert len(expected) == 2
    url = f"{worker.url}/agents/hist/sessions?at={read_at}"
    deadline = time.monotonic() + 30
    while (answer := http("GET", url))[2] != {"agent_id": "hist", "sessions": expected}:
        assert time.monotonic() < deadline, answer
        time.sleep(0.2)
    ranged = http("GET", f"{url}&from=2026-11-26T00:00:00Z&to=2026-11-27T00:00:00Z")[2]
    assert ranged["sessions"] == expected[1:]
    status, _, report = http(
        "GET", f"{worker.url}/reports/sessions?from=2026-11-25T00:00:00Z&to={read_at}&at={read_at}"
    )
    assert status == 200
    rows = [row for row in report["sessions"] if row["agent_id"] == "hist"]
    assert [(row["start"], row["end"], row["closed"]) for row in rows] == [
        (session["start"], session["end"], session["chats"]["closed"]) for session in expected
    ]
    text = fetch_text(
        f"{worker.url}/reports/sessions?from=2026-11-25T00:00:00Z&to={read_at}&format=csv"
    )
    header, *body = text.splitlines()
    assert header == "agent_id,name,start,end,seconds,online,offline,paused,closed,missed,holds"
    assert "hist,,2026-11-25T08:00:00Z,2026-11-25T17:00:00Z,32400.0,14400.0,0.0,18000.0,1,0,0" in (
        body
    )
    records = deployment.consume(deployment.settings.sessions_topic, 10_000, timeout=5)
    published = [record for record in records if record.key == b"hist@2026-11-25T08:00:00Z"]
    assert [orjson.loads(record.value) for record in published][-1:] == [
        {"agent_id": "hist", **expected[0]}
    ]
    assert http("GET", f"{worker.url}/reports/sessions?from=2026-11-25T00:00:00Z")[0] == 400
