"""Mission planning at full scale: the 1,200 km notional line with at least 5,000 candidate
sites, solved by HiGHS on one core; the cost against the whole problem's LP bound.

    taskset -c 1 .venv/bin/python bench/bench_plan.py                  # detection + sensors per point
    taskset -c 1 .venv/bin/python bench/bench_plan.py --crlb 150 --k 7 # with the localisation bound
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    from linewatch import planning as P
    from linewatch.formats.planning import read_assets
    from linewatch.service import load_agreement_file
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--p", type=float, default=0.9)
    ap.add_argument("--k", type=int, default=2)
    ap.add_argument("--crlb", type=float, default=None)
    ap.add_argument("--spacing-km", type=float, default=1.1)
    ap.add_argument("--redundancy", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--time-limit", type=float, default=60.0)
    args = ap.parse_args(argv)
    ag = load_agreement_file(ROOT / "examples/agreements/line-of-contact.yaml").agreement
    assets = read_assets(ROOT / "examples/planning/assets.yaml")
    t = P.Targets(detection_probability=args.p, k_coverage=args.k, crlb_m=args.crlb,
                  candidate_spacing_km=args.spacing_km, candidate_depths_km=(1.0, 3.0, 6.0, 10.0),
                  time_limit_s=args.time_limit)
    t0 = time.perf_counter()
    prob = P.build_problem(ag, assets, t)
    build = time.perf_counter() - t0
    print(f"line {ag.line_length_km:,.0f} km: {len(prob.sites):,} candidate sites × {len(assets)} asset "
          f"types, {len(prob.demand):,} demand points, {len(prob.pairs):,} pairs; built in {build:.1f} s")
    for m in args.redundancy:
        t0 = time.perf_counter()
        try:
            sol = P.solve(prob, redundancy=m)
        except P.Infeasible as exc:
            print(f"  m={m}: infeasible: {exc}")
            continue
        dt = time.perf_counter() - t0
        got = P.achieved(prob, sol)
        s = P.summary(prob, sol)
        print(f"  m={m}: {dt:.1f} s; cost {sol.cost:,.0f} vs LP bound {sol.lp_bound:,.0f}: "
              f"{sol.gap_to_lp * 100:.2f} % above (HiGHS's worst block gap {sol.mip_gap * 100:.2f} %); "
              f"{s['sites']} assets " + ", ".join(f"{b['asset']} {b['count']}" for b in s["by_type"] if b["count"])
              + f"; min P {got['probability'].min():.3f}, min sensors {got['k'].min()}, "
              f"max CRLB {got['crlb_m'].max():.0f} m; {sol.status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
