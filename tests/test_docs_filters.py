"""Every query filter docs/api.md lists for a route works on that route: given the filter, the
route answers a non-empty part of what it answers without it, strictly smaller, and every item
of it satisfies the filter (and, where the filter is exact, no item that satisfies it is left
out). The pairs (route, filter) come from the docs: a filter documented for a route that the
route ignores fails here, and so does one that has no case in CASES below (each documented
pair is a test of its own). On both stores.

The store is made to show each filter: two days of generated records (every kind, both
parties, both sides, five source kinds), incidents fused on both sides and in the zone,
records and allegations inside the zone ``disengagement-toretsk`` and outside it, findings of
every verdict and several rule kinds, allegation verdicts of two kinds.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient

from api_fixtures import AGREEMENT, DAY, allegation, build_store
from linewatch.services import ingest_file, load_agreement_file, verify_allegations, verify_store
from linewatch.services.review import move_many
from linewatch.store import open_store
from linewatch.web import ServiceConfig, create_app

API = "/api/v1"
DOC = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text(encoding="utf-8")
ROW = re.compile(r"^\| `(?P<method>[A-Z]+) (?P<path>/[^`]*)` \|(?P<rest>.*)$", re.M)
NAME = re.compile(r"`([a-z_]+)`")

#: parameters that shape the answer, not which items it holds
NOT_FILTERS = {"limit", "cursor", "format", "ellipses"}
#: query parameters of a route that select what is computed rather than filter a list, and why
NOT_FILTERS_OF = {
    ("GET", "/coverage", "at"): "the time the detection probability is drawn at",
    ("GET", "/coverage", "kind"): "the kind of event whose detection probability is drawn",
    ("GET", "/events", "until_s"): "how long the stream stays open",
}

ZONE = "disengagement-toretsk"
DAY0 = DAY - timedelta(days=1)
MIDNIGHT = f"{DAY.isoformat()}T00:00:00Z"


# -- what the docs list --------------------------------------------------------------------------

def query_vocabulary() -> set[str]:
    """The parameters the "Queries" section's table describes (its first column)."""
    section = DOC.split("## Queries", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names |= set(NAME.findall(line.split("|")[1]))
    return names


def route_query_parameters() -> dict[tuple[str, str], set[str]]:
    """(method, path under /api/v1) -> the names of its query parameters (OpenAPI)."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(f"sqlite:///{Path(tmp) / 'empty.sqlite'}")
        doc = app.openapi()
    out = {}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            out[(method.upper(), path[len(API):])] = {p["name"] for p in op.get("parameters", [])
                                                      if p["in"] == "query"}
    return out


def documented_filters() -> list[tuple[str, str]]:
    """(path, filter) for every GET route's row under "Endpoints" and every query filter named
    in its parameters: a name of the "Queries" table or a query parameter of the route."""
    vocabulary = query_vocabulary()
    params = route_query_parameters()
    pairs = []
    for m in ROW.finditer(DOC):
        if m["method"] != "GET":
            continue
        path = m["path"]
        named = set(NAME.findall(m["rest"].split("|")[0])) - set(re.findall(r"\{(\w+)\}", path))
        for name in sorted(named & (vocabulary | params.get(("GET", path), set()))):
            if name not in NOT_FILTERS and ("GET", path, name) not in NOT_FILTERS_OF:
                pairs.append((path, name))
    return pairs


DOCUMENTED = documented_filters()


# -- the store made to show every filter ---------------------------------------------------------

def _zone_geometry() -> Any:
    z = load_agreement_file(AGREEMENT).agreement.zones[ZONE]
    geom = shapely.union_all(list(z.polygons_lonlat().values()))
    shapely.prepare(geom)
    return geom


ZONE_GEOM = _zone_geometry()


def _zone_points(n: int) -> list[tuple[float, float]]:
    """``n`` points well inside the zone, near its representative point."""
    p = ZONE_GEOM.representative_point()
    pts = [(round(p.x + dx, 5), round(p.y + dy, 5)) for dx, dy in
           [(0, 0), (0.003, 0.002), (-0.003, 0.001), (0.002, -0.003), (-0.002, -0.002), (0.001, 0.004)]]
    pts = [q for q in pts if ZONE_GEOM.contains(shapely.Point(q).buffer(0.002))]
    assert len(pts) >= n, f"zone {ZONE}: too narrow for the fixture"
    return pts[:n]


def _when(day: date, hh: int, mm: int = 0) -> str:
    return f"{day.isoformat()}T{hh:02d}:{mm:02d}:00Z"


def _incidents(generated: list[dict[str, Any]], zone: list[tuple[float, float]]) -> list[dict[str, Any]]:
    """Fused incidents: at the places and times of some generated records (both days, both
    sides), and three inside the zone; attributed to ua and ru in turn."""
    placed = [r for r in generated if "lon" in r][::25]
    out = [{"id": f"inc-{i}", "kind": ("explosion", "projectile_in_flight")[i % 2], "time": r["time"],
            "lon": r["lon"], "lat": r["lat"], "radius_m": 400.0, "source_kind": "sensor_fusion",
            "source_id": "FUSION-1", "engine": "fusion-test", "party": ("ua", "ru")[i % 2],
            "extra": {"n_sensors": str(5 + i % 10)}}
           for i, r in enumerate(placed)]
    out += [{"id": f"inc-zone-{i}", "kind": "explosion", "explosion_type": "impact", "time": _when(DAY, 5 + i),
             "lon": lon, "lat": lat, "radius_m": 300.0, "source_kind": "sensor_fusion",
             "source_id": "FUSION-1", "engine": "fusion-test", "party": ("ua", "ru")[i % 2]}
            for i, (lon, lat) in enumerate(zone)]
    return out


def _zone_records(zone: list[tuple[float, float]]) -> list[dict[str, Any]]:
    """Impacts reported by patrols inside the zone (the first at 10:05, where claim-zone-1 is)."""
    return [{"id": f"zone-rec-{i}", "kind": "explosion", "explosion_type": "impact", "time": _when(DAY, 10 + i, 5),
             "lon": lon, "lat": lat, "radius_m": 150.0, "source_kind": "patrol", "source_id": "PATROL-Z"}
            for i, (lon, lat) in enumerate(zone)]


def _allegations(zone: list[tuple[float, float]]) -> list[dict[str, Any]]:
    """Claims inside the zone (one that zone-rec-0 corroborates) and outside it, of two kinds,
    by both parties, on both days."""
    (lon0, lat0), (lon1, lat1) = zone[0], zone[1]
    out = [dict(allegation(1, "ua", "ru", 10, lon0, lat0), id="claim-zone-1", radius_m=1000.0),
           dict(allegation(2, "ru", "ua", 16, lon1, lat1), id="claim-zone-2", kind="small_arms_fire"),
           dict(allegation(3, "ru", "ua", 20, 36.2, 47.4), id="claim-day0-3", kind="small_arms_fire",
                start=_when(DAY0, 20), end=_when(DAY0, 20, 30), received_time=_when(DAY0, 23))]
    return out


def build_filter_store(tmp: Path, url: str) -> tuple[str, dict[str, str]]:
    url, tokens = build_store(tmp, url, report=False)
    loaded = load_agreement_file(AGREEMENT)
    zone = _zone_points(3)
    with open_store(url) as store:
        generated = [json.loads(line) for line in (tmp / "records.jsonl").read_text().splitlines()]
        extra = tmp / "extra.jsonl"
        extra.write_text("".join(json.dumps(r) + "\n" for r in _incidents(generated, zone) + _zone_records(zone)))
        claims = tmp / "extra-allegations.jsonl"
        claims.write_text("".join(json.dumps(c) + "\n" for c in _allegations(zone)))
        for f, by in ((extra, "monitor"), (claims, None)):
            s = ingest_file(store, f, submitted_by=by)
            assert s.quarantined == 0, s.reasons
        # the first day's reports approved
        move_many(store, "record", [r["id"] for r in generated if r["time"] < MIDNIGHT], "approved", actor="admin")
        window = {"start": datetime(2026, 6, 14, tzinfo=UTC), "end": datetime(2026, 6, 16, tzinfo=UTC)}
        verify_store(store, loaded, **window)
        verify_allegations(store, loaded, **window)
    return url, tokens


@pytest.fixture(scope="module")
def served(tmp_path_factory, module_new_store_url):
    tmp = tmp_path_factory.mktemp("filters")
    db, tokens = build_filter_store(tmp, module_new_store_url("filters"))
    with TestClient(create_app(ServiceConfig(str(db), poll_s=0.05))) as client:
        yield client, {"Authorization": f"Bearer {tokens['analyst']}"}


# -- the items of a route, as flat dicts with an id ----------------------------------------------

Query = dict[str, str | list[str]]
ALL_FINDINGS: Query = {"verdict": ["violation", "compliant", "indeterminate"]}
#: what each route answers without the filter (every item of the fixture)
BASE: dict[str, Query] = {"/reports": {}, "/incidents": {}, "/violations": ALL_FINDINGS,
                          "/allegations": {}, "/verdicts": {}, "/review": {}}


def fetch(client: TestClient, headers: dict[str, str], path: str, query: Query) -> dict[str, dict[str, Any]]:
    """The items of ``GET path?query`` by id: a feature's properties with its point as ``lon``,
    ``lat`` (an allegation's claimed point); a verdict with its allegation's window."""
    paged = path != "/verdicts"
    limit = "1000" if path == "/review" else "5000"
    r = client.get(API + path, params={**query, "limit": limit} if paged else query, headers=headers)
    assert r.status_code == 200, (path, query, r.text[:300])
    doc = r.json()
    if path == "/review":
        assert doc["next"] is None, "the fixture fits one page"
        return {i["id"]: dict(i, party=i["record"].get("party")) for i in doc["items"]}
    if not paged:
        windows = {a["id"]: a for a in (i["properties"] for i in client.get(
            f"{API}/allegations?limit=5000", headers=headers).json()["features"])}
        return {v["allegation_id"]: dict(v, start=windows[v["allegation_id"]]["start"],
                                         end=windows[v["allegation_id"]]["end"]) for v in doc["items"]}
    assert doc["next"] is None, "the fixture fits one page"
    out = {}
    for f in doc["features"]:
        item = dict(f["properties"])
        if f["geometry"]["type"] == "Point":
            item.setdefault("lon", f["geometry"]["coordinates"][0])
            item.setdefault("lat", f["geometry"]["coordinates"][1])
        out[str(f["id"])] = item
    return out


# -- the cases: one per documented (route, filter) -----------------------------------------------

Pred = Callable[[dict[str, Any]], bool]
BOX = tuple(round(v, 4) for v in (ZONE_GEOM.bounds[0] - 0.3, ZONE_GEOM.bounds[1] - 0.3,
                                  ZONE_GEOM.bounds[2] + 0.3, ZONE_GEOM.bounds[3] + 0.3))
GROW = 0.15   # degrees: a record's 95 % ellipse (a few km) may reach into the box from outside


@dataclass(frozen=True)
class Case:
    """A filter's value, what every item it gives satisfies (``holds``), and what every item it
    must give satisfies (``sure``: None when it is ``holds``)."""

    value: str
    holds: Pred
    sure: Pred | None = None


def _t(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def at_or_after(key: str) -> Pred:
    return lambda i: _t(i[key]) >= _t(MIDNIGHT)


def before(key: str) -> Pred:
    return lambda i: _t(i[key]) < _t(MIDNIGHT)


def equals(key: str, value: str) -> Case:
    return Case(value, lambda i: i.get(key) == value)


def in_box(grow: float) -> Pred:
    return lambda i: (BOX[0] - grow <= i["lon"] <= BOX[2] + grow) and (BOX[1] - grow <= i["lat"] <= BOX[3] + grow)


def in_zone(i: dict[str, Any]) -> bool:
    return bool(shapely.contains_xy(ZONE_GEOM, i["lon"], i["lat"]))


BBOX = ",".join(map(str, BOX))
#: a sector of the agreement that holds some of the fixture's records, not all
SECTOR = load_agreement_file(AGREEMENT).agreement.sectors[0].id
RECORD_CASES = {"start": Case(MIDNIGHT, at_or_after("time")), "end": Case(MIDNIGHT, before("time")),
                "bbox": Case(BBOX, in_box(GROW), in_box(0.0)), "zone": Case(ZONE, in_zone),
                "kind": equals("kind", "explosion"), "party": equals("party", "ua"),
                "side": equals("side", "ru")}
CASES: dict[tuple[str, str], Case] = {
    **{("/reports", f): c for f, c in RECORD_CASES.items()},
    ("/reports", "source_kind"): equals("source_kind", "patrol"),
    **{("/incidents", f): c for f, c in RECORD_CASES.items()},
    **{("/violations", f): c for f, c in RECORD_CASES.items() if f != "kind"},
    ("/violations", "kind"): equals("rule_kind", "weapon_exclusion"),
    ("/violations", "verdict"): equals("verdict", "violation"),
    # an allegation's window meets [start, end); bbox and zone test its claimed point
    ("/allegations", "start"): Case(MIDNIGHT, at_or_after("end")),
    ("/allegations", "end"): Case(MIDNIGHT, before("start")),
    ("/allegations", "bbox"): Case(BBOX, in_box(0.0)),
    ("/allegations", "zone"): Case(ZONE, in_zone),
    ("/allegations", "alleging_party"): equals("alleging_party", "ru"),
    ("/allegations", "accused_party"): equals("accused_party", "ru"),
    ("/allegations", "kind"): equals("kind", "small_arms_fire"),
    ("/allegations", "verdict"): equals("verdict", "corroborated"),
    ("/verdicts", "start"): Case(MIDNIGHT, at_or_after("end")),
    ("/verdicts", "end"): Case(MIDNIGHT, before("start")),
    ("/verdicts", "verdict"): equals("verdict", "corroborated"),
    # the review queue: records by review state, what they are, who wrote them, where
    ("/review", "state"): equals("state", "approved"),
    ("/review", "kind"): equals("kind", "explosion"),
    ("/review", "source_kind"): equals("source_kind", "patrol"),
    ("/review", "sector"): equals("sector", SECTOR),
    ("/review", "start"): Case(MIDNIGHT, at_or_after("time")),
    ("/review", "end"): Case(MIDNIGHT, before("time")),
    ("/review", "q"): Case("fusion-test", lambda i: "fusion-test" in json.dumps(i["record"]).lower()),
    ("/review", "author"): equals("author", "monitor"),
    ("/review", "min_sensors"): Case("10", lambda i: int((i["record"].get("extra") or {}).get("n_sensors", 0)) >= 10),
}


def test_the_docs_list_filters_and_each_has_a_case():
    """The parse finds the list routes' filters, and the table holds a case for exactly those."""
    assert {path for path, _ in DOCUMENTED} >= {"/reports", "/incidents", "/violations", "/allegations"}
    assert ("/violations", "zone") in DOCUMENTED and ("/violations", "side") in DOCUMENTED
    missing = sorted(set(DOCUMENTED) - set(CASES))
    assert not missing, f"docs/api.md lists filters without a case here: {missing}"
    stale = sorted(set(CASES) - set(DOCUMENTED))
    assert not stale, f"cases for filters docs/api.md does not list: {stale}"


@pytest.mark.parametrize(("path", "name"), DOCUMENTED, ids=[f"{p}?{n}" for p, n in DOCUMENTED])
def test_a_documented_filter_narrows_the_answer(served, path, name):
    client, headers = served
    case = CASES.get((path, name))
    assert case is not None, f"GET {path}: docs/api.md lists the filter {name!r}; add a case to CASES"
    base = fetch(client, headers, path, BASE[path])
    got = fetch(client, headers, path, {**BASE[path], name: case.value})
    assert got, f"GET {path}?{name}={case.value}: nothing (the fixture has items that match)"
    assert len(got) < len(base), f"GET {path}?{name}={case.value}: {len(got)} items of {len(base)}: ignored?"
    assert set(got) <= set(base), f"GET {path}?{name}={case.value}: items the unfiltered answer lacks"
    wrong = sorted(k for k, item in got.items() if not case.holds(item))
    assert not wrong, f"GET {path}?{name}={case.value}: items that do not satisfy it: {wrong[:5]}"
    left_out = sorted(k for k, item in base.items() if (case.sure or case.holds)(item) and k not in got)
    assert not left_out, f"GET {path}?{name}={case.value}: items that satisfy it left out: {left_out[:5]}"


def test_violations_pages_with_zone_and_side_cover_the_filtered_answer_once(served):
    """The service's own filters (zone, side) read the store in chunks: the pages still follow
    each other without a repeat or a gap."""
    client, headers = served
    query = {**ALL_FINDINGS, "side": "ru", "format": "json"}
    whole = client.get(f"{API}/violations", params={**query, "limit": "5000"}, headers=headers).json()["items"]
    ids: list[str] = []
    r = client.get(f"{API}/violations", params={**query, "limit": "7"}, headers=headers).json()
    while True:
        ids += [f"{i['subject']}/{i['rule_id']}" for i in r["items"]]
        if r["next"] is None:
            break
        r = client.get(r["next"], headers=headers).json()
    assert len(whole) > 7 and ids == [f"{i['subject']}/{i['rule_id']}" for i in whole]
    assert all(i["side"] == "ru" for i in whole)
    bad = client.get(f"{API}/violations?zone=nowhere", headers=headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "zone"]
