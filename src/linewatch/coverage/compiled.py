"""A network as columns in its working frame: what the probability engine iterates over.

Entities: ``fixed`` ones (sensors other than UAVs; UAV flights without a track) and ``moving``
ones (patrols; UAV flights with a track). Each has an availability window ``[on0, on1)`` and the
outages of its sensor. Built once per :class:`~linewatch.coverage.network.Network` (its
``_compiled`` property).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import numpy.typing as npt

from linewatch.coverage.curves import GATE_WIDTHS, Detectability
from linewatch.geo import WorkingFrame
from linewatch.model import Sensors

if TYPE_CHECKING:
    from linewatch.coverage.network import CameraView, Flight, Outage, Patrol

__all__ = ["CompiledNetwork", "Moving"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Objects = npt.NDArray[np.object_]

#: A fixed entity: (sensor index, kind, on0, on1, radius, axis x, axis y, cos half fov, range).
_Row = tuple[int, str, float, float, float, float, float, float, float]


class Moving(NamedTuple):
    """A moving entity: a patrol, or a UAV flying a track."""

    asset: int                 # index into the assets (sensors, then patrols)
    kind: str                  # "uav" or "patrol"
    track: Floats              # (n, 3): lon, lat, time_s
    start_s: float             # availability window
    end_s: float
    radius_m: float            # a UAV's radius (NaN: the table's r50)


class CompiledNetwork:
    """The network's entities as arrays in its working frame (see the module docstring)."""

    def __init__(self, sensors: Sensors, outages: Sequence[Outage], camera_views: Sequence[CameraView],
                 flights: Sequence[Flight], patrols: Sequence[Patrol],
                 table: Mapping[tuple[str, str], Detectability]) -> None:
        s = sensors
        tracks = [np.asarray(p.track, float) for p in patrols]
        tracks += [np.asarray(f.track, float) for f in flights if f.track]
        allon = np.concatenate([s.lon] + [t[:, 0] for t in tracks])
        self.frame = WorkingFrame.for_lonlat(allon if len(allon) else np.array([0.0]))
        sx, sy = self.frame.to_xy(s.lon, s.lat)
        sx, sy = np.atleast_1d(sx), np.atleast_1d(sy)
        sensor_index = s.index()
        rows = self._sensor_rows(s, {v.sensor_id: v for v in camera_views})
        #: moving entities, flights (in order) then patrols
        self.moving: list[Moving] = []
        for f in flights:
            i = sensor_index[f.sensor_id]
            r = math.nan if f.radius_m is None else float(f.radius_m)
            if f.track:
                self.moving.append(Moving(i, "uav", np.asarray(f.track, float), f.start_s, f.end_s, r))
            else:
                rows.append((i, "uav", f.start_s, f.end_s, r, 0.0, 0.0, -2.0, math.inf))
        for k, tr in enumerate(tracks[:len(patrols)]):
            self.moving.append(Moving(len(s) + k, "patrol", tr, float(tr[0, 2]), float(tr[-1, 2]), math.nan))
        self.ids: Objects = np.concatenate([s.ids.astype(object),
                                            np.array([p.patrol_id for p in patrols], dtype=object)])
        self.asset_kind: Objects = np.concatenate([s.kind.astype(object),
                                                   np.full(len(patrols), "patrol", dtype=object)])
        self._set_fixed(rows, sx, sy)
        # outages by sensor index
        self.out_asset: Ints = np.array([sensor_index[o.sensor_id] for o in outages], np.int64)
        self.out_start: Floats = np.array([o.start_s for o in outages], float)
        self.out_end: Floats = np.array([o.end_s for o in outages], float)
        self.table = table

    def _sensor_rows(self, s: Sensors, views: Mapping[str, CameraView]) -> list[_Row]:
        """The fixed entities of the sensors: all but UAVs and cameras without a view."""
        rows: list[_Row] = []
        for i in range(len(s)):
            kind = str(s.kind[i])
            view = views.get(str(s.ids[i]))
            if kind == "uav" or (kind == "camera" and view is None):
                continue                     # UAVs see only in flight; a camera needs its view
            if view is None:
                rows.append((i, kind, -math.inf, math.inf, math.nan, 0.0, 0.0, -2.0, math.inf))
                continue
            gamma = float(self.frame.convergence_rad(s.lon[i], s.lat[i]))
            a = math.radians(view.azimuth_deg) - gamma            # the axis's grid azimuth
            rows.append((i, kind, -math.inf, math.inf, math.nan, math.sin(a), math.cos(a),
                         math.cos(math.radians(view.half_fov_deg)), view.range_m))
        return rows

    def _set_fixed(self, rows: list[_Row], sx: Floats, sy: Floats) -> None:
        cols: list[Sequence[object]] = list(zip(*rows)) if rows else [[]] * 9
        self.fixed_sensor: Ints = np.asarray(cols[0], np.int64)
        self.fixed_kind: Objects = np.asarray(cols[1], dtype=object)
        self.fixed_x: Floats = sx[self.fixed_sensor]
        self.fixed_y: Floats = sy[self.fixed_sensor]
        self.fixed_on0: Floats = np.asarray(cols[2], float)
        self.fixed_on1: Floats = np.asarray(cols[3], float)
        self.fixed_radius: Floats = np.asarray(cols[4], float)
        self.fixed_axis: Floats = np.column_stack([np.asarray(cols[5], float), np.asarray(cols[6], float)])
        self.fixed_cos_half: Floats = np.asarray(cols[7], float)
        self.fixed_max_range: Floats = np.asarray(cols[8], float)

    # -- per kind parameters ---------------------------------------------------------------
    def params(self, kinds: Objects, event: str, radius: Floats | None = None
               ) -> tuple[Floats, Floats, Floats, Floats]:
        """p_max, r50, width and the hard gate per entity for an event kind."""
        n = len(kinds)
        pmax, r50, width = np.zeros(n), np.zeros(n), np.ones(n)
        for k in np.unique(kinds) if n else ():
            d = self.table.get((str(k), event))
            if d is None:
                continue
            sel = kinds == k
            pmax[sel], r50[sel], width[sel] = d.p_max, d.r50_m, d.width_m
        gate = r50 + GATE_WIDTHS * width
        if radius is not None:
            uav = (kinds == "uav") & np.isfinite(radius)
            r50 = np.where(uav, radius, r50)
            gate = np.where(kinds == "uav", r50, gate)      # a UAV sees nothing beyond its radius
        return pmax, r50, width, gate

    def down(self, asset: Ints, times: Floats) -> Bools:
        """(T, len(asset)) True where the asset is in an outage."""
        out = np.zeros((len(times), len(asset)), bool)
        if len(self.out_asset) == 0 or len(asset) == 0:
            return out
        pos = {int(a): j for j, a in enumerate(asset)}
        for a, t0, t1 in zip(self.out_asset, self.out_start, self.out_end):
            j = pos.get(int(a))
            if j is None:
                continue
            out[:, j] |= (times >= t0) & (times < t1)
        return out

    def fixed_available(self, times: Floats) -> Bools:
        """(T, n_fixed) availability of the fixed entities."""
        t = times[:, None]
        on = (t >= self.fixed_on0[None, :]) & (t < self.fixed_on1[None, :])
        available: Bools = on & ~self.down(self.fixed_sensor, times)
        return available

    def breakpoints(self) -> Floats:
        """Every time at which some entity's availability changes."""
        parts = [self.fixed_on0, self.fixed_on1, self.out_start, self.out_end]
        parts += [np.array([m.start_s, m.end_s]) for m in self.moving]
        b = np.concatenate(parts) if parts else np.zeros(0)
        return np.unique(b[np.isfinite(b)])
