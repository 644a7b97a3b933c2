"""The canonical record's schema: every field typed and bounded, and the readers' words for a
field that is not.

Numbers are strict: JSON ``true`` is not a count, ``"5"`` is not a radius (an integer is a good
float). A CSV cell is text, so the CSV readers turn cells into numbers and booleans first
(:func:`cells_to_values`). Every bound is in ``docs/record-formats.md`` ("Limits"); the
numeric ones are the core's (:mod:`linewatch.model.records`), so the core can check them too.
"""

from __future__ import annotations

import re
import types
from datetime import UTC, datetime
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from linewatch.formats.lines import quote
from linewatch.model import (
    EARLIEST_TIME,
    LATEST_TIME,
    MAX_COUNT,
    MAX_DELAY_MIN,
    MAX_DISTANCE_M,
    ExplosionType,
    Kind,
    SourceKind,
    TimePrecision,
    in_time_window,
    utc_iso,
)

__all__ = ["MAX_DESCRIPTION_CHARS", "MAX_EXTRA_ITEMS", "MAX_EXTRA_KEY_CHARS", "MAX_EXTRA_VALUE_CHARS",
           "MAX_ID_CHARS", "MAX_TEXT_CHARS", "Count", "Degrees", "Lat", "Lon", "Metres", "OriginIn",
           "RecordId", "RecordIn", "StrictModel", "Text", "cells_to_values", "error_reason", "input_time",
           "no_nul", "parse_time"]

#: The longest short text field (``source_id``, ``weapon_class``, ``party``, ...), in characters.
MAX_TEXT_CHARS = 10_000
#: The longest ``description``.
MAX_DESCRIPTION_CHARS = 100_000
#: The longest ``id``.
MAX_ID_CHARS = 200
#: ``extra``: at most this many keys, each this long, each value this long.
MAX_EXTRA_ITEMS = 100
MAX_EXTRA_KEY_CHARS = 100
MAX_EXTRA_VALUE_CHARS = 100_000
#: The longest time string (an ISO 8601 time with microseconds and an offset is 32).
_MAX_TIME_CHARS = 64
_LIMITS = ' (docs/record-formats.md, "Limits")'


def no_nul(value: str) -> str:
    """Refuse a NUL character: it is nobody's text, and PostgreSQL's text columns cannot hold it
    (so the record is quarantined on either store, not refused by one of them)."""
    if "\x00" in value:
        raise ValueError("a NUL character is not allowed")
    return value


Lon = Annotated[float, Strict(), Field(ge=-180.0, le=180.0)]
Lat = Annotated[float, Strict(), Field(ge=-90.0, le=90.0)]
Metres = Annotated[float, Strict(), Field(ge=0.0, le=MAX_DISTANCE_M)]
Degrees = Annotated[float, Strict(), Field(ge=0.0, lt=360.0)]
Count = Annotated[int, Strict(), Field(ge=0, le=MAX_COUNT)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(no_nul)]
RecordId = Annotated[str, Field(pattern=r"^[^\s\x00-\x1f](?:[^\x00-\x1f]*[^\s\x00-\x1f])?$",
                                max_length=MAX_ID_CHARS)]
ExtraKey = Annotated[str, Field(min_length=1, max_length=MAX_EXTRA_KEY_CHARS), AfterValidator(no_nul)]
ExtraValue = Annotated[str, Field(max_length=MAX_EXTRA_VALUE_CHARS)]


class StrictModel(BaseModel):
    """The base of every input schema: unknown keys, NaN and infinities are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_empty(cls, data: Any) -> Any:
        """``null`` and ``""`` mean "not given", as an empty CSV cell does."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None and v != ""}
        return data


class OriginIn(StrictModel):
    """The assessed firing point: a point with a 95 % radius or a 95 % ellipse."""

    lon: Lon
    lat: Lat
    radius_m: Metres | None = None
    semi_major_m: Metres | None = None
    semi_minor_m: Metres | None = None
    azimuth_deg: Degrees | None = None


class RecordIn(StrictModel):
    """The canonical record as given; :func:`~linewatch.formats.records.record_from_dict`
    checks the cross-field rules."""

    id: RecordId | None = None
    kind: Kind
    time: datetime
    time_precision: TimePrecision = TimePrecision.EXACT
    # location form (a) and (b)
    lon: Lon | None = None
    lat: Lat | None = None
    radius_m: Metres | None = None
    semi_major_m: Metres | None = None
    semi_minor_m: Metres | None = None
    azimuth_deg: Degrees | None = None
    # location form (c)
    observer_lon: Lon | None = None
    observer_lat: Lat | None = None
    bearing_deg: Degrees | None = None
    direction: Text | None = None
    bearing_spread_deg: Annotated[float, Strict(), Field(ge=0.0, le=360.0)] | None = None
    distance_min_m: Metres | None = None
    distance_max_m: Metres | None = None
    # provenance
    source_kind: SourceKind
    source_id: Text
    received_time: datetime | None = None
    # kind-specific
    explosion_type: ExplosionType | None = None
    weapon_class: Text | None = None
    count: Count = 1
    in_storage: StrictBool | None = None
    category: Text | None = None
    aircraft_type: Text | None = None
    party: Text | None = None
    origin: OriginIn | None = None
    killed: Count | None = None
    injured: Count | None = None
    corroborated: StrictBool | None = None
    restriction: Text | None = None
    delay_min: Annotated[float, Strict(), Field(ge=0.0, le=MAX_DELAY_MIN)] | None = None
    live_fire_exercise: StrictBool = False
    purpose: Text | None = None
    description: str = Field("", max_length=MAX_DESCRIPTION_CHARS)
    geo_precision: Annotated[int, Strict(), Field(ge=1, le=3)] | None = None
    engine: Text | None = None
    extra: Annotated[dict[ExtraKey, ExtraValue], Field(max_length=MAX_EXTRA_ITEMS)] | None = None
    # a correction: the id of the version it replaces, and why
    supersedes: RecordId | None = None
    correction: Text | None = None

    @field_validator("time", "received_time", mode="before")
    @classmethod
    def _parse_time(cls, value: Any, info: ValidationInfo) -> datetime:
        return input_time(value, info.field_name or "time")

    @field_validator("supersedes")
    @classmethod
    def _not_itself(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and value == info.data.get("id"):
            raise ValueError(f"a version cannot supersede itself ({quote(value)}): a correction has a new id")
        return value


def parse_time(value: Any, field: str) -> datetime:
    """An ISO 8601 date and time with a zone (or ``Z``), converted to UTC."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            if len(value) > _MAX_TIME_CHARS:
                raise ValueError
            dt = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{field} {quote(value)} is not an ISO 8601 date and time") from None
    else:
        raise ValueError(f"{field} must be an ISO 8601 string, got {type(value).__name__} {quote(value)}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{field} has no time zone (got {quote(value)}); add 'Z' or an offset like '+02:00'")
    try:
        return dt.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{field} {quote(value)} is out of range") from None


def input_time(value: Any, field: str) -> datetime:
    """:func:`parse_time`, and within ``[EARLIEST_TIME, LATEST_TIME)``."""
    dt = parse_time(value, field)
    if not in_time_window(dt):
        raise ValueError(f"{field} {utc_iso(dt)} is outside the window {utc_iso(EARLIEST_TIME)} to "
                         f"{utc_iso(LATEST_TIME)}{_LIMITS}")
    return dt


# -- CSV cells ------------------------------------------------------------------------------

_TRUE = {"true", "t", "yes", "y", "on", "1"}
_FALSE = {"false", "f", "no", "n", "off", "0"}
_INTEGER = re.compile(r"[+-]?\d{1,30}")


def _base_type(annotation: Any) -> Any:
    """``int`` of ``Annotated[int, ...] | None``, and so on."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        else:
            return annotation


def _cell(kind: Any, text: str) -> Any:
    """A CSV cell as the number or boolean its field takes; a cell that is none is left as it is
    (the schema refuses it, naming it)."""
    s = text.strip()
    if kind is bool:
        low = s.lower()
        return True if low in _TRUE else False if low in _FALSE else text
    if kind is int:
        if _INTEGER.fullmatch(s):
            return int(s)
        try:
            x = float(s)
        except ValueError:
            return text
        return int(x) if x.is_integer() and abs(x) < 1e30 else text
    try:
        return float(s) if len(s) <= 100 else text
    except ValueError:
        return text


def cells_to_values(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """A row of CSV cells (strings) with the number and boolean fields of ``model`` converted
    (a nested model's too); other values are left as they are."""
    out = dict(data)
    for name, value in data.items():
        info = model.model_fields.get(name)
        if info is None:
            continue
        kind = _base_type(info.annotation)
        if isinstance(value, str) and kind in (int, float, bool):
            out[name] = _cell(kind, value)
        elif isinstance(value, dict) and isinstance(kind, type) and issubclass(kind, BaseModel):
            out[name] = cells_to_values(kind, value)
    return out


# -- reasons --------------------------------------------------------------------------------

_BOUND_ERRORS = {"less_than", "less_than_equal", "greater_than", "greater_than_equal", "string_too_long",
                 "too_long"}


def error_reason(err: ErrorDetails) -> tuple[str, str | None]:
    """The reason (and the field) of a pydantic error, in the readers' words; a value is quoted
    in at most about a hundred characters (:func:`~linewatch.formats.lines.quote`)."""
    field = ".".join(str(p) for p in err["loc"])[:200] or None
    kind, value = err["type"], err.get("input")
    if kind == "missing":
        return f"missing required field {field!r}", field
    if kind == "extra_forbidden":
        return f"unknown field {quote(field)}", field
    if kind == "enum":
        return (f"unknown {field} {quote(value)} (expected one of {err['ctx']['expected']})", field)
    if kind == "value_error":
        return str(err["ctx"]["error"]), field
    if kind == "model_type":
        return f"expected an object, got {type(value).__name__} {quote(value)}", field
    msg = err["msg"]
    limit = _LIMITS if kind in _BOUND_ERRORS else ""
    return f"{field} {quote(value)}: {msg[:1].lower()}{msg[1:]}{limit}", field
