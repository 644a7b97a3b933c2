"""The daily report as data: hand-checked figures, the golden file, impartiality, determinism."""

from __future__ import annotations

import ast
import json
import os
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from linewatch import reporting
from linewatch.agreement import parse_agreement
from linewatch.geo import Gazetteer
from linewatch.model import ExplosionType, Kind, Location, Provenance, Report, SourceKind
from linewatch.verification import verify

LON0 = 36.0  # the line runs due north along this meridian; party a holds the west (left) side
DAY = date(2025, 6, 2)
GOLDEN = Path(__file__).parent / "golden" / "daily_report.json"
GENERATED = datetime(2025, 6, 3, 6, 0, tzinfo=UTC)
SWAP = {"a": "b", "b": "a", None: None}


def agreement_yaml(*, mirrored: bool = False) -> str:
    """Two sectors, a 50 km security zone, a disengagement area on the line, a power plant and
    a window of silence; ``mirrored`` swaps the sides the two parties hold."""
    sa, sb = ("right", "left") if mirrored else ("left", "right")
    poly = [[35.98, 48.30], [36.04, 48.30], [36.04, 48.36], [35.98, 48.36], [35.98, 48.30]]
    return f"""
id: report-test
title: Report test agreement
version: "2"
notional: true
parties:
  - {{id: a, name: Party A, side: {sa}}}
  - {{id: b, name: Party B, side: {sb}}}
line:
  geometry: {{type: LineString, coordinates: [[{LON0}, 47.0], [{LON0}, 49.0]]}}
sectors:
  - {{id: south, name: South, from_km: 0, to_km: 111}}
  - {{id: north, name: North, from_km: 111, to_km: 300}}
zones:
  - {{kind: buffer, id: sz, name: Security zone, width_km: 50}}
  - {{kind: polygon, id: da, name: Disengagement area Alpha, category: disengagement_area,
     geometry: {{type: Polygon, coordinates: [{poly}]}}}}
  - {{kind: site, id: plant, name: Power plant, category: energy, point: [35.7, 48.3], radius_km: 2}}
weapon_classes:
  - {{id: art, name: Artillery, examples: [D-30], banned_from: [sz]}}
rules:
  - {{id: fire, kind: no_fire, text: All fire shall cease.}}
  - {{id: withdraw, kind: weapon_exclusion, text: Artillery shall be withdrawn from the security zone.,
     weapon_classes: [art]}}
  - {{id: energy, kind: strike_on_protected, text: No strikes on energy infrastructure., categories: [energy]}}
  - {{id: silence, kind: window_of_silence, text: Window of silence for repairs in the area., area: da,
     purpose: repair of the water main, valid: {{start: "2025-06-02T00:00:00Z", end: "2025-06-02T12:00:00Z"}}}}
  - {{id: silence-old, kind: window_of_silence, text: An earlier window., area: da,
     valid: {{start: "2025-05-01T00:00:00Z", end: "2025-05-02T00:00:00Z"}}}}
"""


def _rep(rid: str, kind: Kind, hhmm: str, lon: float, lat: float, source: str, *, day: date = DAY,
         radius: float = 100.0, **kw) -> Report:
    h, m = map(int, hhmm.split(":"))
    kind_of = {"OP": SourceKind.OBSERVATION_POST, "CAM": SourceKind.FIXED_CAMERA,
               "PATROL": SourceKind.PATROL, "UAV": SourceKind.UAV}
    return Report(id=rid, kind=kind, time=datetime(day.year, day.month, day.day, h, m, tzinfo=UTC),
                  location=Location.point(lon, lat, radius),
                  provenance=Provenance(kind_of[source.split("-")[0]], source), **kw)


E, IMP, AIR, OUT = Kind.EXPLOSION, ExplosionType.IMPACT, ExplosionType.AIRBURST, ExplosionType.OUTGOING


def day_records() -> list[Report]:
    return [
        _rep("e1", E, "02:10", 35.95, 47.5, "OP-1", explosion_type=IMP, count=3),
        _rep("e2", E, "02:40", 36.05, 47.6, "OP-1", explosion_type=AIR, count=2),
        _rep("e3", E, "03:05", 36.10, 48.5, "CAM-1", explosion_type=OUT),
        _rep("e4", E, "21:30", 35.90, 48.6, "OP-1", count=4),  # no type: undetermined
        _rep("e5", Kind.BURSTS_AND_SHOTS, "03:00", 36.01, 48.33, "CAM-1", count=10),  # inside the area
        _rep("e6", Kind.MUZZLE_FLASH, "22:15", 35.99, 48.40, "OP-1"),  # 4.4 km north of the area
        _rep("e7", Kind.PROJECTILE_IN_FLIGHT, "10:00", 36.20, 47.3, "PATROL-1", count=2,
             live_fire_exercise=True),  # 15 km east: inside the security zone
        _rep("e8", Kind.ILLUMINATION_FLARE, "11:20", 35.50, 47.8, "PATROL-1",
             live_fire_exercise=True),  # 37 km west: outside it
        _rep("e9", E, "04:00", 35.70, 48.3, "OP-1", explosion_type=IMP, party="b"),  # on the plant
        _rep("w1", Kind.WEAPON_SIGHTING, "09:00", 35.90, 47.5, "PATROL-1", weapon_class="D-30",
             count=2, party="a"),
        _rep("w2", Kind.WEAPON_SIGHTING, "13:00", 36.60, 48.0, "UAV-1", weapon_class="D-30",
             count=3, party="b", in_storage=False),
        _rep("w3", Kind.WEAPON_SIGHTING, "13:30", 36.70, 48.1, "UAV-1", weapon_class="D-30",
             party="b", in_storage=True),
        _rep("w4", Kind.WEAPON_SIGHTING, "14:00", 36.335, 47.9, "UAV-1", weapon_class="D-30",
             party="b", radius=8000.0),  # at the zone's edge: indeterminate
        _rep("s1", Kind.INFRASTRUCTURE_STRIKE, "08:00", 35.70, 48.3, "PATROL-1", category="energy",
             description="Damage to the power plant's transformer."),
        _rep("f1", Kind.FOM_RESTRICTION, "08:30", 35.95, 47.9, "PATROL-1", restriction="denial",
             party="a", description="Denied passage at a checkpoint."),
        _rep("f2", Kind.FOM_RESTRICTION, "15:00", 36.05, 47.9, "PATROL-1", restriction="delay",
             delay_min=115.0, party="b", description="Delayed at a checkpoint."),
        _rep("m1", Kind.MINE_UXO, "10:30", 36.03, 47.7, "PATROL-1", count=3, category="anti-tank mine"),
        _rep("c1", Kind.CIVILIAN_CASUALTY, "12:00", 35.92, 48.2, "PATROL-1", killed=1, injured=2,
             corroborated=True),
        _rep("c2", Kind.CIVILIAN_CASUALTY, "16:00", 36.08, 48.2, "PATROL-1", injured=1, corroborated=False),
    ]


def previous_records() -> list[Report]:
    d = DAY - timedelta(days=1)
    return [
        _rep("p1", E, "01:00", 35.95, 47.5, "OP-1", day=d, explosion_type=IMP, count=5),
        _rep("p2", Kind.BURSTS_AND_SHOTS, "02:00", 36.01, 48.33, "OP-1", day=d, count=2),
        _rep("p3", Kind.WEAPON_SIGHTING, "09:00", 36.10, 47.6, "PATROL-1", day=d, weapon_class="D-30",
             party="b"),
        _rep("p4", Kind.FOM_RESTRICTION, "10:00", 35.95, 47.9, "PATROL-1", day=d, party="a"),
    ]


def older_records() -> list[Report]:
    d = DAY - timedelta(days=2)
    return [_rep("o1", E, "05:00", 36.05, 48.0, "OP-1", day=d, count=6),
            _rep("o2", Kind.MUZZLE_FLASH, "06:00", 35.95, 48.0, "OP-1", day=d)]


def mirror(r: Report) -> Report:
    """The same record attributed to the other party."""
    return Report(**{**{f: getattr(r, f) for f in Report.__slots__}, "party": SWAP[r.party]})


def gazetteer() -> Gazetteer:
    return Gazetteer(["Westville", "Eastville", "Northam", "Southam"], [35.9, 36.1, 36.0, 36.0],
                     [48.0, 48.0, 48.6, 47.4], [5000, 4000, 3000, 2000])


def build(*, mirrored: bool = False, order: int | None = None) -> dict:
    ag = parse_agreement(agreement_yaml(mirrored=mirrored), name="report-test.yaml")
    tx = mirror if mirrored else (lambda r: r)
    recs = [tx(r) for r in day_records()]
    if order is not None:
        random.Random(order).shuffle(recs)
    prev = [tx(r) for r in previous_records()]
    old = [tx(r) for r in older_records()]
    history = [reporting.count_day(ag, DAY - timedelta(days=2), old, verify(ag, old)),
               reporting.count_day(ag, DAY - timedelta(days=1), prev, verify(ag, prev))]
    return reporting.build_daily_report(
        ag, DAY, reports=recs, verification=verify(ag, recs), previous_reports=prev,
        previous_verification=verify(ag, prev), history=history, gazetteer=gazetteer(),
        generated_at=GENERATED, engine="verify-test")


@pytest.fixture(scope="module")
def report() -> dict:
    return build()


def fig(d: dict) -> tuple[int, list[str]]:
    return d["count"], d["records"]


# -- figures checked by hand ------------------------------------------------------------------

def test_header(report):
    h = report["header"]
    assert report["format"] == "linewatch-daily-report/1"
    assert h["agreement"] == {"id": "report-test", "title": "Report test agreement", "version": "2"}
    assert h["notional"] is True
    assert h["period"] == {"start": "2025-06-02T00:00:00Z", "end": "2025-06-03T00:00:00Z"}
    assert h["previous_period"]["start"] == "2025-06-01T00:00:00Z"
    assert h["generated_at"] == "2025-06-03T06:00:00Z" and h["engine"] == "verify-test"
    assert h["records"]["count"] == 19 and h["records"]["previous"]["count"] == 4


def test_ceasefire_violations_by_sector_and_kind(report):
    cv = report["ceasefire_violations"]
    total = cv["total"]
    assert fig(total["total"]) == (25, ["e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9"])
    assert total["total"]["previous"] == {"count": 7, "records": ["p1", "p2"]}
    assert fig(total["by_kind"]["explosion"]) == (11, ["e1", "e2", "e3", "e4", "e9"])
    assert total["by_kind"]["explosion"]["previous"]["count"] == 5
    ex = total["explosions_by_type"]
    assert fig(ex["impact"]) == (4, ["e1", "e9"])
    assert fig(ex["airburst"]) == (2, ["e2"])
    assert fig(ex["outgoing"]) == (1, ["e3"])
    assert fig(ex["undetermined"]) == (4, ["e4"])
    assert fig(total["by_kind"]["bursts_and_shots"]) == (10, ["e5"])
    assert total["by_kind"]["bursts_and_shots"]["previous"] == {"count": 2, "records": ["p2"]}
    rows = {r["sector"]: r for r in cv["rows"]}
    assert list(rows) == ["south", "north"]  # no "outside any sector" row when it is empty
    assert fig(rows["south"]["total"]) == (8, ["e1", "e2", "e7", "e8"])
    assert rows["south"]["total"]["previous"] == {"count": 5, "records": ["p1"]}
    assert fig(rows["north"]["total"]) == (17, ["e3", "e4", "e5", "e6", "e9"])
    assert rows["north"]["total"]["previous"]["count"] == 2
    assert fig(rows["south"]["live_fire"]) == (3, ["e7", "e8"])


def test_summary_sentences(report):
    s = report["summary"]
    assert s[0] == ("In the South sector the mission recorded 8 ceasefire violations, including 5 "
                    "explosions (3 impacts and 2 airbursts). Of these, 3 were assessed as live-fire "
                    "exercises. In the previous reporting period it recorded 5.")
    assert s[1].startswith("In the North sector the mission recorded 17 ceasefire violations, including "
                           "6 explosions (1 impact, 1 outgoing and 4 undetermined).")
    assert "In total the mission recorded 25 ceasefire violations in 9 records, including 11 explosions" in s[2]
    assert s[-1] == ("Verification against the agreement found 13 violations of its rules (a finding for "
                     "each record and rule it breaks, in 11 records) and 1 indeterminate finding.")
    assert "2 weapons in violation of withdrawal lines and 3 weapons beyond" in s[3]
    assert "restricted 2 times*" in " ".join(s)


def _day_of(recs: list) -> dict:
    ag = parse_agreement(agreement_yaml(), name="report-test.yaml")
    return reporting.build_daily_report(ag, DAY, reports=recs, verification=verify(ag, recs),
                                        previous_reports=[], previous_verification=verify(ag, []),
                                        history=[], generated_at=GENERATED, engine="x")


def test_a_day_without_reports_never_reads_as_a_day_without_violations():
    s = _day_of([])["summary"]
    assert s == [reporting.NO_REPORTS] and "No reports were received" in s[0]
    assert not any("recorded 0" in x for x in s)


def test_a_day_with_few_sources_says_so_beside_its_figures():
    one = [r for r in day_records() if r.provenance.source_id == "OP-1"]
    s = _day_of(one)["summary"]
    assert s[0].startswith("Only 1 source reported this day: the figures count what it could observe")
    assert not any(x.startswith("Only") for x in build()["summary"])    # 5 sources


def _reviewed_day(states: dict[str, str], *, include_unreviewed: bool = False) -> dict:
    ag = parse_agreement(agreement_yaml(), name="report-test.yaml")
    got = reporting.reviewed(day_records(), states, include_unreviewed=include_unreviewed)
    return reporting.build_daily_report(ag, DAY, reports=got.counted, verification=verify(ag, got.counted),
                                        previous_reports=[], previous_verification=verify(ag, []),
                                        history=[], generated_at=GENERATED, engine="x", review=got.block,
                                        previous_review=reporting.reviewed([], {}, include_unreviewed=False).block)


def test_a_day_received_but_not_approved_never_reads_as_zero_violations():
    n = len(day_records())
    rep = _reviewed_day({"e1": "rejected"})
    assert rep["summary"] == [reporting.none_approved(rep["review"])]
    assert rep["summary"][0].startswith(f"Reports were received for this day ({n}), but none is approved yet: "
                                        f"{n - 1} are still under review and 1 was rejected.")
    assert rep["review"]["approved"]["count"] == 0 and rep["records"] == []
    rejected = _reviewed_day({r.id: "rejected" for r in day_records()})
    assert rejected["summary"][0].startswith(f"Reports were received for this day ({n}), but none was approved: "
                                             f"{n} were rejected.")


def test_the_review_block_and_the_unreviewed_marks():
    ids = sorted(r.id for r in day_records())
    states = {i: "approved" for i in ids[:5]} | {ids[5]: "rejected"}
    rep = _reviewed_day(states)
    assert rep["header"]["records"]["count"] == 5
    assert rep["summary"][0] == f"{len(ids) - 6} reports of the day were still under review and are not counted."
    assert rep["summary"][1] == "1 report of the day was rejected on review and is not counted."
    assert rep["trend"][-1]["review"] == {"approved": 5, "unreviewed": len(ids) - 6, "rejected": 1,
                                          "unreviewed_included": False}
    inc = _reviewed_day(states, include_unreviewed=True)
    assert inc["header"]["records"]["count"] == len(ids) - 1
    assert sorted(r["id"] for r in inc["records"] if r["unreviewed"]) == ids[6:]
    assert inc["summary"][0] == (f"{len(ids) - 6} reports of the day were still under review and are counted, "
                                 "marked as unreviewed.")


def test_corrections_compare_released_figures_and_announce_each_change_once():
    ag = parse_agreement(agreement_yaml(), name="report-test.yaml")
    recs = day_records()
    released = _reviewed_day({r.id: "approved" for r in recs})
    e1 = next(r for r in recs if r.id == "e1")
    fixed = Report("e1-v2", e1.kind, e1.time, e1.location, e1.provenance, count=e1.count + 4,
                   explosion_type=e1.explosion_type, supersedes="e1", correction="more impacts")
    now = [fixed if r.id == "e1" else r for r in recs if r.id != "e5"]
    recount = reporting.count_day(ag, DAY, now, verify(ag, now))
    changes = [{"old": "e1", "new": "e1-v2", "change": "corrected", "reason": "more impacts"},
               {"old": "e5", "new": None, "change": "rejected", "reason": "a duplicate"}]
    entry = reporting.corrections_of(DAY.isoformat(), released, recount, changes)
    assert entry is not None and entry["report"] == "the daily report of 2 June 2025"
    figures = {f["figure"]: f for f in entry["figures"]}
    cv = released["ceasefire_violations"]["total"]["total"]["count"]
    assert (figures["ceasefire_violations"]["old"], figures["ceasefire_violations"]["new"]) == (cv, cv + 4 - 10)
    assert figures["ceasefire_violations"]["records"] == [{"old": "e1", "new": "e1-v2"}, {"old": "e5", "new": None}]
    assert figures["explosion"]["records"] == [{"old": "e1", "new": "e1-v2"}]      # e5: bursts and shots
    assert figures["bursts_and_shots"]["records"] == [{"old": "e5", "new": None}]
    assert figures["records"]["name"] == "reports counted"
    assert "record e5 rejected: a duplicate" in entry["text"]
    seen, values = reporting.announced([entry])
    assert reporting.corrections_of(DAY.isoformat(), released, recount, changes, seen, values) is None
    # a later change compares with the value last announced
    e2 = [r for r in now if r.id != "e2"]
    later = reporting.corrections_of(DAY.isoformat(), released, reporting.count_day(ag, DAY, e2, verify(ag, e2)),
                                     [*changes, {"old": "e2", "new": None, "change": "rejected", "reason": None}],
                                     seen, values)
    assert later is not None and later["records"] == [{"old": "e2", "new": None, "change": "rejected", "reason": None}]
    cvf = next(f for f in later["figures"] if f["figure"] == "ceasefire_violations")
    assert cvf["old"] == cv - 6 and cvf["new"] < cvf["old"]


def test_live_fire_and_sides(report):
    lf = report["live_fire_exercises"]
    assert fig(lf) == (3, ["e7", "e8"])
    assert fig(lf["inside_security_zone"]) == (2, ["e7"])
    assert fig(lf["outside_security_zone"]) == (1, ["e8"])
    side = report["by_side"]["parties"]
    assert fig(side["a"]) == (10, ["e1", "e4", "e6", "e8", "e9"])
    assert fig(side["b"]) == (15, ["e2", "e3", "e5", "e7"])
    assert side["a"]["previous"]["records"] == ["p1"] and side["b"]["previous"]["records"] == ["p2"]
    assert report["by_side"]["undetermined"]["count"] == 0


def test_weapons(report):
    w = report["weapons"]
    assert fig(w["in_violation"]) == (2, ["w1"])
    assert w["in_violation"]["previous"] == {"count": 1, "records": ["p3"]}
    assert fig(w["in_violation"]["by_party"]["a"]) == (2, ["w1"])
    assert w["in_violation"]["by_party"]["b"]["previous"]["records"] == ["p3"]
    item = w["in_violation"]["items"][0]
    assert item["class_id"] == "art" and item["class_name"] == "Artillery" and item["party"] == "a"
    assert item["place"] == "13 km north-west of Southam"
    assert item["findings"] == [{"rule_id": "withdraw", "verdict": "violation", "probability": 1.0}]
    # w3 is in storage and w4's storage is unknown: neither is "outside storage sites"
    assert fig(w["outside_storage"]) == (3, ["w2"])
    assert w["outside_storage"]["items"][0]["party"] == "b"


def test_protected_sites_and_disengagement(report):
    ps = report["protected_sites"]
    assert fig(ps) == (2, ["e9", "s1"])
    assert {(i["record_id"], i["site_id"], i["category"]) for i in ps["items"]} == {
        ("e9", "plant", "energy"), ("s1", "plant", "energy")}
    (da,) = report["disengagement_areas"]
    assert da["zone"] == "da" and da["near_m"] == 5000.0
    assert fig(da["inside"]) == (10, ["e5"]) and da["inside"]["previous"]["records"] == ["p2"]
    assert fig(da["near"]) == (1, ["e6"])


def test_windows_of_silence_only_those_in_force(report):
    (w,) = report["windows_of_silence"]
    assert w["rule_id"] == "silence" and w["status"] == "violated"
    assert fig(w["violations"]) == (1, ["e5"])
    assert w["purpose"] == "repair of the water main"


def test_fom_mines_casualties(report):
    fom = report["freedom_of_movement"]
    assert fig(fom) == (2, ["f1", "f2"]) and fom["previous"]["records"] == ["p4"]
    assert [i["marker"] for i in fom["items"]] == ["*", "*"]
    assert fom["items"][1]["delay_min"] == 115.0
    assert fig(report["mines_uxo"]) == (3, ["m1"])
    cc = report["civilian_casualties"]
    assert fig(cc["reported"]["killed"]) == (1, ["c1"])
    assert fig(cc["reported"]["injured"]) == (3, ["c1", "c2"])
    assert fig(cc["corroborated"]["injured"]) == (2, ["c1"])
    assert [i["corroborated"] for i in cc["items"]] == [True, False]


def test_findings_cite_rules_evidence_and_places(report):
    f = report["findings"]
    # nine fires (no_fire), e5 in the window, w1, and the two strikes on the plant
    assert f["violation"]["count"] == 13 and f["indeterminate"]["count"] == 1
    assert fig(f["by_party"]["a"]) == (2, ["e6", "w1"])  # the muzzle flash on a's side; a's gun
    assert fig(f["by_party"]["b"]) == (3, ["e3", "e9"])  # outgoing from b's side; e9 twice
    assert f["unattributed"]["count"] == 8
    ind = [i for i in f["items"] if i["verdict"] == "indeterminate"]
    assert [(i["record_id"], i["rule_id"]) for i in ind] == [("w4", "withdraw")]
    assert 0.1 < ind[0]["probability"] < 0.9
    assert all(i["verdict"] == "violation" for i in f["items"][:13])
    first = f["items"][0]
    assert first["record_id"] == "e1" and first["rule_text"] == "All fire shall cease."
    assert first["evidence"] == ["e1"] and first["place"].endswith("of Southam")


def test_coverage_normalises_the_counts(report):
    cov = report["coverage"]
    assert cov["sources"]["count"] == 4
    assert cov["source_hours"]["count"] == 4 + 1 + 7 + 2  # OP-1, CAM-1, PATROL-1, UAV-1
    assert cov["ceasefire_violations_per_source_hour"] == round(25 / 14, 4)
    by = {s["source_id"]: s for s in cov["by_source"]}
    assert by["OP-1"]["hours"] == ["02", "04", "21", "22"]
    assert by["OP-1"]["first"] == "2025-06-02T02:10:00Z" and by["OP-1"]["last"] == "2025-06-02T22:15:00Z"
    assert fig(by["CAM-1"]["records"]) == (2, ["e3", "e5"])
    kinds = {k["source_kind"]: k for k in cov["by_source_kind"]}
    assert kinds["patrol"]["active_hours"] == 7 and kinds["uav"]["sources"] == 1


def test_trend_ends_with_the_day(report):
    t = report["trend"]
    assert [d["date"] for d in t] == ["2025-05-31", "2025-06-01", "2025-06-02"]
    assert [d["ceasefire_violations"]["count"] for d in t] == [7, 7, 25]
    assert t[0]["by_kind"]["muzzle_flash"]["records"] == ["o2"]
    assert t[-1]["per_source_hour"] == round(25 / 14, 4)


def test_places_fall_back_to_coordinates():
    ag = parse_agreement(agreement_yaml())
    recs = day_records()[:1]
    v = verify(ag, recs)
    rep = reporting.build_daily_report(ag, DAY, reports=recs, verification=v, previous_reports=[],
                                       previous_verification=verify(ag, []), history=[],
                                       generated_at=GENERATED, engine="x")
    assert rep["records"][0]["place"] == "35.9500, 47.5000"
    assert rep["trend"][-1]["date"] == "2025-06-02"


def test_every_count_lists_its_records(report):
    ids = {r["id"] for r in report["records"]} | {r.id for r in previous_records() + older_records()}

    def walk(node):
        if isinstance(node, dict):
            if "count" in node and "records" in node and isinstance(node["records"], list):
                assert set(node["records"]) <= ids
                assert isinstance(node["count"], int) and (node["count"] > 0) == bool(node["records"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(report)


# -- golden file, determinism, impartiality --------------------------------------------------

def test_golden_report(report):
    text = json.dumps(report, indent=1, sort_keys=False, ensure_ascii=False) + "\n"
    if os.environ.get("LINEWATCH_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.exists(), "run with LINEWATCH_UPDATE_GOLDEN=1 to create the golden file"
    assert text == GOLDEN.read_text(encoding="utf-8"), \
        "the report changed; review it and regenerate with LINEWATCH_UPDATE_GOLDEN=1"


def test_input_order_does_not_change_the_report(report):
    assert build(order=7) == report
    assert json.loads(json.dumps(report)) == report  # JSON-serialisable, nothing lost


def test_mirroring_swaps_the_parties_figures_exactly(report):
    m = build(mirrored=True)

    def swapped(d: dict) -> dict:
        return {SWAP[k]: v for k, v in d.items()}

    assert m["by_side"]["parties"] == swapped(report["by_side"]["parties"])
    assert m["by_side"]["undetermined"] == report["by_side"]["undetermined"]
    for key in ("in_violation", "outside_storage"):
        assert m["weapons"][key]["by_party"] == swapped(report["weapons"][key]["by_party"])
        assert [SWAP[i["party"]] for i in report["weapons"][key]["items"]] == \
            [i["party"] for i in m["weapons"][key]["items"]]
    assert m["findings"]["by_party"] == swapped(report["findings"]["by_party"])
    assert [(i["record_id"], i["rule_id"], SWAP[i["party"]]) for i in report["findings"]["items"]] == \
        [(i["record_id"], i["rule_id"], i["party"]) for i in m["findings"]["items"]]
    assert [SWAP[i["party"]] for i in report["protected_sites"]["items"]] == \
        [i["party"] for i in m["protected_sites"]["items"]]
    assert [SWAP[r["side"]] for r in report["records"]] == [r["side"] for r in m["records"]]
    # everything that is not about a party is unchanged
    for key in ("ceasefire_violations", "live_fire_exercises", "disengagement_areas",
                "windows_of_silence", "coverage", "trend", "mines_uxo", "civilian_casualties", "summary"):
        assert m[key] == report[key], key
    assert m["header"]["parties"] == [{"id": "a", "name": "Party A", "side": "right"},
                                      {"id": "b", "name": "Party B", "side": "left"}]


def test_reporting_is_pure():
    from test_layering import PKG, check_tree
    found = [v for v in check_tree(PKG) if v.path.startswith("reporting/")]
    assert not found, found
    modules_of_package = sorted((PKG / "reporting").glob("*.py"))
    assert len(modules_of_package) > 1 and Path(reporting.__file__) in modules_of_package
    for path in modules_of_package:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        modules = {(n.module or "") for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not imported & {"matplotlib", "jinja2", "weasyprint", "os", "pathlib", "io", "sqlite3"}, path
        assert not any(m.startswith(("linewatch.render", "linewatch.services", "linewatch.cli",
                                     "linewatch.store", "linewatch.formats")) for m in modules), path
        names = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        assert not names & {"now", "utcnow", "today", "environ", "open"}, path


def test_the_sensor_network_section_counts_fused_incidents():
    from linewatch.model import Incident
    from linewatch.services import incidents_to_reports
    ag = parse_agreement(agreement_yaml(), name="report-test.yaml")
    t = datetime(2025, 6, 2, 3, 0, tzinfo=UTC).timestamp()
    cov = ((400.0, 0.0), (0.0, 100.0))
    launch = Incident("inc-l", t, 35.9, 48.1, "launch", ("d1", "d2", "d3"), 49.0, 24.5, 90.0, cov,
                      pair_id="pair-1", side_probability={"a": 1.0, "b": 0.0}, side="a")
    impact = Incident("inc-i", t + 40, 36.05, 48.1, "impact", ("d4", "d5"), 30.0, 20.0, 0.0, cov,
                      pair_id="pair-1", side_probability={"a": 1.0, "b": 0.0}, side="a")
    lone = Incident("inc-u", t + 90, 36.05, 48.3, "unknown", ("d6",), 500.0, 100.0, 10.0, cov)
    recs = incidents_to_reports((launch, impact, lone), engine="fusion-test")
    assert next(r for r in recs if r.id == "inc-i").origin is not None  # the launch point
    rep = reporting.build_daily_report(
        ag, DAY, reports=recs, verification=verify(ag, recs), previous_reports=[],
        previous_verification=verify(ag, []), history=[], gazetteer=gazetteer(),
        generated_at=GENERATED, engine="verify-test")
    sn = rep["sensor_network"]
    assert fig(sn["incidents"]) == (3, ["inc-i", "inc-l", "inc-u"])
    assert fig(sn["by_type"]["outgoing"]) == (1, ["inc-l"])
    assert fig(sn["by_type"]["undetermined"]) == (1, ["inc-u"])
    assert sn["pairs"] == 1 and fig(sn["launches_attributed"]["a"]) == (1, ["inc-l"])
    assert sn["launches_abstained"]["count"] == 0
    assert sn["ellipse_semi_major_m"]["median"] == 49.0
    item = next(i for i in sn["items"] if i["record_id"] == "inc-l")
    assert item["detections"] == 3 and item["side"] == "a" and item["side_probability"]["a"] == 1.0
    # the impact carries its launch as the origin, so the fire is attributed to a's side
    fire = [f for f in verify(ag, recs).findings if f.record_id == "inc-i" and f.rule_id == "fire"]
    assert fire and fire[0].verdict.value == "violation" and fire[0].party == "a"
