"""Allegations for a simulated scenario, each with the verdict it deserves.

From a simulation's ground truth (:mod:`linewatch.sim.world`), draw the kinds of claim a
mission receives (issue 4, "Tests and measures"):

* **true**: the party whose side an impact hit alleges shelling there, against the party
  that fired: expected *corroborated*;
* **wrong perpetrator**: the party that fired alleges that the *other* party shelled the place
  (on the other party's side): expected *contradicted*;
* **false**: shelling alleged where and when nothing happened (no true event within
  ``clear_m`` and ``clear_s``) inside the area the sensor rows watch: expected
  *not corroborated*;
* **uncovered**: shelling alleged far behind the line, where no sensor hears (placed by the
  caller's coverage model below ``max_coverage``): expected *unverifiable*.

Pure and seeded: the same simulation and seed give the same allegations.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from linewatch.model import Truth, utc_datetime
from linewatch.verification import Allegation, AllegationKind, AllegationVerdict, AllegedPlace

__all__ = ["ScriptedAllegation", "simulate_allegations"]


@dataclass(frozen=True)
class ScriptedAllegation:
    allegation: Allegation
    case: str                        # true, wrong_perpetrator, false, uncovered
    expected: AllegationVerdict


def simulate_allegations(truth: Truth, agreement, *, seed: int, n_true: int = 20,
                         n_wrong: int = 10, n_false: int = 20, n_uncovered: int = 10,
                         place_error_m: float = 600.0, radius_m: float = 1_500.0,
                         covered_depth_km: tuple[float, float] = (2.0, 8.0),
                         uncovered_depth_km: tuple[float, float] = (35.0, 45.0),
                         clear_m: float = 6_000.0, clear_s: float = 3_600.0,
                         coverage: Callable[[float, float, float], float] | None = None,
                         min_coverage: float = 0.5,
                         max_coverage: float = 0.05) -> list[ScriptedAllegation]:
    """Scripted allegations (see the module docstring), in a seeded random order.

    ``coverage(lon, lat, time_s)`` (optional) is the caller's detection probability: places of
    false allegations are redrawn until it is at least ``min_coverage`` and uncovered ones
    until it is below ``max_coverage``."""
    rng = np.random.default_rng(seed)
    frame = agreement.frame
    line = agreement.line_index
    ex, ey = frame.to_xy(truth.lon, truth.lat)
    t_lo, t_hi = float(truth.time_s.min()), float(truth.time_s.max())
    impacts = np.flatnonzero(truth.kind == "impact")
    launch_side = {int(p): str(s) for p, s, k in zip(truth.pair_id, truth.side, truth.kind)
                   if k == "launch"}
    impacts = np.array([i for i in impacts if int(truth.pair_id[i]) in launch_side], dtype=int)
    chosen = rng.permutation(impacts)
    out: list[ScriptedAllegation] = []

    def window(t: float) -> tuple[datetime, datetime]:
        before, after = rng.uniform(300, 1800), rng.uniform(600, 2400)
        return utc_datetime(round(t - before)), utc_datetime(round(t + after))

    def near(i: int) -> tuple[float, float]:
        r = place_error_m * math.sqrt(rng.uniform())
        a = rng.uniform(0, 2 * math.pi)
        lon, lat = frame.to_lonlat(ex[i] + r * math.sin(a), ey[i] + r * math.cos(a))
        return float(lon), float(lat)

    def make(k: int, case: str, by: str, against: str, lon: float, lat: float, start, end,
             expected: AllegationVerdict) -> None:
        out.append(ScriptedAllegation(Allegation(
            id=f"sim-{case}-{k:03d}", alleging_party=by, accused_party=against,
            kind=AllegationKind.SHELLING, start=start, end=end,
            place=AllegedPlace(lon, lat, radius_m), received_time=end + timedelta(hours=2),
            source_kind="statement", source_reference=f"simulated {case} claim {k}"),
            case, expected))

    take = iter(chosen)
    for k in range(n_true):
        i = next(take, None)
        if i is None:
            break
        victim, shooter = str(truth.side[i]), launch_side[int(truth.pair_id[i])]
        make(k, "true", victim, shooter, *near(i), *window(truth.time_s[i]),
             AllegationVerdict.CORROBORATED)
    for k in range(n_wrong):
        i = next(take, None)
        if i is None:
            break
        shooter = launch_side[int(truth.pair_id[i])]
        make(k, "wrong_perpetrator", shooter, agreement.other_party(shooter), *near(i),
             *window(truth.time_s[i]), AllegationVerdict.CONTRADICTED)

    # only where the scenario happened: segments within 10 km of its events' extent
    seg_len = np.sqrt(line.len2)
    mx, my = line.ax + line.dx / 2, line.ay + line.dy / 2
    here = ((mx > ex.min() - 10_000) & (mx < ex.max() + 10_000)
            & (my > ey.min() - 10_000) & (my < ey.max() + 10_000))
    weights = np.where(here, seg_len, 0.0)
    weights = weights / weights.sum()

    def place_at_depth(depth_km: tuple[float, float], side_party: str) -> tuple[float, float]:
        """A point about ``depth_km`` from the line on ``side_party``'s side, along the normal
        of a segment drawn by length (where the line bends the depth is approximate)."""
        j = int(rng.choice(len(weights), p=weights))
        u = rng.uniform(0.0, 1.0)
        x, y = line.ax[j] + u * line.dx[j], line.ay[j] + u * line.dy[j]
        nx, ny = -line.dy[j] / seg_len[j], line.dx[j] / seg_len[j]     # left normal
        d = rng.uniform(*depth_km) * 1000.0 * (1.0 if agreement.side_of[side_party] == "left" else -1.0)
        lon, lat = frame.to_lonlat(x + d * nx, y + d * ny)
        return float(lon), float(lat)

    parties = list(agreement.party_ids)

    def nowhere_claims(n: int, case: str, depth_km: tuple[float, float],
                       acceptable: Callable[[float, float, float], bool],
                       expected: AllegationVerdict) -> None:
        """``n`` claims at random places and times that ``acceptable`` lets through."""
        k = tries = 0
        while k < n and tries < 100 * max(n, 1):
            tries += 1
            by = parties[int(rng.integers(2))]
            lon, lat = place_at_depth(depth_km, by)
            t = float(rng.uniform(t_lo, t_hi))
            if not acceptable(lon, lat, t):
                continue
            make(k, case, by, agreement.other_party(by), lon, lat, *window(t), expected)
            k += 1

    def quiet_and_watched(lon: float, lat: float, t: float) -> bool:
        x, y = frame.to_xy(lon, lat)
        busy = (np.hypot(ex - x, ey - y) < clear_m) & (np.abs(truth.time_s - t) < clear_s)
        return not busy.any() and (coverage is None or coverage(lon, lat, t) >= min_coverage)

    nowhere_claims(n_false, "false", covered_depth_km, quiet_and_watched,
                   AllegationVerdict.NOT_CORROBORATED)
    nowhere_claims(n_uncovered, "uncovered", uncovered_depth_km,
                   lambda lon, lat, t: coverage is None or coverage(lon, lat, t) < max_coverage,
                   AllegationVerdict.UNVERIFIABLE)
    order = rng.permutation(len(out))
    return [out[i] for i in order]
