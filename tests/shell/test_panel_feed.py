"""The panels every worker reads, handed to the Server-Sent Events streams open on it."""

from __future__ import annotations

from streamstats.runtime.panels import PanelFeed, PanelUpdate


def update(offset: int) -> PanelUpdate:
    return PanelUpdate(f"0-{offset}", b'{"agent_id":"a-1","offset":%d}' % offset)


def test_a_panel_nobody_streams_is_not_kept() -> None:
    feed = PanelFeed()

    feed.offer("a-1", update(1))

    assert feed.latest == {}
    assert feed.subscribers == {}


def test_an_open_stream_receives_each_panel_and_the_newest_is_kept_while_it_is_open() -> None:
    feed = PanelFeed()
    first = feed.subscribe("a-1")
    second = feed.subscribe("a-1")

    feed.offer("a-1", update(1))
    feed.offer("a-1", update(2))
    feed.offer("a-2", update(3))

    assert [first.get_nowait(), first.get_nowait()] == [update(1), update(2)]
    assert second.qsize() == 2
    assert feed.latest == {"a-1": update(2)}

    feed.unsubscribe("a-1", first)
    assert feed.latest == {"a-1": update(2)}, "kept while the agent has a stream open"

    feed.unsubscribe("a-1", second)
    assert feed.latest == {}
    assert feed.subscribers == {}


def test_a_slow_stream_drops_its_oldest_panel_for_the_newest() -> None:
    feed = PanelFeed()
    queue = feed.subscribe("a-1")
    capacity = queue.maxsize

    for offset in range(capacity + 5):
        feed.offer("a-1", update(offset))

    received = [queue.get_nowait() for _ in range(queue.qsize())]
    assert len(received) == capacity
    assert received[0] == update(5)
    assert received[-1] == update(capacity + 4)
