"""What a solved plan achieves: per demand point (P(detected), sensors, the localisation bound,
P(enough sensors to locate)), the weakest stretches, the contributing nations' sectors and the
counts, crews and cost by asset type.

Pure: arrays and plain values; no files, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from linewatch.fusion import FusionParams
from linewatch.planning.information import crlb_of_layout
from linewatch.planning.milp import Solution
from linewatch.planning.pairs import miss_weight
from linewatch.planning.problem import Problem

__all__ = ["LOCATE_MIN", "achieved", "allocate_sectors", "at_least", "summary", "weakest_stretches"]

#: the fusion engine accepts an event that at least this many sensors detect (docs/plan-check.md)
LOCATE_MIN = FusionParams().min_sensors


def achieved(problem: Problem, solution: Solution) -> dict[str, np.ndarray]:
    """Per demand point: P(detected), sensors with P ≥ ½, √tr(CRLB) and P(at least
    :data:`LOCATE_MIN` detections) for the layout."""
    pr, n_a = problem.pairs, len(problem.assets)
    chosen_vars = np.zeros(len(problem.sites) * n_a, bool)
    chosen_vars[solution.site * n_a + solution.asset] = True
    chosen = chosen_vars[pr.s * n_a + pr.a]
    n = len(problem.demand)
    log_miss = np.bincount(pr.i[chosen], weights=-miss_weight(pr.p[chosen]), minlength=n)
    k = np.bincount(pr.i[chosen & (pr.p >= 0.5)], minlength=n)
    crlb = crlb_of_layout(n, pr, chosen, problem.assets, celerity_jitter=problem.targets.celerity_jitter)
    return {"probability": -np.expm1(log_miss), "k": k, "crlb_m": crlb,
            "locate_probability": at_least(n, pr.i[chosen], pr.p[chosen], LOCATE_MIN)}


def at_least(n_points: int, point: np.ndarray, p: np.ndarray, k: int) -> npt.NDArray[np.float64]:
    """P(at least ``k`` of a point's independent detections happen), per point (the Poisson
    binomial tail, by dynamic programming over each point's detections, all points at once).

    Examples:
        >>> at_least(2, np.array([0, 0, 1]), np.array([0.5, 0.5, 0.9]), 1).tolist()
        [0.75, 0.9]
        >>> at_least(2, np.array([0, 0, 1]), np.array([0.5, 0.5, 0.9]), 2).tolist()
        [0.25, 0.0]
    """
    order = np.argsort(point, kind="stable")
    point, p = point[order], p[order]
    # dist[i, j] = P(j detections so far), j capped at k
    dist = np.zeros((n_points, k + 1))
    dist[:, 0] = 1.0
    rank = np.arange(len(point)) - np.searchsorted(point, point, side="left")
    for r in range(int(rank.max()) + 1 if len(rank) else 0):
        sel = rank == r
        i, q = point[sel], p[sel][:, None]
        d = dist[i]
        shifted = np.concatenate([np.zeros((len(i), 1)), d[:, :-1]], axis=1)
        new = d * (1 - q) + shifted * q
        new[:, k] += d[:, k] * q[:, 0]          # the capped bin keeps its mass
        dist[i] = new
    return dist[:, k]


def weakest_stretches(problem: Problem, got: Mapping[str, np.ndarray], n: int = 5) -> list[dict[str, Any]]:
    """The ``n`` stretches (``stretch_km`` long) with the least margin over the targets."""
    t = problem.targets
    ch = problem.demand.chainage_m
    bins = np.floor(ch / (t.stretch_km * 1000.0)).astype(int)
    out = []
    for b in np.unique(bins):
        sel = bins == b
        p = got["probability"][sel]
        margin = float(np.min(p - problem.required_p[sel]))
        crlb = got["crlb_m"][sel]
        out.append({"from_km": float(b * t.stretch_km), "to_km": float((b + 1) * t.stretch_km),
                    "min_probability": round(float(p.min()), 4),
                    "min_sensors": int(got["k"][sel].min()),
                    "max_crlb_m": None if not np.isfinite(crlb.max()) else round(float(crlb.max()), 1),
                    "margin": round(margin, 4)})
    out.sort(key=lambda d: (d["margin"], -(d["max_crlb_m"] or math.inf)))
    return out[:n]


def allocate_sectors(problem: Problem, solution: Solution,
                     contributions: Mapping[str, float]) -> list[dict[str, Any]]:
    """Contiguous stretches of the line for the contributing nations, in the order given, each
    taking the share of the plan's cost that its contribution is of the total (cut between
    sites, by chainage)."""
    if not contributions:
        return []
    total_c = float(sum(contributions.values()))
    if total_c <= 0 or any(v < 0 for v in contributions.values()):
        raise ValueError("contributions must be >= 0 with a positive total")
    length_km = float(problem.sites.chainage_m.max() / 1000.0) if len(problem.sites) else 0.0
    ch = problem.sites.chainage_m[solution.site]
    costs = np.array([problem.assets[a].cost for a in solution.asset])
    crews = np.array([problem.assets[a].crew_total for a in solution.asset])
    order = np.argsort(ch, kind="stable")
    ch, costs, crews, assets = ch[order], costs[order], crews[order], solution.asset[order]
    cum = np.cumsum(costs)
    total = float(cum[-1]) if len(cum) else 0.0
    out, start_idx, start_km, acc = [], 0, 0.0, 0.0
    names = list(contributions)
    for j, name in enumerate(names):
        acc += contributions[name] / total_c
        if j == len(names) - 1:
            end_idx = len(ch)
        else:
            end_idx = int(np.searchsorted(cum, acc * total - 1e-9, side="left")) + 1
            end_idx = min(max(end_idx, start_idx), len(ch))
        end_km = (length_km if j == len(names) - 1 or end_idx >= len(ch)
                  else float(0.5 * (ch[end_idx - 1] + ch[end_idx]) / 1000.0) if end_idx > 0 else start_km)
        part = slice(start_idx, end_idx)
        counts: dict[str, int] = {}
        for a in assets[part]:
            counts[problem.assets[a].id] = counts.get(problem.assets[a].id, 0) + 1
        cost = float(costs[part].sum())
        out.append({"nation": name, "from_km": round(start_km, 1), "to_km": round(end_km, 1),
                    "target_share": round(contributions[name] / total_c, 4),
                    "cost_share": round(cost / total, 4) if total else 0.0, "cost": cost,
                    "crew": int(crews[part].sum()), "assets": counts})
        start_idx, start_km = end_idx, end_km
    return out


def summary(problem: Problem, solution: Solution) -> dict[str, Any]:
    """Counts by asset type, crews (per shift and in total) and cost."""
    by_type = []
    for a_idx, a in enumerate(problem.assets):
        n = int((solution.asset == a_idx).sum())
        by_type.append({"asset": a.id, "kind": a.kind, "count": n, "cost": n * a.cost,
                        "crew_per_shift": n * a.crew_per_shift, "crew_total": n * a.crew_total})
    return {"sites": int(len(solution.site)), "by_type": by_type, "cost": solution.cost,
            "crew_per_shift": sum(b["crew_per_shift"] for b in by_type),
            "crew_total": sum(b["crew_total"] for b in by_type)}
