"""Locating a given group of detections: a global grid search for a start, then maximum
likelihood with outlier rejection, each sensor used at most once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from linewatch.fusion.columns import Prepared
from linewatch.fusion.estimation import Measurements, gauss_newton, per_detection_chi2
from linewatch.fusion.params import FusionParams

__all__ = ["Fit", "fit_rows", "grid_start", "n_meas", "one_per_sensor"]


@dataclass
class Fit:
    """A located group: the source in the frame, the detections (rows), Fisher information
    over (x, y, t0) and the fit's χ² with its degrees of freedom."""

    x: float
    y: float
    t0: float
    rows: np.ndarray
    fisher: np.ndarray
    chi2: float
    dof: int


def fit_rows(p: Prepared, rows: np.ndarray, x: float, y: float, t0: float, c: float,
             params: FusionParams, *, robust: bool = True) -> Fit | None:
    """ML from a start; with ``robust``, outliers and a sensor's second detection dropped."""
    rows = np.asarray(rows)
    for _ in range(4):
        if len(rows) == 0:
            return None
        m = p.measurements(rows, c, params, x, y)
        x, y, t0, fisher = gauss_newton(x, y, t0, m, c, wind=params.wind_m_s)
        m = p.measurements(rows, c, params, x, y)
        chi2 = per_detection_chi2(x, y, t0, m, c, params.wind_m_s)
        if not robust:
            break
        keep = one_per_sensor(p, rows, chi2) & (chi2 <= params.gate_sigma ** 2 * n_meas(m))
        if keep.all():
            break
        rows = rows[keep]
    m = p.measurements(rows, c, params, x, y)
    chi2 = per_detection_chi2(x, y, t0, m, c, params.wind_m_s)
    n_rows = int(np.sum(n_meas(m)))
    return Fit(x, y, t0, rows, fisher, float(chi2.sum()), max(n_rows - 3, 1))


def n_meas(m: Measurements) -> np.ndarray:
    """How many scalar measurements each detection holds (at least one)."""
    n = np.isfinite(m.time_s).astype(int) + np.isfinite(m.bearing_rad) + np.isfinite(m.range_m)
    counts: np.ndarray = np.maximum(n + 2 * np.isfinite(m.fix_x), 1)
    return counts


def one_per_sensor(p: Prepared, rows: np.ndarray, chi2: np.ndarray) -> np.ndarray:
    """A mask keeping each sensor's best-fitting detection among ``rows``."""
    order = np.lexsort((chi2, p.sensor[rows]))
    first = np.ones(len(rows), bool)
    s = p.sensor[rows][order]
    first_sorted = np.concatenate([[True], s[1:] != s[:-1]])
    first[order] = first_sorted
    return first


def grid_start(p: Prepared, rows: np.ndarray, c: float, params: FusionParams
               ) -> tuple[float, float, float]:
    """The best point of a 250 m grid around the group's sensors (a global start for ML)."""
    sx, sy = p.sx[p.sensor[rows]], p.sy[p.sensor[rows]]
    fixed = np.isfinite(p.fx[rows])
    if fixed.any():
        cx, cy = np.mean(p.fx[rows][fixed]), np.mean(p.fy[rows][fixed])
        half = 2_000.0
    else:
        cx, cy = np.mean(sx), np.mean(sy)
        half = params.max_range_m
    best = (float(cx), float(cy))
    for step in (1_000.0, 100.0):
        g = np.arange(-half, half + step / 2, step)
        mesh_x, mesh_y = np.meshgrid(cx + g, cy + g, indexing="ij")
        gx, gy = mesh_x.ravel(), mesh_y.ravel()
        m = p.measurements(rows, c, params)
        cost = _grid_cost(gx, gy, m, c)
        i = int(np.argmin(cost))
        best = (float(gx[i]), float(gy[i]))
        cx, cy, half = best[0], best[1], 2 * step
    m = p.measurements(rows, c, params, *best)
    d = np.hypot(best[0] - m.sensor_x, best[1] - m.sensor_y)
    has = np.isfinite(m.time_s)
    t0 = float(np.median(m.time_s[has] - d[has] / c)) if has.any() else float(np.nanmedian(p.t[rows]))
    return best[0], best[1], t0


def _grid_cost(gx: np.ndarray, gy: np.ndarray, m: Measurements, c: float) -> np.ndarray:
    """Sum of squared whitened residuals at grid points, with t0 profiled out (TOA part)."""
    dx = gx[:, None] - m.sensor_x[None, :]
    dy = gy[:, None] - m.sensor_y[None, :]
    r = np.hypot(dx, dy)
    cost = np.zeros(len(gx))
    has = np.isfinite(m.time_s)
    if has.sum() >= 2:
        w = 1.0 / m.toa_sd_s[has] ** 2
        t0 = m.time_s[has][None, :] - r[:, has] / c
        mean = (t0 * w).sum(1) / w.sum()
        cost += (((t0 - mean[:, None]) ** 2) * w).sum(1)
    has = np.isfinite(m.bearing_rad)
    if has.any():
        pred = np.arctan2(dx[:, has], dy[:, has])
        res = np.angle(np.exp(1j * (m.bearing_rad[has][None, :] - pred)))
        cost += ((res / m.bearing_sd_rad[has]) ** 2).sum(1)
    has = np.isfinite(m.range_m)
    if has.any():
        cost += (((m.range_m[has] - r[:, has]) / m.range_sd_m[has]) ** 2).sum(1)
    has = np.isfinite(m.fix_x)
    if has.any():
        cost += (((gx[:, None] - m.fix_x[has]) ** 2 + (gy[:, None] - m.fix_y[has]) ** 2)
                 / m.fix_sd_m[has] ** 2).sum(1)
    return cost
