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
import numpy.typing as npt

from linewatch.agreement import Agreement
from linewatch.model import Truth, utc_datetime
from linewatch.verification import Allegation, AllegationKind, AllegationVerdict, AllegedPlace

__all__ = ["ScriptedAllegation", "simulate_allegations"]

#: ``coverage(lon, lat, time_s)``: the caller's detection probability there and then.
Coverage = Callable[[float, float, float], float]


@dataclass(frozen=True)
class ScriptedAllegation:
    """An allegation, the case it was drawn for, and the verdict it deserves."""

    allegation: Allegation
    case: str                        # true, wrong_perpetrator, false, uncovered
    expected: AllegationVerdict


def simulate_allegations(truth: Truth, agreement: Agreement, *, seed: int, n_true: int = 20,
                         n_wrong: int = 10, n_false: int = 20, n_uncovered: int = 10,
                         place_error_m: float = 600.0, radius_m: float = 1_500.0,
                         covered_depth_km: tuple[float, float] = (2.0, 8.0),
                         uncovered_depth_km: tuple[float, float] = (35.0, 45.0),
                         clear_m: float = 6_000.0, clear_s: float = 3_600.0,
                         coverage: Coverage | None = None,
                         min_coverage: float = 0.5,
                         max_coverage: float = 0.05) -> list[ScriptedAllegation]:
    """Scripted allegations (see the module docstring), in a seeded random order.

    ``coverage(lon, lat, time_s)`` (optional) is the caller's detection probability: places of
    false allegations are redrawn until it is at least ``min_coverage`` and uncovered ones
    until it is below ``max_coverage``."""
    s = _Script(truth, agreement, np.random.default_rng(seed), place_error_m, radius_m)
    s.impact_claims(n_true, n_wrong)
    s.zone_weights()

    def quiet_and_watched(lon: float, lat: float, t: float) -> bool:
        x, y = s.frame.to_xy(lon, lat)
        busy = (np.hypot(s.ex - x, s.ey - y) < clear_m) & (np.abs(truth.time_s - t) < clear_s)
        return not busy.any() and (coverage is None or coverage(lon, lat, t) >= min_coverage)

    def unwatched(lon: float, lat: float, t: float) -> bool:
        return coverage is None or coverage(lon, lat, t) < max_coverage

    s.nowhere_claims(n_false, "false", covered_depth_km, quiet_and_watched,
                     AllegationVerdict.NOT_CORROBORATED)
    s.nowhere_claims(n_uncovered, "uncovered", uncovered_depth_km, unwatched, AllegationVerdict.UNVERIFIABLE)
    order = s.rng.permutation(len(s.out))
    return [s.out[i] for i in order]


class _Script:
    """The draws of :func:`simulate_allegations`, in the order the seed fixes."""

    def __init__(self, truth: Truth, agreement: Agreement, rng: np.random.Generator,
                 place_error_m: float, radius_m: float) -> None:
        if agreement.line_index is None:
            raise ValueError(f"agreement {agreement.id!r} has no line: scripted allegations need one")
        self.truth, self.agreement, self.rng = truth, agreement, rng
        self.place_error_m, self.radius_m = place_error_m, radius_m
        self.frame = agreement.frame
        self.line = agreement.line_index
        self.ex, self.ey = self.frame.to_xy(truth.lon, truth.lat)
        self.t_lo, self.t_hi = float(truth.time_s.min()), float(truth.time_s.max())
        self.out: list[ScriptedAllegation] = []
        self.weights: npt.NDArray[np.float64] = np.zeros(0)

    def window(self, t: float) -> tuple[datetime, datetime]:
        """A window around ``t``, 5-30 min before and 10-40 min after."""
        before, after = self.rng.uniform(300, 1800), self.rng.uniform(600, 2400)
        return utc_datetime(round(t - before)), utc_datetime(round(t + after))

    def near(self, i: int) -> tuple[float, float]:
        """A place within ``place_error_m`` of event ``i``, uniform over the disc."""
        r = self.place_error_m * math.sqrt(self.rng.uniform())
        a = self.rng.uniform(0, 2 * math.pi)
        lon, lat = self.frame.to_lonlat(self.ex[i] + r * math.sin(a), self.ey[i] + r * math.cos(a))
        return float(lon), float(lat)

    def make(self, k: int, case: str, by: str, against: str, place: tuple[float, float],
             window: tuple[datetime, datetime], expected: AllegationVerdict) -> None:
        start, end = window
        self.out.append(ScriptedAllegation(Allegation(
            id=f"sim-{case}-{k:03d}", alleging_party=by, accused_party=against,
            kind=AllegationKind.SHELLING, start=start, end=end,
            place=AllegedPlace(place[0], place[1], self.radius_m), received_time=end + timedelta(hours=2),
            source_kind="statement", source_reference=f"simulated {case} claim {k}"),
            case, expected))

    def impact_claims(self, n_true: int, n_wrong: int) -> None:
        """True claims by the side hit, then claims naming the wrong perpetrator, on impacts
        drawn without replacement."""
        truth = self.truth
        impacts = np.flatnonzero(truth.kind == "impact")
        launch_side = {int(p): str(s) for p, s, k in zip(truth.pair_id, truth.side, truth.kind)
                       if k == "launch"}
        impacts = np.array([i for i in impacts if int(truth.pair_id[i]) in launch_side], dtype=int)
        take = iter(self.rng.permutation(impacts))
        for k in range(n_true):
            i = next(take, None)
            if i is None:
                break
            victim, shooter = str(truth.side[i]), launch_side[int(truth.pair_id[i])]
            self.make(k, "true", victim, shooter, self.near(i), self.window(truth.time_s[i]),
                      AllegationVerdict.CORROBORATED)
        for k in range(n_wrong):
            i = next(take, None)
            if i is None:
                break
            shooter = launch_side[int(truth.pair_id[i])]
            self.make(k, "wrong_perpetrator", shooter, self.agreement.other_party(shooter), self.near(i),
                      self.window(truth.time_s[i]), AllegationVerdict.CONTRADICTED)

    def zone_weights(self) -> None:
        """Draw weights of the line's segments: by length, only where the scenario happened
        (segments within 10 km of its events' extent)."""
        line, ex, ey = self.line, self.ex, self.ey
        mx, my = line.ax + line.dx / 2, line.ay + line.dy / 2
        here = ((mx > ex.min() - 10_000) & (mx < ex.max() + 10_000)
                & (my > ey.min() - 10_000) & (my < ey.max() + 10_000))
        weights = np.where(here, np.sqrt(line.len2), 0.0)
        self.weights = weights / weights.sum()

    def place_at_depth(self, depth_km: tuple[float, float], side_party: str) -> tuple[float, float]:
        """A point about ``depth_km`` from the line on ``side_party``'s side, along the normal
        of a segment drawn by length (where the line bends the depth is approximate)."""
        line, rng = self.line, self.rng
        seg_len = np.sqrt(line.len2)
        j = int(rng.choice(len(self.weights), p=self.weights))
        u = rng.uniform(0.0, 1.0)
        x, y = line.ax[j] + u * line.dx[j], line.ay[j] + u * line.dy[j]
        nx, ny = -line.dy[j] / seg_len[j], line.dx[j] / seg_len[j]     # left normal
        sign = 1.0 if self.agreement.side_of[side_party] == "left" else -1.0
        d = rng.uniform(*depth_km) * 1000.0 * sign
        lon, lat = self.frame.to_lonlat(x + d * nx, y + d * ny)
        return float(lon), float(lat)

    def nowhere_claims(self, n: int, case: str, depth_km: tuple[float, float],
                       acceptable: Callable[[float, float, float], bool],
                       expected: AllegationVerdict) -> None:
        """``n`` claims at random places and times that ``acceptable`` lets through."""
        parties = list(self.agreement.party_ids)
        k = tries = 0
        while k < n and tries < 100 * max(n, 1):
            tries += 1
            by = parties[int(self.rng.integers(2))]
            lon, lat = self.place_at_depth(depth_km, by)
            t = float(self.rng.uniform(self.t_lo, self.t_hi))
            if not acceptable(lon, lat, t):
                continue
            self.make(k, case, by, self.agreement.other_party(by), (lon, lat), self.window(t), expected)
            k += 1
