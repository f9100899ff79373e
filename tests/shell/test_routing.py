"""Which worker owns an agent: read from the assignment Faust's router keeps."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from yarl import URL

from streamstats.web.routing import Routing

ME = "http://10.0.0.1:6066"
OTHER = "http://10.0.0.2:6066"


def routing(mine: set[int], owners: dict[str, dict[str, list[int]]]) -> Routing:
    """A worker holding ``mine`` of four agent partitions (the key's partition is its first
    byte's value), with Faust's router naming ``owners`` for the table."""

    def table_metadata(name: str) -> dict[str, dict[str, list[int]]]:
        assert name == "agents"
        return owners

    def key_store(name: str, key: bytes) -> URL:
        raise TypeError("'NoneType' object is not iterable")  # no topic metadata yet

    app = SimpleNamespace(
        router=SimpleNamespace(table_metadata=table_metadata, key_store=key_store),
        conf=SimpleNamespace(canonical_url=URL(ME)),
        rebalancing_count=1,
    )
    worker: Any = SimpleNamespace(
        app=app,
        agents=SimpleNamespace(name="agents"),
        agent_partition=lambda key: key[0],
        active_partitions=lambda: mine,
    )
    freshness: Any = None
    return Routing(worker, freshness)


def test_a_key_of_this_workers_partition_is_answered_here() -> None:
    assert routing({1}, {ME: {"app-agents-changelog": [1]}}).owner_url(b"\x01") is None


def test_a_key_held_elsewhere_names_that_worker() -> None:
    owners = {ME: {"app-agents-changelog": [0]}, OTHER: {"app-agents-changelog": [2, 3]}}
    assert routing({0}, owners).owner_url(b"\x03") == OTHER


def test_a_key_nobody_holds_is_a_key_error_whatever_the_producer_knows() -> None:
    owners = {ME: {"app-agents-changelog": [0]}, OTHER: {}}
    with pytest.raises(KeyError):
        routing({0}, owners).owner_url(b"\x02")


def test_a_routing_table_naming_this_worker_for_a_partition_it_lacks_is_a_key_error() -> None:
    owners = {ME: {"app-agents-changelog": [0, 2]}}
    with pytest.raises(KeyError):
        routing({0}, owners).owner_url(b"\x02")
