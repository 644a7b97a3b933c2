"""Allegation verdicts on a simulated scenario: precision and recall of each verdict class.

Simulate (seeded), fuse the raw detections into incidents, script allegations from the ground
truth (:mod:`linewatch.sim.allegations`: true ones, ones naming the wrong perpetrator, false
ones where nothing happened, and ones where no sensor could hear), adjudicate them against the
fused incidents with the network's coverage, and compare each verdict with the one the
allegation deserves.

    .venv/bin/python bench/bench_allegations.py                    # quiet, 6 h over 120 km
    .venv/bin/python bench/bench_allegations.py --scenario active --hours 2 --seed 2
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from linewatch.coverage import place_coverage
from linewatch.fusion import fuse
from linewatch.services import incidents_to_reports, load_agreement_file
from linewatch.sim import SCENARIOS, network_from_simulation, simulate, simulate_allegations
from linewatch.verification import AllegationVerdict, adjudicate, network_coverage

ROOT = Path(__file__).resolve().parents[1]
AGREEMENT = ROOT / "examples" / "agreements" / "line-of-contact.yaml"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="quiet", choices=sorted(SCENARIOS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hours", type=float, default=6.0)
    ap.add_argument("--line-km", type=float, default=120.0)
    args = ap.parse_args(argv)
    agreement = load_agreement_file(AGREEMENT).agreement
    base = SCENARIOS[args.scenario]
    scenario = replace(base, duration_s=args.hours * 3600.0,
                       line_to_km=base.line_from_km + args.line_km)
    t = time.perf_counter()
    sim = simulate(agreement, scenario, seed=args.seed)
    network = network_from_simulation(sim.network)
    result = fuse(sim.sensors, sim.detections, agreement=agreement)
    records = incidents_to_reports(result.incidents, engine=result.engine)
    print(f"{scenario.name}, seed {args.seed}, {args.hours:g} h over {args.line_km:g} km: "
          f"{len(sim.detections):,} detections fused into {len(records):,} incidents "
          f"in {time.perf_counter() - t:.1f} s")

    def p_at(lon: float, lat: float, t_s: float) -> float:
        return place_coverage(network, (lon, lat), t_s - 1800, t_s + 1800, "explosion",
                              radius_m=1500.0, n_points=16, step_s=300.0).probability

    scripted = simulate_allegations(sim.truth, agreement, seed=args.seed, coverage=p_at)
    t = time.perf_counter()
    findings = adjudicate([s.allegation for s in scripted], records, agreement,
                          network_coverage(network))
    seconds = time.perf_counter() - t
    by_case = Counter((s.case, str(f.verdict)) for s, f in zip(scripted, findings))
    classes = [str(v) for v in AllegationVerdict]
    print(f"{len(scripted)} allegations adjudicated in {seconds:.2f} s\n")
    print(f"{'case':<20}" + "".join(f"{c:>18}" for c in classes))
    for case in ("true", "wrong_perpetrator", "false", "uncovered"):
        print(f"{case:<20}" + "".join(f"{by_case[(case, c)]:>18}" for c in classes))
    print(f"\n{'verdict':<20}{'expected':>10}{'given':>10}{'right':>10}{'precision':>11}{'recall':>9}")
    for c in classes:
        expected = sum(1 for s in scripted if str(s.expected) == c)
        given = sum(1 for f in findings if str(f.verdict) == c)
        right = sum(1 for s, f in zip(scripted, findings) if str(s.expected) == c == str(f.verdict))
        prec = f"{right / given:.3f}" if given else "—"
        rec = f"{right / expected:.3f}" if expected else "—"
        print(f"{c:<20}{expected:>10}{given:>10}{right:>10}{prec:>11}{rec:>9}")
    wrong = [(s, f) for s, f in zip(scripted, findings) if s.expected != f.verdict]
    if wrong:
        print("\nMisjudged:")
        for s, f in wrong:
            print(f"  {s.allegation.id}: expected {s.expected}, got {f.verdict}: {f.explanation}")


if __name__ == "__main__":
    main()
