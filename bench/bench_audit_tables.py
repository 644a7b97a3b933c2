"""Time what `audit verify` adds by checking the tables against the log (issue 15).

    .venv/bin/python bench/bench_audit_tables.py 100000 [postgresql://...]

Ingests N records (JSON Lines, through the ingest service: each chunk with its log entries),
stores one verification run over them, then times `AuditLog.verify` with and without the
tables (records' JSON and derived columns, agreements, the run's findings and placements).
"""
import json
import sys
import tempfile
import time
from pathlib import Path

from linewatch.services import ingest_file
from linewatch.services.agreements import load_agreement_file
from linewatch.services.audit import AuditLog
from linewatch.services.verify import verify_store
from linewatch.store import open_store

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
tmp = Path(tempfile.mkdtemp())
url = sys.argv[2] if len(sys.argv) > 2 else str(tmp / "a.sqlite")
src = tmp / "records.jsonl"
with src.open("w", encoding="utf-8") as f:
    for i in range(n):
        f.write(json.dumps({"id": f"R{i}", "kind": "explosion", "explosion_type": "impact",
                            "time": f"2026-06-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
                            "lon": 37.5 + (i % 1000) * 0.001, "lat": 48.3 + (i % 700) * 0.001,
                            "radius_m": 300, "source_kind": "observation_post",
                            "source_id": f"OP-{i % 40}"}) + "\n")
loaded = load_agreement_file(Path(__file__).resolve().parents[1] / "examples/agreements/line-of-contact.yaml")
with open_store(url) as store:
    t = time.perf_counter()
    ingest_file(store, src)
    t_ingest = time.perf_counter() - t
    t = time.perf_counter()
    verify_store(store, loaded)
    t_run = time.perf_counter() - t
    log = AuditLog(store)
    t = time.perf_counter()
    bare = log.verify(check_tables=False)
    t_bare = time.perf_counter() - t
    t = time.perf_counter()
    full = log.verify()
    t_full = time.perf_counter() - t
    assert bare.ok and full.ok, full.problems
print(f"{store.dialect}: {n:,} records, {full.size:,} entries; ingest {t_ingest:.1f} s, verify run "
      f"{t_run:.1f} s; audit verify: log only {t_bare:.1f} s, with the tables {t_full:.1f} s "
      f"({t_full - t_bare:.1f} s for the tables, {1e6 * (t_full - t_bare) / n:.0f} µs per record)")
