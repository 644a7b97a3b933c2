"""Reprocessing: fusion over months of stored detections, cut into partitions that run apart,
with a result identical to one sequential run (docs/reprocess.md).

The engine with regions (``FusionParams.region_m``, :func:`linewatch.fusion.engine.fuse_chunks`)
runs one engine per region of the line; regions share nothing until their incidents meet at
the seams (:class:`linewatch.fusion.regions.Combiner`). Time is the other cut:

* A **partition** is a region and a window of time ``[T_k, T_k+1)`` (a day, say). It starts
  ``warmup_s`` before ``T_k`` from an empty state (speculatively: the state a run that went on
  from the start would carry at ``T_k`` is not known yet), snapshots its engine state when it
  reaches ``T_k`` (:class:`~linewatch.fusion.region_engine.EngineState`: the detections already taken among
  those the next hour reads), and fuses on to ``T_k+1``, reading the look-ahead past it so its
  last hour is whole; its state at ``T_k+1`` is where the next window must start.
* **Verification.** Window by window, the state window ``k-1`` ended with (the exact one, once
  ``k-1`` itself is exact) is compared with the state window ``k`` reached by warming up. Equal
  states mean equal runs from ``T_k`` on (the engine is deterministic, and what it reads from
  ``T_k`` on is the same), so window ``k`` is exact. Otherwise window ``k`` is run again from
  the exact state (:func:`rerun_spec`), which makes it exact; :class:`Settled` counts how often.
* **Ownership.** An incident belongs to the hour that produced it, and each window keeps the
  hours in ``[T_k, T_k+1)``: nothing is lost or counted twice at a time seam. The regions'
  hours then go, every hour in order, through the seam reconciliation and pairing
  (:func:`assemble`), the same code the single-process run ends with.

This module is the functional core: it plans, runs one partition on the detections it is
given, checks seams and assembles. :mod:`linewatch.services.distributed` ships partitions to Dask.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from linewatch.fusion.association import MapFn
from linewatch.fusion.layout import frame_for, pairing_layout
from linewatch.fusion.params import FusionParams
from linewatch.fusion.region_engine import EngineState, HourOutput, RegionEngine
from linewatch.fusion.regions import Combined, Combiner, RegionSetup
from linewatch.model import Detections, Incident, Sensors, sound_speed_m_s

if TYPE_CHECKING:
    from linewatch.agreement import Agreement

__all__ = ["PartitionResult", "PartitionSpec", "Reprocessed", "Settled", "Window", "assemble", "region_chunks",
           "plan_partitions", "plan_windows", "reach_s", "rerun_spec", "run_partition", "settle"]


@dataclass(frozen=True)
class Window:
    index: int
    start_s: float
    end_s: float          # the last window: the end of the run


@dataclass(frozen=True)
class PartitionSpec:
    """One region and window, and the detections it reads: ``[read_from_s, read_to_s)``."""

    region: int
    window: int
    start_s: float
    end_s: float
    read_from_s: float
    read_to_s: float
    last: bool                            # the last window: fuse to the end of the data
    resume: EngineState | None = None     # a re-run from the exact state at ``start_s``
    fresh_at_start: bool = False          # a re-run from no state (none had started by then)


@dataclass(frozen=True)
class PartitionResult:
    region: int
    window: int
    hours: tuple[HourOutput, ...]         # the hours it owns, in order
    start_state: EngineState | None       # reached at ``start_s`` (None: not started by then)
    end_state: EngineState | None         # at ``end_s`` (None: not started; the last window)
    rerun: bool
    n_read: int
    stats: dict[str, int] = field(default_factory=dict)


def reach_s(params: FusionParams) -> float:
    """How far past an hour the engine reads."""
    return params.block_overlap_s + params.max_range_m / float(sound_speed_m_s(-40.0))


def plan_windows(start_s: float, end_s: float, window_s: float, params: FusionParams) -> list[Window]:
    """``[start_s, end_s)`` cut at whole multiples of ``window_s`` (itself whole hours of
    ``params.wind_block_s``, the engine's hours)."""
    wb = params.wind_block_s
    if not end_s > start_s:
        raise ValueError(f"empty time range [{start_s!r}, {end_s!r})")
    ratio = window_s / wb
    if window_s <= 0 or abs(ratio - round(ratio)) > 1e-9:
        raise ValueError(f"window_s ({window_s!r}) must be a whole number of hours "
                         f"({wb!r} s)")
    cuts = [start_s]
    t = math.floor(start_s / window_s) * window_s + window_s
    while t < end_s:
        cuts.append(t)
        t += window_s
    cuts.append(end_s)
    return [Window(k, cuts[k], cuts[k + 1]) for k in range(len(cuts) - 1)]


def plan_partitions(n_regions: int, windows: list[Window], params: FusionParams,
                    warmup_s: float) -> list[PartitionSpec]:
    """Every (region, window): window 0 from the start of the run, the others ``warmup_s``
    early (whole hours); each reads the look-ahead past its end (plus a minute)."""
    if warmup_s < 0 or abs(warmup_s / params.wind_block_s - round(warmup_s / params.wind_block_s)) > 1e-9:
        raise ValueError(f"warmup_s ({warmup_s!r}) must be a whole number of hours")
    run_start, run_end = windows[0].start_s, windows[-1].end_s
    ahead = reach_s(params) + 60.0
    out = []
    for w in windows:
        last = w.index == len(windows) - 1
        read_from = run_start if w.index == 0 else max(run_start, w.start_s - warmup_s)
        read_to = run_end if last else min(run_end, w.end_s + ahead)
        # window 0 owns its first hour whole (the run may start within it)
        own_from = (math.floor(w.start_s / params.wind_block_s) * params.wind_block_s
                    if w.index == 0 else w.start_s)
        out += [PartitionSpec(r, w.index, own_from, w.end_s, read_from, read_to, last)
                for r in range(n_regions)]
    return out


def run_partition(setup: RegionSetup, spec: PartitionSpec, chunks: Iterable[Detections],
                  params: FusionParams, map_fn: MapFn = map) -> PartitionResult:
    """Fuse one partition: ``chunks`` are its region's detections in ``[spec.read_from_s,
    spec.read_to_s)``, in time order, with sensor indices into ``setup.sensors``."""
    region = setup.region
    engine = RegionEngine(setup.sensors, setup.layout, params, region=region.index,
                          home=region.home, resume=spec.resume, map_fn=map_fn)
    hours: list[HourOutput] = []
    start_state = spec.resume
    captured = spec.resume is not None or spec.fresh_at_start
    n_read = n_late = 0

    def more() -> bool:
        return spec.last or (engine.hour is not None and engine.hour < spec.end_s)

    def step() -> None:
        nonlocal start_state, captured
        if not captured and engine.hour is not None and engine.hour >= spec.start_s:
            start_state, captured = (engine.state() if engine.hour == spec.start_s else None), True
        out = engine.step()
        if out.hour_s >= spec.start_s:
            hours.append(out)

    for chunk in chunks:
        n_read += len(chunk)
        n_late += len(engine.add(chunk))
        while engine.ready(engine.t_max) and more():
            step()
    while engine.hour is not None and engine.pending and more():
        step()
    if not captured and engine.hour is not None and not engine.first:
        # ran out of detections before the window: an empty state (the buffer is empty)
        start_state = EngineState(spec.start_s, ())
    if spec.last or engine.hour is None:
        end_state = None
    elif engine.hour == spec.end_s:
        end_state = engine.state()
    else:                                  # ran out of detections before the end: nothing held
        end_state = EngineState(spec.end_s, ())
    return PartitionResult(region.index, spec.window, tuple(hours), start_state, end_state,
                           spec.resume is not None or spec.fresh_at_start, n_read,
                           {"late": n_late})


def rerun_spec(spec: PartitionSpec, previous: PartitionResult,
               current: PartitionResult) -> PartitionSpec | None:
    """None if window ``spec.window`` reached the state the (exact) previous window of its
    region ended with; else the partition to run again from that state."""
    if current.start_state == previous.end_state:
        return None
    state = previous.end_state
    return replace(spec, read_from_s=spec.start_s, resume=state, fresh_at_start=state is None)


@dataclass(frozen=True)
class Settled:
    """The exact partitions (re-runs in place of the speculative ones they replaced)."""

    results: dict[tuple[int, int], PartitionResult]
    n_seams: int
    n_rerun: int


def settle(results: Mapping[tuple[int, int], PartitionResult],
           specs: Mapping[tuple[int, int], PartitionSpec],
           rerun: Callable[[list[PartitionSpec]], list[PartitionResult]]) -> Settled:
    """Check every time seam in order, window by window; ``rerun`` runs the partitions whose
    warm-up missed (one window's worth at a time: each needs the exact previous window)."""
    exact = dict(results)
    n_windows = 1 + max(k for _, k in exact)
    regions = sorted({r for r, _ in exact})
    n_seams = n_rerun = 0
    for k in range(1, n_windows):
        again = []
        for r in regions:
            n_seams += 1
            s = rerun_spec(specs[(r, k)], exact[(r, k - 1)], exact[(r, k)])
            if s is not None:
                again.append(s)
        if again:
            n_rerun += len(again)
            for res in rerun(again):
                exact[(res.region, res.window)] = res
    return Settled(exact, n_seams, n_rerun)


@dataclass(frozen=True)
class Reprocessed:
    incidents: tuple[Incident, ...]
    n_detections: int                 # counted once each (by their sensor's home region)
    n_used: int
    stats: dict[str, int]


def assemble(results: Iterable[PartitionResult], sensors: Sensors, agreement: Agreement | None,
             params: FusionParams) -> Reprocessed:
    """The exact partitions' hours, every hour from the first to the last in order, through
    the seam reconciliation and pairing (:class:`~linewatch.fusion.regions.Combiner`)."""
    by_hour: dict[float, list[HourOutput]] = {}
    for res in results:
        for out in res.hours:
            by_hour.setdefault(out.hour_s, []).append(out)
    combiner = Combiner(frame_for(sensors, agreement), params,
                        pairing_layout(sensors, agreement, params).tile_of)
    incidents: list[Incident] = []
    n_det = n_used = 0
    stats: dict[str, int] = {}

    def take(c: Combined) -> None:
        nonlocal n_used
        incidents.extend(c.incidents)
        n_used += c.n_used
        for key, v in c.stats.items():
            stats[key] = stats.get(key, 0) + v

    if by_hour:
        h, last = min(by_hour), max(by_hour)
        while h <= last:
            outs = sorted(by_hour.get(h, []), key=lambda o: o.region)
            n_det += sum(o.n_detections for o in outs)
            take(combiner.add(h, outs))
            h += params.wind_block_s
    take(combiner.flush())
    incidents.sort(key=lambda i: (i.time_s, i.id))
    return Reprocessed(tuple(incidents), n_det, n_used, stats)


def region_chunks(setup: RegionSetup, chunks: Iterable[Detections]) -> Iterable[Detections]:
    """The detections of a region's sensors out of chunks on the whole network."""
    for c in chunks:
        part = setup.detections(c)
        if len(part):
            yield part

