"""Deterministic contact-center traffic in wire format v1 (spec §1), in time order.

:func:`simulate` plays a discrete-event model of a contact center: agents work
shifts (every third agent a split shift with an offline gap of 6.25-8 h, so
sessions restart), take pauses and short offline breaks, and chats arrive in
proportion to how many agents are on shift. Chats are distributed to online
agents with free capacity; some are put on hold, transferred by hand, missed
(``no_agent_answer``), closed by the client inactivity timer, or re-opened by
another agent after they were closed. The same arguments always give the same
events, byte for byte.

Sizing: with the default number of chats (12 per agent-hour on shift) a run
produces about 33 events per agent-hour on shift. Agents are on shift about a
third of the time, so a one-day run gives about 11 events per agent per
simulated hour (about 10 over several days, as agents take days off):
``agents=500, hours=24`` gives about 131,000 events and
``agents=3800, hours=24`` about 1,000,000 (roughly 10 s on one core).
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import accumulate
from random import Random
from typing import Final

import orjson

__all__ = ["simulate", "simulate_lines"]

# All simulated time is integer milliseconds since the Unix epoch.
_SECOND: Final = 1_000
_MINUTE: Final = 60 * _SECOND
_HOUR: Final = 60 * _MINUTE
_DAY: Final = 24 * _HOUR
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

_CHATS_PER_SHIFT_HOUR: Final = 12.0
_ANSWER_TIMEOUT: Final = 2 * _MINUTE  # "Time for changing agent"
_INACTIVITY_TIMEOUT: Final = 10 * _MINUTE  # "Time for closing chat after last message"
_MISS_PROBABILITY: Final = 0.06
_HOLD_PROBABILITY: Final = 0.15
_TRANSFER_PROBABILITY: Final = 0.07
_CLIENT_SILENT_PROBABILITY: Final = 0.12
_REOPEN_PROBABILITY: Final = 0.04
_FORGOTTEN_AT_SHIFT_END: Final = 0.08
_OFFER_ATTEMPTS: Final = 30  # the client gives up after about 15 minutes without an agent

_FIRST_NAMES: Final = (
    "Ann", "Boris", "Carla", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Irina", "Jonas",
    "Kateryna", "Luis", "Marta", "Nikolai", "Olga", "Pavel", "Quinn", "Rosa", "Sergei", "Tanya",
    "Umar", "Vera", "Wiktor", "Xenia", "Yusuf", "Zoe",
)  # fmt: skip
_LAST_NAMES: Final = (
    "Adams", "Bauer", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Horvat", "Ivanova",
    "Jensen", "Kowalski", "Larsen", "Moreau", "Novak", "Olsen", "Petrenko", "Rossi", "Schmidt",
    "Tanaka", "Ueda", "Varga", "Weber", "Yilmaz", "Zielinski",
)  # fmt: skip
_NICKNAMES: Final = ("Annie", "Bo", "Cat", "Dima", "Lena", "Max", "Sasha", "Tom", "Vik", "Zed")
_MEETINGS: Final = ("meeting", "training", "coaching")


@dataclass(slots=True, eq=False)
class _Chat:
    chat_id: str
    owner: _Agent | None = None
    last_owner: _Agent | None = None
    is_open: bool = False
    on_hold: bool = False
    # Bumped whenever the owner changes or the chat closes: pending steps planned
    # under an older value no longer apply.
    step: int = 0
    offers: int = 0


@dataclass(slots=True, eq=False)
class _Agent:
    agent_id: str
    first_name: str
    last_name: str
    nickname: str | None
    capacity: int
    shifts: list[tuple[int, int]]
    next_shift: int = 0
    status: str = "offline"
    reason: str | None = None
    shift_start: int = 0
    shift_end: int = 0
    on_shift: bool = False
    wrapping_up: bool = False
    had_lunch: bool = False
    # Bumped to cancel the pending steps of a pause or break (e.g. at shift end).
    script: int = 0
    chats: dict[str, _Chat] = field(default_factory=dict)
    pool_slot: int = -1


def simulate(
    *,
    seed: int,
    agents: int,
    chats: int | None = None,
    hours: float = 24.0,
    start: datetime,
    duplicate_rate: float = 0.002,
    status_resend_minutes: float | None = None,
) -> Iterator[dict[str, object]]:
    """Yield the events of ``hours`` of traffic from ``start``, ordered by ``at``.

    ``chats`` is how many chats arrive (``None``: 12 per agent-hour on
    shift); a few find no free agent and never appear. Every agent's profile
    comes first, at ``start``. Each event is delivered again with probability
    ``duplicate_rate``: an identical copy (same ``event_id`` and ``at``) a little
    later in the stream. With ``status_resend_minutes``, each agent's client also sends
    the agent's current status and reason again at that interval while on shift (a
    status heartbeat: new events that change nothing but fill the agent's remembered
    event ids). Nothing happens at or after ``start + hours``.
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be offset-aware")
    if agents < 0 or (chats is not None and chats < 0):
        raise ValueError("agents and chats must not be negative")
    if not (hours > 0 and math.isfinite(hours)):
        raise ValueError("hours must be positive and finite")
    if not 0.0 <= duplicate_rate <= 1.0:
        raise ValueError("duplicate_rate must be between 0 and 1")
    if status_resend_minutes is not None and not (
        status_resend_minutes > 0 and math.isfinite(status_resend_minutes)
    ):
        raise ValueError("status_resend_minutes must be positive and finite")
    origin = (start - _EPOCH) // timedelta(milliseconds=1)
    simulation = _Simulation(
        rng=Random(seed),
        agent_count=agents,
        chat_count=chats,
        origin=origin,
        end=origin + round(hours * _HOUR),
        duplicate_rate=duplicate_rate,
        status_resend=None
        if status_resend_minutes is None
        else max(1, round(status_resend_minutes * _MINUTE)),
    )
    return simulation.run()


def simulate_lines(
    *,
    seed: int,
    agents: int,
    chats: int | None = None,
    hours: float = 24.0,
    start: datetime,
    duplicate_rate: float = 0.002,
    status_resend_minutes: float | None = None,
) -> Iterator[bytes]:
    """The events of :func:`simulate` as JSON lines (``orjson.dumps(event) + b"\\n"``)."""
    events = simulate(
        seed=seed,
        agents=agents,
        chats=chats,
        hours=hours,
        start=start,
        duplicate_rate=duplicate_rate,
        status_resend_minutes=status_resend_minutes,
    )
    for event in events:
        yield orjson.dumps(event) + b"\n"


class _Simulation:
    def __init__(
        self,
        *,
        rng: Random,
        agent_count: int,
        chat_count: int | None,
        origin: int,
        end: int,
        duplicate_rate: float,
        status_resend: int | None = None,
    ) -> None:
        self._rng = rng
        # A separate stream, so the traffic is the same whatever the duplicate rate.
        self._duplicate_rng = Random(rng.getrandbits(64))
        self._duplicate_rate = duplicate_rate
        self._status_resend = status_resend
        self._origin = origin
        self._end = end
        self._now = origin
        self._queue: list[tuple[int, int, Callable[[], None]]] = []
        self._pushed = 0
        self._emitted: list[dict[str, object]] = []
        self._event_count = 0
        self._chat_count = 0
        self._pool: list[_Agent] = []
        self._stamp_second = -1
        self._stamp_prefix = ""
        self._agents = [self._hire(number) for number in range(1, agent_count + 1)]
        self._arrivals = self._plan_arrivals(chat_count)
        self._next_arrival = 0

    def run(self) -> Iterator[dict[str, object]]:
        for agent in self._agents:
            self._at(self._origin, partial(self._publish_profile, agent))
            if agent.shifts:
                self._at(agent.shifts[0][0], partial(self._start_shift, agent))
            if self._rng.random() < 0.08:
                when = self._rng.randrange(self._origin, self._end)
                self._at(when, partial(self._change_profile, agent))
        if self._arrivals:
            self._at(self._arrivals[0], self._arrive)
        queue = self._queue
        while queue:
            self._now, _, action = heapq.heappop(queue)
            action()
            if self._emitted:
                emitted, self._emitted = self._emitted, []
                yield from emitted

    # -- planning -------------------------------------------------------------

    def _hire(self, number: int) -> _Agent:
        rng = self._rng
        first_name = rng.choice(_FIRST_NAMES)
        nickname = None
        if rng.random() < 0.35:
            nickname = rng.choice(_NICKNAMES) if rng.random() < 0.7 else first_name[:3]
        return _Agent(
            agent_id=f"a-{number:04d}",
            first_name=first_name,
            last_name=rng.choice(_LAST_NAMES),
            nickname=nickname,
            capacity=rng.randint(3, 5),
            shifts=self._plan_shifts(split=number % 3 == 2),
        )

    def _plan_shifts(self, *, split: bool) -> list[tuple[int, int]]:
        """Shifts (start, end) overlapping the run: one a day, or two with a 6 h+ gap."""
        rng = self._rng
        horizon = self._end - self._origin
        if split:
            first = self._origin + round(rng.uniform(0, min(2 * _HOUR, horizon / 4)))
        else:
            first = self._origin + round(rng.random() ** 2 * min(10 * _HOUR, horizon / 2))
        shifts: list[tuple[int, int]] = []
        day = 0
        while (begin := first + day * _DAY) < self._end:
            if day:
                begin += round(rng.uniform(-45, 45) * _MINUTE)
            day_off = day > 0 and rng.random() < 0.12
            if split:
                morning = round(rng.uniform(3, 4.5) * _HOUR)
                gap = round(rng.uniform(6.25, 8) * _HOUR)
                evening = round(rng.uniform(3, 4.5) * _HOUR)
                planned = [(begin, begin + morning)]
                planned.append((begin + morning + gap, begin + morning + gap + evening))
            else:
                planned = [(begin, begin + round(rng.uniform(7, 9.5) * _HOUR))]
            if not day_off:
                shifts.extend(shift for shift in planned if shift[0] < self._end)
            day += 1
        return shifts

    def _plan_arrivals(self, chat_count: int | None) -> list[int]:
        """Arrival instants, as dense as the agents on shift (uniform if there are none)."""
        rng = self._rng
        windows = [
            (begin, min(finish, self._end))
            for agent in self._agents
            for begin, finish in agent.shifts
        ]
        ends = list(accumulate(finish - begin for begin, finish in windows))
        staffed = ends[-1] if ends else 0
        if chat_count is None:
            chat_count = round(_CHATS_PER_SHIFT_HOUR * staffed / _HOUR)
        arrivals: list[int] = []
        for _ in range(chat_count):
            if staffed == 0:
                arrivals.append(rng.randrange(self._origin, self._end))
                continue
            point = rng.randrange(staffed)
            index = bisect_right(ends, point)
            begin, _finish = windows[index]
            arrivals.append(begin + point - (ends[index - 1] if index else 0))
        arrivals.sort()
        return arrivals

    # -- machinery ------------------------------------------------------------

    def _at(self, when: int, action: Callable[[], None]) -> None:
        if when < self._end:
            self._pushed += 1
            heapq.heappush(self._queue, (max(when, self._now), self._pushed, action))

    def _later(self, low_seconds: float, high_seconds: float) -> int:
        return self._now + round(self._rng.uniform(low_seconds, high_seconds) * _SECOND)

    def _stamp(self) -> str:
        second, millisecond = divmod(self._now, _SECOND)
        if second != self._stamp_second:
            self._stamp_second = second
            moment = _EPOCH + timedelta(seconds=second)
            self._stamp_prefix = moment.strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._stamp_prefix}.{millisecond:03d}Z"

    def _emit(self, event_type: str, **fields: object) -> None:
        self._event_count += 1
        event: dict[str, object] = {
            "event_id": f"e-{self._event_count:07d}",
            "type": event_type,
            "at": self._stamp(),
            **fields,
        }
        self._emitted.append(event)
        if self._duplicate_rate and self._duplicate_rng.random() < self._duplicate_rate:
            # A copy keeps the original's ``at``, so it goes out after whatever else is
            # due at this very instant, which keeps the stream in time order.
            self._at(self._now, partial(self._redeliver, dict(event)))

    def _redeliver(self, event: dict[str, object]) -> None:
        self._emitted.append(event)

    def _refresh_pool(self, agent: _Agent) -> None:
        """Keep ``_pool`` equal to the agents that may receive chats."""
        pool = self._pool
        wanted = agent.status == "online" and agent.on_shift and not agent.wrapping_up
        if wanted and agent.pool_slot < 0:
            agent.pool_slot = len(pool)
            pool.append(agent)
        elif not wanted and agent.pool_slot >= 0:
            last = pool.pop()
            if last is not agent:
                pool[agent.pool_slot] = last
                last.pool_slot = agent.pool_slot
            agent.pool_slot = -1

    def _pick_agent(self, *, besides: _Agent | None) -> _Agent | None:
        """A free online agent other than ``besides``, preferring the less busy."""
        pool = self._pool
        if len(pool) <= 4:
            candidates = list(pool)
        else:
            candidates = [pool[self._rng.randrange(len(pool))] for _ in range(3)]
        chosen: _Agent | None = None
        for candidate in candidates:
            if candidate is besides or len(candidate.chats) >= candidate.capacity:
                continue
            if chosen is None or len(candidate.chats) < len(chosen.chats):
                chosen = candidate
        return chosen

    # -- agents ---------------------------------------------------------------

    def _publish_profile(self, agent: _Agent) -> None:
        name = f"{agent.first_name} {agent.last_name}"
        self._emit(
            "agent.profile_changed", agent_id=agent.agent_id, name=name, nickname=agent.nickname
        )

    def _change_profile(self, agent: _Agent) -> None:
        choice = self._rng.random()
        if choice < 0.4:
            agent.nickname = None if agent.nickname else self._rng.choice(_NICKNAMES)
        elif choice < 0.7:
            agent.last_name = self._rng.choice(_LAST_NAMES)
        else:
            agent.nickname = self._rng.choice(_NICKNAMES)
        self._publish_profile(agent)

    def _set_status(self, agent: _Agent, status: str, reason: str | None = None) -> None:
        agent.status, agent.reason = status, reason
        if reason is None:
            self._emit("agent.status_changed", agent_id=agent.agent_id, status=status)
        else:
            self._emit(
                "agent.status_changed", agent_id=agent.agent_id, status=status, reason=reason
            )
        self._refresh_pool(agent)

    def _start_shift(self, agent: _Agent) -> None:
        agent.shift_start, agent.shift_end = agent.shifts[agent.next_shift]
        agent.next_shift += 1
        agent.on_shift = True
        agent.wrapping_up = False
        agent.had_lunch = False
        agent.script += 1
        self._set_status(agent, "online", "start of shift" if self._rng.random() < 0.1 else None)
        self._at(agent.shift_end, partial(self._end_shift, agent))
        self._plan_interruption(agent)
        if self._status_resend is not None:
            resend = partial(self._resend_status, agent, agent.script)
            self._at(self._now + self._status_resend, resend)

    def _resend_status(self, agent: _Agent, script: int) -> None:
        """The client's heartbeat: the current status again, until the shift ends."""
        if script == agent.script and self._status_resend is not None:
            self._set_status(agent, agent.status, agent.reason)
            self._at(self._now + self._status_resend, partial(self._resend_status, agent, script))

    def _plan_interruption(self, agent: _Agent) -> None:
        when = self._later(35 * 60, 100 * 60)
        if when < agent.shift_end - 10 * _MINUTE:
            self._at(when, partial(self._interrupt, agent, agent.script))

    def _interrupt(self, agent: _Agent, script: int) -> None:
        """Leave the desk for a while, or just re-send the current status."""
        if script != agent.script:
            return
        rng = self._rng
        choice = rng.random()
        status, reason, minutes = "paused", "break", rng.uniform(5, 15)
        if (
            not agent.had_lunch
            and agent.shift_end - agent.shift_start >= 6 * _HOUR
            and self._now - agent.shift_start >= 3 * _HOUR
        ):
            reason, minutes = "lunch", rng.uniform(25, 45)
            agent.had_lunch = True
        elif choice < 0.50:
            pass
        elif choice < 0.65:
            reason, minutes = rng.choice(_MEETINGS), rng.uniform(10, 30)
        elif choice < 0.78:
            status, minutes = "offline", rng.uniform(1, 12)
            reason = "connection lost" if rng.random() < 0.3 else "personal"
        elif choice < 0.88:
            reason, minutes = "after chat work", rng.uniform(2, 6)
        else:
            # The client re-sends "online"; now and then with a reason.
            self._set_status(agent, "online", "available" if rng.random() < 0.3 else None)
            self._plan_interruption(agent)
            return
        self._set_status(agent, status, reason)
        back = self._now + round(minutes * _MINUTE)
        if rng.random() < 0.2:
            again = reason if rng.random() < 0.4 else _other_reason(reason)
            when = self._now + (back - self._now) // 2
            self._at(when, partial(self._repeat_status, agent, script, status, again))
        if back < agent.shift_end:
            self._at(back, partial(self._back_online, agent, script))

    def _repeat_status(self, agent: _Agent, script: int, status: str, reason: str | None) -> None:
        if script == agent.script:
            self._set_status(agent, status, reason)

    def _back_online(self, agent: _Agent, script: int) -> None:
        if script == agent.script:
            self._set_status(agent, "online")
            self._plan_interruption(agent)

    def _end_shift(self, agent: _Agent) -> None:
        """Hand over or close the open chats (usually), then go offline."""
        rng = self._rng
        agent.script += 1
        agent.wrapping_up = True
        self._refresh_pool(agent)
        leaving = self._now
        if agent.status != "offline":
            open_chats = list(agent.chats.values())
            if open_chats and rng.random() < 0.5:
                self._set_status(agent, "paused", "wrap-up")
            for chat in open_chats:
                if rng.random() < _FORGOTTEN_AT_SHIFT_END:
                    continue
                leaving += round(rng.uniform(3, 40) * _SECOND)
                self._at(leaving, partial(self._wrap_up_chat, chat, chat.step))
        leaving += round(rng.uniform(5, 60) * _SECOND)
        self._at(leaving, partial(self._go_offline, agent, agent.script))

    def _wrap_up_chat(self, chat: _Chat, step: int) -> None:
        if chat.step != step or chat.owner is None:
            return
        if self._rng.random() < 0.3:
            target = self._pick_agent(besides=chat.owner)
            if target is not None:
                self._transfer(chat, target, "manual")
                return
        self._close(chat, chat.owner.agent_id, "agent")

    def _go_offline(self, agent: _Agent, script: int) -> None:
        if script != agent.script:
            return
        rng = self._rng
        agent.on_shift = False
        if agent.status != "offline" or rng.random() < 0.5:
            self._set_status(agent, "offline", "end of shift" if rng.random() < 0.4 else None)
        if rng.random() < 0.1:
            when = self._later(60, 20 * 60)
            self._at(when, partial(self._repeat_status, agent, script, "offline", "logged out"))
        if agent.next_shift < len(agent.shifts):
            self._at(agent.shifts[agent.next_shift][0], partial(self._start_shift, agent))

    # -- chats ----------------------------------------------------------------

    def _arrive(self) -> None:
        self._chat_count += 1
        self._offer(_Chat(chat_id=f"c-{self._chat_count:06d}"))
        self._next_arrival += 1
        if self._next_arrival < len(self._arrivals):
            self._at(self._arrivals[self._next_arrival], self._arrive)

    def _offer(self, chat: _Chat) -> None:
        agent = self._pick_agent(besides=None)
        if agent is None:
            chat.offers += 1
            if chat.offers < _OFFER_ATTEMPTS:
                self._at(self._later(15, 45), partial(self._offer, chat))
            return
        chat.is_open = True
        self._emit("chat.assigned", chat_id=chat.chat_id, agent_id=agent.agent_id)
        self._give(chat, agent)
        self._plan_conversation(chat, answerable=True, reopened=False)

    def _give(self, chat: _Chat, agent: _Agent) -> None:
        if chat.owner is not None:
            del chat.owner.chats[chat.chat_id]
        chat.owner = agent
        chat.on_hold = False
        chat.step += 1
        agent.chats[chat.chat_id] = chat

    def _plan_conversation(self, chat: _Chat, *, answerable: bool, reopened: bool) -> None:
        """Schedule what happens to the chat while its new owner has it."""
        rng = self._rng
        step = chat.step
        if answerable and rng.random() < _MISS_PROBABILITY:
            when = self._now + _ANSWER_TIMEOUT + round(rng.uniform(0, 5) * _SECOND)
            self._at(when, partial(self._missed, chat, step))
            return
        length = round(min(max(rng.lognormvariate(math.log(360), 0.7), 30), 75 * 60) * _SECOND)
        if rng.random() < _HOLD_PROBABILITY:
            held_at = self._now + round(length * rng.uniform(0.15, 0.6))
            held_for = round(rng.uniform(30, 300) * _SECOND)
            self._at(held_at, partial(self._hold, chat, step))
            self._at(held_at + held_for, partial(self._resume, chat, step))
            length += held_for
        if not reopened and rng.random() < _TRANSFER_PROBABILITY:
            when = self._now + round(length * rng.uniform(0.3, 0.8))
            self._at(when, partial(self._transfer_by_hand, chat, step))
        elif not reopened and rng.random() < _CLIENT_SILENT_PROBABILITY:
            when = self._now + length + _INACTIVITY_TIMEOUT
            self._at(when, partial(self._close_inactive, chat, step))
        else:
            self._at(self._now + length, partial(self._close_by_owner, chat, step))

    def _owner_at_desk(self, chat: _Chat, step: int) -> _Agent | None:
        """The owner, if this step still applies and the owner is not offline."""
        owner = chat.owner
        if chat.step != step or owner is None or owner.status == "offline":
            return None
        return owner

    def _hold(self, chat: _Chat, step: int) -> None:
        owner = self._owner_at_desk(chat, step)
        if owner is not None and not chat.on_hold:
            chat.on_hold = True
            self._emit("chat.held", chat_id=chat.chat_id, agent_id=owner.agent_id)

    def _resume(self, chat: _Chat, step: int) -> None:
        owner = self._owner_at_desk(chat, step)
        if owner is not None and chat.on_hold:
            chat.on_hold = False
            self._emit("chat.resumed", chat_id=chat.chat_id, agent_id=owner.agent_id)

    def _close_by_owner(self, chat: _Chat, step: int) -> None:
        owner = self._owner_at_desk(chat, step)
        if owner is not None:
            self._close(chat, owner.agent_id, "agent")
        elif chat.step == step:
            self._left_alone(chat)

    def _transfer_by_hand(self, chat: _Chat, step: int) -> None:
        owner = self._owner_at_desk(chat, step)
        if owner is None:
            if chat.step == step:
                self._left_alone(chat)
            return
        target = self._pick_agent(besides=owner)
        if target is None:
            self._close(chat, owner.agent_id, "agent")
        else:
            self._transfer(chat, target, "manual")

    def _missed(self, chat: _Chat, step: int) -> None:
        """The "Transfer chats without agent answer" timer fired."""
        if chat.step != step:
            return
        target = self._pick_agent(besides=chat.owner)
        if target is None:
            self._at(self._now + _INACTIVITY_TIMEOUT, partial(self._close_inactive, chat, step))
        else:
            self._transfer(chat, target, "no_agent_answer")

    def _left_alone(self, chat: _Chat) -> None:
        """The owner went offline without handing the chat over: the platform timers act."""
        if self._rng.random() < 0.5:
            self._missed(chat, chat.step)
        else:
            when = self._later(0, _INACTIVITY_TIMEOUT / _SECOND)
            self._at(when, partial(self._close_inactive, chat, chat.step))

    def _close_inactive(self, chat: _Chat, step: int) -> None:
        """The "Close chats without messages" timer fired."""
        if chat.step != step or chat.owner is None:
            return
        agent_id = chat.owner.agent_id if self._rng.random() < 0.5 else None
        self._close(chat, agent_id, "client_inactive")

    def _transfer(self, chat: _Chat, target: _Agent, reason: str) -> None:
        assert chat.owner is not None
        self._emit(
            "chat.transferred",
            chat_id=chat.chat_id,
            from_agent_id=chat.owner.agent_id,
            to_agent_id=target.agent_id,
            reason=reason,
        )
        self._give(chat, target)
        self._plan_conversation(chat, answerable=True, reopened=False)

    def _close(self, chat: _Chat, agent_id: str | None, reason: str) -> None:
        assert chat.owner is not None
        self._emit("chat.closed", chat_id=chat.chat_id, agent_id=agent_id, reason=reason)
        del chat.owner.chats[chat.chat_id]
        chat.last_owner, chat.owner = chat.owner, None
        chat.is_open = False
        chat.on_hold = False
        chat.step += 1
        if self._rng.random() < _REOPEN_PROBABILITY:
            self._at(self._later(3 * 60, 90 * 60), partial(self._reopen, chat, chat.step))

    def _reopen(self, chat: _Chat, step: int) -> None:
        """The client writes again; another agent picks the closed chat up."""
        if chat.step != step or chat.is_open:
            return
        target = self._pick_agent(besides=chat.last_owner)
        if target is None:
            return
        chat.is_open = True
        self._emit("chat.reopened", chat_id=chat.chat_id, agent_id=target.agent_id)
        self._give(chat, target)
        self._plan_conversation(chat, answerable=False, reopened=True)


def _other_reason(reason: str | None) -> str | None:
    """A different reason for the same status, as agents re-pick from the dropdown."""
    alternatives = {"break": "coffee", "lunch": "break", "personal": "connection lost"}
    return alternatives.get(reason or "", "other")
