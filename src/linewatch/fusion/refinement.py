"""Refinement: from a coarse candidate to a located group of detections.

A fine search around the candidate (the few best separate peaks, since two events close in
space and time make a false peak between them), then robust maximum likelihood on the
detections consistent with each peak, grown by those consistent with the fit; the fit that
explains the most sensors wins.
"""

from __future__ import annotations

import math

import numpy as np

from linewatch.fusion.columns import Prepared
from linewatch.fusion.estimation import per_detection_chi2, travel_time
from linewatch.fusion.fitting import Fit, fit_rows, n_meas, one_per_sensor
from linewatch.fusion.params import FusionParams

__all__ = ["refine"]


def refine(p: Prepared, rows: np.ndarray, x: float, y: float, t0: float, c: float,
           params: FusionParams) -> Fit | None:
    """Fine search around a coarse candidate, then robust ML on the consistent detections.

    Two events close in space and time make a false peak between them, where detections of
    both agree on a source; so the few best separate peaks of the fine search are each fitted,
    and the fit that explains the most sensors wins."""
    toa = rows[p.toa[rows]]
    # only arrival times the fine search can count: within 11 s of the candidate's prediction
    # (its tolerance, 2.1 km of offset at most, and the effect of a wind of up to 10 m/s)
    r = np.hypot(p.sx[p.sensor[toa]] - x, p.sy[p.sensor[toa]] - y)
    toa = toa[np.abs(p.t[toa] - t0 - r / c) <= 11.0]
    best = None
    peaks = _fine_peaks(p, toa, x, y, t0, c, params.wind_m_s, 250.0, 1.5 * params.grid_m, 1.0, k=3)
    # the coarse search's wide bins admit chance coincidences of clutter; where even the best
    # fine peak holds fewer than one under the floor, no fit can reach it (measured: none did)
    if not peaks or peaks[0][3] < params.min_sensors - 1:
        return None
    for cx, cy, ct, _ in peaks:
        start = _fine_peaks(p, toa, cx, cy, ct, c, params.wind_m_s, 50.0, 250.0, 0.3, k=1)
        fit = _consistent_fit(p, rows, *start[0][:3], c, params) if start else None
        if fit is not None and (best is None or _strength(p, fit) > _strength(p, best)):
            best = fit
    return best


def _strength(p: Prepared, fit: Fit) -> tuple[int, float]:
    return len(np.unique(p.sensor[fit.rows])), -fit.chi2 / fit.dof


def _fine_peaks(p: Prepared, toa: np.ndarray, x: float, y: float, t0: float, c: float,
                wind: tuple[float, float], step_m: float, half_m: float, tol_s: float, *,
                k: int) -> list[tuple[float, float, float, int]]:
    """Up to ``k`` separate grid points (``step_m`` apart, within ``half_m`` of ``(x, y)``)
    where the most arrival times agree on an origin time within ``tol_s`` of ``t0``: the
    fullest pair of time bins; each with the mean origin time of those detections and their
    number, best first."""
    sx, sy = p.sx[p.sensor[toa]], p.sy[p.sensor[toa]]
    offs = np.arange(-half_m, half_m + step_m / 2, step_m)
    mesh_x, mesh_y = np.meshgrid(x + offs, y + offs, indexing="ij")
    gx, gy = mesh_x.ravel(), mesh_y.ravel()
    t0s = p.t[toa][None, :] - travel_time(gx[:, None] - sx[None, :], gy[:, None] - sy[None, :], c, wind)
    width = 0.15 + step_m / (2 * c)
    lo_t = t0 - tol_s - step_m / c
    nb = int(math.ceil(2 * (tol_s + step_m / c) / width)) + 1
    bins = np.floor((t0s - lo_t) / width).astype(np.int64)
    gi, di = np.nonzero((bins >= 0) & (bins < nb))
    flat_bins = gi * (nb + 1) + bins[gi, di]
    size = len(gx) * (nb + 1)
    hist = np.bincount(flat_bins, minlength=size).reshape(len(gx), nb + 1).astype(float)
    sums = np.bincount(flat_bins, weights=t0s[gi, di], minlength=size).reshape(len(gx), nb + 1)
    pair = hist[:, :-1] + hist[:, 1:]
    j = np.argmax(pair, axis=1)
    count = pair[np.arange(len(gx)), j]
    out: list[tuple[float, float, float, int]] = []
    top = count.max() if len(count) else 0.0
    for i in np.argsort(-count, kind="stable"):
        if count[i] == 0 or count[i] < 0.6 * top or len(out) == k:
            break
        if any(math.hypot(gx[i] - ox, gy[i] - oy) < 2.5 * step_m for ox, oy, *_ in out):
            continue
        out.append((float(gx[i]), float(gy[i]),
                    float((sums[i, j[i]] + sums[i, j[i] + 1]) / count[i]), int(count[i])))
    return out


def _consistent_fit(p: Prepared, rows: np.ndarray, x: float, y: float, t0: float, c: float,
                    params: FusionParams) -> Fit | None:
    """Robust ML from a fine start on the detections consistent with it (arrival times within
    a wide gate, bearings and fixes that agree), then grown by those consistent with the fit."""
    m = p.measurements(rows, c, params, x, y)
    chi2 = per_detection_chi2(x, y, t0, m, c, params.wind_m_s)
    cand = rows[chi2 <= (params.gate_sigma * 2) ** 2 * n_meas(m)]
    if len(cand) < params.min_sensors:
        return None
    fit = fit_rows(p, cand, x, y, t0, c, params)
    # grow: from a start off by a cell, the gate drops the sensors nearest the source (whose
    # residuals are largest there); at the fitted source, take every consistent detection again
    for _ in range(2):
        if fit is None:
            return None
        m = p.measurements(rows, c, params, fit.x, fit.y)
        chi2 = per_detection_chi2(fit.x, fit.y, fit.t0, m, c, params.wind_m_s)
        ok = chi2 <= params.gate_sigma ** 2 * n_meas(m)
        grown = rows[ok & one_per_sensor(p, rows, np.where(ok, chi2, np.inf))]
        if len(grown) <= len(fit.rows) or set(grown.tolist()) == set(fit.rows.tolist()):
            break
        bigger = fit_rows(p, grown, fit.x, fit.y, fit.t0, c, params)
        if bigger is None or len(bigger.rows) <= len(fit.rows):
            break
        fit = bigger
    return fit
