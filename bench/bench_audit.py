"""Time the audit log: append N entries, sign 1,000 verdicts, publish a head, prove, verify.

    .venv/bin/python bench/bench_audit.py 100000
"""
import json
import sys
import tempfile
import time
from pathlib import Path

from linewatch.audit import check_inclusion
from linewatch.services.audit import AuditLog, generate_keys, load_private_key, load_public_key
from linewatch.store import open_store

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
tmp = Path(tempfile.mkdtemp())
priv, pub = generate_keys(tmp / "k")
key, pk = load_private_key(priv), load_public_key(pub)
rec = {"id": "", "kind": "explosion", "time": "2025-06-01T10:00:00Z", "lon": 37.1, "lat": 48.2,
       "radius_m": 500, "source_kind": "observation_post", "source_id": "OP-1"}
with open_store(tmp / "a.sqlite") as store:
    log = AuditLog(store, key=key)
    t = time.perf_counter()
    for start in range(0, n, 10_000):
        log.append_many([("record", f"R{i}", json.dumps(dict(rec, id=f"R{i}"), sort_keys=True, separators=(",", ":")))
                         for i in range(start, min(n, start + 10_000))])
    t_append = time.perf_counter() - t
    t = time.perf_counter()
    v = log.append_many([("verdict", f"V{i}", {"i": i}) for i in range(1000)])
    t_sign = time.perf_counter() - t
    t = time.perf_counter()
    head = log.publish_tree_head()
    t_head = time.perf_counter() - t
    t = time.perf_counter()
    proof = log.prove(f"R{n // 2}")
    t_prove = time.perf_counter() - t
    assert check_inclusion(proof, head, pk).ok
    t = time.perf_counter()
    r = log.verify(pk, check_tables=False)
    t_verify = time.perf_counter() - t
    assert r.ok, r.first
print(f"{n:,} record entries: append {t_append:.2f} s ({1e6 * t_append / n:.0f} us each); "
      f"1,000 signed verdicts {t_sign:.2f} s; publish head {t_head:.2f} s; prove {t_prove:.2f} s "
      f"({len(proof.audit_path)} hashes); verify {t_verify:.2f} s ({r.n_signatures} signatures)")
