"""A bounded load test on loopback: the server started as a process, 1,000 reports/s offered
for 3 s in batches of 10, and every report counted: acknowledged, stored and logged exactly
once, on both stores (a SQLite file, then a PostgreSQL schema). The latency is printed, not
asserted (docs/benchmarks.md has the measured figures)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_sustained_ingest_stores_every_report_exactly_once(store_url):
    res = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_service.py"), "--rate", "1000",
                          "--batch", "10", "--duration", "3", "--ceiling-s", "1", "--server-cpu", "-1",
                          "--db", store_url],
                         capture_output=True, text=True, timeout=180)
    print(res.stdout, res.stderr[-2000:])
    assert res.returncode == 0, res.stdout + res.stderr[-2000:]
    assert "3,000 sent, 3,000 acknowledged, 3,000 rows, 3,000 distinct ids, 3,000 audit entries " \
           "-> exactly once" in res.stdout
