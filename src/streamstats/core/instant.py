"""Instants as integer microseconds since the Unix epoch, UTC.

The core keeps time as plain integers: exact, cheap to compare and to store.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Final

from pydantic_core import TzInfo

__all__ = ["MICROS_PER_SECOND", "format_instant", "parse_instant", "to_micros", "to_seconds"]

MICROS_PER_SECOND: Final = 1_000_000
_NAIVE_EPOCH: Final = datetime(1970, 1, 1)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND: Final = timedelta(microseconds=1)


_FIXED_OFFSET_ZONES: Final = (timezone, TzInfo)
"""Zone types whose offset never changes: the stdlib's and the one pydantic parses into."""
_MOST_ZONES: Final = 64
_EPOCH_IN_ZONE: dict[tzinfo, datetime] = {}
"""The epoch written in each fixed-offset zone seen so far (by equality), up to
``_MOST_ZONES`` of them."""


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch of an offset-aware datetime, exactly."""
    zone = moment.tzinfo
    try:
        epoch = _EPOCH_IN_ZONE[zone]  # type: ignore[index]
    except (KeyError, TypeError):  # TypeError: a zone class that cannot be hashed
        epoch = _epoch_in(zone)
    # Two datetimes with the very same zone object subtract as wall times, with no call to
    # its utcoffset: exact for a fixed offset, and twice as fast for pydantic's zones,
    # which it shares between all the timestamps with one offset (``Z`` above all). Any
    # other pair is subtracted through both offsets, exactly too.
    return (moment - epoch) // _ONE_MICROSECOND


def _epoch_in(zone: tzinfo | None) -> datetime:
    if not isinstance(zone, _FIXED_OFFSET_ZONES) or len(_EPOCH_IN_ZONE) >= _MOST_ZONES:
        return _EPOCH
    epoch = _EPOCH_IN_ZONE[zone] = _EPOCH.astimezone(zone)
    return epoch


def to_seconds(micros: int) -> float:
    """A duration in microseconds as float seconds."""
    return micros / MICROS_PER_SECOND


def format_instant(micros: int) -> str:
    """RFC 3339 in UTC with a ``Z`` suffix; fractional seconds only when present."""
    # isoformat is several times faster than strftime; panels format a few per read.
    moment = _NAIVE_EPOCH + timedelta(microseconds=micros)
    if moment.microsecond:
        return moment.isoformat().rstrip("0") + "Z"
    return moment.isoformat() + "Z"


def parse_instant(text: str) -> int:
    """Parse an RFC 3339 timestamp with an offset; raise ``ValueError`` otherwise."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no offset; add Z or +HH:MM")
    return to_micros(moment)
