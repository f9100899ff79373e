"""The cyclic garbage collector tuned for folding: the worker and replay use it."""

from __future__ import annotations

import gc
from typing import Final

__all__ = ["GC_YOUNG_THRESHOLD", "tune_garbage_collector"]

GC_YOUNG_THRESHOLD: Final = 20_000
"""Allocations between two young-generation collections (Python's default is 700)."""


def tune_garbage_collector() -> None:
    """Collect cyclic garbage less often, and never scan what startup made.

    A fold allocates many short-lived objects an event (decoded events, working records,
    agent changes), and few of them form cycles; with the default thresholds the collector
    ran every ~15 events and a full collection walked every live record and every object
    of Faust and the Kafka client as well.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)
