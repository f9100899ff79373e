"""Prometheus metrics of the worker."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from .streaming.batch import BatchTally

__all__ = ["STAGES", "BatchCounter", "DelayHistogram", "Metrics", "StoreMemory"]

STAGES: Final = ("chat", "agent")

_DELAY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class DelayHistogram(Collector):
    """A Prometheus histogram of processing delays, by stage, observed a batch at a time.

    ``prometheus_client``'s ``Histogram.observe`` takes a lock and walks the buckets for
    every value: about a microsecond an event, a few percent of the worker's time. Here a
    batch's delays are counted into plain integers, exposed as the same histogram.
    """

    def __init__(self, name: str, documentation: str, stages: Sequence[str]) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = list(_DELAY_BUCKETS)
        self.counts = {stage: [0] * (len(self.bounds) + 1) for stage in stages}
        self.sums = dict.fromkeys(stages, 0.0)

    def observe_events(self, stage: str, event_ats: Sequence[int], now: float) -> None:
        """Count the delay of events that happened at ``event_ats`` (epoch microseconds)
        and were applied at ``now`` (epoch seconds)."""
        counts, bounds = self.counts[stage], self.bounds
        total = 0.0
        for at in event_ats:
            delay = now - at / 1_000_000
            if delay < 0.0:
                delay = 0.0
            counts[bisect_left(bounds, delay)] += 1
            total += delay
        self.sums[stage] += total

    def collect(self) -> Iterator[HistogramMetricFamily]:
        """The histogram as Prometheus reads it: cumulative buckets per stage."""
        family = HistogramMetricFamily(self.name, self.documentation, labels=["stage"])
        for stage, counts in self.counts.items():
            cumulative, buckets = 0, []
            for bound, count in zip(
                [*map(floatToGoString, self.bounds), "+Inf"], counts, strict=True
            ):
                cumulative += count
                buckets.append((bound, cumulative))
            family.add_metric([stage], buckets, self.sums[stage])
        yield family


class StoreMemory(Collector):
    """The memory of the worker's table stores by kind, read from them at every scrape."""

    def __init__(self) -> None:
        self.source: Callable[[], dict[str, int]] = dict

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "streamstats_store_memory_bytes",
            "Memory of this worker's RocksDB tables, by kind: cache (everything charged to "
            "STREAMSTATS_STORE_MEMORY_MB: data blocks, indexes, filters and write buffers), "
            "memtables (the write buffers, within the cache), table_readers (outside it).",
            labels=["kind"],
        )
        for kind, held in self.source().items():
            family.add_metric([kind], held)
        yield family


class Metrics:
    """All metrics of one worker, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.events_applied = Counter(
            "streamstats_events_applied",
            "Input events folded into the projections, by event type.",
            ["type"],
            registry=self.registry,
        )
        self.events_invalid = Counter(
            "streamstats_events_invalid",
            "Input messages sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.events_unknown = Counter(
            "streamstats_events_unknown_type",
            "Input events of a type this version does not know, ignored.",
            registry=self.registry,
        )
        self.events_replayed = Counter(
            "streamstats_events_replayed",
            "Input messages at or below an already applied offset (after a restart), skipped.",
            ["stage"],
            registry=self.registry,
        )
        self.changes_sent = Counter(
            "streamstats_agent_changes_sent",
            "Per-agent changes the chat stage sent to the agent stage.",
            registry=self.registry,
        )
        self.changes_received = Counter(
            "streamstats_agent_changes_received",
            "Per-agent changes the agent stage read (applied or skipped as already applied).",
            registry=self.registry,
        )
        self.status_forwarded = Counter(
            "streamstats_status_events_forwarded",
            "Status-topic messages published outside their agent's partition (a partitioner "
            "other than murmur2), sent on to it through the agent-changes topic.",
            registry=self.registry,
        )
        self.sessions_published = Counter(
            "streamstats_sessions_published",
            "Ended sessions published to the sessions topic (again when late events change "
            "their figures, or after a crash).",
            registry=self.registry,
        )
        self.messages_read_back = Counter(
            "streamstats_messages_read_back",
            "Input messages the consumer skipped (around a rebalance), read back from Kafka.",
            registry=self.registry,
        )
        self.late_status_events = Counter(
            "streamstats_late_status_events",
            "Status events older than the agent's current status, not applied (spec §2).",
            registry=self.registry,
        )
        self._add_state_metrics()

    def _add_state_metrics(self) -> None:
        """The delay histogram and the gauges of what the worker holds."""
        self.processing_delay = DelayHistogram(
            "streamstats_processing_delay_seconds",
            "Time from an event's `at` to the moment it was applied.",
            STAGES,
        )
        self.registry.register(self.processing_delay)
        self.store_memory = StoreMemory()
        self.registry.register(self.store_memory)
        self.agents_by_status = Gauge(
            "streamstats_agents",
            "Agents held by this worker, by current status.",
            ["status"],
            registry=self.registry,
        )
        self.table_entries = Gauge(
            "streamstats_table_entries",
            "Entries in this worker's active table partitions.",
            ["table"],
            registry=self.registry,
        )

    def watch_store_memory(self, source: Callable[[], dict[str, int]]) -> None:
        """Report the table stores' memory by kind, as ``source`` tells it, at every scrape."""
        self.store_memory.source = source


class BatchCounter:
    """Adds what each batch of a stage did to the metrics, and keeps the latest event time.

    The metrics get a batch's counts in one go; the delay histogram is observed once per
    folded event, against the instant the batch was folded.
    """

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.last_event_at: float | None = None
        """Latest event ``at`` (epoch seconds) this worker applied."""
        self._applied: dict[str, Any] = {}

    def count(self, tally: BatchTally, stage: str, now: float) -> None:
        """Add one batch of ``stage`` (``"chat"`` or ``"agent"``), folded at ``now``."""
        metrics = self.metrics
        if tally.replayed:
            metrics.events_replayed.labels(stage).inc(tally.replayed)
        if tally.unknown:
            metrics.events_unknown.inc(tally.unknown)
        if tally.late:
            metrics.late_status_events.inc(tally.late)
        if tally.changes_received:
            metrics.changes_received.inc(tally.changes_received)
        for applied, times in tally.applied.items():
            counter = self._applied.get(applied)
            if counter is None:
                counter = self._applied[applied] = metrics.events_applied.labels(applied)
            counter.inc(times)
        if tally.event_ats:
            self.metrics.processing_delay.observe_events(stage, tally.event_ats, now)
            latest = max(tally.event_ats) / 1_000_000
            if self.last_event_at is None or latest > self.last_event_at:
                self.last_event_at = latest
