"""Instants: ``to_micros`` is exact for every zone, whichever path it takes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import AwareDatetime, TypeAdapter

from streamstats.core.instant import format_instant, parse_instant, to_micros

PYDANTIC_DATETIME = TypeAdapter(AwareDatetime)


def reference_micros(moment: datetime) -> int:
    """Microseconds since the epoch, by way of UTC wall time."""
    wall = moment.astimezone(UTC).replace(tzinfo=None)
    return (wall - datetime(1970, 1, 1)) // timedelta(microseconds=1)


fixed_offsets = st.timedeltas(
    min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
).map(lambda offset: timezone(timedelta(minutes=offset // timedelta(minutes=1))))
zones = st.one_of(st.just(UTC), fixed_offsets, st.timezones())
moments = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=zones
)


@given(moments)
def test_to_micros_is_exact_for_stdlib_and_named_zones(moment: datetime) -> None:
    assert to_micros(moment) == reference_micros(moment)


def test_pydantic_shares_one_zone_between_its_utc_timestamps() -> None:
    # What makes to_micros fast for them: if this fails, it is exact but twice as slow.
    first = PYDANTIC_DATETIME.validate_json(b'"2026-11-25T08:00:00Z"')
    second = PYDANTIC_DATETIME.validate_json(b'"2026-11-26T09:30:00.5+00:00"')
    assert first.tzinfo is second.tzinfo
    assert to_micros(second) - to_micros(first) == (86_400 + 5_400) * 1_000_000 + 500_000


@given(moments.filter(lambda moment: isinstance(moment.tzinfo, timezone)))
def test_to_micros_is_exact_for_the_zones_pydantic_parses_into(moment: datetime) -> None:
    # UTC timestamps share pydantic's UTC zone (the fast path); other offsets do not.
    parsed = PYDANTIC_DATETIME.validate_python(moment.isoformat())
    again = PYDANTIC_DATETIME.validate_python((moment + timedelta(days=200)).isoformat())
    assert to_micros(parsed) == reference_micros(moment)
    assert to_micros(again) - to_micros(parsed) == 200 * 86_400 * 1_000_000


def test_to_micros_is_exact_for_many_offsets_in_a_row() -> None:
    moment = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    for minutes in range(-600, 600, 7):
        zone = timezone(timedelta(minutes=minutes))
        assert to_micros(moment.astimezone(zone)) == reference_micros(moment)


class UnhashableZone(tzinfo):
    """A zone class that defines equality but no hash, as user code may."""

    def utcoffset(self, moment: datetime | None) -> timedelta:
        return timedelta(hours=3)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnhashableZone)

    __hash__ = None  # type: ignore[assignment]


def test_to_micros_takes_any_zone_class() -> None:
    moment = datetime(2026, 11, 25, 8, 0, tzinfo=UnhashableZone())
    assert to_micros(moment) == reference_micros(moment)


def test_to_micros_refuses_a_naive_datetime() -> None:
    with pytest.raises(TypeError):
        to_micros(datetime(2026, 11, 25, 8, 0))


@given(st.integers(min_value=-(10**15), max_value=10**16))
def test_format_and_parse_are_inverse(micros: int) -> None:
    assert parse_instant(format_instant(micros)) == micros
