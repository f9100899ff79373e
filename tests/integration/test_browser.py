"""The agent panel and the team view in a real browser (Debian's Chromium via Playwright)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from benchmarks.launcher import Worker
from playwright.sync_api import Browser, Page, expect

from .conftest import Deployment, http, new_deployment

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"


def stamp(minutes_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


def event(number: int, type_: str, minutes_ago: float, **fields: Any) -> bytes:
    body = {"event_id": f"b{number}", "type": type_, "at": stamp(minutes_ago), **fields}
    return orjson.dumps(body)


def day_so_far() -> list[bytes]:
    """Ann online for two hours with a pause; Bob online; chats closed, held, missed."""
    return [
        event(1, "agent.profile_changed", 130, agent_id="ann", name="Ann", nickname=None),
        event(2, "agent.status_changed", 120, agent_id="ann", status="online"),
        event(3, "agent.status_changed", 119, agent_id="bob", status="online"),
        event(4, "chat.assigned", 110, chat_id="c1", agent_id="ann"),
        event(5, "chat.closed", 100, chat_id="c1", agent_id="ann", reason="agent"),
        event(6, "chat.assigned", 90, chat_id="c2", agent_id="ann"),
        event(7, "chat.held", 85, chat_id="c2", agent_id="ann"),
        event(8, "chat.assigned", 80, chat_id="c3", agent_id="ann"),
        event(
            9,
            "chat.transferred",
            75,
            chat_id="c3",
            from_agent_id="ann",
            to_agent_id="bob",
            reason="no_agent_answer",
        ),
        event(10, "agent.status_changed", 60, agent_id="ann", status="paused", reason="lunch"),
        event(11, "agent.status_changed", 30, agent_id="ann", status="online"),
        event(12, "agent.status_changed", 20, agent_id="carl", status="offline"),
        event(13, "chat.assigned", 15, chat_id="c4", agent_id="dana"),
    ]


@pytest.fixture(scope="module")
def served(
    bootstrap_servers: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Deployment, Worker]]:
    deployment = new_deployment(bootstrap_servers, tmp_path_factory.mktemp("browser"))
    worker = deployment.worker().start()
    worker.wait_ready()
    deployment.publish(day_so_far())
    deadline = time.monotonic() + 60
    while http("GET", f"{worker.url}/agents/carl")[0] != 200:
        assert time.monotonic() < deadline, worker.log_tail()
        time.sleep(0.2)
    yield deployment, worker
    deployment.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    yield page
    page.close()


def projection(worker: Worker, agent: str) -> Any:
    status, _, body = http("GET", f"{worker.url}/agents/{agent}")
    assert status == 200
    return body


def seconds_shown(page: Page, element: str) -> float:
    return float(page.locator(f"#{element}").get_attribute("data-seconds") or "nan")


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for width, label in ((360, "narrow"), (1440, "wide")):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(300)
        page.screenshot(path=ARTIFACTS / f"{name}-{label}.png", full_page=True)


def check_floor(page: Page, panels: list[Any], timeout: float = 5000) -> None:
    """The team view's header counts what ``panels`` (the rows) show."""
    for current in ("online", "paused", "offline"):
        count = sum(panel["status"]["current"] == current for panel in panels)
        expect(page.locator(f"#floor-{current}")).to_have_text(str(count), timeout=timeout)
    for element, field in (("active", "active"), ("on-hold", "on_hold"), ("closed", "closed")):
        total = sum(panel["chats"][field] for panel in panels)
        expect(page.locator(f"#floor-{element}")).to_have_text(str(total), timeout=timeout)


def test_the_panel_shows_every_figure_of_the_projection(
    served: tuple[Deployment, Worker], page: Page
) -> None:
    _, worker = served
    page.goto(f"{worker.url}/panel/ann")
    expected = projection(worker, "ann")
    expect(page.locator("#closed")).to_have_text(str(expected["chats"]["closed"]), timeout=2000)
    expect(page.locator("#name")).to_have_text("Ann")
    expect(page.locator("#missed")).to_have_text(str(expected["chats"]["missed"]))
    expect(page.locator("#on-hold")).to_have_text(str(expected["chats"]["on_hold"]))
    expect(page.locator("#active")).to_have_text(str(expected["chats"]["active"]))
    expect(page.locator("#status-select")).to_have_value("online")
    assert (
        page.locator("#first-online").get_attribute("data-value")
        == (expected["session"]["first_online"])
    )
    now = projection(worker, "ann")
    for element, value in (
        ("status-seconds", now["status"]["seconds"]),
        ("total", now["session"]["seconds"]),
        ("online-time", now["time"]["online"]),
        ("offline-time", now["time"]["offline"]),
        ("paused-time", now["time"]["paused"]),
    ):
        assert abs(seconds_shown(page, element) - value) < 2.0, element
    assert expected["chats"] == {"closed": 1, "missed": 1, "on_hold": 1, "active": 1, "holds": 1}
    screenshot(page, "panel")


def test_the_panel_ticks_between_updates(served: tuple[Deployment, Worker], page: Page) -> None:
    _, worker = served
    page.goto(f"{worker.url}/panel/ann")
    expect(page.locator("#name")).to_have_text("Ann", timeout=2000)
    first = seconds_shown(page, "status-seconds")
    page.wait_for_timeout(1600)
    assert seconds_shown(page, "status-seconds") - first >= 1.0


def test_counters_follow_new_events_within_two_seconds(
    served: tuple[Deployment, Worker], page: Page
) -> None:
    deployment, worker = served
    page.goto(f"{worker.url}/panel/ann")
    expect(page.locator("#active")).to_have_text("1", timeout=2000)
    deployment.publish([event(20, "chat.assigned", 0, chat_id="c20", agent_id="ann")])
    deadline = time.monotonic() + 10
    while projection(worker, "ann")["chats"]["active"] != 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    expect(page.locator("#active")).to_have_text("2", timeout=2000)


def test_clicking_offline_publishes_the_status_and_the_panel_shows_it(
    served: tuple[Deployment, Worker], page: Page
) -> None:
    deployment, worker = served
    page.goto(f"{worker.url}/panel/bob")
    expect(page.locator("#status-select")).to_have_value("online", timeout=2000)
    page.click("#btn-offline")
    expect(page.locator("#status-select")).to_have_value("offline", timeout=3000)
    records = deployment.consume(deployment.settings.status_topic, 10_000, timeout=5)
    published = [orjson.loads(record.value) for record in records if record.key == b"bob"]
    assert published[-1]["status"] == "offline"
    assert projection(worker, "bob")["status"]["current"] == "offline"


def test_an_unknown_agent_shows_a_clear_message(
    served: tuple[Deployment, Worker], page: Page
) -> None:
    _, worker = served
    page.goto(f"{worker.url}/panel/nobody")
    expect(page.locator("#error")).to_have_text("No events for agent nobody yet.", timeout=2000)


def test_the_team_view_lists_filters_and_sorts(
    served: tuple[Deployment, Worker], page: Page
) -> None:
    _, worker = served
    page.goto(f"{worker.url}/team")
    expect(page.locator("#rows tr")).to_have_count(4, timeout=2000)
    page.select_option("#filter", "online")
    expect(page.locator("#rows tr")).to_have_count(1, timeout=3000)
    expect(page.locator("#rows tr td[data-key=agent_id]")).to_have_text(["ann"])
    page.select_option("#filter", "")
    expect(page.locator("#rows tr")).to_have_count(4, timeout=3000)
    page.click("th[data-key=closed]")
    page.click("th[data-key=closed]")
    expect(page.locator("#rows tr td[data-key=agent_id]").first).to_have_text("ann")
    screenshot(page, "team")


def test_the_team_view_pages_through_a_big_team(
    served: tuple[Deployment, Worker], page: Page
) -> None:
    _, worker = served
    page.goto(f"{worker.url}/team?page_size=2")
    ids = page.locator("#rows tr td[data-key=agent_id]")
    expect(ids).to_have_text(["ann", "bob"], timeout=2000)
    expect(page.locator("#prev")).to_be_disabled()
    screenshot(page, "team-pages")
    page.click("#next")
    expect(ids).to_have_text(["carl", "dana"], timeout=3000)
    expect(page.locator("#count")).to_have_text("2 agents, page 2")
    expect(page.locator("#next")).to_be_disabled()
    page.click("#prev")
    expect(ids).to_have_text(["ann", "bob"], timeout=3000)


def test_clicking_a_counter_or_the_wheel_opens_its_breakdown(
    served: tuple[Deployment, Worker], page: Page
) -> None:
    """Spec §9 in the panel: the chats behind a counter, the segments behind the wheel."""
    _, worker = served
    page.goto(f"{worker.url}/panel/ann")
    expect(page.locator("#name")).to_have_text("Ann", timeout=2000)
    status, _, explained = http("GET", f"{worker.url}/agents/ann/explain")
    assert status == 200
    page.click("[data-explain=closed]")
    dialog = page.locator("#breakdown")
    expect(dialog).to_be_visible(timeout=2000)
    expect(page.locator("#breakdown-title")).to_have_text("Closed chats")
    cells = page.locator("#breakdown-table tbody tr td:first-child")
    expect(cells).to_have_text([item["chat_id"] for item in explained["chats"]["closed"]])
    expect(page.locator("#breakdown-table tbody tr td:nth-child(4)")).to_have_text(["closed"])
    screenshot(page, "breakdown-closed")
    page.click("#breakdown-close")
    expect(dialog).to_be_hidden()
    page.click("[data-explain=missed]")
    expect(cells).to_have_text(["c3"], timeout=2000)
    page.click("#breakdown-close")
    page.click("[data-explain=segments]")
    expect(page.locator("#breakdown-title")).to_have_text("Time in this session", timeout=2000)
    statuses = page.locator("#breakdown-table tbody tr td:first-child")
    expect(statuses).to_have_text(["online", "paused", "online"])
    expect(page.locator("#breakdown-table tbody tr td:nth-child(2)")).to_have_text(
        ["", "lunch", ""]
    )
    screenshot(page, "breakdown-time")


def test_the_team_view_shows_the_floor_at_a_glance(
    served: tuple[Deployment, Worker], page: Page
) -> None:
    _, worker = served
    page.goto(f"{worker.url}/team")
    expect(page.locator("#rows tr")).to_have_count(4, timeout=2000)
    status, _, body = http("GET", f"{worker.url}/agents")
    assert status == 200
    panels = body["agents"]
    check_floor(page, panels, timeout=3000)
    dana = page.locator("tr[data-agent=dana] td[data-key=status]")
    expect(dana).to_have_text("not online yet")
    expect(page.locator("tr[data-agent=ann] td[data-key=status] .icon.online")).to_have_count(1)
    bar = page.locator("tr[data-agent=ann] .session-bar i.paused")
    width = float((bar.get_attribute("style") or "").split("width:")[1].strip(" %;"))
    ann = next(panel for panel in panels if panel["agent_id"] == "ann")
    share = 100 * ann["time"]["paused"] / ann["session"]["seconds"]
    assert abs(width - share) < 2.0
    screenshot(page, "team-floor")
