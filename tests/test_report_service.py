"""The daily report reads what ``verify`` stored: it never judges, and says when results are stale."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from linewatch import reporting
from linewatch.cli.main import app
from linewatch.errors import LinewatchError, OutOfDate
from linewatch.formats.canonical import record_from_canonical
from linewatch.formats.records import record_from_dict, record_to_dict
from linewatch.formats.resources import load_gazetteer
from linewatch.services import (
    daily_report,
    day_window,
    ingest_file,
    load_agreement_file,
    stored_results,
    verify_allegations,
    verify_store,
)
from linewatch.services.audit import AuditLog
from linewatch.sim import generate_day
from linewatch.store import open_store
from linewatch.verification import verify

ROOT = Path(__file__).resolve().parents[1]
AGREEMENT = ROOT / "examples" / "agreements" / "line-of-contact.yaml"
DAY = date(2026, 6, 15)
EXIT_OUT_OF_DATE = 11


@pytest.fixture(scope="module")
def loaded():
    return load_agreement_file(AGREEMENT)


def _write_days(path: Path, loaded, days: list[date], seed: int = 7) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for d in days:
            for r in generate_day(loaded.agreement, d, seed=seed, intensity=0.3):
                fh.write(json.dumps(r) + "\n")
    return path


@pytest.fixture
def week(tmp_path, loaded) -> Path:
    return _write_days(tmp_path / "week.jsonl", loaded, [DAY - timedelta(days=k) for k in range(3)])


class _Run:
    """A command's result with the exit code ``linewatch`` gives (``main`` maps our errors)."""

    def __init__(self, args) -> None:
        r = CliRunner().invoke(app, [str(a) for a in args])
        self.output, self.exception = r.output, r.exception
        self.exit_code = (r.exception.exit_code if isinstance(r.exception, LinewatchError)
                          else r.exit_code)


def _cli(*args) -> _Run:
    return _Run(args)


def test_a_stored_record_reads_back_as_the_report_it_was(loaded):
    """The store rebuilds records from their canonical form without validating them again."""
    for d in generate_day(loaded.agreement, DAY, seed=3):
        r = record_from_dict(d)
        assert record_from_canonical(record_to_dict(r)) == r
    lines = (ROOT / "tests" / "data" / "formats" / "good.jsonl").read_text(encoding="utf-8").splitlines()
    for line in filter(str.strip, lines):   # observer fixes, ellipses, origins, extras
        r = record_from_dict(json.loads(line))
        assert record_from_canonical(record_to_dict(r)) == r


def test_the_report_reads_the_stored_run_and_writes_no_run_or_entry(tmp_path, week):
    db = tmp_path / "s.sqlite"
    assert _cli("ingest", week, "--db", db).exit_code == 0
    r = _cli("report", "--date", DAY, "--agreement", AGREEMENT, "--db", db, "--out", tmp_path / "r")
    assert r.exit_code == EXIT_OUT_OF_DATE, r.output
    assert "no verification run" in str(r.exception) and "linewatch verify" in str(r.exception)
    assert _cli("verify", "--agreement", AGREEMENT, "--db", db).exit_code == 0
    with open_store(db) as s:
        before = (len(s.verification_runs()), len(s.allegation_runs()), AuditLog(s).size(), s.count_agreements())
    r = _cli("report", "--date", DAY, "--db", db, "--out", tmp_path / "r")
    assert r.exit_code == 0, r.output
    with open_store(db) as s:
        after = (len(s.verification_runs()), len(s.allegation_runs()), AuditLog(s).size(), s.count_agreements())
    assert after == before == (1, 0, before[2], 1)   # the agreement recorded once
    report = json.loads((tmp_path / "r" / f"report-{DAY}.json").read_text(encoding="utf-8"))
    assert report["sources"]["verification_run"]["id"] == 1
    assert report["sources"]["allegation_run"] is None


def test_a_record_added_after_verify_makes_the_run_stale(tmp_path, week, loaded):
    db = tmp_path / "s.sqlite"
    _cli("ingest", week, "--db", db)
    _cli("verify", "--agreement", AGREEMENT, "--db", db)
    late = tmp_path / "late.jsonl"
    rec = dict(generate_day(loaded.agreement, DAY, seed=99)[0], id="late-1")
    late.write_text(json.dumps(rec) + "\n", encoding="utf-8")
    assert _cli("ingest", late, "--db", db).exit_code == 0
    r = _cli("report", "--date", DAY, "--db", db, "--out", tmp_path / "r")
    assert r.exit_code == EXIT_OUT_OF_DATE
    assert "verification run 1" in str(r.exception) and "stale" in str(r.exception)
    r = _cli("report", "--date", DAY, "--db", db, "--out", tmp_path / "r", "--verify-first")
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "r" / f"report-{DAY}.json").read_text(encoding="utf-8"))
    assert report["sources"]["verification_run"]["id"] == 2


def test_allegations_without_verdicts_stop_the_report(tmp_path, week, loaded):
    db = tmp_path / "s.sqlite"
    claims = tmp_path / "claims.jsonl"
    party = loaded.agreement.party_ids
    claims.write_text(json.dumps({
        "id": "claim-1", "alleging_party": party[0], "accused_party": party[1], "kind": "shelling",
        "time": f"{DAY}T02:00:00Z", "lon": 37.8, "lat": 48.5, "received_time": f"{DAY}T09:00:00Z"}) + "\n",
        encoding="utf-8")
    for f in (week, claims):
        assert _cli("ingest", f, "--db", db).exit_code == 0
    _cli("verify", "--agreement", AGREEMENT, "--db", db)
    r = _cli("report", "--date", DAY, "--db", db, "--out", tmp_path / "r")
    assert r.exit_code == EXIT_OUT_OF_DATE and "linewatch allegations verify" in str(r.exception)
    assert _cli("allegations", "verify", "--db", db).exit_code == 0
    r = _cli("report", "--date", DAY, "--db", db, "--out", tmp_path / "r")
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "r" / f"report-{DAY}.json").read_text(encoding="utf-8"))
    assert report["sources"]["allegation_run"]["id"] == 1
    assert [a["allegation_id"] for a in report["allegations"]["items"]] == ["claim-1"]


def test_the_report_from_stored_runs_is_the_report_of_fresh_verification(tmp_path, week, loaded):
    """Reading the stored run gives the figures a verification of each day gives (every record
    approved: the report counts approved records)."""
    from linewatch.services.accounts import add_user
    from linewatch.services.review import move_many
    ag = loaded.agreement
    with open_store(tmp_path / "s.sqlite") as s:
        ingest_file(s, week)
        add_user(s, "ana", "analyst")
        move_many(s, "record", [r.id for r in s.reports()], "approved", actor="ana", strict=True)
        start, end = day_window(DAY - timedelta(days=14))[0], day_window(DAY)[1]
        verify_store(s, loaded, start=start, end=end)
        verify_allegations(s, loaded, start=day_window(DAY)[0], end=end)
        paths = daily_report(s, loaded, DAY, tmp_path / "r")
        stored = json.loads(paths["json"].read_text(encoding="utf-8"))

        def day_data(d):
            reports = s.reports(start=day_window(d)[0], end=day_window(d)[1])
            return reports, verify(ag, reports)

        def review(reports):
            return reporting.reviewed(reports, {r.id: "approved" for r in reports}, include_unreviewed=False).block

        def counted(d):
            return {**reporting.count_day(ag, d, *day_data(d)), "review": reporting.trend_review(
                review(day_data(d)[0]))}
        reports, v = day_data(DAY)
        prev, pv = day_data(DAY - timedelta(days=1))
        history = [counted(DAY - timedelta(days=b)) for b in range(14, 0, -1)]
        fresh = reporting.build_daily_report(
            ag, DAY, reports=reports, verification=v, previous_reports=prev, previous_verification=pv,
            history=history, gazetteer=load_gazetteer(), generated_at=datetime.now(UTC), engine=v.engine,
            allegations=stored_results(s, loaded, DAY).allegations, review=review(reports),
            previous_review=review(prev), corrections=[])
    fresh = json.loads(json.dumps(fresh))
    assert set(stored) == set(fresh) | {"sources"}
    assert stored["review"]["unreviewed"]["count"] == 0 and stored["records"]
    for key in set(fresh) - {"header"}:
        assert fresh[key] == stored[key], key


def test_stored_results_out_of_date_is_an_error_a_caller_can_catch(tmp_path, week, loaded):
    with open_store(tmp_path / "s.sqlite") as s:
        ingest_file(s, week)
        with pytest.raises(OutOfDate, match="linewatch verify"):
            stored_results(s, loaded, DAY)


def test_the_api_builds_from_stored_runs_or_runs_them_first(tmp_path, week, loaded):
    from fastapi.testclient import TestClient

    from linewatch.services.accounts import new_token, token_sha256
    from linewatch.web import ServiceConfig, create_app
    db = tmp_path / "s.sqlite"
    token = new_token()
    with open_store(db) as s:
        loaded.record(s)
        ingest_file(s, week)
        s.add_user("ana", "analyst", token_sha256(token))
    h = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(ServiceConfig(str(db), poll_s=0.05))) as client:
        r = client.post(f"/api/v1/daily-reports/{DAY}", headers=h)
        assert r.status_code == 409 and "linewatch verify" in r.json()["detail"]
        r = client.post(f"/api/v1/daily-reports/{DAY}", params={"verify_first": "true"}, headers=h)
        assert r.status_code == 201, r.text
    with open_store(db) as s:
        assert len(s.verification_runs()) == 1
        assert json.loads(s.daily_report_json(str(DAY)))["sources"]["verification_run"]["id"] == 1
