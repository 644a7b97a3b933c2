"""Terrain from a digital elevation model: elevations and line of sight.

A :class:`Terrain` is an elevation grid (metres above the datum) with its affine geotransform
and CRS, as read from a GeoTIFF by :func:`linewatch.formats.dem.read_dem` or built from an
array. The grid may be geographic (EPSG:4326) or projected (e.g. UTM 36N/37N); points come in
as ``(lon, lat)`` WGS84 and are transformed with pyproj.

Line of sight follows the usual viewshed formula. The eye is ``obs_height_m`` above the
ground at the observer, the target ``tgt_height_m`` above the ground at the target; the
profile between them is sampled along the straight line in the grid (about one sample per
cell) with bilinear elevations, and the sightline must not pass below the terrain at any
sample. (In a projected grid that line is the geodesic to well within a cell; in a geographic
one it bows from it by 2 m at 10 km and 20 m at 30 km.) With earth curvature, a sample at
distances ``d1`` and ``d2`` from the two ends is raised by ``(1 - k) * d1 * d2 / (2 * R)``
(``R`` = 6,371 km, standard refraction ``k`` = 0.13); this is the same as lowering each point
by ``(1 - k) d² / 2R`` seen from the observer, and it makes the horizon over flat ground
``sqrt(2 R / (1 - k)) * (√h1 + √h2)``, 3.83 km × (√h1 + √h2) with h in metres (3.57 km ×
without refraction). Distances are geodesic.

Each pair is evaluated in a canonical direction, so the answer is exactly symmetric: A sees B
from height h1 to h2 if and only if B sees A from h2 to h1. Only bare earth counts: the DEM
has no vegetation or buildings.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from scipy import sparse
from scipy.ndimage import map_coordinates, maximum_filter
from scipy.spatial import cKDTree

from linewatch.geo.frame import GEOD

__all__ = ["EARTH_RADIUS_M", "REFRACTION_K", "Terrain"]

#: Mean earth radius used for the curvature correction (m).
EARTH_RADIUS_M = 6_371_000.0
#: Standard coefficient of atmospheric refraction for visible light.
REFRACTION_K = 0.13

_A = 6_378_137.0                   # WGS84
_E2 = (1 / 298.257223563) * (2 - 1 / 298.257223563)

# Interval lengths (in profile samples) of the coarse-to-fine search, each a quarter of the last.
_LEVELS = (64, 16, 4)
# Max-filter certificates apply to profiles that advance at most this many cells per sample.
_MAX_PIXEL_STEP = 1.25
# Certificates leave this much (m) for rounding, so they never differ from the exact test.
_SLACK_M = 1e-6
# Candidate pairs per block of visibility_matrix (bounds its memory: ~100 MB).
_BLOCK_PAIRS = 1 << 18
# Top-level intervals per vectorised chunk (the finer levels at most multiply this by 16).
_CHUNK_ITEMS = 1 << 16


@dataclass(frozen=True, eq=False)
class Terrain:
    """An elevation grid with its georeferencing.

    Parameters
    ----------
    elevation
        2-D array (rows, cols) of elevations in metres; row 0 is the first row of the raster.
        Not copied: do not modify it afterwards.
    transform
        ``(a, b, c, d, e, f)`` in rasterio's ``Affine`` order: the pixel corner
        ``(col, row)`` is at ``x = a*col + b*row + c``, ``y = d*col + e*row + f`` in ``crs``,
        ``x`` being the easting or longitude (as in GeoTIFF files, whatever the CRS's axis
        order). GDAL's geotransform lists the same numbers as ``(c, a, b, f, d, e)``.
    crs
        The grid's CRS as an EPSG code or a WKT (any string pyproj accepts).
    nodata
        The value that marks cells without data (they count as unknown terrain), or None.
    """

    elevation: np.ndarray
    transform: tuple[float, float, float, float, float, float]
    crs: int | str
    nodata: float | None = None

    def __post_init__(self) -> None:
        z = np.asarray(self.elevation)
        if z.ndim != 2 or z.size == 0:
            raise ValueError(f"elevation must be a non-empty 2-D array, got shape {z.shape}")
        if len(self.transform) != 6:
            raise ValueError(f"transform must have 6 numbers (a, b, c, d, e, f), got "
                             f"{self.transform!r}")
        t = tuple(float(v) for v in self.transform)
        if not all(np.isfinite(t)) or t[0] * t[4] - t[1] * t[3] == 0.0:
            raise ValueError(f"transform {t!r} is not invertible")
        try:
            CRS.from_user_input(self.crs)
        except CRSError as exc:
            raise ValueError(f"crs {self.crs!r} is not a CRS pyproj knows: {exc}") from exc
        object.__setattr__(self, "elevation", z)
        object.__setattr__(self, "transform", t)

    # ---- georeferencing -------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of the grid."""
        rows, cols = self.elevation.shape
        return rows, cols

    @cached_property
    def _is_wgs84(self) -> bool:
        return CRS.from_user_input(self.crs) == CRS.from_epsg(4326)

    @cached_property
    def _to_grid(self) -> Transformer:
        return Transformer.from_crs("EPSG:4326", CRS.from_user_input(self.crs), always_xy=True)

    @cached_property
    def _from_grid(self) -> Transformer:
        return Transformer.from_crs(CRS.from_user_input(self.crs), "EPSG:4326", always_xy=True)

    @cached_property
    def _grid(self) -> np.ndarray:
        """The elevations as floats, NaN where there is no data."""
        z = self.elevation
        grid = z if z.dtype in (np.float32, np.float64) else z.astype(np.float32)
        bad = ~np.isfinite(grid)
        if self.nodata is not None:
            bad |= (z == self.nodata) if not np.isnan(self.nodata) else np.isnan(grid)
        if bad.any():
            grid = np.where(bad, np.nan, grid).astype(grid.dtype)
        return np.ascontiguousarray(grid)

    def pixel_of(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Fractional (row, col) of points, 0 at the centre of the first cell; NaN outside."""
        lon, lat = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        if self._is_wgs84:
            x, y = lon, lat
        else:
            x, y = self._to_grid.transform(lon, lat)
            x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        a, b, c, d, e, f = self.transform
        det = a * e - b * d
        xc, yc = x - c, y - f
        col = (e * xc - b * yc) / det - 0.5
        row = (a * yc - d * xc) / det - 0.5
        rows, cols = self.shape
        outside = ~((row >= -0.5) & (row <= rows - 0.5) & (col >= -0.5) & (col <= cols - 0.5))
        row = np.where(outside, np.nan, row)
        col = np.where(outside, np.nan, col)
        return row, col

    @cached_property
    def cell_size_m(self) -> float:
        """The smaller side of a cell in metres (geodesic, at the middle of the grid)."""
        a, b, c, d, e, f = self.transform
        rows, cols = self.shape
        col = np.array([cols / 2, cols / 2 + 1, cols / 2])
        row = np.array([rows / 2, rows / 2, rows / 2 + 1])
        x, y = a * col + b * row + c, d * col + e * row + f
        if not self._is_wgs84:
            x, y = self._from_grid.transform(x, y)
        _, _, dist = GEOD.inv(np.full(2, x[0]), np.full(2, y[0]), x[1:], y[1:])
        return float(np.min(dist))

    # ---- elevations -------------------------------------------------------------------------

    def _sample(self, row: np.ndarray, col: np.ndarray) -> np.ndarray:
        """Bilinear elevations at finite fractional pixel coordinates inside the grid."""
        coords = np.empty((2, row.size))
        coords[0], coords[1] = row.ravel(), col.ravel()
        out = map_coordinates(self._grid, coords, order=1, mode="nearest", prefilter=False,
                              output=np.float64)
        z: np.ndarray = out.reshape(row.shape)
        return z

    def elevation_at(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> np.ndarray:
        """Ground elevation (m) at points, bilinear between cell centres; NaN outside the grid.

        Also NaN where a neighbouring cell has no data. Between the outermost cell centres and
        the raster's edge the edge cells' values extend outwards.
        """
        row, col = self.pixel_of(lon, lat)
        out = np.full(row.shape, np.nan)
        ok = np.isfinite(row)
        if ok.any():
            out[ok] = self._sample(row[ok], col[ok])
        return out

    # ---- line of sight ------------------------------------------------------------------------

    def _curvature(self, earth_curvature: bool, refraction_k: float) -> float:
        return (1.0 - refraction_k) / (2.0 * EARTH_RADIUS_M) if earth_curvature else 0.0

    def line_of_sight(self, obs_lon: npt.ArrayLike, obs_lat: npt.ArrayLike,
                      obs_height_m: npt.ArrayLike, tgt_lon: npt.ArrayLike, tgt_lat: npt.ArrayLike,
                      tgt_height_m: npt.ArrayLike, *, step_m: float | None = None, earth_curvature: bool = True,
                      refraction_k: float = REFRACTION_K) -> np.ndarray:
        """Whether each observer sees its target over the terrain (arrays broadcast).

        Heights are above the ground at each end. The profile is sampled every ``step_m``
        (default: :attr:`cell_size_m`) along the straight line between them; the pair is
        visible if the sightline is nowhere below the terrain (touching counts as visible).
        ``earth_curvature`` adds the curvature and refraction drop (``refraction_k``).

        A pair with an end outside the grid, or on a cell without data, counts as **visible**:
        the terrain there is unknown, so nothing is taken to block it. Profile samples on
        cells without data are skipped for the same reason.
        """
        arrays = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (
            obs_lon, obs_lat, obs_height_m, tgt_lon, tgt_lat, tgt_height_m)))
        shape = arrays[0].shape
        olon, olat, oh, tlon, tlat, th = (v.ravel() for v in arrays)
        row0, col0 = self.pixel_of(olon, olat)
        row1, col1 = self.pixel_of(tlon, tlat)
        visible = np.ones(olon.size, dtype=bool)
        known = np.isfinite(row0) & np.isfinite(row1)
        e0 = np.full(olon.size, np.nan)
        e1 = np.full(olon.size, np.nan)
        e0[known] = self._sample(row0[known], col0[known]) + oh[known]
        e1[known] = self._sample(row1[known], col1[known]) + th[known]
        known &= np.isfinite(e0) & np.isfinite(e1)
        i = np.flatnonzero(known)
        ends = _canonical(row0[i], col0[i], e0[i], olon[i], olat[i],
                          row1[i], col1[i], e1[i], tlon[i], tlat[i])
        (r0, c0, z0, lon0, lat0), (r1, c1, z1, lon1, lat1) = ends
        visible[i] = self._clear(r0, c0, z0, r1, c1, z1, _distance_m(lon0, lat0, lon1, lat1),
                                 step_m or self.cell_size_m,
                                 self._curvature(earth_curvature, refraction_k))
        return visible.reshape(shape)

    def visibility_matrix(self, obs_lonlat: npt.ArrayLike, tgt_lonlat: npt.ArrayLike,
                          obs_height_m: npt.ArrayLike, tgt_height_m: npt.ArrayLike,
                          max_range_m: float, *, step_m: float | None = None,
                          earth_curvature: bool = True,
                          refraction_k: float = REFRACTION_K) -> sparse.csr_matrix:
        """Which observers see which targets within ``max_range_m`` (geodesic): (n, m) bool CSR.

        ``obs_lonlat`` is (n, 2) and ``tgt_lonlat`` (m, 2) ``(lon, lat)``; the heights are
        scalars or one per row. Only pairs within range are tested, and a stored ``True`` means
        in range and in sight (pairs off the grid count as visible, as in
        :meth:`line_of_sight`). Cost grows with the number of pairs in range times the
        profile length in cells.
        """
        obs = np.asarray(obs_lonlat, dtype=float).reshape(-1, 2)
        tgt = np.asarray(tgt_lonlat, dtype=float).reshape(-1, 2)
        n, m = len(obs), len(tgt)
        oh = np.broadcast_to(np.asarray(obs_height_m, dtype=float), (n,))
        th = np.broadcast_to(np.asarray(tgt_height_m, dtype=float), (m,))
        row0, col0 = self.pixel_of(obs[:, 0], obs[:, 1])
        row1, col1 = self.pixel_of(tgt[:, 0], tgt[:, 1])
        e0 = np.full(n, np.nan)
        e1 = np.full(m, np.nan)
        ok0, ok1 = np.isfinite(row0), np.isfinite(row1)
        e0[ok0] = self._sample(row0[ok0], col0[ok0]) + oh[ok0]
        e1[ok1] = self._sample(row1[ok1], col1[ok1]) + th[ok1]
        step = step_m or self.cell_size_m
        curv = self._curvature(earth_curvature, refraction_k)
        seen_o, seen_t = [], []
        for oi, ti in _pairs_within(obs, tgt, float(max_range_m)):
            ends = _canonical(row0[oi], col0[oi], e0[oi], obs[oi, 0], obs[oi, 1],
                              row1[ti], col1[ti], e1[ti], tgt[ti, 0], tgt[ti, 1])
            (r0, c0, z0, lon0, lat0), (r1, c1, z1, lon1, lat1) = ends
            dist = _distance_m(lon0, lat0, lon1, lat1)
            vis = dist <= max_range_m
            k = np.flatnonzero(vis & np.isfinite(z0) & np.isfinite(z1))
            vis[k] = self._clear(r0[k], c0[k], z0[k], r1[k], c1[k], z1[k], dist[k], step, curv)
            seen_o.append(oi[vis])
            seen_t.append(ti[vis])
        oi, ti = (np.concatenate(v) if v else np.zeros(0, dtype=np.int64)
                  for v in (seen_o, seen_t))
        out = sparse.csr_matrix((np.ones(len(oi), dtype=bool), (oi, ti)), shape=(n, m),
                                dtype=bool)
        out.sort_indices()
        return out

    @cached_property
    def _peaks(self) -> dict[int, tuple[np.ndarray, int, int]]:
        """Peak grids by interval length (filled lazily by :meth:`_peak_grid`)."""
        return {}

    def _peak_grid(self, interval: int) -> tuple[np.ndarray, int, int]:
        """A bound on the terrain near any cell, for intervals of ``interval`` samples.

        Returns ``(peaks, block, block_cols)``: the grid is cut into blocks of ``block`` ×
        ``block`` cells, and ``peaks[(row // block) * block_cols + col // block]`` is at least
        the highest elevation within ``_peak_radius(interval)`` cells (Chebyshev) of the cell
        ``(row, col)``. Blocks keep it small (a quarter of the grid at most). Cells
        without data count as -inf: they never block.
        """
        if interval not in self._peaks:
            block = max(2, interval // 4)
            grid = np.where(np.isnan(self._grid), -np.inf, self._grid)
            rows, cols = grid.shape
            pooled = np.maximum.reduceat(grid, np.arange(0, rows, block), axis=0)
            pooled = np.maximum.reduceat(pooled, np.arange(0, cols, block), axis=1)
            size = 2 * math.ceil(_peak_radius(interval) / block) + 1
            peaks = maximum_filter(pooled, size=size, mode="nearest")
            self._peaks[interval] = (peaks.ravel(), block, peaks.shape[1])
        return self._peaks[interval]

    def _clear(self, r0: np.ndarray, c0: np.ndarray, z0: np.ndarray, r1: np.ndarray, c1: np.ndarray,
               z1: np.ndarray, dist_m: np.ndarray, step_m: float, curv: float) -> np.ndarray:
        """True where the sightline from eye ``z0`` to eye ``z1`` clears every profile sample.

        The profile has ``n = ceil(D / step_m)`` steps; sample ``i`` (1 ≤ i < n) is at
        ``t = i / n`` of the way, where the sightline minus the curvature bulge is
        ``z0 + t (z1 - z0) - curv D² t (1 - t) = A + t (B + C t)``. See :func:`_descend`.
        """
        if step_m <= 0:
            raise ValueError(f"step_m must be positive, got {step_m}")
        n_seg = np.maximum(1.0, np.ceil(dist_m / step_m))
        dr, dc = r1 - r0, c1 - c0
        cc = curv * dist_m * dist_m
        certify = np.maximum(np.abs(dr), np.abs(dc)) / n_seg <= _MAX_PIXEL_STEP
        # pairs in Z-order of their midpoints, so that nearby profiles are sampled together
        order = np.argsort(_z_order(r0 + dr / 2.0, c0 + dc / 2.0), kind="stable")
        prof = _Profiles(*(v[order] for v in (r0, dr, c0, dc, z0, (z1 - z0) - cc, cc, n_seg,
                                              certify)))
        n_seg = prof.n_seg
        blocked = np.zeros(len(r0), dtype=bool)
        top = _LEVELS[0]
        counts = np.ceil((n_seg - 1.0) / top).astype(np.int64)
        cum = np.cumsum(counts)
        total = int(cum[-1]) if len(cum) else 0
        cuts = np.searchsorted(cum, np.arange(_CHUNK_ITEMS, total, _CHUNK_ITEMS), side="right")
        for idx in np.split(np.arange(len(r0)), cuts):
            num = counts[idx]
            pairs = np.repeat(idx, num)
            j = np.arange(len(pairs)) - np.repeat(np.cumsum(num) - num, num)
            self._descend(prof, pairs, j * float(top) + top / 2, blocked)
        clear = np.empty(len(r0), dtype=bool)
        clear[order] = ~blocked
        return clear

    def _descend(self, prof: _Profiles, pairs: np.ndarray, centre: np.ndarray,
                 blocked: np.ndarray) -> None:
        """Mark in ``blocked`` the pairs with a profile sample above the sightline.

        Work items are intervals ``(centre - L/2, centre + L/2]`` of sample numbers. At each
        level of :data:`_LEVELS` the sample at an interval's centre is tested exactly (a
        blocked pair drops out), and the interval is *certified* clear when the highest
        terrain near it (a max-filtered grid) is below the lowest the sightline gets over it
        (the sightline is convex in ``t``, so it stays above its tangent at the centre). Only
        intervals not certified are split in four; at the end their samples are tested one by
        one. The result is exactly that of testing every sample.
        """
        rows, cols = self.shape
        for level, length in enumerate(_LEVELS):
            keep = ~blocked[pairs]
            pairs, centre = pairs[keep], centre[keep]
            n_seg = prof.n_seg[pairs]
            t = centre / n_seg
            r = prof.r0[pairs] + t * prof.dr[pairs]
            c = prof.c0[pairs] + t * prof.dc[pairs]
            b, cc = prof.b[pairs], prof.cc[pairs]
            line = prof.a[pairs] + t * (b + cc * t)
            exact = centre <= n_seg - 1.0
            z = self._sample(r[exact], c[exact])
            blocked[pairs[exact][z > line[exact]]] = True
            peaks, block, block_cols = self._peak_grid(length)
            cell = (np.clip(np.rint(r), 0, rows - 1).astype(np.int64) // block * block_cols
                    + np.clip(np.rint(c), 0, cols - 1).astype(np.int64) // block)
            lowest = line - np.abs(b + 2.0 * cc * t) * (length / 2.0) / n_seg - _SLACK_M
            open_ = ~(prof.certify[pairs] & (peaks[cell] <= lowest))
            open_ &= ~blocked[pairs]
            pairs, centre = pairs[open_], centre[open_]
            sub = _LEVELS[level + 1] if level + 1 < len(_LEVELS) else 1
            if sub > 1:
                offsets = np.arange(4) * float(sub) - length / 2.0 + sub / 2.0
            else:   # the samples of the interval but its centre, which was tested
                offsets = np.array([o for o in range(1 - length // 2, length // 2 + 1) if o])
            pairs = np.repeat(pairs, len(offsets))
            centre = (centre[:, None] + offsets).ravel()
            keep = centre - sub / 2.0 < prof.n_seg[pairs] - 1.0 if sub > 1 else \
                centre <= prof.n_seg[pairs] - 1.0
            pairs, centre = pairs[keep], centre[keep]
        n_seg = prof.n_seg[pairs]
        t = centre / n_seg
        z = self._sample(prof.r0[pairs] + t * prof.dr[pairs], prof.c0[pairs] + t * prof.dc[pairs])
        blocked[pairs[z > prof.a[pairs] + t * (prof.b[pairs] + prof.cc[pairs] * t)]] = True


class _Profiles(NamedTuple):
    """Per pair: start (row, col) and its change to the end, the sightline
    ``a + t (b + cc t)`` and the number of steps; ``certify`` if max-filter bounds apply."""

    r0: np.ndarray
    dr: np.ndarray
    c0: np.ndarray
    dc: np.ndarray
    a: np.ndarray
    b: np.ndarray
    cc: np.ndarray
    n_seg: np.ndarray
    certify: np.ndarray


def _z_order(row: np.ndarray, col: np.ndarray, *, cell: int = 16) -> np.ndarray:
    """Morton (Z-order) key of fractional pixel positions, on blocks of ``cell`` cells."""
    key = np.zeros(len(row), dtype=np.uint64)
    for v, shift in ((row, 1), (col, 0)):
        u = (np.clip(v, 0, None) // cell).astype(np.uint64) & np.uint64(0xFFFF)
        for bit in range(16):
            key |= ((u >> np.uint64(bit)) & np.uint64(1)) << np.uint64(2 * bit + shift)
    return key


def _peak_radius(interval: int) -> int:
    """Cells around an interval's centre that hold every cell its samples interpolate from:
    half the interval at up to _MAX_PIXEL_STEP cells per step, one for the bilinear
    neighbours and a half for rounding the centre to a cell."""
    return math.ceil(interval / 2 * _MAX_PIXEL_STEP + 1.5)


class _End(NamedTuple):
    """One end of each pair: fractional pixel, eye elevation (m) and place."""

    row: np.ndarray
    col: np.ndarray
    z: np.ndarray
    lon: np.ndarray
    lat: np.ndarray


def _canonical(r0: np.ndarray, c0: np.ndarray, z0: np.ndarray, lon0: np.ndarray, lat0: np.ndarray,
               r1: np.ndarray, c1: np.ndarray, z1: np.ndarray, lon1: np.ndarray, lat1: np.ndarray
               ) -> tuple[_End, _End]:
    """The two ends of each pair, ordered by (row, col) so that A→B and B→A compute alike."""
    swap = (r0 > r1) | ((r0 == r1) & (c0 > c1))
    pairs = ((r0, r1), (c0, c1), (z0, z1), (lon0, lon1), (lat0, lat1))
    first = _End(*(np.where(swap, v1, v0) for v0, v1 in pairs))
    second = _End(*(np.where(swap, v0, v1) for v0, v1 in pairs))
    return first, second


def _distance_m(lon0: np.ndarray, lat0: np.ndarray, lon1: np.ndarray, lat1: np.ndarray) -> np.ndarray:
    """Geodesic distances (m) between point arrays, to 3e-5 relative.

    Up to 100 km: the ellipsoid's radii of curvature at the mean latitude (2.7e-5 at 100 km,
    3e-7 at 10 km, against ``pyproj.Geod``; twelve times faster); beyond, ``pyproj.Geod``.
    """
    lat_m = np.radians((lat0 + lat1) / 2.0)
    s = np.sin(lat_m)
    w = 1.0 - _E2 * s * s
    nu = _A / np.sqrt(w)
    dist: np.ndarray = np.hypot(nu * np.cos(lat_m) * np.radians(lon1 - lon0),
                                nu * (1.0 - _E2) / w * np.radians(lat1 - lat0))
    far = np.flatnonzero(dist > 100_000.0)
    if len(far):
        dist[far] = GEOD.inv(lon0[far], lat0[far], lon1[far], lat1[far])[2]
    return dist


def _pairs_within(obs: np.ndarray, tgt: np.ndarray, max_range_m: float
                  ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Blocks of candidate (observer, target) index pairs that may be within ``max_range_m``.

    A superset: straight-line (chord) distances on a sphere never exceed the arc, and the
    ellipsoid's geodesics differ from the sphere's by well under 1 %; the caller checks the
    geodesic distance. Observers are taken in Z-order of their places, in blocks of about
    :data:`_BLOCK_PAIRS` pairs, so that a block's profiles cover a compact area.
    """
    if len(obs) == 0 or len(tgt) == 0:
        return
    xyz_o, xyz_t = _unit_xyz(obs), _unit_xyz(tgt)
    tree_t = cKDTree(xyz_t)
    radius = 1.01 * max_range_m / EARTH_RADIUS_M + 1e-9
    counts = np.asarray(tree_t.query_ball_point(xyz_o, radius, return_length=True))
    span = np.maximum(np.ptp(obs, axis=0), 1e-9)
    cells = (obs - obs.min(axis=0)) / span * 65_535.0
    order = np.argsort(_z_order(cells[:, 1], cells[:, 0], cell=1), kind="stable")
    cum = np.cumsum(counts[order])
    cuts = np.searchsorted(cum, np.arange(_BLOCK_PAIRS, cum[-1], _BLOCK_PAIRS), side="right")
    for block in np.split(order, cuts):
        if len(block) == 0:
            continue
        found = cKDTree(xyz_o[block]).sparse_distance_matrix(tree_t, radius,
                                                              output_type="ndarray")
        yield block[found["i"]].astype(np.int64), found["j"].astype(np.int64)


def _unit_xyz(lonlat: np.ndarray) -> np.ndarray:
    """Points on the unit sphere of (n, 2) lon/lat rows."""
    lon, lat = np.radians(lonlat[:, 0]), np.radians(lonlat[:, 1])
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
