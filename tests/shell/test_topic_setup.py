"""``ensure_topics`` waits for a leader of every partition, and for the leaders of the
topics it made to answer; it says when they do not."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import TopicPartition

from streamstats.runtime import kafka
from streamstats.runtime.kafka import KafkaSetupError, ensure_topics
from streamstats.settings import Settings

from ..loops import in_own_loop

SETTINGS = Settings(auth="off", app_id="app", partitions=2)


class FakeAdmin:
    """An admin client whose broker names a leader for ``late`` only after ``wait`` asks."""

    created: list[str]

    def __init__(self, late: str = "", wait: int = 0, counts: dict[str, int] | None = None) -> None:
        self.late, self.wait, self.asked = late, wait, 0
        self.counts = counts or {}
        self.created = []

    def __call__(self, **_: Any) -> FakeAdmin:
        return self

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def list_topics(self) -> list[str]:
        return []

    async def create_topics(self, topics: list[Any]) -> None:
        self.created += [topic.name for topic in topics]

    async def describe_topics(self, names: list[str]) -> list[dict[str, Any]]:
        self.asked += 1
        return [self.described(name) for name in names]

    def described(self, name: str) -> dict[str, Any]:
        leader = -1 if name == self.late and self.asked <= self.wait else 1
        count = self.counts.get(name, 2)
        partitions = [{"partition": index, "leader": leader} for index in range(count)]
        return {"topic": name, "error_code": 0, "partitions": partitions}


class FakeConsumer:
    """A consumer whose broker answers end offsets at once, or (``silent``) never."""

    def __init__(self, silent: bool = False) -> None:
        self.silent = silent
        self.asked: list[TopicPartition] = []
        self.stopped = False

    def __call__(self, **_: Any) -> FakeConsumer:
        return self

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.stopped = True

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        self.asked += partitions
        if self.silent:
            await asyncio.Event().wait()
        return dict.fromkeys(partitions, 0)


@pytest.fixture(autouse=True)
def consumer(monkeypatch: pytest.MonkeyPatch) -> FakeConsumer:
    fake = FakeConsumer()
    monkeypatch.setattr(kafka, "AIOKafkaConsumer", fake)
    return fake


def test_the_changelog_topics_are_made_and_awaited_with_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = FakeAdmin(late="app-agents-changelog", wait=3)
    monkeypatch.setattr(kafka, "AIOKafkaAdminClient", admin)

    in_own_loop(lambda: ensure_topics(SETTINGS, ["app-chats-changelog", "app-agents-changelog"]))

    assert admin.created[-2:] == ["app-chats-changelog", "app-agents-changelog"]
    assert admin.asked == 4


def test_a_partition_with_no_leader_is_named_after_the_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        kafka, "AIOKafkaAdminClient", FakeAdmin(late="app-chats-changelog", wait=10**6)
    )
    monkeypatch.setattr(kafka, "LEADER_WAIT_SECONDS", 0.3)

    with pytest.raises(KafkaSetupError) as raised:
        in_own_loop(lambda: ensure_topics(SETTINGS, ["app-chats-changelog"]))

    assert "no leader for every partition of app-chats-changelog after 0.3 s" in str(raised.value)
    assert "check the broker's log" in str(raised.value)


def test_a_changelog_topic_of_another_partition_count_is_refused_with_advice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = FakeAdmin(counts={"app-agents-changelog": 4})
    monkeypatch.setattr(kafka, "AIOKafkaAdminClient", admin)

    with pytest.raises(KafkaSetupError) as raised:
        in_own_loop(
            lambda: ensure_topics(SETTINGS, ["app-chats-changelog", "app-agents-changelog"])
        )

    message = str(raised.value)
    assert "changelog topic app-agents-changelog has 4 partitions" in message
    assert "the input topics have 2" in message
    assert "delete the worker's data folder and the app's changelog topics" in message


def test_the_leaders_of_the_topics_made_are_asked_to_answer(
    monkeypatch: pytest.MonkeyPatch, consumer: FakeConsumer
) -> None:
    admin = FakeAdmin()
    monkeypatch.setattr(admin, "list_topics", lambda: _existing(SETTINGS.status_topic))
    monkeypatch.setattr(kafka, "AIOKafkaAdminClient", admin)

    in_own_loop(lambda: ensure_topics(SETTINGS, ["app-chats-changelog"]))

    asked = {(part.topic, part.partition) for part in consumer.asked}
    made = set(admin.created)
    assert SETTINGS.status_topic not in made
    assert asked == {(name, index) for name in made for index in range(2)}
    assert consumer.stopped


def test_leaders_that_never_answer_are_named_after_the_wait(
    monkeypatch: pytest.MonkeyPatch, consumer: FakeConsumer
) -> None:
    consumer.silent = True
    monkeypatch.setattr(kafka, "AIOKafkaAdminClient", FakeAdmin())
    monkeypatch.setattr(kafka, "LEADER_WAIT_SECONDS", 0.3)

    with pytest.raises(KafkaSetupError) as raised:
        in_own_loop(lambda: ensure_topics(SETTINGS, ["app-chats-changelog"]))

    message = str(raised.value)
    assert "app-chats-changelog but they did not answer within 0.3 s" in message
    assert "check the broker's log" in message
    assert consumer.stopped


async def _existing(*names: str) -> list[str]:
    return list(names)
