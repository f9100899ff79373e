"""The worker against a real broker ends equal to `streamstats replay` of the same events."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from benchmarks.launcher import Worker

from streamstats.core.instant import parse_instant
from streamstats.core.replay import breakdowns, panels, replay_lines, session_histories
from streamstats.runtime.kafka import delete_run_topics, read_offsets
from streamstats.tools.simulate import simulate_lines

from .conftest import Deployment, http, in_own_loop, page_by_page

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 25, 6, tzinfo=UTC)
READ_AT = "2026-11-26T07:00:00Z"


def simulated(seed: int, agents: int, hours: float = 24) -> list[bytes]:
    return [
        line.strip() for line in simulate_lines(seed=seed, agents=agents, hours=hours, start=START)
    ]


def shuffled_across_topics(lines: list[bytes], seed: int) -> list[bytes]:
    """A random interleaving of status and chat events that keeps each topic's order."""
    status = [line for line in lines if b'"agent.' in line[:80]]
    chats = [line for line in lines if b'"agent.' not in line[:80]]
    rng = random.Random(seed)
    merged: list[bytes] = []
    while status or chats:
        source = status if chats == [] or (status and rng.random() < 0.5) else chats
        merged.append(source.pop(0))
    return merged


def expected_panels(lines: list[bytes], at: str = READ_AT) -> dict[str, Any]:
    return dict(panels(replay_lines(lines), parse_instant(at)))


def wait_until_replayed(worker: Worker, lines: list[bytes], timeout: float = 120) -> None:
    expected = expected_panels(lines)
    deadline = time.monotonic() + timeout
    got: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status, _, body = http("GET", f"{worker.url}/agents?at={READ_AT}")
        if status == 200:
            got = {panel["agent_id"]: panel for panel in body["agents"]}
            if got == expected:
                return
        time.sleep(0.5)
    differing = sorted(
        agent for agent in expected.keys() | got.keys() if expected.get(agent) != got.get(agent)
    )
    first = differing[0] if differing else None
    raise AssertionError(
        f"{len(differing)} agents differ from replay; first {first}:\n"
        f"worker: {got.get(first)}\nreplay: {expected.get(first)}\n{worker.log_tail(20)}"
    )


def test_a_simulated_stream_through_both_topics_equals_replay(deployment: Deployment) -> None:
    lines = simulated(seed=11, agents=25)
    worker = deployment.worker().start()
    worker.wait_ready()
    deployment.publish(shuffled_across_topics(lines, seed=3))
    wait_until_replayed(worker, lines)
    some_agent = next(iter(expected_panels(lines)))
    status, headers, body = http("GET", f"{worker.url}/agents/{some_agent}?at={READ_AT}")
    assert status == 200
    assert body == expected_panels(lines)[some_agent]
    assert headers["X-Streamstats-Recovering"] == "false"


def test_the_event_by_event_baseline_worker_also_equals_replay(deployment: Deployment) -> None:
    # STREAMSTATS_BATCH_SIZE=1: plain Faust agents, the benchmarks' naive baseline.
    lines = simulated(seed=12, agents=10, hours=6)
    worker = deployment.worker(batch_size=1).start()
    worker.wait_ready()
    deployment.publish(shuffled_across_topics(lines, seed=4))
    wait_until_replayed(worker, lines)


def test_a_worker_killed_mid_stream_and_restarted_ends_equal_to_replay(
    deployment: Deployment,
) -> None:
    lines = simulated(seed=13, agents=40)
    worker = deployment.worker().start()
    worker.wait_ready()
    half = len(lines) // 2
    deployment.publish(lines[:half])
    time.sleep(1.0)
    worker.kill()
    deployment.publish(lines[half:])
    worker.start()
    worker.wait_ready()
    wait_until_replayed(worker, lines)


def limit_message_size(servers: str, topic: str, size: int) -> None:
    async def alter() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=servers)
        await admin.start()
        try:
            resource = ConfigResource(
                ConfigResourceType.TOPIC, topic, {"max.message.bytes": str(size)}
            )
            await admin.alter_configs([resource])
        finally:
            await admin.close()

    in_own_loop(alter)


def test_a_worker_that_cannot_write_its_output_stops_and_loses_nothing(
    deployment: Deployment,
) -> None:
    lines = simulated(seed=16, agents=10, hours=6)
    servers = deployment.settings.bootstrap_servers
    worker = deployment.worker().start()
    worker.wait_ready()
    # The broker now refuses every batch sent to the agent-changes topic.
    limit_message_size(servers, deployment.settings.changes_topic, 64)
    deployment.publish(lines)
    assert worker.process is not None
    worker.process.wait(timeout=90)
    assert "could not write to Kafka" in worker.log_tail(200)
    limit_message_size(servers, deployment.settings.changes_topic, 1_048_588)
    worker.start()
    worker.wait_ready()
    wait_until_replayed(worker, lines)


def test_a_worker_on_the_memory_store_recovers_from_the_changelog(
    deployment: Deployment,
) -> None:
    lines = simulated(seed=14, agents=10, hours=12)
    worker = deployment.worker(store="memory").start()
    worker.wait_ready()
    deployment.publish(lines)
    wait_until_replayed(worker, lines)
    assert_explained_as_replay(lines, worker)
    worker.stop()
    worker.start()
    worker.wait_ready()
    wait_until_replayed(worker, lines, timeout=60)
    # The agents' evidence and sessions, read back by Faust's recovery, are found again.
    assert_explained_as_replay(lines, worker)


def assert_explained_as_replay(lines: list[bytes], *workers: Worker) -> dict[str, Any]:
    """Every agent's breakdown and session list, from each worker, equal replay's; the
    session histories."""
    replayed = replay_lines(lines, evidence=True, sessions=True)
    at = parse_instant(READ_AT)
    explained, histories = breakdowns(replayed, at), session_histories(replayed, at)
    for agent_id in explained:
        for worker in workers:
            url = f"{worker.url}/agents/{agent_id}"
            assert http("GET", f"{url}/explain?at={READ_AT}")[2] == explained[agent_id]
            sessions = http("GET", f"{url}/sessions?at={READ_AT}")[2]
            assert sessions == {"agent_id": agent_id, "sessions": histories[agent_id]}
    return histories


def test_two_workers_share_partitions_and_each_answers_for_every_agent(
    deployment: Deployment,
) -> None:
    lines = simulated(seed=15, agents=20, hours=12)
    first, second = deployment.worker("w1").start(), deployment.worker("w2").start()
    first.wait_ready()
    second.wait_ready()
    deployment.publish(lines)
    wait_until_replayed(first, lines)
    wait_until_replayed(second, lines)
    expected = expected_panels(lines)
    owners = set()
    for agent_id, panel in expected.items():
        for worker in (first, second):
            status, headers, body = http("GET", f"{worker.url}/agents/{agent_id}?at={READ_AT}")
            assert (status, body) == (200, panel)
            owners.add(headers["X-Streamstats-Worker"])
    assert owners == {first.url, second.url}, "both workers should own some agents"
    for worker in (first, second):
        assert page_by_page(worker, READ_AT, limit=3) == [
            panel for _, panel in sorted(expected.items())
        ]
    histories = assert_explained_as_replay(lines, first, second)
    report = f"reports/sessions?from=2026-11-24T00:00:00Z&to={READ_AT}&at={READ_AT}"
    rows = [http("GET", f"{worker.url}/{report}")[2]["sessions"] for worker in (first, second)]
    assert rows[0] == rows[1]
    assert len(rows[0]) == sum(len(found) for found in histories.values())


def test_offsets_a_consumer_skipped_are_read_back_from_kafka(deployment: Deployment) -> None:
    topic = deployment.settings.chat_topic
    deployment.publish_raw([(topic, b"k", f"m{number}".encode(), 0) for number in range(10)])
    servers = deployment.settings.bootstrap_servers
    found = in_own_loop(lambda: read_offsets(servers, topic, 0, 3, 7))
    assert found == [(number, b"k", f"m{number}".encode()) for number in range(3, 7)]


def test_a_worker_whose_tables_are_ahead_of_kafka_says_what_to_do(
    deployment: Deployment,
) -> None:
    lines = simulated(seed=17, agents=10, hours=2)
    worker = deployment.worker().start()
    worker.wait_ready()
    deployment.publish(lines)
    wait_until_replayed(worker, lines)
    worker.stop()
    # The topics are gone (a reset broker, deleted topics) but the worker's RocksDB is not.
    settings = deployment.settings
    in_own_loop(lambda: delete_run_topics(settings.bootstrap_servers, settings.app_id))
    time.sleep(2)
    worker.start()
    assert worker.process is not None
    code = worker.process.wait(timeout=120)
    log = worker.log_tail(20)
    assert code == 2, log
    assert f"delete {worker.settings.data_dir}" in log, log
