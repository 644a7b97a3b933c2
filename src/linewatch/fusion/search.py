"""Best-first search with exclusivity: from the stack's candidates to located groups.

Candidates wait in a priority queue by score. A candidate popped is first counted again on the
detections still free (distinct sensors whose implied origin time falls within
``recount_s`` of its own); if the count dropped, it goes back with the new count. Otherwise it
is refined (:func:`focus`, then :func:`locate`) and goes back with the refined count. A refined
candidate popped again with all its detections still free is offered to ``accept``; if it
passes, its detections are taken. So the strongest sources take their detections first, and a
weaker, partial fit never forms from them.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

import numpy as np
from scipy.special import chdtri

from linewatch.fusion.columns import Prepared
from linewatch.fusion.estimation import _wrap, per_detection_chi2, travel_time
from linewatch.fusion.fitting import Fit, fit_rows, n_meas, one_per_sensor
from linewatch.fusion.params import FusionParams

__all__ = ["best_first", "focus", "gate_chi2", "locate", "n_toa_sensors", "trim"]

#: Accepts (True) or rejects a refined fit that still holds all its detections.
Accept = Callable[[Fit], bool]
#: Whether a candidate at (x, y, t0) whose support is the given detections could pass ``accept``
#: at all (cheap, before the refinement).
Promising = Callable[[float, float, float, np.ndarray], bool]

_MAX_REFINES = 3


def n_toa_sensors(p: Prepared, fit: Fit) -> int:
    """Distinct sensors whose arrival time the fit holds."""
    return len(np.unique(p.sensor[fit.rows[p.toa[fit.rows]]]))


def best_first(p: Prepared, rows: np.ndarray, free: np.ndarray, cands: np.ndarray, c: float,
               params: FusionParams, floor: int, accept: Accept, stats: dict[str, int],
               promising: Promising | None = None) -> list[Fit]:
    """Run the queue over ``cands`` (rows of score, x, y, t0); ``free`` (over ``rows``, which
    are sorted by time) is updated as fits take their detections. Returns the fits accepted."""
    heap: list[tuple[float, int, float, float, float, int]] = [
        (-float(s), k, float(x), float(y), float(t0), 0) for k, (s, x, y, t0) in enumerate(cands)]
    heapq.heapify(heap)
    fits: dict[int, Fit] = {}
    out: list[Fit] = []
    seq = len(heap)
    while heap:
        neg, k, x, y, t0, refines = heapq.heappop(heap)
        stats["pops"] = stats.get("pops", 0) + 1
        fit = fits.pop(k, None)
        if fit is not None and free[np.searchsorted(rows, fit.rows)].all():
            if accept(fit):
                free[np.searchsorted(rows, fit.rows)] = False
                out.append(fit)
            else:
                stats["refused"] = stats.get("refused", 0) + 1
            continue
        support = _support(p, rows[free], x, y, t0, c, params)
        n = len(support)
        if n < floor:
            continue
        if fit is None and n < -neg:
            heapq.heappush(heap, (-float(n), k, x, y, t0, refines))
            continue
        if refines >= _MAX_REFINES:
            continue
        if refines == 0 and promising is not None and not promising(
                x, y, t0, _support(p, rows[free], x, y, t0, c, params, _cell_slack(c, params))):
            stats["hopeless"] = stats.get("hopeless", 0) + 1
            continue
        stats["refinements"] = stats.get("refinements", 0) + 1
        fit = _refine(p, rows[free], x, y, t0, c, params, floor)
        if fit is None:
            stats["refinements_failed"] = stats.get("refinements_failed", 0) + 1
            continue
        seq += 1
        fits[seq] = fit
        # a located group of n sensors goes before every raw candidate of n votes or fewer
        # (votes bound the sensors from above): the siblings of its peak then find its
        # detections taken, and are dropped without a refinement of their own
        heapq.heappush(heap, (-(n_toa_sensors(p, fit) + 0.5 - 1e-3 * min(fit.chi2 / fit.dof, 100.0)), seq,
                              fit.x, fit.y, fit.t0, refines + 1))
    return out


def _window(p: Prepared, rows: np.ndarray, t0: float, c: float, params: FusionParams,
            slack_s: float) -> np.ndarray:
    """The rows (sorted by time) whose time could be an arrival from an origin at ``t0``."""
    lo = np.searchsorted(p.t[rows], t0 - slack_s, "left")
    hi = np.searchsorted(p.t[rows], t0 + params.max_range_m / c + slack_s, "right")
    return rows[lo:hi]


def _implied(p: Prepared, toa: np.ndarray, x: float, y: float, c: float,
             params: FusionParams) -> np.ndarray:
    """The origin times the arrival times ``toa`` imply at a source at ``(x, y)``."""
    dx, dy = x - p.sx[p.sensor[toa]], y - p.sy[p.sensor[toa]]
    out: np.ndarray = p.t[toa] - travel_time(dx, dy, c, params.wind_m_s)
    return out


def _cell_slack(c: float, params: FusionParams) -> float:
    """How far from a candidate's origin time an arrival of its source may imply one: the
    support's window and the travel time over half a cell's diagonal."""
    return params.recount_s + params.grid_m * math.sqrt(0.5) / c


def _support(p: Prepared, free: np.ndarray, x: float, y: float, t0: float, c: float,
             params: FusionParams, within_s: float | None = None) -> np.ndarray:
    """The free arrival times implying an origin within ``within_s`` (``recount_s``), one
    per sensor."""
    within_s = params.recount_s if within_s is None else within_s
    win = _window(p, free, t0, c, params, within_s)
    toa = win[p.toa[win]]
    if len(toa) == 0:
        return np.zeros(0, np.int64)
    ok = np.abs(_implied(p, toa, x, y, c, params) - t0) <= within_s
    toa = toa[ok]
    first = np.unique(p.sensor[toa], return_index=True)[1]
    support: np.ndarray = toa[first]
    return support


def _refine(p: Prepared, free: np.ndarray, x: float, y: float, t0: float, c: float,
            params: FusionParams, floor: int) -> Fit | None:
    """A candidate's located group among the free detections, or None."""
    win = _window(p, free, t0, c, params, 10.0)
    toa = win[p.toa[win]]
    if len(toa) == 0:
        return None
    toa = toa[np.abs(_implied(p, toa, x, y, c, params) - t0) <= params.gather_s]
    if len(np.unique(p.sensor[toa])) < floor:
        return None
    start = focus(p, toa, x, y, t0, c, params)
    if start is None or len(np.unique(p.sensor[start[3]])) < floor:
        return None
    return locate(p, win, *start, c, params, floor)


def focus(p: Prepared, toa: np.ndarray, x: float, y: float, t0: float, c: float,
          params: FusionParams) -> tuple[float, float, float, np.ndarray] | None:
    """A fine grid search around ``(x, y)``: the point where most arrival times imply one
    origin time (±1.5 km at 250 m in a window of 1.2 s, then ±250 m at 50 m in 0.4 s); that
    point, the mean origin time, and the arrival times within 0.3 s of it, one per sensor."""
    best = (x, y, t0)
    for half_m, step_m, window_s in ((1_500.0, 250.0, 1.2), (250.0, 50.0, 0.4)):
        found = _densest(p, toa, best[0], best[1], c, params, half_m, step_m, window_s)
        if found is None:
            return None
        best = found
    bx, by, bt = best
    res = np.abs(_implied(p, toa, bx, by, c, params) - bt)
    near = res <= 0.3
    rows = toa[near]
    rows = rows[one_per_sensor(p, rows, res[near])]
    return bx, by, bt, rows


def _densest(p: Prepared, toa: np.ndarray, x: float, y: float, c: float, params: FusionParams,
             half_m: float, step_m: float, window_s: float) -> tuple[float, float, float] | None:
    """The grid point (and mean origin time) with the most implied origin times in a window."""
    offs = np.arange(-half_m, half_m + step_m / 2, step_m)
    mesh_x, mesh_y = np.meshgrid(x + offs, y + offs, indexing="ij")
    gx, gy = mesh_x.ravel(), mesh_y.ravel()
    sx, sy = p.sx[p.sensor[toa]], p.sy[p.sensor[toa]]
    ref = float(p.t[toa[0]])
    implied = (p.t[toa] - ref)[None, :] - travel_time(gx[:, None] - sx[None, :],
                                                      gy[:, None] - sy[None, :], c, params.wind_m_s)
    s = np.sort(implied, axis=1)
    n_g, n = s.shape
    span = float(s[:, -1].max() - s[:, 0].min()) + 2 * window_s + 1.0
    flat = (s - s[:, :1] + (np.arange(n_g) * span)[:, None]).ravel()
    ends = np.searchsorted(flat, flat + window_s, "right")
    counts = (ends - np.arange(n_g * n)).reshape(n_g, n)
    # a window may not run into the next grid point's row
    counts = np.minimum(counts, n - np.arange(n)[None, :])
    j = np.argmax(counts, axis=1)
    best = counts[np.arange(n_g), j]
    i = int(np.argmax(best))
    if best[i] == 0:
        return None
    t0 = float(np.mean(s[i, j[i]:j[i] + best[i]])) + ref
    return float(gx[i]), float(gy[i]), t0


def locate(p: Prepared, pool: np.ndarray, x: float, y: float, t0: float, seed: np.ndarray,
           c: float, params: FusionParams, floor: int) -> Fit | None:
    """Maximum likelihood from the focused start on its ``seed`` detections, then gathered
    again (up to four times) from ``pool`` within the gate, whose variance holds the location's
    own covariance; then trimmed (:func:`trim`)."""
    if len(np.unique(p.sensor[seed])) < floor:
        return None
    fit = fit_rows(p, seed, x, y, t0, c, params)
    for _ in range(4):
        if fit is None or n_toa_sensors(p, fit) < floor:
            return None
        near = _window(p, pool, fit.t0, c, params, 10.0)
        chi2 = gate_chi2(p, near, fit, c, params)
        ok = chi2 <= params.gather_sigma ** 2 * n_meas(p.measurements(near, c, params, fit.x, fit.y))
        ok &= _in_time(p, near, fit, c)
        grown = near[ok & one_per_sensor(p, near, np.where(ok, chi2, np.inf))]
        if np.array_equal(np.sort(grown), np.sort(fit.rows)):
            break
        fit = fit_rows(p, grown, fit.x, fit.y, fit.t0, c, params)
    if fit is None:
        return None
    fit = trim(p, fit, c, params)
    if fit is None or n_toa_sensors(p, fit) < floor:
        return None
    return fit


def _in_time(p: Prepared, rows: np.ndarray, fit: Fit, c: float) -> np.ndarray:
    """Detections without an informative arrival time (observers, fixes) reported within
    four of their time's standard deviations (and 2 s) of the sound's arrival, or the event."""
    r = np.hypot(p.sx[p.sensor[rows]] - fit.x, p.sy[p.sensor[rows]] - fit.y)
    late = np.where(np.isfinite(p.range_m[rows]), r / c, 0.0)
    ok: np.ndarray = p.toa[rows] | (np.abs(p.t[rows] - fit.t0 - late) <= 4 * p.pick_sd[rows] + 2.0)
    return ok


def gate_chi2(p: Prepared, rows: np.ndarray, fit: Fit, c: float,
              params: FusionParams) -> np.ndarray:
    """Each detection's squared whitened residual at the fit, its arrival time's and bearing's
    variance grown by the fit's own covariance projected on it (J C Jᵀ)."""
    m = p.measurements(rows, c, params, fit.x, fit.y)
    dx, dy = fit.x - m.sensor_x, fit.y - m.sensor_y
    r = np.maximum(np.hypot(dx, dy), 1.0)
    cov = np.linalg.pinv(fit.fisher)
    g_t = np.stack([dx / (r * c), dy / (r * c), np.ones_like(r)])
    var_t = m.toa_sd_s ** 2 + np.einsum("in,ij,jn->n", g_t, cov, g_t)
    g_b = np.stack([dy / r ** 2, -dx / r ** 2, np.zeros_like(r)])
    var_b = m.bearing_sd_rad ** 2 + np.einsum("in,ij,jn->n", g_b, cov, g_b)
    with np.errstate(invalid="ignore"):
        terms = np.array([
            (m.time_s - fit.t0 - travel_time(dx, dy, c, params.wind_m_s)) ** 2 / var_t,
            _wrap(m.bearing_rad - np.arctan2(dx, dy)) ** 2 / var_b,
            ((m.range_m - r) / m.range_sd_m) ** 2,
            (np.hypot(m.fix_x - fit.x, m.fix_y - fit.y) / m.fix_sd_m) ** 2])
    chi2: np.ndarray = np.where(np.isfinite(terms), terms, 0.0).sum(axis=0)
    return chi2


def trim(p: Prepared, fit: Fit, c: float, params: FusionParams) -> Fit | None:
    """While the fit's χ² exceeds its ``trim_quantile`` quantile, drop the detection that fits
    worst and fit again: clutter or another event's detections inside the gate otherwise give a
    tight, wrong ellipse."""
    while fit.chi2 > float(chdtri(fit.dof, 1.0 - params.trim_quantile)):
        if len(fit.rows) <= 4:
            return None
        m = p.measurements(fit.rows, c, params, fit.x, fit.y)
        worst = int(np.argmax(per_detection_chi2(fit.x, fit.y, fit.t0, m, c, params.wind_m_s)))
        new = fit_rows(p, np.delete(fit.rows, worst), fit.x, fit.y, fit.t0, c, params,
                       robust=False)
        if new is None:
            return None
        fit = new
    return fit if math.isfinite(fit.chi2) else None
