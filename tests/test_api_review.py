"""Review over the API (docs/api.md, "Review"): a report's life from a monitor's submission
through a return with a question, a correction and another analyst's approval; four eyes,
forks, corrections a monitor may not make, bad input, bulk moves and the queue's filters.
Every test runs on both stores."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from linewatch.services.accounts import new_token, token_sha256
from linewatch.store import open_store
from linewatch.web import ServiceConfig, create_app

API = "/api/v1"
USERS = {"ana": "analyst", "bo": "analyst", "adm": "admin", "mon": "monitor", "mon2": "monitor",
         "liaison": "party:ua", "pub": "public"}


@pytest.fixture(scope="module")
def served(module_new_store_url):
    """The service over an empty store with a user of each role (SQLite, then PostgreSQL)."""
    url = module_new_store_url("review")
    tokens = {}
    with open_store(url) as store:
        for name, role in USERS.items():
            tokens[name] = new_token()
            store.add_user(name, role, token_sha256(tokens[name]))
    with TestClient(create_app(ServiceConfig(url, poll_s=0.05))) as client:
        yield client, tokens


def h(tokens, who):
    return {"Authorization": f"Bearer {tokens[who]}"}


def record(rid: str, minute: int = 0, **extra) -> dict:
    return {"id": rid, "kind": "explosion", "time": f"2026-06-15T10:{minute % 60:02d}:00Z", "lon": 37.9,
            "lat": 48.5, "radius_m": 300.0, "source_kind": "observation_post", "source_id": "OP-7", **extra}


def submit(client, tokens, who, body):
    r = client.post(f"{API}/reports", json=body, headers=h(tokens, who))
    assert r.status_code == 200, r.text
    return r.json()


def move(client, tokens, who, rid, to, note=None, kind="record"):
    return client.post(f"{API}/review/{kind}/{rid}", json={"to": to, **({"note": note} if note else {})},
                       headers=h(tokens, who))


def queue(client, tokens, who, query=""):
    r = client.get(f"{API}/review?{query}", headers=h(tokens, who))
    assert r.status_code == 200, r.text
    return r.json()


def ids(page):
    return [i["id"] for i in page["items"]]


# -- the life cycle ----------------------------------------------------------------------------

def test_a_report_returned_corrected_and_approved_by_another_analyst(served):
    client, tokens = served
    assert submit(client, tokens, "mon", record("life-1", description="impact north"))["added"] == 1
    page = queue(client, tokens, "ana", "state=submitted&q=LIFE-1")
    assert ids(page) == ["life-1"]
    item = page["items"][0]
    assert item["author"] == "mon" and item["state"] == "submitted" and item["located"] == [37.9, 48.5]
    assert item["record"]["description"] == "impact north" and item["kind"] == "explosion"

    ev = move(client, tokens, "ana", "life-1", "returned", "Which direction did it come from?")
    assert ev.status_code == 200, ev.text
    assert ev.json()["from"] == "submitted" and ev.json()["to"] == "returned" and ev.json()["by"] == "ana"
    # the monitor sees it among their returned reports, answers in the thread, and corrects it
    assert "life-1" in ids(queue(client, tokens, "mon", "state=returned"))
    c = client.post(f"{API}/review/record/life-1/comments", json={"text": "From the south-west."},
                    headers=h(tokens, "mon"))
    assert c.status_code == 201 and c.json()["by"] == "mon", c.text
    fixed = record("life-1b", description="impact north, fired from the south-west", supersedes="life-1",
                   correction="direction added")
    assert submit(client, tokens, "mon", fixed)["ids"] == ["life-1b"]
    mine = ids(queue(client, tokens, "mon", "q=life-1"))
    assert mine == ["life-1b"]       # only the current version is in the queue

    # the correction is the current version: the old one cannot be reviewed any more
    assert move(client, tokens, "bo", "life-1", "rejected", "superseded").status_code == 409
    ok = move(client, tokens, "bo", "life-1b", "approved")
    assert ok.status_code == 200 and ok.json()["to"] == "approved", ok.text

    v = client.get(f"{API}/reports/life-1/versions", headers=h(tokens, "mon"))
    assert v.status_code == 200, v.text
    body = v.json()
    assert body["record_id"] == "life-1" and body["current"] == "life-1b"
    one, two = body["versions"]
    assert (one["version"], one["id"], one["current"], one["state"]) == (1, "life-1", False, "returned")
    assert (two["version"], two["id"], two["current"], two["state"]) == (2, "life-1b", True, "approved")
    assert one["author"] == two["author"] == "mon" and two["correction"] == "direction added"
    assert {"field": "description", "old": "impact north",
            "new": "impact north, fired from the south-west"} in two["changes"]
    assert [(e["from"], e["to"], e["by"], e.get("note")) for e in one["events"]] == [
        ("submitted", "returned", "ana", "Which direction did it come from?")]
    assert [(e["to"], e["by"]) for e in two["events"]] == [("approved", "bo")]
    assert [(c["by"], c["text"]) for c in one["comments"]] == [("mon", "From the south-west.")]
    assert all(x["stored_at"] for x in (one, two))

    # the evidence chain carries the versions and the review state
    detail = client.get(f"{API}/reports/life-1b", headers=h(tokens, "mon")).json()
    assert [x["id"] for x in detail["versions"]] == ["life-1", "life-1b"]
    assert detail["review"]["state"] == "approved" and detail["review"]["updated_by"] == "bo"
    assert detail["versions"][1]["changes"] == two["changes"]

    # who else may see the versions: staff; not another monitor (404), nor a party or the public
    assert client.get(f"{API}/reports/life-1/versions", headers=h(tokens, "adm")).status_code == 200
    assert client.get(f"{API}/reports/life-1/versions", headers=h(tokens, "mon2")).status_code == 404
    for who in ("liaison", "pub"):
        assert client.get(f"{API}/reports/life-1/versions", headers=h(tokens, who)).status_code == 403
    assert client.get(f"{API}/reports/nosuch/versions", headers=h(tokens, "ana")).status_code == 404


def test_four_eyes_and_moves_not_allowed(served):
    client, tokens = served
    submit(client, tokens, "ana", record("eyes-1", 1))
    r = move(client, tokens, "ana", "eyes-1", "approved")
    assert r.status_code == 409 and "four eyes" in r.json()["detail"]
    assert move(client, tokens, "bo", "eyes-1", "in_review").status_code == 200
    assert move(client, tokens, "bo", "eyes-1", "approved").status_code == 200
    r = move(client, tokens, "ana", "eyes-1", "in_review")      # approved is final
    assert r.status_code == 409 and "cannot be moved" in r.json()["detail"]
    # an analyst who corrected a version is its author too: they cannot approve the correction
    submit(client, tokens, "mon", record("eyes-2", 2))
    submit(client, tokens, "bo", record("eyes-2b", 2, supersedes="eyes-2", correction="count", count=2))
    assert move(client, tokens, "bo", "eyes-2b", "approved").status_code == 409
    assert move(client, tokens, "ana", "eyes-2b", "approved").status_code == 200


def test_unknown_states_missing_notes_and_unknown_ids(served):
    client, tokens = served
    submit(client, tokens, "mon", record("bad-1", 3))
    assert move(client, tokens, "ana", "bad-1", "done").status_code == 422
    assert move(client, tokens, "ana", "bad-1", "detected").status_code == 422
    for to in ("returned", "rejected"):
        r = move(client, tokens, "ana", "bad-1", to)
        assert r.status_code == 422 and "needs a note" in r.text
        assert move(client, tokens, "ana", "bad-1", to, "   ").status_code == 422
    assert move(client, tokens, "ana", "nosuch", "approved").status_code == 404
    assert move(client, tokens, "ana", "nosuch", "approved", kind="allegation").status_code == 404
    assert move(client, tokens, "ana", "bad-1", "approved", kind="incident").status_code == 422
    r = client.post(f"{API}/review/record/bad-1", json={"to": "approved", "extra": 1}, headers=h(tokens, "ana"))
    assert r.status_code == 422
    r = client.post(f"{API}/review/record/bad-1", json={"to": "approved", "note": "x\u0000"},
                    headers=h(tokens, "ana"))
    assert r.status_code == 422
    assert client.get(f"{API}/review?state=nope", headers=h(tokens, "ana")).status_code == 422
    assert client.get(f"{API}/review?q={'x' * 201}", headers=h(tokens, "ana")).status_code == 422
    assert client.get(f"{API}/review?limit=1001", headers=h(tokens, "ana")).status_code == 422
    assert client.get(f"{API}/review?cursor=zz", headers=h(tokens, "ana")).status_code == 422
    # a monitor does not review
    assert move(client, tokens, "mon2", "bad-1", "in_review").status_code == 403


# -- corrections -------------------------------------------------------------------------------

def test_a_fork_and_a_correction_of_nothing_are_rejected_rows(served):
    client, tokens = served
    submit(client, tokens, "mon", record("fork-1", 4))
    submit(client, tokens, "mon", record("fork-1b", 4, supersedes="fork-1", correction="time", count=2))
    res = submit(client, tokens, "mon", [record("fork-1c", 4, supersedes="fork-1", correction="again", count=3)])
    assert res["added"] == 0 and res["ids"] == [None]
    assert "fork" in res["rejected"][0]["reason"] and res["rejected"][0]["field"] == "supersedes"
    one = client.post(f"{API}/reports", json=record("fork-1c", 4, supersedes="fork-1", correction="x", count=3),
                      headers=h(tokens, "mon"))
    assert one.status_code == 422 and "fork" in one.text
    res = submit(client, tokens, "mon", [record("ghost-1b", 5, supersedes="ghost-1", correction="x")])
    assert res["ids"] == [None] and "not stored" in res["rejected"][0]["reason"]


def test_a_monitor_corrects_only_their_own_records_until_approved_or_rejected(served):
    client, tokens = served
    submit(client, tokens, "mon", record("own-1", 6))
    r = client.post(f"{API}/reports", json=record("own-1b", 6, supersedes="own-1", correction="mine?"),
                    headers=h(tokens, "mon2"))
    assert r.status_code == 409 and "not yours" in r.json()["detail"]
    assert move(client, tokens, "ana", "own-1", "approved").status_code == 200
    r = client.post(f"{API}/reports", json=record("own-1b", 6, supersedes="own-1", correction="late", count=4),
                    headers=h(tokens, "mon"))
    assert r.status_code == 409 and "approved" in r.json()["detail"]
    # in a batch, nothing is stored and the object is named
    r = client.post(f"{API}/reports", json=[record("own-2", 7),
                                            record("own-1b", 6, supersedes="own-1", correction="late")],
                    headers=h(tokens, "mon"))
    assert r.status_code == 409 and "object 1" in r.json()["detail"]
    assert client.get(f"{API}/reports/own-2", headers=h(tokens, "mon")).status_code == 404
    submit(client, tokens, "mon", record("own-3", 8))
    assert move(client, tokens, "ana", "own-3", "rejected", "a duplicate of own-1").status_code == 200
    r = client.post(f"{API}/reports", json=record("own-3b", 8, supersedes="own-3", correction="x", count=2),
                    headers=h(tokens, "mon"))
    assert r.status_code == 409 and "rejected" in r.json()["detail"]
    # an analyst corrects an approved record (the correction is reviewed again)
    assert submit(client, tokens, "ana", record("own-1b", 6, supersedes="own-1", correction="after approval",
                                                 count=4))["added"] == 1
    assert queue(client, tokens, "bo", "q=own-1")["items"][0]["state"] == "submitted"


# -- comments ----------------------------------------------------------------------------------

def test_comments_their_bounds_and_who_may_write_them(served):
    client, tokens = served
    submit(client, tokens, "mon", record("talk-1", 9))
    url = f"{API}/review/record/talk-1/comments"
    ok = client.post(url, json={"text": "x" * 10_000}, headers=h(tokens, "ana"))
    assert ok.status_code == 201 and ok.json()["n"] == 1
    assert client.post(url, json={"text": "x" * 10_001}, headers=h(tokens, "ana")).status_code == 422
    assert client.post(url, json={"text": "x" * 1_000_000}, headers=h(tokens, "ana")).status_code == 422
    assert client.post(url, json={"text": "x" * 2_000_000}, headers=h(tokens, "ana")).status_code == 413
    assert client.post(url, json={"text": ""}, headers=h(tokens, "ana")).status_code == 422
    assert client.post(url, json={"text": "hi", "by": "bo"}, headers=h(tokens, "ana")).status_code == 422
    assert client.post(url, json={"text": "me"}, headers=h(tokens, "mon")).status_code == 201
    assert client.post(url, json={"text": "me?"}, headers=h(tokens, "mon2")).status_code == 404
    for who in ("liaison", "pub"):
        assert client.post(url, json={"text": "?"}, headers=h(tokens, who)).status_code == 403
    assert client.post(f"{API}/review/allegation/x/comments", json={"text": "?"},
                       headers=h(tokens, "mon")).status_code == 403
    assert client.post(f"{API}/review/record/nosuch/comments", json={"text": "?"},
                       headers=h(tokens, "ana")).status_code == 404
    thread = client.get(f"{API}/reports/talk-1/versions", headers=h(tokens, "mon")).json()
    assert [c["by"] for c in thread["versions"][0]["comments"]] == ["ana", "mon"]


def test_a_write_with_the_session_cookie_needs_the_csrf_header(served):
    client, tokens = served
    submit(client, tokens, "mon", record("csrf-1", 10))
    c = TestClient(client.app)
    assert c.post(f"{API}/session", json={"token": tokens["ana"]}).status_code == 200
    assert c.post(f"{API}/review/record/csrf-1", json={"to": "in_review"}).status_code == 403
    r = c.post(f"{API}/review/record/csrf-1", json={"to": "in_review"}, headers={"X-Linewatch-CSRF": "1"})
    assert r.status_code == 200
    assert c.get(f"{API}/review?q=csrf-1").json()["items"][0]["state"] == "in_review"


# -- the queue and bulk moves ------------------------------------------------------------------

def test_the_queue_pages_and_a_monitor_sees_only_what_they_authored(served):
    client, tokens = served
    submit(client, tokens, "mon2", [record(f"page-{i}", 20 + i, description="pager") for i in range(7)])
    seen, url = [], f"{API}/review?q=pager&limit=3"
    while url:
        page = client.get(url, headers=h(tokens, "ana")).json()
        seen += ids(page)
        url = page["next"]
    assert seen == [f"page-{i}" for i in range(7)]
    assert ids(queue(client, tokens, "mon", "q=pager")) == []
    assert ids(queue(client, tokens, "mon", "q=pager&author=mon2")) == []    # the author is forced
    assert len(ids(queue(client, tokens, "mon2", "q=pager"))) == 7
    assert len(ids(queue(client, tokens, "ana", "q=pager&author=mon2&kind=explosion"))) == 7
    assert ids(queue(client, tokens, "ana", "q=pager&kind=bursts_and_shots")) == []
    assert ids(queue(client, tokens, "ana", "q=pager&source_kind=patrol")) == []
    assert len(ids(queue(client, tokens, "ana", "q=pager&start=2026-06-15T10:22:00Z&end=2026-06-15T10:24:00Z"))) == 2
    for who in ("liaison", "pub"):
        assert client.get(f"{API}/review", headers=h(tokens, who)).status_code == 403
    assert client.get(f"{API}/review").status_code == 401


def test_a_page_boundary_among_records_of_the_same_time(served):
    """The cursor's key is (time, id): records sharing a time (to the sub-second) page once each."""
    client, tokens = served
    same = [dict(record(f"tie-{i}", description="tied"), time="2026-06-15T11:11:11.123456Z") for i in range(5)]
    submit(client, tokens, "mon", same + [record("tie-9", 12, description="tied")])
    seen, url = [], f"{API}/review?q=tied&limit=2"
    while url:
        page = client.get(url, headers=h(tokens, "ana")).json()
        seen += ids(page)
        url = page["next"]
    assert seen == ["tie-9"] + [f"tie-{i}" for i in range(5)]     # tie-9 is at 10:12


def test_bulk_moves_by_ids_and_by_filter(served):
    client, tokens = served
    submit(client, tokens, "mon", [record(f"bulk-{i}", 30 + i, description="bulky") for i in range(4)])
    r = client.post(f"{API}/review/bulk", json={"kind": "record", "to": "approved",
                                               "ids": ["bulk-0", "bulk-1", "nosuch"]}, headers=h(tokens, "ana"))
    assert r.status_code == 200, r.text
    assert r.json()["moved"] == ["bulk-0", "bulk-1"]
    assert [x["id"] for x in r.json()["refused"]] == ["nosuch"]
    r = client.post(f"{API}/review/bulk", json={"kind": "record", "to": "rejected", "note": "duplicates",
                                               "filter": {"q": "bulky", "state": ["submitted"]}},
                    headers=h(tokens, "bo"))
    assert r.status_code == 200 and sorted(r.json()["moved"]) == ["bulk-2", "bulk-3"], r.text
    states = {i["id"]: i["state"] for i in queue(client, tokens, "ana", "q=bulky")["items"]}
    assert states == {"bulk-0": "approved", "bulk-1": "approved", "bulk-2": "rejected", "bulk-3": "rejected"}
    # an approved one refused with its reason, not the whole move
    r = client.post(f"{API}/review/bulk", json={"kind": "record", "to": "in_review", "filter": {"q": "bulky"}},
                    headers=h(tokens, "bo"))
    assert r.json()["moved"] == [] and len(r.json()["refused"]) == 4
    for bad in ({"kind": "record", "to": "approved"},
                {"kind": "record", "to": "approved", "ids": ["a"], "filter": {}},
                {"kind": "record", "to": "returned", "ids": ["a"]},
                {"kind": "allegation", "to": "approved", "filter": {}},
                {"kind": "record", "to": "approved", "filter": {"nope": 1}},
                {"kind": "record", "to": "approved", "filter": {"min_sensors": "3"}},
                {"kind": "record", "to": "approved", "ids": ["x"] * 10_001}):
        assert client.post(f"{API}/review/bulk", json=bad, headers=h(tokens, "ana")).status_code == 422, bad
    assert client.post(f"{API}/review/bulk", json={"kind": "record", "to": "approved", "ids": []},
                       headers=h(tokens, "mon")).status_code == 403


def test_fused_incidents_by_the_number_of_sensors(served):
    client, tokens = served
    fused = [record(f"fused-{n}", 40 + n, source_kind="sensor_fusion", source_id="fusion",
                    extra={"n_sensors": str(n)}) for n in (2, 3, 5)]
    submit(client, tokens, "adm", fused)
    page = queue(client, tokens, "ana", "source_kind=sensor_fusion&min_sensors=3")
    assert ids(page) == ["fused-3", "fused-5"] and {i["state"] for i in page["items"]} == {"detected"}
    r = client.post(f"{API}/review/bulk", json={"kind": "record", "to": "approved", "filter": {
        "source_kind": ["sensor_fusion"], "state": ["detected"], "min_sensors": 3}}, headers=h(tokens, "ana"))
    assert r.json() == {"moved": ["fused-3", "fused-5"], "refused": []}
    assert ids(queue(client, tokens, "ana", "source_kind=sensor_fusion&state=detected")) == ["fused-2"]
    assert ids(queue(client, tokens, "ana", "source_kind=sensor_fusion&min_sensors=6")) == []


def test_the_daily_report_build_passes_include_unreviewed(served, monkeypatch):
    client, tokens = served
    import linewatch.services.submissions as submissions
    seen = {}

    def build(*args, **kwargs):
        seen.update(kwargs)
        return {"summary": "stub"}
    monkeypatch.setattr(submissions, "build_daily_report", build)
    monkeypatch.setattr(submissions, "refuse_released", lambda *a: None)
    monkeypatch.setattr(type(client.app.state.linewatch), "require_agreement", lambda self: None)
    r = client.post(f"{API}/daily-reports/2026-06-15?include_unreviewed=true", headers=h(tokens, "ana"))
    assert r.status_code == 201 and seen["include_unreviewed"] is True
    client.post(f"{API}/daily-reports/2026-06-15", headers=h(tokens, "ana"))
    assert seen["include_unreviewed"] is False
