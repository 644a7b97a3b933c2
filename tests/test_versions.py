"""Record versions (issue 16), on both stores: a correction is a new version naming the one it
replaces; every version is kept and logged; queries see the current one; forks, unknown targets
and the same id with other content are quarantined with their whole reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from linewatch.errors import Conflict, NotFound
from linewatch.services import ingest_file, review
from linewatch.services.audit import AuditLog
from linewatch.services.submissions import submit_records
from linewatch.store import open_store

BASE = {"kind": "explosion", "explosion_type": "impact", "time": "2026-06-15T04:10:00Z",
        "observer_lon": 37.61, "observer_lat": 48.45, "direction": "SW", "distance_min_m": 5000.0,
        "distance_max_m": 7000.0, "source_kind": "observation_post", "source_id": "OP12", "count": 2}


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_a_correction_is_a_new_current_version_and_both_are_kept_and_logged(store_url, tmp_path):
    fix = dict(BASE, id="OP12-1.b", supersedes="OP12-1", correction="distance was 3-5 km, not 5-7",
               distance_min_m=3000.0, distance_max_m=5000.0)
    with open_store(store_url) as store:
        ingest_file(store, _write(tmp_path / "a.jsonl", [dict(BASE, id="OP12-1")]))
        s = ingest_file(store, _write(tmp_path / "b.jsonl", [fix]))
        assert (s.added, s.quarantined) == (1, 0)
        assert [r.id for r in store.reports()] == ["OP12-1.b"]
        assert store.version_chain("OP12-1") == store.version_chain("OP12-1.b") == ["OP12-1", "OP12-1.b"]
        assert store.superseded_by(["OP12-1", "OP12-1.b"]) == {"OP12-1": "OP12-1.b"}
        versions = review.versions(store, "OP12-1.b")
        assert [v["id"] for v in versions] == ["OP12-1", "OP12-1.b"]
        assert [v["current"] for v in versions] == [False, True]
        assert {c["field"] for c in versions[1]["changes"]} == {"distance_min_m", "distance_max_m"}
        assert versions[1]["correction"] == "distance was 3-5 km, not 5-7"
        assert store.record_row("OP12-1").data["distance_min_m"] == 5000.0     # never overwritten
        log = AuditLog(store)
        old, new = log.latest("OP12-1", "record"), log.latest("OP12-1.b", "record")
        assert new.supersedes == old.index
        assert log.verify().ok
        again = ingest_file(store, _write(tmp_path / "c.jsonl", [fix]))     # a re-run changes nothing
        assert (again.added, again.duplicate, again.quarantined) == (0, 1, 0)


def test_forks_unknown_targets_and_conflicts_are_quarantined_whole(store_url, tmp_path):
    rows = [dict(BASE, id="R1"), dict(BASE, id="R1.2", supersedes="R1", count=3),
            dict(BASE, id="R1.3", supersedes="R1", count=4),                 # a fork
            dict(BASE, id="R9.2", supersedes="R9", count=4),                 # nothing to correct
            dict(BASE, id="R1", count=7)]                                    # same id, other content
    with open_store(store_url) as store:
        s = ingest_file(store, _write(tmp_path / "a.jsonl", rows))
        assert (s.added, s.quarantined) == (2, 3)
        reasons = {q.field: [] for q in store.quarantine_rows()}
        for q in store.quarantine_rows():
            reasons[q.field].append(q.reason)
        assert sorted(reasons["supersedes"]) == [
            "record 'R1.3' corrects 'R1', which 'R1.2' already corrects (a fork): correct the current "
            "version 'R1.2' instead", "record 'R9.2' corrects 'R9', which is not stored"]
        assert reasons["id"] == ["record id 'R1' is already stored with different content; a correction "
                                 "needs a new id and 'supersedes' naming the version it replaces"]
        assert [r.id for r in store.reports()] == ["R1.2"]


def test_a_record_cannot_supersede_itself(tmp_path):
    with open_store(tmp_path / "s.sqlite") as store:
        s = ingest_file(store, _write(tmp_path / "a.jsonl", [dict(BASE, id="R1", supersedes="R1")]))
        assert s.quarantined == 1 and "cannot supersede itself" in store.quarantine_rows()[0].reason


def test_review_follows_the_current_version_with_four_eyes(store_url):
    with open_store(store_url) as store:
        submit_records(store, [dict(BASE, id="R1")], submitted_by="mon", source="api")
        assert store.review_of("record", "R1").state == "submitted"
        review.move(store, "record", "R1", "returned", actor="ana", note="Which crossing?")
        review.check_correction(store, "R1", author="mon", monitor=True)
        with pytest.raises(Conflict, match="not yours"):
            review.check_correction(store, "R1", author="other", monitor=True)
        submit_records(store, [dict(BASE, id="R1.2", supersedes="R1", correction="crossing 4")],
                       submitted_by="mon", source="api")
        with pytest.raises(Conflict, match="corrected by 'R1.2'"):
            review.move(store, "record", "R1", "approved", actor="bo")
        with pytest.raises(Conflict, match="four eyes"):
            review.move(store, "record", "R1.2", "approved", actor="mon")
        # an analyst who corrects a version is one of its authors too
        submit_records(store, [dict(BASE, id="R1.3", supersedes="R1.2", correction="count", count=3)],
                       submitted_by="ana", source="api")
        with pytest.raises(Conflict, match="four eyes"):
            review.move(store, "record", "R1.3", "approved", actor="ana")
        event = review.move(store, "record", "R1.3", "approved", actor="bo")
        assert event["authors"] == ["ana", "mon"]
        with pytest.raises(Conflict, match="is approved: ask an analyst"):
            review.check_correction(store, "R1.3", author="mon", monitor=True)
        with pytest.raises(Conflict, match="cannot be moved"):
            review.move(store, "record", "R1.3", "rejected", actor="cy", note="late")
        with pytest.raises(NotFound):
            review.move(store, "record", "nope", "approved", actor="bo")
        assert store.review_counts() == {"approved": 1}
        assert AuditLog(store).verify().ok


def test_a_state_changed_in_place_is_named_by_audit_verify(store_url):
    with open_store(store_url) as store:
        submit_records(store, [dict(BASE, id="R1")], submitted_by="mon", source="api")
        review.move(store, "record", "R1", "rejected", actor="ana", note="a duplicate of R0")
        with store.transaction() as c:
            c.execute("UPDATE review SET state = 'approved' WHERE subject_id = 'R1'")
        r = AuditLog(store).verify()
        assert not r.ok
        assert any("review row 'record R1'" in str(p) and "'rejected'" in str(p) for p in r.problems), r.problems


def test_a_rejected_allegation_is_not_adjudicated(store_url, tmp_path):
    from linewatch.services.verify import stored_allegations
    claims = [{"id": f"claim-{i}", "alleging_party": "ua", "accused_party": "ru", "kind": "shelling",
               "time": "2026-06-15T02:00:00Z", "lon": 37.7, "lat": 48.5,
               "received_time": "2026-06-15T09:00:00Z"} for i in range(2)]
    with open_store(store_url) as store:
        ingest_file(store, _write(tmp_path / "claims.jsonl", claims))
        assert store.review_of("allegation", "claim-0").state == "received"
        review.move(store, "allegation", "claim-1", "rejected", actor="ana", note="the same as claim-0")
        assert [a.id for a in stored_allegations(store)] == ["claim-0"]
        fixed = dict(claims[0], id="claim-0b", supersedes="claim-0", time="2026-06-15T02:30:00Z")
        ingest_file(store, _write(tmp_path / "fix.jsonl", [fixed]))
        with pytest.raises(Conflict, match="allegation 'claim-0' was corrected by 'claim-0b'"):
            review.move(store, "allegation", "claim-0", "approved", actor="ana")
        review.move(store, "allegation", "claim-0b", "approved", actor="ana")
        assert AuditLog(store).verify().ok
