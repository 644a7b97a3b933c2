"""Latency of the engine on a watermark (``linewatch.fusion.watermark``) at real-time pace.

The simulator's detections are fed in the order they arrive, in batches of ``--batch-s``
seconds of detection time (what ``linewatch stream feed`` does); after each batch the engine
releases what can no longer change. For each incident released:

* **hold**: how far the watermark had run past its last detection when it was released (at
  real-time pace, seconds of waiting);
* **processing**: the wall time of the batch's call that released it (fusing the steps due);
* **real-time latency** = hold + processing + the batch's own span (a detection waits up to
  one batch before it is fed).

Scores against the truth as ``bench/bench_fusion.py`` computes them, and the hourly engine
(``fuse``) on the same data, side by side.

    .venv/bin/python bench/bench_watermark.py --scenario active --hours 2 --seed 1
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fusion import AGREEMENT, MIN_DETECTIONS, fusion_params, noise_model
from linewatch.fusion import fuse, percentiles, score_incidents
from linewatch.fusion.watermark import WatermarkEngine, final_versions
from linewatch.services import load_agreement_file
from linewatch.sim import SCENARIOS, simulate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="active", choices=sorted(SCENARIOS))
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch-s", type=float, default=5.0)
    ap.add_argument("--skip-hourly", action="store_true")
    args = ap.parse_args()
    agreement = load_agreement_file(AGREEMENT).agreement
    scenario = replace(SCENARIOS[args.scenario], duration_s=args.hours * 3600.0)
    sim = simulate(agreement, scenario, seed=args.seed)
    det = sim.detections.take(np.argsort(sim.detections.time_s, kind="stable"))
    params = fusion_params(scenario)
    print(f"{scenario.name}, seed {args.seed}, {args.hours:g} h: {len(det):,} detections, "
          f"{len(sim.sensors)} sensors; batches of {args.batch_s:g} s", flush=True)

    last = dict(zip(det.ids.astype(str).tolist(), det.time_s.tolist()))
    engine = WatermarkEngine(sim.sensors, agreement=agreement, params=params)
    releases, rows = [], []
    edges = np.arange(det.time_s[0], det.time_s[-1] + args.batch_s, args.batch_s)
    cuts = np.searchsorted(det.time_s, edges)
    t_all = time.perf_counter()
    for a, b in zip(cuts[:-1], cuts[1:]):
        if b <= a:
            continue
        t = time.perf_counter()
        got = list(engine.add(det.take(np.arange(a, b))))
        spent = time.perf_counter() - t
        releases += got
        for r in got:
            for inc in r.new:
                rows.append((r.watermark_s - max(last[d] for d in inc.detections), spent))
    tail = list(engine.finish())
    seconds = time.perf_counter() - t_all
    releases += tail
    final = final_versions(releases)
    hold = [h for h, _ in rows]
    realtime = [h + s + args.batch_s for h, s in rows]
    print(f"watermark engine: {len(final):,} incidents ({len(rows):,} released as the stream "
          f"advanced, {sum(len(r.new) for r in tail)} at the end), "
          f"{sum(len(r.revised) for r in releases):,} revisions; {seconds:.1f} s, "
          f"{len(det) / seconds:,.0f} detections/s")
    for name, values in (("hold", hold), ("processing", [s for _, s in rows]),
                         ("real-time latency", realtime)):
        q = percentiles(values)
        print(f"   {name:<18} p50 {q['p50']:7.1f} s   p99 {q['p99']:7.1f} s   max {q['max']:7.1f} s")
    noise = noise_model(scenario)
    show("watermark", score_incidents("watermark", final, sim.truth, sim.sensors, det,
                                      frame=agreement.frame, c_m_s=340.4, noise=noise,
                                      min_detections=MIN_DETECTIONS, seconds=seconds))
    if not args.skip_hourly:
        t = time.perf_counter()
        res = fuse(sim.sensors, det, agreement=agreement, params=params)
        sec = time.perf_counter() - t
        show("hourly", score_incidents("hourly", res.incidents, sim.truth, sim.sensors, det,
                                       frame=res.frame, c_m_s=res.c_m_s, noise=noise,
                                       min_detections=MIN_DETECTIONS, seconds=sec))


def show(name: str, scores) -> None:
    r = scores.as_row()
    print(f"   {name:<10} P {r['precision']:.3f}  R {r['recall']:.3f}  F1 {r['f1']:.3f}  "
          f"ghosts {r['ghosts']}  ρ {r['rho']:.2f}  coverage {r['coverage95']:.3f}  "
          f"wrong side {r['wrong_side_rate']:.4f}  abstained {r['abstention_rate']:.3f}  "
          f"{r['detections_per_s']:,.0f} detections/s")


if __name__ == "__main__":
    main()
