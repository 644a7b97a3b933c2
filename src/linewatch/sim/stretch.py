"""The simulated stretch of an agreement's line, in its working frame.

Points are placed at a chainage and a *true* signed distance from the line (positive on its
left), solved along the line smoothed over ±5 km: offsets are taken along the smoothed normal,
so that points stand off a zigzag line the way a front's positions do.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from linewatch.agreement import Agreement
from linewatch.geo import LineIndex, WorkingFrame
from linewatch.sim.scenarios import ScenarioParams

__all__ = ["Stretch"]

Floats = npt.NDArray[np.float64]


class Stretch:
    """The stretch ``[ch0, ch1]`` (chainage metres) of the line that a scenario simulates."""

    def __init__(self, agreement: Agreement, p: ScenarioParams) -> None:
        if agreement.line_index is None:
            raise ValueError(f"agreement {agreement.id!r} has no line: the simulator needs one")
        self.li: LineIndex = agreement.line_index
        self.frame: WorkingFrame = agreement.frame
        length = self.li.length_m
        self.ch0 = min(max(p.line_from_km * 1000.0, 0.0), length)
        self.ch1 = length if p.line_to_km is None else min(max(p.line_to_km * 1000.0, 0.0), length)
        if not self.ch1 - self.ch0 >= 1000.0:
            raise ValueError(f"scenario {p.name!r}: the stretch {p.line_from_km}-{p.line_to_km} km "
                             f"holds less than 1 km of a {length / 1000:.1f} km line")
        self._centreline()

    @property
    def length_km(self) -> float:
        """The stretch's length along the line (km)."""
        return (self.ch1 - self.ch0) / 1000.0

    def _on_line(self, ch: Floats) -> tuple[Floats, Floats]:
        li = self.li
        seg = np.clip(np.searchsorted(li.chain0, ch, side="right") - 1, 0, li.n_segments - 1)
        t = np.clip((ch - li.chain0[seg]) / li.geo_len[seg], 0, 1)
        return li.ax[seg] + t * li.dx[seg], li.ay[seg] + t * li.dy[seg]

    def _centreline(self) -> None:
        """The line smoothed over ±5 km (40 km beyond the stretch's ends), and its left normal."""
        step, half = 250.0, 20
        lo = max(0.0, self.ch0 - 40_000.0)
        hi = min(self.li.length_m, self.ch1 + 40_000.0)
        s = np.arange(lo, hi + step, step)
        s[-1] = min(s[-1], self.li.length_m)
        x, y = self._on_line(s)
        k = np.ones(2 * half + 1) / (2 * half + 1)
        xs = np.convolve(np.pad(x, half, mode="edge"), k, mode="valid")
        ys = np.convolve(np.pad(y, half, mode="edge"), k, mode="valid")
        tx, ty = np.gradient(xs), np.gradient(ys)
        tn = np.hypot(tx, ty)
        tn[tn == 0] = 1.0
        self._s, self._cx, self._cy = s, xs, ys
        self._nx, self._ny = -ty / tn, tx / tn     # left normal

    def normal(self, ch: Floats) -> tuple[Floats, Floats]:
        """The smoothed line's unit left normal at chainage ``ch``."""
        nx, ny = np.interp(ch, self._s, self._nx), np.interp(ch, self._s, self._ny)
        n = np.hypot(nx, ny)
        return nx / n, ny / n

    def signed_m(self, x: Floats, y: Floats) -> Floats:
        """True signed distance to the line (positive on the left)."""
        if len(x) == 0:
            return np.zeros(0)
        lat = self.frame.to_lonlat(x, y)[1]
        signed: Floats = self.li.nearest(x, y, lat).signed_m
        return signed

    def place(self, ch: Floats, target_m: Floats) -> tuple[Floats, Floats, Floats]:
        """Points at chainage ``ch`` whose true signed distance to the line is ``target_m``
        (solved along the smoothed normal); returns x, y and the distance reached."""
        cx, cy = np.interp(ch, self._s, self._cx), np.interp(ch, self._s, self._cy)
        nx, ny = self.normal(ch)
        off = np.array(target_m, dtype=float)
        for _ in range(12):
            x, y = cx + nx * off, cy + ny * off
            s = self.signed_m(x, y)
            err = target_m - s
            if len(err) == 0 or np.max(np.abs(err)) < 1.0:
                break
            # along the normal the distance grows at most as fast as the offset; where it does
            # not grow at all (beyond a line's end, across a fold) keep the offset bounded
            off = np.clip(off + err, np.minimum(0.25 * target_m, target_m + np.sign(target_m) * 15_000.0),
                          np.maximum(0.25 * target_m, target_m + np.sign(target_m) * 15_000.0))
        return x, y, s
