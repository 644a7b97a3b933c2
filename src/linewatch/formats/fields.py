"""Shared pieces of the raw-data readers (sensors, detections, ground truth): opening a text
file, and checking one field's value. Each check raises
:class:`~linewatch.errors.RecordError` naming the field, which the reader turns into a
:class:`~linewatch.formats.records.Rejected` row."""

from __future__ import annotations

import math
import os
import re
from datetime import datetime
from typing import Any, TextIO

from linewatch.errors import InputError, RecordError
from linewatch.formats.lines import quote
from linewatch.model import EARLIEST_TIME, LATEST_TIME

__all__ = ["MAX_ID", "epoch_time", "given", "ident", "number", "open_text"]

#: The longest id (sensor or detection) accepted, in characters.
MAX_ID = 200
_BAD_ID = re.compile(r"[\x00-\x1f]|^\s|\s$")


def open_text(path: str | os.PathLike[str]) -> TextIO:
    """Open a UTF-8 text file for reading (BOM allowed); InputError if it cannot be opened."""
    name = os.fspath(path)
    try:
        return open(name, encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError(f"{name}: cannot open: {exc.strerror}") from exc


def given(v: Any) -> bool:
    """Whether a field has a value (neither missing, null nor an empty cell)."""
    return v is not None and v != ""


def number(v: Any, field: str, *, lo: float = -math.inf, hi: float = math.inf,
           lo_open: bool = False, hi_open: bool = False) -> float:
    """A finite number (or a string of one) within ``[lo, hi]`` (ends open as asked)."""
    if isinstance(v, bool):
        raise RecordError(f"{field} must be a number, got {v!r}", field=field)
    if isinstance(v, str):
        try:
            x = float(v.strip())
        except ValueError:
            raise RecordError(f"{field} must be a number, got {quote(v)}", field=field) from None
    elif isinstance(v, (int, float)):
        x = float(v)
    else:
        raise RecordError(f"{field} must be a number, got {type(v).__name__} {quote(v)}", field=field)
    if not math.isfinite(x):
        raise RecordError(f"{field} must be finite, got {v!r}", field=field)
    if x < lo or (lo_open and x == lo) or x > hi or (hi_open and x == hi):
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        raise RecordError(f"{field} {x!r} is out of range {left}{lo:g}, {hi:g}{right}", field=field)
    return x


def ident(v: Any, field: str) -> str:
    """An id: a string (or an integer) of 1 to :data:`MAX_ID` characters, without control
    characters or surrounding spaces."""
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise RecordError(f"{field} must be a string, got {type(v).__name__} {quote(v)}", field=field)
    s = str(v)
    if not s or len(s) > MAX_ID or _BAD_ID.search(s):
        raise RecordError(f"{field} {s[:60]!r} must be 1-{MAX_ID} characters, without control "
                          "characters or surrounding spaces", field=field)
    return s


def epoch_time(v: Any, field: str = "time") -> float:
    """Seconds since the epoch, from epoch seconds or ISO 8601 with a time zone, in the window of
    record times (``[EARLIEST_TIME, LATEST_TIME)``: docs/record-formats.md, "Limits")."""
    t = _epoch_time(v, field)
    if not EARLIEST_TIME.timestamp() <= t < LATEST_TIME.timestamp():
        raise RecordError(f"{field} {quote(v)} is outside the window {EARLIEST_TIME.date()} to "
                          f"{LATEST_TIME.date()} (docs/record-formats.md, \"Limits\")", field=field)
    return t


def _epoch_time(v: Any, field: str) -> float:
    if isinstance(v, bool):
        raise RecordError(f"{field} must be ISO 8601 or epoch seconds, got {v!r}", field=field)
    if isinstance(v, (int, float)):
        x = float(v)
        if not math.isfinite(x):
            raise RecordError(f"{field} must be finite, got {v!r}", field=field)
        return x
    if not isinstance(v, str):
        raise RecordError(f"{field} must be an ISO 8601 string or epoch seconds, got "
                          f"{type(v).__name__}", field=field)
    try:
        dt = datetime.fromisoformat(v.strip())
    except ValueError:
        raise RecordError(f"{field} {quote(v)} is not an ISO 8601 date and time", field=field) from None
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise RecordError(f"{field} {quote(v)} has no time zone; add 'Z' (UTC)", field=field)
    return dt.timestamp()
