"""The SQLite store: migrations, idempotent ingest, quarantine, R*Tree, crash consistency."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from linewatch.errors import StoreError
from linewatch.service import ingest_file, stored_reports
from linewatch.store import open_store
from linewatch.store.migrations import MIGRATIONS, pending


def _record(i: int, **extra) -> dict:
    return {"id": f"rec-{i:05d}", "kind": "explosion", "explosion_type": "impact",
            "time": f"2025-06-01T{(i // 60) % 24:02d}:{i % 60:02d}:00Z",
            "lon": 37.0 + (i % 100) * 0.01, "lat": 48.0 + (i // 100) * 0.01, "radius_m": 500,
            "source_kind": "observation_post", "source_id": f"OP-{i % 7}", **extra}


BAD_LINES = [
    '{"id": "x1", "kind": "explosion"',  # not JSON
    json.dumps({"id": "x2", "kind": "nonsense", "time": "2025-06-01T00:00:00Z", "lon": 37, "lat": 48,
                "source_kind": "patrol", "source_id": "p"}),
    json.dumps({"id": "x3", "kind": "explosion", "time": "2025-06-01T00:00:00", "lon": 37, "lat": 48,
                "source_kind": "patrol", "source_id": "p"}),  # naive time
]


def write_jsonl(path: Path, n: int, *, bad_every: int = 0) -> tuple[int, int]:
    good = bad = 0
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps(_record(i)) + "\n")
            good += 1
            if bad_every and i % bad_every == 0:
                fh.write(BAD_LINES[(i // bad_every) % len(BAD_LINES)].replace('"x', f'"x{i}-') + "\n")
                bad += 1
    return good, bad


def test_migrations_apply_once_and_record_their_names(tmp_path):
    db = tmp_path / "s.sqlite"
    with open_store(db) as s:
        assert pending(s.conn) == []
        names = [r[0] for r in s.conn.execute("SELECT name FROM _migrations")]
        assert names == [name for name, _ in MIGRATIONS]
        assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with open_store(f"sqlite:///{db}") as s:  # reopening applies nothing new
        assert pending(s.conn) == []


def test_unsupported_url_and_unusable_file(tmp_path):
    with pytest.raises(StoreError, match="unsupported scheme"):
        open_store("mysql://x/y")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="junk.sqlite"):
        open_store(junk)


def test_ingest_is_idempotent_and_quarantines_bad_rows(tmp_path):
    src = tmp_path / "in.jsonl"
    good, bad = write_jsonl(src, 300, bad_every=50)
    with open_store(tmp_path / "s.sqlite") as s:
        first = ingest_file(s, src, chunk_size=37)
        assert (first.added, first.duplicate, first.quarantined) == (good, 0, bad)
        second = ingest_file(s, src, chunk_size=37)
        assert (second.added, second.duplicate) == (0, good)
        assert s.count_records() == good
        assert s.count_quarantine() == bad  # re-ingest does not repeat the quarantine rows
        rows = s.quarantine_rows()
        assert all(r.file == str(src) and r.line and r.reason for r in rows)
        assert any("time zone" in r.reason for r in rows)
        # the R*Tree holds exactly one box per record
        assert s.conn.execute("SELECT count(*) FROM records_rtree").fetchone()[0] == good


def test_same_id_with_different_content_is_a_conflict(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(json.dumps(_record(1)) + "\n")
    b.write_text(json.dumps(_record(1, radius_m=900)) + "\n")
    with open_store(tmp_path / "s.sqlite") as s:
        ingest_file(s, a)
        res = ingest_file(s, b)
        assert (res.added, res.quarantined) == (0, 1)
        assert "different content" in s.quarantine_rows()[0].reason
        assert stored_reports(s)[0].location.semi_major_m == 500  # the first stays


def test_time_and_bbox_queries(tmp_path):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, 300)
    with open_store(tmp_path / "s.sqlite") as s:
        ingest_file(s, src)
        t0 = datetime(2025, 6, 1, 1, tzinfo=timezone.utc)
        t1 = datetime(2025, 6, 1, 2, tzinfo=timezone.utc)
        rows = list(s.record_rows(start=t0, end=t1))
        assert len(rows) == 60 and all(r["time"].startswith("2025-06-01T01:") for r in rows)
        box = list(s.record_rows(bbox=(37.0, 48.0, 37.05, 48.005)))
        assert {r["id"] for r in box} == {f"rec-{i:05d}" for i in range(6)}


WORKER = """
import os, signal, sys, threading
from linewatch.service import ingest_file
from linewatch.store import open_store
delay = float(sys.argv[4])
if delay > 0:  # SIGKILL ourselves at a random moment of the ingest: no cleanup of any kind runs
    threading.Timer(delay, os.kill, (os.getpid(), signal.SIGKILL)).start()
with open_store(sys.argv[1]) as s:
    ingest_file(s, sys.argv[2], chunk_size=int(sys.argv[3]))
"""


@pytest.mark.slow
def test_a_killed_ingest_leaves_a_consistent_store_and_a_rerun_completes_it_once(tmp_path):
    src = tmp_path / "big.jsonl"
    good, bad = write_jsonl(src, 6000, bad_every=97)  # about 1.5 s of ingest on a laptop
    db = tmp_path / "s.sqlite"
    rng = random.Random(1234)
    seen = []
    # the first kill comes early (a few hundred records in), the others at random moments
    for delay in [0.3] + [rng.uniform(0.05, 1.0) for _ in range(5)]:
        proc = subprocess.run([sys.executable, "-c", WORKER, str(db), str(src), "40", str(delay)])
        conn = sqlite3.connect(db)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            n = conn.execute("SELECT count(*) FROM records").fetchone()[0]
            # every committed record has exactly its R*Tree box: no half-written chunk
            assert conn.execute("SELECT count(*) FROM records_rtree").fetchone()[0] == n
            assert n <= good
        finally:
            conn.close()
        seen.append((proc.returncode, n))
    killed_midway = [n for code, n in seen if code == -signal.SIGKILL and n < good]
    assert killed_midway, f"no kill landed in the middle of an ingest: {seen}"
    subprocess.run([sys.executable, "-c", WORKER, str(db), str(src), "40", "0"], check=True)
    with open_store(db) as s:
        assert s.count_records() == good
        assert s.count_quarantine() == bad
        ids = [r[0] for r in s.conn.execute("SELECT id FROM records")]
        assert len(ids) == len(set(ids)) == good
