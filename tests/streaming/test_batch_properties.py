"""The batch fold: any split of the input into batches, with duplicates, any interleaving of
the topics, crashes at batch boundaries and any producer's partitioner, gives the records
and panels of batches of one, and of replay (Hypothesis)."""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamstats.core.explain import Breakdown, explain
from streamstats.core.instant import parse_instant
from streamstats.core.replay import breakdowns, panels, replay_lines
from streamstats.core.view import Panel, view
from streamstats.streaming.local import CHATS, STATUS, LocalPipeline

from ..factories import Wire, fnv1a, lines
from ..strategies import interleaving, streams

FUZZ = settings(
    max_examples=int(os.environ.get("STREAMSTATS_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
READINGS = [parse_instant(moment) for moment in ("2026-11-25T09:00:00Z", "2026-11-28T00:00:00Z")]
MAX_CRASHES = 3


PARTITIONS = 3
Partitioner = Callable[[bytes], int]


PARTITIONERS: dict[str, Partitioner | None] = {
    "murmur2 (the Java client)": None,
    "crc32 (librdkafka's consistent_random)": lambda key: zlib.crc32(key) % PARTITIONS,
    "fnv1a (sarama)": lambda key: fnv1a(key) % PARTITIONS,
}
partitioners = st.sampled_from(sorted(PARTITIONERS))


def pipeline_of(
    events: list[Wire], partitioner: str = "murmur2 (the Java client)"
) -> LocalPipeline:
    """The events published keyed by agent and chat, with the producer's ``partitioner``."""
    pipeline = LocalPipeline(partitions=PARTITIONS)
    pick = PARTITIONERS[partitioner]
    for event in events:
        topic, key = (
            (CHATS, event["chat_id"].encode())
            if "chat_id" in event
            else (STATUS, event["agent_id"].encode())
        )
        pipeline.publish(topic, key, orjson.dumps(event), None if pick is None else pick(key))
    return pipeline


def one_at_a_time(events: list[Wire]) -> LocalPipeline:
    """Batches of one message, partition after partition."""
    pipeline = pipeline_of(events)
    while unread := pipeline.unread():
        for where in unread:
            pipeline.fetch({where: 1})
    return pipeline


def read(pipeline: LocalPipeline) -> list[dict[str, Panel]]:
    agents = pipeline.agents()
    return [
        {agent_id: view(agents[agent_id], at) for agent_id in sorted(agents)} for at in READINGS
    ]


def explained(pipeline: LocalPipeline) -> list[dict[str, Breakdown]]:
    """Every agent's breakdown from the records and evidence items the stages stored."""
    agents = pipeline.agents()
    return [
        {
            agent_id: explain(agents[agent_id], pipeline.evidence(agent_id), at)
            for agent_id in sorted(agents)
        }
        for at in READINGS
    ]


def stored_sessions(pipeline: LocalPipeline) -> dict[str, dict[int, list[int]]]:
    """Every agent's ended sessions as the agent stage stored them."""
    found = {agent_id: pipeline.sessions(agent_id) for agent_id in pipeline.agents()}
    return {agent_id: sessions for agent_id, sessions in found.items() if sessions}


def published_sessions(pipeline: LocalPipeline) -> dict[str, dict[int, list[int]]]:
    """The agent-sessions topic after compaction, by agent and session start."""
    found: dict[str, dict[int, list[int]]] = {}
    for (agent_id, start), summary in pipeline.published_sessions.items():
        found.setdefault(agent_id, {})[start] = summary
    return found


def with_duplicates(data: st.DataObject, events: list[Wire]) -> list[Wire]:
    """``events`` with some delivered again later (the platform may send an event twice)."""
    duplicated = list(events)
    for original in data.draw(st.lists(st.sampled_from(events), max_size=6)) if events else []:
        earliest = duplicated.index(original) + 1
        duplicated.insert(data.draw(st.integers(earliest, len(duplicated))), original)
    return duplicated


@FUZZ
@given(data=st.data())
def test_any_batches_and_crashes_give_the_records_and_panels_of_batches_of_one(
    data: st.DataObject,
) -> None:
    events = with_duplicates(data, data.draw(interleaving(data.draw(streams()))))
    split = pipeline_of(events, data.draw(partitioners))
    crashes = 0
    while unread := split.unread():
        take = {where: data.draw(st.integers(0, count)) for where, count in unread.items()}
        if not any(take.values()):
            take[next(iter(unread))] = 1
        crash = crashes < MAX_CRASHES and data.draw(st.integers(0, 4)) == 0
        # A crash may cut the fetch's output short: its agent changes are lost.
        split.fetch(take, lose_changes=crash and data.draw(st.booleans()))
        if not crash and data.draw(st.booleans()):
            split.commit()
        if crash:
            split.crash()
            crashes += 1
    single = one_at_a_time(events)
    assert split.chats() == single.chats()
    assert read(split) == read(single)
    assert explained(split) == explained(single)
    assert stored_sessions(split) == stored_sessions(single)
    assert published_sessions(split) == stored_sessions(single)
    assert not split.dead_letters


@FUZZ
@given(data=st.data())
def test_the_worker_fold_equals_replay(data: st.DataObject) -> None:
    events = with_duplicates(data, data.draw(interleaving(data.draw(streams()))))
    pipeline = pipeline_of(events, data.draw(partitioners))
    pipeline.fetch_all(data.draw(st.integers(1, 8)))
    replayed = replay_lines(lines(events), evidence=True, sessions=True)
    assert read(pipeline) == [panels(replayed, at) for at in READINGS]
    assert explained(pipeline) == [breakdowns(replayed, at) for at in READINGS]
    assert stored_sessions(pipeline) == {
        agent_id: ended for agent_id, ended in (replayed.projector.sessions or {}).items() if ended
    }
    assert pipeline.chats() == replayed.projector.chats


@FUZZ
@given(data=st.data())
def test_replay_in_any_batches_equals_replay_in_one(data: st.DataObject) -> None:
    events = with_duplicates(data, data.draw(interleaving(data.draw(streams()))))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(events)), max_size=4)))
    result = None
    for start, end in zip([0, *cuts], [*cuts, len(events)], strict=True):
        result = replay_lines(lines(events[start:end]), result=result)
    assert result is not None
    whole = replay_lines(lines(events))
    assert [panels(result, at) for at in READINGS] == [panels(whole, at) for at in READINGS]
