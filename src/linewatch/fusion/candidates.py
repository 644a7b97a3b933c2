"""Candidates: the coarse space-time search of one tile and time block.

For every point of the tile's grid and every arrival time, the origin time it implies; grid
points where many sensors imply the same origin time are candidates (arrays' bearings prune
pairs that point elsewhere). Also how many sensors would hear a source at a point, which sets
both where searching is worth it and how many detections a candidate must hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from linewatch.fusion.columns import Prepared
from linewatch.fusion.params import FusionParams

__all__ = ["Geometry", "TileGrid", "expected_grid", "expected_sensors", "support", "tile_grid",
           "window_candidates"]


@dataclass(frozen=True)
class TileGrid:
    """The coarse search grid of a tile: points a loud source there would be heard from, and
    how many sensors would hear a quiet one."""

    x: np.ndarray
    y: np.ndarray
    expected: np.ndarray


def tile_grid(p: Prepared, alive: np.ndarray, params: FusionParams) -> TileGrid:
    """The coarse grid over the ``alive`` arrival-time sensors of a tile and its margin."""
    idx = np.flatnonzero(alive & np.isin(np.arange(len(p.sx)), np.unique(p.sensor[p.toa])))
    if len(idx) == 0:
        return TileGrid(np.zeros(0), np.zeros(0), np.zeros(0))
    sx, sy = p.sx[idx], p.sy[idx]
    g = params.grid_m
    gx = np.arange(math.floor((sx.min() - params.tile_margin_m) / g) * g, sx.max() + params.tile_margin_m + g, g)
    gy = np.arange(math.floor((sy.min() - params.tile_margin_m) / g) * g, sy.max() + params.tile_margin_m + g, g)
    mesh_x, mesh_y = np.meshgrid(gx, gy, indexing="ij")
    all_x, all_y = mesh_x.ravel(), mesh_y.ravel()
    keep = expected_grid(p, all_x, all_y, alive, params, loud=True) >= params.min_expected
    x, y = all_x[keep], all_y[keep]
    return TileGrid(x, y, expected_grid(p, x, y, alive, params))


@dataclass(frozen=True)
class Geometry:
    """Grid point to sensor geometry of a block, computed once for all its windows: for each
    grid point (rows) and sensor heard in the block (columns), the travel time, whether it is
    in range, the azimuth from the sensor, and the angle a grid cell spans from it."""

    sensors: np.ndarray
    travel_s: np.ndarray
    within: np.ndarray
    azimuth: np.ndarray
    slack: np.ndarray

    @classmethod
    def of(cls, p: Prepared, rows: np.ndarray, grid: TileGrid, c: float,
           params: FusionParams) -> Geometry:
        sensors = np.unique(p.sensor[rows[p.toa[rows]]])
        dx = grid.x[:, None] - p.sx[sensors][None, :]
        dy = grid.y[:, None] - p.sy[sensors][None, :]
        r = np.hypot(dx, dy)
        half_diag = params.grid_m * math.sqrt(0.5)
        return cls(sensors, r / c, r <= params.max_range_m, np.arctan2(dx, dy),
                   np.arctan2(half_diag, np.maximum(r, 1.0)))

    def reachable(self, p: Prepared, toa: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The columns of the detections ``toa`` (arrival times of the block's sensors), and
        for each grid point and detection whether a source there could have made it: within
        range and, for an array, where its bearing points (3 σ and the cell's own angle)."""
        cols = np.searchsorted(self.sensors, p.sensor[toa])
        return cols, self.mask(cols, p.bearing[toa], p.bearing_sd[toa])

    def mask(self, cols: np.ndarray, bearing: np.ndarray, bearing_sd: np.ndarray) -> np.ndarray:
        """For each grid point and detection (its sensor's column, its bearing and standard
        deviation, NaN for none), whether a source there could have made it: within range and,
        with a bearing, where it points (3 σ and the cell's own angle)."""
        ok: np.ndarray = self.within[:, cols]
        has_b = np.isfinite(bearing)
        if has_b.any():
            miss = bearing[has_b] - self.azimuth[:, cols[has_b]]
            miss -= 2 * np.pi * np.rint(miss / (2 * np.pi))
            tol = 3.0 * bearing_sd[has_b] + self.slack[:, cols[has_b]]
            ok[:, has_b] &= np.abs(miss) <= tol
        return ok


def window_candidates(p: Prepared, rows: np.ndarray, ws: float, c: float, params: FusionParams,
                      grid: TileGrid, geo: Geometry) -> np.ndarray:
    """Coarse space-time candidates with origin times in ``[ws, ws + window_s)``: rows of
    (count, x, y, t0, count needed) where enough sensors imply the same origin time at a grid
    point, at the peaks in time."""
    lo = np.searchsorted(p.t[rows], ws, "left")
    hi = np.searchsorted(p.t[rows], ws + params.window_s + params.max_range_m / c, "right")
    rows = rows[lo:hi]
    toa_rows = rows[p.toa[rows]]
    if len(np.unique(p.sensor[toa_rows])) < params.min_sensors or len(grid.x) == 0:
        return np.zeros((0, 5))
    cols, ok = geo.reachable(p, toa_rows)
    tau = params.grid_m * math.sqrt(0.5) / c + 3.0 * 0.06
    nb = int(math.ceil(params.window_s / tau)) + 1
    bins = np.floor((p.t[toa_rows][None, :] - geo.travel_s[:, cols] - ws) / tau).astype(np.int64)
    ok &= (bins >= 0) & (bins < nb)
    gi, di = np.nonzero(ok)
    n_grid = len(grid.x)
    hist = np.bincount(gi * (nb + 1) + bins[gi, di], minlength=n_grid * (nb + 1))
    hist = hist.reshape(n_grid, nb + 1)
    merged = hist[:, :-1] + hist[:, 1:]
    need = np.maximum(params.min_sensors, 0.7 * params.expected_share * grid.expected)
    # peaks in time at each grid point: a bin at least as full as its neighbours
    padded = np.pad(merged, ((0, 0), (1, 1)))
    peak = (merged >= padded[:, :-2]) & (merged >= padded[:, 2:])
    gi, bj = np.nonzero(peak & (merged >= need[:, None]))
    return np.column_stack([merged[gi, bj], grid.x[gi], grid.y[gi], ws + (bj + 1) * tau, need[gi]])


def support(p: Prepared, rows: np.ndarray, x: float, y: float, t0: float, c: float,
            tol_s: float) -> int:
    """Distinct sensors among ``rows`` whose arrival time (and bearing) fits a coarse source."""
    toa = rows[p.toa[rows]]
    if len(toa) == 0:
        return 0
    dx, dy = x - p.sx[p.sensor[toa]], y - p.sy[p.sensor[toa]]
    r = np.hypot(dx, dy)
    ok = np.abs(p.t[toa] - t0 - r / c) <= tol_s
    b = p.bearing[toa]
    has_b = np.isfinite(b)
    if has_b.any():
        miss = np.abs(np.angle(np.exp(1j * (b[has_b] - np.arctan2(dx[has_b], dy[has_b])))))
        tol = 3.0 * p.bearing_sd[toa][has_b] + np.arctan2(1000.0, np.maximum(r[has_b], 1.0))
        ok[has_b] &= miss <= tol
    return len(np.unique(p.sensor[toa][ok]))


def expected_grid(p: Prepared, x: np.ndarray, y: np.ndarray, alive: np.ndarray,
                  params: FusionParams, *, loud: bool = False) -> np.ndarray:
    """How many arrival-time sensors would hear a quiet (or loud) source at each (x, y)."""
    idx = np.flatnonzero(alive)
    r50 = params.detection_range_m[1 if loud else 0]
    d = np.hypot(np.asarray(x, float)[:, None] - p.sx[idx][None, :],
                 np.asarray(y, float)[:, None] - p.sy[idx][None, :])
    with np.errstate(over="ignore"):
        prob = 1.0 / (1.0 + np.exp((d - r50) / 2000.0))
    expected: np.ndarray = prob.sum(axis=1)
    return expected


def expected_sensors(p: Prepared, x: float, y: float, alive: np.ndarray,
                     params: FusionParams, *, loud: bool = False) -> float:
    """:func:`expected_grid` at one point."""
    return float(expected_grid(p, np.array([x]), np.array([y]), alive, params, loud=loud)[0])
