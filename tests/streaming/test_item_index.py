"""The records dictionary of the memory store and the local pipeline keeps an index of the
agents' item keys that always agrees with its contents
(``streaming.item_index.ItemIndexedRecords``)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from streamstats.streaming.item_index import ItemIndexedRecords
from streamstats.streaming.records import evidence_key, evidence_prefix, session_key, session_prefix

AGENTS = [b"a1", b"a2", b"\xc3\xa9"]
KEYS = [
    *AGENTS,
    *(
        evidence_key(agent, partition, offset)
        for agent in AGENTS
        for partition, offset in [(0, 1), (3, 7)]
    ),
    *(session_key(agent, start) for agent in AGENTS for start in [-5, 0, 10**12]),
]
PREFIXES = [prefix(agent) for agent in AGENTS for prefix in (evidence_prefix, session_prefix)]

key = st.sampled_from(KEYS)
value = st.binary(max_size=3)
operation = st.one_of(
    st.tuples(st.just("set"), key, value),
    st.tuples(st.just("del"), key),
    st.tuples(st.just("pop"), key),
    st.tuples(st.just("popitem")),
    st.tuples(st.just("setdefault"), key, value),
    st.tuples(st.just("update"), st.dictionaries(key, value, max_size=4)),
    st.tuples(st.just("update pairs"), st.lists(st.tuples(key, value), max_size=4)),
    st.tuples(st.just("ior"), st.dictionaries(key, value, max_size=4)),
    st.tuples(st.just("clear")),
)


def apply(data: dict[bytes, Any], step: tuple[Any, ...]) -> None:
    """One mutation of ``data`` by the dictionary method ``step`` names."""
    name, *arguments = step
    if name == "set":
        data[arguments[0]] = arguments[1]
    elif name == "del":
        if arguments[0] in data:
            del data[arguments[0]]
    elif name == "pop":
        data.pop(arguments[0], None)
    elif name == "popitem":
        if data:
            data.popitem()
    elif name == "setdefault":
        data.setdefault(arguments[0], arguments[1])
    elif name in ("update", "update pairs"):
        data.update(arguments[0])
    elif name == "ior":
        data |= arguments[0]
    else:
        data.clear()


@given(st.dictionaries(key, value), st.lists(operation, max_size=30))
def test_a_scan_by_item_prefix_agrees_with_a_pass_over_every_key(
    start: dict[bytes, bytes], steps: list[tuple[Any, ...]]
) -> None:
    indexed, plain = ItemIndexedRecords(start), dict(start)
    for step in steps:
        apply(indexed, step)
        apply(plain, step)
        assert indexed == plain
        for prefix in [*PREFIXES, b"a", b"\xff", b"\xff\x00", evidence_prefix(b"a1") + b"\x00"]:
            expected = sorted((k, v) for k, v in plain.items() if k.startswith(prefix))
            assert indexed.scan(prefix) == expected
    assert all(keys for keys in indexed.items_by_prefix.values())
