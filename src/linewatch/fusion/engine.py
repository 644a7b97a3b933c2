"""Fusion: associate raw detections into located incidents, pair launches with impacts, and
say from which side of the line the fire came (or abstain).

The engine (fusion.md §4.3) streams: detections come in time-ordered chunks and incidents go
out an hour at a time, so memory holds about an hour of detections whatever the input's size.

1. **Partition.** The line (or, without an agreement, the sensors' main axis) is cut into
   tiles (:mod:`linewatch.fusion.layout`), and time into hours and blocks
   (:mod:`linewatch.fusion.region_engine`). An incident belongs to the tile whose core holds
   it and to the block that holds its origin time.
2. **Association** of one tile and block: :mod:`linewatch.fusion.association`.
3. **Wind.** Per hour (``wind_block_s``), a wind common to the hour's incidents is estimated
   from their arrival times together, and every incident relocated with it (fusion.md §2.4;
   :mod:`linewatch.fusion.locating`).
4. **Pairing and attribution:** :mod:`linewatch.fusion.pairing`.

With ``params.region_m``, the line is also cut into regions, each with its own engine, whose
incidents meet at the seams (:mod:`linewatch.fusion.regions`). This module holds the entry
points: :func:`fuse` over all detections at once, :func:`fuse_chunks` streaming.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from linewatch.fusion.association import MapFn
from linewatch.fusion.columns import sound_speed_for
from linewatch.fusion.layout import Layout, frame_for, pairing_layout
from linewatch.fusion.pairing import Pairer
from linewatch.fusion.params import FusionParams
from linewatch.fusion.region_engine import HourOutput, RegionEngine, merge_counts
from linewatch.fusion.regions import Combined, Combiner, plan_regions
from linewatch.geo import WorkingFrame
from linewatch.model import Detections, Incident, Sensors

if TYPE_CHECKING:
    from linewatch.agreement import Agreement

__all__ = ["ENGINE_VERSION", "FusedHour", "FusionResult", "engine_label", "fuse", "fuse_chunks"]

ENGINE_VERSION = "fusion-3"


@dataclass(frozen=True)
class FusionResult:
    """What :func:`fuse` gives back: the incidents in time order, how many detections came and
    how many joined an incident, the frame and the speed of sound of the first hour."""

    incidents: tuple[Incident, ...]
    n_detections: int
    n_used: int
    frame: WorkingFrame
    c_m_s: float
    engine: str = ENGINE_VERSION
    #: the search's counts by name, and each hour's wind (``wind_m_s``, and with regions
    #: ``region_wind_m_s``: hour index -> the wind, or each region's)
    stats: dict[str, object] = field(default_factory=dict)


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
    stats: dict[str, int] = field(default_factory=dict)
    #: with regions (``params.region_m``): each region's wind of the hour (``wind_m_s`` is their
    #: mean)
    region_wind_m_s: tuple[tuple[float, float], ...] = ()


# -- the public entry points ------------------------------------------------------------------

def fuse(sensors: Sensors, detections: Detections, *, agreement: Agreement | None = None,
         params: FusionParams = FusionParams(), progress: Callable[[int], None] | None = None,
         map_fn: MapFn = map) -> FusionResult:
    """Associate and locate; pair launches with impacts; attribute the side of origin.

    ``params.release`` says how: hour by hour (the default), or on a watermark
    (:func:`linewatch.fusion.watermark.fuse_watermark`: the final version of every incident
    the streaming worker releases)."""
    if params.release == "watermark":
        return _fuse_on_watermark(sensors, detections, agreement, params, progress, map_fn)
    frame = frame_for(sensors, agreement)
    incidents: list[Incident] = []
    n_used, c = 0, None
    stats: dict[str, object] = {}
    winds: dict[int, tuple[float, float]] = {}
    region_winds: dict[int, tuple[tuple[float, float], ...]] = {}
    for hour in fuse_chunks(sensors, [detections], agreement=agreement, params=params,
                            progress=progress, map_fn=map_fn):
        incidents += hour.incidents
        n_used += hour.n_used
        c = hour.c_m_s if c is None and hour.c_m_s == hour.c_m_s else c
        _add_counts(stats, hour.stats)
        if (hour.n_detections or hour.n_used) and hour.c_m_s == hour.c_m_s:
            stats.setdefault("wind_m_s", winds)
            winds[int(hour.start_s // params.wind_block_s)] = hour.wind_m_s
            if hour.region_wind_m_s:
                stats.setdefault("region_wind_m_s", region_winds)
                region_winds[int(hour.start_s // params.wind_block_s)] = hour.region_wind_m_s
    if c is None:
        c = sound_speed_for(detections, params)
    incidents.sort(key=lambda i: (i.time_s, i.id))
    return FusionResult(tuple(incidents), len(detections), n_used, frame, c,
                        engine=engine_label(params), stats=stats)


def _fuse_on_watermark(sensors: Sensors, detections: Detections, agreement: Agreement | None,
                       params: FusionParams, progress: Callable[[int], None] | None,
                       map_fn: MapFn) -> FusionResult:
    from linewatch.fusion.watermark import fuse_watermark, merge_stats
    incidents, releases = fuse_watermark(sensors, [detections], agreement=agreement, params=params,
                                         map_fn=map_fn)
    if progress is not None:
        progress(len(detections))
    stats: dict[str, object] = dict(merge_stats(releases))
    return FusionResult(tuple(incidents), len(detections), sum(len(i.detections) for i in incidents),
                        frame_for(sensors, agreement), sound_speed_for(detections, params),
                        engine=engine_label(params), stats=stats)


def engine_label(params: FusionParams) -> str:
    """The engine version, with the region length when the line is cut into regions.

    >>> engine_label(FusionParams())
    'fusion-3'
    >>> engine_label(FusionParams(region_m=200_000.0))
    'fusion-3+regions-200km'
    >>> engine_label(FusionParams(release="watermark"))
    'fusion-3+watermark'
    """
    if params.release == "watermark":
        return f"{ENGINE_VERSION}+watermark"
    if params.region_m is None:
        return ENGINE_VERSION
    return f"{ENGINE_VERSION}+regions-{params.region_m / 1000:g}km"


def _add_counts(stats: dict[str, object], counts: Mapping[str, int]) -> None:
    """Add an hour's counts to the run's (whose other entries are the winds)."""
    for k, v in counts.items():
        total = stats.get(k, 0)
        stats[k] = (total if isinstance(total, int) else 0) + v


def fuse_chunks(sensors: Sensors, chunks: Iterable[Detections], *, agreement: Agreement | None = None,
                params: FusionParams = FusionParams(),
                progress: Callable[[int], None] | None = None,
                map_fn: MapFn = map) -> Iterator[FusedHour]:
    """Fuse detections that come in chunks in time order (each chunk in any order; a detection
    may come up to the engine's look-ahead, a few minutes, after later ones), an hour at a time.

    ``map_fn`` runs the independent tile-blocks of a step (``map_fn(run_block, tasks)``): the
    built-in ``map`` in this process, or an executor's ``map`` over worker processes; the result
    is the same. ``progress`` gets the number of detections of each hour fused.

    With ``params.region_m`` set, each region of the line runs its own engine (hour by hour, in
    step), and every hour the regions' incidents go through the seam reconciliation
    (:func:`~linewatch.fusion.regions.reconcile_seams`) before pairing: the reference
    :mod:`linewatch.fusion.reprocess` matches.
    """
    if params.region_m is not None:
        yield from _fuse_regions(sensors, chunks, agreement, params, progress, map_fn)
        return
    frame = frame_for(sensors, agreement)
    layout = Layout.build(sensors, frame, agreement, params)
    pairer = Pairer(frame, params, layout.tile_of)
    engine = RegionEngine(sensors, layout, params, map_fn=map_fn)
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        late = engine.add(chunk)
        if late:                           # (only once an hour has been fused)
            yield FusedHour((), engine.hour if engine.hour is not None else math.nan, 0, 0,
                            math.nan, (0.0, 0.0), late=late)
        while engine.ready(engine.t_max):
            yield _paired_hour(engine.step(), pairer, progress)
    while engine.hour is not None and engine.pending:
        yield _paired_hour(engine.step(), pairer, progress)
    rest = pairer.flush()
    if rest:
        yield FusedHour(tuple(rest), engine.hour if engine.hour is not None else math.nan, 0, 0,
                        math.nan, (0.0, 0.0))


def _paired_hour(out: HourOutput, pairer: Pairer, progress: Callable[[int], None] | None
                 ) -> FusedHour:
    final = pairer.add(list(out.incidents))
    if progress is not None:
        progress(out.n_detections)
    return FusedHour(tuple(final), out.hour_s, out.n_detections, out.n_used, out.c_m_s,
                     out.wind_m_s, stats=out.stats)


def _fuse_regions(sensors: Sensors, chunks: Iterable[Detections], agreement: Agreement | None,
                  params: FusionParams, progress: Callable[[int], None] | None,
                  map_fn: MapFn) -> Iterator[FusedHour]:
    """fuse_chunks with regions: one engine per region, in step hour by hour, then the seams."""
    setups = plan_regions(sensors, agreement, params)
    engines = [RegionEngine(s.sensors, s.layout, params, region=s.region.index,
                            home=s.region.home, map_fn=map_fn) for s in setups]
    combiner = Combiner(frame_for(sensors, agreement), params,
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
        merge_counts(stats, o.stats)
    live = [o for o in outs if o.n_detections and o.c_m_s == o.c_m_s]
    c = float(np.mean([o.c_m_s for o in live])) if live else math.nan
    winds = tuple(o.wind_m_s for o in outs)
    wind = ((round(float(np.mean([w[0] for w in winds])), 2),
             round(float(np.mean([w[1] for w in winds])), 2)) if winds else (0.0, 0.0))
    return FusedHour(fused.incidents, h, n_det, fused.n_used, c, wind, stats=stats,
                     region_wind_m_s=winds)

