"""The daily report counts what was approved (issue 16): pending reports only on request and
marked, a day with nothing approved never reads as zero violations, a release needs four eyes,
and a correction approved after a release shows once in the next report's "Corrections".
On both stores."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from linewatch.errors import Conflict
from linewatch.services import ingest_file, load_agreement_file, verify_store
from linewatch.services.accounts import add_user
from linewatch.services.report import daily_report
from linewatch.services.report_corrections import released_corrections
from linewatch.services.review import move_many
from linewatch.services.submissions import build_daily_report, release_daily_report
from linewatch.sim import generate_day
from linewatch.store import open_store

ROOT = Path(__file__).resolve().parents[1]
AGREEMENT = ROOT / "examples" / "agreements" / "line-of-contact.yaml"
D1, D2, D3 = date(2026, 6, 14), date(2026, 6, 15), date(2026, 6, 16)


@pytest.fixture(scope="module")
def loaded():
    return load_agreement_file(AGREEMENT)


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _verify(store, loaded) -> None:
    verify_store(store, loaded, start=datetime(2026, 6, 14, tzinfo=UTC), end=datetime(2026, 6, 16, tzinfo=UTC))


@pytest.fixture
def mission(store_url, tmp_path, loaded):
    """Two days of records (ingested by nobody: anyone may approve them), verified, and two
    analysts; returns the URL and each day's record dicts."""
    days = {d: generate_day(loaded.agreement, d, seed=7, intensity=0.15) for d in (D1, D2)}
    with open_store(store_url) as store:
        loaded.record(store)
        ingest_file(store, _jsonl(tmp_path / "records.jsonl", days[D1] + days[D2]))
        _verify(store, loaded)
        add_user(store, "ana", "analyst")
        add_user(store, "bo", "analyst")
    return store_url, days


def _report(store, loaded, day: date, out: Path, **kw) -> dict:
    paths = daily_report(store, loaded, day, out, **kw)
    return json.loads(paths["json"].read_text(encoding="utf-8"))


def test_the_report_counts_approved_records_and_says_how_many_wait(mission, loaded, tmp_path):
    url, days = mission
    ids = sorted(r["id"] for r in days[D2])
    approved, rejected, pending = ids[: len(ids) // 2], ids[-1], ids[len(ids) // 2:-1]
    with open_store(url) as store:
        move_many(store, "record", approved, "approved", actor="ana", strict=True)
        move_many(store, "record", [rejected], "rejected", actor="ana", note="a duplicate", strict=True)
        rep = _report(store, loaded, D2, tmp_path / "a")
        assert rep["header"]["records"]["count"] == len(approved)
        assert sorted(row["id"] for row in rep["records"]) == approved
        assert not any(row["unreviewed"] for row in rep["records"])
        rv = rep["review"]
        assert (rv["approved"]["count"], rv["unreviewed"]["count"], rv["rejected"]["count"]) == \
            (len(approved), len(pending), 1)
        assert rv["unreviewed"]["records"] == pending and rv["unreviewed_included"] is False
        assert (f"{len(pending)} reports of the day were still under review and are not counted."
                in rep["summary"])
        assert "1 report of the day was rejected on review and is not counted." in rep["summary"]
        # the previous day (nothing approved) counts nothing, and says why in the trend
        assert rep["header"]["records"]["previous"]["count"] == 0
        assert rep["trend"][-2]["review"] == {"approved": 0, "unreviewed": len(days[D1]), "rejected": 0,
                                              "unreviewed_included": False}
        assert rep["trend"][-1]["review"]["approved"] == len(approved)
        assert rep["corrections"] == []

        inc = _report(store, loaded, D2, tmp_path / "b", include_unreviewed=True)
    assert inc["header"]["records"]["count"] == len(approved) + len(pending)
    assert rejected not in {row["id"] for row in inc["records"]}
    assert sorted(row["id"] for row in inc["records"] if row["unreviewed"]) == pending
    assert inc["review"]["unreviewed_included"] is True
    assert (f"{len(pending)} reports of the day were still under review and are counted, marked as "
            "unreviewed." in inc["summary"])
    assert inc["header"]["records"]["previous"]["count"] == len(days[D1])   # the same rule


def test_a_day_with_records_none_approved_does_not_claim_zero_violations(mission, loaded, tmp_path):
    url, days = mission
    with open_store(url) as store:
        rep = _report(store, loaded, D2, tmp_path / "r")
    n = len(days[D2])
    assert rep["summary"][0].startswith(f"Reports were received for this day ({n}), but none is approved yet: "
                                        f"{n} are still under review.")
    assert "not a count of zero violations" in rep["summary"][0]
    assert not any("recorded 0" in s for s in rep["summary"])
    assert rep["ceasefire_violations"]["total"]["total"]["count"] == 0
    html = (tmp_path / "r" / f"report-{D2}.html").read_text(encoding="utf-8")
    assert "none is approved yet" in html and "<h2>Corrections</h2>" not in html


def _put(store, day: date, rows: list[dict]) -> None:
    store.put_daily_report(day.isoformat(), report_json=json.dumps({"records": rows}),
                           files=[("report.json", "application/json", b"{}")], built_by="ana",
                           agreement_sha256=None)


def test_a_release_needs_a_second_pair_of_eyes(mission, loaded):
    url, days = mission
    ids = sorted(r["id"] for r in days[D2])
    with open_store(url) as store:
        move_many(store, "record", ids, "approved", actor="ana", strict=True)
        move_many(store, "record", [r["id"] for r in days[D1]], "approved", actor="bo", strict=True)
        built = build_daily_report(store, loaded, D2, built_by="ana")
        assert built["header"]["records"]["count"] == len(ids)
        with pytest.raises(Conflict, match="four eyes: 'ana' approved every record the report counts"):
            release_daily_report(store, D2, released_by="ana")
        assert not store.daily_reports(released_only=True)
        assert release_daily_report(store, D2, released_by="bo")
        # shared approvals: ana may release what bo approved part of
        _put(store, D1, [{"id": ids[0]}, {"id": days[D1][0]["id"]}])
        assert release_daily_report(store, D1, released_by="ana")
        # a report counting records still under review is never released
        _put(store, D3, [{"id": ids[0], "unreviewed": False}, {"id": "x-1", "unreviewed": True}])
        with pytest.raises(Conflict, match="1 record still under review"):
            release_daily_report(store, D3, released_by="bo")


def test_a_correction_after_a_release_shows_once_in_the_next_reports(mission, loaded, tmp_path):
    url, days = mission
    fire = next(r for r in sorted(days[D1], key=lambda r: r["id"]) if r["kind"] == "explosion")
    old_count = int(fire.get("count") or 1)
    with open_store(url) as store:
        move_many(store, "record", [r["id"] for r in days[D1] + days[D2]], "approved", actor="ana", strict=True)
        build_daily_report(store, loaded, D1, built_by="ana")
        release_daily_report(store, D1, released_by="bo")
        released = json.loads(store.daily_report_json(D1.isoformat()))
        was = released["ceasefire_violations"]["total"]["total"]["count"]
        was_expl = released["ceasefire_violations"]["total"]["by_kind"]["explosion"]["count"]

        fixed = dict(fire, id=fire["id"] + "-v2", supersedes=fire["id"], count=old_count + 2,
                     correction=f"{old_count + 2} explosions, not {old_count}")
        ingest_file(store, _jsonl(tmp_path / "fix.jsonl", [fixed]))
        _verify(store, loaded)
        assert released_corrections(store, loaded, D2) == []      # still under review: nothing yet
        move_many(store, "record", [fixed["id"]], "approved", actor="ana", strict=True)

        rep = build_daily_report(store, loaded, D2, built_by="ana")
        [entry] = rep["corrections"]
        assert entry["report_date"] == D1.isoformat() and entry["report"] == "the daily report of 14 June 2026"
        figures = {f["figure"]: f for f in entry["figures"]}
        assert (figures["ceasefire_violations"]["old"], figures["ceasefire_violations"]["new"]) == (was, was + 2)
        assert figures["ceasefire_violations"]["name"] == "ceasefire violations"
        assert (figures["explosion"]["name"], figures["explosion"]["old"], figures["explosion"]["new"]) == \
            ("explosions", was_expl, was_expl + 2)
        assert figures["explosion"]["records"] == [{"old": fire["id"], "new": fixed["id"]}]
        assert entry["records"] == [{"old": fire["id"], "new": fixed["id"], "change": "corrected",
                                     "reason": fixed["correction"]}]
        assert "This report corrects figures of the daily report of 14 June 2026 (see Corrections)." \
            in rep["summary"]
        _, html = store.daily_report_file(D2.isoformat(), f"report-{D2}.html")
        text = html.decode("utf-8")
        assert "<h2>Corrections</h2>" in text and "The daily report of 14 June 2026" in text
        assert f"{fire['id']} → {fixed['id']}" in text
        release_daily_report(store, D2, released_by="bo")

        # the report after that does not announce it again
        after = _report(store, loaded, D3, tmp_path / "d3")
        assert after["corrections"] == []
        # nor does a rebuild of D2's neighbour from the released D1 onwards see anything new
        assert released_corrections(store, loaded, D3 + timedelta(days=1)) == []
