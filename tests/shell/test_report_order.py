"""The sessions report orders rows by agent, then by the instant a session started."""

from __future__ import annotations

from streamstats.web.reports import sort_rows


def test_rows_sort_by_agent_then_start_instant_not_text() -> None:
    rows: list[dict[str, object]] = [
        {"agent_id": "a2", "start": "2026-11-25T08:00:00Z"},
        {"agent_id": "a1", "start": "2026-11-25T08:00:01.5Z"},
        {"agent_id": "a1", "start": "2026-11-25T08:00:01Z"},
        {"agent_id": "a1", "start": "2026-11-25T08:00:01.368Z"},
        {"agent_id": "a1", "start": "2026-11-25T08:00:01.36Z"},
    ]
    sort_rows(rows)
    assert [(row["agent_id"], row["start"]) for row in rows] == [
        ("a1", "2026-11-25T08:00:01Z"),
        ("a1", "2026-11-25T08:00:01.36Z"),
        ("a1", "2026-11-25T08:00:01.368Z"),
        ("a1", "2026-11-25T08:00:01.5Z"),
        ("a2", "2026-11-25T08:00:00Z"),
    ]
