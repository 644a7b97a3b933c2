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
2. **Association** of one tile and block: :mod:`linewatch.fusion.association`.
3. **Wind.** Per hour (``wind_block_s``), a wind common to the hour's incidents is estimated
   from their arrival times together, and every incident relocated with it (fusion.md §2.4).
4. **Pairing and attribution:** :mod:`linewatch.fusion.pairing`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from linewatch.fusion.association import (
    BlockTask,
    Fit,
    FusionParams,
    Prepared,
    TileGrid,
    fit_rows,
    grid_start,
    prepare,
    reassign,
    run_block,
    sound_speed_for,
    tile_grid,
)
from linewatch.fusion.estimation import (
    Measurements,
    estimate_wind,
    fisher_information,
    gauss_newton,
    per_detection_chi2,
    position_covariance,
)
from linewatch.fusion.pairing import Pairer, attribute
from linewatch.geo import WorkingFrame
from linewatch.model import Detections, Incident, Sensors, covariance_to_ellipse, sound_speed_m_s

__all__ = ["ENGINE_VERSION", "Combined", "Combiner", "EngineState", "FusionResult",
           "FusedHour", "HourOutput", "Region", "RegionEngine", "RegionSetup", "engine_label",
           "fuse", "fuse_chunks", "locate_group", "locate_groups", "measurements_for",
           "pairing_layout", "plan_regions", "reconcile_seams"]

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
    #: with regions (``params.region_m``): each region's wind of the hour (``wind_m_s`` is their
    #: mean)
    region_wind_m_s: tuple[tuple[float, float], ...] = ()


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
        c = hour.c_m_s if c is None and hour.c_m_s == hour.c_m_s else c
        _merge_stats(stats, hour.stats)
        if (hour.n_detections or hour.n_used) and hour.c_m_s == hour.c_m_s:
            stats.setdefault("wind_m_s", {})[int(hour.start_s // params.wind_block_s)] = hour.wind_m_s
            if hour.region_wind_m_s:
                stats.setdefault("region_wind_m_s", {})[int(hour.start_s // params.wind_block_s)] = \
                    hour.region_wind_m_s
    if c is None:
        c = sound_speed_for(detections, params)
    incidents.sort(key=lambda i: (i.time_s, i.id))
    return FusionResult(tuple(incidents), len(detections), n_used, frame, c,
                        engine=engine_label(params), stats=stats)


def engine_label(params: FusionParams) -> str:
    """The engine version, with the region length when the line is cut into regions."""
    if params.region_m is None:
        return ENGINE_VERSION
    return f"{ENGINE_VERSION}+regions-{params.region_m / 1000:g}km"


def fuse_chunks(sensors: Sensors, chunks: Iterable[Detections], *, agreement=None,
                params: FusionParams = FusionParams(),
                progress: Callable[[int], None] | None = None,
                map_fn: Callable = map) -> Iterator[FusedHour]:
    """Fuse detections that come in chunks in time order (each chunk in any order; a detection
    may come up to the engine's look-ahead, a few minutes, after later ones), an hour at a time.

    ``map_fn`` runs the independent tile-blocks of a step (``map_fn(run_block, tasks)``): the
    built-in ``map`` in this process, or an executor's ``map`` over worker processes; the result
    is the same. ``progress`` gets the number of detections of each hour fused.

    With ``params.region_m`` set, each region of the line runs its own engine (hour by hour, in
    step), and every hour the regions' incidents go through the seam reconciliation
    (:class:`SeamReconciler`) before pairing: the reference :mod:`linewatch.fusion.reprocess` matches.
    """
    if params.region_m is not None:
        yield from _fuse_regions(sensors, chunks, agreement, params, progress, map_fn)
        return
    frame = _frame(sensors, agreement)
    layout = _Layout.build(sensors, frame, agreement, params)
    pairer = Pairer(frame, params, layout.tile_of)
    engine = RegionEngine(sensors, layout, params, map_fn=map_fn)
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        late = engine.add(chunk)
        if late:
            yield FusedHour((), engine.hour, 0, 0, math.nan, (0.0, 0.0), late=late)
        while engine.ready(engine.t_max):
            yield _paired_hour(engine.step(), pairer, progress)
    while engine.hour is not None and engine.pending:
        yield _paired_hour(engine.step(), pairer, progress)
    rest = pairer.flush()
    if rest:
        yield FusedHour(tuple(rest), engine.hour if engine.hour is not None else math.nan, 0, 0,
                        math.nan, (0.0, 0.0))


def _paired_hour(out: HourOutput, pairer: Pairer, progress) -> FusedHour:
    final = pairer.add(list(out.incidents))
    if progress is not None:
        progress(out.n_detections)
    return FusedHour(tuple(final), out.hour_s, out.n_detections, out.n_used, out.c_m_s,
                     out.wind_m_s, stats=out.stats)


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
    """The frame, the agreement and the tiles: sensor masks, and the core edges along; and the
    core of the region they cover (the whole line unless regions are cut)."""

    frame: WorkingFrame
    agreement: object
    masks: tuple[np.ndarray, ...]
    inner_edges: np.ndarray            # tile i's core: [edge i-1, edge i), open at both ends
    along_of: Callable[[np.ndarray, np.ndarray], np.ndarray]
    search_margin_m: float
    core: tuple[float, float] = (-math.inf, math.inf)   # the region's core along the line

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
    def build(cls, sensors: Sensors, frame: WorkingFrame, agreement, params: FusionParams, *,
              along_of: Callable | None = None,
              core: tuple[float, float] = (-math.inf, math.inf)) -> _Layout:
        sx, sy = (np.asarray(v, float) for v in frame.to_xy(sensors.lon, sensors.lat))
        if along_of is None:
            along_of = _along_function(sensors, frame, agreement)
        along = along_of(sx, sy) if len(sx) else np.zeros(0)
        lo, hi = (float(along.min()), float(along.max())) if len(along) else (0.0, 0.0)
        n = max(1, math.ceil((hi - lo) / params.tile_m))
        edges = np.linspace(lo, hi, n + 1)
        masks = tuple((along >= edges[i] - params.tile_margin_m) & (along <= edges[i + 1] + params.tile_margin_m)
                      for i in range(n))
        return cls(frame, agreement, masks, edges[1:-1], along_of, params.search_margin_m, core)

    def tile_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The tile whose core holds each point."""
        return np.searchsorted(self.inner_edges, self.along_of(x, y), side="right")

    def owns(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether the region's core holds each point (always, without regions)."""
        if self.core == (-math.inf, math.inf):
            return np.ones(len(np.atleast_1d(x)), bool)
        along = self.along_of(x, y)
        return (along >= self.core[0]) & (along < self.core[1])


def _along_function(sensors: Sensors, frame: WorkingFrame, agreement
                    ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Position along the line (its chainage), or along the sensors' main axis without one."""
    if agreement is not None and agreement.line_index is not None:
        return _Chainage(agreement.line_index, frame)
    sx, sy = (np.asarray(v, float) for v in frame.to_xy(sensors.lon, sensors.lat))
    centre = np.array([sx.mean(), sy.mean()]) if len(sx) else np.zeros(2)
    xy = np.column_stack([sx, sy]) - centre
    axis = np.linalg.svd(xy, full_matrices=False)[2][0] if len(xy) > 1 else np.array([1.0, 0.0])
    return _Axis(float(centre[0]), float(centre[1]), float(axis[0]), float(axis[1]))


@dataclass(frozen=True)
class _Chainage:
    index: object
    frame: WorkingFrame

    def __call__(self, x, y):
        x, y = np.atleast_1d(x), np.atleast_1d(y)
        return self.index.nearest(x, y, self.frame.to_lonlat(x, y)[1]).chainage_m


@dataclass(frozen=True)
class _Axis:
    cx: float
    cy: float
    ax: float
    ay: float

    def __call__(self, x, y):
        return (np.atleast_1d(x) - self.cx) * self.ax + (np.atleast_1d(y) - self.cy) * self.ay


# -- regions ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Region:
    """A stretch of the line fused on its own: its core ``[lo_m, hi_m)`` along the line (the
    first and last open-ended), the sensors within ``region_margin_m`` of it (indices into the
    whole network, in its order), and which of them lie in the core (``home``: each
    detection is counted once, by its sensor's home region)."""

    index: int
    lo_m: float
    hi_m: float
    sensors: np.ndarray
    home: np.ndarray
    n_network: int


@dataclass(frozen=True)
class RegionSetup:
    """What a region's engine needs: its region, sensors (a subset of the network, in the
    network's order) and tile layout in the whole line's frame."""

    region: Region
    sensors: Sensors
    layout: _Layout

    def detections(self, det: Detections) -> Detections:
        """The detections of the region's sensors, with sensor indices into its subset."""
        local = np.full(self.region.n_network, -1, np.int64)
        local[self.region.sensors] = np.arange(len(self.region.sensors))
        part = det.take(np.flatnonzero(local[det.sensor] >= 0))
        return replace(part, sensor=local[part.sensor])


def plan_regions(sensors: Sensors, agreement, params: FusionParams) -> list[RegionSetup]:
    """The line cut into regions of ``params.region_m`` (one region, the whole network, when
    it is None), each with its sensors and tiles."""
    frame = _frame(sensors, agreement)
    along_of = _along_function(sensors, frame, agreement)
    sx, sy = (np.asarray(v, float) for v in frame.to_xy(sensors.lon, sensors.lat))
    along = along_of(sx, sy) if len(sx) else np.zeros(0)
    if params.region_m is None:
        region = Region(0, -math.inf, math.inf, np.arange(len(sensors)), np.ones(len(sensors), bool),
                        len(sensors))
        return [RegionSetup(region, sensors, _Layout.build(sensors, frame, agreement, params,
                                                           along_of=along_of))]
    lo, hi = (float(along.min()), float(along.max())) if len(along) else (0.0, 0.0)
    n = max(1, math.ceil((hi - lo) / params.region_m))
    edges = np.linspace(lo, hi, n + 1)
    out = []
    for r in range(n):
        core_lo = float(edges[r]) if r > 0 else -math.inf
        core_hi = float(edges[r + 1]) if r < n - 1 else math.inf
        keep = np.flatnonzero((along >= core_lo - params.region_margin_m)
                              & (along <= core_hi + params.region_margin_m))
        home = (along[keep] >= core_lo) & (along[keep] < core_hi)
        sub = Sensors(*(getattr(sensors, f)[keep] for f in sensors.__dataclass_fields__))
        layout = _Layout.build(sub, frame, agreement, params, along_of=along_of,
                               core=(core_lo, core_hi))
        out.append(RegionSetup(Region(r, core_lo, core_hi, keep, home, len(sensors)), sub, layout))
    return out


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
    stats: dict = field(default_factory=dict)


class RegionEngine:
    """One region's fusion engine, an hour at a time: :meth:`add` detections (of its sensors,
    in time order up to the look-ahead), :meth:`step` fuses the next hour. It starts from an
    empty state at the hour of its first detection, or from a given :class:`EngineState`
    (``resume``): then it fuses from that hour on exactly as a run that reached it would."""

    def __init__(self, sensors: Sensors, layout: _Layout, params: FusionParams, *,
                 region: int = 0, home: np.ndarray | None = None,
                 resume: EngineState | None = None, map_fn: Callable = map) -> None:
        self.sensors, self.layout, self.params, self.map_fn = sensors, layout, params, map_fn
        self.region = region
        self.home = np.ones(len(sensors), bool) if home is None else home
        self.buffer = _Buffer()
        self.max_travel = params.max_range_m / sound_speed_m_s(-40.0)
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
        return EngineState(self.hour, tuple(sorted(str(i) for i in self.buffer.det.ids[self.buffer.used])))

    def step(self) -> HourOutput:
        """Fuse the next hour."""
        hour = self.hour
        if not len(self.buffer):           # nothing buffered: an empty hour
            self.hour, self.first = hour + self.params.wind_block_s, False
            return HourOutput(self.region, hour, (), 0, 0, math.nan, (0.0, 0.0), {})
        out = _fuse_hour(self.sensors, self.buffer, hour, self.first, self.layout, self.params,
                         self.max_travel, self.map_fn, self.home, self.region)
        self.hour, self.first = hour + self.params.wind_block_s, False
        return out


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

    def add(self, chunk: Detections, *, not_before: float | None,
            used: frozenset | None = None) -> tuple[str, ...]:
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
        keep = int(np.searchsorted(self.det.time_s, t, "left"))
        self.det = self.det.take(np.arange(keep, len(self.det)))
        self.used = self.used[keep:]


def _fuse_hour(sensors: Sensors, buffer: _Buffer, hour: float, first: bool, layout: _Layout,
               params: FusionParams, max_travel: float, map_fn: Callable, home: np.ndarray,
               region: int) -> HourOutput:
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
    # a region reports what its core holds (the neighbour reports the rest)
    if fits:
        own = layout.owns(np.array([f.x for f in fits]), np.array([f.y for f in fits]))
        fits = [f for f, keep in zip(fits, own) if keep]
    incidents = attribute([_incident(f, det, layout.frame, c) for f in fits], layout.agreement,
                          params)
    incidents.sort(key=lambda inc: (inc.time_s, inc.id))
    in_home = home[det.sensor[:n_hour]]
    n_used = int((used[:n_hour] & in_home).sum())
    buffer.used[:hi] = used
    buffer.drop_before(end)
    return HourOutput(region, hour, tuple(incidents), int(in_home.sum()), n_used, c, wind, stats)


def pairing_layout(sensors: Sensors, agreement, params: FusionParams) -> _Layout:
    """The whole line's tiles, by which pairing groups the launches."""
    frame = _frame(sensors, agreement)
    return _Layout.build(sensors, frame, agreement, params,
                         along_of=_along_function(sensors, frame, agreement))


def _fuse_regions(sensors: Sensors, chunks: Iterable[Detections], agreement,
                  params: FusionParams, progress, map_fn: Callable) -> Iterator[FusedHour]:
    """fuse_chunks with regions: one engine per region, in step hour by hour, then the seams."""
    setups = plan_regions(sensors, agreement, params)
    engines = [RegionEngine(s.sensors, s.layout, params, region=s.region.index,
                            home=s.region.home, map_fn=map_fn) for s in setups]
    combiner = Combiner(_frame(sensors, agreement), params,
                        pairing_layout(sensors, agreement, params).tile_of)
    wb, reach = params.wind_block_s, engines[0].reach_s
    hour: float | None = None
    t_max = -math.inf

    def step(h: float) -> FusedHour:
        outs = [e.step() for e in engines if e.hour == h]
        fused = combiner.add(h, outs)
        n_det = sum(o.n_detections for o in outs)
        if progress is not None:
            progress(n_det)
        return _combined_hour(h, outs, fused, n_det)

    for chunk in chunks:
        if len(chunk) == 0:
            continue
        t_max = max(t_max, float(chunk.time_s.max()))
        if hour is None:
            hour = math.floor(float(chunk.time_s.min()) / wb) * wb
        late: set[str] = set()
        for s, e in zip(setups, engines):
            part = s.detections(chunk)
            if e.hour is None and len(part):     # a region starting late takes nothing old
                old = part.time_s < hour
                late |= {str(i) for i in part.ids[old]}
                part = part.take(np.flatnonzero(~old))
            late |= set(e.add(part))
        if late:
            yield FusedHour((), hour, 0, 0, math.nan, (0.0, 0.0), late=tuple(sorted(late)))
        while t_max > hour + wb + reach:
            yield step(hour)
            hour += wb
    while hour is not None and any(e.pending for e in engines):
        yield step(hour)
        hour += wb
    rest = combiner.flush()
    if rest.incidents or rest.n_used:
        yield FusedHour(rest.incidents, hour if hour is not None else math.nan, 0, rest.n_used,
                        math.nan, (0.0, 0.0), stats=rest.stats)


def _combined_hour(h: float, outs: list[HourOutput], fused: Combined, n_det: int) -> FusedHour:
    stats = dict(fused.stats)
    for o in outs:
        _merge_stats(stats, o.stats)
    live = [o for o in outs if o.n_detections and o.c_m_s == o.c_m_s]
    c = float(np.mean([o.c_m_s for o in live])) if live else math.nan
    winds = tuple(o.wind_m_s for o in outs)
    wind = ((round(float(np.mean([w[0] for w in winds])), 2),
             round(float(np.mean([w[1] for w in winds])), 2)) if winds else (0.0, 0.0))
    return FusedHour(fused.incidents, h, n_det, fused.n_used, c, wind, stats=stats,
                     region_wind_m_s=winds)


@dataclass(frozen=True)
class Combined:
    """What :class:`Combiner` gives back: final incidents (reconciled at the seams, paired),
    how many detections they hold, and the seams' counts."""

    incidents: tuple[Incident, ...]
    n_used: int = 0
    stats: dict = field(default_factory=dict)


class Combiner:
    """The regions' hours to final incidents: every hour (from the first on, the empty ones
    too, in order) goes through :func:`reconcile_seams` once the next hour is known, then
    pairing (:class:`~linewatch.fusion.pairing.Pairer`, which holds one more hour). The single-process
    run (``fuse_chunks`` with regions) and the partitioned one (:mod:`linewatch.fusion.reprocess`)
    both end here."""

    def __init__(self, frame: WorkingFrame, params: FusionParams,
                 tile_of: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
        self.pairer = Pairer(frame, params, tile_of)
        self.hours: list[list[tuple[int, Incident]]] = []

    def add(self, hour_s: float, outputs: Iterable[HourOutput]) -> Combined:
        self.hours.append([(o.region, inc) for o in outputs for inc in o.incidents])
        if len(self.hours) < 2:
            return Combined(())
        out = self._decide(len(self.hours) - 2)
        self.hours = self.hours[-2:]
        return out

    def flush(self) -> Combined:
        out = self._decide(len(self.hours) - 1) if self.hours else Combined(())
        self.hours = []
        return Combined(out.incidents + tuple(self.pairer.flush()), out.n_used, out.stats)

    def _decide(self, k: int) -> Combined:
        lo = max(0, k - 1)
        context = [item for hour in self.hours[lo:k + 2] for item in hour]
        first = sum(len(h) for h in self.hours[lo:k])
        target = range(first, first + len(self.hours[k]))
        kept, stats = reconcile_seams(context, target)
        kept.sort(key=lambda inc: (inc.time_s, inc.id))
        n_used = len({d for inc in kept for d in inc.detections})
        return Combined(tuple(self.pairer.add(kept)), n_used, stats)


def _priority(region: int, inc: Incident) -> tuple:
    return (-inc.n_sensors, -len(inc.detections), inc.semi_major_m * inc.semi_minor_m, inc.id,
            region)


def reconcile_seams(items: list[tuple[int, Incident]], target: Iterable[int]
                    ) -> tuple[list[Incident], dict[str, int]]:
    """Which of ``items[target]`` survive the seams between regions. ``items`` are (region,
    incident) of an hour and the hours either side (an incident's detections lie within its
    hour and the look-ahead, so only neighbouring hours can share one). Two incidents of
    different regions that share at least half of the smaller one's detections are the same
    event, located by both regions on their own sides of the seam: the better one is kept
    (more sensors, then more detections, then the smaller ellipse, then the id and region).
    Fewer shared detections (two events, each region's fit holding a detection of the other's)
    leave both, as located; ``seam_shared_detections`` counts them. The rule is pairwise, so it
    does not depend on the order of anything."""
    owners: dict[str, list[int]] = {}
    for j, (_, inc) in enumerate(items):
        for d in inc.detections:
            owners.setdefault(d, []).append(j)
    kept, stats = [], {"seam_duplicates": 0, "seam_shared_detections": 0}
    for j in target:
        region, inc = items[j]
        shared: dict[int, int] = {}
        for d in inc.detections:
            for k in owners[d]:
                if k != j and items[k][0] != region:
                    shared[k] = shared.get(k, 0) + 1
        mine = _priority(region, inc)
        drop = False
        for k, n in shared.items():
            other = items[k][1]
            if _priority(*items[k]) > mine:
                continue
            if 2 * n >= min(len(inc.detections), len(other.detections)):
                drop = True
            else:
                stats["seam_shared_detections"] += n
        if drop:
            stats["seam_duplicates"] += 1
        else:
            kept.append(inc)
    return kept, stats


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
