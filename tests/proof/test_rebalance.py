"""Proof under rebalancing (issue #5): 1 → 2 → 3 → 1 workers while events flow.

Run with `make proof` (or `-k rebalance`); PROOF_REBALANCE_EVENTS sizes it
(default 60,000 events, a few minutes of ingest). Two groups of simulated agents:
*settled* ones, whose events are all applied before the first scale step, and
*active* ones, whose events are published throughout the steps. A reader thread
asks every worker that is up, in turn, for panels at a fixed ``?at=`` instant the
whole time, and now and then walks the supervisor list page by page. Every answer
must be right or a 503 with ``Retry-After``:

* a settled agent's 200 equals `streamstats replay` exactly;
* an active agent's 200 is consistent (online + offline + paused = session time)
  and never goes back: First Online and status-since never move back, and within
  one session missed and holds never decrease nor exceed their final values
  (closed neither, but for the close credits the agent loses to re-closes, each
  of which may take one back); once seen, an agent is never a 404;
* a page of the list is sorted, starts after the page before it and holds only
  panels right by the two rules above; a walk that reaches the last page holds
  every settled agent and every agent seen before it began.

Only a worker being started or stopped may refuse a connection. At the end the
one worker left equals replay of every event: nothing lost or doubled.
"""

from __future__ import annotations

import os
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.client import HTTPException
from typing import Any

import orjson
import pytest
from benchmarks.harness import crc32_partitioner
from benchmarks.launcher import Worker

from streamstats.core.events import (
    AgentProfileChanged,
    AgentStatusChanged,
    InvalidEvent,
    UnknownEvent,
    decode_event,
)
from streamstats.core.instant import parse_instant
from streamstats.core.rules import apply_chat_event
from streamstats.core.state import ChatState, change_of
from tests.integration.conftest import Deployment
from tests.integration.test_stream import READ_AT, expected_panels, simulated, wait_until_replayed

pytestmark = pytest.mark.proof

EVENTS = int(os.environ.get("PROOF_REBALANCE_EVENTS", "60000"))
SETTLED_SHARE = 0.25
"""Share of the events that belong to the settled agents."""
INGEST_SECONDS = min(240.0, max(60.0, EVENTS / 400))
"""The active events (but their last tenth) are spread over this many seconds."""
STEP_GAP = INGEST_SECONDS / 8
"""Seconds of ingest after each scale step before the next one."""
SLICES = 100
READ_PAUSE = 0.002
"""Seconds between two reads, to leave the two cores mostly to the workers."""
LIST_EVERY = 100
"""Agent reads between two walks of the supervisor list."""
LIST_PAGES = 6
"""Pages a walk of the list takes, roughly: each is gathered from every worker."""
"""The active events go out in this many slices; the last tenth waits for the steps to end."""
READ_AT_MICROS = parse_instant(READ_AT)


def report(text: str) -> None:
    print(f"\n[proof] {text}", flush=True)


def renamed(lines: list[bytes]) -> list[bytes]:
    """The same traffic with its own agent, chat and event ids (b-, d-, f- for a-, c-, e-)."""
    return [
        line.replace(b'"a-', b'"b-').replace(b'"c-', b'"d-').replace(b'"e-', b'"f-')
        for line in lines
    ]


def credit_losses(lines: list[bytes]) -> Counter[str]:
    """How many close credits each agent loses, by the core's chat fold.

    A chat closed again by someone else takes its credit back: the previous
    holder's closed count legitimately drops by one each time.
    """
    chats: dict[str, ChatState] = {}
    losses: Counter[str] = Counter()
    for line in lines:
        event = decode_event(line)
        if isinstance(event, (AgentStatusChanged, AgentProfileChanged, UnknownEvent, InvalidEvent)):
            continue
        chat = chats.setdefault(event.chat_id, ChatState(event.chat_id))
        for fields in apply_chat_event(chat, event) or ():
            change = change_of(fields)
            if change.uncredit_since is not None and change.closed < 1:
                losses[change.agent_id] += 1
    return losses


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, raw body) of a GET; unlike ``http`` it takes any body, JSON or not."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def instant(text: str | None) -> int:
    """A panel timestamp as microseconds; null sorts first."""
    return -1 if text is None else parse_instant(text)


@dataclass
class ActiveAgents:
    """What a read of an active agent may show: never less than it showed before."""

    final: dict[str, Any]
    losses: Counter[str]
    last: dict[str, Any] = field(default_factory=dict)

    def judge(self, agent_id: str, panel: Any) -> list[str]:
        """The problems of ``panel`` after the agent's previous 200; records it."""
        problems = consistency(panel)
        before = self.last.get(agent_id)
        if before is not None:
            problems += regressions(before, panel, self.losses[agent_id], "previous read")
        problems += regressions(panel, self.final[agent_id], self.losses[agent_id], "final replay")
        self.last[agent_id] = panel
        return problems


def regressions(older: Any, newer: Any, losses: int, label: str) -> list[str]:
    """What went back from ``older`` to ``newer`` (a later state of the same agent).

    In one session missed and holds only grow; closed drops by at most the
    credits the agent ever loses.
    """
    problems = []
    for part, key in (("session", "first_online"), ("status", "since")):
        if instant(newer[part][key]) < instant(older[part][key]):
            problems.append(f"{part}.{key} {older[part][key]} then {newer[part][key]} ({label})")
    if newer["session"]["first_online"] != older["session"]["first_online"]:
        return problems  # a new session resets the counters
    for counter, slack in (("missed", 0), ("holds", 0), ("closed", losses)):
        if newer["chats"][counter] < older["chats"][counter] - slack:
            problems.append(
                f"chats.{counter} {older['chats'][counter]} then {newer['chats'][counter]} "
                f"({label}; {losses} credits lost in all)"
            )
    return problems


def consistency(panel: Any) -> list[str]:
    """Problems of one panel on its own: read at READ_AT, durations adding up."""
    problems = []
    if instant(panel["as_of"]) != READ_AT_MICROS:
        problems.append(f"as_of {panel['as_of']}")
    times = panel["time"]
    spent = times["online"] + times["offline"] + times["paused"]
    if abs(spent - panel["session"]["seconds"]) > 1e-3:
        problems.append(f"online+offline+paused {spent} != session {panel['session']['seconds']}")
    return problems


@dataclass
class Pool:
    """The workers the reader goes through, each with its state, and the current phase."""

    members: dict[str, tuple[Worker, str]] = field(default_factory=dict)
    phase: str = "1 worker"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, name: str, worker: Worker | None, state: str = "up") -> None:
        with self.lock:
            if worker is None:
                del self.members[name]
            else:
                self.members[name] = (worker, state)

    def enter(self, phase: str) -> None:
        with self.lock:
            self.phase = phase

    def snapshot(self) -> tuple[list[tuple[str, Worker, str]], str]:
        with self.lock:
            members = [(name, worker, state) for name, (worker, state) in self.members.items()]
            return members, self.phase


@dataclass
class Reads:
    """What the reader saw."""

    outcomes: Counter[str] = field(default_factory=Counter)
    by_phase: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)


class Reader(threading.Thread):
    """Reads ``/agents/{id}?at=READ_AT`` round-robin through the pool until stopped."""

    def __init__(
        self,
        pool: Pool,
        settled: dict[str, Any],
        active: ActiveAgents,
        names: dict[str, str],
        seed: int,
    ) -> None:
        super().__init__(name="reader", daemon=True)
        self.pool, self.settled, self.active, self.names = pool, settled, active, names
        self.order = sorted(settled) + sorted(active.final)
        self.page = max(2, len(self.order) // LIST_PAGES)
        random.Random(seed).shuffle(self.order)
        self.reads = Reads()
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            turn = 0
            while not self.halt.is_set():
                for agent_id in self.order:
                    if self.halt.is_set():
                        break
                    members, phase = self.pool.snapshot()
                    name, worker, state = members[turn % len(members)]
                    turn += 1
                    self.read(agent_id, name, worker, state, phase)
                    if turn % LIST_EVERY == 0:
                        self.walk_list(name, worker, state, phase)
                    time.sleep(READ_PAUSE)
        except BaseException as error:  # re-raised by the test
            self.error = error

    def read(self, agent_id: str, name: str, worker: Worker, state: str, phase: str) -> None:
        """One read, judged; violations are recorded with where they happened."""
        self.reads.by_phase[phase] += 1
        try:
            status, headers, raw = get(f"{worker.url}/agents/{agent_id}?at={READ_AT}")
        except (OSError, HTTPException) as error:
            self.reads.outcomes["connection error"] += 1
            if state == "up":
                self.violate(phase, name, agent_id, f"{type(error).__name__}: {error}")
            return
        settled = agent_id in self.settled
        group = "settled" if settled else "active"
        answered = headers.get("X-Streamstats-Worker", "")
        name += f" (answered by {self.names.get(answered.rstrip('/'), answered or '?')})"
        self.reads.outcomes[f"{status} {group}"] += 1
        if status == 503:
            if "Retry-After" not in headers:
                self.violate(phase, name, agent_id, f"503 without Retry-After: {raw!r}")
            return
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self.violate(phase, name, agent_id, f"{status}, not JSON: {raw[:200]!r}")
            return
        if status == 404 and not settled and agent_id not in self.active.last:
            return  # no event has named it yet
        if status != 200:
            self.violate(phase, name, agent_id, f"{status} {body}")
        else:
            self.judge(phase, name, agent_id, body)

    def walk_list(self, name: str, worker: Worker, state: str, phase: str) -> None:
        """Read ``GET /agents`` page by page until the last page or a 503, judging each."""
        known = set(self.settled) | set(self.active.last)
        seen: set[str] = set()
        after = ""
        while True:
            self.reads.by_phase[phase] += 1
            query = urllib.parse.urlencode({"at": READ_AT, "limit": self.page, "after": after})
            try:
                status, headers, raw = get(f"{worker.url}/agents?{query}")
            except (OSError, HTTPException) as error:
                self.reads.outcomes["list connection error"] += 1
                if state == "up":
                    self.violate(phase, name, "the list", f"{type(error).__name__}: {error}")
                return
            self.reads.outcomes[f"{status} list page"] += 1
            if status == 503 and "Retry-After" in headers:
                return  # the walk ends here; the next one starts over
            if status != 200:
                self.violate(phase, name, "the list", f"{status} {raw[:200]!r}")
                return
            page = orjson.loads(raw)
            ids = [panel["agent_id"] for panel in page["agents"]]
            if ids != sorted(set(ids)) or len(ids) > self.page or (ids and ids[0] <= after):
                self.violate(phase, name, "the list", f"page after {after!r} is {ids}")
            for panel in page["agents"]:
                self.judge(phase, name, panel["agent_id"], panel, "listed, ")
            seen.update(ids)
            if page["next"] is None:
                break
            if not ids or page["next"] != ids[-1]:
                self.violate(phase, name, "the list", f"next {page['next']!r} after {ids}")
                return
            after = page["next"]
        self.reads.outcomes["list walks complete"] += 1
        missing = sorted(known - seen)
        if missing:
            self.violate(phase, name, "the list", f"{len(missing)} agents missing: {missing[:5]}")

    def judge(self, phase: str, name: str, agent_id: str, panel: Any, how: str = "") -> None:
        """Record what is wrong with a 200's ``panel`` of ``agent_id``, read ``how``."""
        if agent_id in self.settled:
            if panel != self.settled[agent_id]:
                self.violate(
                    phase, name, agent_id, f"{how}{panel} != replay {self.settled[agent_id]}"
                )
        elif agent_id in self.active.final:
            for problem in self.active.judge(agent_id, panel):
                self.violate(phase, name, agent_id, f"{how}{problem}: {panel}")
        else:
            self.violate(phase, name, agent_id, f"{how}no event names it: {panel}")

    def violate(self, phase: str, name: str, agent_id: str, what: str) -> None:
        clock = time.strftime("%H:%M:%S")
        self.reads.violations.append(f"{clock} [{phase}] via {name}, {agent_id}: {what}")

    def stop(self) -> Reads:
        self.halt.set()
        self.join(timeout=60)
        if self.error is not None:
            raise self.error
        return self.reads


class Publisher(threading.Thread):
    """Publishes the active events in slices over INGEST_SECONDS; the last tenth after finish()."""

    def __init__(self, deployment: Deployment, lines: list[bytes]) -> None:
        super().__init__(name="publisher", daemon=True)
        self.deployment, self.lines = deployment, lines
        self.published = 0
        self.finishing = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            paced = SLICES * 9 // 10
            started = time.monotonic()
            for index in range(SLICES):
                if index < paced:
                    time.sleep(
                        max(0.0, started + index * INGEST_SECONDS / paced - time.monotonic())
                    )
                else:
                    self.finishing.wait()
                end = len(self.lines) * (index + 1) // SLICES
                # librdkafka's partitioner, not murmur2: status events are forwarded
                # to their agents' partitions while those move between workers.
                self.deployment.publish(
                    self.lines[self.published : end], partitioner=crc32_partitioner
                )
                self.published = end
        except BaseException as error:  # re-raised by the test
            self.error = error

    def finish(self) -> None:
        self.finishing.set()
        self.join(timeout=600)
        if self.error is not None:
            raise self.error


def test_scaling_1_2_3_1_workers_while_reading_serves_no_wrong_number(
    deployment: Deployment,
) -> None:
    settled_count = round(EVENTS * SETTLED_SHARE)
    active_count = EVENTS - settled_count
    settled_lines = simulated(seed=51, agents=max(5, settled_count // 230))[:settled_count]
    active_lines = renamed(simulated(seed=52, agents=max(5, active_count // 230))[:active_count])
    every_line = settled_lines + active_lines
    settled = expected_panels(settled_lines)
    active = ActiveAgents(expected_panels(active_lines), credit_losses(active_lines))
    assert not settled.keys() & active.final.keys()

    started = time.monotonic()
    w1, w2, w3 = (deployment.worker(name) for name in ("w1", "w2", "w3"))
    w1.start().wait_ready()
    deployment.publish(settled_lines)
    wait_until_replayed(w1, settled_lines, timeout=600)

    pool = Pool()
    pool.set("w1", w1)
    names = {worker.url.rstrip("/"): name for name, worker in (("w1", w1), ("w2", w2), ("w3", w3))}
    reader = Reader(pool, settled, active, names, seed=51)
    publisher = Publisher(deployment, active_lines)
    steps: list[str] = []
    reader.start()
    publisher.start()

    def step(phase: str, settle: str, change: Any) -> None:
        """Run one scale step, then let ingest go on for STEP_GAP seconds."""
        before, clock = publisher.published, time.monotonic()
        pool.enter(phase)
        change()
        pool.enter(settle)
        time.sleep(STEP_GAP)
        steps.append(
            f"{phase} in {time.monotonic() - clock:.0f} s with "
            f"{publisher.published - before:,} events published"
        )
        assert publisher.published > before, f"no ingest during {phase}: raise INGEST_SECONDS"

    def join(name: str, worker: Worker) -> Any:
        def change() -> None:
            pool.set(name, worker.start(), "starting")
            for _, member, _ in pool.snapshot()[0]:
                member.wait_ready(timeout=180)
            pool.set(name, worker)

        return change

    def leave() -> None:
        pool.set("w2", w2, "stopping")
        pool.set("w3", w3, "stopping")
        with ThreadPoolExecutor(max_workers=2) as stopping:
            list(stopping.map(Worker.stop, (w2, w3)))
        pool.set("w2", None)
        pool.set("w3", None)
        w1.wait_ready(timeout=180)

    replayed = False
    try:
        step("1→2 workers", "2 workers", join("w2", w2))
        step("2→3 workers", "3 workers", join("w3", w3))
        step("3→1 workers", "1 worker again", leave)
        assert publisher.published < len(active_lines), "ingest ended before the last step"
        publisher.finish()
        wait_until_replayed(w1, every_line, timeout=max(120, EVENTS / 200))
        replayed = True
    finally:
        publisher.finishing.set()
        reads = reader.stop()
        outcomes = ", ".join(f"{key} {count:,}" for key, count in sorted(reads.outcomes.items()))
        phases = ", ".join(f"{phase} {count:,}" for phase, count in reads.by_phase.items())
        report(
            f"rebalance: {len(every_line):,} events ({len(settled_lines):,} settled for "
            f"{len(settled)} agents, {len(active_lines):,} flowing for {len(active.final)} "
            f"agents); steps: {'; '.join(steps)}; {sum(reads.outcomes.values()):,} reads "
            f"({outcomes}); by phase: {phases}; {len(reads.violations)} violations; final "
            f"panels {'equal' if replayed else 'DO NOT equal'} replay "
            f"({time.monotonic() - started:.0f} s)"
        )
        shown = "\n".join(reads.violations[:20])
        if shown:
            report(f"first wrong answers:\n{shown}")
    assert not reads.violations, f"{len(reads.violations)} wrong answers, first ones:\n{shown}"
    assert reads.outcomes["200 settled"], "no settled agent was ever read"
    assert reads.outcomes["200 active"], "no active agent was ever read"
    assert reads.outcomes["list walks complete"], "no walk of the list reached its last page"
