"""The query of ``GET /agents``: status, page size and cursor, and what a bad one says."""

from __future__ import annotations

import pytest

from streamstats.web.agents import ListQuery


def test_no_parameters_ask_for_every_agent() -> None:
    assert ListQuery.from_query({}) == ListQuery(status=None, after=None, limit=None)


def test_a_page_is_read_from_status_limit_and_after() -> None:
    query = {"status": "paused", "limit": "007", "after": "a-0042"}
    assert ListQuery.from_query(query) == ListQuery("paused", "a-0042", 7)


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"status": "away"}, "status:"),
        ({"limit": "0"}, "limit:"),
        ({"limit": "-1"}, "limit:"),
        ({"limit": "1e3"}, "limit:"),
        ({"limit": ""}, "limit:"),
        ({"limit": "\u0663"}, "limit:"),  # a digit to str.isdigit, not a number here
    ],
)
def test_a_bad_parameter_is_named(query: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=f"^{named}"):
        ListQuery.from_query(query)
