"""Time: one way to write an instant, and one way to read seconds since the epoch.

linewatch keeps instants as timezone-aware UTC datetimes in its objects and as float seconds
since the Unix epoch in its columnar arrays. Whatever it writes for a machine (JSON, CSV, the
audit log, the API) is ISO 8601 in UTC with a ``Z``; :func:`utc_iso` is the only function
that writes one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, overload

import numpy as np

__all__ = ["TimeSpec", "utc_datetime", "utc_iso", "utc_iso_array", "utc_minute"]

TimeSpec = Literal["auto", "seconds", "milliseconds", "microseconds"]


def utc_datetime(t: float) -> datetime:
    """The aware UTC datetime of ``t`` seconds since the epoch.

    >>> utc_datetime(0.0).isoformat()
    '1970-01-01T00:00:00+00:00'
    """
    return datetime.fromtimestamp(t, tz=UTC)


@overload
def utc_iso(t: datetime | float, *, timespec: TimeSpec = "auto") -> str: ...
@overload
def utc_iso(t: None, *, timespec: TimeSpec = "auto") -> None: ...
@overload
def utc_iso(t: datetime | float | None, *, timespec: TimeSpec = "auto") -> str | None: ...


def utc_iso(t: datetime | float | None, *, timespec: TimeSpec = "auto") -> str | None:
    """ISO 8601 in UTC with a ``Z``, from an aware datetime or seconds since the epoch.

    A naive datetime is refused: linewatch never guesses a time zone. ``None`` (an open end)
    stays ``None``.

    >>> utc_iso(datetime(2026, 6, 15, 5, 30, tzinfo=UTC))
    '2026-06-15T05:30:00Z'
    >>> utc_iso(1781501400.25, timespec="milliseconds")
    '2026-06-15T05:30:00.250Z'
    >>> utc_iso(datetime(2026, 6, 15, 5, 30))
    Traceback (most recent call last):
    ValueError: time 2026-06-15 05:30:00 has no time zone
    """
    if t is None:
        return None
    if isinstance(t, datetime):
        if t.tzinfo is None:
            raise ValueError(f"time {t} has no time zone")
        dt = t.astimezone(UTC)
    else:
        dt = utc_datetime(t)
    return dt.isoformat(timespec=timespec).replace("+00:00", "Z")


def utc_minute(t: datetime | float) -> str:
    """An instant for people, to the minute: ``2026-06-15 05:30 UTC``.

    >>> utc_minute(1781501400.0)
    '2026-06-15 05:30 UTC'
    """
    dt = t.astimezone(UTC) if isinstance(t, datetime) else utc_datetime(t)
    return dt.strftime("%Y-%m-%d %H:%M UTC")


def utc_iso_array(time_s: np.ndarray) -> np.ndarray:
    """:func:`utc_iso` with microseconds over a column of epoch seconds (the writers' hot path).

    >>> utc_iso_array(np.array([1781501400.25])).tolist()
    ['2026-06-15T05:30:00.250000Z']
    """
    us = np.round(np.asarray(time_s, dtype=float) * 1e6).astype(np.int64)
    return np.char.add(np.datetime_as_string(us.astype("datetime64[us]"), unit="us"), "Z")
