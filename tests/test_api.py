"""The web service in process: queries, ingest, roles, daily reports, audit, the live feed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api_fixtures import DAY, ROLES, allegation, api_routes, build_store
from linewatch.web import ServiceConfig, create_app

API = "/api/v1"


@pytest.fixture(scope="module")
def served(tmp_path_factory, module_new_store_url):
    """The service over one store per kind (SQLite, then PostgreSQL): every test runs on both."""
    tmp = tmp_path_factory.mktemp("api")
    db, tokens = build_store(tmp, module_new_store_url("api"))
    app = create_app(ServiceConfig(str(db), poll_s=0.05))
    with TestClient(app) as client:
        yield client, tokens, db


def auth(tokens, role):
    return {"Authorization": f"Bearer {tokens[role]}"}


def record(i: int, **extra) -> dict:
    return {"id": f"api-rec-{i}", "kind": "explosion", "time": f"{DAY.isoformat()}T10:{i % 60:02d}:00Z",
            "lon": 37.9 + i * 1e-4, "lat": 48.5, "radius_m": 300.0, "source_kind": "observation_post",
            "source_id": "OP-API", **extra}


# -- who may do what ---------------------------------------------------------------------------

STAFF = {"admin", "analyst"}
ALL = set(ROLES)
PARTIES = {"party:ua", "party:ru"}
READERS = STAFF | {"monitor"}
# every route of the API and the roles that may call it ("anyone": no token needed)
ACCESS: dict[tuple[str, str], set[str] | str] = {
    ("GET", "/health"): "anyone",
    ("POST", "/session"): "anyone",
    ("DELETE", "/session"): "anyone",
    ("GET", "/me"): ALL,
    ("GET", "/reports"): READERS,
    ("GET", "/incidents"): READERS,
    ("GET", "/reports/{record_id}"): READERS,
    ("GET", "/time-range"): READERS,
    ("POST", "/reports"): READERS,
    ("GET", "/events"): READERS,
    ("GET", "/violations"): STAFF,
    ("POST", "/verify"): STAFF,
    ("GET", "/allegations"): STAFF | PARTIES,
    ("GET", "/allegations/{allegation_id}"): STAFF | PARTIES,
    ("GET", "/verdicts"): STAFF | PARTIES,
    ("POST", "/allegations"): STAFF | PARTIES,
    ("POST", "/allegations/verify"): STAFF,
    ("GET", "/agreement"): ALL,
    ("GET", "/agreement/geojson"): ALL,
    ("GET", "/basemap"): ALL,
    ("GET", "/coverage"): STAFF,
    ("GET", "/daily-reports"): STAFF | PARTIES | {"public"},
    ("GET", "/daily-reports/{day}.{fmt}"): STAFF | PARTIES | {"public"},
    ("GET", "/daily-reports/{day}/{name}"): STAFF | PARTIES | {"public"},
    ("POST", "/daily-reports/{day}"): STAFF,
    ("POST", "/daily-reports/{day}/release"): STAFF,
    ("GET", "/review"): READERS,                        # a monitor: what they authored
    ("GET", "/reports/{record_id}/versions"): READERS,  # a monitor: a record they wrote a version of
    ("POST", "/review/{kind}/{subject_id}"): STAFF,
    ("POST", "/review/bulk"): STAFF,
    ("POST", "/review/{kind}/{subject_id}/comments"): READERS,   # a monitor: on their own records
    ("GET", "/audit/head"): STAFF | PARTIES,
    ("GET", "/audit/verify"): STAFF | PARTIES,
    ("GET", "/audit/proof/{subject_id}"): STAFF,
    ("GET", "/users"): {"admin"},
    ("POST", "/users"): {"admin"},
    ("DELETE", "/users/{name}"): {"admin"},
}


def _call(client, method, path, role, tokens, *, some_record, some_claim):
    """One call of a route, with arguments that are valid for a caller allowed to make it."""
    day = DAY.isoformat()
    url = API + path.format(record_id=some_record, allegation_id=some_claim, day=day, fmt="json", kind="record",
                            name=f"report-{day}.json", subject_id=some_record,
                            name_=None) if "{" in path else API + path
    if path == "/users/{name}":
        url = f"{API}/users/victim-{role.replace(':', '-')}"
    headers = auth(tokens, role) if role != "anonymous" else {}
    kwargs: dict = {"headers": headers}
    if (method, path) == ("POST", "/reports"):
        kwargs["json"] = record(900 + ROLES.index(role) if role in ROLES else 999)
    elif (method, path) == ("POST", "/allegations"):
        party = role.split(":")[1] if role.startswith("party:") else "ua"
        kwargs["json"] = allegation(50 + len(role), party, "ru" if party == "ua" else "ua", 4, 37.8, 48.4)
    elif (method, path) == ("POST", "/users"):
        kwargs["json"] = {"name": f"made-by-{role.replace(':', '-')}", "role": "public"}
    elif (method, path) == ("POST", "/review/{kind}/{subject_id}"):
        kwargs["json"] = {"to": "rejected"}     # allowed callers get 422 (no reason): nothing moves
    elif (method, path) == ("POST", "/review/bulk"):
        kwargs["json"] = {"kind": "record", "to": "in_review", "ids": []}
    elif (method, path) == ("POST", "/review/{kind}/{subject_id}/comments"):
        kwargs["json"] = {"text": f"from the walk, as {role}"}
    elif (method, path) == ("POST", "/session"):
        kwargs = {"json": {"token": tokens["public"]}}
    elif (method, path) == ("DELETE", "/session"):   # ends the session POST /session began
        kwargs = {"headers": {"X-Linewatch-CSRF": "1"}}
    elif (method, path) == ("POST", "/daily-reports/{day}"):
        url = f"{API}/daily-reports/2026-13-01"  # allowed callers get 422: no build in the walk
    elif (method, path) == ("GET", "/coverage"):
        url += f"?at={day}T02:00:00Z"
    elif (method, path) == ("GET", "/events"):
        url += "?until_s=0.2"
    elif method == "POST" and path in ("/verify", "/allegations/verify"):
        url += f"?start={day}T00:00:00Z&end={day}T06:00:00Z"
    return client.request(method, url, **kwargs)


def test_every_route_is_in_the_access_table(served):
    client, _, _ = served
    routes = {(m, path[len(API):]) for m, path in api_routes(client.app) if path.startswith(API)}
    assert routes == set(ACCESS), "classify new routes in ACCESS"


@pytest.mark.parametrize("role", ROLES + ("anonymous",))
def test_every_endpoint_with_every_role(served, role):
    client, tokens, _ = served
    first = client.get(f"{API}/reports?limit=1&format=json", headers=auth(tokens, "analyst"))
    some_record = first.json()["items"][0]["id"]
    for (method, path), allowed in ACCESS.items():
        r = _call(client, method, path, role, tokens, some_record=some_record, some_claim="claim-ua-1")
        where = f"{method} {path} as {role}: {r.status_code} {r.text[:200]}"
        if allowed == "anyone":
            assert r.status_code < 400, where
        elif role == "anonymous":
            assert r.status_code == 401, where
        elif role in allowed:
            assert r.status_code not in (401, 403) and r.status_code < 500, where
        else:
            assert r.status_code == 403, where


# -- queries -------------------------------------------------------------------------------------

def test_pages_follow_next_and_cover_the_window_once(served):
    client, tokens, _ = served
    h = auth(tokens, "analyst")
    window = f"start={DAY.isoformat()}T00:00:00Z&end={DAY.isoformat()}T12:00:00Z"
    whole = client.get(f"{API}/reports?{window}&limit=5000&format=json", headers=h).json()
    ids, url = [], f"{API}/reports?{window}&limit=37&format=json"
    while url:
        page = client.get(url, headers=h).json()
        assert page["count"] == len(page["items"]) <= 37
        ids += [i["id"] for i in page["items"]]
        url = page["next"]
    assert ids == [i["id"] for i in whole["items"]] and len(ids) == len(set(ids)) > 37
    times = [i["time"] for i in whole["items"]]
    assert all(f"{DAY.isoformat()}T00:00:00" <= t < f"{DAY.isoformat()}T12:00:00Z" for t in times)


def test_filters_bbox_kind_side_party_zone(served):
    client, tokens, _ = served
    h = auth(tokens, "analyst")
    everything = client.get(f"{API}/reports?limit=5000", headers=h).json()["features"]
    box = (37.5, 48.0, 38.5, 49.0)
    got = client.get(f"{API}/reports?limit=5000&bbox={','.join(map(str, box))}", headers=h).json()["features"]
    inside = [f for f in everything if box[0] <= f["geometry"]["coordinates"][0] <= box[2]
              and box[1] <= f["geometry"]["coordinates"][1] <= box[3]]
    got_ids = {f["id"] for f in got}
    assert {f["id"] for f in inside} <= got_ids      # the ellipse's box may reach in from outside
    for kind in {f["properties"]["kind"] for f in everything}:
        part = client.get(f"{API}/reports?limit=5000&kind={kind}", headers=h).json()["features"]
        assert {f["id"] for f in part} == {f["id"] for f in everything if f["properties"]["kind"] == kind}
    for side in ("ua", "ru"):
        part = client.get(f"{API}/reports?limit=5000&side={side}", headers=h).json()["features"]
        assert part and all(f["properties"]["side"] == side for f in part)
        assert {f["id"] for f in part} == {f["id"] for f in everything if f["properties"]["side"] == side}
    zone = client.get(f"{API}/reports?limit=5000&zone=security-zone-artillery", headers=h).json()["features"]
    assert 0 < len(zone) < len(everything)
    bad = client.get(f"{API}/reports?zone=nowhere", headers=h)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "zone"]
    assert client.get(f"{API}/reports?bbox=1,2,3", headers=h).status_code == 422
    naive = client.get(f"{API}/reports?start=2026-06-15T00:00:00", headers=h)
    assert naive.status_code == 422 and naive.json()["detail"][0]["loc"] == ["query", "start"]
    assert client.get(f"{API}/reports?cursor=garbage", headers=h).status_code == 422


def test_incidents_violations_and_detail(served):
    client, tokens, _ = served
    h = auth(tokens, "analyst")
    viol = client.get(f"{API}/violations?limit=5000", headers=h).json()
    assert viol["count"] > 0 and all(f["properties"]["verdict"] == "violation" for f in viol["features"])
    one = viol["features"][0]["properties"]
    detail = client.get(f"{API}/reports/{one['subject']}", headers=h).json()
    assert detail["record"]["id"] == one["subject"]
    assert any(f["rule_id"] == one["rule_id"] and f["verdict"] == "violation" for f in detail["findings"])
    assert detail["audit"]["index"] >= 0 and detail["placement"]["side"] in ("ua", "ru", None)
    ellipse = detail["feature"]["properties"]["ellipse"]
    assert ellipse is None or ellipse["type"] == "Polygon"
    assert client.get(f"{API}/reports/no-such-record", headers=h).status_code == 404
    inc = client.get(f"{API}/incidents", headers=h).json()
    assert all(f["properties"]["source_kind"] == "sensor_fusion" for f in inc["features"])
    # the evidence chain names where the fire came from, when the record knows it
    with_origin = [f for f in client.get(f"{API}/reports?limit=5000", headers=h).json()["features"]
                   if "origin" in f["properties"]]
    assert with_origin
    d = client.get(f"{API}/reports/{with_origin[0]['id']}", headers=h).json()
    assert [d["origin"]["lon"], d["origin"]["lat"]] == with_origin[0]["properties"]["origin"]


def _verdict_enum(doc: dict, path: str) -> set[str]:
    """The values the OpenAPI document offers for the ``verdict`` filter of ``GET path``."""
    param = next(p for p in doc["paths"][API + path]["get"]["parameters"] if p["name"] == "verdict")
    items = next(s["items"] for s in param["schema"]["anyOf"] if s.get("type") == "array")
    if "$ref" in items:
        items = doc["components"]["schemas"][items["$ref"].rsplit("/", 1)[1]]
    return set(items["enum"])


def test_violations_verdict_filter_takes_exactly_the_verdicts_findings_have(served):
    """The filter is linewatch.model.Verdict: ``indeterminate`` (which findings have) is taken
    and gives exactly the indeterminate findings; ``possible_violation`` and ``unverifiable``
    (which no finding has) are refused."""
    from linewatch.model import Verdict
    client, tokens, _ = served
    h = auth(tokens, "analyst")
    every = client.get(f"{API}/violations?limit=5000&format=json"
                       + "".join(f"&verdict={v.value}" for v in Verdict), headers=h)
    assert every.status_code == 200, every.text[:300]
    assert {i["verdict"] for i in every.json()["items"]} <= {v.value for v in Verdict}
    r = client.get(f"{API}/violations?limit=5000&format=json&verdict=indeterminate", headers=h)
    assert r.status_code == 200, r.text[:300]
    got = [(i["subject"], i["rule_id"]) for i in r.json()["items"]]
    assert got and all(i["verdict"] == "indeterminate" for i in r.json()["items"])
    assert got == [(i["subject"], i["rule_id"]) for i in every.json()["items"] if i["verdict"] == "indeterminate"]
    geo = client.get(f"{API}/violations?limit=5000&verdict=indeterminate", headers=h).json()
    assert [f["id"] for f in geo["features"]] == [f"{s}/{rule}" for s, rule in got]
    for wrong in ("possible_violation", "unverifiable"):
        bad = client.get(f"{API}/violations?verdict={wrong}", headers=h)
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "verdict", 0], wrong
    assert _verdict_enum(client.get("/openapi.json").json(), "/violations") == {v.value for v in Verdict}


def test_allegations_verdict_filter_takes_exactly_the_allegation_verdicts(served):
    from linewatch.verification import AllegationVerdict
    client, tokens, _ = served
    h = auth(tokens, "analyst")
    for v in AllegationVerdict:
        r = client.get(f"{API}/allegations?format=json&verdict={v.value}", headers=h)
        assert r.status_code == 200 and all(a["verdict"] == v.value for a in r.json()["items"]), v
    for wrong in ("indeterminate", "violation", "possible_violation"):
        assert client.get(f"{API}/allegations?verdict={wrong}", headers=h).status_code == 422, wrong
    assert (_verdict_enum(client.get("/openapi.json").json(), "/allegations")
            == {v.value for v in AllegationVerdict})


def test_agreement_basemap_and_coverage(served):
    client, tokens, _ = served
    h = auth(tokens, "public")
    ag = client.get(f"{API}/agreement", headers=h).json()
    assert ag["id"] == "line-of-contact" and len(ag["sha256"]) == 64
    layers = {f["properties"]["layer"] for f in client.get(f"{API}/agreement/geojson", headers=h).json()["features"]}
    assert {"line", "zone", "site"} <= layers
    names = {f["properties"]["name"] for f in client.get(f"{API}/basemap", headers=h).json()["features"]}
    assert "Ukraine" in names
    # no network stored: coverage says so
    r = client.get(f"{API}/coverage?at=2026-06-15T02:00:00Z", headers=auth(tokens, "analyst"))
    assert r.status_code == 404 and "network" in r.json()["detail"]


# -- ingest ----------------------------------------------------------------------------------------

def test_ingest_is_idempotent_and_quarantines_like_the_cli(served):
    client, tokens, db = served
    h = auth(tokens, "monitor")
    batch = [record(i) for i in range(5)]
    first = client.post(f"{API}/reports", json=batch, headers=h).json()
    assert first["added"] == 5 and first["ids"] == [r["id"] for r in batch]
    again = client.post(f"{API}/reports", json=batch, headers=h).json()
    assert again["added"] == 0 and again["duplicate"] == 5
    bad = client.post(f"{API}/reports", json={**record(7), "lat": 123.0}, headers=h)
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "lat"] and bad.json()["quarantined"] == 1
    mixed = client.post(f"{API}/reports", json=[record(8), {"kind": "nonsense"}, "x",
                                                 {**record(1), "time": "2026-06-15T11:00:00Z"}], headers=h).json()
    assert mixed["added"] == 1 and mixed["quarantined"] == 3
    assert [(r["index"], r["field"]) for r in mixed["rejected"]] == [(1, "kind"), (2, None), (3, "id")]
    from linewatch.store import open_store
    with open_store(db) as store:
        rows = [q for q in store.quarantine_rows() if q.file == "api:monitor"]
    assert {(q.line, q.field) for q in rows} >= {(1, "lat"), (2, "kind"), (3, None), (4, "id")}
    # a monitor reads what it submitted, and nothing else
    mine = client.get(f"{API}/reports?limit=5000&format=json", headers=h).json()["items"]
    assert {i["id"] for i in mine} >= {r["id"] for r in batch}
    assert all(i["id"].startswith("api-rec-") for i in mine)
    other = client.get(f"{API}/reports?limit=1&format=json", headers=auth(tokens, "analyst")).json()["items"][0]["id"]
    assert client.get(f"{API}/reports/{other}", headers=h).status_code == 404


def test_party_submits_allegations_in_its_own_name_only(served):
    client, tokens, _ = served
    h = auth(tokens, "party:ru")
    own = allegation(70, "ru", "ua", 6, 37.7, 48.3)
    assert client.post(f"{API}/allegations", json=own, headers=h).json()["added"] == 1
    forged = allegation(71, "ua", "ru", 6, 37.7, 48.3)
    r = client.post(f"{API}/allegations", json=forged, headers=h)
    assert r.status_code == 403 and "'ru'" in r.json()["detail"]
    no_party = {k: v for k, v in allegation(72, "ru", "ua", 6, 37.7, 48.3).items() if k != "alleging_party"}
    assert client.post(f"{API}/allegations", json=no_party, headers=h).json()["added"] == 1
    bad = client.post(f"{API}/allegations", json={**own, "id": "claim-ru-73", "end": "2026-06-15T00:00:00Z"},
                      headers=h)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "end"]


def test_what_a_party_and_the_public_see(served, tmp_path):
    client, tokens, db = served
    from linewatch.store import open_store
    with open_store(db) as store:  # a second day, built but not released
        store.put_daily_report("2026-06-14", report_json="{}", files=[("report-2026-06-14.json",
                               "application/json", b"{}")], built_by="analyst", agreement_sha256=None)
    staff = [r["day"] for r in client.get(f"{API}/daily-reports", headers=auth(tokens, "analyst")).json()]
    assert staff == ["2026-06-14", DAY.isoformat()]
    for role in ("party:ua", "public"):
        h = auth(tokens, role)
        days = client.get(f"{API}/daily-reports", headers=h).json()
        assert [d["day"] for d in days] == [DAY.isoformat()] and days[0]["released"]
        assert client.get(f"{API}/daily-reports/2026-06-14.json", headers=h).status_code == 404
        r = client.get(f"{API}/daily-reports/{DAY.isoformat()}.json", headers=h)
        assert r.status_code == 200 and r.json()["header"]["date"] == DAY.isoformat()
    # (idempotent: also made by test_party_submits_allegations_in_its_own_name_only)
    client.post(f"{API}/allegations", json=allegation(70, "ru", "ua", 6, 37.7, 48.3),
                headers=auth(tokens, "party:ru"))
    # both parties see every allegation the released report holds, with the verdicts as released;
    # a party sees its own always (claim-ru-70 came after the release)
    ua = client.get(f"{API}/allegations?format=json", headers=auth(tokens, "party:ua")).json()["items"]
    ids = {a["id"] for a in ua}
    assert {"claim-ua-1", "claim-ru-2", "claim-ua-3"} <= ids and "claim-ru-70" not in ids
    assert all(a["verdict"] for a in ua if a["id"] in ("claim-ua-1", "claim-ru-2"))
    ru = {a["id"] for a in client.get(f"{API}/allegations?format=json",
                                      headers=auth(tokens, "party:ru")).json()["items"]}
    assert "claim-ru-70" in ru
    assert client.get(f"{API}/allegations/claim-ru-70", headers=auth(tokens, "party:ua")).status_code == 404
    staff = auth(tokens, "analyst")
    near = client.get(f"{API}/allegations?format=json&bbox=37.85,48.45,37.95,48.55", headers=staff).json()
    assert [a["id"] for a in near["items"]] == ["claim-ua-1"]
    by = client.get(f"{API}/allegations?format=json&alleging_party=ru&accused_party=ua", headers=staff).json()
    assert by["items"] and all(a["alleging_party"] == "ru" for a in by["items"])
    judged = client.get(f"{API}/allegations?format=json&verdict=unverifiable&verdict=not_corroborated"
                        "&verdict=corroborated&verdict=contradicted", headers=staff).json()["items"]
    assert {a["id"] for a in judged} >= {"claim-ua-1", "claim-ru-2", "claim-ua-3"}


def test_released_report_is_final_and_logged(served):
    client, tokens, _ = served
    h = auth(tokens, "analyst")
    r = client.post(f"{API}/daily-reports/{DAY.isoformat()}", headers=h)
    assert r.status_code == 409 and "released" in r.json()["detail"]
    again = client.post(f"{API}/daily-reports/{DAY.isoformat()}/release", headers=h)
    assert again.status_code == 200
    html = client.get(f"{API}/daily-reports/{DAY.isoformat()}.html", headers=h)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "<html" in html.text.lower()
    pdf = client.get(f"{API}/daily-reports/{DAY.isoformat()}.pdf", headers=h)
    assert pdf.content.startswith(b"%PDF")
    proof = client.get(f"{API}/audit/proof/daily-report:{DAY.isoformat()}", headers=h).json()
    assert proof["entry"]["type"] == "release" and proof["leaf_index"] >= 0
    assert client.get(f"{API}/audit/verify", headers=auth(tokens, "party:ua")).json()["ok"]


# -- sessions --------------------------------------------------------------------------------------

def test_dashboard_session_cookie_and_csrf(tmp_path, served):
    client, tokens, _ = served
    c = TestClient(client.app)
    assert c.get(f"{API}/me").status_code == 401
    assert c.post(f"{API}/session", json={"token": "lw_wrong"}).status_code == 401
    me = c.post(f"{API}/session", json={"token": tokens["monitor"]})
    assert me.json()["role"] == "monitor" and "httponly" in me.headers["set-cookie"].lower()
    assert c.get(f"{API}/me").json()["name"] == "monitor"
    # a write with the cookie alone (what a cross-site form could send) is refused
    assert c.post(f"{API}/reports", json=record(40)).status_code == 403
    ok = c.post(f"{API}/reports", json=record(40), headers={"X-Linewatch-CSRF": "1"})
    assert ok.status_code == 200
    c.delete(f"{API}/session", headers={"X-Linewatch-CSRF": "1"})
    assert c.get(f"{API}/me").status_code == 401
    assert c.get("/").status_code == 200 and "text/html" in c.get("/").headers["content-type"]


def test_users_tokens_are_stored_hashed_and_revocable(served):
    client, tokens, db = served
    h = auth(tokens, "admin")
    made = client.post(f"{API}/users", json={"name": "liaison-2", "role": "party:ua"}, headers=h).json()
    token = made["token"]
    assert client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"}).json()["party"] == "ua"
    from linewatch.store import open_store
    with open_store(db) as store:  # what the users table holds: the hash, not the token
        users = [tuple(r) for r in store.conn.execute("SELECT * FROM users").fetchall()]
    assert "liaison-2" in repr(users) and token not in repr(users)
    if db.startswith("sqlite:///"):  # nor anywhere else in the file
        assert token not in Path(db[len("sqlite:///"):]).read_bytes().decode("latin-1")
    assert client.post(f"{API}/users", json={"name": "liaison-2", "role": "public"}, headers=h).status_code == 409
    assert client.post(f"{API}/users", json={"name": "x", "role": "king"}, headers=h).status_code == 422
    assert client.delete(f"{API}/users/liaison-2", headers=h).status_code == 204
    assert client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_nul_characters_are_refused_alike_on_both_stores(served):
    """PostgreSQL's text cannot hold a NUL: the service refuses one (422) before the store sees
    it, on SQLite as well, rather than answer 500 on one store and store it on the other."""
    client, tokens, _ = served
    h = auth(tokens, "admin")
    assert client.get(f"{API}/reports?kind=%00", headers=h).status_code == 422
    assert client.get(f"{API}/reports/a%00b", headers=h).status_code == 422
    assert client.post(f"{API}/users", json={"name": "nul\u0000", "role": "public"}, headers=h).status_code == 422
    assert client.post(f"{API}/users", json={"name": "nul", "role": "party:\u0000"}, headers=h).status_code == 422
    r = client.post(f"{API}/reports", json=record(500, source_id="OP\u0000"), headers=auth(tokens, "monitor"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "source_id"]
    claim = {**allegation(80, "ua", "ru", 6, 37.7, 48.3), "accused_party": "r\u0000u"}
    assert client.post(f"{API}/allegations", json=claim, headers=h).status_code == 422


# -- the live feed ---------------------------------------------------------------------------------

def test_events_stream_new_reports_once(served):
    client, tokens, _ = served
    import threading
    h = auth(tokens, "analyst")

    def later():
        import time
        time.sleep(0.3)
        client.post(f"{API}/reports", json=[record(300), record(301)], headers=auth(tokens, "monitor"))
    t = threading.Thread(target=later)
    t.start()
    with client.stream("GET", f"{API}/events?until_s=2", headers=h) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    t.join()
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    assert [e["id"] for e in events] == ["api-rec-300", "api-rec-301"]
    assert events[0]["properties"]["ellipse"]["type"] == "Polygon"
    # a monitor's feed holds only what it submitted
    with client.stream("GET", f"{API}/events?until_s=0.5", headers={**auth(tokens, "monitor"),
                                                                     "Last-Event-ID": "0"}) as r:
        mine = [json.loads(line[6:])["id"] for line in "".join(r.iter_text()).splitlines()
                if line.startswith("data: ")]
    assert mine and all(i.startswith("api-rec-") for i in mine)


def test_openapi_document_is_served_and_complete(served):
    client, _, _ = served
    doc = client.get("/openapi.json").json()
    paths = {p[len(API):] for p in doc["paths"]}
    assert {p for _, p in ACCESS} <= paths
    assert client.get("/docs").status_code == 200
