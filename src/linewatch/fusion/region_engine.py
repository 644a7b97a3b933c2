"""One region's fusion engine, an hour at a time (fusion.md §4.3).

Detections are buffered in time order; each hour is fused once the detections have come past
its end and the look-ahead, so memory holds about an hour of detections. In each hour, time is
cut into blocks of ``block_s`` whose candidates may look ``block_overlap_s`` past the block's
end; an incident belongs to the block that holds its origin time. In each block, the even
tiles run first and then the odd ones; tiles two apart do not share a sensor, so each half can
run in parallel (``map_fn``) with the same result as in series. Then the hour's wind is
estimated and every incident relocated with it, the detections are associated once more with
the wind known, reassigned, and the launches attributed a side.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from linewatch.fusion.association import BlockTask, MapFn, reassign, run_block
from linewatch.fusion.candidates import TileGrid, tile_grid
from linewatch.fusion.columns import Prepared, prepare, sound_speed_for
from linewatch.fusion.fitting import Fit
from linewatch.fusion.layout import Layout
from linewatch.fusion.locating import calibrate_wind, incident_from
from linewatch.fusion.pairing import attribute
from linewatch.fusion.params import FusionParams
from linewatch.model import Detections, Incident, Sensors, sound_speed_m_s

__all__ = ["DetectionBuffer", "EngineState", "HourOutput", "RegionEngine", "associate_hour", "merge_counts"]


@dataclass(frozen=True)
class EngineState:
    """What a region's engine carries from one hour into the next (pairing is done after the
    regions, so it carries nothing else): the hour it is about to fuse, and the ids of the
    buffered detections (those at or after the hour) that an incident has taken. The buffer's
    other content is the stored detections themselves; the first hour's early start is over."""

    hour_s: float
    used: tuple[str, ...]


@dataclass(frozen=True)
class HourOutput:
    """One region's hour: its incidents (attributed, not paired; those its core holds) and the
    accounting of the hour."""

    region: int
    hour_s: float
    incidents: tuple[Incident, ...]
    n_detections: int              # detections in the hour (of the region's home sensors)
    n_used: int                    # of those, how many the region's incidents took
    c_m_s: float
    wind_m_s: tuple[float, float]
    stats: dict[str, int] = field(default_factory=dict)


class RegionEngine:
    """One region's fusion engine, an hour at a time: :meth:`add` detections (of its sensors,
    in time order up to the look-ahead), :meth:`step` fuses the next hour. It starts from an
    empty state at the hour of its first detection, or from a given :class:`EngineState`
    (``resume``): then it fuses from that hour on exactly as a run that reached it would."""

    def __init__(self, sensors: Sensors, layout: Layout, params: FusionParams, *,
                 region: int = 0, home: np.ndarray | None = None,
                 resume: EngineState | None = None, map_fn: MapFn = map) -> None:
        self.sensors, self.layout, self.params, self.map_fn = sensors, layout, params, map_fn
        self.region = region
        self.home = np.ones(len(sensors), bool) if home is None else home
        self.buffer = DetectionBuffer()
        self.max_travel = params.max_range_m / float(sound_speed_m_s(-40.0))
        self.reach_s = params.block_overlap_s + self.max_travel  # how far past an hour it reads
        self.hour: float | None = None if resume is None else resume.hour_s
        self.first = resume is None
        self._resume_used = frozenset(resume.used) if resume is not None else frozenset()
        self.t_max = -math.inf

    @property
    def pending(self) -> int:
        """How many detections are buffered (not yet fused past)."""
        return len(self.buffer)

    def add(self, chunk: Detections) -> tuple[str, ...]:
        """Buffer a chunk; return the ids of detections too late (their hour was fused)."""
        if len(chunk) == 0:
            return ()
        self.t_max = max(self.t_max, float(chunk.time_s.max()))
        late = self.buffer.add(chunk, not_before=self.hour,
                               used=self._resume_used if self._resume_used else None)
        if self.hour is None and len(self.buffer):
            self.hour = math.floor(self.buffer.t_min / self.params.wind_block_s) * self.params.wind_block_s
        return late

    def ready(self, t_max: float) -> bool:
        """Whether the next hour can be fused, detections having come up to ``t_max``."""
        return self.hour is not None and t_max > self.hour + self.params.wind_block_s + self.reach_s

    def state(self) -> EngineState | None:
        """The state at the start of the next hour (None: not started, or still at its first
        hour, whose blocks start early)."""
        if self.hour is None or self.first:
            return None
        if not len(self.buffer):
            return EngineState(self.hour, ())
        return EngineState(self.hour, tuple(sorted(str(i) for i in self.buffer.held.ids[self.buffer.used])))

    def step(self) -> HourOutput:
        """Fuse the next hour."""
        hour = self.hour
        if hour is None:
            raise RuntimeError("the engine has had no detections: no hour to fuse")
        if not len(self.buffer):           # nothing buffered: an empty hour
            self.hour, self.first = hour + self.params.wind_block_s, False
            return HourOutput(self.region, hour, (), 0, 0, math.nan, (0.0, 0.0), {})
        out = self._fuse_hour(hour)
        self.hour, self.first = hour + self.params.wind_block_s, False
        return out

    def _fuse_hour(self, hour: float) -> HourOutput:
        """The hour's incidents: association, the hour's wind, association again with it,
        reassignment, the wind once more; those the region's core holds, attributed."""
        buffer, layout, params = self.buffer, self.layout, self.params
        end = hour + params.wind_block_s
        hi = int(np.searchsorted(buffer.held.time_s, end + params.block_overlap_s + self.max_travel, "right"))
        det = buffer.held.take(np.arange(hi))
        used = buffer.used[:hi].copy()
        n_hour = int(np.searchsorted(det.time_s, end, "left"))
        stats: dict[str, int] = {}
        in_hour = det.take(np.arange(n_hour))
        c = sound_speed_for(in_hour if n_hour else det, params)
        p = prepare(self.sensors, det, layout.frame)
        alive = np.zeros(len(self.sensors), bool)
        alive[np.unique(det.sensor)] = True
        grids = [layout.search_grid(i, tile_grid(p, mask & alive, params))
                 for i, mask in enumerate(layout.masks)]
        # the first hour's blocks start early enough for events heard in its first minutes
        b0 = (math.floor((float(det.time_s[0]) - self.max_travel) / params.block_s) * params.block_s
              if self.first and len(det) else hour)
        blocks = np.arange(b0, end, params.block_s)
        reach_s = params.block_s + params.block_overlap_s + self.max_travel
        fits, used_now = associate_hour(p, blocks, reach_s, used, layout, grids, alive, c, params,
                                         self.map_fn, stats)
        fits, wind = calibrate_wind(p, fits, c, params)
        if params.estimate_wind and params.reassociate and wind != (0.0, 0.0):
            # once more with the wind known: its far arrivals no longer fall out of the gates
            known = replace(params, wind_m_s=wind, wind_allowance_m_s=params.wind_residual_m_s)
            fits, used_now = associate_hour(p, blocks, reach_s, used, layout, grids, alive, c,
                                             known, self.map_fn, stats)
        if params.reassign_rounds:
            fits = reassign(p, fits, c, replace(params, wind_m_s=wind,
                                                wind_allowance_m_s=params.wind_residual_m_s), alive)
            used_now = used.copy()
            for f in fits:
                used_now[f.rows] = True
        fits, wind = calibrate_wind(p, fits, c, params, wind)
        used = used_now
        # a region reports what its core holds (the neighbour reports the rest)
        if fits:
            own = layout.owns(np.array([f.x for f in fits]), np.array([f.y for f in fits]))
            fits = [f for f, keep in zip(fits, own) if keep]
        incidents = attribute([incident_from(f, det, layout.frame) for f in fits],
                              layout.agreement, params)
        incidents.sort(key=lambda inc: (inc.time_s, inc.id))
        in_home = self.home[det.sensor[:n_hour]]
        n_used = int((used[:n_hour] & in_home).sum())
        buffer.used[:hi] = used
        buffer.drop_before(end)
        return HourOutput(self.region, hour, tuple(incidents), int(in_home.sum()), n_used, c,
                          wind, stats)


class DetectionBuffer:
    """The detections not yet fused, sorted by time, with a flag for those an incident took."""

    def __init__(self) -> None:
        self.det: Detections | None = None
        self.used = np.zeros(0, bool)

    def __len__(self) -> int:
        return 0 if self.det is None else len(self.det)

    @property
    def held(self) -> Detections:
        """The detections held (once any have come)."""
        if self.det is None:
            raise RuntimeError("no detections have come")
        return self.det

    @property
    def t_min(self) -> float:
        return float(self.held.time_s[0])

    @property
    def t_max(self) -> float:
        return float(self.held.time_s[-1])

    def add(self, chunk: Detections, *, not_before: float | None,
            used: frozenset[str] | None = None) -> tuple[str, ...]:
        """Add a chunk; return the ids of detections earlier than ``not_before`` (too late).
        Those whose id is in ``used`` come flagged as taken."""
        late: tuple[str, ...] = ()
        if not_before is not None:
            old = chunk.time_s < not_before
            if old.any():
                late = tuple(str(i) for i in chunk.ids[old])
                chunk = chunk.take(np.flatnonzero(~old))
        merged = chunk if self.det is None else Detections.concat([self.det, chunk])
        order = np.lexsort((merged.ids.astype(str), merged.time_s))
        flags = (np.zeros(len(chunk), bool) if not used
                 else np.array([str(i) in used for i in chunk.ids], bool))
        used_all = np.concatenate([self.used, flags])
        self.det, self.used = merged.take(order), used_all[order]
        return late

    def drop_before(self, t: float) -> None:
        """Drop the detections before ``t`` (fused past)."""
        det = self.held
        keep = int(np.searchsorted(det.time_s, t, "left"))
        self.det = det.take(np.arange(keep, len(det)))
        self.used = self.used[keep:]


def associate_hour(p: Prepared, blocks: np.ndarray, reach_s: float, used: np.ndarray,
                    layout: Layout, grids: list[TileGrid], alive: np.ndarray, c: float,
                    params: FusionParams, map_fn: MapFn, stats: dict[str, int]
                    ) -> tuple[list[Fit], np.ndarray]:
    """The fits of an hour's blocks, block by block, the even tiles and then the odd ones (as
    independent tasks); and the detections taken, with those taken before (``used``)."""
    used = used.copy()
    fits: list[Fit] = []
    for bs in blocks:
        orphans: list[Fit] = []
        lo_r = int(np.searchsorted(p.t, bs, "left"))
        hi_r = int(np.searchsorted(p.t, bs + reach_s, "right"))
        for phase in (0, 1):
            tiles: list[tuple[int, np.ndarray]] = []
            tasks: list[BlockTask] = []
            for i in range(phase, len(layout.masks), 2):
                rows = np.arange(lo_r, hi_r)
                rows = rows[layout.masks[i][p.sensor[rows]]]
                if int((~used[rows]).sum()) < params.min_sensors or len(grids[i].x) == 0:
                    continue
                tiles.append((i, rows))
                tasks.append(BlockTask(p.take(rows), float(bs), c, params,
                                       layout.masks[i] & alive, grids[i], taken=used[rows]))
            for (i, rows), (block_fits, block_stats) in zip(tiles, map_fn(run_block, tasks)):
                merge_counts(stats, block_stats)
                for fit in block_fits:
                    fit.rows = rows[fit.rows]
                    if layout.tile_of(np.array([fit.x]), np.array([fit.y]))[0] == i:
                        used[fit.rows] = True
                        fits.append(fit)
                    else:
                        orphans.append(fit)
        fits += _adopt(orphans, fits, used)
    return fits, used


def _adopt(orphans: list[Fit], fits: list[Fit], used: np.ndarray) -> list[Fit]:
    """The fits a tile found in its neighbour's core that the neighbour did not find: those
    whose detections are all still free and that no fit of the block lies near (2 km, 2 s),
    in the order found. The competition for detections differs from tile to tile, so an
    event the owner's search lost to a wrong fit may come out whole next door."""
    out: list[Fit] = []
    for f in orphans:
        if used[f.rows].any():
            continue
        if any(abs(g.t0 - f.t0) <= 2.0 and math.hypot(g.x - f.x, g.y - f.y) <= 2_000.0
               for g in (*fits, *out)):
            continue
        used[f.rows] = True
        out.append(f)
    return out


def merge_counts(total: dict[str, int], part: Mapping[str, int]) -> None:
    """Add the counts of ``part`` to ``total``."""
    for k, v in part.items():
        total[k] = total.get(k, 0) + v
