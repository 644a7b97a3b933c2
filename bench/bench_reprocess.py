"""Reprocess a simulated month along the whole line (1,200 km): in one process, then on a
local Dask cluster of 1 and 2 single-threaded workers; the speed-up, the share of time seams
run again, and a projection for N machines from the measured partition times.

    .venv/bin/python bench/bench_reprocess.py [--days 30] [--out bench-out/reprocess]

Density: a ceasefire month. The OSCE SMM counted 93,902 ceasefire violations in 2021 along
the ~500 km contact line (docs; ../shared/reference/domain.md); about 55-65 % of violations
were explosions (DR 145/2021: 115 of 179), and each launch the simulator makes is two
explosions (its launch and its impact). So 93,902 x 0.55 / 2 / 365 / 500 = 0.1415 launches per
km per day = 9.8e-5 launches/s per 60 km, with modest clutter: 0.005 false detections a minute
per acoustic sensor. The simulation streams into a SQLite store once (reused if present).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAUNCHES_PER_S_PER_60KM = 93_902 * 0.55 / 2 / 365 / 500 * 60 / 86_400   # 9.8e-5
CLUTTER_PER_MIN = 0.005


def lpt_makespan(times: list[float], n: int) -> float:
    """Longest-processing-time-first schedule of independent tasks on n machines."""
    loads = [0.0] * n
    for t in sorted(times, reverse=True):
        k = loads.index(min(loads))
        loads[k] += t
    return max(loads)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench-out" / "reprocess")
    ap.add_argument("--region-km", type=float, default=200.0)
    ap.add_argument("--skip-in-process", action="store_true")
    args = ap.parse_args()

    from linewatch.agreement import parse_agreement
    from linewatch.formats.sensors import read_sensors, write_sensors
    from linewatch.fusion import FusionParams
    from linewatch.services.distributed import reprocess, write_run
    from linewatch.sim import SCENARIOS, simulate_chunks
    from linewatch.store import open_store

    ag = parse_agreement((ROOT / "examples" / "agreements" / "line-of-contact.yaml").read_text())
    scenario = replace(SCENARIOS["day-1200km"], name="ceasefire-month",
                       duration_s=args.days * 86_400.0,
                       launch_rate_per_s_per_60km=LAUNCHES_PER_S_PER_60KM,
                       clutter_per_min_per_sensor=CLUTTER_PER_MIN)
    args.out.mkdir(parents=True, exist_ok=True)
    db = args.out / "store.sqlite"
    sensors_csv = args.out / "sensors.csv"
    params = FusionParams(temperature_c=scenario.temperature_c, region_m=args.region_km * 1000.0)
    report: dict = {"scenario": {"days": args.days, "launches_per_s_per_60km": LAUNCHES_PER_S_PER_60KM,
                                 "clutter_per_min_per_sensor": CLUTTER_PER_MIN,
                                 "line_km": "whole line"},
                    "cpus": os.cpu_count()}
    if not sensors_csv.exists():
        t = time.perf_counter()
        sensors, chunks = simulate_chunks(ag, scenario, seed=1, chunk_s=3600.0)
        n_det = 0
        with open_store(db) as store:
            for det, _truth in chunks:
                n_det += store.add_detections(det, sensors)
        with sensors_csv.open("w", encoding="utf-8", newline="") as fh:
            write_sensors(sensors, fh)
        report["simulate_and_store_s"] = round(time.perf_counter() - t, 1)
        print(f"simulated and stored {n_det:,} detections of {len(sensors):,} sensors "
              f"in {report['simulate_and_store_s']} s", flush=True)
    with sensors_csv.open(encoding="utf-8") as fh:
        sensors, _ = read_sensors(fh, name=str(sensors_csv))
    with open_store(db) as store:
        lo, hi = store.detection_time_range()
        n_stored = store.count_detections()
    start_s, end_s = lo, hi + 1.0
    report["n_detections"] = n_stored
    report["n_sensors"] = len(sensors)
    print(f"{n_stored:,} detections, {len(sensors):,} sensors; regions of {args.region_km:g} km, "
          "windows of 24 h, warm-up 1 h", flush=True)

    runs = {}
    for label, kw in [("in-process", {}), ("workers=1", {"workers": 1}), ("workers=2", {"workers": 2})]:
        if label == "in-process" and args.skip_in_process:
            continue
        with open_store(db) as store:
            t = time.perf_counter()
            run = reprocess(store, sensors, start_s=start_s, end_s=end_s, agreement=ag,
                            params=params, window_s=86_400.0, warmup_s=3_600.0, **kw)
            wall = time.perf_counter() - t
        runs[label] = run
        print(f"{label}: {wall:.1f} s, {len(run.incidents):,} incidents, "
              f"{run.n_rerun} of {run.n_seams} seams re-run, seconds {run.seconds}", flush=True)
        report[label] = {"wall_s": round(wall, 1), "incidents": len(run.incidents),
                         "n_partitions": run.n_partitions, "n_seams": run.n_seams,
                         "n_rerun": run.n_rerun,
                         "seconds": {k: round(v, 2) for k, v in run.seconds.items()},
                         "seam_stats": run.stats}
    key = lambda r: [(i.id, i.time_s, i.lon, i.lat, i.cov_en_m2, i.pair_id, i.side) for i in r.incidents]  # noqa: E731
    same = len({json.dumps(key(r)) for r in runs.values()}) == 1
    report["identical"] = same
    print(f"identical incidents across the runs: {same}")

    # the write-back (part of the serial work), timed on the store
    with open_store(db) as store:
        t = time.perf_counter()
        run_id, added = write_run(store, runs["workers=2"], params=params, start_s=start_s,
                                  end_s=end_s)
        write_s = time.perf_counter() - t
    report["write_s"] = round(write_s, 1)

    one = runs["workers=1"]
    speedup = report["workers=1"]["wall_s"] / report["workers=2"]["wall_s"]
    report["speedup_2_over_1"] = round(speedup, 2)
    if "in-process" in runs:
        report["speedup_2_over_in_process"] = round(report["in-process"]["wall_s"]
                                                    / report["workers=2"]["wall_s"], 2)
    parts = list(one.partition_s.values())
    reruns = list(one.rerun_s.values())
    serial = one.seconds["read"] + one.seconds["assemble"] + write_s
    report["partition_s"] = {"n": len(parts), "sum": round(sum(parts), 1),
                             "max": round(max(parts), 1), "mean": round(sum(parts) / len(parts), 2)}
    report["serial_s"] = {"read": round(one.seconds["read"], 1),
                          "assemble": round(one.seconds["assemble"], 1), "write": round(write_s, 1)}
    proj = {}
    for n in (1, 2, 4, 8, 16, 32, 64, len(parts)):
        # partitions spread over n single-core machines (LPT), re-runs after, serial work around
        proj[n] = round(serial + lpt_makespan(parts, n) + lpt_makespan(reruns, n) if reruns
                        else serial + lpt_makespan(parts, n), 1)
    report["projection_s"] = proj
    amdahl_p = sum(parts) / (sum(parts) + serial)
    report["parallel_share"] = round(amdahl_p, 4)
    print(f"speed-up 2 workers over 1: {speedup:.2f}; seams re-run: {one.n_rerun}/{one.n_seams}")
    print(f"serial part {serial:.1f} s (read {one.seconds['read']:.1f}, assemble "
          f"{one.seconds['assemble']:.1f}, write {write_s:.1f}); partitions {len(parts)}, "
          f"sum {sum(parts):.0f} s, longest {max(parts):.1f} s; parallel share {amdahl_p:.3f}")
    print("projection (single-core machines): " + ", ".join(f"{n}: {v:.0f} s" for n, v in proj.items()))
    (args.out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
