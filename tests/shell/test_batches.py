"""How the worker cuts a stream into batches (topology.arrived_batches)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

from streamstats.topology import arrived_batches


class ScriptedStream:
    """A stand-in for a Faust stream: events after given pauses (seconds), produced
    ``age`` seconds before they arrive."""

    def __init__(self, script: list[tuple[float, str]], age: float) -> None:
        self.script = script
        self.age = age

    def noack(self) -> ScriptedStream:
        return self

    async def events(self) -> AsyncIterator[SimpleNamespace]:
        for pause, name in self.script:
            await asyncio.sleep(pause)
            message = SimpleNamespace(timestamp=time.time() - self.age)
            yield SimpleNamespace(name=name, message=message)


def batches(script: list[tuple[float, str]], age: float = 0.0, **limits: Any) -> list[list[str]]:
    """The batches cut from ``script``, on an event loop of their own (the browser tests
    leave one running on the test thread)."""

    async def cut() -> list[list[str]]:
        found = arrived_batches(ScriptedStream(script, age), **limits)  # type: ignore[arg-type]
        return [[event.name for event in batch] async for batch in found]

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, cut()).result()


def test_a_batch_closes_when_the_stream_goes_quiet() -> None:
    script = [(0, "a"), (0, "b"), (0.2, "c"), (0, "d")]
    assert batches(script, size=100, window=5.0, idle=0.05) == [["a", "b"], ["c", "d"]]


def test_a_batch_holds_at_most_size_events() -> None:
    script = [(0, str(number)) for number in range(5)]
    assert batches(script, size=2, window=5.0, idle=0.5) == [["0", "1"], ["2", "3"], ["4"]]


def test_a_steady_trickle_is_cut_by_the_window() -> None:
    script = [(0.03, str(number)) for number in range(10)]
    found = batches(script, size=100, window=0.1, idle=0.5)
    assert [event for batch in found for event in batch] == [str(n) for n in range(10)]
    assert 2 <= len(found) < 10


def test_behind_the_stream_a_batch_waits_out_its_window_despite_pauses() -> None:
    script = [(0, "a"), (0.05, "b"), (0.3, "c")]
    found = batches(script, age=60.0, size=100, window=0.2, idle=0.01)
    assert found == [["a", "b"], ["c"]]
