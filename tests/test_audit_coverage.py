"""The audit log covers everything a verdict or a report rests on (issue 15), on both stores.

A store holding records, allegations, a verification run, an allegation run, a fusion run that
supersedes an earlier one and a released daily report is changed one cell at a time, as someone
with access to the database would (triggers dropped first): ``audit verify`` must fail and name
the changed row, and pass again once the cell is put back. A witness catches a cut tail and
names an entry changed with its leaf hash recomputed.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from linewatch.audit import StoredEntry, merkle
from linewatch.errors import InputError
from linewatch.formats.records import record_from_dict
from linewatch.services import ingest_file, review
from linewatch.services.agreements import load_agreement_file
from linewatch.services.audit import AuditLog, load_private_key
from linewatch.services.audit_witness import Witness
from linewatch.services.submissions import release_daily_report
from linewatch.services.verify import verify_allegations, verify_store
from linewatch.store import open_store
from linewatch.store.audit_tables import COLUMNS, stored_entry

ROOT = Path(__file__).resolve().parents[1]
AGREEMENT = ROOT / "examples" / "agreements" / "line-of-contact.yaml"
DAY = date(2026, 6, 15)
T0 = datetime(2026, 6, 15, tzinfo=UTC).timestamp()


def _records(n: int = 8) -> str:
    return "".join(json.dumps({
        "id": f"rec-{i}", "kind": "explosion", "explosion_type": "impact", "time": f"{DAY}T0{i}:10:00Z",
        "lon": 37.6 + 0.03 * i, "lat": 48.45 + 0.01 * i, "radius_m": 300 + 10 * i,
        "source_kind": "observation_post", "source_id": f"OP-{i % 2}"}) + "\n" for i in range(n))


def _claims(parties: tuple[str, ...]) -> str:
    return "".join(json.dumps({
        "id": f"claim-{i}", "alleging_party": parties[i % 2], "accused_party": parties[(i + 1) % 2],
        "kind": "shelling", "time": f"{DAY}T0{i + 1}:00:00Z", "lon": 37.7 + 0.02 * i, "lat": 48.5,
        "received_time": f"{DAY}T09:00:00Z"}) + "\n" for i in range(3))


def _fusion_run(store: Any, n: int, start_s: float, end_s: float) -> None:
    """A fusion run with ``n`` incidents; finishing it supersedes the earlier fusion batches."""
    run, batch = store.begin_fusion_run("test", "{}", start_s, end_s)
    reports = [record_from_dict({"id": f"inc-{run}-{i}", "kind": "explosion", "time": f"{DAY}T01:0{i}:00Z",
                                 "lon": 37.9, "lat": 48.6, "radius_m": 900.0, "source_kind": "sensor_fusion",
                                 "source_id": f"fusion-{run}"}) for i in range(n)]
    with store.transaction() as c:
        store.serialize_writes(c)
        store.add_records(reports, batch_id=batch, file_sha256="0" * 64, source=f"fusion-run:{run}")
        AuditLog(store).log_new_records()
    with store.transaction() as c:
        store.serialize_writes(c)
        store.finish_fusion_run(run, n_detections=10, n_incidents=n)
        AuditLog(store).log_supersessions(by_run=run)


def _drop_triggers(store: Any) -> None:
    """What someone who changes the database does first."""
    with store.transaction() as c:
        if store.dialect == "sqlite":
            for (name,) in c.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
                c.execute(f'DROP TRIGGER "{name}"')
        else:
            for name, table in c.execute("SELECT DISTINCT trigger_name, event_object_table FROM "
                                         "information_schema.triggers WHERE trigger_schema = "
                                         "current_schema()").fetchall():
                c.execute(f'DROP TRIGGER "{name}" ON "{table}"')


def build(url: str, tmp: Path) -> None:
    loaded = load_agreement_file(AGREEMENT)
    (tmp / "records.jsonl").write_text(_records(), encoding="utf-8")
    (tmp / "claims.jsonl").write_text(_claims(loaded.agreement.party_ids), encoding="utf-8")
    with open_store(url) as store:
        ingest_file(store, tmp / "records.jsonl")
        ingest_file(store, tmp / "claims.jsonl")
        _review(store, tmp)
        _fusion_run(store, 3, T0, T0 + 7200)
        _fusion_run(store, 2, T0, T0 + 7200)
        verify_store(store, loaded)
        verify_allegations(store, loaded)
        store.put_daily_report(DAY.isoformat(), report_json='{"day": "2026-06-15"}', built_by="analyst",
                               agreement_sha256=loaded.sha256,
                               files=[("report.html", "text/html; charset=utf-8", b"<p>Kharkiv</p>"),
                                      ("report.json", "application/json", b'{"day": "2026-06-15"}')])
        release_daily_report(store, DAY, released_by="lead")
        _drop_triggers(store)


def _review(store: Any, tmp: Path) -> None:
    """Moves, a comment, a correction answering a return, and an allegation approved (issue 16)."""
    review.move(store, "record", "rec-0", "approved", actor="ana")
    review.move(store, "record", "rec-1", "returned", actor="ana", note="Which post saw it?")
    review.comment(store, "record", "rec-1", author="ana", text="The log of OP-1 says 01:12.")
    fixed = dict(json.loads(_records(2).splitlines()[1]), id="rec-1.v2", supersedes="rec-1",
                 correction="seen from OP-1, not OP-0", source_id="OP-1")
    (tmp / "fix.jsonl").write_text(json.dumps(fixed) + "\n", encoding="utf-8")
    ingest_file(store, tmp / "fix.jsonl")
    review.move(store, "record", "rec-1.v2", "in_review", actor="bo")
    review.move(store, "allegation", "claim-0", "approved", actor="bo")


@pytest.fixture(scope="module")
def covered(module_new_store_url, tmp_path_factory) -> str:
    url = module_new_store_url("coverage")
    build(url, tmp_path_factory.mktemp("coverage"))
    return url


def _verify(store: Any):
    return AuditLog(store).verify()


def test_the_built_store_verifies_and_logs_runs_supersessions_and_the_release(covered):
    with open_store(covered) as store:
        r = _verify(store)
        assert r.ok, r.problems
        log = AuditLog(store)
        types = {e.entry_type for e in log.entries()}
        assert {"record", "allegation", "verdict", "run", "supersession", "release", "review", "comment"} <= types
        runs = {e.subject_id for e in log.entries(entry_type="run")}
        assert runs == {"verification-run:1", "allegations-run:1"}
        (sup,) = log.entries(entry_type="supersession")
        assert json.loads(log.payload(sup.index))["records"] == ["inc-1-0", "inc-1-1", "inc-1-2"]
        release = json.loads(log.payload(log.latest("daily-report:2026-06-15", "release").index))
        assert set(release["files"]) == {"report.html", "report.json"} and release["released_by"] == "lead"


# -- every covered cell ----------------------------------------------------------------------

#: table -> (key column(s) naming a row in problems, the cells that must be covered)
CELLS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "records": (("id",), ("kind", "time", "time_s", "lon", "lat", "source_kind", "source_id",
                          "content_hash", "data", "supersedes")),
    "review": (("subject_kind", "subject_id"), ("subject_id", "state", "updated_by", "n_events")),
    "review_events": (("id",), ("id", "subject_kind", "subject_id", "state", "actor", "at", "data")),
    "review_comments": (("id",), ("id", "data")),
    "allegations": (("id",), ("alleging_party", "accused_party", "kind", "start_s", "end_s", "lon", "lat",
                              "supersedes", "content_hash", "data")),
    "verification_runs": (("id",), ("agreement_sha256", "agreement_id", "agreement_version", "engine",
                                    "window_start", "window_end", "created_at", "n_records", "n_findings",
                                    "inputs_sha256")),
    "findings": (("subject", "rule_id"), ("subject", "rule_id", "rule_kind", "rule_text", "verdict",
                                          "probability", "party", "evidence", "explanation")),
    "placements": (("record_id",), ("record_id", "side", "distance_to_line_m", "sector", "data")),
    "allegation_runs": (("id",), ("agreement_sha256", "agreement_id", "agreement_version", "engine", "coverage",
                                  "window_start", "window_end", "created_at", "n_allegations", "inputs_sha256")),
    "allegation_verdicts": (("allegation_id",), ("allegation_id", "verdict", "probability",
                                                 "detection_probability", "data")),
    "superseded": (("batch_id",), ("start_s", "end_s", "by_run")),
    "agreements": (("sha256",), ("sha256", "text")),
    "daily_reports": (("day",), ("released_at", "released_by", "built_at", "built_by", "agreement_sha256",
                                 "report_json")),
    "daily_report_files": (("name",), ("name", "content")),
    "audit_log": (("idx",), ("entry_type", "subject_id", "payload", "supersedes", "appended_at", "leaf_hash")),
}


def _changed(value: Any, column: str) -> Any:
    """Another value of the same kind (a cell that was empty gets one)."""
    if value is None:
        return 1.5 if column in ("distance_to_line_m", "detection_probability") else (
            3 if column == "supersedes" else "x")
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 0.25
    if isinstance(value, (bytes, memoryview)):
        b = bytearray(bytes(value))
        b[-1] ^= 1
        return bytes(b)
    return str(value) + "x"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_changed_cell_of_logged_data_fails_verify_naming_its_row(covered, data):
    table = data.draw(st.sampled_from(sorted(CELLS)), label="table")
    keys, columns = CELLS[table]
    column = data.draw(st.sampled_from(columns), label="column")
    with open_store(covered) as store:
        rows = store.conn.execute(f"SELECT {', '.join(keys)}, {column} FROM {table} ORDER BY 1").fetchall()
        assert rows, table
        row = data.draw(st.sampled_from(rows), label="row")
        key, old = row[:len(keys)], row[len(keys)]
        new = _changed(old, column)
        where = " AND ".join(f"{k} = ?" for k in keys)
        _raw_update(store, f"UPDATE {table} SET {column} = ? WHERE {where}", (new, *key))
        try:
            r = _verify(store)
            assert not r.ok, f"{table}.{column} changed at {key} passed audit verify"
            named = [str(p) for p in r.problems]
            assert any(str(k) in p for k in key for p in named) or any(
                str(new) in p for p in named), (key, named)
        finally:
            _raw_update(store, f"UPDATE {table} SET {column} = ? WHERE {where}",
                        (old, *(new if k == column else v for k, v in zip(keys, key))))
        assert _verify(store).ok, "the fixture was not restored"


def _raw_update(store: Any, sql: str, args: tuple) -> None:
    """An update past the foreign keys and triggers, as the database's owner can make one."""
    if store.dialect == "sqlite":
        store.conn.execute("PRAGMA foreign_keys = OFF")
    with store.transaction() as c:
        if store.dialect == "postgresql":
            c.execute("SET LOCAL session_replication_role = replica")
        c.execute(sql, args)


def test_the_spatial_index_is_covered(covered):
    with open_store(covered) as store:
        if store.dialect == "sqlite":
            sql = ("UPDATE records_rtree SET max_lon = max_lon + 0.5 WHERE id = "
                   "(SELECT rowid FROM records WHERE id = 'rec-3')")
            undo = sql.replace("+ 0.5", "- 0.5")
        else:
            sql = "UPDATE records SET geom = ST_Translate(geom, 0.01, 0) WHERE id = 'rec-3'"
            undo = sql.replace("0.01", "-0.01")
        with store.transaction() as c:
            c.execute(sql)
        try:
            r = _verify(store)
            assert not r.ok and "rec-3" in str(r.first), r.problems
        finally:
            with store.transaction() as c:
                c.execute(undo)
        assert _verify(store).ok


def test_a_moved_record_leaves_no_silent_gap_in_its_day(covered):
    """The probe's case: a record moved two days on left its day's verification unnoticed."""
    with open_store(covered) as store:
        with store.transaction() as c:
            c.execute("UPDATE records SET time_s = time_s + 172800 WHERE id = 'rec-1'")
        try:
            r = _verify(store)
            assert not r.ok
            assert str(r.first).startswith("records row 'rec-1': column time_s is")
        finally:
            with store.transaction() as c:
                c.execute("UPDATE records SET time_s = time_s - 172800 WHERE id = 'rec-1'")


def test_a_record_moved_into_a_superseded_batch_is_named(covered):
    with open_store(covered) as store:
        (old,) = store.conn.execute("SELECT batch_id FROM records WHERE id = 'inc-2-0'").fetchone()
        (hidden,) = store.conn.execute("SELECT batch_id FROM records WHERE id = 'inc-1-0'").fetchone()
        with store.transaction() as c:
            c.execute("UPDATE records SET batch_id = ? WHERE id = 'inc-2-0'", (hidden,))
        try:
            r = _verify(store)
            assert not r.ok and "inc-2-0" in str(r.first) and "superseded row" in str(r.first)
        finally:
            with store.transaction() as c:
                c.execute("UPDATE records SET batch_id = ? WHERE id = 'inc-2-0'", (old,))


def test_a_run_stored_without_its_entry_is_named_and_audit_sync_logs_it(store_url, tmp_path):
    loaded = load_agreement_file(AGREEMENT)
    (tmp_path / "records.jsonl").write_text(_records(3), encoding="utf-8")
    with open_store(store_url) as store:
        ingest_file(store, tmp_path / "records.jsonl")
        from linewatch.verification import verify
        loaded.record(store)
        run = store.save_verification(agreement_sha256=loaded.sha256, window_start=None, window_end=None,
                                      verification=verify(loaded.agreement, store.reports()))
        r = _verify(store)
        assert not r.ok and str(r.first) == (f"verification_runs row {run}: is not in the audit log (run "
                                             "linewatch audit sync if the store predates run entries)")
        assert AuditLog(store).log_new_records(full=True) == 1
        assert _verify(store).ok


# -- the witness -----------------------------------------------------------------------------

def _cli(*args: Any):
    from linewatch.cli.main import app
    return CliRunner().invoke(app, [str(a) for a in args])


def test_a_cut_tail_fails_without_head_and_a_rehashed_entry_is_named(store_url, tmp_path):
    from linewatch.cli.audit import EXIT_VERIFICATION_FAILED
    build(store_url, tmp_path)
    witness = tmp_path / "witness"
    first = _cli("audit", "verify", "--db", store_url, "--witness", witness)
    assert first.exit_code == 0, first.output
    assert "holds the log's" in first.output and (witness / "leaves.bin").exists()
    with open_store(store_url) as store:
        size = AuditLog(store).size()
        # an entry's payload changed and its leaf hash recomputed: only the witness can name it
        raw = store.conn.execute(f"SELECT {COLUMNS} FROM audit_log WHERE idx = 2").fetchone()
        e: StoredEntry = stored_entry(raw)
        changed = e._replace(payload=e.payload.replace(b"OP-", b"OQ-"))
        with store.transaction() as c:
            c.execute("UPDATE audit_log SET payload = ?, leaf_hash = ? WHERE idx = 2",
                      (changed.payload, merkle.leaf_hash(changed.leaf_data())))
    r = _cli("audit", "verify", "--db", store_url, "--witness", witness, "--skip-tables")
    assert r.exit_code == EXIT_VERIFICATION_FAILED
    assert "entry 2 (record 'rec-2'): is not the entry the witness holds" in r.output, r.output
    with open_store(store_url) as store, store.transaction() as c:
        c.execute("UPDATE audit_log SET payload = ?, leaf_hash = ? WHERE idx = 2", (e.payload, e.leaf_hash))
        c.execute("DELETE FROM audit_log WHERE idx >= ?", (size - 3,))
    r = _cli("audit", "verify", "--db", store_url, "--witness", witness)
    assert r.exit_code == EXIT_VERIFICATION_FAILED
    assert f"entries {size - 3}..{size - 1}: missing: the witness holds {size} entries" in r.output, r.output
    held = Witness(witness).load()
    assert held is not None and held[0].tree_size == size     # a failed check leaves the witness as it was


def test_a_damaged_witness_is_an_input_error(store_url, tmp_path):
    build(store_url, tmp_path)
    witness = tmp_path / "w"
    assert _cli("audit", "verify", "--db", store_url, "--witness", witness).exit_code == 0
    (witness / "leaves.bin").write_bytes(b"\0" * 64)
    r = _cli("audit", "verify", "--db", store_url, "--witness", witness)
    assert isinstance(r.exception, InputError) and r.exception.exit_code == 4   # main() exits with it
    assert "the witness is damaged" in str(r.exception)


@given(lon=st.floats(-180, 180), lat=st.floats(-90, 90))
def test_the_checked_point_is_the_stored_point(lon, lat):
    import shapely

    from linewatch.store.integrity import point_wkb
    assert point_wkb(lon, lat) == shapely.to_wkb(shapely.Point(lon, lat))


# -- what routine writes must not launder (review of issue 15) --------------------------------

def _ingest_more(store: Any, tmp: Path, rid: str) -> None:
    (tmp / f"{rid}.jsonl").write_text(json.dumps({
        "id": rid, "kind": "explosion", "time": f"{DAY}T11:00:00Z", "lon": 37.7, "lat": 48.5,
        "source_kind": "patrol", "source_id": "P-9"}) + "\n", encoding="utf-8")
    ingest_file(store, tmp / f"{rid}.jsonl")


def test_a_forged_supersession_or_run_stays_a_problem_after_routine_writes(store_url, tmp_path):
    build(store_url, tmp_path)
    with open_store(store_url) as store:
        (batch,) = store.conn.execute("SELECT batch_id FROM records WHERE id = 'rec-0'").fetchone()
        _raw_update(store, "INSERT INTO superseded (batch_id, start_s, end_s, by_run) VALUES (?, ?, ?, 2)",
                    (batch, -1e12, 1e12))
        _raw_update(store, "INSERT INTO verification_runs (agreement_sha256, agreement_id, agreement_version, "
                    "engine, created_at, n_records, n_findings) SELECT agreement_sha256, agreement_id, "
                    "agreement_version, engine, created_at, 0, 0 FROM verification_runs WHERE id = 1", ())
        for rid in ("later-1", "later-2"):      # routine ingests log their records, nothing else
            _ingest_more(store, tmp_path, rid)
        r = _verify(store)
        named = {p.where for p in r.problems}
        assert f"superseded row '{batch}:2'" in named and "verification_runs row 2" in named, named
        assert AuditLog(store).log_new_records(full=True) == 2    # only an operator's sync takes them in


def test_a_superseded_stream_batch_that_goes_on_is_logged_again_not_a_false_alarm(store_url, tmp_path):
    build(store_url, tmp_path)
    with open_store(store_url) as store:
        (batch,) = store.conn.execute("SELECT batch_id FROM records WHERE id = 'inc-1-0'").fetchone()
        late = record_from_dict({"id": "inc-late", "kind": "explosion", "time": f"{DAY}T01:30:00Z",
                                 "lon": 37.9, "lat": 48.6, "source_kind": "sensor_fusion", "source_id": "s"})
        with store.transaction() as c:
            store.serialize_writes(c)
            store.add_records([late], batch_id=batch, file_sha256="0" * 64, source="stream")
            AuditLog(store).log_new_records()
        assert "inc-late" not in {r.id for r in store.reports()}     # hidden, as the window says
        r = _verify(store)
        assert r.ok, r.problems
        (entry,) = [e for e in AuditLog(store).entries(entry_type="supersession") if e.supersedes is not None]
        assert "inc-late" in json.loads(AuditLog(store).payload(entry.index))["records"]


def test_a_signed_head_is_refused_over_a_log_the_witness_contradicts(store_url, tmp_path):
    from linewatch.cli.audit import EXIT_VERIFICATION_FAILED
    from linewatch.errors import TamperedLog
    from linewatch.services.audit import generate_keys
    build(store_url, tmp_path)
    priv, _ = generate_keys(tmp_path / "keys")
    witness = tmp_path / "witness"
    assert _cli("audit", "verify", "--db", store_url, "--witness", witness).exit_code == 0
    with open_store(store_url) as store:
        size = AuditLog(store).size()
        _raw_update(store, "DELETE FROM audit_log WHERE idx >= ?", (size - 2,))
        log = AuditLog(store, witness=Witness(witness), key=load_private_key(priv))
        with pytest.raises(TamperedLog, match="does not extend the .* entries the witness holds"):
            log.publish_tree_head()
        assert log.size() == size - 2                       # nothing signed, nothing logged
    assert Witness(witness).load()[0].tree_size == size     # the witness unchanged
    r = _cli("audit", "verify", "--db", store_url, "--witness", witness)
    assert r.exit_code == EXIT_VERIFICATION_FAILED
    assert TamperedLog.exit_code == EXIT_VERIFICATION_FAILED


def test_a_record_near_a_pole_with_a_wide_ellipse_verifies(store_url, tmp_path):
    (tmp_path / "pole.jsonl").write_text("".join(json.dumps({
        "id": f"pole-{i}", "kind": "explosion", "time": f"{DAY}T10:00:00Z", "lon": lon, "lat": lat,
        "radius_m": 1_000_000, "source_kind": "patrol", "source_id": "P-1"}) + "\n"
        for i, (lon, lat) in enumerate([(10.0, 89.9999), (-179.9, -89.9), (37.5, 48.5)])), encoding="utf-8")
    with open_store(store_url) as store:
        ingest_file(store, tmp_path / "pole.jsonl")
        assert store.count_records() == 3
        r = _verify(store)
        assert r.ok, r.problems


def test_a_witness_given_as_a_file_is_an_input_error(store_url, tmp_path):
    build(store_url, tmp_path)
    (tmp_path / "w.json").write_text("{}", encoding="utf-8")
    r = _cli("audit", "verify", "--db", store_url, "--witness", tmp_path / "w.json")
    assert isinstance(r.exception, InputError) and "is a file, expected the witness's directory" in str(r.exception)
