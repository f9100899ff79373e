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
import time
from collections.abc import Sequence

try:
    from benchmarks import harness
except ModuleNotFoundError:  # run as a script: benchmarks/ itself is on sys.path
    import harness  # type: ignore[no-redef]

from streamstats.collector import tune_garbage_collector
from streamstats.core.events import decode_event
from streamstats.core.replay import replay_lines
from streamstats.settings import DEFAULT_BATCH_SIZE
from streamstats.streaming.local import CHATS, STATUS, LocalPipeline


def decode_only(lines: Sequence[bytes]) -> None:
    for line in lines:
        decode_event(line)


def decode_and_fold(lines: Sequence[bytes]) -> None:
    replay_lines(lines)


PARTITIONS = 4
FETCH_PER_PARTITION = DEFAULT_BATCH_SIZE // (2 * PARTITIONS)
"""Messages a fetch takes from each partition: ~5,000 input messages a fetch, as the worker's
``STREAMSTATS_BATCH_SIZE``, plus the agent changes of the fetch before."""


def loaded_pipeline(messages: Sequence[harness.InputMessage]) -> LocalPipeline:
    """The worker's stages over in-memory topics holding ``messages``."""
    pipeline = LocalPipeline(PARTITIONS)
    for on_chat_topic, key, partition, _, value in messages:
        pipeline.publish(CHATS if on_chat_topic else STATUS, key, value, partition)
    return pipeline


def stages_rate(messages: Sequence[harness.InputMessage], repeat: int) -> float:
    """Events a second through the worker's batch fold and record codecs, in fetches: each
    stored record is decoded once per fetch and encoded once per key, and a fetch's
    agent changes are folded by a later fetch, as in the worker."""
    best = float("inf")
    for _ in range(repeat):
        pipeline = loaded_pipeline(messages)
        # The topics are in memory here, not in a broker: keep the collector off them.
        gc.collect()
        gc.freeze()
        started = time.perf_counter()
        pipeline.fetch_all(FETCH_PER_PARTITION)
        best = min(best, time.perf_counter() - started)
        gc.unfreeze()
        assert not pipeline.dead_letters
    return len(messages) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    harness.add_input_arguments(parser, default_events=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    lines, profile = harness.input_of(args, args.seed)
    messages = list(harness.routed_messages(lines, PARTITIONS))
    print(f"{len(lines):,} simulated events ({profile}), {harness.interpreter()}, one core")
    # Every row with the garbage collector settings of `streamstats replay` and the worker,
    # which also keep the collector from walking the input over and over.
    tune_garbage_collector()
    baseline = harness.best_rate(harness.parse_only, lines, args.repeat)
    rows = [
        ("orjson.loads only (baseline)", baseline),
        ("decode + validate (pydantic)", harness.best_rate(decode_only, lines, args.repeat)),
        ("decode + validate + fold", harness.best_rate(decode_and_fold, lines, args.repeat)),
        # Same events; the stages also fold the agent changes the chat stage sends.
        ("the worker's stages, no Kafka", stages_rate(messages, args.repeat)),
    ]
    for name, rate in rows:
        print(f"{name:<32} {rate:>12,.0f} events/s   {baseline / rate:5.2f}x baseline time")


if __name__ == "__main__":
    main()
