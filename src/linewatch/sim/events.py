"""The events of a run: launches and their impacts across the line.

Launches are Poisson in time at ``launch_rate_per_s_per_60km`` for every 60 km of the
stretch; the shooting party is drawn 50/50 (the scenario is impartial by construction). A
launch lies ``launch_offset_km`` from the line on the shooter's side; its impact
``impact_range_km`` downrange (within ``impact_spread_deg`` of the line's smoothed normal) on
the other side, at least 0.5 km from the line, after a time of flight of distance /
``projectile_speed_m_s``. Launch and impact are separate events sharing a ``pair_id``;
``side`` is the party on whose side of the line an event truly lies (checked against the line
itself).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from linewatch.geo import GEOD
from linewatch.sim.scenarios import ScenarioParams
from linewatch.sim.stretch import Stretch

__all__ = ["EVENT_KINDS", "LAUNCH", "draw_events"]

Floats = npt.NDArray[np.float64]

#: Event kind codes: 0 a launch, 1 an impact.
EVENT_KINDS = np.array(["launch", "impact"], dtype=object)
LAUNCH = 0


def draw_events(rng: np.random.Generator, stretch: Stretch, p: ScenarioParams, parties: tuple[str, str],
                t0: float, t1: float) -> dict[str, np.ndarray]:
    """The launches in ``[t0, t1)`` (seconds from the start) and their impacts, interleaved
    (launch, impact, launch, ...): kind code, frame and WGS84 position, time, side (the party),
    pair number and the pair's launch time. ``parties`` is (left party, right party)."""
    n = int(rng.poisson(p.launch_rate_per_s_per_60km * (t1 - t0) * stretch.length_km / 60.0))
    t_launch = np.sort(rng.uniform(t0, t1, size=n))
    shooter_left = rng.random(n) < 0.5
    lx, ly, ix, iy = _place_pairs(rng, stretch, p, np.where(shooter_left, 1.0, -1.0))
    llon, llat = stretch.frame.to_lonlat(lx, ly)
    ilon, ilat = stretch.frame.to_lonlat(ix, iy)
    _, _, dist = GEOD.inv(llon, llat, ilon, ilat) if n else (None, None, np.zeros(0))
    t_impact = t_launch + np.asarray(dist) / p.projectile_speed_m_s
    left_party, right_party = parties
    left = np.where(shooter_left, left_party, right_party).astype(object)
    right = np.where(shooter_left, right_party, left_party).astype(object)

    def il(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Launch, impact, launch, impact, ..."""
        return np.column_stack([a, b]).ravel()

    return {"kind": np.tile(np.array([0, 1]), n), "x": il(lx, ix), "y": il(ly, iy),
            "lon": il(llon, ilon), "lat": il(llat, ilat), "time_s": il(t_launch, t_impact),
            "side": il(left, right), "pair": np.repeat(np.arange(n), 2),
            "pair_time_s": np.repeat(t_launch, 2)}


def _place_pairs(rng: np.random.Generator, stretch: Stretch, p: ScenarioParams, sign: Floats
                 ) -> tuple[Floats, Floats, Floats, Floats]:
    """Launch and impact positions (frame x, y) for shooters on the side ``sign`` (+1 left):
    drawn again until the launch lies on the shooter's side near its offset and the impact at
    least 500 m inside the other side."""
    n = len(sign)
    lx, ly, ix, iy = (np.zeros(n) for _ in range(4))
    todo = np.arange(n)
    lo_off, hi_off = p.launch_offset_km
    lo_r, hi_r = p.impact_range_km
    for _ in range(100):
        if len(todo) == 0:
            break
        m = len(todo)
        ch = rng.uniform(stretch.ch0, stretch.ch1, size=m)
        d_l = rng.uniform(lo_off, hi_off, size=m) * 1000.0
        theta = np.radians(rng.uniform(-p.impact_spread_deg, p.impact_spread_deg, size=m))
        # far enough downrange to cross the line by >= 2 km along the normal
        lo = np.minimum(np.maximum(lo_r * 1000.0, (d_l + 2000.0) / np.cos(theta)), hi_r * 1000.0)
        r = lo + rng.random(m) * (hi_r * 1000.0 - lo)
        s = sign[todo]
        x, y, got = stretch.place(ch, s * d_l)
        nx, ny = stretch.normal(ch)
        ux, uy = -s * nx, -s * ny                      # towards and across the line
        c, si = np.cos(theta), np.sin(theta)
        dx, dy = c * ux + si * uy, -si * ux + c * uy
        jx, jy = x + r * dx, y + r * dy
        got_i = stretch.signed_m(jx, jy)
        ok = ((np.sign(got) == s) & (np.abs(got - s * d_l) < 0.25 * d_l)
              & (np.sign(got_i) == -s) & (np.abs(got_i) >= 500.0))
        idx = todo[ok]
        lx[idx], ly[idx], ix[idx], iy[idx] = x[ok], y[ok], jx[ok], jy[ok]
        todo = todo[~ok]
    if len(todo):
        raise RuntimeError(f"could not place {len(todo)} launches across the line")
    return lx, ly, ix, iy
