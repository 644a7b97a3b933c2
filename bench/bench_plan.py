"""Mission planning at full scale: the 1,200 km notional line with at least 5,000 candidate
sites, solved by HiGHS on one core; the cost against the whole problem's LP bound.

The targets are the example's (examples/planning/targets.yaml: P ≥ 0.9 within 10 km, 7 sensors
per point as the fusion engine needs, the protected sites at 0.95 by 4) with the candidates
every 1.1 km (5,433 sites); ``--crlb`` and ``--k`` change them.

    taskset -c 1 .venv/bin/python bench/bench_plan.py                   # detection + 7 sensors + zones
    taskset -c 1 .venv/bin/python bench/bench_plan.py --crlb 150        # with the localisation bound
    taskset -c 1 .venv/bin/python bench/bench_plan.py --k 2             # a thin layout: a harder programme
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    from linewatch import planning as P
    from linewatch.errors import Infeasible
    from linewatch.formats.planning import read_assets, read_targets
    from linewatch.services import load_agreement_file
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--p", type=float, default=None, help="detection target (default: the example's)")
    ap.add_argument("--k", type=int, default=None, help="sensors per point (default: the example's 7)")
    ap.add_argument("--crlb", type=float, default=None, help="CRLB target in m (default: none)")
    ap.add_argument("--spacing-km", type=float, default=1.1)
    ap.add_argument("--redundancy", type=int, nargs="+", default=[2])
    ap.add_argument("--block-km", type=float, default=None, help="rolling blocks (default: the whole line)")
    ap.add_argument("--time-limit", type=float, default=60.0)
    args = ap.parse_args(argv)
    ag = load_agreement_file(ROOT / "examples/agreements/line-of-contact.yaml").agreement
    assets = read_assets(ROOT / "examples/planning/assets.yaml")
    t, _ = read_targets(ROOT / "examples/planning/targets.yaml")
    t = dataclasses.replace(
        t, detection_probability=args.p or t.detection_probability,
        k_coverage=t.k_coverage if args.k is None else args.k, crlb_m=args.crlb,
        candidate_spacing_km=args.spacing_km, time_limit_s=args.time_limit, block_km=args.block_km)
    t0 = time.perf_counter()
    prob = P.build_problem(ag, assets, t)
    build = time.perf_counter() - t0
    print(f"line {ag.line_length_km:,.0f} km: {len(prob.sites):,} candidate sites × {len(assets)} asset "
          f"types, {len(prob.demand):,} demand points, {len(prob.pairs):,} pairs; built in {build:.1f} s; "
          f"P ≥ {t.detection_probability}, k ≥ {t.k_coverage}, CRLB ≤ {t.crlb_m} m, zones {len(t.zones)}")
    for m in args.redundancy:
        t0 = time.perf_counter()
        try:
            sol = P.solve(prob, redundancy=m)
        except Infeasible as exc:
            print(f"  m={m}: infeasible: {exc}")
            continue
        dt = time.perf_counter() - t0
        got = P.achieved(prob, sol)
        s = P.summary(prob, sol)
        print(f"  m={m}: {dt:.1f} s; cost {sol.cost:,.0f} vs LP bound {sol.lp_bound:,.0f}: "
              f"{sol.gap_to_lp * 100:.2f} % above (HiGHS's dual bound {sol.dual_bound:,.0f}, "
              f"its gap {sol.mip_gap * 100:.2f} %); CRLB rounds {sol.crlb_rounds}; "
              f"{s['sites']} assets " + ", ".join(f"{b['asset']} {b['count']}" for b in s["by_type"] if b["count"])
              + f"; min P {got['probability'].min():.3f}, min sensors {got['k'].min()}, "
              f"max CRLB {got['crlb_m'].max():.0f} m; {sol.status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
