"""`streamstats dead-letters`: copies folded by source position, newest first, filtered."""

from __future__ import annotations

import orjson

from streamstats.core.instant import parse_instant
from streamstats.runtime.dead_letters import DeadLetterRecord, fold_copies, render, select


def letter(at_ms: int, reason: str, offset: int, key: bytes | None = b"c-1") -> DeadLetterRecord:
    headers = [
        ("streamstats.reason", reason.encode()),
        ("streamstats.detail", f"{reason} at {offset}".encode()),
        ("streamstats.source.topic", b"chat-events"),
        ("streamstats.source.partition", b"2"),
        ("streamstats.source.offset", str(offset).encode()),
    ]
    return (at_ms, key, b'{"event_id": "e' + str(offset).encode() + b'"}', headers)


def test_copies_of_one_source_position_are_one_entry_and_the_newest_comes_first() -> None:
    records = [
        letter(1_000, "schema", 10),
        letter(2_000, "not_json", 11),
        letter(3_000, "schema", 10),  # written again after a crash
        (4_000, b"x", b"{}", [("other", b"header")]),  # not written by streamstats
    ]
    entries = fold_copies(records)
    assert [(entry.offset, entry.copies, entry.at_ms) for entry in entries] == [
        (10, 2, 3_000),
        (11, 1, 2_000),
    ]


def test_reason_since_and_limit_select_entries() -> None:
    entries = fold_copies(
        [letter(at, "schema" if at % 2 else "not_json", at) for at in range(1, 9)]
    )
    assert [entry.offset for entry in select(entries, reason="schema")] == [7, 5, 3, 1]
    assert [entry.offset for entry in select(entries, since_micros=6_000)] == [8, 7, 6]
    assert [entry.offset for entry in select(entries, limit=2)] == [8, 7]


def test_an_entry_renders_as_text_and_as_json() -> None:
    [entry] = fold_copies(
        [letter(parse_instant("2026-11-25T08:00:00Z") // 1000, "key_mismatch", 5, None)] * 2
    )
    text = render(entry)
    assert text.splitlines()[0] == (
        "2026-11-25T08:00:00Z  key_mismatch  chat-events/2@5  key (none) (2 copies)"
    )
    assert "key_mismatch at 5" in text
    assert orjson.loads(render(entry, as_json=True)) == {
        "at": "2026-11-25T08:00:00Z",
        "reason": "key_mismatch",
        "detail": "key_mismatch at 5",
        "source": {"topic": "chat-events", "partition": 2, "offset": 5},
        "key": None,
        "payload": '{"event_id": "e5"}',
        "copies": 2,
    }
