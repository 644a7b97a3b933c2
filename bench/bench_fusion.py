"""Benchmark fusion against the ground truth, the oracle association and PyOcto, side by side.

For each scenario: simulate (seeded), run :func:`linewatch.fusion.engine.fuse` (timed; peak traced
memory in a second, untimed run), locate the true detection groups with
:func:`linewatch.fusion.engine.locate_groups` (the oracle association, located with the wind each
hour's groups share: the floor for ρ), run PyOcto on the same detections
(``bench/pyocto_peer.py``), and score all three with :mod:`linewatch.fusion.metrics`.
Metric definitions: the docstring of ``fusion_metrics``.

    .venv/bin/python bench/bench_fusion.py                       # quiet, active, barrage
    .venv/bin/python bench/bench_fusion.py --scenario active --seed 2 --skip-pyocto
    .venv/bin/python bench/bench_fusion.py --seed 1 2 3 4        # and pooled over the seeds
    .venv/bin/python bench/bench_fusion.py --large --no-memory --skip-oracle \
        --pyocto-max-detections 100000                            # ≥ 1 M detections

PyOcto is optional: ``.venv/bin/pip install --no-deps pyocto==0.2.2 pandas`` (``--no-deps``
because pyocto 0.2.2 pins numpy<2 on Python 3.11; it runs with numpy 2); without it the PyOcto
column is skipped.
Detections per second are over all the scenario's detections for every engine (PyOcto only
receives the arrival-time ones, ``pyocto picks`` in the table).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from linewatch.fusion import (
    AssociationScores,
    FusionParams,
    Scores,
    association_scores,
    fuse,
    heard_by,
    locate_groups,
    pool_scores,
    score_incidents,
    truth_detection_sets,
)
from linewatch.model import Detections, Sensors, Truth
from linewatch.services import load_agreement_file
from linewatch.sim import SCENARIOS, ScenarioParams, simulate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pyocto_peer import PyOctoSettings, run_pyocto

ROOT = Path(__file__).resolve().parents[1]
AGREEMENT = ROOT / "examples" / "agreements" / "line-of-contact.yaml"
MIN_DETECTIONS = 4

# metric -> (format, target text)
ROWS = {
    "detections": ("{:.0f}", ""),
    "n_events": ("{:.0f}", ""),
    "n_incidents": ("{:.0f}", ""),
    "precision": ("{:.3f}", ""),
    "recall": ("{:.3f}", ""),
    "f1": ("{:.3f}", "active ≥ 0.99, barrage ≥ 0.95"),
    "ghosts": ("{:.0f}", "0"),
    "merged": ("{:.0f}", "0"),
    "split": ("{:.0f}", "0"),
    "extra_per_event": ("{:.2f}", ""),
    "missing_per_event": ("{:.2f}", ""),
    "rho": ("{:.2f}", "≤ 1.2"),
    "median_error_m": ("{:.0f}", ""),
    "p90_error_m": ("{:.0f}", ""),
    "coverage95": ("{:.3f}", "0.93–0.97"),
    "n_launches": ("{:.0f}", ""),
    "wrong_side_rate": ("{:.4f}", "≤ 0.001"),
    "abstention_rate": ("{:.3f}", "≤ 0.10"),
    "seconds": ("{:.2f}", ""),
    "detections_per_s": ("{:,.0f}", "≥ 10× PyOcto at ≥ 1 M"),
    "peak_memory_mb": ("{:.0f}", ""),
}


def large_scenario() -> ScenarioParams:
    """`active` along the whole line for 13 hours: just over 1 M detections."""
    return replace(SCENARIOS["active"], name="active-1200km-13h", duration_s=13 * 3600.0,
                   line_from_km=0.0, line_to_km=None)


def truth_subset(truth: Truth, ids: set[str]) -> Truth:
    """The ground truth of some detections: their labels, and the events they heard."""
    labels = {d: e for d, e in truth.detection_event.items() if d in ids}
    keep = np.isin(truth.event_id, np.array(sorted(set(labels.values())), dtype=truth.event_id.dtype))
    return Truth(truth.event_id[keep], truth.kind[keep], truth.lon[keep], truth.lat[keep],
                 truth.time_s[keep], truth.side[keep], truth.pair_id[keep], labels)


def fusion_params(scenario: ScenarioParams) -> FusionParams:
    return FusionParams(temperature_c=scenario.temperature_c,
                        celerity_jitter=scenario.celerity_jitter)


def noise_model(scenario: ScenarioParams) -> FusionParams:
    """The simulator's true noise (no wind allowance): the CRLB is the physical bound."""
    return FusionParams(temperature_c=scenario.temperature_c,
                        celerity_jitter=scenario.celerity_jitter, wind_allowance_m_s=0.0)


def peak_memory_mb(fn) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2 ** 20
    finally:
        tracemalloc.stop()


def oracle_incidents(sensors: Sensors, det: Detections, truth: Truth, *, frame, c_m_s: float,
                     params: FusionParams):
    """The true groups with at least MIN_DETECTIONS detections, located as the engine locates
    its own (with the wind each hour's groups share): the floor for ρ."""
    row_of = {str(d): r for r, d in enumerate(det.ids)}
    groups = [np.array(sorted(row_of[d] for d in ids))
              for ids in truth_detection_sets(truth).values() if len(ids) >= MIN_DETECTIONS]
    located = locate_groups(sensors, det, groups, frame=frame, params=params, c_m_s=c_m_s)
    return [inc for inc in located if inc is not None]


#: the split of the events the association must find, whatever the clutter
SPLIT_SENSORS = 7
SPLITS: dict[str, list[AssociationScores]] = {}


def heard_split(incidents, truth: Truth, sensors: Sensors, det: Detections) -> AssociationScores:
    """Association scores over the events that ``SPLIT_SENSORS`` arrival-time sensors heard
    (an incident matching a weaker event is left out of the precision)."""
    sets = truth_detection_sets(truth)
    inc = [frozenset(str(d) for d in i.detections) for i in incidents]
    return association_scores(inc, sets, counted=heard_by(truth, sensors, det, SPLIT_SENSORS))


def pooled_split(splits: list[AssociationScores]) -> str:
    tp, n_pred, n_ev = (sum(getattr(x, f) for x in splits)
                        for f in ("true_positives", "n_predicted", "n_events"))
    p, r = (tp / n_pred if n_pred else 1.0), (tp / n_ev if n_ev else 1.0)
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return f"{n_ev:,} events; F1 {f1:.3f} (P {p:.3f} / R {r:.3f})"


def run_scenario(scenario: ScenarioParams, seed: int, args) -> list[Scores]:
    agreement = load_agreement_file(AGREEMENT).agreement
    t = time.perf_counter()
    sim = simulate(agreement, scenario, seed=seed)
    print(f"\n== {scenario.name}, seed {seed}: {len(sim.detections):,} detections, "
          f"{len(sim.truth.event_id):,} events, {len(sim.sensors)} sensors "
          f"(simulated in {time.perf_counter() - t:.1f} s)", flush=True)
    sensors, det, truth = sim.sensors, sim.detections, sim.truth
    params, noise = fusion_params(scenario), noise_model(scenario)

    pool = ProcessPoolExecutor(args.workers) if args.workers > 1 else None
    t = time.perf_counter()
    result = fuse(sensors, det, agreement=agreement, params=params,
                  map_fn=pool.map if pool else map)
    seconds = time.perf_counter() - t
    if pool is not None:
        pool.shutdown()
    print(f"   fuse: {len(result.incidents):,} incidents in {seconds:.1f} s", flush=True)
    memory = math.nan
    if not args.no_memory:
        memory = peak_memory_mb(lambda: fuse(sensors, det, agreement=agreement, params=params))
    frame, c = result.frame, result.c_m_s
    split = heard_split(result.incidents, truth, sensors, det)
    print(f"   events heard by ≥ {SPLIT_SENSORS} arrival-time sensors: {split.n_events:,}; "
          f"F1 on them {split.f1:.3f} (P {split.precision:.3f} / R {split.recall:.3f})",
          flush=True)
    SPLITS.setdefault(scenario.name, []).append(split)
    scores = [score_incidents("linewatch", result.incidents, truth, sensors, det, frame=frame,
                              c_m_s=c, noise=noise, min_detections=MIN_DETECTIONS,
                              seconds=seconds, peak_memory_mb=memory)]

    if not args.skip_oracle:
        t = time.perf_counter()
        oracle = oracle_incidents(sensors, det, truth, frame=frame, c_m_s=c, params=params)
        seconds = time.perf_counter() - t
        scores.append(score_incidents("oracle", oracle, truth, sensors, det, frame=frame, c_m_s=c,
                                      noise=noise, min_detections=MIN_DETECTIONS, seconds=seconds))
        print(f"   oracle: {len(oracle):,} groups located in {seconds:.1f} s", flush=True)

    if not args.skip_pyocto:
        p_det, p_truth = det, truth
        if args.pyocto_max_detections and len(det) > args.pyocto_max_detections:
            # a prefix in time: PyOcto's time per detection at this density, without hours of it
            cut = float(np.sort(det.time_s)[args.pyocto_max_detections - 1])
            p_det = det.take(np.flatnonzero(det.time_s <= cut))
            p_truth = truth_subset(truth, {str(i) for i in p_det.ids})
            print(f"   pyocto: on the first {len(p_det):,} detections "
                  f"({(cut - det.time_s.min()) / 3600:.2f} h)", flush=True)
        try:
            settings = PyOctoSettings(tolerance_s=args.pyocto_tolerance, n_picks=args.pyocto_n_picks,
                                      n_threads=args.pyocto_threads, margin_km=args.pyocto_margin_km)
            run = run_pyocto(sensors, p_det, frame=frame, c_m_s=c, settings=settings)
        except ImportError:
            print("   pyocto: not installed (pip install pyocto); skipped", flush=True)
        else:
            print(f"   pyocto: {len(run.incidents):,} events from {run.n_picks:,} picks in "
                  f"{run.seconds:.1f} s ({run.seconds_total:.1f} s with conversions)", flush=True)
            scores.append(score_incidents("pyocto", run.incidents, p_truth, sensors, p_det,
                                          frame=frame, c_m_s=c, noise=noise,
                                          min_detections=MIN_DETECTIONS, seconds=run.seconds))
    print_table(scores)
    return scores


def print_table(scores: list[Scores]) -> None:
    rows = [s.as_row() for s in scores]
    for r in rows:                    # only fuse pairs launches and impacts and decides sides
        if r["engine"] != "linewatch":
            r.update(n_launches=math.nan, wrong_side_rate=math.nan, abstention_rate=math.nan)
    names = [r["engine"] for r in rows]
    width = max(12, *(len(n) for n in names))
    print(f"   {'':<20}" + "".join(f"{n:>{width}}" for n in names) + "   target")
    for key, (fmt, target) in ROWS.items():
        cells = []
        for r in rows:
            v = r.get(key, math.nan)
            cells.append("—" if v is None or (isinstance(v, float) and math.isnan(v))
                         else fmt.format(v))
        print(f"   {key:<20}" + "".join(f"{c:>{width}}" for c in cells) + f"   {target}")
    by = {r["engine"]: r for r in rows}
    if "linewatch" in by and "pyocto" in by and by["pyocto"]["detections_per_s"] > 0:
        ratio = by["linewatch"]["detections_per_s"] / by["pyocto"]["detections_per_s"]
        print(f"   speed ratio linewatch / pyocto: {ratio:.2f}×   (target ≥ 10× at ≥ 1 M "
              f"detections, with F1 {by['linewatch']['f1']:.3f} vs {by['pyocto']['f1']:.3f})")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", action="append", choices=sorted(SCENARIOS),
                    help="repeatable; default: quiet, active, barrage")
    ap.add_argument("--seed", type=int, nargs="+", default=[1],
                    help="one or more seeds; with several, a table pooled over them follows")
    ap.add_argument("--large", action="store_true",
                    help="a ≥ 1 M-detection run (active along the whole line, 13 h)")
    ap.add_argument("--skip-pyocto", action="store_true")
    ap.add_argument("--skip-oracle", action="store_true")
    ap.add_argument("--no-memory", action="store_true", help="skip the traced-memory rerun of fuse")
    ap.add_argument("--pyocto-tolerance", type=float, default=PyOctoSettings.tolerance_s)
    ap.add_argument("--pyocto-n-picks", type=int, default=PyOctoSettings.n_picks)
    ap.add_argument("--pyocto-threads", type=int, default=PyOctoSettings.n_threads)
    ap.add_argument("--pyocto-margin-km", type=float, default=PyOctoSettings.margin_km)
    ap.add_argument("--pyocto-max-detections", type=int, default=None,
                    help="run PyOcto on a time prefix with about this many detections")
    ap.add_argument("--workers", type=int, default=1, help="processes for fuse's tiles")
    args = ap.parse_args(argv)
    if args.large:
        scenarios = [large_scenario()]
    else:
        scenarios = [SCENARIOS[n] for n in (args.scenario or ["quiet", "active", "barrage"])]
    for scenario in scenarios:
        runs = [run_scenario(scenario, seed, args) for seed in args.seed]
        if len(runs) > 1:
            print(f"\n== {scenario.name}, pooled over seeds {', '.join(map(str, args.seed))} "
                  "(medians do not pool)")
            print_table([pool_scores([run[k] for run in runs]) for k in range(len(runs[0]))])
            print(f"   heard by ≥ {SPLIT_SENSORS} arrival-time sensors, pooled: "
                  + pooled_split(SPLITS[scenario.name]))


if __name__ == "__main__":
    main()
