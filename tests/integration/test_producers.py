"""Producers that do not use the Java client's murmur2 partitioner are counted exactly.

kcat and confluent-kafka (librdkafka's CRC32 ``consistent_random``) and a client with
FNV-1a (sarama's default) put an agent's status events in other partitions than murmur2
would: the worker forwards them to the agent's partition and folds chat events where they
arrive. Every panel must equal replay.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from confluent_kafka import Producer

from streamstats.runtime.kafka import route_event
from streamstats.settings import Settings

from .conftest import Deployment, fnv1a_partitioner
from .test_stream import simulated, wait_until_replayed

pytestmark = pytest.mark.integration


def keyed(lines: list[bytes], settings: Settings) -> list[tuple[str, bytes, bytes]]:
    """(topic, key, value) of each line, keyed as spec §1 says."""
    routed = []
    for line in lines:
        topic, key = route_event(line, settings)
        assert key is not None
        routed.append((topic, key, line))
    return routed


def test_kcat_with_its_default_settings(deployment: Deployment) -> None:
    kcat = shutil.which("kcat")
    assert kcat is not None, "install Debian's kcat package (make system-deps does)"
    lines = simulated(seed=12, agents=8, hours=12)
    worker = deployment.worker().start()
    worker.wait_ready()
    settings = deployment.settings
    for topic in (settings.status_topic, settings.chat_topic):
        messages = [key + b"\t" + value for to, key, value in keyed(lines, settings) if to == topic]
        published = subprocess.run(
            [kcat, "-b", settings.bootstrap_servers, "-t", topic, "-P", "-K", "\t"],
            input=b"\n".join(messages) + b"\n",
            capture_output=True,
            timeout=60,
        )
        assert published.returncode == 0, published.stderr
    wait_until_replayed(worker, lines)
    exposition = worker.get("/metrics") or b""
    assert b"streamstats_status_events_forwarded_total" in exposition
    assert b"streamstats_status_events_forwarded_total 0.0" not in exposition


def test_confluent_kafkas_default_producer(deployment: Deployment) -> None:
    lines = simulated(seed=14, agents=8, hours=12)
    worker = deployment.worker().start()
    worker.wait_ready()
    producer = Producer({"bootstrap.servers": deployment.settings.bootstrap_servers})
    for topic, key, value in keyed(lines, deployment.settings):
        producer.produce(topic, value, key)
        producer.poll(0)
    assert producer.flush(30) == 0
    wait_until_replayed(worker, lines)


def test_aiokafka_with_an_fnv1a_partitioner(deployment: Deployment) -> None:
    lines = simulated(seed=15, agents=8, hours=12)
    worker = deployment.worker().start()
    worker.wait_ready()
    deployment.publish(lines, partitioner=fnv1a_partitioner)
    wait_until_replayed(worker, lines)
