"""ACLED event data as CSV: import the rows that are ceasefire records, export the kinds ACLED can express.

The mapping tables below are the whole contract; ``docs/record-formats.md`` explains them.
Rows of other sub-event types (protests, riots, strategic developments, ...) are
:class:`Rejected` with a reason naming the sub-event type, never dropped silently.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, TextIO

from linewatch.formats.csvfmt import cell, check_header, read_rows
from linewatch.formats.lines import quote
from linewatch.formats.record_schema import RecordIn, cells_to_values
from linewatch.formats.records import Parsed, Rejected, parse_record
from linewatch.model import EARLIEST_TIME, LATEST_TIME, ExplosionType, Kind, Report, TimePrecision, utc_iso

#: The columns of an ACLED export (2023 layout), in the order :func:`write_acled` writes them.
ACLED_COLUMNS = (
    "event_id_cnty", "event_date", "year", "time_precision", "disorder_type", "event_type",
    "sub_event_type", "actor1", "assoc_actor_1", "inter1", "actor2", "assoc_actor_2", "inter2",
    "interaction", "civilian_targeting", "iso", "region", "country", "admin1", "admin2",
    "admin3", "location", "latitude", "longitude", "geo_precision", "source", "source_scale",
    "notes", "fatalities", "tags", "timestamp",
)
REQUIRED = ("event_id_cnty", "event_date", "event_type", "sub_event_type", "latitude", "longitude")

#: sub_event_type -> (event_type, kind, explosion_type) for the rows that are imported.
SUB_EVENT_KINDS: dict[str, tuple[str, Kind, ExplosionType | None]] = {
    "Shelling/artillery/missile attack": ("Explosions/Remote violence", Kind.EXPLOSION,
                                          ExplosionType.IMPACT),
    "Air/drone strike": ("Explosions/Remote violence", Kind.EXPLOSION, ExplosionType.IMPACT),
    "Grenade": ("Explosions/Remote violence", Kind.EXPLOSION, ExplosionType.UNDETERMINED),
    "Remote explosive/landmine/IED": ("Explosions/Remote violence", Kind.MINE_UXO, None),
    "Armed clash": ("Battles", Kind.BURSTS_AND_SHOTS, None),
    "Attack": ("Violence against civilians", Kind.CIVILIAN_CASUALTY, None),
}
#: kind -> the sub_event_type written on export when the record does not name one.
EXPORT_SUB_EVENT = {
    Kind.EXPLOSION: "Shelling/artillery/missile attack",
    Kind.MINE_UXO: "Remote explosive/landmine/IED",
    Kind.BURSTS_AND_SHOTS: "Armed clash",
    Kind.CIVILIAN_CASUALTY: "Attack",
}
#: geo_precision code -> the 95 % radius given to the point.
GEO_PRECISION_RADIUS_M = {1: 2_000.0, 2: 25_000.0, 3: 100_000.0}
#: geo_precision assumed when the column is absent or empty: the most cautious.
DEFAULT_GEO_PRECISION = 3
TIME_PRECISIONS = {1: TimePrecision.DAY, 2: TimePrecision.WEEK, 3: TimePrecision.MONTH}
#: ACLED columns kept in ``Report.extra`` as ``acled_<column>`` (when not empty).
KEPT_COLUMNS = ("actor1", "assoc_actor_1", "actor2", "assoc_actor_2", "iso", "region", "country",
                "admin1", "admin2", "admin3", "location", "source_scale", "tags")
ID_PREFIX = "acled-"
DEFAULT_SOURCE = "ACLED"
_DATE_FORMATS = ("%Y-%m-%d", "%d %B %Y", "%d-%B-%Y", "%d %b %Y", "%d-%b-%Y", "%d-%m-%Y")
_FIELD_NAMES = {"id": "event_id_cnty", "lon": "longitude", "lat": "latitude",
                "source_id": "source", "description": "notes", "killed": "fatalities",
                "time": "event_date"}


class _Bad(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


def read_acled(stream: Iterable[str], *, name: str) -> Iterator[Parsed | Rejected]:
    """Records from an ACLED CSV export, streaming. Column names are case-insensitive."""
    header, header_line, rows = read_rows(stream, name=name)
    header = [h.lower() for h in header]
    check_header(header, name=name, line=header_line, known=ACLED_COLUMNS, required=REQUIRED,
                 allow_unknown=True)
    for row in rows:
        if isinstance(row, Rejected):
            yield row
            continue
        values = {k: v.strip() for k, v in zip(header, row.cells)}
        try:
            data = _to_record(values)
        except _Bad as exc:
            yield Rejected(name, row.line, exc.field, exc.reason, row.raw)
            continue
        yield parse_record(cells_to_values(RecordIn, data), name=name, line=row.line, raw=row.raw,
                           field_names=_FIELD_NAMES)


def _int(values: dict[str, str], column: str, default: int, allowed: Iterable[int] | None = None) -> int:
    text = values.get(column, "")
    if text == "":
        return default
    try:
        number = int(text)
    except ValueError:
        raise _Bad(column, f"{column} {quote(text)} is not a whole number") from None
    if allowed is not None and number not in allowed:
        raise _Bad(column, f"{column} {number} is not one of {', '.join(map(str, allowed))}")
    if number < 0:
        raise _Bad(column, f"{column} {number} is negative")
    return number


def _date(text: str) -> date:
    for fmt in _DATE_FORMATS:
        try:
            day = datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if not EARLIEST_TIME.date() <= day < LATEST_TIME.date():
            raise _Bad("event_date", f"event_date {text} is outside the window {EARLIEST_TIME.date()} to "
                       f"{LATEST_TIME.date()} (docs/record-formats.md, \"Limits\")")
        return day
    raise _Bad("event_date", f"event_date {quote(text)} is not a date like 2021-06-24 or 24 June 2021")


def _start_time(day: date, precision: TimePrecision) -> datetime:
    """The start of the window ``[time, time + window)``: ACLED codes week-precision dates to
    the middle of the week and month-precision dates to the middle of the month."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if precision is TimePrecision.WEEK:
        return start - timedelta(days=3)
    if precision is TimePrecision.MONTH:
        return start.replace(day=1)
    return start


def _to_record(values: dict[str, str]) -> dict[str, Any]:
    sub = values["sub_event_type"]
    if sub not in SUB_EVENT_KINDS:
        raise _Bad("sub_event_type", f"ACLED sub-event type {quote(sub)} (event type "
                   f"{quote(values['event_type'])}) is not a ceasefire record; linewatch imports only "
                   f"{', '.join(map(repr, SUB_EVENT_KINDS))}")
    _, kind, explosion_type = SUB_EVENT_KINDS[sub]
    fatalities = _int(values, "fatalities", 0)
    if kind is Kind.CIVILIAN_CASUALTY and fatalities == 0:
        raise _Bad("fatalities", "ACLED 'Attack' rows are imported as civilian_casualty only "
                   "when fatalities > 0; this one has none")
    if not values["event_id_cnty"]:
        raise _Bad("event_id_cnty", "missing required field 'event_id_cnty'")
    if not values["event_date"]:
        raise _Bad("event_date", "missing required field 'event_date'")
    precision = TIME_PRECISIONS[_int(values, "time_precision", 1, TIME_PRECISIONS)]
    geo = _int(values, "geo_precision", DEFAULT_GEO_PRECISION, GEO_PRECISION_RADIUS_M)
    time = _start_time(_date(values["event_date"]), precision)
    data: dict[str, Any] = {
        "id": ID_PREFIX + values["event_id_cnty"], "kind": kind.value, "time": utc_iso(time),
        "time_precision": precision.value, "lon": values["longitude"], "lat": values["latitude"],
        "radius_m": GEO_PRECISION_RADIUS_M[geo], "geo_precision": geo,
        "source_kind": "open_source", "source_id": values.get("source") or DEFAULT_SOURCE,
        "description": values.get("notes", ""),
    }
    if explosion_type is not None:
        data["explosion_type"] = explosion_type.value
    if fatalities:
        data["killed"] = fatalities
    if values.get("timestamp"):
        stamp = _int(values, "timestamp", 0)
        try:
            data["received_time"] = utc_iso(datetime.fromtimestamp(stamp, UTC))
        except (OverflowError, OSError, ValueError):
            raise _Bad("timestamp", f"timestamp {stamp} is out of range") from None
    extra = {f"acled_{c}": values[c] for c in KEPT_COLUMNS if values.get(c)}
    if sub != EXPORT_SUB_EVENT[kind]:
        extra["acled_sub_event_type"] = sub
    if extra:
        data["extra"] = extra
    return data


# -- export ---------------------------------------------------------------------------------

def acled_sub_event(report: Report) -> str | None:
    """The sub_event_type a report is exported as, or None if ACLED cannot express its kind."""
    default = EXPORT_SUB_EVENT.get(report.kind)
    if default is None:
        return None
    named = dict(report.extra).get("acled_sub_event_type")
    if named in SUB_EVENT_KINDS:
        _, kind, explosion_type = SUB_EVENT_KINDS[named]
        if kind is report.kind and (kind is not Kind.EXPLOSION
                                    or explosion_type is report.explosion_type):
            return named
    return default


def _event_date(report: Report) -> tuple[date, int]:
    day = report.time.astimezone(UTC).date()
    if report.time_precision is TimePrecision.WEEK:
        return (report.time + timedelta(days=3)).date(), 2
    if report.time_precision is TimePrecision.MONTH:
        return day.replace(day=15), 3
    return day, 1


def _geo_precision(report: Report) -> int:
    if report.geo_precision is not None:
        return report.geo_precision
    radius = report.location.semi_major_m
    return next((code for code, r in sorted(GEO_PRECISION_RADIUS_M.items()) if radius <= r), 3)


def to_acled_row(report: Report) -> dict[str, Any] | None:
    """One report as an ACLED row (column -> value), or None if its kind has no ACLED type."""
    sub = acled_sub_event(report)
    if sub is None:
        return None
    event_type = SUB_EVENT_KINDS[sub][0]
    day, time_code = _event_date(report)
    extra = dict(report.extra)
    row: dict[str, Any] = {f: extra.get(f"acled_{f}") for f in KEPT_COLUMNS}
    received = report.provenance.received_time
    row.update(
        event_id_cnty=report.id[len(ID_PREFIX):] if report.id.startswith(ID_PREFIX) else report.id,
        event_date=day.isoformat(), year=day.year, time_precision=time_code,
        disorder_type="Political violence", event_type=event_type, sub_event_type=sub,
        civilian_targeting="Civilian targeting" if event_type == "Violence against civilians" else None,
        latitude=float(report.location.lat), longitude=float(report.location.lon),
        geo_precision=_geo_precision(report), source=report.provenance.source_id,
        notes=report.description or None, fatalities=report.killed or 0,
        timestamp=int(received.timestamp()) if received is not None else None,
    )
    return row


def write_acled(reports: Iterable[Report], stream: TextIO) -> int:
    """Write an ACLED CSV; returns the number of rows written.

    Reports of kinds ACLED has no type for (see :data:`EXPORT_SUB_EVENT`) are not written.
    """
    writer = csv.writer(stream)
    writer.writerow(ACLED_COLUMNS)
    n = 0
    for report in reports:
        row = to_acled_row(report)
        if row is None:
            continue
        writer.writerow([cell(row.get(c)) for c in ACLED_COLUMNS])
        n += 1
    return n
