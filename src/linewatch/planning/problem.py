"""The planning problem as data: demand points with what each needs, candidate sites, and the
pairs between them; and the check that every candidate together could meet the targets at all.

Pure: arrays; no files, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from linewatch.agreement import Agreement
from linewatch.errors import Infeasible
from linewatch.planning.chainage import runs_km
from linewatch.planning.information import crlb_of_layout
from linewatch.planning.inputs import (
    BEARING_KINDS,
    TOA_KINDS,
    AssetType,
    Points,
    Targets,
    candidate_sites,
    demand_points,
    planned_window,
    zone_points,
)
from linewatch.planning.pairs import Pairs, make_pairs, miss_weight

__all__ = ["Problem", "build_problem", "check_feasible", "covering_level", "with_probability"]


@dataclass(frozen=True)
class Problem:
    """One planning problem: the targets, the asset types, the candidate sites, the demand
    points with the detection probability and sensors each needs, and the pairs between them."""

    agreement_id: str
    targets: Targets
    assets: tuple[AssetType, ...]
    sites: Points
    demand: Points
    zone_of: np.ndarray              # per demand point: the zone id, or ""
    required_p: np.ndarray
    required_k: np.ndarray
    pairs: Pairs


def build_problem(agreement: Agreement, assets: Sequence[AssetType], targets: Targets, *,
                  sites: Points | None = None,
                  visible: sp.spmatrix | sp.sparray | np.ndarray | None = None) -> Problem:
    """Demand points, candidate sites (or the given ones) and their pairs for the targets.

    ``visible`` (sites × demand points, optional) masks optical assets by line of sight."""
    if not assets:
        raise ValueError("no asset types given")
    ids = [a.id for a in assets]
    if len(set(ids)) != len(ids):
        raise ValueError(f"asset type ids repeat: {ids}")
    if targets.crlb_m is not None and not any(a.kind in TOA_KINDS | BEARING_KINDS for a in assets):
        raise ValueError("a CRLB target needs an asset that measures arrival times or bearings")
    sites = sites if sites is not None else candidate_sites(agreement, targets)
    band = demand_points(agreement, targets)
    zpts, zwhich = zone_points(agreement, targets.zones)
    lo, hi = planned_window(agreement, targets)
    inside = (zpts.chainage_m >= lo) & (zpts.chainage_m <= hi)   # zones on the planned stretch
    zpts, zwhich = zpts.take(inside), zwhich[inside]
    demand = Points.concatenate(band, zpts)
    zone_of = np.concatenate([np.full(len(band), "", dtype=object), zwhich])
    in_zone = zone_of != ""
    req_p = np.where(in_zone, targets.zone_detection_probability or targets.detection_probability,
                     targets.detection_probability)
    req_k = np.where(in_zone, targets.zone_k_coverage if targets.zone_k_coverage is not None
                     else targets.k_coverage, targets.k_coverage).astype(int)
    if visible is not None and visible.shape[1] != len(demand):
        raise ValueError("the visibility matrix must be sites × demand points")
    pairs = make_pairs(demand, sites, list(assets), targets.event_kind, visible=visible)
    return Problem(agreement.id, targets, tuple(assets), sites, demand, zone_of, req_p, req_k, pairs)


def with_probability(problem: Problem, p: float) -> Problem:
    """The same problem with the band's detection target set to ``p`` (zones keep theirs if higher)."""
    zone_p = problem.targets.zone_detection_probability
    in_zone = problem.zone_of != ""
    req = np.where(in_zone & (zone_p is not None), max(p, zone_p or 0.0), p)
    return replace(problem, required_p=req.astype(float),
                   targets=replace(problem.targets, detection_probability=p))


def covering_level(p: float, redundancy: int) -> float:
    """The detection probability ``q`` each of ``redundancy`` assets must reach at a point for
    the point to be detected with probability ``p``: ``1 − (1 − q)^m = p``.

    Examples:
        >>> covering_level(0.9, 1)
        0.9
        >>> round(covering_level(0.99, 2), 6)
        0.9
    """
    return float(-np.expm1(np.log1p(-p) / redundancy))


def _sites_meeting(problem: Problem, level: np.ndarray) -> np.ndarray:
    """Per demand point, the number of distinct sites with some asset at ``p ≥ level[i]``."""
    pr, n = problem.pairs, len(problem.demand)
    ok = pr.p >= level[pr.i] - 1e-12
    key = np.unique(pr.i[ok].astype(np.int64) * (len(problem.sites) + 1) + pr.s[ok])
    return np.bincount(key // (len(problem.sites) + 1), minlength=n)


def _reach(problem: Problem) -> npt.NDArray[np.float64]:
    """Per demand point, the P(detected) every site would reach, each with its best asset
    (independent detections)."""
    pr, n = problem.pairs, len(problem.demand)
    w = miss_weight(pr.p)
    key = pr.i.astype(np.int64) * (len(problem.sites) + 1) + pr.s
    order = np.lexsort((-w, key))
    first = np.ones(len(order), bool)
    first[1:] = key[order][1:] != key[order][:-1]
    return -np.expm1(-np.bincount(pr.i[order[first]], weights=w[order[first]], minlength=n))


@dataclass(frozen=True)
class _Shortfall:
    """Per demand point, what even every candidate cannot reach."""

    redundancy: int
    level: np.ndarray        # the covering level each of ``redundancy`` sites must reach
    reach_p: np.ndarray      # P(detected) with every site, each with its best asset
    best_k: np.ndarray       # sites with some asset at p ≥ ½
    bad_p: np.ndarray        # fewer than ``redundancy`` sites reach the covering level
    bad_k: np.ndarray        # too few sensors (or, with a CRLB target, too few to locate)
    bad_c: np.ndarray        # the CRLB target cannot be met

    def any(self) -> bool:
        return bool(self.bad_p.any() or self.bad_k.any() or self.bad_c.any())


def _shortfall(problem: Problem, redundancy: int) -> _Shortfall:
    n = len(problem.demand)
    q = np.array([covering_level(p, redundancy) for p in problem.required_p])
    n_good = _sites_meeting(problem, q) if n else np.zeros(0)
    best_k = _sites_meeting(problem, np.full(n, 0.5)) if n else np.zeros(0)
    bad_c = np.zeros(n, bool)
    if problem.targets.crlb_m is not None and n:
        # even every candidate hearing with every type it may host cannot locate well enough
        best = crlb_of_layout(n, problem.pairs, np.ones(len(problem.pairs), bool), problem.assets,
                              celerity_jitter=problem.targets.celerity_jitter)
        bad_c = ~(best <= problem.targets.crlb_m)
    return _Shortfall(redundancy, q, _reach(problem), best_k, n_good < redundancy,
                      best_k < problem.required_k, bad_c)


def _describe(problem: Problem, short: _Shortfall, a: float, b: float) -> tuple[str, dict[str, Any]]:
    """One stretch (km ``a``–``b``) that cannot be covered: the message's part and its record."""
    ch = problem.demand.chainage_m
    bad_k = short.bad_k | short.bad_c
    sel = (ch >= a * 1000 - 100) & (ch <= b * 1000 + 100) & (short.bad_p | bad_k)
    worst_p = float(short.reach_p[sel].min())
    worst_k = int(short.best_k[sel].min())
    zones = sorted({z for z in problem.zone_of[sel] if z})
    what = []
    if short.bad_p[sel].any():
        what.append(f"has fewer than {short.redundancy} site(s) where an asset detects with "
                    f"P ≥ {short.level[sel].max():.2f} (all sites together would reach P={worst_p:.2f}; "
                    f"the target is {problem.required_p[sel].max():.2f})")
    if short.bad_c[sel].any():
        what.append(f"cannot be located to {problem.targets.crlb_m:g} m (CRLB) by the candidates")
    elif bad_k[sel].any():
        what.append(f"is seen by at most {worst_k} < {int(problem.required_k[sel].max())} sensors")
    where = f"km {a:.1f}–{b:.1f}" + (f" (zone {', '.join(zones)})" if zones else "")
    return (f"{where} {' and '.join(what)}",
            {"from_km": a, "to_km": b, "max_probability": round(worst_p, 4), "max_sensors": worst_k,
             "zones": zones})


def check_feasible(problem: Problem, redundancy: int = 1) -> None:
    """Raise :class:`Infeasible` naming the stretches where even every candidate site, each
    with its best asset, cannot meet the detection or the k-coverage target."""
    short = _shortfall(problem, redundancy)
    if not short.any():
        return
    gap = 2.5 * problem.targets.demand_spacing_km * 1000.0
    flagged = short.bad_p | short.bad_k | short.bad_c
    described = [_describe(problem, short, a, b) for a, b in runs_km(problem.demand.chainage_m, flagged, gap)]
    parts = [d[0] for d in described]
    more = f" (and {len(parts) - 5} more stretches)" if len(parts) > 5 else ""
    raise Infeasible("the targets cannot be met with these candidate sites and assets: "
                     + "; ".join(parts[:5]) + more
                     + ". Add candidate sites there, an asset with a longer range, or lower the target.",
                     [d[1] for d in described])
