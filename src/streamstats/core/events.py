"""Wire-format v1 events (spec §1) and their decoding.

The pydantic models here are the single source of the event schema: the JSON
Schema files in ``schemas/`` are generated from them and every decoder in the
project (replay, worker) goes through :func:`decode_event`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, ClassVar, Final, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from .instant import to_micros

__all__ = [
    "AGENT_EVENT_TYPES",
    "CHAT_EVENT_TYPES",
    "EVENT_MODELS",
    "MAX_EVENT_BYTES",
    "AgentEvent",
    "AgentProfileChanged",
    "AgentStatusChanged",
    "ChatAssigned",
    "ChatClosed",
    "ChatEvent",
    "ChatHeld",
    "ChatReopened",
    "ChatResumed",
    "ChatTransferred",
    "Event",
    "InvalidEvent",
    "Status",
    "UnknownEvent",
    "decode_event",
    "event_adapter",
    "type_tag",
]

MAX_EVENT_BYTES: Final = 64 * 1024
"""Largest accepted message value, in bytes (spec §1)."""

EventId = Annotated[str, Field(min_length=1, max_length=128)]
EntityId = Annotated[str, Field(min_length=1, max_length=128)]
Status = Literal["online", "offline", "paused"]


class _AtMicros:
    """``at`` as integer microseconds since the epoch, as the fold keeps time.

    Computed on first use and kept in the instance, like ``functools.cached_property``
    but without the lock that costs it ~1 µs an event on Python 3.11.
    """

    def __get__(self, event: _EventBase | None, owner: type | None = None) -> int:
        if event is None:
            raise AttributeError("at_micros is an attribute of events, not of their class")
        micros = to_micros(event.at)
        event.__dict__["at_micros"] = micros  # found before this descriptor from now on
        return micros


class _EventBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, ignored_types=(_AtMicros,))

    event_id: EventId
    at: AwareDatetime

    at_micros: ClassVar[_AtMicros] = _AtMicros()


class AgentStatusChanged(_EventBase):
    """The agent switched to ``status`` (panel items 1, 13, 15)."""

    type: Literal["agent.status_changed"]
    agent_id: EntityId
    status: Status
    reason: Annotated[str, Field(max_length=64)] | None = None


class AgentProfileChanged(_EventBase):
    """The agent's card changed; the panel shows nickname, else name (item 7)."""

    type: Literal["agent.profile_changed"]
    agent_id: EntityId
    name: Annotated[str, Field(max_length=256)] | None
    nickname: Annotated[str, Field(max_length=256)] | None


class ChatAssigned(_EventBase):
    """A chat was distributed to ``agent_id``; opens it if it was not open."""

    type: Literal["chat.assigned"]
    chat_id: EntityId
    agent_id: EntityId


class ChatTransferred(_EventBase):
    """Ownership moved; ``no_agent_answer`` means the agent missed the chat."""

    type: Literal["chat.transferred"]
    chat_id: EntityId
    from_agent_id: EntityId
    to_agent_id: EntityId
    reason: Literal["manual", "no_agent_answer"]


class ChatHeld(_EventBase):
    """The agent put the chat on hold."""

    type: Literal["chat.held"]
    chat_id: EntityId
    agent_id: EntityId


class ChatResumed(_EventBase):
    """The hold ended."""

    type: Literal["chat.resumed"]
    chat_id: EntityId
    agent_id: EntityId


class ChatClosed(_EventBase):
    """The chat was closed by an agent or by the inactivity timer."""

    type: Literal["chat.closed"]
    chat_id: EntityId
    agent_id: EntityId | None
    reason: Literal["agent", "client_inactive"]


class ChatReopened(_EventBase):
    """A closed chat was re-opened and is now owned by ``agent_id``."""

    type: Literal["chat.reopened"]
    chat_id: EntityId
    agent_id: EntityId


AgentEvent = AgentStatusChanged | AgentProfileChanged
ChatEvent = ChatAssigned | ChatTransferred | ChatHeld | ChatResumed | ChatClosed | ChatReopened
Event = Annotated[AgentEvent | ChatEvent, Field(discriminator="type")]

AGENT_EVENT_TYPES: Final = frozenset({"agent.status_changed", "agent.profile_changed"})
CHAT_EVENT_TYPES: Final = frozenset(
    {
        "chat.assigned",
        "chat.transferred",
        "chat.held",
        "chat.resumed",
        "chat.closed",
        "chat.reopened",
    }
)

event_adapter: Final[TypeAdapter[AgentEvent | ChatEvent]] = TypeAdapter(Event)


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """A well-formed object whose ``type`` this version does not know: ignore it."""

    type: str


@dataclass(frozen=True, slots=True)
class InvalidEvent:
    """A message that breaks the contract; ``reason`` is a short metric label."""

    reason: Literal["too_large", "not_json", "not_object", "naive_timestamp", "schema"]
    detail: str


EVENT_MODELS: Final[tuple[type[AgentEvent | ChatEvent], ...]] = (
    AgentStatusChanged,
    AgentProfileChanged,
    ChatAssigned,
    ChatTransferred,
    ChatHeld,
    ChatResumed,
    ChatClosed,
    ChatReopened,
)
# pydantic validates a discriminated union from JSON about half as fast as one model, so
# the tag is guessed from the raw bytes and that model tried first. The model itself
# checks ``type`` and forbids extra fields, so a wrong guess can only fail, never pass:
# any failure goes through the union, which gives the authoritative answer.
_TAG_PATTERN: Final = re.compile(rb'"type"\s*:\s*"([a-z_.]{1,40})"')


def type_tag(model: type[AgentEvent | ChatEvent]) -> str:
    """The ``type`` value of an event model, e.g. ``"chat.closed"``."""
    tag: str = get_args(model.model_fields["type"].annotation)[0]
    return tag


_VALIDATORS: Final = {
    type_tag(model).encode(): model.__pydantic_validator__ for model in EVENT_MODELS
}


def decode_event(raw: bytes) -> AgentEvent | ChatEvent | UnknownEvent | InvalidEvent:
    """Decode one wire message into an event, an ignorable unknown type, or an error."""
    if len(raw) > MAX_EVENT_BYTES:
        size = len(raw)
        return InvalidEvent("too_large", f"message is {size} bytes, the limit is {MAX_EVENT_BYTES}")
    tag = _TAG_PATTERN.search(raw)
    if tag is not None:
        validator = _VALIDATORS.get(tag.group(1))
        if validator is not None:
            try:
                event: AgentEvent | ChatEvent = validator.validate_json(raw)
            except ValidationError:
                pass
            else:
                return event
    try:
        return event_adapter.validate_json(raw)
    except ValidationError as error:
        return _explain(error)


def _explain(error: ValidationError) -> UnknownEvent | InvalidEvent:
    problems = error.errors(include_url=False)
    kinds = {problem["type"] for problem in problems}
    if "json_invalid" in kinds:
        return InvalidEvent("not_json", f"not valid JSON: {problems[0]['msg']}")
    if kinds == {"union_tag_invalid"}:
        tag = problems[0]["input"].get("type") if isinstance(problems[0]["input"], dict) else None
        if isinstance(tag, str):
            return UnknownEvent(tag)
    if kinds == {"dict_type"} and not problems[0]["loc"]:
        return InvalidEvent("not_object", "the message must be a JSON object")
    reason: Literal["naive_timestamp", "schema"] = (
        "naive_timestamp" if "timezone_aware" in kinds else "schema"
    )
    return InvalidEvent(reason, "; ".join(_describe(problem) for problem in problems))


def _describe(problem: object) -> str:
    assert isinstance(problem, dict)
    loc = problem["loc"]
    # The first element of a location is the discriminator tag; the rest names the field.
    field = ".".join(str(part) for part in loc[1:]) if len(loc) > 1 else ""
    if problem["type"] == "union_tag_not_found":
        return "type: field required (one of the event types of the contract)"
    if problem["type"] == "timezone_aware":
        return f"{field}: timestamp needs an offset such as Z or +02:00"
    return f"{field}: {problem['msg']}" if field else str(problem["msg"])
