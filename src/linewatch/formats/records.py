"""The canonical record: one dict per report, as JSON Lines holds it and the store keeps it.

:func:`record_from_dict` validates a dict (from JSON, a CSV row or GeoJSON properties) into a
:class:`~linewatch.model.records.Report`; :func:`record_to_dict` is its inverse. Every problem becomes a
:class:`~linewatch.errors.RecordError` naming the field. ``docs/record-formats.md`` documents
every key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, ValidationError

from linewatch.errors import RecordError
from linewatch.formats.lines import MAX_EXCERPT_CHARS, MAX_REASON_CHARS, LongLine, excerpt, quote
from linewatch.formats.record_schema import OriginIn, RecordIn, error_reason
from linewatch.geo import location_from_observer
from linewatch.model import (
    ExplosionType,
    Kind,
    Location,
    ObserverFix,
    Provenance,
    Report,
    utc_iso,
)


@dataclass(frozen=True)
class Parsed:
    """One good record, with the 1-based line it came from and its raw text."""

    report: Report
    line: int
    raw: str


@dataclass(frozen=True)
class Rejected:
    """One bad record: never dropped silently, it goes to the quarantine.

    ``raw`` is bounded: a longer text is cut to its first
    :data:`~linewatch.formats.lines.MAX_EXCERPT_CHARS` characters and "…", and ``raw_sha256``
    and ``raw_size`` (UTF-8 bytes) are of the whole raw text (of the whole line, for a
    :class:`~linewatch.formats.lines.LongLine` that was never read whole). ``reason`` and
    ``field`` are bounded as well.
    """

    file: str
    line: int | None
    field: str | None
    reason: str
    raw: str
    raw_sha256: str | None = dataclasses.field(default=None, compare=False)
    raw_size: int | None = dataclasses.field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.raw_sha256 is None or self.raw_size is None:
            if isinstance(self.raw, LongLine):
                sha, size = self.raw.sha256, self.raw.size
            else:
                data = self.raw.encode("utf-8", "surrogatepass")
                sha, size = hashlib.sha256(data).hexdigest(), len(data)
            object.__setattr__(self, "raw_sha256", sha)
            object.__setattr__(self, "raw_size", size)
        if isinstance(self.raw, LongLine):
            object.__setattr__(self, "raw", str(self.raw))       # already its excerpt
        elif len(self.raw) > MAX_EXCERPT_CHARS:
            object.__setattr__(self, "raw", excerpt(self.raw))
        if len(self.reason) > MAX_REASON_CHARS:
            object.__setattr__(self, "reason", excerpt(self.reason, MAX_REASON_CHARS))
        if self.field is not None and len(self.field) > 200:
            object.__setattr__(self, "field", excerpt(self.field, 200))


# -- compass directions ---------------------------------------------------------------------

_POINTS = ("n", "nne", "ne", "ene", "e", "ese", "se", "sse",
           "s", "ssw", "sw", "wsw", "w", "wnw", "nw", "nnw")
_SPLIT = re.compile(r"\s*(?:,|;|/|\band\b|\bto\b)\s*", re.IGNORECASE)


def _compass_point(word: str) -> tuple[float, float]:
    """``(bearing_deg, spread_deg)`` of one 8- or 16-point compass word or abbreviation."""
    key = re.sub(r"[\s_-]", "", word.lower())
    for long, short in (("north", "n"), ("south", "s"), ("east", "e"), ("west", "w")):
        key = key.replace(long, short)
    if key not in _POINTS:
        raise ValueError(f"direction {quote(word)} is not a compass point (like 'SW' or 'north-north-east')")
    return _POINTS.index(key) * 22.5, 45.0 if len(key) <= 2 else 22.5


def parse_direction(text: str) -> tuple[float, float]:
    """``(bearing_deg, spread_deg)`` of the smallest sector covering the listed compass points.

    >>> parse_direction("south-west")
    (225.0, 45.0)
    >>> parse_direction("south-west, west and north-west")
    (270.0, 135.0)
    """
    words = [w for w in _SPLIT.split(text.strip()) if w]
    if not words:
        raise ValueError("direction is empty")
    arcs = [(b - s / 2.0, b + s / 2.0) for b, s in map(_compass_point, words)]
    best_start, best_len = 0.0, 360.0
    for start, _ in arcs:
        length = 0.0
        for lo, hi in arcs:
            to_lo, to_hi = (lo - start) % 360.0, (hi - start) % 360.0 or 360.0
            length = max(length, to_hi if to_lo <= to_hi else 360.0)
        if length < best_len:
            best_start, best_len = start, length
    return (best_start + best_len / 2.0) % 360.0, best_len


# -- dict -> Report -------------------------------------------------------------------------

def record_from_dict(data: dict[str, Any], *, name: str = "<record>",
                     line: int | None = None) -> Report:
    """Validate one canonical record into a :class:`Report`; raises :class:`RecordError`.

    A record without ``id`` gets its :func:`content_id`. ``name`` and ``line`` only say where
    the record came from in error messages.
    """
    if not isinstance(data, dict):
        raise RecordError(f"expected a JSON object, got {type(data).__name__}", line=line, file=name)
    try:
        rec = RecordIn.model_validate(data)
    except ValidationError as exc:
        # an unknown key first: it is usually a misspelling that also explains a missing one
        errors = sorted(exc.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden")
        reason, where = error_reason(errors[0])
        if len(errors) > 1:
            reason += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        raise RecordError(reason, field=where, line=line, file=name) from None
    try:
        report = _to_report(rec)
    except _FieldError as exc:
        raise RecordError(exc.reason, field=exc.field, line=line, file=name) from None
    if rec.id is None:
        report = _with_id(report, content_id(record_to_dict(report)))
    return report


class _FieldError(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


def _given(rec: BaseModel, *names: str) -> list[str]:
    return [n for n in names if getattr(rec, n) is not None]


def _point_location(rec: RecordIn | OriginIn, prefix: str = "") -> Location:
    lon, lat = rec.lon, rec.lat
    assert lon is not None and lat is not None  # the callers checked they are given
    ellipse = _given(rec, "semi_major_m", "semi_minor_m", "azimuth_deg")
    if ellipse and rec.radius_m is not None:
        raise _FieldError(f"{prefix}radius_m", "give either radius_m or semi_major_m, semi_minor_m "
                          "and azimuth_deg, not both")
    if ellipse:
        for n in ("semi_major_m", "semi_minor_m", "azimuth_deg"):
            if getattr(rec, n) is None:
                raise _FieldError(f"{prefix}{n}", f"an error ellipse needs {prefix}semi_major_m, "
                                  f"{prefix}semi_minor_m and {prefix}azimuth_deg; {prefix}{n} is missing")
        assert rec.semi_major_m is not None and rec.semi_minor_m is not None
        if rec.semi_minor_m > rec.semi_major_m:
            raise _FieldError(f"{prefix}semi_minor_m", f"{prefix}semi_minor_m {rec.semi_minor_m} is "
                              f"larger than {prefix}semi_major_m {rec.semi_major_m}")
        return Location(lon, lat, rec.semi_major_m, rec.semi_minor_m, rec.azimuth_deg or 0.0)
    return Location.point(lon, lat, rec.radius_m or 0.0)


_POINT_KEYS = ("lon", "lat", "radius_m", "semi_major_m", "semi_minor_m", "azimuth_deg")
_OBSERVER_KEYS = ("observer_lon", "observer_lat", "bearing_deg", "direction",
                  "bearing_spread_deg", "distance_min_m", "distance_max_m")


def _observer_location(rec: RecordIn) -> Location:
    for n in ("observer_lon", "observer_lat", "distance_min_m", "distance_max_m"):
        if getattr(rec, n) is None:
            raise _FieldError(n, f"the observer form needs observer_lon, observer_lat, bearing_deg "
                              f"or direction, distance_min_m and distance_max_m; {n} is missing")
    if rec.bearing_deg is not None and rec.direction is not None:
        raise _FieldError("direction", "give either bearing_deg or direction, not both")
    if rec.bearing_deg is not None:
        bearing, spread = rec.bearing_deg, 0.0
    elif rec.direction is not None:
        try:
            bearing, spread = parse_direction(rec.direction)
        except ValueError as exc:
            raise _FieldError("direction", str(exc)) from None
    else:
        raise _FieldError("bearing_deg", "the observer form needs bearing_deg or direction")
    if rec.bearing_spread_deg is not None:
        spread = rec.bearing_spread_deg
    assert rec.observer_lon is not None and rec.observer_lat is not None  # checked above
    assert rec.distance_min_m is not None and rec.distance_max_m is not None
    if rec.distance_min_m > rec.distance_max_m:
        raise _FieldError("distance_min_m", f"distance_min_m {rec.distance_min_m} is larger than "
                          f"distance_max_m {rec.distance_max_m}")
    fix = ObserverFix(rec.observer_lon, rec.observer_lat, bearing, spread,
                      rec.distance_min_m, rec.distance_max_m)
    try:
        return location_from_observer(fix)
    except ValueError as exc:
        raise _FieldError("distance_max_m", f"observer form gives no valid location: {exc}") from None


def _location(rec: RecordIn) -> Location:
    point, observer = _given(rec, *_POINT_KEYS), _given(rec, *_OBSERVER_KEYS)
    if point and observer:
        raise _FieldError(observer[0], f"give either lon/lat or the observer form, not both "
                          f"(got {', '.join(point + observer)})")
    if observer:
        return _observer_location(rec)
    for n in ("lon", "lat"):
        if getattr(rec, n) is None:
            raise _FieldError(n, f"missing required field {n!r} (give lon and lat, or the observer "
                              "form observer_lon, observer_lat, bearing_deg or direction, "
                              "distance_min_m, distance_max_m)")
    return _point_location(rec)


def _to_report(rec: RecordIn) -> Report:
    location = _location(rec)
    origin = _point_location(rec.origin, "origin.") if rec.origin is not None else None
    explosion_type = rec.explosion_type
    if rec.kind is Kind.EXPLOSION:
        explosion_type = explosion_type or ExplosionType.UNDETERMINED
    elif explosion_type is not None:
        raise _FieldError("explosion_type", f"explosion_type applies only to kind 'explosion', "
                          f"not {rec.kind.value!r}")
    extra = tuple(sorted(rec.extra.items())) if rec.extra else ()
    return Report(
        id=rec.id or "", kind=rec.kind, time=rec.time, location=location,
        provenance=Provenance(rec.source_kind, rec.source_id, rec.received_time),
        time_precision=rec.time_precision, explosion_type=explosion_type,
        weapon_class=rec.weapon_class, count=rec.count, in_storage=rec.in_storage,
        category=rec.category, aircraft_type=rec.aircraft_type, party=rec.party, origin=origin,
        killed=rec.killed, injured=rec.injured, corroborated=rec.corroborated,
        restriction=rec.restriction, delay_min=rec.delay_min,
        live_fire_exercise=rec.live_fire_exercise, purpose=rec.purpose,
        description=rec.description, geo_precision=rec.geo_precision, engine=rec.engine,
        extra=extra, supersedes=rec.supersedes, correction=rec.correction)


def _with_id(report: Report, record_id: str) -> Report:
    return replace(report, id=record_id)


# -- Report -> dict -------------------------------------------------------------------------

_OPTIONAL = ("explosion_type", "weapon_class", "in_storage", "category", "aircraft_type",
             "party", "killed", "injured", "corroborated", "restriction", "delay_min", "purpose",
             "geo_precision", "engine", "supersedes", "correction")


def _location_dict(loc: Location, prefix: str = "") -> dict[str, float]:
    if loc.semi_major_m == loc.semi_minor_m and loc.azimuth_deg == 0.0:
        return {f"{prefix}lon": float(loc.lon), f"{prefix}lat": float(loc.lat),
                f"{prefix}radius_m": float(loc.semi_major_m)}
    return {f"{prefix}lon": float(loc.lon), f"{prefix}lat": float(loc.lat),
            f"{prefix}semi_major_m": float(loc.semi_major_m),
            f"{prefix}semi_minor_m": float(loc.semi_minor_m),
            f"{prefix}azimuth_deg": float(loc.azimuth_deg)}


def record_to_dict(report: Report) -> dict[str, Any]:
    """The canonical JSON form of a report; ``None`` fields and empty text are left out.

    ``provenance.file`` and ``provenance.line`` are not part of it: they say where one copy
    was read from, not what was reported.
    """
    out: dict[str, Any] = {"id": report.id, "kind": report.kind.value,
                           "time": utc_iso(report.time),
                           "time_precision": report.time_precision.value}
    fix = report.location.observer
    if fix is not None:
        out.update(observer_lon=float(fix.lon), observer_lat=float(fix.lat),
                   bearing_deg=float(fix.bearing_deg),
                   bearing_spread_deg=float(fix.bearing_spread_deg),
                   distance_min_m=float(fix.distance_min_m), distance_max_m=float(fix.distance_max_m))
    else:
        out.update(_location_dict(report.location))
    prov = report.provenance
    out["source_kind"] = prov.source_kind.value
    out["source_id"] = prov.source_id
    if prov.received_time is not None:
        out["received_time"] = utc_iso(prov.received_time)
    out["count"] = report.count
    out["live_fire_exercise"] = report.live_fire_exercise
    for name in _OPTIONAL:
        value = getattr(report, name)
        if value is not None:
            out[name] = value.value if hasattr(value, "value") else value
    if report.origin is not None:
        out["origin"] = _location_dict(report.origin)
    if report.description:
        out["description"] = report.description
    if report.extra:
        out["extra"] = dict(report.extra)
    return out


def canonical_json(data: dict[str, Any]) -> str:
    """Sorted keys, no spaces, UTF-8 text: the same record always gives the same string."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def content_id(data: dict[str, Any]) -> str:
    """``"h-"`` + 20 hex chars of the SHA-256 of the record's canonical JSON without its id."""
    body = {k: v for k, v in data.items() if k != "id"}
    return "h-" + hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()[:20]


# -- bad rows -------------------------------------------------------------------------------

def parse_record(data: Any, *, name: str, line: int, raw: str,
                 field_names: dict[str, str] | None = None) -> Parsed | Rejected:
    """One record as :class:`Parsed` (provenance file and line set) or :class:`Rejected`.

    ``field_names`` maps canonical field names to the names the input used (ACLED columns).
    """
    try:
        report = record_from_dict(data, name=name, line=line)
    except RecordError as exc:
        where = exc.field
        if field_names and where is not None:
            where = field_names.get(where, where)
        return Rejected(name, line, where, exc.reason, raw)
    prov = replace(report.provenance, file=name, line=line)
    return Parsed(replace(report, provenance=prov), line, raw)
