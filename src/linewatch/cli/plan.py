"""``linewatch plan``: choose where to put the mission's assets (docs/planning.md).

Reads the agreement, the asset types and the targets, builds and solves the programme
(:mod:`linewatch.planning.milp`), sweeps cost against coverage, checks the layout by simulation
(:mod:`linewatch.planning.check`) and writes the plan as JSON, HTML, CSV, GeoJSON and figures.
``linewatch.cli.main`` registers :func:`plan`.
"""

from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console

__all__ = ["plan", "run_plan"]

out = Console(soft_wrap=True)
err = Console(stderr=True)


def _round(v: Any, n: int = 2) -> Any:
    return round(v, n) if isinstance(v, float) else v


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def run_plan(agreement_path: Path, assets_path: Path, targets_path: Path, out_dir: Path, *,
             dem: Path | None = None, candidates: Path | None = None, check: bool = True,
             sweep: bool = True, say=lambda *a: None) -> dict[str, Any]:
    """Plan, check and write everything to ``out_dir``; returns the plan's JSON."""
    from linewatch import planning as P
    from linewatch.errors import Infeasible
    from linewatch.formats.planning import read_assets, read_candidates, read_targets
    from linewatch.formats.resources import load_boundaries
    from linewatch.render.plan import plan_html, plan_map, save, sweep_figure
    from linewatch.services.pipeline import load_agreement_file

    loaded = load_agreement_file(agreement_path)
    ag = loaded.agreement
    assets = read_assets(assets_path)
    targets, extra = read_targets(targets_path)
    sites = read_candidates(candidates, ag) if candidates is not None else None
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    problem = P.build_problem(ag, assets, targets, sites=sites)
    visible = None
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
    ms = (extra["redundancy"],) if extra["redundancy"] else (1, 2, 3)
    t1 = time.perf_counter()
    sol, m = P.solve_best(problem, ms)
    solve_s = time.perf_counter() - t1
    got = P.achieved(problem, sol)
    summary = P.summary(problem, sol)
    say(f"  solved in {solve_s:.1f} s: {summary['sites']} assets, cost {sol.cost:,.0f}, "
        f"{sol.gap_to_lp * 100:.2f} % above the LP bound")
    weakest = P.weakest_stretches(problem, got)
    sectors = P.allocate_sectors(problem, sol, targets.contributions)
    sweep_rows = []
    if sweep:
        for p in targets.sweep:
            try:
                s_p, _ = P.solve_best(P.with_probability(problem, p), ms)
                sm = P.summary(problem, s_p)
                sweep_rows.append({"detection_probability": p, "sites": sm["sites"], "cost": s_p.cost,
                                   "crew_total": sm["crew_total"], "gap_to_lp": round(s_p.gap_to_lp, 4),
                                   "note": ""})
            except Infeasible as exc:
                sweep_rows.append({"detection_probability": p, "sites": None, "cost": None,
                                   "crew_total": None, "gap_to_lp": None, "note": str(exc)[:200]})
            say(f"  sweep P={p:g}: " + (f"cost {sweep_rows[-1]['cost']:,.0f}" if sweep_rows[-1]["cost"]
                                         else "infeasible"))
    kinds = np.array([problem.assets[a].kind for a in sol.asset], dtype=object)
    check_result = None
    if check and extra["check"] is not None:
        check_result = _check(ag, problem, sol, kinds, got, weakest, extra["check"], say)
    plan = {
        "format": "linewatch-plan/1",
        "agreement": {"id": ag.id, "title": ag.title, "version": ag.version, "sha256": loaded.sha256},
        "targets": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(targets).items()},
        "line_to_km": targets.line_to_km or round(ag.line_length_km, 1),
        "redundancy": m,
        "assets": [{"id": a.id, "kind": a.kind, "cost": a.cost, "crew_per_shift": a.crew_per_shift,
                    "shifts": a.shifts, "toa_sd_s": a.toa_sd_s, "bearing_sd_deg": a.bearing_sd_deg,
                    "source": a.source} for a in assets],
        "problem": {"candidate_sites": len(problem.sites), "demand_points": len(problem.demand),
                    "pairs": len(problem.pairs), "terrain": str(dem) if dem else None},
        "solver": {"cost": sol.cost, "lp_bound": sol.lp_bound, "dual_bound": sol.dual_bound,
                   "gap_to_lp": sol.gap_to_lp,
                   "block_mip_gap": sol.mip_gap, "status": sol.status, "crlb_rounds": sol.crlb_rounds,
                   "cuts": sol.cuts, "solve_s": round(solve_s, 2)},
        "summary": summary,
        "achieved": {"min_probability": round(float(got["probability"].min()), 4),
                     "mean_probability": round(float(got["probability"].mean()), 4),
                     "min_sensors": int(got["k"].min()),
                     "min_locate_probability": round(float(got["locate_probability"].min()), 4),
                     "mean_locate_probability": round(float(got["locate_probability"].mean()), 4),
                     "max_crlb_m": _finite(round(float(np.max(got["crlb_m"])), 1)),
                     "median_crlb_m": _finite(round(float(np.median(got["crlb_m"])), 1))},
        "weakest": weakest,
        "sectors": sectors,
        "sweep": sweep_rows,
        "check": check_result,
        "sites": [{"id": problem.sites.ids[s], "asset": problem.assets[a].id, "kind": problem.assets[a].kind,
                   "lon": round(float(problem.sites.lon[s]), 6), "lat": round(float(problem.sites.lat[s]), 6),
                   "chainage_km": round(float(problem.sites.chainage_m[s]) / 1000, 3),
                   "offset_km": round(float(problem.sites.offset_m[s]) / 1000, 3)}
                  for s, a in zip(sol.site, sol.asset)],
    }
    boundaries = load_boundaries()
    sx, sy = problem.sites.x[sol.site], problem.sites.y[sol.site]
    figures = {
        "coverage": save(plan_map(ag, boundaries, problem.demand.x, problem.demand.y, got["probability"],
                                  sx, sy, kinds, title="P(detect) at the demand points, and the assets",
                                  label=f"P(detect a {targets.event_kind})", cmap="viridis", vmin=0, vmax=1),
                         out_dir / "coverage.png").name,
        "crlb": save(plan_map(ag, boundaries, problem.demand.x, problem.demand.y,
                              np.minimum(got["crlb_m"], 1000.0), sx, sy, kinds,
                              title="Localisation bound √tr(CRLB) (m), capped at 1 km",
                              label="CRLB (m)", cmap="magma_r", vmin=0,
                              vmax=float(targets.crlb_m * 2 if targets.crlb_m else 500.0)),
                     out_dir / "crlb.png").name,
    }
    if sweep_rows:
        figures["sweep"] = save(sweep_figure(sweep_rows), out_dir / "sweep.png").name
    _write(out_dir / "plan.json", json.dumps(plan, indent=1, default=_json_default))
    _write(out_dir / "plan.html", plan_html(plan, figures))
    with (out_dir / "sites.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(plan["sites"][0]) if plan["sites"] else ["id"])
        w.writeheader()
        w.writerows(plan["sites"])
    _write(out_dir / "sites.geojson", json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
         "properties": r} for r in plan["sites"]]}))
    return plan


def _json_default(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return _finite(float(v))
    raise TypeError(type(v).__name__)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _check(ag, problem, sol, kinds, got, weakest, spec: dict, say) -> dict[str, Any]:
    """Simulate the scenario on the planned layout along the weakest stretch and measure."""
    from linewatch import planning as P
    from linewatch.planning import check_layout, stretch_bins_km
    from linewatch.sim import SCENARIOS, Layout
    centre = 0.5 * (weakest[0]["from_km"] + weakest[0]["to_km"]) if weakest else \
        float(np.median(problem.demand.chainage_m)) / 1000
    lo_km = float(problem.demand.chainage_m.min()) / 1000
    hi_km = float(problem.demand.chainage_m.max()) / 1000
    half = min(spec["length_km"], hi_km - lo_km) / 2
    a = max(lo_km, min(centre - half, hi_km - 2 * half))
    params = replace(SCENARIOS[spec["scenario"]], line_from_km=a, line_to_km=a + 2 * half,
                     duration_s=spec["duration_h"] * 3600.0)
    near = (problem.sites.chainage_m[sol.site] >= (a - 30) * 1000) & \
           (problem.sites.chainage_m[sol.site] <= (a + 2 * half + 30) * 1000)
    layout = Layout(problem.sites.lon[sol.site][near], problem.sites.lat[sol.site][near], kinds[near])
    stretch_km = problem.targets.stretch_km
    bins = stretch_bins_km(ag, params, stretch_km)
    ch = problem.demand.chainage_m / 1000
    promised_p, promised_l, promised_c = [], [], []
    for b0, b1 in bins:
        sel = (ch >= b0) & (ch < b1)
        promised_p.append(float(got["probability"][sel].mean()) if sel.any() else None)
        promised_l.append(float(got["locate_probability"][sel].mean()) if sel.any() else None)
        c = got["crlb_m"][sel]
        promised_c.append(float(np.median(c[np.isfinite(c)])) if sel.any() and np.isfinite(c).any() else None)
    t = time.perf_counter()
    res = check_layout(ag, layout, params=params, seed=spec["seed"], stretch_km=stretch_km,
                       promised={"heard": promised_p, "enough": promised_l, "crlb_m": promised_c},
                       enough_detections=P.LOCATE_MIN)
    d = res.as_dict()
    say(f"  checked by simulation ({spec['scenario']}, km {a:.0f}–{a + 2 * half:.0f}, "
        f"{spec['duration_h']:g} h) in {time.perf_counter() - t:.1f} s: {d['n_launches']} launches, "
        f"heard {d['heard_share']}, by ≥ {P.LOCATE_MIN} sensors {_round(d['enough_share'])}, "
        f"located {_round(d['detection_share'])}")
    return d


def plan(
    agreement: Annotated[Path, typer.Option("--agreement", "-a", help="The agreement file (its line).")],
    assets: Annotated[Path, typer.Option("--assets", help="Asset types (YAML or JSON).")],
    targets: Annotated[Path, typer.Option("--targets", help="Targets and settings (YAML or JSON).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the plan to.")] = Path("plan"),
    dem: Annotated[Path | None, typer.Option("--dem", help="A DEM GeoTIFF: optical assets need line of sight.")] = None,
    candidates: Annotated[Path | None, typer.Option("--candidates", help="Candidate sites (CSV lon,lat[,id]) instead of the generated rows.")] = None,
    no_check: Annotated[bool, typer.Option("--no-check", help="Skip the check by simulation.")] = False,
    no_sweep: Annotated[bool, typer.Option("--no-sweep", help="Skip the sweep of cost against coverage.")] = False,
) -> None:
    """Plan the mission's assets to meet coverage targets at minimum cost (HiGHS), and check it."""
    t = time.perf_counter()
    p = run_plan(agreement, assets, targets, out_dir, dem=dem, candidates=candidates,
                 check=not no_check, sweep=not no_sweep, say=err.print)
    s = p["summary"]
    out.print(f"{s['sites']} assets, cost {s['cost']:,.0f}, monitors {s['crew_per_shift']} per shift "
              f"({s['crew_total']} in total); {p['solver']['gap_to_lp'] * 100:.2f} % above the LP bound")
    out.print(f"plan: {out_dir / 'plan.html'} and {out_dir / 'plan.json'} ({time.perf_counter() - t:.0f} s)")
