"""Ghost control by detection pattern: is a candidate an event, or clutter that fits?

Learned from the data itself (the block's strong incidents and its leftover detections), two
things: the chance that an arrival-time sensor hears an event at a given distance,
``p(d)`` (binned, with a prior of a few pseudo-counts from the detection curve of
``params.detection_range_m``), and each sensor's own clutter rate ``λ_s`` (its detections
that no strong incident took, per second). Before any incident of the block is known (the
first pass), the prior alone, and every detection counted as clutter: a stricter test.

A candidate then passes when the log-likelihood ratio of "an event here" against "clutter
only" reaches ``params.ghost_llr``:

    Σ over its arrival times  [log p(d_s) − log(λ_s σ_s √(2π)) − z_s² / 2]
  + Σ over its bearings       [log 2π − log(σ_b √(2π)) − z_b² / 2]
  + Σ over the sensors in reach that stayed silent  log(1 − p(d_s))

A ghost inside the network fails on its silent neighbours; one at the network's edge, heard by
few, on its picks' likelihood against each sensor's clutter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from linewatch.fusion.columns import Prepared
from linewatch.fusion.estimation import travel_time
from linewatch.fusion.fitting import Fit
from linewatch.fusion.params import FusionParams

__all__ = ["DetectionPattern", "candidate_bounds", "heard_sensors"]

_BIN_M = 2_000.0
_PRIOR_WEIGHT = 3.0
_P_RANGE = (0.01, 0.99)


@dataclass(frozen=True)
class DetectionPattern:
    """``p(d)`` by distance bin (``_BIN_M`` wide, from 0 to ``max_range_m``) and the clutter
    rate of every sensor, per second."""

    p_heard: np.ndarray
    clutter_per_s: np.ndarray

    @classmethod
    def learn(cls, p: Prepared, fits: Sequence[Fit], alive: np.ndarray, leftover: np.ndarray,
              duration_s: float, params: FusionParams) -> DetectionPattern:
        """From strong incidents ``fits``, the ``alive`` sensors, and the ``leftover``
        detections (rows no incident took) over ``duration_s`` seconds.

        >>> from linewatch.fusion.columns import Prepared
        >>> import numpy as np
        >>> z = np.zeros(0)
        >>> p = Prepared(np.zeros(1), np.zeros(1), np.zeros(0, int), z, z, z, z, z, z, z, z, z,
        ...              z, np.zeros(0, object), np.zeros(0, bool), np.ones(1, bool))
        >>> pat = DetectionPattern.learn(p, [], np.ones(1, bool), np.zeros(0, int), 600.0,
        ...                              FusionParams())
        >>> round(float(pat.p_at(np.array([1000.0]))[0]), 2)     # the prior, near
        0.95
        """
        n_bins = int(math.ceil(params.max_range_m / _BIN_M))
        centres = (np.arange(n_bins) + 0.5) * _BIN_M
        r50 = 0.5 * (params.detection_range_m[0] + params.detection_range_m[1])
        prior = 0.95 / (1.0 + np.exp((centres - r50) / 2_000.0))
        heard = prior * _PRIOR_WEIGHT
        total = np.full(n_bins, _PRIOR_WEIGHT)
        listening = np.flatnonzero(alive & p.sensor_toa)
        for f in fits:
            d = np.hypot(p.sx[listening] - f.x, p.sy[listening] - f.y)
            near = d < n_bins * _BIN_M
            b = (d[near] / _BIN_M).astype(np.int64)
            got = np.isin(listening[near], p.sensor[f.rows[p.toa[f.rows]]])
            total += np.bincount(b, minlength=n_bins)
            heard += np.bincount(b, weights=got.astype(float), minlength=n_bins)
        p_heard = np.clip(heard / total, *_P_RANGE)
        toa = leftover[p.toa[leftover]]
        counts = np.bincount(p.sensor[toa], minlength=len(p.sx)).astype(float)
        clutter = (counts + 0.5) / max(duration_s, 1.0)
        return cls(p_heard, clutter)

    def p_at(self, d: np.ndarray) -> np.ndarray:
        """The chance of hearing an event at each distance (the farthest bin beyond)."""
        b = np.minimum((np.asarray(d) / _BIN_M).astype(np.int64), len(self.p_heard) - 1)
        out: np.ndarray = self.p_heard[b]
        return out

    def llr(self, p: Prepared, fit: Fit, alive: np.ndarray, c: float, params: FusionParams,
            everything: np.ndarray) -> float:
        """The log-likelihood ratio of the fit's event against clutter only; a sensor is
        silent if none of ``everything`` (the rows, sorted by time, taken or not) is an
        arrival at it from the fit's source."""
        rows = fit.rows[p.toa[fit.rows]]
        m = p.measurements(rows, c, params, fit.x, fit.y)
        dx, dy = fit.x - m.sensor_x, fit.y - m.sensor_y
        d = np.hypot(dx, dy)
        z = (m.time_s - fit.t0 - travel_time(dx, dy, c, params.wind_m_s)) / m.toa_sd_s
        lam = self.clutter_per_s[p.sensor[rows]]
        total = float(np.sum(np.log(self.p_at(d)) - np.log(lam * m.toa_sd_s * math.sqrt(2 * math.pi))
                             - 0.5 * z * z))
        has_b = np.isfinite(m.bearing_rad)
        if has_b.any():
            miss = np.angle(np.exp(1j * (m.bearing_rad[has_b] - np.arctan2(dx[has_b], dy[has_b]))))
            sd = m.bearing_sd_rad[has_b]
            total += float(np.sum(math.log(2 * math.pi) - np.log(sd * math.sqrt(2 * math.pi))
                                  - 0.5 * (miss / sd) ** 2))
        listening = np.flatnonzero(alive & p.sensor_toa)
        silent = np.setdiff1d(listening, heard_sensors(p, everything, fit, c, params))
        ds = np.hypot(p.sx[silent] - fit.x, p.sy[silent] - fit.y)
        ds = ds[ds <= params.max_range_m]
        return total + float(np.sum(np.log1p(-self.p_at(ds))))

    def bound(self, p: Prepared, x: float, y: float, t0: float, support: np.ndarray,
              alive: np.ndarray, c: float, params: FusionParams, everything: np.ndarray,
              slack_s: float) -> float:
        """An upper bound of :meth:`llr` for a candidate at ``(x, y, t0)`` held by the
        ``support`` detections, one per sensor (every arrival time's residual taken as
        nought, every bearing as pointing within a cell of the candidate, a sensor silent only
        if nothing at all arrived within ``slack_s`` of its time)."""
        sensor = p.sensor[support]
        dx, dy = x - p.sx[sensor], y - p.sy[sensor]
        d = np.hypot(dx, dy)
        sd = np.hypot(p.pick_sd[support], params.celerity_jitter * d / c)
        gain = (np.log(self.p_at(d))
                - np.log(self.clutter_per_s[sensor] * sd * math.sqrt(2 * math.pi)))
        has_b = np.isfinite(p.bearing[support])
        if has_b.any():
            b_sd = p.bearing_sd[support][has_b]
            miss = np.abs(np.angle(np.exp(1j * (p.bearing[support][has_b]
                                                 - np.arctan2(dx[has_b], dy[has_b])))))
            slack = np.arctan2(params.grid_m * math.sqrt(0.5), np.maximum(d[has_b], 1.0))
            z = np.maximum(miss - slack, 0.0) / b_sd
            gain[has_b] += math.log(2 * math.pi) - np.log(b_sd * math.sqrt(2 * math.pi)) - 0.5 * z * z
        # a detection that would lower the ratio may be left out of the fit
        total = float(np.sum(np.maximum(gain, 0.0)))
        listening = np.flatnonzero(alive & p.sensor_toa)
        ds = np.hypot(p.sx[listening] - x, p.sy[listening] - y)
        listening, ds = listening[ds <= params.max_range_m], ds[ds <= params.max_range_m]
        lo = np.searchsorted(p.t[everything], t0 - slack_s, "left")
        hi = np.searchsorted(p.t[everything], t0 + params.max_range_m / c + slack_s, "right")
        win = everything[lo:hi]
        win = win[p.toa[win]]
        dt = p.t[win] - t0 - np.hypot(p.sx[p.sensor[win]] - x, p.sy[p.sensor[win]] - y) / c
        heard = np.unique(p.sensor[win[np.abs(dt) <= slack_s]])
        silent = ~np.isin(listening, heard)
        return total + float(np.sum(np.log1p(-self.p_at(ds[silent]))))


def candidate_bounds(pattern: DetectionPattern, p: Prepared, cands: np.ndarray,
                     free: np.ndarray, everything: np.ndarray, alive: np.ndarray, c: float,
                     params: FusionParams, slack_s: float) -> np.ndarray:
    """:meth:`DetectionPattern.bound` of many candidates (rows of score, x, y, t0) at once,
    sensor by sensor: for each, the best of (up to three of) its free arrivals within
    ``slack_s`` of the time a source at the candidate would reach it, or its silence if
    nothing at all arrived then. ``free`` only shrinks as incidents take detections, so a
    candidate whose bound is below ``params.ghost_llr`` now never passes later."""
    x, y, t0 = cands[:, 1], cands[:, 2], cands[:, 3]
    total = np.zeros(len(cands))
    ev = everything[p.toa[everything]]
    fr = free[p.toa[free]]
    ev = ev[np.lexsort((p.t[ev], p.sensor[ev]))]
    fr = fr[np.lexsort((p.t[fr], p.sensor[fr]))]
    for s in np.flatnonzero(alive & p.sensor_toa).tolist():
        d = np.hypot(p.sx[s] - x, p.sy[s] - y)
        reach = d <= params.max_range_m
        if not reach.any():
            continue
        arrive = t0 + d / c
        heard_any = _any_within(p.t[_of_sensor(p, ev, s)], arrive, slack_s)
        total[reach & ~heard_any] += np.log1p(-pattern.p_at(d[reach & ~heard_any]))
        mine = _of_sensor(p, fr, s)
        if len(mine):
            total += _best_gain(pattern, p, mine, s, x, y, d, arrive, c, params, slack_s) * reach
    return total


def _of_sensor(p: Prepared, rows: np.ndarray, s: int) -> np.ndarray:
    """The rows of sensor ``s`` among ``rows`` sorted by (sensor, time)."""
    lo, hi = np.searchsorted(p.sensor[rows], [s, s + 1])
    return rows[lo:hi]


def _any_within(times: np.ndarray, at: np.ndarray, slack_s: float) -> np.ndarray:
    """Whether any of ``times`` (sorted) lies within ``slack_s`` of each of ``at``."""
    if not len(times):
        return np.zeros(len(at), bool)
    k = np.searchsorted(times, at - slack_s)
    ok: np.ndarray = (k < len(times)) & (times[np.minimum(k, len(times) - 1)] <= at + slack_s)
    return ok


def _best_gain(pattern: DetectionPattern, p: Prepared, mine: np.ndarray, s: int, x: np.ndarray,
               y: np.ndarray, d: np.ndarray, arrive: np.ndarray, c: float,
               params: FusionParams, slack_s: float) -> np.ndarray:
    """The most one free arrival of sensor ``s`` (rows ``mine``, by time) within ``slack_s``
    of ``arrive`` can add to each candidate's ratio (nought if none)."""
    times = p.t[mine]
    k0 = np.searchsorted(times, arrive - slack_s)
    best = np.zeros(len(arrive))
    base = np.log(pattern.p_at(d)) - np.log(pattern.clutter_per_s[s] * math.sqrt(2 * math.pi))
    for step in range(3):
        k = k0 + step
        ok = k < len(times)
        kk = np.minimum(k, len(times) - 1)
        ok &= times[kk] <= arrive + slack_s
        if not ok.any():
            break
        row = mine[kk]
        sd = np.hypot(p.pick_sd[row], params.celerity_jitter * d / c)
        gain = base - np.log(sd)
        bearing = p.bearing[row]
        has_b = np.isfinite(bearing)
        if has_b.any():
            b_sd = p.bearing_sd[row]
            miss = np.abs(np.angle(np.exp(1j * (bearing - np.arctan2(x - p.sx[s], y - p.sy[s])))))
            slack = np.arctan2(params.grid_m * math.sqrt(0.5), np.maximum(d, 1.0))
            z = np.maximum(miss - slack, 0.0) / b_sd
            b_gain = math.log(2 * math.pi) - np.log(b_sd * math.sqrt(2 * math.pi)) - 0.5 * z * z
            gain = np.where(has_b, gain + b_gain, gain)
        best = np.where(ok, np.maximum(best, gain), best)
    return best


def heard_sensors(p: Prepared, rows: np.ndarray, fit: Fit, c: float,
                  params: FusionParams) -> np.ndarray:
    """The sensors with an arrival time among ``rows`` (sorted by time, whether an incident
    took it or not) that fits the source of ``fit``: they heard it, or heard something else
    just then, and are not silent."""
    lo = np.searchsorted(p.t[rows], fit.t0 - 5.0, "left")
    hi = np.searchsorted(p.t[rows], fit.t0 + params.max_range_m / c + 5.0, "right")
    win = rows[lo:hi]
    toa = win[p.toa[win]]
    if len(toa) == 0:
        return np.zeros(0, np.int64)
    m = p.measurements(toa, c, params, fit.x, fit.y)
    res = m.time_s - fit.t0 - travel_time(fit.x - m.sensor_x, fit.y - m.sensor_y, c,
                                          params.wind_m_s)
    ok = np.abs(res) <= params.gate_sigma * m.toa_sd_s + 0.5
    heard: np.ndarray = np.unique(p.sensor[toa[ok]])
    return heard
