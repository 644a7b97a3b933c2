"""Both stores (SQLite, PostgreSQL + PostGIS): migrations, idempotent ingest, quarantine, the
spatial index, crash consistency, and several ingest processes writing at once."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from linewatch.errors import StoreError
from linewatch.services import ingest_file
from linewatch.services.audit import AuditLog
from linewatch.store import open_store
from linewatch.store.migrations import MIGRATIONS, PG_MIGRATIONS, pending


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


def test_migrations_apply_once_and_record_their_names(store_url, store_kind):
    with open_store(store_url) as s:
        assert pending(s.conn) == []
        names = [r[0] for r in s.conn.execute("SELECT name FROM _migrations ORDER BY name")]
        assert names == [name for name, _ in MIGRATIONS]
        assert set(PG_MIGRATIONS) == set(names)           # one text per dialect, same names
        if store_kind == "sqlite":
            assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert s.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        else:
            assert s.conn.execute("SELECT postgis_lib_version()").fetchone()[0]
    with open_store(store_url) as s:  # reopening applies nothing new
        assert pending(s.conn) == []


def _columns(s, table: str) -> list[str]:
    return [d[0] for d in s.conn.execute(f"SELECT * FROM {table} LIMIT 0").description]


def test_both_dialects_hold_the_same_tables_and_columns(tmp_path, new_pg_url):
    """The PostgreSQL migrations make what the SQLite ones make (plus PostGIS's own columns)."""
    extra = {"records": {"rowid", "extent"}, "allegations": {"rowid"}, "networks": {"rowid"},
             "review_events": {"rowid"}, "review_comments": {"rowid"}}
    with open_store(tmp_path / "ref.sqlite") as ref, open_store(new_pg_url()) as pg:
        tables = [r[0] for r in ref.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'records_rtree%' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        assert len(tables) >= 20
        for table in tables:
            assert set(_columns(pg, table)) - extra.get(table, set()) == set(_columns(ref, table)), table


def test_unsupported_url_and_unusable_file(tmp_path):
    with pytest.raises(StoreError, match="unsupported scheme"):
        open_store("mysql://x/y")
    # no server there: the error names the store, and never prints the password
    with pytest.raises(StoreError, match=r"postgresql://ana:\*\*\*@127.0.0.1:9/m: cannot connect") as e:
        open_store("postgresql://ana:s3cret@127.0.0.1:9/m")
    assert "s3cret" not in str(e.value)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="junk.sqlite"):
        open_store(junk)


def _index_size(s) -> int:
    """Entries of the spatial index: R*Tree boxes (SQLite), PostGIS extents (PostgreSQL)."""
    if s.dialect == "sqlite":
        return s.conn.execute("SELECT count(*) FROM records_rtree").fetchone()[0]
    return s.conn.execute("SELECT count(*) FROM records WHERE ST_IsValid(extent) AND "
                          "ST_Contains(extent, geom)").fetchone()[0]


def test_ingest_is_idempotent_and_quarantines_bad_rows(tmp_path, store_url):
    src = tmp_path / "in.jsonl"
    good, bad = write_jsonl(src, 300, bad_every=50)
    with open_store(store_url) as s:
        first = ingest_file(s, src, chunk_size=37)
        assert (first.added, first.duplicate, first.quarantined) == (good, 0, bad)
        second = ingest_file(s, src, chunk_size=37)
        assert (second.added, second.duplicate) == (0, good)
        assert s.count_records() == good
        assert s.count_quarantine() == bad  # re-ingest does not repeat the quarantine rows
        rows = s.quarantine_rows()
        assert all(r.file == str(src) and r.line and r.reason for r in rows)
        assert any("time zone" in r.reason for r in rows)
        # the spatial index holds exactly one box per record, around its point
        assert _index_size(s) == good


def test_same_id_with_different_content_is_a_conflict(tmp_path, store_url):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(json.dumps(_record(1)) + "\n")
    b.write_text(json.dumps(_record(1, radius_m=900)) + "\n")
    with open_store(store_url) as s:
        ingest_file(s, a)
        res = ingest_file(s, b)
        assert (res.added, res.quarantined) == (0, 1)
        assert "different content" in s.quarantine_rows()[0].reason
        assert s.reports()[0].location.semi_major_m == 500  # the first stays


def test_time_and_bbox_queries(tmp_path, store_url):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, 300)
    with open_store(store_url) as s:
        ingest_file(s, src)
        t0 = datetime(2025, 6, 1, 1, tzinfo=UTC)
        t1 = datetime(2025, 6, 1, 2, tzinfo=UTC)
        rows = list(s.record_rows(start=t0, end=t1))
        assert len(rows) == 60 and all(r["time"].startswith("2025-06-01T01:") for r in rows)
        box = list(s.record_rows(bbox=(37.0, 48.0, 37.05, 48.005)))
        assert {r["id"] for r in box} == {f"rec-{i:05d}" for i in range(6)}


WORKER = """
import os, signal, sys, threading
from linewatch.services import ingest_file
from linewatch.store import open_store
delay = float(sys.argv[4])
if delay > 0:  # SIGKILL ourselves at a random moment of the ingest: no cleanup of any kind runs
    threading.Timer(delay, os.kill, (os.getpid(), signal.SIGKILL)).start()
with open_store(sys.argv[1]) as s:
    ingest_file(s, sys.argv[2], chunk_size=int(sys.argv[3]))
"""


@pytest.mark.slow
def test_a_killed_ingest_leaves_a_consistent_store_and_a_rerun_completes_it_once(tmp_path, store_url):
    src = tmp_path / "big.jsonl"
    good, bad = write_jsonl(src, 6000, bad_every=97)  # about 1.5 s of ingest on a laptop
    rng = random.Random(1234)
    seen = []
    # the first kill comes early (a few hundred records in), the others at random moments
    for delay in [0.3] + [rng.uniform(0.05, 1.0) for _ in range(5)]:
        proc = subprocess.run([sys.executable, "-c", WORKER, store_url, str(src), "40", str(delay)])
        with open_store(store_url) as s:
            if s.dialect == "sqlite":
                assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            n = s.count_records()
            # every committed record has exactly its index entry: no half-written chunk
            assert _index_size(s) == n
            assert n <= good
            # and its audit-log entry: the log verifies before any re-run
            audit = AuditLog(s).verify()
            assert audit.ok, f"after a kill at {delay:.2f} s: {audit.first}"
            assert s.conn.execute("SELECT count(*) FROM audit_log WHERE entry_type = 'record'"
                                  ).fetchone()[0] == n
        seen.append((proc.returncode, n))
    killed_midway = [n for code, n in seen if code == -signal.SIGKILL and n < good]
    assert killed_midway, f"no kill landed in the middle of an ingest: {seen}"
    subprocess.run([sys.executable, "-c", WORKER, store_url, str(src), "40", "0"], check=True)
    with open_store(store_url) as s:
        assert s.count_records() == good
        assert s.count_quarantine() == bad
        ids = [r[0] for r in s.conn.execute("SELECT id FROM records")]
        assert len(ids) == len(set(ids)) == good


WRITER = """
import sys
from linewatch.services import ingest_file
from linewatch.store import open_store
with open_store(sys.argv[1]) as s:
    for path in sys.argv[3:]:
        ingest_file(s, path, chunk_size=int(sys.argv[2]))
"""


@pytest.mark.slow
def test_concurrent_ingest_writers_lose_and_duplicate_nothing(tmp_path, store_url):
    """Four processes ingest at once: files of their own, and files all four ingest (the same
    records, and the same bad lines). Counting afterwards: every record once, every bad line
    quarantined once, every record once in the audit log, and the log verifies."""
    from linewatch.services.audit import AuditLog
    shared = tmp_path / "shared.jsonl"
    n_shared, bad_shared = write_jsonl(shared, 400, bad_every=40)
    own, total, bad_total = [], n_shared, bad_shared
    for w in range(4):
        path = tmp_path / f"own-{w}.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for i in range(300):
                fh.write(json.dumps(_record(10_000 + 1000 * w + i)) + "\n")
            fh.write(BAD_LINES[0].replace('"x', f'"own{w}-') + "\n")
        own.append(path)
        total, bad_total = total + 300, bad_total + 1
    with open_store(store_url):
        pass                                   # migrate once, before the race
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, store_url, str(7 + 4 * w),
                               *(map(str, [own[w], shared] if w % 2 else [shared, own[w]]))])
             for w in range(4)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0, 0]
    with open_store(store_url) as s:
        ids = [r[0] for r in s.conn.execute("SELECT id FROM records")]
        assert len(ids) == len(set(ids)) == total
        assert s.count_quarantine() == bad_total
        assert _index_size(s) == total
        logged = s.conn.execute("SELECT count(*), count(DISTINCT subject_id) FROM audit_log "
                                "WHERE entry_type = 'record'").fetchone()
        assert tuple(logged) == (total, total)
        assert AuditLog(s).verify().ok


def test_one_chunk_holding_an_id_twice(tmp_path, store_url):
    """The second copy of an id in the same chunk meets the first: a duplicate if the same, a
    conflict if not (the batched insert keeps the order)."""
    path = tmp_path / "twice.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in
                            [_record(1), _record(2), _record(1), _record(2, radius_m=900), _record(3)]))
    with open_store(store_url) as s:
        res = ingest_file(s, path, chunk_size=100)
        assert (res.added, res.duplicate, res.quarantined) == (3, 1, 1)
        assert {r.id: r.location.semi_major_m for r in s.reports()}["rec-00002"] == 500


# -- raw detections and fusion runs ---------------------------------------------------------------

def _detections(n: int = 300):
    import numpy as np

    from linewatch.model import Detections, Sensors
    sensors = Sensors.from_columns([f"S{i}" for i in range(5)], np.linspace(37, 37.4, 5),
                                   np.full(5, 48.0), ["microphone"] * 4 + ["array"],
                                   elevation_m=np.arange(5.0), clock_sd_s=np.full(5, 0.001))
    rng = np.random.default_rng(3)
    t = 1.75e9 + np.sort(rng.uniform(0, 7200, n))
    bearing = np.where(np.arange(n) % 5 == 4, rng.uniform(0, 360, n), np.nan)
    det = Detections.from_columns([f"d{i:04d}" for i in range(n)], np.arange(n) % 5, t,
                                  np.full(n, 0.02), bearing_deg=bearing,
                                  bearing_sd_deg=np.where(np.isnan(bearing), np.nan, 2.0),
                                  kind=np.where(np.arange(n) % 3 == 0, "launch", "impact"),
                                  temperature_c=np.full(n, 12.5))
    return sensors, det


def test_detections_round_trip_in_time_ordered_chunks(store_url):
    import numpy as np
    sensors, det = _detections()
    with open_store(store_url) as s:
        assert s.add_detections(det, sensors) == len(det)
        assert s.add_detections(det, sensors) == 0                     # keyed: nothing twice
        assert s.count_detections() == len(det)
        chunks = list(s.iter_detections(sensors, chunk_s=1800.0))
        assert len(chunks) == 4
        back = chunks[0].concat(chunks)
        for f in det.__dataclass_fields__:
            a, b = getattr(det, f), getattr(back, f)
            if a.dtype.kind == "f":
                np.testing.assert_array_equal(a, b)                     # NaN kept as NaN
            else:
                assert list(map(str, a)) == list(map(str, b)), f
        assert all(c.time_s.max() < d.time_s.min() for c, d in zip(chunks, chunks[1:]))
        # a window, and sensors left out
        part = list(s.iter_detections(sensors, start_s=det.time_s[100], end_s=det.time_s[200],
                                      sensor_ids=["S0", "S1"]))
        got = np.concatenate([c.ids for c in part])
        want = det.ids[100:200][np.isin(det.sensor[100:200], [0, 1])]
        assert sorted(got) == sorted(want)


def test_a_fusion_run_supersedes_the_earlier_fusion_records_in_its_window(tmp_path, store_url):
    from linewatch.services import store_reports
    src = tmp_path / "in.jsonl"
    write_jsonl(src, 120)                              # observer reports, 00:00 to 01:59
    with open_store(store_url) as s:
        ingest_file(s, src)
        first = [r for r in s.reports()][:90]    # stand-ins for a first fusion's incidents
        from dataclasses import replace as _r
        store_reports(s, [_r(r, id=r.id + ".v1") for r in first], source="fusion:first")
        assert s.count_records() == 210
        t0 = datetime(2025, 6, 1, 0, 30, tzinfo=UTC).timestamp()
        t1 = datetime(2025, 6, 1, 1, 0, tzinfo=UTC).timestamp()
        run, batch = s.begin_fusion_run("fusion-test", "{}", t0, t1)
        s.finish_fusion_run(run, n_detections=0, n_incidents=0)
        ids = {r["id"] for r in s.record_rows()}
        gone = {r.id + ".v1" for r in first if t0 <= r.time.timestamp() < t1}
        assert len(gone) == 30 and not gone & ids      # superseded in the window ...
        assert len(ids) == 210 - 30 and s.count_records() == 210   # ... kept in the table
        assert s.fusion_runs()[0]["finished_at"] is not None


def test_fuse_keeps_the_raw_detections_for_reprocessing(tmp_path, store_url):
    """`linewatch fuse` stores what it read, once (a re-run adds none), and the round trip gives
    the detections as the file reader gave them."""
    import numpy as np

    from linewatch.formats.sensors import read_detections, read_sensors, write_detections, write_sensors
    from linewatch.services import fuse_files
    sensors, det = _detections(120)
    with (tmp_path / "sensors.csv").open("w", encoding="utf-8", newline="") as f:
        write_sensors(sensors, f)
    with (tmp_path / "det.jsonl").open("w", encoding="utf-8", newline="") as f:
        write_detections(det, sensors, f)
    with (tmp_path / "sensors.csv").open(encoding="utf-8") as f:
        sensors, _ = read_sensors(f, name="sensors.csv")
    with (tmp_path / "det.jsonl").open(encoding="utf-8") as f:
        read, _ = read_detections(f, sensors, name="det.jsonl")
    with open_store(store_url) as s:
        for _ in range(2):
            fuse_files(s, tmp_path / "sensors.csv", tmp_path / "det.jsonl", tmp_path / "out.geojson")
        assert s.count_detections() == len(det)
        back = next(iter(s.iter_detections(sensors, chunk_s=1e9)))
        assert list(back.ids) == list(read.ids)
        np.testing.assert_array_equal(back.time_s, read.time_s)
        np.testing.assert_array_equal(back.bearing_deg, read.bearing_deg)


def test_a_nul_character_in_a_bad_line_is_quarantined_alike_on_both_stores(tmp_path, store_url):
    """PostgreSQL's text cannot hold NUL: the quarantine keeps it as U+2400 in both stores."""
    path = tmp_path / "nul.jsonl"
    path.write_bytes((json.dumps(_record(1)) + "\n" + "nonsense\x00here\n").encode())
    with open_store(store_url) as s:
        res = ingest_file(s, path)
        assert (res.added, res.quarantined) == (1, 1)
        assert s.quarantine_rows()[0].raw == "nonsense\u2400here"
