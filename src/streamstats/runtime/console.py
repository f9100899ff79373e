"""What the worker says on its console: a few lines of its own, as text or JSON.

Faust, mode and the Kafka client log their start-up tables and every rebalance step at
INFO; an operator needs only: ready, partitions assigned or revoked, caught up with the
input, and once a minute the events folded and the dead letters by reason. Those lines
come from here (logger ``streamstats``); the libraries speak at WARNING and above, and
at every level with ``STREAMSTATS_LOG_LEVEL=debug``.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from ..metrics import Metrics
from ..settings import Settings
from .tables import Placement

__all__ = ["Console", "JsonFormatter", "configure_logging"]

log = logging.getLogger("streamstats")

LIBRARIES: Final = ("faust", "mode", "aiokafka", "kafka", "rocksdict", "streamstats.runtime.seam")
"""Loggers of Faust's services and the Kafka client (the seam's subclasses log as Faust's)."""
TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``at``, ``level``, ``logger``, ``message`` (and ``error``)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        line: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def configure_logging(settings: Settings) -> None:
    """Send every log record to standard error in the configured format and level."""
    level = logging.getLevelName(settings.log_level.upper())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    if level != logging.DEBUG:
        # Their INFO records are start-up tables and rebalance steps; building them also
        # cost the Kafka client ~10 % of the worker's time even when nothing printed them.
        for name in LIBRARIES:
            logging.getLogger(name).setLevel(logging.WARNING)


@dataclass(slots=True)
class Console:
    """The worker's own lines: ready, assignments, caught up, and a minute's figures."""

    settings: Settings
    metrics: Metrics
    placement: Placement
    was_ready: bool = False
    behind: bool = False
    folded_before: float = 0.0
    dead_before: Counter[str] = field(default_factory=Counter)

    async def watch_readiness(self) -> None:
        """Say once when the worker becomes ready, and again after it stopped being ready."""
        ready = self.placement.ready()
        if ready and not self.was_ready:
            partitions = sorted(self.placement.active_partitions())
            log.info(
                "ready: http://%s:%s, holding partitions %s of %s",
                self.settings.web_host,
                self.settings.web_port,
                partitions,
                self.settings.partitions,
            )
        self.was_ready = ready

    async def assigned(self, sender: Any, assigned: set[Any], **kwargs: Any) -> None:
        """Say which input partitions this worker was given."""
        log.info("partitions assigned: %s", _by_topic(assigned, self.settings))

    async def revoked(self, sender: Any, revoked: set[Any], **kwargs: Any) -> None:
        """Say which input partitions moved away."""
        log.info("partitions revoked: %s", _by_topic(revoked, self.settings))

    def fetched(self, messages: int) -> None:
        """Note a fetch's size: a full one means a backlog, a short one that it is gone."""
        if messages >= self.settings.batch_size:
            self.behind = True
        elif self.behind:
            self.behind = False
            log.info("caught up with the input")

    async def minute(self) -> None:
        """The minute timer: :meth:`say_minute`."""
        self.say_minute()

    def say_minute(self) -> None:
        """Say what was folded and rejected since the last time."""
        folded = _total(self.metrics, "streamstats_events_applied")
        dead = Counter(_by_label(self.metrics, "streamstats_events_invalid", "reason"))
        new_dead = dead - self.dead_before
        log.info(
            "last minute: %d events folded (%.0f/s); dead letters: %s",
            folded - self.folded_before,
            (folded - self.folded_before) / 60,
            ", ".join(f"{reason} {count:.0f}" for reason, count in sorted(new_dead.items()))
            or "none",
        )
        self.folded_before, self.dead_before = folded, dead


def _by_topic(partitions: set[Any], settings: Settings) -> str:
    topics: dict[str, list[int]] = {}
    for tp in partitions:
        if tp.topic in (settings.status_topic, settings.chat_topic):
            topics.setdefault(tp.topic, []).append(tp.partition)
    return (
        "; ".join(f"{topic} {sorted(found)}" for topic, found in sorted(topics.items())) or "none"
    )


def _by_label(metrics: Metrics, name: str, label: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name == f"{name}_total":
                found[sample.labels[label]] = sample.value
    return found


def _total(metrics: Metrics, name: str) -> float:
    return sum(_by_label(metrics, name, "type").values())
