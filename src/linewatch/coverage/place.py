"""The verdict engine's question: would the network have detected an event at a place in a
window, and which assets could have (or would have, had they been up)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np
import shapely

from linewatch.coverage.compiled import Floats
from linewatch.coverage.curves import check_kind
from linewatch.coverage.evaluate import Evaluation, evaluate, frame_points, time_samples
from linewatch.coverage.network import Network, compiled
from linewatch.geo import WorkingFrame

__all__ = ["Contribution", "PlaceCoverage", "place_coverage"]

#: A place: ``(lon, lat)``, or a shapely ``Point``, ``Polygon`` or ``MultiPolygon`` in lon/lat.
Place: TypeAlias = "tuple[float, float] | shapely.Geometry"


@dataclass(frozen=True)
class Contribution:
    """One asset's part in a place's coverage.

    ``probability``: its own chance of detecting the event (uniform over the place and the
    window); ``potential``: the same had it been available all the window (outages ignored, a
    UAV over its flights' orbits all the time); ``available_share``: the share of the window it
    was up (a UAV airborne, a patrol present); ``distance_m``: its closest approach to the
    place's centre during the window (for a UAV, its orbit centre or track).
    """

    asset_id: str
    asset_kind: str
    probability: float
    potential: float
    available_share: float
    distance_m: float


@dataclass(frozen=True)
class PlaceCoverage:
    """What the network could have detected of an event of ``kind`` at a place in a window.

    ``probability`` is P(at least one asset detects it) for a place and time uniform over the
    area and the window; ``contributions`` the assets that could have, best first;
    ``unavailable`` those that would have counted (potential ≥ 0.05) but were down, grounded or
    absent for all of the window, best potential first.
    """

    probability: float
    kind: str
    start_s: float
    end_s: float
    n_points: int
    n_times: int
    contributions: tuple[Contribution, ...]
    unavailable: tuple[Contribution, ...] = field(default=())


def place_coverage(network: Network, place: Place, start_s: float, end_s: float, kind: str, *,
                   radius_m: float = 0.0, step_s: float = 60.0, n_points: int = 64,
                   top: int = 5) -> PlaceCoverage:
    """The verdict engine's question: would the network have detected it, and who could have.

    ``place`` is ``(lon, lat)``, a shapely ``Point`` (with ``radius_m``: a disc, sampled with
    ``n_points`` points spread evenly over its area) or a ``Polygon``/``MultiPolygon`` in
    lon/lat (sampled on a grid of about ``n_points`` points inside it).
    """
    kind = check_kind(kind)
    lon, lat, centre = _place_samples(compiled(network).frame, place, radius_m, n_points)
    pts = frame_points(network, lon, lat)
    t, w = time_samples(network, start_s, end_s, step_s)
    ev = evaluate(network, pts, t, w, kind, ref=centre, assets=True)
    prob = float(np.mean(w @ ev.prob))
    contrib, missing = _contributions(network, ev, top)
    return PlaceCoverage(prob, kind, float(start_s), float(end_s), len(pts.x), len(t), contrib, missing)


def _contributions(network: Network, ev: Evaluation, top: int
                   ) -> tuple[tuple[Contribution, ...], tuple[Contribution, ...]]:
    """The ``top`` contributing assets, best first, and the ``top`` unavailable ones."""
    c = compiled(network)
    order = np.lexsort((c.ids.astype(str), -ev.asset_p))
    contrib: list[Contribution] = []
    missing: list[Contribution] = []
    for a in order:
        item = Contribution(str(c.ids[a]), str(c.asset_kind[a]), float(min(ev.asset_p[a], 1.0)),
                            float(min(ev.asset_potential[a], 1.0)),
                            round(min(float(ev.asset_available[a]), 1.0), 9),
                            float(ev.asset_distance[a]))
        if item.probability > 0.0 and len(contrib) < top:
            contrib.append(item)
        elif item.available_share == 0.0 and item.potential >= 0.05:
            missing.append(item)
    missing.sort(key=lambda m: (-m.potential, m.asset_id))
    return tuple(contrib), tuple(missing[:top])


def _place_samples(frame: WorkingFrame, place: Place, radius_m: float, n_points: int
                   ) -> tuple[Floats, Floats, tuple[float, float]]:
    """Sample points (lon, lat) of a place, and its centre in the frame."""
    if not n_points >= 1:
        raise ValueError(f"n_points must be >= 1, got {n_points!r}")
    if isinstance(place, tuple) and len(place) == 2:
        place = shapely.Point(float(place[0]), float(place[1]))
    if not isinstance(place, shapely.Geometry) or place.is_empty:
        raise ValueError(f"place must be (lon, lat) or a shapely Point or Polygon, got {place!r}")
    if place.geom_type == "Point":
        return _disc_samples(frame, place, radius_m, n_points)
    if place.geom_type not in ("Polygon", "MultiPolygon"):
        raise ValueError(f"place must be a Point, Polygon or MultiPolygon, got a {place.geom_type}")
    return _area_samples(frame, place, n_points)


def _disc_samples(frame: WorkingFrame, point: shapely.Point, radius_m: float, n_points: int
                  ) -> tuple[Floats, Floats, tuple[float, float]]:
    """The point itself, or ``n_points`` spread evenly over the disc of ``radius_m`` around it."""
    fx, fy = frame.to_xy(point.x, point.y)
    cx, cy = float(fx), float(fy)
    if not radius_m > 0:
        return np.array([point.x]), np.array([point.y]), (cx, cy)
    k = float(WorkingFrame.scale_factor(np.array([cx]), np.array([point.y]))[0])
    i = np.arange(n_points) + 0.5
    r = radius_m * k * np.sqrt(i / n_points)
    th = i * math.pi * (3.0 - math.sqrt(5.0))          # the golden angle: a sunflower
    lon, lat = frame.to_lonlat(cx + r * np.sin(th), cy + r * np.cos(th))
    return np.atleast_1d(lon), np.atleast_1d(lat), (cx, cy)


def _area_samples(frame: WorkingFrame, area: shapely.Geometry, n_points: int
                  ) -> tuple[Floats, Floats, tuple[float, float]]:
    """About ``n_points`` on a grid inside a polygon (its representative point if none), and
    the representative point as the centre."""
    poly = frame.project_geometry(area)
    rep = poly.representative_point()
    x0, y0, x1, y1 = poly.bounds
    spacing = math.sqrt(max(poly.area, 1.0) / n_points)
    for _ in range(6):
        gx, gy = np.meshgrid(np.arange(x0 + spacing / 2, x1, spacing),
                             np.arange(y0 + spacing / 2, y1, spacing))
        inside = shapely.contains_xy(poly, gx.ravel(), gy.ravel())
        if inside.sum() >= max(1, n_points // 2):
            break
        spacing /= 2.0
    xs, ys = gx.ravel()[inside], gy.ravel()[inside]
    if len(xs) == 0:
        xs, ys = np.array([rep.x]), np.array([rep.y])
    lon, lat = frame.to_lonlat(xs, ys)
    return np.atleast_1d(lon), np.atleast_1d(lat), (float(rep.x), float(rep.y))
