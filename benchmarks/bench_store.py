"""Store benchmark: random reads of chat records from RocksDB, opened as the worker opens
its tables, against the earlier layouts: whole-file indexes and filters, 3 bits a key.

Run with ``python benchmarks/bench_store.py [--records N] [--budget-mb M]``. The records
are the chat records of a simulated day folded by the worker's own stages, copied under
new keys until there are ``--records`` of them, and written one by one into a database
per filter size, each with a budget of its own (``seam.SharedStoreMemory``) and the
worker's options (``runtime.tables.ROCKSDB_OPTIONS``, only the filter's bits and the
index layout changed). A *present* read finds a stored
chat; an *absent* read looks for a chat never stored, as the first event of every new
chat does. Every figure is the best of ``--repeat`` passes, the layouts alternated.
"""

from __future__ import annotations

import argparse
import gc
import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faust.stores.rocksdb as faust_rocksdb

try:
    from benchmarks import harness
except ModuleNotFoundError:  # run as a script: benchmarks/ itself is on sys.path
    import harness  # type: ignore[no-redef]

from streamstats.runtime.seam import SharedStoreMemory
from streamstats.runtime.tables import ROCKSDB_OPTIONS
from streamstats.streaming.local import CHATS, STATUS, LocalPipeline

MIB = 1024 * 1024


def chat_records(events: int) -> list[tuple[bytes, bytes]]:
    """The encoded chat records of ``events`` simulated events, folded by the worker's
    stages, with their keys."""
    pipeline = LocalPipeline(4)
    for on_chat_topic, key, partition, _, value in harness.routed_messages(
        harness.simulated_input(events), 4
    ):
        pipeline.publish(CHATS if on_chat_topic else STATUS, key, value, partition)
    pipeline.fetch_all(1_000)
    return [item for found in pipeline.chat_store.data.values() for item in found.items()]


def copies(records: Sequence[tuple[bytes, bytes]], count: int) -> list[tuple[bytes, bytes]]:
    """``count`` records: ``records`` again and again, the n-th copy's keys ending ``~n``."""
    made: list[tuple[bytes, bytes]] = []
    copy = 0
    while len(made) < count:
        made.extend((key + b"~%d" % copy, value) for key, value in records)
        copy += 1
    return made[:count]


Layout = tuple[int, bool]
"""Bits of bloom filter a key, and whether indexes and filters are partitioned."""

LAYOUTS: tuple[Layout, ...] = ((3, False), (10, False), (10, True))
"""Faust's 3 bits and whole-file blocks (the worker before), 10 bits, and the worker's."""


def filled_database(
    path: Path, layout: Layout, budget: int, records: Sequence[tuple[bytes, bytes]]
) -> Any:
    """A database at ``path`` opened as the worker opens a table partition's, with the
    filter and index ``layout``, holding ``records``."""
    bits, partitioned = layout
    options = faust_rocksdb.RocksDBOptions(**{**ROCKSDB_OPTIONS, "bloom_filter_size": bits})
    database = SharedStoreMemory(budget).budgeted(options, partitioned=partitioned).open(path)
    for key, value in records:
        database[key] = value
    database.flush()
    # Reads right after a bulk load would meet dozens of files not yet compacted; a
    # worker's databases are read while compactions keep up.
    while database.property_int_value("rocksdb.compaction-pending") or (
        database.property_int_value("rocksdb.num-running-compactions")
    ):
        time.sleep(0.1)
    return database


def read_time(database: Any, keys: Sequence[bytes]) -> float:
    """Seconds a read of one of ``keys`` from ``database`` takes, over one pass."""
    get = database.get
    gc.collect()
    started = time.perf_counter()
    for key in keys:
        get(key)
    return (time.perf_counter() - started) / len(keys)


def filter_bytes(database: Any) -> int:
    """The bytes of bloom filter in the database's files."""
    properties = database.property_value("rocksdb.aggregated-table-properties") or ""
    for field in properties.split(";"):
        name, _, value = field.strip().partition("=")
        if name.strip() == "filter block size":
            return int(value.strip())
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument(
        "--budget-mb",
        type=int,
        default=16,
        help="the database's memory budget (default 16: a quarter of the worker's 64 MiB "
        "default, shared by its eight table partitions, most of it by the chats)",
    )
    parser.add_argument("--reads", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--events", type=int, default=200_000, help="the simulated day")
    args = parser.parse_args(argv)

    speed = harness.machine_speed()
    day = chat_records(args.events)
    records = copies(day, args.records)
    size = sum(len(key) + len(value) for key, value in records) / MIB
    print(
        f"{len(records):,} chat records ({len(day):,} of a simulated day of {args.events:,} "
        f"events, copied), {size:,.0f} MiB, budget {args.budget_mb} MiB; "
        f"{harness.interpreter()}; bare orjson.loads at {speed / 1e6:.2f} M lines/s"
    )
    chosen = random.Random(1)
    present = [key for key, _ in chosen.sample(records, args.reads)]
    absent = [key + b"!" for key in chosen.sample(present, len(present))]

    scratch = Path(tempfile.mkdtemp(prefix="bench-store-"))
    try:
        databases: dict[Layout, Any] = {}
        for layout in LAYOUTS:
            started = time.perf_counter()
            path = scratch / f"{layout[0]}-{layout[1]}"
            databases[layout] = filled_database(path, layout, args.budget_mb * MIB, records)
            print(f"  ({_name(layout)}: written in {time.perf_counter() - started:.1f} s)")
        timings = _alternated(databases, {"present": present, "absent": absent}, args.repeat)
        print(f"{'layout':<28} {'present':>12} {'absent':>12} {'filters':>10}")
        for layout, database in databases.items():
            row = timings[layout]
            filters = filter_bytes(database) / MIB
            print(
                f"{_name(layout):<28} {row['present'] * 1e6:>9.2f} µs "
                f"{row['absent'] * 1e6:>9.2f} µs {filters:>6.1f} MiB"
            )
        for database in databases.values():
            database.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _name(layout: Layout) -> str:
    bits, partitioned = layout
    return f"{bits} bits a key, {'partitioned' if partitioned else 'whole-file'}"


def _alternated(
    databases: dict[Layout, Any], keys: dict[str, Sequence[bytes]], repeat: int
) -> dict[Layout, dict[str, float]]:
    """Seconds a read, per layout and kind of read; each pass reads every database in
    turn, so that a slow spell of the machine reaches them all."""
    timings: dict[Layout, dict[str, float]] = {layout: {} for layout in databases}
    for _ in range(repeat):
        for layout, database in databases.items():
            for kind, wanted in keys.items():
                took = read_time(database, wanted)
                timings[layout][kind] = min(timings[layout].get(kind, took), took)
    return timings


if __name__ == "__main__":
    main()
