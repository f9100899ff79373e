"""Fold benchmark: decode + validate + fold of simulated events, against bare orjson parsing.

Run with ``make bench-fold`` (or ``python benchmarks/bench_fold.py --events N``).
Every figure is the best of ``--repeat`` runs over the same in-memory lines, so
the ratio to the baseline measured in the same run is what to compare.

The last row is the most one worker process could do with no Kafka at all: the
worker's stages and record codecs, called as the worker calls them for each
fetch, over dictionaries instead of RocksDB and with nothing sent anywhere.
"""

from __future__ import annotations

import argparse
import gc
import platform
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import orjson

try:
    from benchmarks.harness import InputMessage, routed_messages
except ModuleNotFoundError:  # run as a script: benchmarks/ itself is on sys.path
    from harness import InputMessage, routed_messages  # type: ignore[no-redef]

from streamstats.core.events import decode_event
from streamstats.core.replay import replay_lines
from streamstats.core.rules import FoldConfig
from streamstats.core.state import (
    SourcedChange,
    decode_agent_record,
    decode_chat_record,
    encode_agent_record,
    encode_changes,
    encode_chat_record,
)
from streamstats.runtime.worker import tune_garbage_collector
from streamstats.settings import DEFAULT_BATCH_SIZE
from streamstats.streaming.stages import AgentStage, ChatStage, changes_by_agent
from streamstats.tools.simulate import simulate_lines

START = datetime(2026, 11, 25, 6, tzinfo=UTC)


def simulated(count: int, seed: int) -> list[bytes]:
    """At least ``count`` lines: about 1M events come from 4,300 agents over 24 h."""
    agents = max(5, count // 230)
    return list(islice(simulate_lines(seed=seed, agents=agents, hours=24, start=START), count))


def best_rate(
    work: Callable[[Sequence[bytes]], object], lines: Sequence[bytes], repeat: int
) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        work(lines)
        best = min(best, time.perf_counter() - started)
    return len(lines) / best


def parse_only(lines: Sequence[bytes]) -> None:
    loads = orjson.loads
    for line in lines:
        loads(line)


def decode_only(lines: Sequence[bytes]) -> None:
    for line in lines:
        decode_event(line)


def decode_and_fold(lines: Sequence[bytes]) -> None:
    replay_lines(lines)


PARTITIONS = 4


def _latest(
    records: dict[bytes, Any], store: dict[bytes, bytes], key: bytes, decode: Callable[[bytes], Any]
) -> Any:
    """The record folded last in this fetch, else the stored one decoded, else None."""
    record = records.get(key)
    if record is None and key in store:
        record = decode(store[key])
    return record


def stages_in_fetches(messages: Sequence[InputMessage]) -> None:
    """Each fetch of ``DEFAULT_BATCH_SIZE`` messages through the stages, as
    ``topology.fold_runs`` does it: a stored record is decoded once per fetch and
    encoded once per key; a fetch's agent changes are folded with the next fetch."""
    chat_stage, agent_stage = ChatStage(PARTITIONS), AgentStage(PARTITIONS, FoldConfig())
    chat_store: dict[bytes, bytes] = {}
    agent_store: dict[bytes, bytes] = {}
    changes_in: list[tuple[bytes, bytes]] = []
    for start in range(0, len(messages), DEFAULT_BATCH_SIZE):
        fetch = messages[start : start + DEFAULT_BATCH_SIZE]
        chats: dict[bytes, Any] = {}
        sends: list[SourcedChange] = []
        for on_chat_topic, key, partition, offset, value in fetch:
            if on_chat_topic:
                record = _latest(chats, chat_store, key, decode_chat_record)
                step = chat_stage.handle(record, key, value, partition, offset)
                chats[key] = step.record
                sends.extend(step.sends)
        agents: dict[bytes, Any] = {}
        for on_chat_topic, key, partition, offset, value in fetch:
            if not on_chat_topic:
                record = _latest(agents, agent_store, key, decode_agent_record)
                agents[key] = agent_stage.handle_status(
                    record, key, value, partition, offset
                ).record
        for key, value in changes_in:
            record = _latest(agents, agent_store, key, decode_agent_record)
            agents[key] = agent_stage.handle_changes(record, value).record
        for key, record in chats.items():
            chat_store[key] = encode_chat_record(record)
        for key, record in agents.items():
            agent_store[key] = encode_agent_record(record)
        changes_in = [
            (agent.encode(), encode_changes(items))
            for agent, items in changes_by_agent(sends).items()
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    lines = simulated(args.events, args.seed)
    print(f"{len(lines):,} simulated events, Python {platform.python_version()}, one core")
    baseline = best_rate(parse_only, lines, args.repeat)
    rows = [
        ("orjson.loads only (baseline)", baseline),
        ("decode + validate (pydantic)", best_rate(decode_only, lines, args.repeat)),
        ("decode + validate + fold", best_rate(decode_and_fold, lines, args.repeat)),
    ]
    messages = list(routed_messages(lines, PARTITIONS))
    # With the worker's garbage collector settings, which also keep the collector from
    # walking the million input messages over and over; they were made just before.
    thresholds = gc.get_threshold()
    tune_garbage_collector()
    # Same events as the other rows; best_rate counts them by the length of its input.
    rows.append(
        (
            "the worker's stages, no Kafka",
            best_rate(lambda _: stages_in_fetches(messages), lines, args.repeat),
        )
    )
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    for name, rate in rows:
        print(f"{name:<32} {rate:>12,.0f} events/s   {baseline / rate:5.2f}x baseline time")


if __name__ == "__main__":
    main()
