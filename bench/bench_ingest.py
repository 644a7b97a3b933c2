"""Ingest throughput on both stores: 1 and 4 concurrent ingest processes, beside the peer's
ceiling (PostgreSQL ``COPY`` of the same rows into a bare table, no checks, no index).

Each writer process runs ``linewatch.services.ingest.ingest_file`` (parse, validate, canonical JSON,
keyed insert, spatial index, audit log) on files of its own and on one file all writers ingest
(so the keyed inserts meet), then the records are counted: every record exactly once.

    scripts/postgres.sh start
    .venv/bin/python bench/bench_ingest.py                 # 20,000 records per writer
    .venv/bin/python bench/bench_ingest.py --per-writer 5000 --stores sqlite
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WRITER = """
import sys, time
from linewatch.services import ingest_file
from linewatch.store import open_store
with open_store(sys.argv[1]) as s:
    for path in sys.argv[2:]:
        ingest_file(s, path, chunk_size=500)
"""


def record(i: int) -> dict:
    return {"id": f"rec-{i:08d}", "kind": "explosion", "explosion_type": "impact",
            "time": f"2026-06-{1 + (i // 86400) % 28:02d}T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z",
            "lon": 36.0 + (i % 997) * 0.002, "lat": 47.0 + (i % 499) * 0.004, "radius_m": 300 + i % 700,
            "source_kind": "observation_post", "source_id": f"OP-{i % 41}"}


def write(path: Path, ids: range) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for i in ids:
            fh.write(json.dumps(record(i)) + "\n")


def pg_url() -> str:
    return subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "url"], capture_output=True,
                          text=True, check=True).stdout.strip().splitlines()[-1]


def fresh(kind: str, tmp: Path, base_pg: str | None) -> tuple[str, callable]:
    if kind == "sqlite":
        path = tmp / f"s-{uuid.uuid4().hex[:8]}.sqlite"
        return f"sqlite:///{path}", lambda: None
    import psycopg
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_pg, autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{schema}"')

    def drop():
        with psycopg.connect(base_pg, autocommit=True) as c:
            c.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return f"{base_pg}?options=-csearch_path%3D{schema},public", drop


def run(kind: str, writers: int, files: list[list[Path]], tmp: Path, base_pg: str | None,
        expected: int) -> float:
    from linewatch.store import open_store
    url, drop = fresh(kind, tmp, base_pg)
    try:
        with open_store(url):
            pass                                 # migrate before the clock starts
        t0 = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, *map(str, files[w])])
                 for w in range(writers)]
        codes = [p.wait() for p in procs]
        dt = time.perf_counter() - t0
        assert codes == [0] * writers, codes
        with open_store(url) as s:
            ids = s.conn.execute("SELECT count(*), count(DISTINCT id) FROM records").fetchone()
            assert tuple(ids) == (expected, expected), (ids, expected)
        return dt
    finally:
        drop()


def copy_peer(rows: list[dict], base_pg: str) -> float:
    """COPY the same rows (id, time, lon, lat, data) into a bare table: PostgreSQL's ceiling."""
    import psycopg
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    buf = io.StringIO()
    for r in rows:
        buf.write("\t".join([r["id"], r["time"], str(r["lon"]), str(r["lat"]),
                             json.dumps(r).replace("\\", "\\\\")]) + "\n")
    data = buf.getvalue()
    with psycopg.connect(base_pg, autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
        c.execute(f'CREATE TABLE "{schema}".t (id text, time text, lon float8, lat float8, data text)')
        t0 = time.perf_counter()
        with c.cursor().copy(f'COPY "{schema}".t FROM STDIN') as cp:
            cp.write(data)
        dt = time.perf_counter() - t0
        c.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-writer", type=int, default=20_000, help="records of each writer's own")
    ap.add_argument("--shared", type=int, default=2_000, help="records every writer also ingests")
    ap.add_argument("--stores", nargs="+", default=["sqlite", "postgresql"])
    args = ap.parse_args()
    base_pg = pg_url() if "postgresql" in args.stores else None
    print(f"machine: {os.cpu_count()} cores; {args.per_writer:,} own records per writer, "
          f"{args.shared:,} shared by all")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        shared = tmp / "shared.jsonl"
        write(shared, range(10_000_000, 10_000_000 + args.shared))
        own = []
        for w in range(4):
            path = tmp / f"own-{w}.jsonl"
            write(path, range(w * args.per_writer, (w + 1) * args.per_writer))
            own.append(path)
        print("| store | writers | records | seconds | records/s | vs 1 writer |")
        print("|---|---|---|---|---|---|")
        for kind in args.stores:
            base = None
            for writers in (1, 4):
                # one writer ingests the four writers' files in turn: the same records
                files = ([[*own, shared]] if writers == 1 else
                         [[own[w], shared] if w % 2 else [shared, own[w]] for w in range(4)])
                n = 4 * args.per_writer + args.shared
                offered = 4 * args.per_writer + args.shared * (1 if writers == 1 else 4)
                dt = run(kind, writers, files, tmp, base_pg, n)
                rate = offered / dt
                base = base or rate
                print(f"| {kind} | {writers} | {n:,} ({offered:,} offered) | {dt:.1f} | {rate:,.0f} "
                      f"| {rate / base:.2f}× |", flush=True)
        if base_pg:
            rows = [record(i) for i in range(4 * args.per_writer)]
            dt = copy_peer(rows, base_pg)
            print(f"peer: PostgreSQL COPY of {len(rows):,} rows into a bare table: {dt:.2f} s, "
                  f"{len(rows) / dt:,.0f} rows/s")


if __name__ == "__main__":
    main()
