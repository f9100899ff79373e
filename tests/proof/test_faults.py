"""Proof under faults (issue #5): kill storms, a broker restart and a flood of bad input.

Run with `make proof`; sizes come from PROOF_EVENTS (default 200,000 for the kill
storm) and PROOF_BAD (default 100,000 bad messages). Each scenario prints what it
did and what it checked.
"""

from __future__ import annotations

import os
import random
import subprocess
import threading
import time

import orjson
import pytest
from benchmarks.harness import crc32_partitioner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamstats.core.instant import format_instant
from streamstats.core.replay import replay_lines
from streamstats.core.sessions import ended_session
from tests.integration.conftest import KAFKA_SCRIPT, Deployment, http
from tests.integration.test_stream import simulated, wait_until_replayed

pytestmark = pytest.mark.proof

EVENTS = int(os.environ.get("PROOF_EVENTS", "200000"))
BAD = int(os.environ.get("PROOF_BAD", "100000"))


def report(text: str) -> None:
    print(f"\n[proof] {text}", flush=True)


def expected_sessions(lines: list[bytes]) -> dict[bytes, object]:
    """Every ended session replay finds, as the sessions topic keys and carries it."""
    projector = replay_lines(lines, sessions=True).projector
    assert projector.sessions is not None
    return {
        f"{agent_id}@{format_instant(start)}".encode(): {
            "agent_id": agent_id,
            **ended_session(summary),
        }
        for agent_id, summaries in projector.sessions.items()
        for start, summary in summaries.items()
    }


def wait_until_sessions_published(
    deployment: Deployment, lines: list[bytes], timeout: float = 300
) -> int:
    """Wait until the sessions topic, compacted (the latest record per key), holds exactly
    the ended sessions of replay: none missing, none extra, each with its final figures.
    The number of records read (repeats included)."""
    expected = expected_sessions(lines)
    assert expected, "the input has no ended session to check"
    deadline = time.monotonic() + timeout
    while True:
        records = deployment.consume(deployment.settings.sessions_topic, 10**9, timeout=15)
        latest = {record.key: orjson.loads(record.value) for record in records}
        if latest == expected:
            return len(records)
        if time.monotonic() > deadline:
            missing = sorted(expected.keys() - latest.keys())[:5]
            extra = sorted(latest.keys() - expected.keys())[:5]
            wrong = [key for key in expected.keys() & latest.keys() if expected[key] != latest[key]]
            raise AssertionError(
                f"sessions topic: missing {missing}, extra {extra}, wrong {wrong[:5]}"
            )


def test_kill_storm_and_a_broker_restart_end_equal_to_replay(deployment: Deployment) -> None:
    # Three days, so that every agent's sessions end twice.
    lines = simulated(seed=41, agents=max(5, EVENTS // 690), hours=72)[:EVENTS]
    worker = deployment.worker().start()
    worker.wait_ready()
    # librdkafka's partitioner, not murmur2: most status events reach the worker outside
    # their agent's partition and are forwarded to it while the worker is killed.
    publisher = threading.Thread(
        target=deployment.publish, args=(lines,), kwargs={"partitioner": crc32_partitioner}
    )
    rng = random.Random(41)
    started = time.monotonic()
    publisher.start()
    kills = 0
    for _ in range(5):
        time.sleep(rng.uniform(2.0, 6.0))
        worker.kill()
        kills += 1
        worker.start()
        worker.wait_ready(timeout=180)
    publisher.join()
    restarted = subprocess.run(
        ["bash", str(KAFKA_SCRIPT), "restart"], capture_output=True, text=True, timeout=300
    )
    assert restarted.returncode == 0, restarted.stderr
    worker.kill()
    worker.start()
    worker.wait_ready(timeout=180)
    wait_until_replayed(worker, lines, timeout=1800)
    published = wait_until_sessions_published(deployment, lines)
    report(
        f"kill storm: {len(lines):,} events published with librdkafka's CRC32 partitioner, "
        f"{kills + 1} SIGKILLs of the worker, one broker "
        f"restart; every agent's panel equals `streamstats replay` field for field; the "
        f"sessions topic holds each of replay's {len(expected_sessions(lines)):,} ended "
        f"sessions once after compaction, none missing, none extra ({published:,} records "
        f"before compaction) ({time.monotonic() - started:.0f} s)"
    )


@st.composite
def near_miss(draw: st.DrawFn) -> bytes:
    """A chat event with one thing wrong: a missing, mistyped or oversize field."""
    event: dict[str, object] = {
        "event_id": "n",
        "type": "chat.closed",
        "at": "2026-11-25T08:00:00Z",
        "chat_id": "c-flood",
        "agent_id": "a-flood",
        "reason": "agent",
    }
    field = draw(st.sampled_from(sorted(event)))
    flaw = draw(st.sampled_from(["drop", "int", "long", "naive"]))
    if flaw == "drop" and field != "type":
        del event[field]
    elif flaw == "int":
        event[field] = draw(st.integers())
    elif flaw == "long":
        event[field] = "x" * 200
    else:
        event["at"] = "2026-11-25T08:00:00"
    return orjson.dumps(event)


def bad_messages(count: int, seed: int, near_misses: list[bytes]) -> list[bytes]:
    rng = random.Random(seed)
    valid = orjson.dumps(
        {
            "event_id": "v",
            "type": "chat.assigned",
            "at": "2026-11-25T08:00:00Z",
            "chat_id": "c-flood",
            "agent_id": "a-flood",
        }
    )
    kinds = [
        lambda: bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200))),
        lambda: valid[: rng.randint(1, len(valid) - 1)],
        lambda: valid.replace(b'"a-flood"', b"17"),
        lambda: valid.replace(b"08:00:00Z", b"08:00:00"),
        lambda: valid[:-1] + b',"pad":"' + b"x" * 70_000 + b'"}',
        lambda: rng.choice(near_misses),
    ]
    return [rng.choice(kinds)() for _ in range(count)]


@settings(
    max_examples=1,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(near_misses=st.lists(near_miss(), min_size=200, max_size=200))
def test_a_flood_of_bad_input_lands_in_the_dead_letters(
    deployment: Deployment, near_misses: list[bytes]
) -> None:
    lines = simulated(seed=42, agents=20, hours=12)
    bad = bad_messages(BAD, 42, near_misses)
    worker = deployment.worker().start()
    worker.wait_ready()
    chat = deployment.settings.chat_topic
    half = len(lines) // 2
    deployment.publish(lines[:half])
    deployment.publish_raw([(chat, b"c-flood", value, None) for value in bad])
    deployment.publish(lines[half:])
    wait_until_replayed(worker, lines, timeout=1800)
    letters = deployment.consume(deployment.settings.dead_letter_topic, len(bad), timeout=600)
    reasons: dict[str, int] = {}
    for letter in letters:
        reason = dict(letter.headers)["streamstats.reason"].decode()
        reasons[reason] = reasons.get(reason, 0) + 1
    assert len(letters) == len(bad)
    assert http("GET", f"{worker.url}/healthz")[0] == 200
    report(
        f"bad input flood: {len(bad):,} malformed messages between {len(lines):,} valid ones; "
        f"all in the dead-letter topic ({reasons}); valid panels equal replay; worker healthy"
    )
