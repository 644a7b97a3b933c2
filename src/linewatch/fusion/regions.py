"""Regions: the line cut into stretches fused on their own, and their incidents brought back
together at the seams.

With ``params.region_m`` set, each region runs its own engine (its own tiles, hourly wind and
detections taken) over the sensors within ``region_margin_m`` of its core, and reports the
incidents its core holds; an event near a seam may be located by both regions, once on each
side. :func:`reconcile_seams` keeps one of each such pair, and :class:`Combiner` takes the
regions' hours through it and on to pairing, for the single-process run and the partitioned
one (:mod:`linewatch.fusion.reprocess`) alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from linewatch.fusion.layout import Layout, along_function, frame_for
from linewatch.fusion.pairing import Pairer
from linewatch.fusion.params import FusionParams
from linewatch.fusion.region_engine import HourOutput
from linewatch.geo import WorkingFrame
from linewatch.model import Detections, Incident, Sensors

if TYPE_CHECKING:
    from linewatch.agreement import Agreement

__all__ = ["Combined", "Combiner", "Region", "RegionSetup", "plan_regions", "reconcile_seams"]


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
    layout: Layout

    def detections(self, det: Detections) -> Detections:
        """The detections of the region's sensors, with sensor indices into its subset."""
        local = np.full(self.region.n_network, -1, np.int64)
        local[self.region.sensors] = np.arange(len(self.region.sensors))
        part = det.take(np.flatnonzero(local[det.sensor] >= 0))
        return replace(part, sensor=local[part.sensor])


def plan_regions(sensors: Sensors, agreement: Agreement | None, params: FusionParams
                 ) -> list[RegionSetup]:
    """The line cut into regions of ``params.region_m`` (one region, the whole network, when
    it is None), each with its sensors and tiles."""
    frame = frame_for(sensors, agreement)
    along_of = along_function(sensors, frame, agreement)
    sx, sy = (np.asarray(v, float) for v in frame.to_xy(sensors.lon, sensors.lat))
    along = along_of(sx, sy) if len(sx) else np.zeros(0)
    if params.region_m is None:
        region = Region(0, -math.inf, math.inf, np.arange(len(sensors)), np.ones(len(sensors), bool),
                        len(sensors))
        return [RegionSetup(region, sensors, Layout.build(sensors, frame, agreement, params,
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
        layout = Layout.build(sub, frame, agreement, params, along_of=along_of,
                              core=(core_lo, core_hi))
        out.append(RegionSetup(Region(r, core_lo, core_hi, keep, home, len(sensors)), sub, layout))
    return out


@dataclass(frozen=True)
class Combined:
    """What :class:`Combiner` gives back: final incidents (reconciled at the seams, paired),
    how many detections they hold, and the seams' counts."""

    incidents: tuple[Incident, ...]
    n_used: int = 0
    stats: dict[str, int] = field(default_factory=dict)


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


def _priority(region: int, inc: Incident) -> tuple[int, int, float, str, int]:
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
    kept: list[Incident] = []
    stats = {"seam_duplicates": 0, "seam_shared_detections": 0}
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
