"""Fusion at scale: a long scenario streamed from the simulator through ``fuse_chunks``.

The simulator's chunks go straight into the engine (no files), so this measures the engine:
for each hour fused, the detections so far, the wall time, the throughput and the resident
memory (VmRSS of this process and its workers). Time should grow linearly with the input and
memory should stay flat.

    .venv/bin/python bench/bench_fusion_scale.py                           # day-1200km, 1 process
    .venv/bin/python bench/bench_fusion_scale.py --hours 3 --workers 2     # a prefix, 2 processes
    .venv/bin/python bench/bench_fusion_scale.py --scenario active --line-km 1200 --hours 13
"""

from __future__ import annotations

import argparse
import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from linewatch.fusion import FusionParams, fuse_chunks
from linewatch.services import load_agreement_file
from linewatch.sim import SCENARIOS, simulate_chunks

ROOT = Path(__file__).resolve().parents[1]
AGREEMENT = ROOT / "examples" / "agreements" / "line-of-contact.yaml"


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process (Linux /proc), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="day-1200km", choices=sorted(SCENARIOS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hours", type=float, default=None, help="simulate only this many hours")
    ap.add_argument("--line-km", type=float, default=None,
                    help="stretch of line from km 0 (default: the scenario's)")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args(argv)

    agreement = load_agreement_file(AGREEMENT).agreement
    scenario = SCENARIOS[args.scenario]
    if args.hours is not None:
        scenario = replace(scenario, duration_s=args.hours * 3600.0)
    if args.line_km is not None:
        scenario = replace(scenario, line_from_km=0.0, line_to_km=args.line_km)
    sensors, chunks = simulate_chunks(agreement, scenario, seed=args.seed, chunk_s=600.0)
    params = FusionParams(temperature_c=scenario.temperature_c,
                          celerity_jitter=scenario.celerity_jitter)
    print(f"{scenario.name}, seed {args.seed}: {scenario.duration_s / 3600:g} h, "
          f"{len(sensors):,} sensors, {args.workers} process(es)", flush=True)
    pool = ProcessPoolExecutor(args.workers) if args.workers > 1 else None
    seen = {"detections": 0}

    def counted():
        for det, _truth in chunks:
            seen["detections"] += len(det)
            yield det

    print(f"{'hour':>4} {'detections':>12} {'incidents':>10} {'used':>6} {'seconds':>9} "
          f"{'det/s':>8} {'RSS MiB':>8}", flush=True)
    t0 = time.perf_counter()
    n_det = n_inc = n_used = 0
    peak = 0.0
    try:
        for k, hour in enumerate(fuse_chunks(sensors, counted(), agreement=agreement, params=params,
                                             map_fn=pool.map if pool else map)):
            n_det += hour.n_detections
            n_used += hour.n_used
            n_inc += len(hour.incidents)
            rss = rss_mb() + (sum(rss_mb(p) for p in pool._processes) if pool else 0.0)
            peak = max(peak, rss)
            dt = time.perf_counter() - t0
            print(f"{k:>4} {n_det:>12,} {n_inc:>10,} {n_used / max(n_det, 1):>6.2f} {dt:>9.1f} "
                  f"{n_det / dt:>8,.0f} {rss:>8.0f}", flush=True)
    finally:
        if pool is not None:
            pool.shutdown()
    dt = time.perf_counter() - t0
    print(f"total: {n_det:,} detections (simulated {seen['detections']:,}) -> {n_inc:,} incidents "
          f"in {dt:.1f} s: {n_det / dt:,.0f} detections/s; peak RSS {peak:.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
