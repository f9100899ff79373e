"""The team view at a glance, in Chromium, for a team of 20 and for a page of 500."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from benchmarks.launcher import Worker
from playwright.sync_api import Browser, Page, expect

from streamstats.tools.simulate import simulate_lines

from .conftest import http, new_deployment
from .test_browser import check_floor, screenshot

pytestmark = pytest.mark.integration

HOURS = 3.0


def today(agents: int, seed: int) -> list[bytes]:
    """A simulated morning of ``agents`` agents that ends now."""
    start = datetime.now(UTC) - timedelta(hours=HOURS)
    return [
        line.strip()
        for line in simulate_lines(seed=seed, agents=agents, hours=HOURS, start=start)
        if datetime.fromisoformat(_at(line)) <= datetime.now(UTC)
    ]


def _at(line: bytes) -> str:
    marker = b'"at":"'
    begin = line.index(marker) + len(marker)
    return line[begin : line.index(b'"', begin)].decode()


def served_team(
    bootstrap_servers: str, tmp_path_factory: pytest.TempPathFactory, agents: int
) -> Iterator[Worker]:
    deployment = new_deployment(bootstrap_servers, tmp_path_factory.mktemp(f"team{agents}"))
    worker = deployment.worker().start()
    worker.wait_ready()
    deployment.publish(today(agents, seed=agents))
    deadline = time.monotonic() + 90
    while len(all_panels(worker)) < agents:
        assert time.monotonic() < deadline, worker.log_tail()
        time.sleep(0.5)
    # Every event folded: the counters no longer move between two reads a second apart.
    seen = [panel["chats"] for panel in all_panels(worker)]
    while True:
        time.sleep(1.0)
        latest = [panel["chats"] for panel in all_panels(worker)]
        if latest == seen:
            break
        assert time.monotonic() < deadline, worker.log_tail()
        seen = latest
    yield worker
    deployment.stop()


@pytest.fixture(scope="module")
def team_of_20(
    bootstrap_servers: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    yield from served_team(bootstrap_servers, tmp_path_factory, 20)


@pytest.fixture(scope="module")
def team_of_520(
    bootstrap_servers: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    yield from served_team(bootstrap_servers, tmp_path_factory, 520)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    yield page
    page.close()


def all_panels(worker: Worker) -> list[Any]:
    status, _, body = http("GET", f"{worker.url}/agents")
    return list(body["agents"]) if status == 200 else []


def test_a_team_of_20_at_a_glance(team_of_20: Worker, page: Page) -> None:
    page.goto(f"{team_of_20.url}/team")
    expect(page.locator("#rows tr")).to_have_count(20, timeout=5000)
    panels = all_panels(team_of_20)
    check_floor(page, panels)
    online = [panel["agent_id"] for panel in panels if panel["status"]["current"] == "online"]
    for agent_id in online:
        row = page.locator(f"tr[data-agent='{agent_id}']")
        expect(row.locator("td[data-key=status] .icon.online")).to_have_count(1)
        expect(row.locator(".session-bar i")).to_have_count(3)
    expect(page.locator("#floor-scope")).not_to_contain_text("this page")
    screenshot(page, "team-20")


def test_a_page_of_500_at_a_glance(team_of_520: Worker, page: Page) -> None:
    page.goto(f"{team_of_520.url}/team")
    expect(page.locator("#rows tr")).to_have_count(500, timeout=10_000)
    expect(page.locator("#count")).to_have_text("500 agents, page 1")
    status, _, body = http("GET", f"{team_of_520.url}/agents?limit=500")
    assert status == 200
    check_floor(page, body["agents"])
    expect(page.locator("#floor-scope")).to_contain_text("this page")
    screenshot(page, "team-500")
