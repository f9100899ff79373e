"""The worker's own console lines: a minute's figures and catching up with the input."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest

from streamstats.metrics import Metrics
from streamstats.runtime.console import Console, JsonFormatter
from streamstats.settings import Settings


def console(batch_size: int = 10) -> Console:
    placement: Any = None  # not read by the lines tested here
    return Console(Settings(batch_size=batch_size), Metrics(), placement)


def test_a_minute_line_counts_what_was_folded_and_rejected_since_the_last(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lines = console()
    metrics = lines.metrics
    metrics.events_applied.labels("chat.closed").inc(90)
    metrics.events_applied.labels("agent.status_changed").inc(30)
    metrics.events_invalid.labels("schema").inc(2)
    with caplog.at_level(logging.INFO, logger="streamstats"):
        lines.say_minute()
        metrics.events_applied.labels("chat.closed").inc(60)
        metrics.events_invalid.labels("not_json").inc(1)
        lines.say_minute()
    assert [record.getMessage() for record in caplog.records] == [
        "last minute: 120 events folded (2/s); dead letters: schema 2",
        "last minute: 60 events folded (1/s); dead letters: not_json 1",
    ]


def test_caught_up_is_said_once_after_a_backlog(caplog: pytest.LogCaptureFixture) -> None:
    lines = console(batch_size=10)
    with caplog.at_level(logging.INFO, logger="streamstats"):
        for size in (3, 10, 10, 4, 2, 10, 1):
            lines.fetched(size)
    assert [record.getMessage() for record in caplog.records] == ["caught up with the input"] * 2


def test_json_lines_carry_time_level_logger_and_message() -> None:
    record = logging.LogRecord("streamstats", logging.INFO, __file__, 1, "ready: %s", ("x",), None)
    line = orjson.loads(JsonFormatter().format(record))
    assert line["level"] == "info"
    assert line["logger"] == "streamstats"
    assert line["message"] == "ready: x"
    assert line["at"].endswith("+00:00")
