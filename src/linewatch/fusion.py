"""Fusion: associate raw detections into located incidents, pair launches with impacts, and
say from which side of the line the fire came (or abstain).

The engine (fusion.md §4.3) streams: detections come in time-ordered chunks and incidents go
out an hour at a time, so memory holds about an hour of detections whatever the input's size.

1. **Partition.** The line (or, without an agreement, the sensors' main axis) is cut into
   tiles of ``tile_m`` with ``tile_margin_m`` of overlap, and time into blocks of ``block_s``
   whose candidates may look ``block_overlap_s`` past the block's end. An incident belongs to
   the tile whose core holds it and to the block that holds its origin time. In each block,
   the even tiles run first and then the odd ones; tiles two apart do not share a sensor, so
   each half can run in parallel (``map_fn``) with the same result as in series.
2. **Association** of one tile and block: :mod:`linewatch.association`.
3. **Wind.** Per hour (``wind_block_s``), a wind common to the hour's incidents is estimated
   from their arrival times together, and every incident relocated with it (fusion.md §2.4).
4. **Pairing and attribution:** :mod:`linewatch.pairing`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from linewatch.association import (BlockTask, Fit, FusionParams, Prepared, TileGrid, fit_rows,
                                   grid_start, prepare, reassign, run_block, sound_speed_for,
                                   tile_grid)
from linewatch.detections import Detections, Incident, Sensors, sound_speed_m_s
from linewatch.estimation import (Measurements, estimate_wind, fisher_information, gauss_newton,
                                  per_detection_chi2, position_covariance)
from linewatch.geo import WorkingFrame
from linewatch.model import covariance_to_ellipse
from linewatch.pairing import Pairer, attribute

__all__ = ["ENGINE_VERSION", "FusionParams", "FusionResult", "FusedHour", "fuse", "fuse_chunks",
           "locate_group", "locate_groups", "measurements_for"]

ENGINE_VERSION = "fusion-2"


@dataclass(frozen=True)
class FusionResult:
    incidents: tuple[Incident, ...]
    n_detections: int
    n_used: int
    frame: WorkingFrame
    c_m_s: float
    engine: str = ENGINE_VERSION
    stats: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FusedHour:
    """What :func:`fuse_chunks` yields: final incidents (paired and attributed; those of the
    hour before the last one fused), and the accounting of the hour just fused."""

    incidents: tuple[Incident, ...]
    start_s: float                 # the hour fused (its first block may start earlier)
    n_detections: int              # detections whose time lies in it
    n_used: int                    # of those, how many joined an incident
    c_m_s: float
    wind_m_s: tuple[float, float]
    #: ids of detections that came after the hour they belong to was fused (input out of
    #: time order by more than the engine looks ahead): not fused, for the caller to report
    late: tuple[str, ...] = ()
    stats: dict = field(default_factory=dict)


# -- the public entry points ------------------------------------------------------------------

def fuse(sensors: Sensors, detections: Detections, *, agreement=None,
         params: FusionParams = FusionParams(), progress: Callable[[int], None] | None = None,
         map_fn: Callable = map) -> FusionResult:
    """Associate and locate; pair launches with impacts; attribute the side of origin."""
    frame = _frame(sensors, agreement)
    incidents: list[Incident] = []
    n_used, c, stats = 0, None, {}
    for hour in fuse_chunks(sensors, [detections], agreement=agreement, params=params,
                            progress=progress, map_fn=map_fn):
        incidents += hour.incidents
        n_used += hour.n_used
        c = hour.c_m_s if c is None else c
        _merge_stats(stats, hour.stats)
        if hour.n_detections or hour.n_used:
            stats.setdefault("wind_m_s", {})[int(hour.start_s // params.wind_block_s)] = hour.wind_m_s
    if c is None:
        c = sound_speed_for(detections, params)
    incidents.sort(key=lambda i: (i.time_s, i.id))
    return FusionResult(tuple(incidents), len(detections), n_used, frame, c, stats=stats)


def fuse_chunks(sensors: Sensors, chunks: Iterable[Detections], *, agreement=None,
                params: FusionParams = FusionParams(),
                progress: Callable[[int], None] | None = None,
                map_fn: Callable = map) -> Iterator[FusedHour]:
    """Fuse detections that come in chunks in time order (each chunk in any order; a detection
    may come up to the engine's look-ahead, a few minutes, after later ones), an hour at a time.

    ``map_fn`` runs the independent tile-blocks of a step (``map_fn(run_block, tasks)``): the
    built-in ``map`` in this process, or an executor's ``map`` over worker processes; the result
    is the same. ``progress`` gets the number of detections of each hour fused.
    """
    frame = _frame(sensors, agreement)
    layout = _Layout.build(sensors, frame, agreement, params)
    pairer = Pairer(frame, params, layout.tile_of)
    buffer = _Buffer()
    max_travel = params.max_range_m / sound_speed_m_s(-40.0)
    reach_s = params.block_overlap_s + max_travel       # how far past an hour its blocks read
    hour: float | None = None
    first = True
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        late = buffer.add(chunk, not_before=hour)
        if hour is None:
            hour = math.floor(buffer.t_min / params.wind_block_s) * params.wind_block_s
        if late:
            yield FusedHour((), hour, 0, 0, math.nan, (0.0, 0.0), late=late)
        while buffer.t_max > hour + params.wind_block_s + reach_s:
            yield _fuse_hour(sensors, buffer, hour, first, layout, pairer, params, max_travel,
                             progress, map_fn)
            hour, first = hour + params.wind_block_s, False
    while hour is not None and len(buffer):
        yield _fuse_hour(sensors, buffer, hour, first, layout, pairer, params, max_travel,
                         progress, map_fn)
        hour, first = hour + params.wind_block_s, False
    rest = pairer.flush()
    if rest:
        yield FusedHour(tuple(rest), hour if hour is not None else math.nan, 0, 0, math.nan,
                        (0.0, 0.0))


def measurements_for(sensors: Sensors, detections: Detections, rows, *, frame: WorkingFrame,
                     params: FusionParams = FusionParams(), c_m_s: float | None = None,
                     x_m: float | None = None, y_m: float | None = None) -> Measurements:
    """Some detections as measurement columns in the frame (for the CRLB at a known source)."""
    c = c_m_s if c_m_s is not None else sound_speed_for(detections, params)
    return prepare(sensors, detections, frame).measurements(np.asarray(rows), c, params, x_m, y_m)


def locate_group(sensors: Sensors, detections: Detections, rows, *, frame: WorkingFrame,
                 params: FusionParams = FusionParams(), c_m_s: float | None = None) -> Incident | None:
    """Locate one given group of detections (no association): a global search, then ML."""
    rows = np.asarray(rows)
    c = c_m_s if c_m_s is not None else sound_speed_for(detections, params)
    p = prepare(sensors, detections, frame)
    start = grid_start(p, rows, c, params)
    if start is None:
        return None
    fit = fit_rows(p, rows, *start, c, params, robust=False)
    if fit is None:
        return None
    return _incident(fit, detections, frame, c)


def locate_groups(sensors: Sensors, detections: Detections, groups, *, frame: WorkingFrame,
                  params: FusionParams = FusionParams(), c_m_s: float | None = None
                  ) -> list[Incident | None]:
    """Locate given groups of detections (a known association: the oracle) as the engine
    locates its own: each by a global search then ML, then, per hour, with the wind the hour's
    groups share estimated from them all. One incident (or None) per group, in order."""
    c = c_m_s if c_m_s is not None else sound_speed_for(detections, params)
    p = prepare(sensors, detections, frame)
    fits: list[Fit | None] = []
    for rows in groups:
        rows = np.asarray(rows)
        start = grid_start(p, rows, c, params)
        fits.append(fit_rows(p, rows, *start, c, params, robust=False) if start else None)
    hours: dict[int, list[int]] = {}
    for k, f in enumerate(fits):
        if f is not None:
            hours.setdefault(int(f.t0 // params.wind_block_s), []).append(k)
    for idx in hours.values():
        located, _ = _calibrate_wind(p, [fits[k] for k in idx], c, params)
        for k, f in zip(idx, located):
            fits[k] = f
    return [None if f is None else _incident(f, detections, frame, c) for f in fits]


# -- the driver -------------------------------------------------------------------------------

def _frame(sensors: Sensors, agreement) -> WorkingFrame:
    return agreement.frame if agreement is not None else WorkingFrame.for_lonlat(sensors.lon)


@dataclass(frozen=True)
class _Layout:
    """The frame, the agreement and the tiles: sensor masks, and the core edges along."""

    frame: WorkingFrame
    agreement: object
    masks: tuple[np.ndarray, ...]
    inner_edges: np.ndarray            # tile i's core: [edge i-1, edge i), open at both ends
    along_of: Callable[[np.ndarray, np.ndarray], np.ndarray]
    search_margin_m: float

    def search_grid(self, i: int, grid: TileGrid) -> TileGrid:
        """The part of a tile's grid within ``search_margin_m`` of its core: sources beyond it
        belong to a neighbour and are only searched so far as they compete for this core's
        detections."""
        if len(grid.x) == 0:
            return grid
        along = self.along_of(grid.x, grid.y)
        lo = self.inner_edges[i - 1] if i > 0 else -np.inf
        hi = self.inner_edges[i] if i < len(self.inner_edges) else np.inf
        keep = (along >= lo - self.search_margin_m) & (along <= hi + self.search_margin_m)
        return TileGrid(grid.x[keep], grid.y[keep], grid.expected[keep])

    @classmethod
    def build(cls, sensors: Sensors, frame: WorkingFrame, agreement, params: FusionParams) -> _Layout:
        sx, sy = (np.asarray(v, float) for v in frame.to_xy(sensors.lon, sensors.lat))
        if agreement is not None and agreement.line_index is not None:
            index = agreement.line_index

            def along_of(x, y):
                x, y = np.atleast_1d(x), np.atleast_1d(y)
                return index.nearest(x, y, frame.to_lonlat(x, y)[1]).chainage_m
        else:
            centre = np.array([sx.mean(), sy.mean()]) if len(sx) else np.zeros(2)
            xy = np.column_stack([sx, sy]) - centre
            axis = np.linalg.svd(xy, full_matrices=False)[2][0] if len(xy) > 1 else np.array([1.0, 0.0])

            def along_of(x, y):
                return (np.atleast_1d(x) - centre[0]) * axis[0] + (np.atleast_1d(y) - centre[1]) * axis[1]
        along = along_of(sx, sy) if len(sx) else np.zeros(0)
        lo, hi = (float(along.min()), float(along.max())) if len(along) else (0.0, 0.0)
        n = max(1, math.ceil((hi - lo) / params.tile_m))
        edges = np.linspace(lo, hi, n + 1)
        masks = tuple((along >= edges[i] - params.tile_margin_m) & (along <= edges[i + 1] + params.tile_margin_m)
                      for i in range(n))
        return cls(frame, agreement, masks, edges[1:-1], along_of, params.search_margin_m)

    def tile_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The tile whose core holds each point."""
        return np.searchsorted(self.inner_edges, self.along_of(x, y), side="right")


class _Buffer:
    """The detections not yet fused, sorted by time, with a flag for those an incident took."""

    def __init__(self) -> None:
        self.det: Detections | None = None
        self.used = np.zeros(0, bool)

    def __len__(self) -> int:
        return 0 if self.det is None else len(self.det)

    @property
    def t_min(self) -> float:
        return float(self.det.time_s[0])

    @property
    def t_max(self) -> float:
        return float(self.det.time_s[-1])

    def add(self, chunk: Detections, *, not_before: float | None) -> tuple[str, ...]:
        """Add a chunk; return the ids of detections earlier than ``not_before`` (too late)."""
        late: tuple[str, ...] = ()
        if not_before is not None:
            old = chunk.time_s < not_before
            if old.any():
                late = tuple(str(i) for i in chunk.ids[old])
                chunk = chunk.take(np.flatnonzero(~old))
        merged = chunk if self.det is None else Detections.concat([self.det, chunk])
        order = np.lexsort((merged.ids.astype(str), merged.time_s))
        used = np.concatenate([self.used, np.zeros(len(chunk), bool)])
        self.det, self.used = merged.take(order), used[order]
        return late

    def drop_before(self, t: float) -> None:
        keep = int(np.searchsorted(self.det.time_s, t, "left"))
        self.det = self.det.take(np.arange(keep, len(self.det)))
        self.used = self.used[keep:]


def _fuse_hour(sensors: Sensors, buffer: _Buffer, hour: float, first: bool, layout: _Layout,
               pairer: Pairer, params: FusionParams, max_travel: float, progress,
               map_fn: Callable) -> FusedHour:
    end = hour + params.wind_block_s
    det_all = buffer.det
    hi = int(np.searchsorted(det_all.time_s, end + params.block_overlap_s + max_travel, "right"))
    det = det_all.take(np.arange(hi))
    used = buffer.used[:hi].copy()
    n_hour = int(np.searchsorted(det.time_s, end, "left"))
    stats: dict = {}
    in_hour = det.take(np.arange(n_hour))
    c = sound_speed_for(in_hour if n_hour else det, params)
    p = prepare(sensors, det, layout.frame)
    alive = np.zeros(len(sensors), bool)
    alive[np.unique(det.sensor)] = True
    grids = [layout.search_grid(i, tile_grid(p, mask & alive, params))
             for i, mask in enumerate(layout.masks)]
    # the first hour's blocks start early enough for events heard in its first minutes
    b0 = (math.floor((float(det.time_s[0]) - max_travel) / params.block_s) * params.block_s
          if first and len(det) else hour)
    blocks = np.arange(b0, end, params.block_s)
    reach_s = params.block_s + params.block_overlap_s + max_travel
    fits, used_now = _associate_hour(p, blocks, reach_s, used, layout, grids, alive, c, params,
                                     map_fn, stats)
    fits, wind = _calibrate_wind(p, fits, c, params)
    if params.estimate_wind and params.reassociate and wind != (0.0, 0.0):
        # once more with the wind known: its far arrivals no longer fall out of the gates
        known = replace(params, wind_m_s=wind, wind_allowance_m_s=params.wind_residual_m_s)
        fits, used_now = _associate_hour(p, blocks, reach_s, used, layout, grids, alive, c, known,
                                         map_fn, stats)
    if params.reassign_rounds:
        fits = reassign(p, fits, c, replace(params, wind_m_s=wind,
                                            wind_allowance_m_s=params.wind_residual_m_s), alive)
        used_now = used.copy()
        for f in fits:
            used_now[f.rows] = True
    fits, wind = _calibrate_wind(p, fits, c, params, wind)
    used = used_now
    incidents = attribute([_incident(f, det, layout.frame, c) for f in fits], layout.agreement,
                          params)
    incidents.sort(key=lambda inc: (inc.time_s, inc.id))
    final = pairer.add(incidents)
    n_used = int(used[:n_hour].sum())
    buffer.used[:hi] = used
    buffer.drop_before(end)
    if progress is not None:
        progress(n_hour)
    return FusedHour(tuple(final), hour, n_hour, n_used, c, wind, stats=stats)


def _associate_hour(p: Prepared, blocks: np.ndarray, reach_s: float, used: np.ndarray,
                    layout: _Layout, grids: list[TileGrid], alive: np.ndarray, c: float,
                    params: FusionParams, map_fn: Callable, stats: dict
                    ) -> tuple[list[Fit], np.ndarray]:
    """The fits of an hour's blocks, block by block, the even tiles and then the odd ones (as
    independent tasks); and the detections taken, with those taken before (``used``)."""
    used = used.copy()
    fits: list[Fit] = []
    for bs in blocks:
        lo_r = int(np.searchsorted(p.t, bs, "left"))
        hi_r = int(np.searchsorted(p.t, bs + reach_s, "right"))
        for phase in (0, 1):
            tiles, tasks = [], []
            for i in range(phase, len(layout.masks), 2):
                rows = np.arange(lo_r, hi_r)
                rows = rows[layout.masks[i][p.sensor[rows]] & ~used[rows]]
                if len(rows) < params.min_sensors or len(grids[i].x) == 0:
                    continue
                tiles.append((i, rows))
                tasks.append(BlockTask(p.take(rows), float(bs), c, params,
                                       layout.masks[i] & alive, grids[i]))
            for (i, rows), (block_fits, block_stats) in zip(tiles, map_fn(run_block, tasks)):
                _merge_stats(stats, block_stats)
                for fit in block_fits:
                    fit.rows = rows[fit.rows]
                    if layout.tile_of(np.array([fit.x]), np.array([fit.y]))[0] == i:
                        used[fit.rows] = True
                        fits.append(fit)
    return fits, used


def _merge_stats(total: dict, part: dict) -> None:
    for k, v in part.items():
        if isinstance(v, int):
            total[k] = total.get(k, 0) + v


def _calibrate_wind(p: Prepared, fits: list[Fit], c: float, params: FusionParams,
                    wind: tuple[float, float] = (0.0, 0.0)) -> tuple[list[Fit], tuple[float, float]]:
    """Estimate the hour's wind (starting from ``wind``) from its events together (a common
    direction-dependent change of the speed of sound, which single events cannot tell from
    their position) and relocate every event with it (fusion.md §2.4)."""
    if not params.estimate_wind or not fits:
        return fits, wind
    final = replace(params, wind_allowance_m_s=params.wind_residual_m_s)
    out = list(fits)
    usable = [i for i, f in enumerate(fits) if int(np.sum(p.toa[f.rows])) >= 6]
    if len(usable) >= params.wind_min_events:
        for _ in range(3):
            events = [(out[i].x, out[i].y, out[i].t0,
                       p.measurements(out[i].rows, c, final, out[i].x, out[i].y)) for i in usable]
            wind, _ = estimate_wind(events, c, wind)
            for i in usable:
                out[i] = _refit(p, out[i], c, final, wind)
    out = [_refit(p, f, c, final, wind) for f in out]
    return out, (round(wind[0], 2), round(wind[1], 2))


def _refit(p: Prepared, fit: Fit, c: float, params: FusionParams,
           wind: tuple[float, float]) -> Fit:
    m = p.measurements(fit.rows, c, params, fit.x, fit.y)
    x, y, t0, _ = gauss_newton(fit.x, fit.y, fit.t0, m, c, wind=wind)
    m = p.measurements(fit.rows, c, params, x, y)
    chi2 = per_detection_chi2(x, y, t0, m, c, wind)
    return Fit(x, y, t0, fit.rows, fisher_information(x, y, m, c), float(chi2.sum()), fit.dof)


def _incident(fit: Fit, det: Detections, frame: WorkingFrame, c: float) -> Incident:
    lon, lat = frame.to_lonlat(np.array([fit.x]), np.array([fit.y]))
    lon, lat = float(lon[0]), float(lat[0])
    cov_grid = position_covariance(fit.fisher)
    # grid metres -> true east/north: undo the scale factor and the meridian convergence
    k = float(frame.scale_factor(np.array([fit.x]), np.array([lat]))[0])
    g = float(frame.convergence_rad(np.array([lon]), np.array([lat]))[0])
    cg, sg = math.cos(g), math.sin(g)
    rot = np.array([[cg, sg], [-sg, cg]])
    cov = rot @ cov_grid @ rot.T / (k * k)
    major, minor, az = covariance_to_ellipse(cov[0, 0], cov[0, 1], cov[1, 1])
    ids = tuple(sorted(str(i) for i in det.ids[fit.rows]))
    kinds = det.kind[fit.rows]
    n_launch, n_impact = int(np.sum(kinds == "launch")), int(np.sum(kinds == "impact"))
    kind = "launch" if n_launch > n_impact else "impact" if n_impact > n_launch else "unknown"
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:10]
    t_var = np.linalg.pinv(fit.fisher)[2, 2] if fit.fisher[2, 2] > 0 else math.nan
    return Incident(
        id=f"inc-{digest}", time_s=fit.t0, lon=lon, lat=lat, kind=kind, detections=ids,
        semi_major_m=major, semi_minor_m=min(minor, major), azimuth_deg=az,
        cov_en_m2=((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))),
        time_sd_s=float(math.sqrt(t_var)) if t_var == t_var and t_var > 0 else math.nan,
        n_sensors=len(set(det.sensor[fit.rows].tolist())))
