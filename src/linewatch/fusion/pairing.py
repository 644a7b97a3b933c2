"""Pairing launches with the impacts they caused, and the side a launch was fired from.

* **Side.** P(launch on each party's side) from the signed distance to the line and its spread
  along the line's normal (``Agreement.side_probability``); below ``side_threshold`` the engine
  abstains (``side`` None).
* **Pairs.** Launches and impacts are matched one to one by time of flight and geometry (a
  speed within ``projectile_speed_m_s``, at most ``max_flight_m``; cost: how far the speed is
  from 300 m/s on a log scale, plus the time of flight over 10 minutes), by an optimal
  assignment (``scipy.optimize.linear_sum_assignment``) among the launches of one tile of the
  line and one hour, tiles and hours in order; an impact taken by an earlier tile or hour is
  gone. So the result does not depend on how the input was cut, and :class:`Pairer` can
  stream: it holds one hour back, until the impacts of the next hour are known.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import linear_sum_assignment

from linewatch.fusion.params import FusionParams
from linewatch.geo import WorkingFrame
from linewatch.model import Incident

if TYPE_CHECKING:
    from linewatch.agreement import Agreement

__all__ = ["INFEASIBLE", "Pairer", "attribute", "pair_cost", "pair_up"]

INFEASIBLE = 1e9


def attribute(incidents: list[Incident], agreement: Agreement | None,
              params: FusionParams) -> list[Incident]:
    """Every launch with its side probabilities and side (or None, abstaining)."""
    idx = [i for i, inc in enumerate(incidents) if inc.kind == "launch"]
    if not idx or agreement is None or agreement.line_index is None:
        return list(incidents)
    lon = np.array([incidents[i].lon for i in idx])
    lat = np.array([incidents[i].lat for i in idx])
    cov = np.array([incidents[i].cov_en_m2 for i in idx], dtype=float)
    probs = agreement.side_probability(agreement.place(lon, lat, cov))
    out = list(incidents)
    for k, i in enumerate(idx):
        sp = {party: round(float(v[k]), 6) for party, v in probs.items()}
        best = max(sp, key=lambda party: sp[party])
        out[i] = replace(out[i], side_probability=sp,
                         side=best if sp[best] >= params.side_threshold else None)
    return out


class Pairer:
    """Streaming pairing: :meth:`add` one hour's incidents (launches attributed) at a time, in
    time order; it returns the previous hour's, now final. :meth:`flush` returns the rest."""

    def __init__(self, frame: WorkingFrame, params: FusionParams,
                 tile_of: Callable[[np.ndarray, np.ndarray], np.ndarray]):
        self.frame, self.params, self.tile_of = frame, params, tile_of
        self.held: list[Incident] = []

    def add(self, incidents: list[Incident]) -> list[Incident]:
        n_held = len(self.held)
        pool = self._pair(self.held + list(incidents), n_launching=n_held)
        final, self.held = pool[:n_held], pool[n_held:]
        return final

    def flush(self) -> list[Incident]:
        out = self._pair(self.held, n_launching=len(self.held))
        self.held = []
        return out

    def _pair(self, pool: list[Incident], n_launching: int) -> list[Incident]:
        """Pair the unpaired launches among ``pool[:n_launching]`` with the unpaired impacts of
        the whole pool, tile by tile."""
        launches = [i for i in range(n_launching)
                    if pool[i].kind == "launch" and pool[i].pair_id is None]
        impacts = [i for i, inc in enumerate(pool) if inc.kind == "impact" and inc.pair_id is None]
        if not launches or not impacts:
            return pool
        xy = self.frame.to_xy(np.array([inc.lon for inc in pool]), np.array([inc.lat for inc in pool]))
        x, y = np.asarray(xy[0]), np.asarray(xy[1])
        t = np.array([inc.time_s for inc in pool])
        launches_a, impacts_a = np.array(launches), np.array(impacts)
        tiles = self.tile_of(x[launches_a], y[launches_a])
        out = list(pool)
        free = np.ones(len(impacts_a), bool)
        reach = self.params.max_flight_m
        for tile in np.unique(tiles):
            li = launches_a[tiles == tile]
            xi, yi = x[impacts_a], y[impacts_a]
            near = np.flatnonzero(free & (xi >= x[li].min() - reach) & (xi <= x[li].max() + reach)
                                  & (yi >= y[li].min() - reach) & (yi <= y[li].max() + reach))
            cost = pair_cost(x[li], y[li], t[li], xi[near], yi[near], t[impacts_a][near], self.params)
            cols = np.flatnonzero((cost < INFEASIBLE).any(axis=0))
            if len(cols) == 0:
                continue
            rows, picked = linear_sum_assignment(cost[:, cols])
            for r, k in zip(rows, cols[picked]):
                if cost[r, k] >= INFEASIBLE:
                    continue
                free[near[k]] = False
                a, b = int(li[r]), int(impacts_a[near[k]])
                out[a], out[b] = pair_up(out[a], out[b])
        return out


def pair_cost(lx: np.ndarray, ly: np.ndarray, lt: np.ndarray, ix: np.ndarray, iy: np.ndarray,
          it: np.ndarray, params: FusionParams) -> np.ndarray:
    """The cost of pairing each launch (rows) with each impact (columns): how far the speed
    is from 300 m/s on a log scale, plus the time of flight over 10 minutes; ``INFEASIBLE``
    where the flight is impossible.

    A launch at the origin at time 0, and two impacts 3 km east, 10 s and 1 s later:

    >>> at_0 = np.zeros(1)
    >>> cost = pair_cost(at_0, at_0, at_0, np.array([3000.0, 3000.0]), np.zeros(2),
    ...              np.array([10.0, 1.0]), FusionParams())
    >>> round(float(cost[0, 0]), 4), bool(cost[0, 1] == INFEASIBLE)   # 300 m/s; 3 km/s
    (0.0167, True)
    """
    dist = np.hypot(lx[:, None] - ix[None, :], ly[:, None] - iy[None, :])
    tof = it[None, :] - lt[:, None]
    vmin, vmax = params.projectile_speed_m_s
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = dist / tof
    ok = (tof > 0) & (speed >= vmin) & (speed <= vmax) & (dist <= params.max_flight_m)
    cost = np.full(dist.shape, INFEASIBLE)
    cost[ok] = np.abs(np.log(speed[ok] / 300.0)) + tof[ok] / 600.0
    return cost


def pair_up(launch: Incident, impact: Incident) -> tuple[Incident, Incident]:
    pair = "pair-" + hashlib.sha256((launch.id + impact.id).encode()).hexdigest()[:10]
    return (replace(launch, pair_id=pair),
            replace(impact, pair_id=pair, side_probability=launch.side_probability, side=launch.side))
