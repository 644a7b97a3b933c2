"""The engine on a watermark: incidents out within two minutes, revised when more is known.

The engine of :mod:`.region_engine` fuses an hour once the detections have come past its end,
and pairing holds one more hour: an incident waits 1–2 engine hours. This one advances on a
**watermark**, the time up to which every detection has come (the latest detection time fed,
or a network heartbeat when a stretch is quiet, :meth:`WatermarkEngine.advance`), in steps
of ``params.step_s``:

* **Release.** A step's block of origin times ``[b, b + step_s)`` is associated (the same
  passes as every block, :mod:`.association`) once the watermark passes
  ``b + step_s + block_overlap_s`` plus the longest travel time, the time by which every
  arrival of its events has come; its detections are reassigned among its incidents, located
  with the wind known so far (the previous hour's), attributed a side, and released at once.
  Nothing that can still come changes which detections an incident holds.
* **Pairs.** A released impact is paired with the launches of the last
  ``max_flight_m / projectile_speed_m_s[0]`` seconds (an optimal assignment, as
  :mod:`.pairing` costs it); a launch released earlier comes back as a *revision* with its
  pair.
* **Wind.** At the end of each hour (``wind_block_s``), the wind common to the hour's
  incidents is estimated from them all and every one is relocated with it: revisions of the
  same incidents (their ids are their detections', which do not change), sides attributed
  again. The next hour's releases use that wind.
* **Snapshot.** :meth:`WatermarkEngine.snapshot` is everything the engine carries; an engine
  built from it and fed the detections again from the snapshot's hour on continues exactly
  as the one that took it (``tests/test_fusion_watermark.py``).

:func:`fuse_watermark` runs it over all detections at once: the final version of every
incident, which the streamed releases reach version by version.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import linear_sum_assignment

from linewatch.fusion.association import MapFn, reassign
from linewatch.fusion.candidates import TileGrid, tile_grid
from linewatch.fusion.columns import Prepared, prepare, sound_speed_for
from linewatch.fusion.fitting import Fit
from linewatch.fusion.layout import Layout, frame_for
from linewatch.fusion.locating import calibrate_wind, incident_from, refit
from linewatch.fusion.pairing import INFEASIBLE, attribute, pair_cost, pair_up
from linewatch.fusion.params import FusionParams
from linewatch.fusion.region_engine import DetectionBuffer, associate_hour, merge_counts
from linewatch.model import Detections, Incident, Sensors, sound_speed_m_s

if TYPE_CHECKING:
    from linewatch.agreement import Agreement

#: a sensor is alive if it reported anything in this long before a step (or in it)
_ALIVE_S = 600.0

__all__ = ["Release", "Snapshot", "WatermarkEngine", "final_versions", "fuse_watermark", "merge_stats"]


@dataclass(frozen=True)
class Release:
    """What one advance of the watermark gives: incidents new and revised (the same id, a
    later version: a pair, a side, a place relocated with the hour's wind), the watermark,
    and the detections that came too late for their step."""

    watermark_s: float
    new: tuple[Incident, ...] = ()
    revised: tuple[Incident, ...] = ()
    late: tuple[str, ...] = ()
    stats: dict[str, int] = field(default_factory=dict)
    #: set on the release that closes an hour (its wind estimated, its incidents relocated):
    #: the hour that starts now. A snapshot taken right then is the smallest (the streaming
    #: worker stores it with the release)
    hour_start_s: float | None = None


@dataclass(frozen=True)
class Snapshot:
    """Everything a :class:`WatermarkEngine` carries: the next step, the hour it is in, the
    wind it locates with, the ids of the buffered detections incidents took, the hour's
    incidents so far (to relocate at its end), and the launches still waiting for an impact."""

    step_s: float
    hour_s: float
    wind_m_s: tuple[float, float]
    used: tuple[str, ...]
    hour_incidents: tuple[Incident, ...]
    open_launches: tuple[Incident, ...]


class WatermarkEngine:
    """Fusion on a watermark (module docstring). :meth:`add` detections (in time order up to
    the look-ahead), :meth:`advance` the watermark on a heartbeat, :meth:`finish` at the end."""

    def __init__(self, sensors: Sensors, *, agreement: Agreement | None = None,
                 params: FusionParams = FusionParams(), resume: Snapshot | None = None,
                 map_fn: MapFn = map) -> None:
        self.sensors, self.params, self.agreement, self.map_fn = sensors, params, agreement, map_fn
        self.frame = frame_for(sensors, agreement)
        self.layout = Layout.build(sensors, self.frame, agreement, params)
        self.buffer = DetectionBuffer()
        self.max_travel = _max_travel_s(params)
        self.reach_s = params.step_overlap_s + self.max_travel
        self.watermark = -math.inf
        s = resume
        self.step: float | None = None if s is None else s.step_s
        self.hour: float | None = None if s is None else s.hour_s
        self.wind: tuple[float, float] = (0.0, 0.0) if s is None else s.wind_m_s
        self._resume_used = frozenset(s.used) if s is not None else frozenset()
        # detections before this are late (resumed: the snapshot's hour is fed again)
        self.floor: float | None = None if s is None else self.resume_floor(s)
        self.hour_incidents: dict[str, Incident] = {} if s is None else {
            i.id: i for i in s.hour_incidents}
        self.open_launches: list[Incident] = [] if s is None else list(s.open_launches)
        self._grids: dict[bytes, list[TileGrid]] = {}

    def resume_floor(self, snap: Snapshot) -> float:
        """Where an engine resumed from ``snap`` needs the detections again from (and before
        which they are late): the longest travel time before the snapshot's hour."""
        return snap.hour_s - self.max_travel - 10.0

    def snapshot(self) -> Snapshot | None:
        """The engine's state (None before its first detection)."""
        if self.step is None or self.hour is None:
            return None
        used = () if not len(self.buffer) else tuple(sorted(
            str(i) for i in self.buffer.held.ids[self.buffer.used]))
        return Snapshot(self.step, self.hour, self.wind, used,
                        tuple(self.hour_incidents.values()), tuple(self.open_launches))

    def add(self, chunk: Detections) -> Iterator[Release]:
        """Buffer a chunk and advance the watermark to its latest detection."""
        if len(chunk) == 0:
            return
        late = self.buffer.add(chunk, not_before=self.floor,
                               used=self._resume_used if self._resume_used else None)
        if late:
            yield Release(self.watermark, late=late)
        if self.step is None and len(self.buffer):
            t0 = self.buffer.t_min - self.max_travel
            self.step = math.floor(t0 / self.params.step_s) * self.params.step_s
            self.hour = math.floor(self.step / self.params.wind_block_s) * self.params.wind_block_s
        yield from self.advance(float(chunk.time_s.max()))

    def advance(self, watermark_s: float) -> Iterator[Release]:
        """Every detection up to ``watermark_s`` has come (a heartbeat): release the steps
        that can no longer change."""
        self.watermark = max(self.watermark, watermark_s)
        while self.step is not None and self.step + self.params.step_s + self.reach_s < self.watermark:
            yield from self._release_step()

    def finish(self) -> Iterator[Release]:
        """The input has ended: release every step left, and the last hour's wind."""
        while self.step is not None and len(self.buffer) and self.step <= self.buffer.t_max:
            yield from self._release_step()
        if self.hour is not None and self.hour_incidents:
            yield self._close_hour(self.hour + self.params.wind_block_s)

    def _release_step(self) -> Iterator[Release]:
        assert self.step is not None and self.hour is not None
        bs = self.step
        if bs >= self.hour + self.params.wind_block_s:
            yield self._close_hour(bs)
        new, stats = self._associate(bs)
        new, revised = self._pair(new, bs)
        self.step = bs + self.params.step_s
        self.floor = max(self.floor if self.floor is not None else -math.inf, self.step)
        for inc in (*new, *revised):
            if inc.time_s >= self.hour:
                self.hour_incidents[inc.id] = inc
        if new or revised or stats:
            yield Release(self.watermark, tuple(new), tuple(revised), stats=stats)

    def _associate(self, bs: float) -> tuple[list[Incident], dict[str, int]]:
        """The incidents whose origin time lies in the step ``[bs, bs + step_s)``."""
        buffer, params = self.buffer, self.params
        if not len(buffer):
            return [], {}
        lo = int(np.searchsorted(buffer.held.time_s, bs - 10.0, "left"))
        hi = int(np.searchsorted(buffer.held.time_s, bs + params.step_s + self.reach_s, "right"))
        if hi - lo < params.min_sensors:
            return [], {}
        det = buffer.held.take(np.arange(lo, hi))
        used = buffer.used[lo:hi].copy()
        c = sound_speed_for(det, params)
        p = prepare(self.sensors, det, self.frame)
        alive, grids = self._alive_and_grids(bs, p)
        # the wind known so far is the last hour's: this hour's may differ by as much as the
        # allowance association makes for an unknown one
        known = replace(params, block_s=params.step_s, block_overlap_s=params.step_overlap_s,
                        wind_m_s=self.wind)
        stats: dict[str, int] = {}
        fits, used_now = associate_hour(p, np.array([bs]), params.step_s + self.reach_s, used,
                                         self.layout, grids, alive, c, known, self.map_fn, stats)
        if params.reassign_rounds and fits:
            fits = reassign(p, fits, c, known, alive)
            used_now = used.copy()
            for f in fits:
                used_now[f.rows] = True
        buffer.used[lo:hi] = used_now
        final = replace(known, wind_allowance_m_s=params.wind_residual_m_s)
        fits = [refit(p, f, c, final, self.wind) for f in fits] if params.estimate_wind else fits
        return self._incidents(fits, p, det), stats

    def _alive_and_grids(self, bs: float, p: Prepared) -> tuple[np.ndarray, list[TileGrid]]:
        """The sensors alive (a detection within the ten minutes before the step, or in it)
        and the tiles' search grids for them, kept while the same sensors are alive."""
        held = self.buffer.held
        lo = int(np.searchsorted(held.time_s, bs - _ALIVE_S, "left"))
        hi = int(np.searchsorted(held.time_s, bs + self.params.step_s + self.reach_s, "right"))
        alive = np.zeros(len(self.sensors), bool)
        alive[np.unique(held.sensor[lo:hi])] = True
        key = alive.tobytes()
        if key not in self._grids:
            if len(self._grids) > 8:
                self._grids.clear()
            self._grids[key] = [self.layout.search_grid(i, tile_grid(p, mask & alive, self.params))
                                for i, mask in enumerate(self.layout.masks)]
        return alive, self._grids[key]

    def _incidents(self, fits: list[Fit], p: Prepared, det: Detections) -> list[Incident]:
        if not fits:
            return []
        own = self.layout.owns(np.array([f.x for f in fits]), np.array([f.y for f in fits]))
        fits = [f for f, keep in zip(fits, own) if keep]
        incidents = attribute([incident_from(f, det, self.frame) for f in fits],
                              self.agreement, self.params)
        return sorted(incidents, key=lambda i: (i.time_s, i.id))

    def _pair(self, new: list[Incident], bs: float) -> tuple[list[Incident], list[Incident]]:
        """Pair the step's impacts with the launches waiting (and the step's own)."""
        params = self.params
        horizon = bs - params.max_flight_m / params.projectile_speed_m_s[0]
        waiting = [i for i in self.open_launches if i.time_s >= horizon]
        launches = waiting + [i for i in new if i.kind == "launch"]
        impacts = [i for i in new if i.kind == "impact"]
        paired: dict[str, Incident] = {}
        if launches and impacts:
            lx, ly = self.frame.to_xy(np.array([i.lon for i in launches]),
                                      np.array([i.lat for i in launches]))
            ix, iy = self.frame.to_xy(np.array([i.lon for i in impacts]),
                                      np.array([i.lat for i in impacts]))
            cost = pair_cost(np.asarray(lx), np.asarray(ly), np.array([i.time_s for i in launches]),
                         np.asarray(ix), np.asarray(iy), np.array([i.time_s for i in impacts]),
                         params)
            rows, cols = linear_sum_assignment(cost)
            for r, k in zip(rows, cols):
                if cost[r, k] < INFEASIBLE:
                    a, b = pair_up(launches[r], impacts[k])
                    paired[a.id], paired[b.id] = a, b
        out_new = [paired.get(i.id, i) for i in new]
        revised = [paired[i.id] for i in waiting if i.id in paired]
        self.open_launches = [i for i in launches if i.id not in paired
                              and i.time_s >= horizon and i.kind == "launch"]
        return out_new, revised

    def _close_hour(self, next_hour: float) -> Release:
        """The hour's wind from its incidents; each relocated with it (revisions)."""
        assert self.hour is not None
        params = self.params
        incidents = sorted(self.hour_incidents.values(), key=lambda i: (i.time_s, i.id))
        revised: list[Incident] = []
        if incidents and params.estimate_wind and len(self.buffer):
            revised = self._relocate(incidents)
        moved = {i.id: i for i in revised}
        self.open_launches = [moved.get(i.id, i) for i in self.open_launches]
        self.hour_incidents = {}
        self.hour = next_hour
        self.buffer.drop_before(next_hour - self.max_travel - 10.0)
        return Release(self.watermark, revised=tuple(revised), hour_start_s=next_hour)

    def _relocate(self, incidents: list[Incident]) -> list[Incident]:
        det = self.buffer.held
        row_of = {str(d): k for k, d in enumerate(det.ids)}
        groups = [np.array(sorted(row_of[d] for d in i.detections if d in row_of)) for i in incidents]
        keep = [k for k, g in enumerate(groups) if len(g) == len(incidents[k].detections)]
        if not keep:
            return []
        p = prepare(self.sensors, det, self.frame)
        c = sound_speed_for(det, self.params)
        xy = self.frame.to_xy(np.array([incidents[k].lon for k in keep]),
                              np.array([incidents[k].lat for k in keep]))
        fits = [Fit(float(x), float(y), incidents[k].time_s, groups[k], np.zeros((3, 3)), 0.0, 1)
                for k, x, y in zip(keep, np.asarray(xy[0]), np.asarray(xy[1]))]
        # twice, as the hourly engine does around its reassignment: the wind and the places
        # converge together, three rounds at a time
        for _ in range(2):
            fits, self.wind = calibrate_wind(p, fits, c, self.params, self.wind)
        moved = attribute([incident_from(f, det, self.frame) for f in fits], self.agreement,
                          self.params)
        out = []
        for k, m in zip(keep, moved):
            old = incidents[k]
            new = replace(m, pair_id=old.pair_id, kind=old.kind)
            if old.kind == "impact":   # an impact keeps its launch's side
                new = replace(new, side=old.side, side_probability=old.side_probability)
            out.append(new)
        return out


def _max_travel_s(params: FusionParams) -> float:
    """The longest travel time an arrival can take: over ``max_range_m`` at the given
    temperature's speed of sound less a head wind of 10 m/s (at −40 °C when none is given)."""
    slowest = (float(sound_speed_m_s(params.temperature_c)) - 10.0 if params.temperature_c is not None
               else float(sound_speed_m_s(-40.0)))
    return params.max_range_m / slowest


def fuse_watermark(sensors: Sensors, chunks: Iterable[Detections], *,
                   agreement: Agreement | None = None,
                   params: FusionParams = FusionParams(),
                   map_fn: MapFn = map) -> tuple[list[Incident], list[Release]]:
    """Run the engine over ``chunks``: the final version of every incident (in time order)
    and the releases that gave them."""
    engine = WatermarkEngine(sensors, agreement=agreement, params=params, map_fn=map_fn)
    releases: list[Release] = []
    for chunk in chunks:
        releases += engine.add(chunk)
    releases += engine.finish()
    return final_versions(releases), releases


def final_versions(releases: Iterable[Release]) -> list[Incident]:
    """The last version of every incident the releases gave, in time order."""
    latest: dict[str, Incident] = {}
    for r in releases:
        for inc in (*r.new, *r.revised):
            latest[inc.id] = inc
    return sorted(latest.values(), key=lambda i: (i.time_s, i.id))


def merge_stats(releases: Iterable[Release]) -> dict[str, int]:
    """The search's counts over the releases."""
    total: dict[str, int] = {}
    for r in releases:
        merge_counts(total, r.stats)
    return total
