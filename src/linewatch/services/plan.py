"""Mission planning as a use case (docs/planning.md): read the agreement, the asset types and
the targets, build and solve the programme (:mod:`linewatch.planning`), sweep cost against
coverage, check the layout by simulation, and write the plan as JSON, HTML, CSV, GeoJSON and
figures.

Shell: reads and writes files and times the solve; every decision is the core's. ``linewatch
plan`` (:mod:`linewatch.cli.plan`) calls :func:`run_plan`; so can anyone else.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from linewatch import planning as P
from linewatch.agreement import Agreement
from linewatch.errors import Infeasible
from linewatch.formats.planning import read_assets, read_candidates, read_targets
from linewatch.formats.resources import load_boundaries
from linewatch.render.plan import plan_html, plan_map, save, sweep_figure
from linewatch.services.agreements import load_agreement_file
from linewatch.sim import SCENARIOS, Layout

__all__ = ["Say", "run_plan"]

#: where progress lines go (the CLI passes its stderr console's ``print``)
Say = Callable[[str], object]


def _quiet(_line: str) -> None:
    return None


@dataclass(frozen=True)
class _Solved:
    """The programme and its best layout, with what the layout achieves."""

    problem: P.Problem
    solution: P.Solution
    redundancy: int
    achieved: dict[str, np.ndarray]
    summary: dict[str, Any]
    solve_s: float

    @property
    def kinds(self) -> np.ndarray:
        """The asset kind at each chosen site."""
        return np.array([self.problem.assets[a].kind for a in self.solution.asset], dtype=object)


def run_plan(agreement_path: Path, assets_path: Path, targets_path: Path, out_dir: Path, *,
             dem: Path | None = None, candidates: Path | None = None, check: bool = True,
             sweep: bool = True, say: Say = _quiet) -> dict[str, Any]:
    """Plan, check and write everything to ``out_dir``; returns the plan's JSON.

    Raises :class:`~linewatch.errors.InputError` for unreadable or invalid files and
    :class:`~linewatch.errors.Infeasible` when the targets cannot be met."""
    loaded = load_agreement_file(agreement_path)
    ag = loaded.agreement
    assets = read_assets(assets_path)
    targets, extra = read_targets(targets_path)
    sites = read_candidates(candidates, ag) if candidates is not None else None
    out_dir.mkdir(parents=True, exist_ok=True)
    problem = _problem(ag, assets, targets, sites, dem, say)
    ms = (extra["redundancy"],) if extra["redundancy"] else (1, 2, 3)
    solved = _solve(problem, ms, say)
    weakest = P.weakest_stretches(problem, solved.achieved)
    sectors = P.allocate_sectors(problem, solved.solution, targets.contributions)
    sweep_rows = _sweep(problem, targets.sweep, ms, say) if sweep else []
    check_result = None
    if check and extra["check"] is not None:
        check_result = _check(ag, solved, weakest, extra["check"], say)
    plan = {
        "format": "linewatch-plan/1",
        "agreement": {"id": ag.id, "title": ag.title, "version": ag.version, "sha256": loaded.sha256},
        "targets": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(targets).items()},
        "line_to_km": targets.line_to_km or round(ag.line_length_km or 0.0, 1),
        "redundancy": solved.redundancy,
        "assets": [_asset_json(a) for a in assets],
        "problem": {"candidate_sites": len(problem.sites), "demand_points": len(problem.demand),
                    "pairs": len(problem.pairs), "terrain": str(dem) if dem else None},
        "solver": _solver_json(solved),
        "summary": solved.summary,
        "achieved": _achieved_json(solved.achieved),
        "weakest": weakest,
        "sectors": sectors,
        "sweep": sweep_rows,
        "check": check_result,
        "sites": _sites_json(solved),
    }
    _write_plan(out_dir, plan, _figures(out_dir, ag, solved, sweep_rows))
    return plan


# -- the programme -------------------------------------------------------------------------------

def _problem(ag: Agreement, assets: list[P.AssetType], targets: P.Targets, sites: P.Points | None,
             dem: Path | None, say: Say) -> P.Problem:
    """The programme; with a DEM, optical assets need line of sight to each demand point."""
    t0 = time.perf_counter()
    problem = P.build_problem(ag, assets, targets, sites=sites)
    if dem is not None:
        from linewatch.formats.dem import read_dem
        terrain = read_dem(dem)
        reach = max(c.r50_m + 6 * c.width_m for a in assets if (c := a.curve(targets.event_kind)))
        visible = terrain.visibility_matrix(np.column_stack([problem.sites.lon, problem.sites.lat]),
                                            np.column_stack([problem.demand.lon, problem.demand.lat]),
                                            5.0, 2.0, reach)
        problem = P.build_problem(ag, assets, targets, sites=problem.sites, visible=visible)
    say(f"  {len(problem.sites):,} candidate sites, {len(problem.demand):,} demand points, "
        f"{len(problem.pairs):,} site–point pairs ({time.perf_counter() - t0:.1f} s)")
    return problem


def _solve(problem: P.Problem, redundancies: Sequence[int], say: Say) -> _Solved:
    t1 = time.perf_counter()
    sol, m = P.solve_best(problem, redundancies)
    solve_s = time.perf_counter() - t1
    summary = P.summary(problem, sol)
    solved = _Solved(problem, sol, m, P.achieved(problem, sol), summary, solve_s)
    say(f"  solved in {solve_s:.1f} s: {summary['sites']} assets, cost {sol.cost:,.0f}, "
        f"{sol.gap_to_lp * 100:.2f} % above the LP bound")
    return solved


def _sweep(problem: P.Problem, targets: Sequence[float], redundancies: Sequence[int],
           say: Say) -> list[dict[str, Any]]:
    """The cost of the best layout for each detection target (a row with a note where none is)."""
    rows: list[dict[str, Any]] = []
    for p in targets:
        try:
            s_p, _ = P.solve_best(P.with_probability(problem, p), redundancies)
            sm = P.summary(problem, s_p)
            rows.append({"detection_probability": p, "sites": sm["sites"], "cost": s_p.cost,
                         "crew_total": sm["crew_total"], "gap_to_lp": round(s_p.gap_to_lp, 4),
                         "note": ""})
        except Infeasible as exc:
            rows.append({"detection_probability": p, "sites": None, "cost": None,
                         "crew_total": None, "gap_to_lp": None, "note": str(exc)[:200]})
        say(f"  sweep P={p:g}: " + (f"cost {rows[-1]['cost']:,.0f}" if rows[-1]["cost"] else "infeasible"))
    return rows


# -- the check by simulation ---------------------------------------------------------------------

def _check(ag: Agreement, solved: _Solved, weakest: list[dict[str, Any]], spec: dict[str, Any],
           say: Say) -> dict[str, Any]:
    """Simulate the scenario on the planned layout along the weakest stretch and measure."""
    problem, sol = solved.problem, solved.solution
    centre = 0.5 * (weakest[0]["from_km"] + weakest[0]["to_km"]) if weakest else \
        float(np.median(problem.demand.chainage_m)) / 1000
    lo_km = float(problem.demand.chainage_m.min()) / 1000
    hi_km = float(problem.demand.chainage_m.max()) / 1000
    half = min(spec["length_km"], hi_km - lo_km) / 2
    a = max(lo_km, min(centre - half, hi_km - 2 * half))
    params = replace(SCENARIOS[spec["scenario"]], line_from_km=a, line_to_km=a + 2 * half,
                     duration_s=spec["duration_h"] * 3600.0)
    site_ch = problem.sites.chainage_m[sol.site]
    near = (site_ch >= (a - 30) * 1000) & (site_ch <= (a + 2 * half + 30) * 1000)
    layout = Layout(problem.sites.lon[sol.site][near], problem.sites.lat[sol.site][near], solved.kinds[near])
    stretch_km = problem.targets.stretch_km
    t = time.perf_counter()
    res = P.check_layout(ag, layout, params=params, seed=spec["seed"], stretch_km=stretch_km,
                         promised=_promised(solved, P.stretch_bins_km(ag, params, stretch_km)),
                         enough_detections=P.LOCATE_MIN)
    d = res.as_dict()
    say(f"  checked by simulation ({spec['scenario']}, km {a:.0f}–{a + 2 * half:.0f}, "
        f"{spec['duration_h']:g} h) in {time.perf_counter() - t:.1f} s: {d['n_launches']} launches, "
        f"heard {d['heard_share']}, by ≥ {P.LOCATE_MIN} sensors {_round(d['enough_share'])}, "
        f"located {_round(d['detection_share'])}")
    return d


def _promised(solved: _Solved, bins: np.ndarray) -> dict[str, P.Promise]:
    """The plan's promises per stretch of the check: mean P(heard), mean P(enough sensors to
    locate) and the median finite CRLB at the demand points in it (None: no point there)."""
    got = solved.achieved
    ch = solved.problem.demand.chainage_m / 1000
    heard: list[float | None] = []
    enough: list[float | None] = []
    crlb: list[float | None] = []
    for b0, b1 in bins:
        sel = (ch >= b0) & (ch < b1)
        heard.append(float(got["probability"][sel].mean()) if sel.any() else None)
        enough.append(float(got["locate_probability"][sel].mean()) if sel.any() else None)
        c = got["crlb_m"][sel]
        crlb.append(float(np.median(c[np.isfinite(c)])) if sel.any() and np.isfinite(c).any() else None)
    return {"heard": heard, "enough": enough, "crlb_m": crlb}


# -- the plan's JSON -----------------------------------------------------------------------------

def _round(v: Any, n: int = 2) -> Any:
    return round(v, n) if isinstance(v, float) else v


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _asset_json(a: P.AssetType) -> dict[str, Any]:
    return {"id": a.id, "kind": a.kind, "cost": a.cost, "crew_per_shift": a.crew_per_shift,
            "shifts": a.shifts, "toa_sd_s": a.toa_sd_s, "bearing_sd_deg": a.bearing_sd_deg,
            "source": a.source}


def _solver_json(solved: _Solved) -> dict[str, Any]:
    sol = solved.solution
    return {"cost": sol.cost, "lp_bound": sol.lp_bound, "dual_bound": sol.dual_bound,
            "gap_to_lp": sol.gap_to_lp,
            "block_mip_gap": sol.mip_gap, "status": sol.status, "crlb_rounds": sol.crlb_rounds,
            "cuts": sol.cuts, "solve_s": round(solved.solve_s, 2)}


def _achieved_json(got: dict[str, np.ndarray]) -> dict[str, Any]:
    return {"min_probability": round(float(got["probability"].min()), 4),
            "mean_probability": round(float(got["probability"].mean()), 4),
            "min_sensors": int(got["k"].min()),
            "min_locate_probability": round(float(got["locate_probability"].min()), 4),
            "mean_locate_probability": round(float(got["locate_probability"].mean()), 4),
            "max_crlb_m": _finite(round(float(np.max(got["crlb_m"])), 1)),
            "median_crlb_m": _finite(round(float(np.median(got["crlb_m"])), 1))}


def _sites_json(solved: _Solved) -> list[dict[str, Any]]:
    sites, assets = solved.problem.sites, solved.problem.assets
    return [{"id": sites.ids[s], "asset": assets[a].id, "kind": assets[a].kind,
             "lon": round(float(sites.lon[s]), 6), "lat": round(float(sites.lat[s]), 6),
             "chainage_km": round(float(sites.chainage_m[s]) / 1000, 3),
             "offset_km": round(float(sites.offset_m[s]) / 1000, 3)}
            for s, a in zip(solved.solution.site, solved.solution.asset)]


def _json_default(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return _finite(float(v))
    raise TypeError(type(v).__name__)


# -- the files -----------------------------------------------------------------------------------

def _figures(out_dir: Path, ag: Agreement, solved: _Solved, sweep_rows: list[dict[str, Any]]) -> dict[str, str]:
    """The coverage and CRLB maps (and the sweep's figure), saved; their file names."""
    problem, sol, got = solved.problem, solved.solution, solved.achieved
    targets = problem.targets
    boundaries = load_boundaries()
    sx, sy = problem.sites.x[sol.site], problem.sites.y[sol.site]
    dx, dy = problem.demand.x, problem.demand.y
    figures = {
        "coverage": save(plan_map(ag, boundaries, dx, dy, got["probability"], sx, sy, solved.kinds,
                                  title="P(detect) at the demand points, and the assets",
                                  label=f"P(detect a {targets.event_kind})", cmap="viridis", vmin=0, vmax=1),
                         out_dir / "coverage.png").name,
        "crlb": save(plan_map(ag, boundaries, dx, dy, np.minimum(got["crlb_m"], 1000.0), sx, sy, solved.kinds,
                              title="Localisation bound √tr(CRLB) (m), capped at 1 km",
                              label="CRLB (m)", cmap="magma_r", vmin=0,
                              vmax=float(targets.crlb_m * 2 if targets.crlb_m else 500.0)),
                     out_dir / "crlb.png").name,
    }
    if sweep_rows:
        figures["sweep"] = save(sweep_figure(sweep_rows), out_dir / "sweep.png").name
    return figures


def _write_plan(out_dir: Path, plan: dict[str, Any], figures: dict[str, str]) -> None:
    """plan.json, plan.html, sites.csv and sites.geojson."""
    sites: list[dict[str, Any]] = plan["sites"]
    _write(out_dir / "plan.json", json.dumps(plan, indent=1, default=_json_default))
    _write(out_dir / "plan.html", plan_html(plan, figures))
    with (out_dir / "sites.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(sites[0]) if sites else ["id"])
        w.writeheader()
        w.writerows(sites)
    _write(out_dir / "sites.geojson", json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
         "properties": r} for r in sites]}))


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
