"""The topics a worker needs exist, with a leader for every partition, before it joins its
consumer group."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streamstats.runtime.kafka import KafkaSetupError, ensure_topics
from streamstats.runtime.tables import changelog_topics

from .conftest import Deployment, http, in_own_loop

pytestmark = pytest.mark.integration


def describe(servers: str, topics: list[str]) -> tuple[list[Any], dict[str, str]]:
    """The topics' descriptions, and each one's ``cleanup.policy``."""

    async def read() -> tuple[list[Any], dict[str, str]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=servers)
        await admin.start()
        try:
            described = await admin.describe_topics(topics)
            answers = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, name) for name in topics]
            )
        finally:
            await admin.close()
        policies = {
            name: value
            for answer in answers
            for _, _, _, name, entries in answer.resources
            for key, value, *_ in entries
            if key == "cleanup.policy"
        }
        return described, policies

    return in_own_loop(read)


def test_the_worker_makes_its_changelog_topics_compacted_and_led(deployment: Deployment) -> None:
    settings = deployment.settings
    names = changelog_topics(settings)

    in_own_loop(lambda: ensure_topics(settings, names))

    described, policies = describe(settings.bootstrap_servers, names)
    for topic in described:
        assert topic["error_code"] == 0, topic
        assert sorted(part["partition"] for part in topic["partitions"]) == [0, 1, 2, 3]
        assert all(part["leader"] >= 0 for part in topic["partitions"]), topic
    assert policies == dict.fromkeys(names, "compact")


def test_a_first_send_right_after_setup_is_taken_without_a_retry(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    # The fixture has just made the topics. Metadata names each new partition's leader a
    # moment before the broker serves it; a send in between was refused and retried with
    # a warning, which `streamstats produce` printed on a fresh cluster.
    caplog.set_level(logging.WARNING, logger="aiokafka")
    at = datetime.now(UTC).isoformat()
    lines = [
        orjson.dumps(
            {
                "event_id": f"e{n}",
                "type": "chat.assigned",
                "at": at,
                "agent_id": f"a{n}",
                "chat_id": f"c{n}",
            }
        )
        for n in range(40)
    ]

    deployment.publish(lines)

    retried = [
        record.getMessage() for record in caplog.records if "retrying" in record.getMessage()
    ]
    assert retried == []
    assert len(deployment.consume(deployment.settings.chat_topic, 40)) == 40


def test_input_topics_of_another_partition_count_are_refused(deployment: Deployment) -> None:
    settings = deployment.settings
    wider = dataclasses.replace(settings, partitions=8)

    with pytest.raises(KafkaSetupError, match="has 4 partitions but STREAMSTATS_PARTITIONS=8"):
        in_own_loop(lambda: ensure_topics(wider))


class ControllerChurn:
    """Creates and deletes batches of topics for as long as it runs: a busy controller,
    whose brokers see new topics a little late."""

    def __init__(self, servers: str) -> None:
        self.servers = servers
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self.churn()))

    async def churn(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.servers)
        await admin.start()
        try:
            while not self.stopping.is_set():
                names = [f"churn{uuid.uuid4().hex[:10]}-{index}" for index in range(15)]
                await admin.create_topics([NewTopic(name, 4, 1) for name in names])
                await asyncio.sleep(0.05)
                await admin.delete_topics(names)
        finally:
            await admin.close()

    def __enter__(self) -> ControllerChurn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)


def test_a_new_worker_answers_at_once_while_the_controller_is_busy(
    deployment: Deployment,
) -> None:
    # Faust creates a missing changelog topic as the worker starts, just before the
    # consumer group forms; a broker that did not see it yet left it out of the
    # assignment, and the worker held no table partition for five minutes.
    settings = deployment.settings
    at = datetime.now(UTC).isoformat()
    event = {
        "event_id": "e1",
        "type": "agent.status_changed",
        "at": at,
        "agent_id": "a1",
        "status": "online",
    }
    with ControllerChurn(settings.bootstrap_servers):
        worker = deployment.worker().start()
        worker.wait_ready()
    deployment.publish([orjson.dumps(event)])
    deadline = time.monotonic() + 20
    status, body = 0, None
    while time.monotonic() < deadline:
        status, _, body = http("GET", f"{worker.url}/agents/a1")
        if status == 200:
            break
        time.sleep(0.2)
    assert status == 200, (status, body, worker.log_tail(20))
    assert body["status"]["current"] == "online"
