"""GeoJSON: a FeatureCollection of Point features, the record's other fields in ``properties``.

The geometry gives ``lon`` and ``lat``. A record in the observer form may have a ``null``
geometry; if it has a Point (as :func:`write_geojson` writes, for map display) the point is the
computed centre and is ignored on reading: the observer fields are authoritative.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from linewatch.errors import InputError
from linewatch.formats.lines import quote, read_capped
from linewatch.formats.records import Parsed, Rejected, parse_record, record_to_dict
from linewatch.model import Report

#: The largest GeoJSON file, in characters: it is parsed as a whole (JSON Lines streams).
MAX_GEOJSON_CHARS = 32 << 20


def read_geojson(stream: Iterable[str], *, name: str) -> Iterator[Parsed | Rejected]:
    """Records from a GeoJSON FeatureCollection; ``line`` is the feature's index + 1.

    The whole document is parsed at once, so it may be at most :data:`MAX_GEOJSON_CHARS` long.
    Raises InputError if it is longer (before reading more), not JSON or not a FeatureCollection
    with a ``features`` array.
    """
    text = read_capped(stream, name, MAX_GEOJSON_CHARS, "the GeoJSON file")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}: line {exc.lineno}: not valid JSON: {exc.msg} "
                         f"(column {exc.colno})") from exc
    except RecursionError as exc:
        raise InputError(f"{name}: not valid JSON: nested too deeply") from exc
    except ValueError as exc:
        raise InputError(f"{name}: not valid JSON: a number has more than 4,300 digits") from exc
    del text
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        got = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise InputError(f"{name}: not a GeoJSON FeatureCollection (type is {quote(got)})")
    features = doc.get("features")
    if not isinstance(features, list):
        raise InputError(f"{name}: the FeatureCollection has no 'features' array")
    for index, feature in enumerate(features):
        yield _feature(feature, name=name, line=index + 1)


def _feature(feature: Any, *, name: str, line: int) -> Parsed | Rejected:
    raw = json.dumps(feature, ensure_ascii=False)

    def reject(field: str | None, reason: str) -> Rejected:
        return Rejected(name, line, field, reason, raw)

    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        got = feature.get("type") if isinstance(feature, dict) else type(feature).__name__
        return reject("type", f"feature {line} is not a GeoJSON Feature (type is {quote(got)})")
    unknown = sorted(set(feature) - {"type", "id", "geometry", "properties", "bbox"})
    if unknown:
        return reject(unknown[0], f"unknown feature member {quote(unknown[0])}")
    props = feature.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, dict):
        return reject("properties", f"properties must be an object, got {type(props).__name__}")
    data = dict(props)
    if "id" in feature and feature["id"] is not None:
        fid = feature["id"] if isinstance(feature["id"], str) else json.dumps(feature["id"])
        if data.get("id") not in (None, "", fid):
            return reject("id", f"feature id {quote(fid)} differs from properties.id {quote(data['id'])}")
        data["id"] = fid
    geometry = feature.get("geometry")
    observer = any(data.get(k) not in (None, "") for k in ("observer_lon", "observer_lat"))
    if geometry is not None and not observer:
        if "lon" in data or "lat" in data:
            return reject("lon", "lon/lat are given both by the geometry and in properties")
        coords, problem = _point(geometry)
        if problem:
            return reject("geometry", problem)
        data["lon"], data["lat"] = coords
    return parse_record(data, name=name, line=line, raw=raw)


def _point(geometry: Any) -> tuple[tuple[Any, Any], str | None]:
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        got = geometry.get("type") if isinstance(geometry, dict) else type(geometry).__name__
        return (None, None), f"geometry must be a Point or null, got {quote(got)}"
    coords = geometry.get("coordinates")
    if (not isinstance(coords, list) or len(coords) not in (2, 3)
            or not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in coords)):
        return (None, None), f"Point coordinates must be [lon, lat], got {quote(coords)}"
    return (coords[0], coords[1]), None


def to_feature(report: Report) -> dict[str, Any]:
    """One report as a GeoJSON Feature."""
    props = record_to_dict(report)
    loc = report.location
    if loc.observer is None:
        del props["lon"], props["lat"]
    geometry = {"type": "Point", "coordinates": [float(loc.lon), float(loc.lat)]}
    return {"type": "Feature", "id": report.id, "geometry": geometry, "properties": props}


def write_geojson(reports: Iterable[Report], stream: TextIO) -> int:
    """Write a FeatureCollection, one feature per line; returns the count."""
    stream.write('{"type": "FeatureCollection", "features": [\n')
    n = 0
    for report in reports:
        if n:
            stream.write(",\n")
        stream.write(json.dumps(to_feature(report), ensure_ascii=False, allow_nan=False))
        n += 1
    stream.write("\n]}\n")
    return n
