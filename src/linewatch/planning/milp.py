"""Mission planning: how many observers and sensors, and where, to meet coverage targets along
an agreement's line, as a mixed-integer programme solved by HiGHS (``scipy.optimize.milp``).

The model (docs/planning.md):

- *Demand points* sample the band within ``band_km`` of the line (a grid in chainage and
  offset), each with the detection probability and the number of sensors it needs; points in
  the agreement's disengagement areas and protected sites can need more
  (:mod:`~linewatch.planning.inputs`, :mod:`~linewatch.planning.problem`).
- *Candidate sites* stand on both sides of the line at a spacing and at depths (or come from a
  file). Each may host one asset of one type.
- Asset ``a`` at site ``s`` detects an event of the target kind at point ``i`` with probability
  ``p_isa`` (the coverage model's detection curve, times line of sight for optical assets;
  :mod:`~linewatch.planning.pairs`). Detections being independent, ``P(i detected) ≥ p`` is
  the linear constraint ``Σ x_sa · −ln(1 − p_isa) ≥ −ln(1 − p)``; "seen by ``k`` sensors"
  counts the assets with ``p_isa ≥ ½``.
- The localisation bound (CRLB, :mod:`~linewatch.planning.information`) is convex in the
  layout, not linear: it is met by cutting planes. After each solve the exact bound of every
  demand point is computed for the chosen layout; where ``√tr(CRLB) > crlb_m``, the point's
  Fisher information along its weakest direction must reach what the target needs, a linear
  cut; and the model is solved again.
- The cost is minimised; the optimality gap is reported against HiGHS's dual bound and
  against the linear relaxation's bound.

Everything here is pure computation on arrays: no files, no clock, no printing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from linewatch.errors import Infeasible
from linewatch.planning.chainage import blocks, runs_km, within
from linewatch.planning.information import SOUND_SPEED_M_S, crlb_of_layout, fisher_terms, locating, weak_direction
from linewatch.planning.problem import Problem, check_feasible, covering_level

__all__ = ["Solution", "covering_rows", "solve", "solve_best"]


@dataclass(frozen=True)
class Solution:
    """One solve: which asset type each chosen site hosts, and how good the answer is."""

    site: np.ndarray                 # chosen site indices
    asset: np.ndarray                # the asset type index at each
    cost: float
    lp_bound: float                  # the whole problem's linear relaxation without the CRLB cuts (a lower bound)
    dual_bound: float                # the best lower bound known (HiGHS's on the whole line, or the LP bound)
    gap_to_lp: float                 # (cost − lp_bound) / cost
    mip_gap: float                   # the largest gap HiGHS left in a block
    status: str
    crlb_rounds: int
    cuts: int
    solve_s_note: str = ""           # filled by the shell (the core does not read the clock)


# -- the rows ------------------------------------------------------------------------------------

def covering_rows(problem: Problem, redundancy: int
                  ) -> tuple[sp.csr_matrix, np.ndarray, sp.csr_matrix, np.ndarray, sp.csr_matrix]:
    """Detection rows, k-coverage rows and one-asset-per-site rows, all covering rows, with
    the lower bounds of the first two: ``(det, det_lb, kcov, k_lb, one)``.

    A point's detection target ``p`` is met by ``redundancy`` = m assets that each detect there
    with probability at least ``q`` (:func:`covering_level`): independent detections then give
    at least ``p``, so the rows are a sufficient condition (the plan's achieved probability,
    with every asset's contribution, is reported beside). Covering rows keep the linear
    relaxation tight: the line is nearly one-dimensional and intervals cover it integrally."""
    pr = problem.pairs
    n_s, n_a, n_d = len(problem.sites), len(problem.assets), len(problem.demand)
    col = pr.s * n_a + pr.a
    q = np.array([covering_level(p, redundancy) for p in problem.required_p])
    good = pr.p >= q[pr.i] - 1e-12
    det = sp.csr_matrix((np.ones(int(good.sum())), (pr.i[good], col[good])), shape=(n_d, n_s * n_a))
    seen = pr.p >= 0.5
    kcov = sp.csr_matrix((np.ones(int(seen.sum())), (pr.i[seen], col[seen])), shape=(n_d, n_s * n_a))
    one = sp.csr_matrix((np.ones(n_s * n_a), (np.repeat(np.arange(n_s), n_a), np.arange(n_s * n_a))),
                        shape=(n_s, n_s * n_a))
    k_need = problem.required_k.astype(float)
    if problem.targets.crlb_m is not None:
        # a fix needs three arrival times (two for the position, one for the origin time) or
        # bearings: the localisation rows count the assets that hear and measure either
        loc = seen & locating(problem.assets)[pr.a]
        lrows = sp.csr_matrix((np.ones(int(loc.sum())), (pr.i[loc], col[loc])), shape=(n_d, n_s * n_a))
        kcov = sp.vstack([kcov, lrows]).tocsr()
        k_need = np.concatenate([k_need, np.full(n_d, 3.0)])
    return det, np.full(n_d, float(redundancy)), kcov, k_need, one


def _dominated(det: sp.csr_matrix, kcov: sp.csr_matrix, cost: np.ndarray, n_a: int) -> np.ndarray:
    """Columns (site × asset type) dominated by another type at the same site: no dearer, and
    covering a superset of its detection and k-coverage rows."""
    if n_a == 1:
        return np.zeros(det.shape[1], bool)
    both = sp.vstack([det, kcov]).tocsc()
    both.data[:] = 1.0
    out = np.zeros(det.shape[1], bool)
    n_s = det.shape[1] // n_a
    sizes = np.diff(both.indptr)
    for a in range(n_a):
        for b in range(n_a):
            if a == b:
                continue
            ca = np.arange(n_s) * n_a + a
            cb = np.arange(n_s) * n_a + b
            cheaper = (cost[cb] < cost[ca]) | ((cost[cb] == cost[ca]) & (b < a))
            # rows(a) ⊆ rows(b)  ⇔  |rows(a) ∩ rows(b)| == |rows(a)|
            inter = np.asarray(both[:, ca].multiply(both[:, cb]).sum(axis=0)).ravel()
            out[ca[cheaper & (inter == sizes[ca])]] = True
    return out


# -- the cuts for the localisation bound -----------------------------------------------------------

def _rows_of(bad: np.ndarray, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each pair's ``point``: its row among the sorted ``bad`` points, and whether it is one."""
    rows = np.searchsorted(bad, point)
    on = (rows < len(bad)) & (bad[np.minimum(rows, len(bad) - 1)] == point)
    return rows, on


def _crlb_cut(problem: Problem, chosen_pairs: np.ndarray, bad: np.ndarray, strikes: np.ndarray,
              n_var: int) -> sp.csr_matrix:
    """Rows ``Σ info_j x_j / need ≥ 1``: each of the ``bad`` points' Fisher information along
    its weakest direction must reach ``2 / Y²`` (``λ_min ≥ 2/Y²`` gives ``tr(CRLB) ≤ Y²``),
    asking half as much again for each earlier round the point missed its target (``strikes``:
    1 the first time; the origin time eats some of the information)."""
    pr, n_a = problem.pairs, len(problem.assets)
    crlb_m = problem.targets.crlb_m
    assert crlb_m is not None, "a CRLB cut needs a CRLB target"
    col = pr.s * n_a + pr.a
    terms = fisher_terms(pr, problem.assets, problem.targets.celerity_jitter)
    ux, uy = weak_direction(len(problem.demand), pr, chosen_pairs, terms, bad, SOUND_SPEED_M_S)
    need = 2.0 / crlb_m ** 2 * (1.0 + 0.5 * (np.asarray(strikes, float) - 1.0))
    w, bxx, bxy, byy = terms
    g2 = (1.0 / SOUND_SPEED_M_S) ** 2
    rows, on = _rows_of(bad, pr.i)
    r = rows[on]
    du = ux[r] * pr.ux[on] + uy[r] * pr.uy[on]
    # the origin time is unknown: arrival times inform along u only by how much their directions
    # differ, Σ w (du − mean du)². The mean is the layout's so far (a sensor whose direction
    # differs from those already there counts for more; one in the same direction, for little)
    mine = chosen_pairs[on]
    sw = np.bincount(r[mine], weights=w[on][mine], minlength=len(bad))
    mean = np.bincount(r[mine], weights=(w[on] * du)[mine], minlength=len(bad)) / np.where(sw > 0, sw, 1.0)
    dev = du - mean[r]
    info = w[on] * dev * dev * g2 + bxx[on] * ux[r] ** 2 + 2 * bxy[on] * ux[r] * uy[r] + byy[on] * uy[r] ** 2
    return sp.csr_matrix((info / need[r], (r, col[on])), shape=(len(bad), n_var))


def _count_cut(problem: Problem, chosen_pairs: np.ndarray, bad: np.ndarray, n_var: int) -> sp.csr_matrix:
    """Rows asking each of the ``bad`` points for one more locating asset that hears it than
    the layout has: the directional cut works on the information without the origin time, so
    this one makes sure every round moves (the sets only grow: the rounds end)."""
    pr, n_a = problem.pairs, len(problem.assets)
    loc = (pr.p >= 0.5) & locating(problem.assets)[pr.a]
    have = np.bincount(pr.i[loc & chosen_pairs], minlength=len(problem.demand))
    rows, on = _rows_of(bad, pr.i)
    on = loc & on
    r = rows[on]
    return sp.csr_matrix((1.0 / (have[bad][r] + 1.0), (r, (pr.s * n_a + pr.a)[on])), shape=(len(bad), n_var))


# -- the programme and its parts -----------------------------------------------------------------

@dataclass(frozen=True)
class _Programme:
    """What every part of one solve shares: the covering rows (detection, then k-coverage and
    localisation) and their lower bounds, the one-asset-per-site rows, the costs and the
    columns' upper bounds (0: dominated, left out)."""

    problem: Problem
    rows: sp.csr_matrix
    lb: np.ndarray
    one: sp.csr_matrix
    cost: np.ndarray
    upper: np.ndarray

    @property
    def n_a(self) -> int:
        return len(self.problem.assets)

    @property
    def n_var(self) -> int:
        return len(self.cost)

    @property
    def col_of_pair(self) -> np.ndarray:
        pr = self.problem.pairs
        cols: np.ndarray = pr.s * self.n_a + pr.a
        return cols

    @property
    def site_chainage(self) -> np.ndarray:
        """Per column, its site's chainage (m)."""
        return np.repeat(self.problem.sites.chainage_m, self.n_a)

    def layout(self, cols: np.ndarray, x: np.ndarray) -> np.ndarray:
        """A solver's answer over ``cols`` as one bool per column."""
        out = np.zeros(self.n_var, bool)
        out[cols[x > 0.5]] = True
        return out


def _programme(problem: Problem, redundancy: int) -> _Programme:
    """The rows for ``redundancy``, the costs (with a tie-break) and the dominated columns shut."""
    det, det_lb, kcov, k_lb, one = covering_rows(problem, redundancy)
    n_a = len(problem.assets)
    cost = np.tile(np.array([a.cost for a in problem.assets], float), len(problem.sites))
    # a tiny tie-break towards sites nearer the line keeps equal-cost answers stable
    cost = cost * (1.0 + 1e-9 * np.repeat(np.abs(problem.sites.offset_m) / 1000.0, n_a))
    # a column is left out when, at the same site, a type no dearer covers every row it does
    # (with a CRLB target the information it adds matters too, so nothing is left out)
    upper = np.ones(det.shape[1])
    if problem.targets.crlb_m is None:
        upper[_dominated(det, kcov, cost, n_a)] = 0.0
    return _Programme(problem, sp.vstack([det, kcov]).tocsr(), np.concatenate([det_lb, k_lb]), one, cost, upper)


@dataclass(frozen=True)
class _Part:
    """A part of the programme: the columns its rows need, their bounds and its constraints."""

    cols: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    constraints: list[LinearConstraint]


def _columns(rows: sp.csr_matrix, chosen: np.ndarray, upper: np.ndarray, n_a: int, n_sites: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, sp.csr_matrix]:
    """The columns a part of the problem needs (those in its ``rows`` and those already
    chosen), their bounds (a chosen column stays chosen; a site taken keeps its asset, so its
    other types are closed) and their one-asset-per-site rows."""
    cols = np.unique(np.concatenate([rows.indices, np.flatnonzero(chosen)]))
    lo = chosen[cols].astype(float)
    taken_site = np.zeros(n_sites, bool)
    taken_site[np.flatnonzero(chosen) // n_a] = True
    hi = np.maximum(np.where(taken_site[cols // n_a] & ~chosen[cols], 0.0, upper[cols]), lo)
    site_ids, site_row = np.unique(cols // n_a, return_inverse=True)
    one = sp.csr_matrix((np.ones(len(cols)), (site_row, np.arange(len(cols)))),
                        shape=(len(site_ids), len(cols)))
    return cols, lo, hi, one


def _part(prog: _Programme, in_rows: np.ndarray, chosen: np.ndarray) -> _Part:
    """The part of the programme with the rows ``in_rows`` (indices or a mask), the columns
    ``chosen`` so far fixed."""
    sub = prog.rows[in_rows]
    cols, lo, hi, one_sub = _columns(sub, chosen, prog.upper, prog.n_a, len(prog.problem.sites))
    return _Part(cols, lo, hi, [LinearConstraint(sub[:, cols], prog.lb[in_rows], np.inf),
                                LinearConstraint(one_sub, 0, 1)])


def _milp(prog: _Programme, part: _Part, constraints: list[LinearConstraint], lo: np.ndarray,
          hi: np.ndarray, options: dict[str, float]) -> Any:
    """HiGHS on the part's columns: its ``scipy.optimize.OptimizeResult``."""
    return milp(prog.cost[part.cols], constraints=constraints, integrality=np.ones(len(part.cols)),
                bounds=Bounds(lo, hi), options=options)


def _span(c0: float, c1: float) -> list[dict[str, float]]:
    return [{"from_km": round(c0 / 1000, 1), "to_km": round(c1 / 1000, 1)}]


# -- one block: solve, then cut until the localisation bound holds --------------------------------

@dataclass(frozen=True)
class _Block:
    """One block's answer: its layout (one bool per column) and what HiGHS said of it."""

    chosen: np.ndarray
    status: str
    mip_gap: float
    dual_bound: float | None
    rounds: int
    cuts: list[sp.csr_matrix]


def _solve_block(prog: _Programme, chosen: np.ndarray, span: tuple[float, float], window: np.ndarray,
                 options: dict[str, float]) -> _Block:
    """The block's points (``window``: those of the block, of the overlap ahead, and those
    behind whose cover may have counted on sites ahead of the last block's end, left open
    then) solved with the columns ``chosen`` so far fixed, then the CRLB rounds."""
    c0, c1 = span
    n_d = len(prog.problem.demand)
    part = _part(prog, np.tile(window, prog.rows.shape[0] // n_d) & (prog.lb > 0), chosen)
    res = _milp(prog, part, part.constraints, part.lo, part.hi, options)
    if res.x is None:
        hint = ("raise time_limit_s or solve in blocks (block_km)" if res.status == 1
                else "check the targets")
        raise Infeasible(f"HiGHS found no layout for km {c0 / 1000:.0f}–{c1 / 1000:.0f} "
                         f"({str(res.message).strip()}); {hint}", _span(c0, c1))
    dual = getattr(res, "mip_dual_bound", None)
    x_block, rounds, cuts = _crlb_rounds(prog, part, prog.layout(part.cols, res.x), window, span, options)
    return _Block(x_block, str(res.message).strip(), float(getattr(res, "mip_gap", 0.0) or 0.0),
                  None if dual is None else float(dual), rounds, cuts)


def _crlb_rounds(prog: _Programme, part: _Part, x_block: np.ndarray, window: np.ndarray,
                 span: tuple[float, float], options: dict[str, float]
                 ) -> tuple[np.ndarray, int, list[sp.csr_matrix]]:
    """Cut and re-solve until every point of the ``window`` meets the CRLB target: the layout,
    the rounds taken and the cuts added."""
    problem = prog.problem
    t = problem.targets
    cuts: list[sp.csr_matrix] = []
    if t.crlb_m is None:
        return x_block, 0, cuts
    ch = problem.demand.chainage_m
    col_of_pair = prog.col_of_pair
    rounds = 0
    strikes = np.zeros(len(ch), int)
    while True:
        bound = crlb_of_layout(len(problem.demand), problem.pairs, x_block[col_of_pair], problem.assets,
                               celerity_jitter=t.celerity_jitter)
        bad = np.flatnonzero((bound > t.crlb_m * 1.0001) & window)
        if len(bad) == 0:
            return x_block, rounds, cuts
        if rounds >= t.crlb_rounds:
            spans = runs_km(ch, np.isin(np.arange(len(ch)), bad), 5000.0)
            raise Infeasible(f"the CRLB target of {t.crlb_m:g} m is still missed after "
                             f"{rounds} rounds of cuts at "
                             + ", ".join(f"km {a:.1f}–{b:.1f}" for a, b in spans[:5])
                             + " (raise crlb_rounds, add candidate sites there, or relax the target)",
                             [{"from_km": a, "to_km": b} for a, b in spans])
        rounds += 1
        strikes[bad] += 1
        cuts.append(_crlb_cut(problem, x_block[col_of_pair], bad, strikes[bad], prog.n_var))
        cuts.append(_count_cut(problem, x_block[col_of_pair], bad, prog.n_var))
        x_block = _repair_near(prog, part, x_block, cuts, ch[bad], span, options)


def _repair_near(prog: _Programme, part: _Part, x_block: np.ndarray, cuts: list[sp.csr_matrix],
                 bad_chainage: np.ndarray, span: tuple[float, float], options: dict[str, float]) -> np.ndarray:
    """Re-solve the sites within ``repair_km`` of the misses with the rest of the layout fixed
    (the whole block again if that cannot meet the cuts). The layout so far meets every earlier
    row and cut, so only the new cuts can make this infeasible."""
    cons = [*part.constraints, LinearConstraint(sp.vstack(cuts)[:, part.cols], 1.0, np.inf)]
    near = within(prog.site_chainage[part.cols], bad_chainage, prog.problem.targets.repair_km * 1000.0)
    now = x_block[part.cols].astype(float)
    res = _milp(prog, part, cons, np.where(near, part.lo, np.maximum(now, part.lo)),
                np.where(near, part.hi, now), options)
    if res.x is None:
        res = _milp(prog, part, cons, part.lo, part.hi, options)
    if res.x is None:
        c0, c1 = span
        raise Infeasible(f"HiGHS found no layout for km {c0 / 1000:.0f}–{c1 / 1000:.0f} "
                         f"({str(res.message).strip()}); the CRLB cuts made it infeasible: "
                         "lower the CRLB target or add acoustic candidate sites there", _span(c0, c1))
    return prog.layout(part.cols, res.x)


# -- the whole line ------------------------------------------------------------------------------

def _complete(prog: _Programme, chosen: np.ndarray) -> np.ndarray:
    """Where the line folds back, a point far behind a block's end by chainage can be near a
    site beyond it: any row the kept choices leave short is repaired with them fixed."""
    short = np.flatnonzero((prog.rows @ chosen.astype(float)) < prog.lb - 1e-9)
    if not len(short):
        return chosen
    t = prog.problem.targets
    part = _part(prog, short, chosen)
    res = _milp(prog, part, part.constraints, part.lo, part.hi,
                {"mip_rel_gap": t.mip_gap, "time_limit": t.time_limit_s})
    if res.x is None:
        raise Infeasible(f"HiGHS could not complete the layout ({str(res.message).strip()})")
    completed: np.ndarray = chosen | prog.layout(part.cols, res.x)
    return completed


def _lp_bound(prog: _Programme) -> float:
    """The whole problem's linear relaxation: a lower bound on any layout that meets the rows
    (the CRLB cuts are left out: they grow round by round and block by block, so they are not
    all valid for every layout that meets the target, and the bound without them still holds)."""
    keep = prog.lb > 0
    cons = [LinearConstraint(prog.rows[keep], prog.lb[keep], np.inf), LinearConstraint(prog.one, 0, 1)]
    lp = milp(prog.cost, constraints=cons, integrality=np.zeros(prog.n_var), bounds=Bounds(0, prog.upper),
              options={"time_limit": prog.problem.targets.time_limit_s})
    return float(lp.fun) if lp.x is not None else float("nan")


def _solution(prog: _Programme, chosen: np.ndarray, done: list[_Block]) -> Solution:
    """The layout ``chosen`` with its cost, the bounds and what the blocks' solves said."""
    hi_dual = -np.inf
    if len(done) == 1 and done[0].dual_bound is not None:
        hi_dual = done[0].dual_bound                 # the whole problem's: a valid bound
    lp_bound = _lp_bound(prog)
    chosen_vars = np.flatnonzero(chosen)
    value = float(prog.cost[chosen_vars].sum())
    return Solution(site=chosen_vars // prog.n_a, asset=chosen_vars % prog.n_a, cost=value, lp_bound=lp_bound,
                    dual_bound=min(max(lp_bound, hi_dual), value),
                    gap_to_lp=(value - lp_bound) / value if value > 0 else 0.0,
                    mip_gap=max([0.0, *(b.mip_gap for b in done)]),
                    status="; ".join(sorted({b.status for b in done})),
                    crlb_rounds=sum(b.rounds for b in done),
                    cuts=int(sum(c.shape[0] for b in done for c in b.cuts)))


def solve(problem: Problem, *, redundancy: int = 1, overlap_km: float = 60.0) -> Solution:
    """The minimum-cost layout where every point is covered by ``redundancy`` assets
    (:func:`covering_rows`), with the CRLB target met by cutting planes; raises
    :class:`Infeasible` when it cannot be.

    The whole line is one programme, solved by HiGHS's branch and bound to ``mip_gap`` or
    ``time_limit_s``; its dual bound is kept. With ``targets.block_km`` a long line is solved in
    blocks instead, each with ``overlap_km`` of the next in view (a rolling horizon: the block's
    choices up to its end are kept, those in the overlap are solved again with the next block).
    A CRLB round re-solves only the sites within ``repair_km`` of the points that miss the
    target, the rest of the layout fixed (the whole block again if that cannot meet the cuts).
    The cost is compared with the linear relaxation of the whole problem, a lower bound on any
    layout that meets the rows."""
    t = problem.targets
    check_feasible(problem, redundancy)
    prog = _programme(problem, redundancy)
    ch = problem.demand.chainage_m
    spans = (blocks(ch, t.block_km * 1000.0) if t.block_km else [(float(ch.min()), float(ch.max()) + 1.0)]
             ) if len(ch) else []
    options = {"mip_rel_gap": t.mip_gap, "time_limit": t.time_limit_s / max(len(spans), 1)}
    site_ch = prog.site_chainage
    chosen = np.zeros(prog.n_var, bool)
    done: list[_Block] = []
    for b, (c0, c1) in enumerate(spans):
        window = (ch >= c0 - overlap_km * 1000.0) & (ch < c1 + overlap_km * 1000.0)
        block = _solve_block(prog, chosen, (c0, c1), window, options)
        done.append(block)
        chosen |= block.chosen & ((site_ch < c1) | (b == len(spans) - 1))
    return _solution(prog, _complete(prog, chosen), done)


def solve_best(problem: Problem, redundancies: Sequence[int] = (1, 2, 3)) -> tuple[Solution, int]:
    """The cheapest of the layouts for each redundancy (each is a sufficient condition for the
    detection target, so the cheapest is the best plan these rows can certify), and its m."""
    best: tuple[Solution, int] | None = None
    last_error: Infeasible | None = None
    for m in redundancies:
        try:
            sol = solve(problem, redundancy=m)
        except Infeasible as exc:
            last_error = exc
            continue
        if best is None or sol.cost < best[0].cost:
            best = (sol, m)
    if best is None:
        assert last_error is not None
        raise last_error
    return best
