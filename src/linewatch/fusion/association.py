"""Association: from raw detections to located groups, one tile and time block at a time.

The engine's inner loop (fusion.md §4.3), pure and columnar; :mod:`linewatch.fusion.engine` drives it
over tiles along the line and blocks of time, and pairs and attributes what it finds.

Engine 3 (``params.association == "stack"``, the default):

1. **Candidates** by back-projection (:mod:`linewatch.fusion.stacking`).
2. **Best first, with exclusivity** (:mod:`linewatch.fusion.search`): each candidate counted
   again on the detections still free, refined, located by maximum likelihood, gathered again
   and trimmed; accepted when it comes out again with all its detections free.
3. **Passes** at ``strong_floor`` sensors and then at each of ``weak_floors`` on what is left,
   every incident tested against clutter by its detection pattern
   (:mod:`linewatch.fusion.ghosts`), whose bound drops hopeless candidates before the queue.
4. :func:`reassign` then gives each detection to the incident that explains it best, as an
   assignment (each incident at most one detection per sensor).

Engine 2 (``"windows"``) is kept for comparison: a window-by-window search
(:mod:`linewatch.fusion.candidates`, :mod:`linewatch.fusion.refinement`) and greedy acceptance
by expected share, χ², arrays that point elsewhere and silent near sensors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from linewatch.fusion.candidates import Geometry, TileGrid, expected_sensors, support, window_candidates
from linewatch.fusion.columns import Prepared
from linewatch.fusion.estimation import per_detection_chi2, travel_time
from linewatch.fusion.fitting import Fit, fit_rows, n_meas
from linewatch.fusion.ghosts import DetectionPattern, candidate_bounds, heard_sensors
from linewatch.fusion.params import FusionParams
from linewatch.fusion.refinement import refine
from linewatch.fusion.search import best_first, trim
from linewatch.fusion.stacking import stack_candidates

__all__ = ["BlockResult", "BlockTask", "MapFn", "associate_block", "reassign", "run_block"]


@dataclass(frozen=True)
class BlockTask:
    """One time block of one tile: its free detections (sorted by time), the sensors alive,
    the tile's search grid, the block's start and the speed of sound. Self-contained, so a
    worker process can run it."""

    p: Prepared
    bs: float
    c: float
    params: FusionParams
    alive: np.ndarray
    grid: TileGrid
    #: detections of ``p`` that incidents took before (they are not searched, but they are
    #: not silence either); None: none
    taken: np.ndarray | None = None


#: What :func:`run_block` gives back: the block's fits, and counts of what its search tried
#: and rejected.
BlockResult = tuple[list[Fit], dict[str, int]]
#: How the engine runs the independent tile-blocks of a step, ``map_fn(run_block, tasks)``:
#: the built-in ``map`` in this process, or an executor's ``map`` over worker processes.
MapFn = Callable[[Callable[[BlockTask], BlockResult], Iterable[BlockTask]], Iterable[BlockResult]]


def run_block(task: BlockTask) -> BlockResult:
    """The fits of a block (origin time in it, rows of ``task.p``) and counts of what the
    search tried and rejected."""
    stats = {"candidates": 0, "rejected_share": 0, "rejected_chi2": 0, "rejected_near": 0,
             "rejected_bearings": 0}
    everything = np.arange(len(task.p.t))
    rows = everything if task.taken is None else everything[~task.taken]
    fits = associate_block(task.p, rows, task.bs, task.c, task.params, task.alive, task.grid,
                           stats, everything=everything)
    return fits, stats


def associate_block(p: Prepared, rows: np.ndarray, bs: float, c: float, params: FusionParams,
                    alive: np.ndarray, grid: TileGrid, stats: dict[str, int], *,
                    everything: np.ndarray | None = None) -> list[Fit]:
    """Best-first, exclusive acceptance of the candidates of one time block of one tile: the
    strongest candidates of all the block's windows (and of the windows just after it) are
    refined first, so a strong event takes its detections before any partial, wrong fit can
    form from some of them. Returns the fits whose origin time lies in the block."""
    everything = rows if everything is None else everything
    if params.association == "stack":
        return _associate_stacked(p, rows, bs, c, params, alive, grid, stats, everything)
    geo = Geometry.of(p, rows, grid, c, params)
    parts = [window_candidates(p, rows, float(ws), c, params, grid, geo)
             for ws in np.arange(bs, bs + params.block_s + params.block_overlap_s, params.window_s)]
    parts = [a for a in parts if len(a)]
    cands = np.vstack(parts) if parts else np.zeros((0, 5))
    cands = cands[np.lexsort((cands[:, 2], cands[:, 1], cands[:, 3], -cands[:, 0]))].tolist()
    out: list[Fit] = []
    taken = np.zeros(len(rows), bool)
    # one refinement per neighbourhood (cells of 1.75 grid steps and 4.5 s, and their neighbours):
    # neighbouring cells of a candidate are the same source
    tried: set[tuple[int, int, int]] = set()
    cell = 1.75 * params.grid_m
    tau = params.grid_m * math.sqrt(0.5) / c + 3.0 * 0.06
    for _, cx, cy, t_guess, need in cands:
        key = (int(cx // cell), int(cy // cell), int(t_guess // 4.5))
        if key in tried:
            continue
        tried.update((key[0] + i, key[1] + j, key[2] + k)
                     for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1))
        free = rows[~taken]
        if len(free) < params.min_sensors:
            break
        # only detections that can come from a source near this origin time
        lo = np.searchsorted(p.t[free], t_guess - 10.0, "left")
        hi = np.searchsorted(p.t[free], t_guess + params.max_range_m / c + 10.0, "right")
        free = free[lo:hi]
        if support(p, free, cx, cy, t_guess, c, tau) < need:
            continue  # its detections have gone to better fits
        stats["candidates"] += 1
        fit = refine(p, free, cx, cy, t_guess, c, params)
        if fit is None or not _acceptable(p, fit, alive, params, stats, c, everything):
            continue
        if _contradicted(p, free, fit, c, params):
            stats["rejected_bearings"] += 1
            continue
        # a good fit that belongs to the next block still holds its detections here, so that
        # no weaker, wrong fit can take them; the next block reports it
        taken |= np.isin(rows, fit.rows)
        if bs <= fit.t0 < bs + params.block_s:
            out.append(fit)
    return out


def _associate_stacked(p: Prepared, rows: np.ndarray, bs: float, c: float, params: FusionParams,
                       alive: np.ndarray, grid: TileGrid, stats: dict[str, int],
                       everything: np.ndarray) -> list[Fit]:
    """The block's fits by back-projection and best-first search (:mod:`.stacking`,
    :mod:`.search`): first the sources at least ``strong_floor`` sensors heard; then, on the
    detections left, the weaker ones, each tested against clutter by the detection pattern
    the strong ones show (:mod:`.ghosts`)."""
    geo = Geometry.of(p, rows, grid, c, params)
    t_lo, t_hi = bs, bs + params.block_s + params.block_overlap_s
    free = np.ones(len(rows), bool)

    duration = max(float(p.t[rows[-1]] - p.t[rows[0]]), 1.0) if len(rows) else 1.0
    # before any incident is known: the prior detection curve, and all detections as clutter
    pattern = DetectionPattern.learn(p, [], alive, rows, duration, params)

    def plausible(fit: Fit) -> bool:
        return _plausible(p, fit, pattern, alive, c, params, everything, stats)

    # a candidate's cell may be up to half a diagonal from its source
    slack_s = params.recount_s + params.grid_m * math.sqrt(0.5) / c

    def promising(x: float, y: float, t0: float, support: np.ndarray) -> bool:
        return pattern.bound(p, x, y, t0, support, alive, c, params, everything,
                             slack_s) >= params.ghost_llr

    def hopeful(cands: np.ndarray) -> np.ndarray:
        """The candidates whose bound of the ghost test can still pass."""
        if not len(cands):
            return cands
        keep = candidate_bounds(pattern, p, cands, rows[free], everything, alive, c, params,
                                slack_s) >= params.ghost_llr
        stats["hopeless"] = stats.get("hopeless", 0) + int((~keep).sum())
        return cands[keep]

    floor = params.strong_floor
    cands = stack_candidates(p, rows, grid, geo, c, params, t_lo, t_hi, floor)
    stats["candidates"] += len(cands)
    fits = best_first(p, rows, free, hopeful(cands), c, params, floor, plausible, stats)
    if params.weak_floors:
        pattern = DetectionPattern.learn(p, fits, alive, rows[free], duration, params)
        for floor in params.weak_floors:
            cands = stack_candidates(p, rows[free], grid, geo, c, params, t_lo, t_hi, floor)
            stats["candidates"] += len(cands)
            fits += best_first(p, rows, free, hopeful(cands), c, params, floor, plausible,
                               stats, promising)
    return [f for f in fits if bs <= f.t0 < bs + params.block_s]


def _plausible(p: Prepared, fit: Fit, pattern: DetectionPattern, alive: np.ndarray, c: float,
               params: FusionParams, everything: np.ndarray, stats: dict[str, int]) -> bool:
    """A fit is an event if it is consistent (χ² per degree of freedom) and its detection
    pattern is far likelier from an event than from clutter (:mod:`.ghosts`)."""
    if fit.chi2 / fit.dof > params.max_chi2_per_dof:
        stats["rejected_chi2"] = stats.get("rejected_chi2", 0) + 1
        return False
    if pattern.llr(p, fit, alive, c, params, everything) < params.ghost_llr:
        stats["rejected_ghost"] = stats.get("rejected_ghost", 0) + 1
        return False
    return True


def _contradicted(p: Prepared, free: np.ndarray, fit: Fit, c: float,
                  params: FusionParams) -> bool:
    """Do the arrays that heard something at the right time point elsewhere?

    Arrival times alone admit "ghosts" between simultaneous events; at a true source, the
    arrays whose arrival times fit also point at it."""
    arr = free[p.toa[free] & np.isfinite(p.bearing[free])]
    if len(arr) == 0:
        return False
    m = p.measurements(arr, c, params, fit.x, fit.y)
    dx, dy = fit.x - m.sensor_x, fit.y - m.sensor_y
    timely = (np.abs(m.time_s - fit.t0 - travel_time(dx, dy, c, params.wind_m_s))
              <= params.gate_sigma * m.toa_sd_s)
    if not timely.any():
        return False
    b_res = np.abs(np.angle(np.exp(1j * (m.bearing_rad - np.arctan2(dx, dy))))) / m.bearing_sd_rad
    sensor = p.sensor[arr]
    heard = np.unique(sensor[timely])
    agree = np.unique(sensor[timely & (b_res <= params.gate_sigma)])
    return len(heard) - len(agree) > max(1.0, 0.3 * len(heard))


def reassign(p: Prepared, fits: list[Fit], c: float, params: FusionParams,
             alive: np.ndarray) -> list[Fit]:
    """Greedy acceptance gives each detection to the first good fit that wanted it; here each
    detection held by any fit goes to the fit that explains it best, every fit is refitted on
    what it got, and a fit that no longer passes the acceptance tests is dropped, its
    detections free again; ``params.reassign_rounds`` times.

    "Best" is an assignment, not a vote: (detection, fit) pairs within the gate are taken in
    order of χ² per measurement, each detection once and each fit at most one detection of
    each sensor. A detection that fits a second event by chance better than its own cannot
    leave its own event one sensor short while the other, which has that sensor already,
    drops it."""
    stats = {"rejected_share": 0, "rejected_chi2": 0, "rejected_near": 0}
    everything = np.arange(len(p.t))
    stacked = params.association == "stack"
    floor = min((params.min_sensors, *params.weak_floors)) if stacked else params.min_sensors
    for _ in range(params.reassign_rounds):
        if len(fits) < 2:
            return fits
        pool = np.unique(np.concatenate([f.rows for f in fits]))
        owner = _assignment(p, pool, fits, c, params)
        if stacked:
            duration = max(float(p.t[-1] - p.t[0]), 1.0) if len(p.t) else 1.0
            leftover = np.setdiff1d(everything, pool[owner >= 0])
            pattern = DetectionPattern.learn(p, fits, alive, leftover, duration, params)
        kept = []
        for k, f in enumerate(fits):
            rows = pool[owner == k]
            if len(rows) == 0:
                continue
            g = fit_rows(p, rows, f.x, f.y, f.t0, c, params)
            if g is not None and stacked:      # foreign picks the gate let in, as the search does
                g = trim(p, g, c, params)
            if g is None or len(np.unique(p.sensor[g.rows[p.toa[g.rows]]])) < floor:
                continue
            if (_plausible(p, g, pattern, alive, c, params, everything, stats) if stacked
                    else _acceptable(p, g, alive, params, stats, c, everything)):
                kept.append(g)
        fits = kept
    return fits


def _assignment(p: Prepared, pool: np.ndarray, fits: list[Fit], c: float,
                params: FusionParams) -> np.ndarray:
    """The fit each detection of ``pool`` goes to (−1: none): pairs within the gate in order
    of χ² per measurement, each detection once, each fit one detection per sensor."""
    reach_s = params.max_range_m / c + 120.0     # observers report up to minutes after the sound
    scores, picks, owners = [], [], []
    for k, f in enumerate(fits):
        lo = int(np.searchsorted(p.t[pool], f.t0 - 10.0, "left"))
        hi = int(np.searchsorted(p.t[pool], f.t0 + reach_s, "right"))
        m = p.measurements(pool[lo:hi], c, params, f.x, f.y)
        per = per_detection_chi2(f.x, f.y, f.t0, m, c, params.wind_m_s) / n_meas(m)
        ok = np.flatnonzero(per <= params.gate_sigma ** 2)
        scores.append(per[ok])
        picks.append(lo + ok)
        owners.append(np.full(len(ok), k))
    owner = np.full(len(pool), -1)
    if not scores:
        return owner
    score, pick, fit_of = (np.concatenate(v) for v in (scores, picks, owners))
    order = np.lexsort((fit_of, pick, score))
    sensor = p.sensor[pool]
    held: set[tuple[int, int]] = set()
    for i in order.tolist():
        j, k = int(pick[i]), int(fit_of[i])
        key = (k, int(sensor[j]))
        if owner[j] >= 0 or key in held:
            continue
        owner[j] = k
        held.add(key)
    return owner


def _acceptable(p: Prepared, fit: Fit, alive: np.ndarray, params: FusionParams,
                stats: dict[str, int], c: float, everything: np.ndarray) -> bool:
    n_toa = len(np.unique(p.sensor[fit.rows][p.toa[fit.rows]]))
    if n_toa < params.min_sensors:
        return False
    expected = expected_sensors(p, fit.x, fit.y, alive, params)
    audible = expected_sensors(p, fit.x, fit.y, alive, params, loud=True)
    if audible < params.min_expected or n_toa < params.expected_share * expected:
        stats["rejected_share"] += 1
        return False
    if fit.chi2 / fit.dof > params.max_chi2_per_dof:
        stats["rejected_chi2"] += 1
        return False
    # the sensors close to a real source hear it nearly always; clutter that happens to fit a
    # source far from most of them leaves the close ones silent
    near = np.flatnonzero(alive & p.sensor_toa
                          & (np.hypot(p.sx - fit.x, p.sy - fit.y) <= params.near_m))
    silent = len(near) - len(np.intersect1d(near, heard_sensors(p, everything, fit, c, params)))
    if silent > max(params.near_silent, params.near_silent_share * len(near)):
        stats["rejected_near"] += 1
        return False
    return True
