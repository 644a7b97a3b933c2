"""Streaming latency: simulated detections replayed through the store's queue at an accelerated
clock into the streaming worker (linewatch.services.streaming), on SQLite and PostgreSQL.

Per incident (linewatch.fusion.latency): ``hold_s``, how far the stream's detection time ran past its
last contributing detection before the engine released it (the hour, the look-ahead and
pairing's next hour; in simulated seconds, which are wall seconds at real-time pace);
``processing_s``, wall clock from the enqueue of the claim that released it to its commit;
``realtime_s`` = their sum, the latency at real-time pace; ``latency_s``, the wall clock from
the enqueue of its last detection to the commit at the accelerated pace. With each engine
hour (``--hours-s``: FusionParams.wind_block_s) the bench also scores ``fuse()`` on the same
detections against the truth (the stream's result equals ``fuse()``'s: tests/test_streaming.py).

    scripts/postgres.sh start
    .venv/bin/python bench/bench_streaming.py --pg "$(scripts/postgres.sh url)" --hours 2 --speedup 60
    .venv/bin/python bench/bench_streaming.py --release hour --hours-s 3600 1200 600
    .venv/bin/python bench/bench_streaming.py --no-stream --score-seeds 1 2 3 4   # accuracy, pooled
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

from linewatch.fusion import FusionParams, fuse, pool_scores, score_incidents, summarize
from linewatch.services import load_agreement_file
from linewatch.services.streaming import StreamWorker, feed_detections
from linewatch.sim import SCENARIOS, simulate
from linewatch.store import open_store

ROOT = Path(__file__).resolve().parents[1]
AGREEMENT = ROOT / "examples" / "agreements" / "line-of-contact.yaml"


def pg_schema(url: str) -> str:
    import psycopg
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema},public", schema


def drop_schema(url: str, schema: str) -> None:
    import psycopg
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def run_stream(url: str, sim, ag, params: FusionParams, speedup: float, batch_s: float) -> dict:
    """Feed the detections at ``speedup`` times real time while the worker fuses them."""
    store = open_store(url)
    feeder_store = open_store(url)
    done = threading.Event()

    def feeder():
        try:
            feed_detections(feeder_store, sim.sensors, [sim.detections], rate=speedup, batch_s=batch_s)
        finally:
            done.set()

    th = threading.Thread(target=feeder, daemon=True)
    t0 = time.perf_counter()
    th.start()
    worker = StreamWorker(url, sim.sensors, agreement=ag, params=params, poll_s=0.05,
                          lease_s=60.0, audit=True)
    summary = worker.run(until_idle_s=3.0)
    wall = time.perf_counter() - t0
    th.join()
    feeder_store.close()
    rows = store.stream_latencies("default")
    n_records = store.count_records()
    store.close()
    # the incidents the drain released (the input ended; they waited for the idle timeout, not
    # for the stream to advance) are reported apart
    steady = [r for r in rows if r["record_id"] not in summary.drained_ids]
    return {"n_detections": len(sim.detections), "n_incidents": summary.n_incidents,
            "n_records": n_records, "n_latency_rows": len(rows), "wall_s": wall,
            "steady": summarize(steady), "all": summarize(rows), "n_steady": len(steady)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=4.0, help="simulated hours")
    ap.add_argument("--line-km", type=float, nargs=2, default=(400.0, 460.0))
    ap.add_argument("--scenario", default="active")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--speedup", type=float, default=240.0, help="replay at this many times real time")
    ap.add_argument("--batch-s", type=float, default=5.0, help="detection-seconds per enqueue")
    ap.add_argument("--release", choices=("watermark", "hour"), default="watermark",
                    help="the worker's release (FusionParams.release; watermark: the default)")
    ap.add_argument("--hours-s", type=float, nargs="+", default=[3600.0],
                    help="engine hours (FusionParams.wind_block_s) to compare")
    ap.add_argument("--pg", default=None, help="PostgreSQL URL (scripts/postgres.sh url)")
    ap.add_argument("--no-score", action="store_true")
    ap.add_argument("--no-stream", action="store_true", help="only score fuse() per engine hour")
    ap.add_argument("--score-seeds", type=int, nargs="+", default=None,
                    help="also score fuse() over these seeds, pooled (fusion_metrics.pool_scores)")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args()

    ag = load_agreement_file(AGREEMENT).agreement
    scenario = replace(SCENARIOS[args.scenario], duration_s=args.hours * 3600.0,
                       line_from_km=args.line_km[0], line_to_km=args.line_km[1])
    sim = simulate(ag, scenario, seed=args.seed)
    print(f"{args.scenario}, {args.line_km[0]:g}-{args.line_km[1]:g} km, {args.hours:g} h, seed "
          f"{args.seed}: {len(sim.sensors)} sensors, {len(sim.detections):,} detections; replay at "
          f"{args.speedup:g}x", flush=True)
    out = []
    for hour_s in args.hours_s:
        params = FusionParams(wind_block_s=hour_s, temperature_c=scenario.temperature_c,
                              celerity_jitter=scenario.celerity_jitter, release=args.release)
        score = None
        if not args.no_score:
            t = time.perf_counter()
            res = fuse(sim.sensors, sim.detections, agreement=ag, params=params)
            secs = time.perf_counter() - t
            s = score_incidents("linewatch", res.incidents, sim.truth, sim.sensors, sim.detections,
                                frame=res.frame, c_m_s=res.c_m_s, seconds=secs,
                                noise=FusionParams(temperature_c=scenario.temperature_c,
                                                   celerity_jitter=scenario.celerity_jitter,
                                                   wind_allowance_m_s=0.0), min_detections=4)
            score = {"incidents": len(res.incidents), "f1": s.association.f1,
                     "precision": s.association.precision, "recall": s.association.recall,
                     "rho": s.localization.rho, "coverage95": s.localization.coverage95,
                     "median_error_m": s.localization.median_error_m, "fuse_s": secs}
        stores = [] if args.no_stream else [("sqlite", None)] + ([("postgresql", args.pg)] if args.pg else [])
        for kind, base in stores:
            if kind == "sqlite":
                tmp = tempfile.TemporaryDirectory()
                url, schema = f"sqlite:///{tmp.name}/stream.sqlite", None
            else:
                url, schema = pg_schema(base)
            try:
                r = run_stream(url, sim, ag, params, args.speedup, args.batch_s)
            finally:
                if schema:
                    drop_schema(base, schema)
                else:
                    tmp.cleanup()
            r.update(store=kind, hour_s=hour_s, score=score)
            out.append(r)
            st = r["steady"]
            print(f"{args.release} hour {hour_s:>6g} s  {kind:<10}  {r['n_incidents']:>4} incidents "
                  f"({r['n_steady']} released by the stream)  "
                  f"hold p50/p99 {st['hold_s']['p50']:7.0f} / {st['hold_s']['p99']:7.0f} s  "
                  f"processing p50/p99 {st['processing_s']['p50']:5.2f} / {st['processing_s']['p99']:5.2f} s  "
                  f"real-time p50/p99 {st['realtime_s']['p50']:7.0f} / {st['realtime_s']['p99']:7.0f} s  "
                  f"wall {r['wall_s']:.0f} s", flush=True)
        if score:
            print(f"hour {hour_s:>6g} s  fuse() vs truth: {score['incidents']} incidents, F1 "
                  f"{score['f1']:.3f} (P {score['precision']:.3f}, R {score['recall']:.3f}), rho "
                  f"{score['rho']:.2f}, 95 % coverage {score['coverage95']:.3f}, median error "
                  f"{score['median_error_m']:.0f} m", flush=True)
    if args.score_seeds:
        sims = [sim if seed == args.seed else simulate(ag, scenario, seed=seed) for seed in args.score_seeds]
        noise = FusionParams(temperature_c=scenario.temperature_c,
                             celerity_jitter=scenario.celerity_jitter, wind_allowance_m_s=0.0)
        for hour_s in args.hours_s:
            params = FusionParams(wind_block_s=hour_s, temperature_c=scenario.temperature_c,
                                  celerity_jitter=scenario.celerity_jitter, release=args.release)
            runs = []
            for sm in sims:
                t = time.perf_counter()
                res = fuse(sm.sensors, sm.detections, agreement=ag, params=params)
                runs.append(score_incidents("linewatch", res.incidents, sm.truth, sm.sensors,
                                            sm.detections, frame=res.frame, c_m_s=res.c_m_s,
                                            noise=noise, min_detections=4,
                                            seconds=time.perf_counter() - t))
            p = pool_scores(runs)
            a, loc = p.association, p.localization
            print(f"hour {hour_s:>6g} s  seeds {' '.join(map(str, args.score_seeds))} pooled: "
                  f"{a.n_events} events, F1 {a.f1:.3f} (P {a.precision:.3f}, R {a.recall:.3f}), "
                  f"ghosts {a.ghosts}, rho {loc.rho:.2f}, 95 % coverage {loc.coverage95:.3f} "
                  f"({loc.n_coverage}), {p.detections_per_s:.0f} detections/s", flush=True)
            out.append({"hour_s": hour_s, "seeds": args.score_seeds, "pooled": p.as_row()})
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()
