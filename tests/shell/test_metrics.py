"""The delay histogram, observed a batch at a time, exposes what prometheus_client's does."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from streamstats.metrics import STAGES, DelayHistogram, Metrics

NAME = "streamstats_processing_delay_seconds"
HELP = "Time from an event's `at` to the moment it was applied."


@given(
    st.lists(st.integers(0, 400_000_000), max_size=40),
    st.sampled_from([0.005, 0.25, 1.0, 60.0, 300.0, 1_000.0]),
)
def test_batches_of_delays_expose_the_same_histogram_as_one_observe_each(
    delays_micros: list[int], now: float
) -> None:
    ours = CollectorRegistry()
    histogram = DelayHistogram(NAME, HELP, STAGES)
    ours.register(histogram)
    theirs = CollectorRegistry()
    reference = Histogram(NAME, HELP, ["stage"], registry=theirs, buckets=histogram.bounds)
    for stage in STAGES:
        reference.labels(stage)
    event_ats = [int(now * 1_000_000) - delay for delay in delays_micros]
    half = len(event_ats) // 2
    histogram.observe_events("chat", event_ats[:half], now)
    histogram.observe_events("chat", event_ats[half:], now)
    for at in event_ats:
        reference.labels("chat").observe(max(0.0, now - at / 1_000_000))
    assert _buckets(generate_latest(ours)) == _buckets(generate_latest(theirs))


def _buckets(exposition: bytes) -> list[str]:
    # The sums are floats added in another order: compare the buckets and counts.
    return sorted(
        line
        for line in exposition.decode().splitlines()
        if line.startswith(NAME) and "_sum" not in line and "_created" not in line
    )


def test_a_delay_before_the_event_counts_as_zero() -> None:
    metrics = Metrics()
    metrics.processing_delay.observe_events("agent", [5_000_000], 4.0)
    assert metrics.processing_delay.counts["agent"][0] == 1
    assert metrics.processing_delay.sums["agent"] == 0.0


def test_store_memory_is_read_at_every_scrape_by_kind() -> None:
    metrics = Metrics()
    held = {"cache": 10, "memtables": 5}
    metrics.watch_store_memory(lambda: held)
    held = {"cache": 30, "memtables": 20}
    lines = generate_latest(metrics.registry).decode().splitlines()
    assert [line for line in lines if line.startswith("streamstats_store_memory_bytes")] == [
        'streamstats_store_memory_bytes{kind="cache"} 30.0',
        'streamstats_store_memory_bytes{kind="memtables"} 20.0',
    ]
