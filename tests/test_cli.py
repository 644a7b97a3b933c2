"""The command line, end to end in subprocesses: outputs, bad input and exit codes. Every
command that opens a store runs on both stores (``--db`` a SQLite file, then a PostgreSQL
schema: conftest's ``new_store_url``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "agreements"

AGREEMENT = """
id: cli-test
title: CLI test agreement
parties:
  - {id: a, name: Party A, side: left}
  - {id: b, name: Party B, side: right}
line:
  geometry: {type: LineString, coordinates: [[36.0, 47.0], [36.0, 49.0]]}
zones:
  - {kind: buffer, id: sz, name: Security zone, width_km: 50}
weapon_classes:
  - {id: art, name: Artillery, examples: [D-30], banned_from: [sz]}
rules:
  - {id: fire, kind: no_fire, text: No fire}
  - {id: withdraw, kind: weapon_exclusion, text: Withdraw artillery, weapon_classes: [art]}
"""


def run(*args, cwd=None, check_code=None):
    proc = subprocess.run([sys.executable, "-m", "linewatch", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    if check_code is not None:
        assert proc.returncode == check_code, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def rec(i, **kw):
    base = {"id": f"r{i}", "kind": "weapon_sighting", "time": "2025-06-01T10:00:00Z",
            "lon": 35.8, "lat": 48.0, "radius_m": 200, "weapon_class": "D-30", "count": 2,
            "source_kind": "patrol", "source_id": "PATROL-1"}
    base.update(kw)
    return json.dumps(base)


@pytest.fixture()
def ws(tmp_path):
    (tmp_path / "ag.yaml").write_text(AGREEMENT)
    (tmp_path / "good.jsonl").write_text("\n".join(
        [rec(1), rec(2, lon=35.0), rec(3, kind="explosion", explosion_type="impact")]) + "\n")
    (tmp_path / "mixed.jsonl").write_text("\n".join(
        [rec(4), "{not json", rec(5, time="2025-06-01T10:00:00"), rec(6, kind="banana")]) + "\n")
    return tmp_path


def test_version_and_help():
    assert run("--version", check_code=0).stdout.startswith("linewatch ")
    assert "ingest" in run("--help", check_code=0).stdout


@pytest.mark.parametrize("name", ["line-of-contact.yaml", "energy-moratorium-2025.yaml", "korea-dmz.yaml"])
def test_agreement_check_on_the_shipped_examples(name):
    proc = run("agreement", "check", EXAMPLES / name, "--json", check_code=0)
    summary = json.loads(proc.stdout)
    assert summary["rules"] and summary["parties"]


def test_agreement_check_reports_where_the_problem_is(ws):
    bad = ws / "bad.yaml"
    bad.write_text(AGREEMENT.replace("width_km: 50}", "width_km: 50, colour: red}"))
    proc = run("agreement", "check", bad, check_code=3)
    assert f"{bad}:10" in proc.stderr and "zones[0].colour" in proc.stderr and "unknown key" in proc.stderr
    assert run("agreement", "check", ws / "missing.yaml", check_code=4).stderr.strip()


def test_agreement_show_draws_a_png(ws):
    out = ws / "map.png"
    run("agreement", "show", ws / "ag.yaml", "--out", out, check_code=0)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ingest_is_idempotent_and_quarantines_with_reasons(ws, store_url):
    db = store_url
    first = run("ingest", ws / "good.jsonl", ws / "mixed.jsonl", "--db", db, check_code=7)   # some quarantined
    assert "3 added" in first.stdout and "1 added, 0 already stored, 3 quarantined" in first.stdout
    again = run("ingest", ws / "good.jsonl", "--db", db, check_code=0)
    assert "0 added, 3 already stored" in again.stdout
    run("ingest", ws / "mixed.jsonl", "--db", db, "--strict", check_code=7)
    rows = json.loads(run("quarantine", "list", "--db", db, "--json", check_code=0).stdout)
    assert len(rows) == 3  # not repeated by the second ingest of the same file
    assert {r["line"] for r in rows} == {2, 3, 4}
    assert any("time zone" in r["reason"] for r in rows)
    assert "Quarantine (3 rows)" in run("quarantine", "list", "--db", db, check_code=0).stdout


@pytest.mark.parametrize("content, name", [
    (b"\xff\xfe\x00binary\x00junk", "junk.jsonl"),
    (b"<xml>not a format</xml>", "data.xml"),
])
def test_ingest_rejects_unreadable_files(ws, content, name, store_url):
    path = ws / name
    path.write_bytes(content)
    proc = run("ingest", path, "--db", store_url, check_code=4)
    assert name in proc.stderr


def test_ingest_missing_file(ws, store_url):
    assert "no such file" in run("ingest", ws / "nope.jsonl", "--db", store_url, check_code=4).stderr


def test_ingest_into_a_file_that_is_not_a_database(ws):
    # SQLite only: a junk file in the store's place is a SQLite matter (a PostgreSQL store that
    # cannot be opened is tested below)
    junk = ws / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 50)
    assert "junk.sqlite" in run("ingest", ws / "good.jsonl", "--db", junk, check_code=5).stderr


def test_ingest_into_a_postgresql_store_that_cannot_be_reached(ws):
    # nothing listens on port 1: the store error names the store (without a password)
    url = "postgresql://linewatch:secret@127.0.0.1:1/linewatch"
    err = run("ingest", ws / "good.jsonl", "--db", url, check_code=5).stderr
    assert "127.0.0.1:1" in err and "secret" not in err


def test_verify_needs_an_agreement_then_remembers_it(ws, store_url):
    db = store_url
    run("ingest", ws / "good.jsonl", "--db", db, check_code=0)
    assert "agreement" in run("verify", "--db", db, check_code=6).stderr
    out = json.loads(run("verify", "--db", db, "--agreement", ws / "ag.yaml", "--json", check_code=0).stdout)
    verdicts = {(f["record_id"], f["rule_id"]): f["verdict"] for f in out["findings"]}
    assert verdicts[("r1", "withdraw")] == "violation"  # 13 km from the line, inside 25 km
    assert verdicts[("r2", "withdraw")] == "compliant"  # 74 km away
    assert verdicts[("r3", "fire")] == "violation"
    table = run("verify", "--db", db, check_code=0).stdout  # the stored agreement is reused
    assert "withdraw" in table and "Verification run 2" in table
    run("verify", "--db", db, "--from", "2025-06-01T00:00:00", check_code=2)  # no time zone


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "geojson", "acled"])
def test_export_writes_what_ingest_reads(ws, fmt, new_store_url):
    db = new_store_url("s")
    run("ingest", ws / "good.jsonl", "--db", db, check_code=0)
    ext = {"jsonl": "jsonl", "csv": "csv", "geojson": "geojson", "acled": "csv"}[fmt]
    out = ws / f"export.{ext}"
    run("export", "--format", fmt, "--out", out, "--db", db, check_code=0)
    assert out.stat().st_size > 0
    db2 = new_store_url("s2")
    proc = run("ingest", out, "--db", db2, check_code=0)
    expected = 1 if fmt == "acled" else 3  # ACLED has no weapon sightings: only the explosion
    assert f"{expected} added" in proc.stdout


def test_export_and_report_usage_errors(ws, store_url):
    db = store_url
    run("export", "--format", "xml", "--db", db, check_code=2)
    run("report", "--date", "15/06/2026", "--db", db, "--agreement", ws / "ag.yaml", check_code=2)
    assert "store is empty" in run("report", "--date", "2025-06-01", "--db", db,
                                   "--agreement", ws / "ag.yaml", check_code=6).stderr


@pytest.mark.slow
def test_demo_end_to_end(tmp_path):
    # SQLite only: the demo makes its own store, a SQLite file in its output directory
    proc = run("demo", "--out", tmp_path / "demo", check_code=0)
    report_dir = tmp_path / "demo" / "report"
    html = sorted(report_dir.glob("report-*.html"))
    assert html and str(html[0]) in proc.stdout.replace("\n", "")
    pdf = sorted(report_dir.glob("report-*.pdf"))[0]
    assert pdf.read_bytes()[:4] == b"%PDF"
    data = json.loads(sorted(report_dir.glob("report-*.json"))[0].read_text())
    assert data  # the structure is checked in test_reporting; here: it was written
    # the malformed rows went to the quarantine, each with a reason
    q = json.loads(run("quarantine", "list", "--json", "--db", tmp_path / "demo" / "linewatch.sqlite",
                       check_code=0).stdout)
    assert len(q) >= 5 and all(r["reason"] for r in q)
    # the parties' allegations were judged, with every verdict class the scenario scripts
    verdicts = data["allegations"]["verdicts"]
    assert data["allegations"]["received"] == 11 and all(verdicts[k] for k in verdicts), verdicts
    assert any("self" in r["reason"] or "accuses itself" in r["reason"] for r in q)
    # the coverage layer: the share of the line covered each hour, and its figures
    hours = data["coverage"]["line_share_by_hour"]
    assert len(hours) == 24 and all(0 < h["share"] <= 1 for h in hours)
    assert sorted(p.name.split("-2")[0] for p in report_dir.glob("coverage-*.png")) == \
        ["coverage-hours", "coverage-map"]
    # the audit log verifies, and the signed bundle with the public key alone
    assert "audit log:" in proc.stdout and "verified" in proc.stdout
    bundle = sorted(report_dir.glob("*.lwbundle.json"))[0]
    run("audit", "verify-report", bundle, "--public-key",
        tmp_path / "demo" / "keys" / "linewatch-signing-key.pub.pem", check_code=0)
    run("audit", "verify", "--db", tmp_path / "demo" / "linewatch.sqlite", "--public-key",
        tmp_path / "demo" / "keys" / "linewatch-signing-key.pub.pem", check_code=0)
    _check_demo_review(" ".join(proc.stdout.split()), data, tmp_path / "demo" / "linewatch.sqlite")


def _check_demo_review(said: str, report: dict, db: Path) -> None:
    """The demo's review (docs/review.md): most records approved, never by their author; three
    returned and corrected, each correction approved by another analyst; one rejected; some
    unreviewed; the report counts the approved ones, and every move is in the audit log once."""
    from linewatch.services.audit import AuditLog
    from linewatch.store import open_store
    assert "none by its own author" in said and "3 returned with a question and corrected" in said
    assert "1 rejected; " in said and "released by demo-analyst" in said
    review = report["review"]
    assert review["approved"]["count"] > 400 and review["rejected"]["count"] == 1
    assert review["unreviewed"]["count"] > 0 and not review["unreviewed_included"]
    with open_store(db) as store:
        fixed = [r for r in store.reports() if r.supersedes]
        assert len(fixed) == 3
        for r in fixed:
            chain = store.version_chain(r.id)
            assert chain == [r.supersedes, r.id]
            assert store.review_of("record", r.supersedes).state == "returned"
            assert store.review_of("record", r.id).state == "approved"
            assert store.approvals([r.id])[r.id] not in set(store.authors(chain).values())
        events = [rid for rid, _ in store.iter_review_events()]
        assert sorted(e.subject_id for e in AuditLog(store).entries(entry_type="review")) == sorted(events)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """One simulated quiet night, for the fuse tests on both stores (simulated once)."""
    sim_dir = tmp_path_factory.mktemp("sim") / "sim"
    proc = run("sim", "--scenario", "quiet", "--seed", "2", "--out", sim_dir, check_code=0)
    return sim_dir, proc.stdout


def test_sim_writes_its_files(simulated):
    sim_dir, stdout = simulated
    assert "detections" in stdout
    for name in ("sensors.csv", "detections.jsonl", "truth_events.csv", "truth_detections.csv",
                 "scenario.json"):
        assert (sim_dir / name).is_file(), name


def test_sim_then_fuse_end_to_end(tmp_path, simulated, new_store_url):
    sim_dir, _ = simulated
    db, out = new_store_url("s"), tmp_path / "incidents.geojson"
    run("fuse", "--sensors", sim_dir / "sensors.csv", "--detections", sim_dir / "detections.jsonl",
        "--out", out, "--agreement", EXAMPLES / "line-of-contact.yaml", "--db", db, check_code=0)
    fc = json.loads(out.read_text())
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) >= 10
    props = [f["properties"] for f in fc["features"]]
    for p in props:
        assert {"id", "time", "kind", "detections", "ellipse"} <= p.keys()
        assert p["ellipse"]["semi_major_m"] >= p["ellipse"]["semi_minor_m"] > 0
    used = [d for p in props for d in p["detections"]]
    assert len(used) == len(set(used))  # each detection in at most one incident
    paired = [p for p in props if "pair_id" in p]
    assert paired and all(set(p["side_probability"]) == {"ua", "ru"} for p in paired)
    # the incidents are stored: verify uses them
    findings = json.loads(run("verify", "--db", db, "--json", check_code=0).stdout)["findings"]
    assert {f["record_id"] for f in findings} >= {p["id"] for p in props}
    # two worker processes: the same incidents
    out2 = tmp_path / "incidents-2.geojson"
    run("fuse", "--sensors", sim_dir / "sensors.csv", "--detections", sim_dir / "detections.jsonl",
        "--out", out2, "--agreement", EXAMPLES / "line-of-contact.yaml", "--db", new_store_url("s2"),
        "--workers", "2", check_code=0)
    assert json.loads(out2.read_text()) == fc


def test_fuse_bad_input(tmp_path, store_url):
    sensors = tmp_path / "sensors.csv"
    sensors.write_text("sensor_id,lon,lat,elevation_m,kind\nM1,36.0,48.0,0,microphone\n")
    det = tmp_path / "det.jsonl"
    det.write_text('{"id": "a", "sensor_id": "NOPE", "time": 1.7e9, "time_sd_s": 0.02}\n'
                   '{"id": "b", "time": 1.7e9}\n'
                   '{"id": "c", "sensor_id": "M1", "time": "yesterday", "time_sd_s": 0.02}\n')
    db = store_url
    proc = run("fuse", "--sensors", sensors, "--detections", det, "--db", db,
               "--out", tmp_path / "o.geojson", check_code=0)
    assert "3 rows quarantined" in proc.stdout
    rows = json.loads(run("quarantine", "list", "--db", db, "--json", check_code=0).stdout)
    assert {r["line"] for r in rows} == {1, 2, 3} and all(r["field"] for r in rows)
    run("fuse", "--sensors", tmp_path / "none.csv", "--detections", det, "--db", db, check_code=4)
    run("sim", "--scenario", "hurricane", "--out", tmp_path / "x", check_code=2)
