"""Access control of the HTTP view (issue #4): tokens, roles, 401 and 403."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from benchmarks.launcher import Worker
from playwright.sync_api import Browser, expect

from streamstats.web.auth import mint_token

from .conftest import Deployment, new_deployment

pytestmark = pytest.mark.integration

SECRET = "integration-secret-" + "x" * 20


def call(worker: Worker, path: str, token: str | None = None, body: bytes | None = None) -> Any:
    request = urllib.request.Request(
        worker.url + path, data=body, method="POST" if body is not None else "GET"
    )
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(scope="module")
def guarded(
    bootstrap_servers: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Deployment, Worker]]:
    deployment = new_deployment(bootstrap_servers, tmp_path_factory.mktemp("access"))
    worker = deployment.worker(jwt_secret=SECRET).start()
    worker.wait_ready()
    deployment.publish(
        [
            orjson.dumps(
                {
                    "event_id": f"e-{agent}",
                    "type": "agent.status_changed",
                    "at": "2026-11-25T08:00:00Z",
                    "agent_id": agent,
                    "status": "online",
                }
            )
            for agent in ("ann", "bob")
        ]
    )
    yield deployment, worker
    deployment.stop()


def token(agent: str, role: str = "agent") -> str:
    return mint_token(agent, role, secret=SECRET)  # type: ignore[arg-type]


def test_without_a_token_reads_are_refused_with_401(guarded: tuple[Deployment, Worker]) -> None:
    _, worker = guarded
    status, body = call(worker, "/agents/ann")
    assert status == 401
    assert "bearer token" in orjson.loads(body)["error"]
    assert call(worker, "/agents/ann", "garbage")[0] == 401


def test_an_agent_reads_itself_but_not_another_agent(guarded: tuple[Deployment, Worker]) -> None:
    _, worker = guarded
    deadline = time.monotonic() + 30
    while call(worker, "/agents/ann", token("ann"))[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    status, body = call(worker, "/agents/bob", token("ann"))
    assert status == 403
    assert "bob" in orjson.loads(body)["error"]
    assert call(worker, "/agents", token("ann"))[0] == 403
    change = orjson.dumps({"status": "paused"})
    assert call(worker, "/agents/bob/status", token("ann"), change)[0] == 403
    assert call(worker, "/agents/ann/status", token("ann"), change)[0] == 202


def test_a_supervisor_reads_everyone(guarded: tuple[Deployment, Worker]) -> None:
    _, worker = guarded
    boss = token("boss", "supervisor")
    assert call(worker, "/agents/bob", boss)[0] == 200
    status, body = call(worker, "/agents", boss)
    assert status == 200
    assert {panel["agent_id"] for panel in orjson.loads(body)["agents"]} >= {"ann", "bob"}


def test_health_readiness_and_metrics_stay_open(guarded: tuple[Deployment, Worker]) -> None:
    _, worker = guarded
    for path in ("/healthz", "/readyz", "/metrics"):
        assert call(worker, path)[0] == 200, path


def test_the_page_sets_the_token_as_a_cookie_once(guarded: tuple[Deployment, Worker]) -> None:
    _, worker = guarded
    with urllib.request.urlopen(f"{worker.url}/panel/ann?token={token('ann')}") as answer:
        cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("streamstats_token=")
    assert "HttpOnly" in cookie


def test_a_wrong_token_shows_a_clear_message_on_the_panel(
    guarded: tuple[Deployment, Worker], browser: Browser
) -> None:
    _, worker = guarded
    page = browser.new_page()
    page.goto(f"{worker.url}/panel/ann?token=not-a-token")
    expect(page.locator("#error")).to_contain_text("the token is not valid", timeout=3000)
    page.goto(f"{worker.url}/panel/bob?token={token('ann')}")
    expect(page.locator("#error")).to_contain_text(
        "may not see the data of agent 'bob'", timeout=3000
    )
    page.close()
