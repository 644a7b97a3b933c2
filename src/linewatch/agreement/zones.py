"""An agreement's zones compiled for columnar questions: how likely is each point inside?

Three kinds, as the file names them: a *buffer* (each party's one-sided strip along its own
reference line), a *polygon*, and a protected *site* (a point or polygon and a radius around
it). Each answers :meth:`CompiledZone.probability` for a :class:`Placement` of points with
their error ellipses, and gives its area as lon/lat polygons for maps and summaries.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

import numpy as np
import shapely

from linewatch.agreement import schema as schema
from linewatch.geo import GEOD, LineIndex, offsets_en, prob_in_band, prob_in_polygon, prob_within_radius

if TYPE_CHECKING:
    from linewatch.agreement.compiled import Agreement, Placement

__all__ = ["BufferZoneC", "CompiledZone", "PolygonZoneC", "SiteC", "compile_zone"]


class CompiledZone(abc.ABC):
    """A zone compiled for columnar queries."""

    id: str
    name: str
    kind: str
    category: str
    party: str | None
    source: str | None

    @abc.abstractmethod
    def probability(self, pl: Placement) -> np.ndarray:
        """P(true point inside the zone) for each point of the placement."""

    @abc.abstractmethod
    def polygons_lonlat(self) -> dict[str | None, shapely.Geometry]:
        """The zone's area as lon/lat polygons, keyed by the party whose part it is (or None)."""

    def area_km2(self) -> float:
        total = 0.0
        for geom in self.polygons_lonlat().values():
            area, _ = GEOD.geometry_area_perimeter(geom)
            total += abs(area)
        return total / 1e6


def compile_zone(spec: schema.BufferZone | schema.PolygonZone | schema.Site,
                 agreement: Agreement) -> CompiledZone:
    """The compiled form of a zone of the file."""
    if isinstance(spec, schema.BufferZone):
        return BufferZoneC(spec, agreement)
    if isinstance(spec, schema.PolygonZone):
        return PolygonZoneC(spec, agreement)
    return SiteC(spec, agreement)


class BufferZoneC(CompiledZone):
    """Each party's one-sided buffer of its own reference line, on its own side."""

    def __init__(self, spec: schema.BufferZone, agreement: Agreement) -> None:
        self.id, self.name, self.kind = spec.id, spec.name, "buffer"
        self.category, self.party, self.source = spec.category, None, spec.source
        self._agreement = agreement
        if spec.width_km is not None:
            half = spec.width_km * 1000.0 / 2.0
            self.width_m = {p: half for p in agreement.party_ids}
        else:
            self.width_m = {p: (spec.per_side_km or {}).get(p, 0.0) * 1000.0
                            for p in agreement.party_ids}

    def party_probability(self, pl: Placement) -> dict[str, np.ndarray]:
        """P(inside each party's part): closer than its distance to its own reference line, on
        its own side of that line, or anywhere between that line and the demarcation line on
        the party's side (forces there stand even closer to the other party than allowed).
        Along the normal, party p's part is ``min(s - d, 0) <= s <= w``, with ``s`` the signed
        distance to p's reference line and ``d`` to the demarcation line (both positive on p's
        side); without a separate reference line ``s == d`` and it is ``0 <= s <= w``."""
        out = {}
        for p, w in self.width_m.items():
            if w <= 0:
                continue
            line_signed = pl.line_signed_m
            if line_signed is None:
                raise ValueError(f"buffer zone {self.id!r} needs a line")
            s = pl.own_side_m[p]
            d = line_signed if self._agreement.side_of[p] == "left" else -line_signed
            out[p] = prob_in_band(s, pl.own_side_sd_m[p], np.minimum(s - d, 0.0), w)
        return out

    def probability(self, pl: Placement) -> np.ndarray:
        parts = list(self.party_probability(pl).values())
        return np.minimum(np.sum(parts, axis=0), 1.0) if parts else np.zeros(len(pl))

    def polygons_lonlat(self) -> dict[str | None, shapely.Geometry]:
        ag = self._agreement
        out: dict[str | None, shapely.Geometry] = {}
        for p, w in self.width_m.items():
            if w <= 0:
                continue
            index = ag.reference_index(p)
            lat = ag.frame.to_lonlat(index.ax, index.ay)[1]
            k = float(np.mean(ag.frame.scale_factor(index.ax, lat)))
            poly = _one_sided_buffer(index, w * k, left=ag.side_of[p] == "left")
            out[p] = shapely.make_valid(ag.frame.unproject_geometry(poly))
        return out


def _one_sided_buffer(index: LineIndex, d: float, *, left: bool) -> shapely.Geometry:
    """The part of the line's buffer on one side, the side judged as :meth:`LineIndex.nearest`
    judges it. (GEOS's single-sided buffer drops area at a jagged line's sharp bends and can
    come out invalid once unprojected.) The buffer is cut by the line, extended beyond its
    ends, and each piece goes to the side its interior point lies on."""
    line = index.geometry_xy
    whole = shapely.buffer(line, d, quad_segs=4)
    cutters = []
    for part in shapely.get_parts(line):
        c = shapely.get_coordinates(part)
        ends = [c[0] + (c[0] - c[1]) / np.hypot(*(c[0] - c[1])) * 2.0 * d,
                c[-1] + (c[-1] - c[-2]) / np.hypot(*(c[-1] - c[-2])) * 2.0 * d]
        cutters.append(shapely.linestrings(np.vstack([ends[0], c, ends[1]])))
    pieces = shapely.get_parts(shapely.polygonize(shapely.get_parts(
        shapely.union_all([shapely.boundary(whole), *cutters]))))
    x, y = shapely.get_coordinates(shapely.point_on_surface(pieces)).T
    _, lat = index.frame.to_lonlat(x, y)
    signed = index.nearest(x, y, lat).signed_m
    keep = shapely.contains_xy(whole, x, y) & ((signed > 0) if left else (signed < 0))
    return shapely.union_all(pieces[keep])


class PolygonZoneC(CompiledZone):
    """A zone drawn as a polygon."""

    def __init__(self, spec: schema.PolygonZone, agreement: Agreement) -> None:
        self.id, self.name, self.kind = spec.id, spec.name, "polygon"
        self.category, self.party, self.source = spec.category, spec.party, spec.source
        self.geometry = shapely.geometry.shape(spec.geometry.model_dump())
        if not self.geometry.is_valid:
            raise ValueError(f"zone {spec.id!r}: polygon is not valid "
                             f"({shapely.is_valid_reason(self.geometry)})")
        self._xy = agreement.frame.project_geometry(self.geometry)
        shapely.prepare(self._xy)

    def probability(self, pl: Placement) -> np.ndarray:
        return prob_in_polygon(self._xy, pl.x, pl.y, pl.cov_grid)

    def polygons_lonlat(self) -> dict[str | None, shapely.Geometry]:
        return {self.party: self.geometry}


class SiteC(CompiledZone):
    """A protected site: a point and a radius (geodesic), or a polygon grown by the radius."""

    def __init__(self, spec: schema.Site, agreement: Agreement) -> None:
        self.id, self.name, self.kind = spec.id, spec.name, "site"
        self.category, self.party, self.source = spec.category, spec.party, spec.source
        self.radius_m = spec.radius_km * 1000.0
        self.point = spec.point
        self._frame = agreement.frame
        if spec.geometry is not None:
            self.geometry = shapely.geometry.shape(spec.geometry.model_dump())
            xy = agreement.frame.project_geometry(self.geometry)
            self._xy = shapely.buffer(xy, self.radius_m, quad_segs=8) if self.radius_m else xy
            shapely.prepare(self._xy)
        elif spec.point is not None:
            self.geometry = shapely.Point(*spec.point)
        else:
            raise ValueError(f"site {spec.id!r} has neither a point nor a geometry")

    def probability(self, pl: Placement) -> np.ndarray:
        if self.point is None:
            return prob_in_polygon(self._xy, pl.x, pl.y, pl.cov_grid)
        e, n, _ = offsets_en(self.point[0], self.point[1], pl.lon, pl.lat)
        return prob_within_radius(e, n, pl.cov_en, self.radius_m)

    def distance_m(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Distance from each point to the site's area (m; 0 inside)."""
        if self.point is None:
            x, y = self._frame.to_xy(lon, lat)
            return np.asarray(shapely.distance(self._xy, shapely.points(x, y)))
        return offsets_en(self.point[0], self.point[1], lon, lat)[2]

    def polygons_lonlat(self) -> dict[str | None, shapely.Geometry]:
        if self.point is None:
            return {self.party: self._frame.unproject_geometry(self._xy)}
        az = np.linspace(0, 360, 73)[:-1]
        lon, lat, _ = GEOD.fwd(np.full(72, self.point[0]), np.full(72, self.point[1]), az,
                               np.full(72, max(self.radius_m, 1.0)))
        return {self.party: shapely.Polygon(np.column_stack([lon, lat]))}
