"""The parties' allegations as JSON Lines or CSV (``docs/allegation-formats.md``).

A file is one of allegations when its first object (or its CSV header) has
``alleging_party``; ``linewatch ingest`` then stores allegations instead of records. Places
are a point (``lon``, ``lat``, ``radius_m``), an area (``area``: a GeoJSON Polygon, in CSV as
its JSON text), a settlement (``settlement``, resolved through the settlements list) or one
of the agreement's sites (``site``). A bad allegation is rejected with the reason, file, line
and field, for the quarantine.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationError, field_validator

from linewatch.errors import InputError, NotFound
from linewatch.formats.jsonl import json_objects
from linewatch.formats.lines import LongLine, csv_safe, long_line_reason, quote, text_lines
from linewatch.formats.record_schema import (
    Lat,
    Lon,
    Metres,
    RecordId,
    StrictModel,
    Text,
    cells_to_values,
    error_reason,
    input_time,
    no_nul,
    parse_time,
)
from linewatch.formats.records import Rejected, canonical_json
from linewatch.model import utc_iso
from linewatch.verification import Allegation, AllegationKind, AllegedPlace

__all__ = ["ParsedAllegation", "allegation_from_dict", "allegation_from_stored", "allegation_to_dict",
           "is_allegation_header", "is_allegation_object", "parse_allegation", "read_allegations"]

#: the radius given to a place named by a settlement (its built-up area, roughly)
SETTLEMENT_RADIUS_M = 3_000.0
#: and to a point given without a radius
POINT_RADIUS_M = 1_000.0
#: a claim with one time and no window: this much either side of it
HALF_WINDOW_S = 1_800.0
#: the most points an area's ring may have
MAX_AREA_POINTS = 10_000


@dataclass(frozen=True)
class ParsedAllegation:
    allegation: Allegation
    line: int
    raw: str


class _In(StrictModel):
    id: RecordId | None = None
    alleging_party: Annotated[str, Field(min_length=1, max_length=100), AfterValidator(no_nul)]
    accused_party: Annotated[str, Field(min_length=1, max_length=100), AfterValidator(no_nul)] | None = None
    kind: AllegationKind
    start: datetime | None = None
    end: datetime | None = None
    time: datetime | None = None
    lon: Lon | None = None
    lat: Lat | None = None
    radius_m: Metres | None = None
    area: dict | None = None
    settlement: Text | None = None
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    site: Text | None = None
    site_category: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")] | None = None
    source_kind: Literal["statement", "document", "liaison_note", "media", "other"] = "statement"
    source_reference: Text | None = None
    received_time: datetime
    description: Annotated[str, Field(max_length=10_000)] = ""
    supersedes: RecordId | None = None

    @field_validator("start", "end", "time", "received_time", mode="before")
    @classmethod
    def _time(cls, value: Any, info) -> datetime:
        return input_time(value, info.field_name)

    @field_validator("area", mode="before")
    @classmethod
    def _area(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"area is not GeoJSON: {exc.msg}") from None
            except (ValueError, RecursionError):
                raise ValueError("area is not GeoJSON: a number too long, or nested too deeply") from None
        if not (isinstance(value, dict) and value.get("type") == "Polygon"
                and isinstance(value.get("coordinates"), list) and value["coordinates"]):
            raise ValueError("area must be a GeoJSON Polygon")
        ring = value["coordinates"][0]
        if not isinstance(ring, list) or len(ring) > MAX_AREA_POINTS:
            raise ValueError(f"area's ring must be a list of at most {MAX_AREA_POINTS:,} [lon, lat] pairs"
                             ' (docs/record-formats.md, "Limits")')
        try:
            pts = [(_coordinate(x), _coordinate(y)) for x, y in ring]
        except (TypeError, ValueError):
            raise ValueError("area's ring must be [lon, lat] pairs of numbers") from None
        if len(pts) < 4 or any(not (-180 <= x <= 180 and -90 <= y <= 90) for x, y in pts):
            raise ValueError("area's ring needs at least 4 [lon, lat] points within range")
        return value


def _coordinate(value: Any) -> float:
    """A number of an area's ring: an int or a float, not a boolean or a string."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"not a number: {quote(value)}")
    return float(value)


class _Problem(Exception):
    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


#: resolves a settlement name (and an optional ISO country) to (lon, lat); NotFound if unknown
Settlements = Callable[[str, str | None], tuple[float, float]]
#: resolves an agreement's site id to (lon, lat, radius_m, category); NotFound if unknown
Sites = Callable[[str], tuple[float, float, float, str]]


def _place(rec: _In, settlements: Settlements | None, sites: Sites | None) -> tuple[AllegedPlace, str | None]:
    given = [n for n in ("lon", "area", "settlement", "site") if getattr(rec, n) is not None]
    if rec.lat is not None and "lon" not in given:
        raise _Problem("lon", "lat is given without lon")
    if not given:
        raise _Problem("lon", "no place: give lon and lat, area, settlement or site")
    if len(given) > 1:
        raise _Problem(given[1], f"give one place, not {' and '.join(given)}")
    category = rec.site_category
    if rec.lon is not None:
        if rec.lat is None:
            raise _Problem("lat", "lon is given without lat")
        r = POINT_RADIUS_M if rec.radius_m is None else rec.radius_m
        return AllegedPlace(rec.lon, rec.lat, r), category
    if rec.area is not None:
        ring = tuple((float(x), float(y)) for x, y in rec.area["coordinates"][0])
        lon = sum(x for x, _ in ring[:-1]) / (len(ring) - 1)
        lat = sum(y for _, y in ring[:-1]) / (len(ring) - 1)
        return AllegedPlace(lon, lat, rec.radius_m or 0.0, area=ring), category
    if rec.settlement is not None:
        if settlements is None:
            raise _Problem("settlement", "settlement names cannot be resolved here (no "
                           "settlements list)")
        try:
            lon, lat = settlements(rec.settlement, rec.country)
        except NotFound:
            raise _Problem("settlement", f"unknown settlement {quote(rec.settlement)}"
                           + (f" in {rec.country}" if rec.country else "")) from None
        r = SETTLEMENT_RADIUS_M if rec.radius_m is None else rec.radius_m
        return AllegedPlace(lon, lat, r, name=rec.settlement), category
    assert rec.site is not None  # the one place left
    if sites is None:
        raise _Problem("site", "site ids cannot be resolved here (no agreement)")
    try:
        lon, lat, radius_m, site_category = sites(rec.site)
    except NotFound:
        raise _Problem("site", f"the agreement has no site {quote(rec.site)}") from None
    return AllegedPlace(lon, lat, radius_m if rec.radius_m is None else rec.radius_m,
                        name=rec.site), category or site_category


def allegation_from_dict(data: dict[str, Any], *, name: str, line: int | None,
                         settlements: Settlements | None = None,
                         sites: Sites | None = None) -> Allegation:
    """One allegation; raises :class:`_Problem` (field, reason) when it is not valid."""
    try:
        rec = _In.model_validate(data)
    except ValidationError as exc:
        errors = sorted(exc.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden")
        reason, field = error_reason(errors[0])
        raise _Problem(field, reason) from None
    if rec.time is not None and (rec.start or rec.end):
        raise _Problem("time", "give either time or start and end, not both")
    if rec.time is not None:
        start, end = rec.time - timedelta(seconds=HALF_WINDOW_S), rec.time + timedelta(seconds=HALF_WINDOW_S)
    elif rec.start is not None and rec.end is not None:
        start, end = rec.start, rec.end
    else:
        raise _Problem("start" if rec.start is None else "end",
                       "give time, or both start and end")
    if end < start:
        raise _Problem("end", f"end {utc_iso(end)} is before start {utc_iso(start)}")
    if rec.accused_party is not None and rec.accused_party == rec.alleging_party:
        raise _Problem("accused_party", f"the alleging party {quote(rec.alleging_party)} accuses itself")
    place, category = _place(rec, settlements, sites)
    body = {k: v for k, v in data.items() if k != "id" and v not in (None, "")}
    ident = rec.id or "al-" + hashlib.sha256(
        canonical_json({k: str(v) for k, v in body.items()}).encode()).hexdigest()[:20]
    return Allegation(
        id=ident, alleging_party=rec.alleging_party, accused_party=rec.accused_party,
        kind=rec.kind, start=start, end=end, place=place, received_time=rec.received_time,
        source_kind=rec.source_kind, source_reference=rec.source_reference or "",
        site_id=rec.site, site_category=category, description=rec.description,
        supersedes=rec.supersedes)


def parse_allegation(data: Any, *, name: str, line: int, raw: str, settlements: Any, sites: Any
                     ) -> ParsedAllegation | Rejected:
    """One allegation object as :class:`ParsedAllegation`, or :class:`Rejected` naming the field."""
    try:
        return ParsedAllegation(allegation_from_dict(data, name=name, line=line,
                                                     settlements=settlements, sites=sites),
                                line, raw)
    except _Problem as exc:
        return Rejected(name, line, exc.field, exc.reason, raw)


def read_allegations(stream: Iterable[str], *, name: str, fmt: str,
                     settlements: Settlements | None = None, sites: Sites | None = None
                     ) -> Iterator[ParsedAllegation | Rejected]:
    """Allegations from JSON Lines (``fmt="jsonl"``) or CSV (``"csv"``), in file order."""
    if fmt == "jsonl":
        for number, raw, data in json_objects(stream, name=name):
            yield data if isinstance(data, Rejected) else parse_allegation(
                data, name=name, line=number, raw=raw, settlements=settlements, sites=sites)
        return
    current: list[tuple[int, str]] = []     # the lines of the row being read

    def lines() -> Iterator[str]:
        for n, line in text_lines(stream, name):
            current.append((n, line))
            yield csv_safe(line)
    reader = csv.DictReader(lines())
    long = next(((n, x) for n, x in current if isinstance(x, LongLine)), None) if reader.fieldnames else None
    if long is not None and isinstance(long[1], LongLine):
        raise InputError(f"{name}: line {long[0]}: cannot read the CSV header: {long_line_reason(long[1])}")
    current.clear()
    for row in reader:
        n, line = next(((n, x) for n, x in current if isinstance(x, LongLine)), current[-1])
        current.clear()
        if isinstance(line, LongLine):
            yield Rejected(name, n, None, long_line_reason(line), line)
            continue
        raw = line.rstrip("\r\n")
        if None in row:
            yield Rejected(name, n, None, f"{len(row[None])} cells more than the header has", raw)
            continue
        data = cells_to_values(_In, {k.strip(): v for k, v in row.items() if k})
        yield parse_allegation(data, name=name, line=n, raw=raw, settlements=settlements, sites=sites)


def is_allegation_object(first: dict) -> bool:
    return "alleging_party" in first


def is_allegation_header(cells: Iterable[str]) -> bool:
    return "alleging_party" in {c.strip().lower() for c in cells}


def allegation_to_dict(a: Allegation) -> dict[str, Any]:
    """The canonical stored form (times in UTC with Z; the resolved place)."""
    p = a.place
    out: dict[str, Any] = {
        "id": a.id, "alleging_party": a.alleging_party, "accused_party": a.accused_party,
        "kind": str(a.kind), "start": utc_iso(a.start), "end": utc_iso(a.end),
        "lon": p.lon, "lat": p.lat, "radius_m": p.radius_m, "place_name": p.name,
        "area": None if p.area is None else {"type": "Polygon", "coordinates": [list(map(list, p.area))]},
        "site": a.site_id, "site_category": a.site_category, "source_kind": a.source_kind,
        "source_reference": a.source_reference or None,
        "received_time": utc_iso(a.received_time), "description": a.description or None,
        "supersedes": a.supersedes}
    return {k: v for k, v in out.items() if v is not None}


def allegation_from_stored(data: dict[str, Any]) -> Allegation:
    """Back from :func:`allegation_to_dict` (the place is already resolved)."""
    area = data.get("area")
    return Allegation(
        id=data["id"], alleging_party=data["alleging_party"], accused_party=data.get("accused_party"),
        kind=AllegationKind(data["kind"]), start=parse_time(data["start"], "start"),
        end=parse_time(data["end"], "end"),
        place=AllegedPlace(float(data["lon"]), float(data["lat"]), float(data.get("radius_m", 0.0)),
                           area=None if area is None else tuple((float(x), float(y))
                                                                for x, y in area["coordinates"][0]),
                           name=data.get("place_name")),
        received_time=parse_time(data["received_time"], "received_time"),
        source_kind=data.get("source_kind", "statement"),
        source_reference=data.get("source_reference", ""), site_id=data.get("site"),
        site_category=data.get("site_category"), description=data.get("description", ""),
        supersedes=data.get("supersedes"))
