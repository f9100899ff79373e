"""Spec §6: bad input goes to the dead-letter topic, and nothing else is affected."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest
from benchmarks.launcher import worker_env

from streamstats.core.instant import parse_instant

from .conftest import Deployment, fetch_text, http
from .test_stream import READ_AT, simulated, wait_until_replayed

pytestmark = pytest.mark.integration


def chat_event(**changes: object) -> bytes:
    event = {
        "event_id": "bad-1",
        "type": "chat.assigned",
        "at": "2026-11-25T08:00:00Z",
        "chat_id": "c-bad",
        "agent_id": "a-bad",
    }
    return orjson.dumps({**event, **changes})


def test_every_kind_of_bad_input_lands_in_the_dead_letter_topic(deployment: Deployment) -> None:
    settings = deployment.settings
    chat, status = settings.chat_topic, settings.status_topic
    bad: list[tuple[str, bytes | None, bytes, int | None, str]] = [
        (chat, b"c-bad", b"{not json", None, "not_json"),
        (chat, b"c-bad", chat_event(pad="x" * 70_000), None, "too_large"),
        (chat, b"c-bad", b'["an", "array"]', None, "not_object"),
        (chat, b"c-bad", chat_event(agent_id=None), None, "schema"),
        (chat, b"c-bad", chat_event(at="2026-11-25T08:00:00"), None, "naive_timestamp"),
        (chat, b"c-other", chat_event(), None, "key_mismatch"),
        (chat, None, chat_event(), None, "key_mismatch"),
        (status, b"c-bad", chat_event(), None, "wrong_topic"),
    ]
    unknown = orjson.dumps({"event_id": "u1", "type": "chat.rated", "at": "2026-11-25T08:00:00Z"})
    lines = simulated(seed=21, agents=6, hours=12)
    worker = deployment.worker().start()
    worker.wait_ready()
    deployment.publish(lines[: len(lines) // 2])
    deployment.publish_raw(
        [(topic, key, value, partition) for topic, key, value, partition, _ in bad]
        + [(chat, b"c-unknown", unknown, None)]
    )
    deployment.publish(lines[len(lines) // 2 :])
    wait_until_replayed(worker, lines)

    letters = deployment.consume(settings.dead_letter_topic, len(bad))
    assert len(letters) == len(bad)
    received = {}
    for letter in letters:
        headers = {name: value.decode() for name, value in letter.headers}
        received[letter.value, letter.key, headers["streamstats.source.topic"]] = headers
    for topic, key, value, partition, reason in bad:
        headers = received[value, key, topic]
        assert headers["streamstats.reason"] == reason, (reason, headers)
        assert headers["streamstats.source.topic"] == topic
        assert int(headers["streamstats.source.offset"]) >= 0
        if partition is not None:
            assert headers["streamstats.source.partition"] == str(partition)
        assert headers["streamstats.detail"]

    exposition = fetch_text(f"{worker.url}/metrics")
    for reason in {reason for *_, reason in bad}:
        assert f'streamstats_events_invalid_total{{reason="{reason}"}}' in exposition
    assert "streamstats_events_unknown_type_total 1.0" in exposition
    listed = list_dead_letters(deployment, "--json")
    assert sorted((entry["reason"], entry["copies"]) for entry in listed) == sorted(
        (reason, 1) for *_, reason in bad
    )
    # Compare instants, not strings: "…33.36Z" is 360 ms and sorts after "…33.368Z" as text.
    written = [parse_instant(entry["at"]) for entry in listed]
    assert written == sorted(written, reverse=True)
    assert {entry["reason"] for entry in list_dead_letters(deployment, "--reason", "schema")} == {
        "schema"
    }


def list_dead_letters(deployment: Deployment, *options: str) -> list[dict[str, object]]:
    """``streamstats dead-letters --json`` with the deployment's settings."""
    done = subprocess.run(
        [sys.executable, "-m", "streamstats", "dead-letters", "--json", *options],
        env=worker_env(deployment.settings),
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert done.stdout, done.stderr
    return [orjson.loads(line) for line in done.stdout.splitlines()]


def test_the_worker_stays_healthy_after_bad_input(deployment: Deployment) -> None:
    worker = deployment.worker().start()
    worker.wait_ready()
    deployment.publish_raw([(deployment.settings.chat_topic, b"x", b"\xff\xfe", None)])
    assert deployment.consume(deployment.settings.dead_letter_topic, 1)
    assert http("GET", f"{worker.url}/healthz")[0] == 200
    assert http("GET", f"{worker.url}/agents?at={READ_AT}")[0] == 200
