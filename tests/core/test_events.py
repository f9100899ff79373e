"""Spec §1 and §6: the wire format is strict, and errors name the field."""

from __future__ import annotations

import orjson
import pytest

from streamstats.core.events import (
    MAX_EVENT_BYTES,
    ChatClosed,
    InvalidEvent,
    UnknownEvent,
    decode_event,
)

VALID = {
    "event_id": "e1",
    "type": "chat.closed",
    "at": "2026-11-25T08:00:00+02:00",
    "chat_id": "c1",
    "agent_id": None,
    "reason": "client_inactive",
}


def decode(**changes: object) -> object:
    return decode_event(orjson.dumps(VALID | changes))


def test_a_valid_event_decodes_to_its_model() -> None:
    event = decode()
    assert isinstance(event, ChatClosed)
    assert event.at.utcoffset() is not None


def test_every_event_type_of_the_contract_is_known() -> None:
    samples = [
        {"type": "agent.status_changed", "agent_id": "a", "status": "paused", "reason": "lunch"},
        {"type": "agent.status_changed", "agent_id": "a", "status": "online"},
        {"type": "agent.profile_changed", "agent_id": "a", "name": None, "nickname": "Jo"},
        {"type": "chat.assigned", "chat_id": "c", "agent_id": "a"},
        {
            "type": "chat.transferred",
            "chat_id": "c",
            "from_agent_id": "a",
            "to_agent_id": "b",
            "reason": "no_agent_answer",
        },
        {"type": "chat.held", "chat_id": "c", "agent_id": "a"},
        {"type": "chat.resumed", "chat_id": "c", "agent_id": "a"},
        {"type": "chat.closed", "chat_id": "c", "agent_id": "a", "reason": "agent"},
        {"type": "chat.reopened", "chat_id": "c", "agent_id": "a"},
    ]
    for sample in samples:
        event = decode_event(orjson.dumps({"event_id": "e", "at": "2026-11-25T08:00:00Z"} | sample))
        assert not isinstance(event, (InvalidEvent, UnknownEvent)), (sample, event)


def test_a_naive_timestamp_is_invalid() -> None:
    result = decode(at="2026-11-25T08:00:00")
    assert isinstance(result, InvalidEvent)
    assert result.reason == "naive_timestamp"
    assert result.detail.startswith("at:")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"chat_id": 17}, "chat_id"),
        ({"reason": "timeout"}, "reason"),
        ({"extra": 1}, "extra"),
        ({"event_id": ""}, "event_id"),
        ({"event_id": "x" * 129}, "event_id"),
        ({"at": "yesterday"}, "at"),
        ({"at": 1764057600}, "at"),
    ],
)
def test_a_wrong_extra_or_oversize_field_is_invalid_and_named(
    changes: dict[str, object], field: str
) -> None:
    result = decode(**changes)
    assert isinstance(result, InvalidEvent)
    assert result.reason == "schema"
    assert result.detail.startswith(f"{field}:")


def test_a_missing_field_is_named() -> None:
    event = dict(VALID)
    del event["chat_id"]
    result = decode_event(orjson.dumps(event))
    assert isinstance(result, InvalidEvent)
    assert result.detail == "chat_id: Field required"


def test_a_status_reason_longer_than_64_characters_is_invalid() -> None:
    event = {
        "event_id": "e",
        "type": "agent.status_changed",
        "at": "2026-11-25T08:00:00Z",
        "agent_id": "a",
        "status": "paused",
        "reason": "x" * 65,
    }
    result = decode_event(orjson.dumps(event))
    assert isinstance(result, InvalidEvent)
    assert result.detail.startswith("reason:")


def test_an_unknown_type_is_ignorable_not_invalid() -> None:
    assert decode(type="chat.rated", stars=5) == UnknownEvent("chat.rated")


def test_a_missing_or_non_string_type_is_invalid() -> None:
    no_type = {key: value for key, value in VALID.items() if key != "type"}
    assert isinstance(decode_event(orjson.dumps(no_type)), InvalidEvent)
    assert isinstance(decode(type=7), InvalidEvent)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not_json"),
        (b"\xff\xfe", "not_json"),
        (b"[1, 2]", "not_object"),
        (b"42", "not_object"),
    ],
)
def test_bytes_that_are_not_an_event_object_are_invalid(raw: bytes, reason: str) -> None:
    result = decode_event(raw)
    assert isinstance(result, InvalidEvent)
    assert result.reason == reason


def test_a_message_over_64_kib_is_invalid() -> None:
    raw = orjson.dumps(VALID | {"pad": "x" * MAX_EVENT_BYTES})
    result = decode_event(raw)
    assert isinstance(result, InvalidEvent)
    assert result.reason == "too_large"


def test_a_misleading_type_tag_cannot_fool_the_fast_path() -> None:
    # The fast path guesses the model from the first "type" key; JSON's last key wins.
    raw = (
        b'{"type":"chat.held","event_id":"e","at":"2026-11-25T08:00:00Z",'
        b'"chat_id":"c","agent_id":"a","type":"chat.assigned"}'
    )
    assert type(decode_event(raw)).__name__ == "ChatAssigned"
    spaced = (
        b'{"event_id": "e", "type" : "chat.held", "at": "2026-11-25T08:00:00Z", "chat_id": "c"}'
    )
    result = decode_event(spaced)
    assert isinstance(result, InvalidEvent)
    assert result.detail == "agent_id: Field required"
