"""What changes hour by hour in a run: the wind, and which UAVs fly when.

Each hour draws from its own seed stream (``(seed, 1, hour)`` for the wind, ``(seed, 3, hour)``
for the sorties), so an hour's conditions do not depend on which hours were asked for before.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from linewatch.sim.scenarios import HOUR_S, ScenarioParams
from linewatch.sim.streams import SORTIES, WIND, rng_stream

__all__ = ["HourlyConditions"]

Floats = npt.NDArray[np.float64]


class HourlyConditions:
    """The wind and the UAV sorties of each hour of a run (drawn once, then kept)."""

    def __init__(self, p: ScenarioParams, seed: int, n_uav: int) -> None:
        self.p, self.seed, self.n_uav = p, seed, n_uav
        self._wind: dict[int, tuple[float, float]] = {}
        self._sorties: dict[int, tuple[Floats, Floats]] = {}

    def wind(self, hour: int) -> tuple[float, float]:
        """(east, north) wind in m/s for an hour block: a uniform direction, a speed uniform up
        to ``wind_m_s``."""
        if hour not in self._wind:
            rng = rng_stream(self.seed, WIND, hour)
            direction = rng.uniform(0, 2 * math.pi)
            speed = rng.uniform(0, self.p.wind_m_s)
            self._wind[hour] = (speed * math.sin(direction), speed * math.cos(direction))
        return self._wind[hour]

    def sorties(self, hour: int) -> tuple[Floats, Floats]:
        """Per UAV, its airborne interval [start, end) in seconds from the run's start (empty,
        start = end, for a UAV that does not fly this hour)."""
        if hour not in self._sorties:
            p = self.p
            rng = rng_stream(self.seed, SORTIES, hour)
            n = self.n_uav
            flies = rng.random(n) < p.uav_airborne_share
            dur = rng.uniform(*p.uav_sortie_s, size=n)
            start = hour * HOUR_S + rng.uniform(0, 1, size=n) * np.maximum(HOUR_S - dur, 0)
            end = np.where(flies, start + dur, start)
            self._sorties[hour] = (start, end)
        return self._sorties[hour]
