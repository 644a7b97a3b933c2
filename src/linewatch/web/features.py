"""GeoJSON for the API and the dashboard: records, violations, allegations, the agreement's
layers, the base map and the coverage grid. Coordinates are (lon, lat) WGS84; ellipses are
traced geodesically from their centre (pyproj)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import shapely

from linewatch.agreement import Agreement
from linewatch.geo import GEOD

ELLIPSE_POINTS = 36
_FEATURE_KEYS = ("time", "kind", "explosion_type", "weapon", "party", "source_kind", "source_id",
                 "engine", "description", "semi_major_m", "semi_minor_m", "azimuth_deg")


def ellipse_polygon(lon: float, lat: float, semi_major_m: float, semi_minor_m: float,
                    azimuth_deg: float, n: int = ELLIPSE_POINTS) -> dict[str, Any] | None:
    """The ellipse as a GeoJSON Polygon (None for a point without an ellipse)."""
    if semi_major_m <= 0:
        return None
    theta = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    a, b = semi_major_m, max(semi_minor_m, 1e-3)
    # polar form of the ellipse about its centre, theta from the major axis
    r = a * b / np.sqrt((b * np.cos(theta)) ** 2 + (a * np.sin(theta)) ** 2)
    az = (azimuth_deg + np.degrees(theta)) % 360.0
    lons, lats, _ = GEOD.fwd(np.full(n, lon), np.full(n, lat), az, r)
    ring = [[round(float(x), 6), round(float(y), 6)] for x, y in zip(lons, lats)]
    return {"type": "Polygon", "coordinates": [ring + ring[:1]]}


def record_location(data: dict[str, Any]) -> Any:
    """The stored record's point and 95 % ellipse (an observer's bearing and distance band
    resolved), from its canonical form: it was validated when it was stored."""
    from linewatch.formats.canonical import record_from_canonical
    return record_from_canonical(data).location


def record_feature(data: dict[str, Any], *, side: str | None = None,
                   ellipses: bool = False) -> dict[str, Any]:
    """A stored record (its canonical dict, docs/record-formats.md) as a GeoJSON Feature at its
    located point, with the 95 % ellipse's axes (and its outline with ``ellipses``)."""
    loc = record_location(data)
    props: dict[str, Any] = {"id": data["id"]}
    props.update({k: data[k] for k in _FEATURE_KEYS if k in data})
    props.update(semi_major_m=round(loc.semi_major_m, 2), semi_minor_m=round(loc.semi_minor_m, 2),
                 azimuth_deg=round(loc.azimuth_deg, 2), side=side)
    props.setdefault("party", None)
    origin = data.get("origin")
    if isinstance(origin, dict) and "lon" in origin:
        props["origin"] = [origin["lon"], origin["lat"]]
    if "observer_lon" in data:
        props["observer"] = [data["observer_lon"], data["observer_lat"]]
    if ellipses:
        props["ellipse"] = ellipse_polygon(loc.lon, loc.lat, loc.semi_major_m, loc.semi_minor_m,
                                           loc.azimuth_deg)
    return {"type": "Feature", "id": data["id"],
            "geometry": {"type": "Point", "coordinates": [round(loc.lon, 7), round(loc.lat, 7)]},
            "properties": props}


def sides_of(agreement: Agreement, lon: np.ndarray, lat: np.ndarray) -> list[str | None]:
    """The party on whose side of the line each point lies (None off a line-less agreement)."""
    if agreement.line_index is None or len(lon) == 0:
        return [None] * len(lon)
    pl = agreement.place(np.asarray(lon, float), np.asarray(lat, float), np.zeros((len(lon), 2, 2)))
    probs = agreement.side_probability(pl)
    a, b = agreement.party_ids[:2]
    return [a if pa > 0.5 else b if pa < 0.5 else None for pa in probs[a]]


def agreement_features(agreement: Agreement) -> dict[str, Any]:
    """The line, the parties' reference lines, the zones and the protected sites."""
    feats: list[dict[str, Any]] = []

    def add(layer: str, geom: Any, **props: Any) -> None:
        feats.append({"type": "Feature", "geometry": shapely.geometry.mapping(geom),
                      "properties": {"layer": layer, **props}})
    for parts, layer, party in ([(agreement.line_parts, "line", None)] if agreement.line_parts else []) + [
            (parts, "reference_line", p) for p, parts in agreement.reference_parts.items()]:
        geom = shapely.multilinestrings([shapely.linestrings(c) for c in parts])
        add(layer, geom, id=layer if party is None else f"reference-{party}", name=layer.replace("_", " "),
            party=party, kind=layer, category=None)
    for z in agreement.zones.values():
        for part_party, geom in z.polygons_lonlat().items():
            add("site" if z.kind == "site" else "zone", geom, id=z.id, name=z.name, kind=z.kind,
                category=z.category, party=part_party or z.party)
    return {"type": "FeatureCollection", "features": feats}


def basemap(boundaries: Any) -> dict[str, Any]:
    """Country polygons of the committed Natural Earth extract, simplified for the browser."""
    feats = []
    for name, iso_a3, geometry in boundaries:
        geom = shapely.simplify(geometry, 0.01, preserve_topology=True)
        feats.append({"type": "Feature", "geometry": shapely.geometry.mapping(geom),
                      "properties": {"name": name, "iso_a3": iso_a3}})
    return {"type": "FeatureCollection", "features": feats}


def coverage_grid(network: Any, agreement: Agreement, at: datetime, kind: str, *,
                  cells_x: int = 90, min_p: float = 0.02) -> dict[str, Any]:
    """Detection probability of an event of ``kind`` at ``at`` on a lon/lat grid over the
    network and the line: one Polygon per cell with ``p`` (cells below ``min_p`` left out)."""
    from linewatch.coverage import detection_probability
    xs = [np.asarray(a) for a in _network_lonlat(network)]
    if agreement.line_parts:
        xs += [np.concatenate([c for c in agreement.line_parts])]
    pts = np.concatenate(xs) if xs else np.zeros((0, 2))
    if len(pts) == 0:
        return {"type": "FeatureCollection", "features": []}
    lo, hi = pts.min(axis=0) - 0.3, pts.max(axis=0) + 0.3
    dx = (hi[0] - lo[0]) / cells_x
    dy = dx * 0.66
    ny = max(1, int(np.ceil((hi[1] - lo[1]) / dy)))
    cx = lo[0] + dx * (np.arange(cells_x) + 0.5)
    cy = lo[1] + dy * (np.arange(ny) + 0.5)
    gx, gy = np.meshgrid(cx, cy)
    p = np.asarray(detection_probability(network, gx.ravel(), gy.ravel(), at.timestamp(), kind))
    feats = []
    for x, y, v in zip(gx.ravel(), gy.ravel(), p):
        if v < min_p:
            continue
        x0, x1, y0, y1 = x - dx / 2, x + dx / 2, y - dy / 2, y + dy / 2
        feats.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[
            [round(x0, 5), round(y0, 5)], [round(x1, 5), round(y0, 5)], [round(x1, 5), round(y1, 5)],
            [round(x0, 5), round(y1, 5)], [round(x0, 5), round(y0, 5)]]]},
            "properties": {"p": round(float(v), 3)}})
    return {"type": "FeatureCollection", "features": feats,
            "time": at.isoformat(), "kind": kind, "cell_deg": [dx, dy]}


def _network_lonlat(network: Any) -> list[np.ndarray]:
    sensors = network.sensors
    return [np.column_stack([sensors.lon, sensors.lat])] if len(sensors) else []


__all__ = ["ELLIPSE_POINTS", "agreement_features", "basemap", "coverage_grid", "ellipse_polygon", "record_feature",
           "record_location", "sides_of"]
