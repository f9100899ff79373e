"""Which agent partitions this worker holds: found once per rebalance, not per read."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from faust.types import TP

from streamstats.runtime.tables import Placement

CHANGELOG = "app-agents-changelog"


class Assignor:
    """Faust's assignor as the placement reads it, counting how often it is asked."""

    def __init__(self, actives: set[TP]) -> None:
        self.actives = actives
        self.asked = 0

    def assigned_actives(self) -> set[TP]:
        self.asked += 1
        return set(self.actives)


def placement(actives: set[TP]) -> tuple[Placement, Any, Assignor]:
    """A placement over a fake app whose assignment is ``actives``."""
    assignor = Assignor(actives)
    app: Any = SimpleNamespace(assignor=assignor, rebalancing_count=1, rebalancing=False)
    agents: Any = SimpleNamespace(
        changelog_topic=SimpleNamespace(get_topic_name=lambda: CHANGELOG),
        data=SimpleNamespace(data={}, _key_partition={}),
    )
    return Placement(app, agents, 4), app, assignor


def test_the_agents_partitions_are_found_in_the_assignment() -> None:
    found, _, _ = placement({TP(CHANGELOG, 1), TP(CHANGELOG, 3), TP("app-chats-changelog", 2)})
    assert found.active_partitions() == {1, 3}


def test_between_rebalances_the_assignment_is_asked_once() -> None:
    found, _, assignor = placement({TP(CHANGELOG, 0)})
    assert [found.active_partitions() for _ in range(3)] == [{0}] * 3
    assert assignor.asked == 1


def test_a_new_rebalance_is_asked_again() -> None:
    found, app, assignor = placement({TP(CHANGELOG, 0)})
    assert found.active_partitions() == {0}
    app.rebalancing_count = 2
    assignor.actives = {TP(CHANGELOG, 2)}
    assert found.active_partitions() == {2}
    assert found.active_partitions() == {2}
    assert assignor.asked == 2


def test_during_a_rebalance_every_call_asks_the_assignment() -> None:
    """The assignment changes while a rebalance is under way, after it was counted: what
    is found then is not kept for the rest of that rebalance's count."""
    found, app, assignor = placement({TP(CHANGELOG, 0)})
    app.rebalancing_count, app.rebalancing = 2, True
    assert found.active_partitions() == {0}
    assignor.actives = {TP(CHANGELOG, 1)}
    assert found.active_partitions() == {1}
    app.rebalancing = False
    assert found.active_partitions() == {1}
    assert found.active_partitions() == {1}
    assert assignor.asked == 3
