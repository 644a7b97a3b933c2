"""``store.add_records`` alone: new records into a fresh store, in chunks, in process.

The part of an ingest that is the store's: keyed inserts, the spatial index, each version's
review row (issue 16); no parsing, no audit log. Prints the client's CPU time and the wall time
(docs/benchmarks.md, "Ingest on both stores"):

    .venv/bin/python bench/bench_add_records.py                     # SQLite, a new file
    .venv/bin/python bench/bench_add_records.py --store postgresql://linewatch@127.0.0.1:54329/linewatch

On PostgreSQL it writes into a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from linewatch.formats.records import record_from_dict
from linewatch.store import open_store


def _records(n: int) -> list:
    return [record_from_dict({"id": f"r{i:07d}", "kind": "explosion", "time": "2026-06-15T04:10:00Z",
                              "lon": 37.6 + i * 1e-5, "lat": 48.4, "radius_m": 300.0, "source_kind": "patrol",
                              "source_id": "P"}) for i in range(n)]


def _run(url: str, n: int, chunk: int) -> tuple[float, float]:
    records = _records(n)
    with open_store(url) as store:
        cpu, wall = time.process_time(), time.perf_counter()
        for k in range(0, n, chunk):
            with store.transaction():
                store.add_records(records[k:k + chunk], batch_id=None, file_sha256=None)
        return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", help="a PostgreSQL URL (default: a new SQLite file)")
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--chunk", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    for run in range(a.runs):
        if a.store:
            import psycopg
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(a.store, autocommit=True) as c:
                c.execute(f"CREATE SCHEMA {schema}")
            sep = "&" if "?" in a.store else "?"
            try:
                cpu, wall = _run(f"{a.store}{sep}options=-csearch_path%3D{schema},public", a.records, a.chunk)
            finally:
                with psycopg.connect(a.store, autocommit=True) as c:
                    c.execute(f"DROP SCHEMA {schema} CASCADE")
        else:
            with tempfile.TemporaryDirectory() as tmp:
                cpu, wall = _run(str(Path(tmp) / "bench.sqlite"), a.records, a.chunk)
        print(f"run {run + 1}: {a.records:,} records in chunks of {a.chunk}: client CPU {cpu:.2f} s, "
              f"wall {wall:.2f} s ({wall / a.records * 1e6:.0f} µs a record)")


if __name__ == "__main__":
    main()
