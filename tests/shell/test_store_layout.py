"""How the worker's RocksDB databases lay out their files: bloom filters of 10 bits a key,
indexes and filters cut into partitions (``seam.SharedStoreMemory.budgeted``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust.stores.rocksdb as faust_rocksdb

from streamstats.runtime.seam import SharedStoreMemory
from streamstats.runtime.tables import ROCKSDB_OPTIONS


def file_properties(database: Any) -> dict[str, str]:
    """The aggregated properties of the database's files, by name."""
    text = database.property_value("rocksdb.aggregated-table-properties")
    pairs = (field.partition("=") for field in text.split(";") if "=" in field)
    return {name.strip(): value.strip() for name, _, value in pairs}


def fill(database: Any, start: int, count: int) -> None:
    for number in range(start, start + count):
        database[b"chat-%06d" % number] = b"x" * 50
    database.flush()


def test_files_have_ten_bits_of_filter_a_key_and_partitioned_indexes(tmp_path: Path) -> None:
    options = SharedStoreMemory(8 * 2**20).budgeted(faust_rocksdb.RocksDBOptions(**ROCKSDB_OPTIONS))
    database = options.open(tmp_path / "db")
    fill(database, 0, 20_000)
    written = file_properties(database)
    assert int(written["# entries for filter"]) == 20_000
    bits = int(written["filter block size"]) * 8 / 20_000
    assert 9 <= bits <= 12
    assert int(written["# index partitions"]) > 1
    assert database.get(b"chat-000123") == b"x" * 50
    assert database.get(b"chat-999999") is None


def test_a_reopened_database_writes_its_new_files_the_same_way(tmp_path: Path) -> None:
    memory = SharedStoreMemory(8 * 2**20)
    options = memory.budgeted(faust_rocksdb.RocksDBOptions(**ROCKSDB_OPTIONS))
    first = options.open(tmp_path / "db")
    fill(first, 0, 10_000)
    first.close()
    reopened = options.open(tmp_path / "db")
    fill(reopened, 10_000, 10_000)
    both = file_properties(reopened)
    assert int(both["# entries for filter"]) == 20_000
    assert 9 <= int(both["filter block size"]) * 8 / 20_000 <= 12
    assert int(both["# index partitions"]) > 2


def test_the_earlier_layout_is_kept_for_comparison(tmp_path: Path) -> None:
    """``partitioned=False``: one index and one filter block a file, as
    ``benchmarks/bench_store.py`` compares."""
    memory = SharedStoreMemory(8 * 2**20)
    flat = faust_rocksdb.RocksDBOptions(**{**ROCKSDB_OPTIONS, "bloom_filter_size": 3})
    database = memory.budgeted(flat, partitioned=False).open(tmp_path / "db")
    fill(database, 0, 20_000)
    written = file_properties(database)
    assert "# index partitions" not in written
    assert int(written["filter block size"]) * 8 / 20_000 < 5
