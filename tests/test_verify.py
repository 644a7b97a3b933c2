"""Verification: impartiality under mirroring, order independence, time, caps, thresholds."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linewatch.agreement import parse_agreement
from linewatch.model import ExplosionType, Kind, Location, Provenance, Report, SourceKind, TimePrecision, Verdict
from linewatch.verification import verify

LON0 = 36.0  # the line runs due north along this meridian: reflection about it is exact
T0 = datetime(2025, 6, 1, 12, tzinfo=UTC)


def agreement_yaml(*, mirrored: bool = False) -> str:
    """An agreement; ``mirrored`` reflects every shape across the line. Each party keeps its
    side, so what happened on A's side in the original happens on B's side in the mirror."""
    m = (lambda lon: 2 * LON0 - lon) if mirrored else (lambda lon: lon)
    sa, sb = "left", "right"
    poly = [[m(35.9), 47.9], [m(36.2), 47.9], [m(36.2), 48.1], [m(35.9), 48.1], [m(35.9), 47.9]]
    if mirrored:
        poly = poly[::-1]
    return f"""
id: mirror-test
title: Mirror test
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
  - {{kind: buffer, id: near, name: Near zone, per_side_km: {{a: 10, b: 10}}}}
  - {{kind: polygon, id: da, name: Disengagement area, category: disengagement_area,
     geometry: {{type: Polygon, coordinates: [{poly}]}}}}
  - {{kind: site, id: plant, name: Power plant, category: energy, point: [{m(35.7)}, 48.3], radius_km: 2}}
weapon_classes:
  - {{id: art, name: Artillery, examples: [D-30], banned_from: [sz]}}
rules:
  - {{id: fire, kind: no_fire, text: No fire}}
  - {{id: fire-da, kind: no_fire, text: No fire in the area, zones: [da]}}
  - {{id: across, kind: no_fire_across_line, text: No fire across the line}}
  - {{id: withdraw, kind: weapon_exclusion, text: Withdraw artillery, weapon_classes: [art]}}
  - {{id: energy, kind: strike_on_protected, text: No strikes on energy, categories: [energy]}}
  - {{id: air, kind: no_overflight, text: No flights, limits: [{{aircraft_type: uav, distance_km: 15}}]}}
  - {{id: cap, kind: cap, text: At most 3 art in near zone, zone: near, limits: {{art: 3}}}}
"""


@pytest.fixture(scope="module")
def pair():
    return parse_agreement(agreement_yaml(), name="a.yaml"), parse_agreement(
        agreement_yaml(mirrored=True), name="m.yaml")


def _report(i, kind, lon, lat, *, major=0.0, minor=0.0, az=0.0, party=None, etype=None,
            weapon=None, count=1, origin=None, aircraft=None, hours=0.0):
    return Report(
        id=f"r{i:03d}", kind=kind, time=T0 + timedelta(hours=hours),
        location=Location(lon, lat, major, minor, az),
        provenance=Provenance(SourceKind.PATROL, "p1"), explosion_type=etype,
        weapon_class=weapon, count=count, party=party, origin=origin, aircraft_type=aircraft,
        category="energy" if kind == Kind.INFRASTRUCTURE_STRIKE else None)


def mirror(r: Report) -> Report:
    swap = {"a": "b", "b": "a", None: None}
    loc = r.location
    origin = None
    if r.origin is not None:
        o = r.origin
        origin = Location(2 * LON0 - o.lon, o.lat, o.semi_major_m, o.semi_minor_m, (-o.azimuth_deg) % 180)
    return Report(id=r.id, kind=r.kind, time=r.time,
                  location=Location(2 * LON0 - loc.lon, loc.lat, loc.semi_major_m, loc.semi_minor_m,
                                    (-loc.azimuth_deg) % 180),
                  provenance=r.provenance, explosion_type=r.explosion_type,
                  weapon_class=r.weapon_class, count=r.count, party=swap[r.party], origin=origin,
                  aircraft_type=r.aircraft_type, category=r.category)


KINDS = [Kind.EXPLOSION, Kind.BURSTS_AND_SHOTS, Kind.MUZZLE_FLASH, Kind.WEAPON_SIGHTING,
         Kind.INFRASTRUCTURE_STRIKE, Kind.AIRCRAFT_SIGHTING]


@st.composite
def reports(draw):
    n = draw(st.integers(1, 12))
    out = []
    for i in range(n):
        kind = draw(st.sampled_from(KINDS))
        major = draw(st.floats(0, 8000))
        minor = draw(st.floats(0, 1)) * major
        origin = None
        if kind == Kind.EXPLOSION and draw(st.booleans()):
            origin = Location(draw(st.floats(35.3, 36.7)), draw(st.floats(47.2, 48.8)), 1500, 1500, 0)
        out.append(_report(
            i, kind, draw(st.floats(35.2, 36.8)), draw(st.floats(47.1, 48.9)),
            major=major, minor=minor, az=draw(st.floats(0, 179.9)),
            party=draw(st.sampled_from(["a", "b", None])),
            etype=draw(st.sampled_from(list(ExplosionType))) if kind == Kind.EXPLOSION else None,
            weapon="D-30" if kind == Kind.WEAPON_SIGHTING else None,
            count=draw(st.integers(1, 5)), origin=origin,
            aircraft="uav" if kind == Kind.AIRCRAFT_SIGHTING else None))
    return out


@settings(max_examples=40, deadline=None)
@given(reports())
def test_mirroring_the_scenario_swaps_the_parties_exactly(pair, recs):
    ag, ag_m = pair
    v = verify(ag, recs)
    vm = verify(ag_m, [mirror(r) for r in recs])
    swap = {"a": "b", "b": "a", None: None}

    def key(f, flip):  # findings on groups name their party in the subject
        rid = f.record_id.replace(":a:", ":@:").replace(":b:", ":a:").replace(":@:", ":b:") \
            if flip else f.record_id
        return rid, f.rule_id

    mirrored = {key(g, True): g for g in vm.findings}
    assert sorted(mirrored) == sorted(key(f, False) for f in v.findings)
    for f in v.findings:
        g = mirrored[key(f, False)]
        assert g.party == swap[f.party]
        assert g.probability == pytest.approx(f.probability, abs=1e-9)
        assert g.verdict == f.verdict or abs(f.probability - ag.policy.violation_probability) < 1e-6
    for p, q in zip(v.places, vm.places):
        assert q.side == swap[p.side]
        assert q.distance_to_line_m == pytest.approx(p.distance_to_line_m, rel=1e-9, abs=1e-6)
        assert q.sector == p.sector
        assert q.side_probability["a"] == pytest.approx(p.side_probability["b"], abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(reports(), st.randoms(use_true_random=False))
def test_input_order_does_not_change_the_output(pair, recs, rnd):
    ag = pair[0]
    shuffled = list(recs)
    rnd.shuffle(shuffled)
    assert verify(ag, recs) == verify(ag, shuffled)


def _finding(v, record_id, rule_id):
    hits = [f for f in v.findings if f.record_id == record_id and f.rule_id == rule_id]
    return hits[0] if hits else None


def test_weapon_inside_and_outside_the_zone(pair):
    ag = pair[0]
    # 0.1° of longitude at 48°N is about 7.45 km: 20 km inside a's half, 40 km outside it
    recs = [_report(1, Kind.WEAPON_SIGHTING, 35.731, 48.0, major=200, minor=200, weapon="D-30"),
            _report(2, Kind.WEAPON_SIGHTING, 35.463, 48.0, major=200, minor=200, weapon="D-30"),
            _report(3, Kind.WEAPON_SIGHTING, 35.665, 48.0, major=20000, minor=20000, weapon="D-30")]
    v = verify(ag, recs)
    assert _finding(v, "r001", "withdraw").verdict == Verdict.VIOLATION
    assert _finding(v, "r001", "withdraw").party == "a"  # where it stands, as no owner was given
    assert _finding(v, "r002", "withdraw").verdict == Verdict.COMPLIANT
    wide = _finding(v, "r003", "withdraw")  # 25 km out with a 20 km circle: straddles the edge
    assert wide.verdict == Verdict.INDETERMINATE and 0.1 < wide.probability < 0.9


def test_fire_across_the_line_needs_an_origin(pair):
    ag = pair[0]
    origin = Location.point(36.2, 48.0, 500)  # b's side
    recs = [_report(1, Kind.EXPLOSION, 35.9, 48.0, etype=ExplosionType.IMPACT, origin=origin),
            _report(2, Kind.EXPLOSION, 35.9, 48.0, etype=ExplosionType.IMPACT)]
    v = verify(ag, recs)
    f = _finding(v, "r001", "across")
    assert f.verdict == Verdict.VIOLATION and f.party == "b"
    assert _finding(v, "r002", "across") is None
    assert _finding(v, "r002", "fire").verdict == Verdict.VIOLATION


def test_time_precision_spreads_the_probability_over_the_validity():
    text = agreement_yaml().replace(
        "{id: fire, kind: no_fire, text: No fire}",
        "{id: fire, kind: no_fire, text: No fire, valid: {start: '2025-06-01T00:00:00Z', "
        "end: '2025-06-02T00:00:00Z'}}")
    ag = parse_agreement(text)
    day = _report(1, Kind.BURSTS_AND_SHOTS, 35.9, 48.0)
    week = Report(**{**{f: getattr(day, f) for f in day.__slots__}, "id": "r002",
                     "time": datetime(2025, 5, 29, tzinfo=UTC),
                     "time_precision": TimePrecision.WEEK})
    before = Report(**{**{f: getattr(day, f) for f in day.__slots__}, "id": "r003",
                       "time": datetime(2025, 5, 30, tzinfo=UTC)})
    v = verify(ag, [day, week, before])
    assert _finding(v, "r001", "fire").probability == 1.0
    f = _finding(v, "r002", "fire")  # a week from 29 May: 1 of its 7 days in force
    assert f.probability == pytest.approx(1 / 7) and f.verdict == Verdict.INDETERMINATE
    assert _finding(v, "r003", "fire") is None  # not in force at its time: no finding
    assert "fire" not in v.places[2].rules_in_force


def test_caps_count_single_sightings_and_flag_sums(pair):
    ag = pair[0]
    near = [(35.95, 48.0 + 0.01 * i) for i in range(4)]
    recs = [_report(i, Kind.WEAPON_SIGHTING, lon, lat, weapon="D-30", count=c, party="a")
            for i, ((lon, lat), c) in enumerate(zip(near, [4, 1, 1, 1]))]
    recs += [_report(10 + i, Kind.WEAPON_SIGHTING, 36.05, 48.0 + 0.01 * i, weapon="D-30", count=2, party="b")
             for i in range(2)]
    v = verify(ag, recs)
    caps = {f.record_id: f for f in v.findings if f.rule_id == "cap"}
    a = caps["cap:near:a:art:2025-06-01"]
    b = caps["cap:near:b:art:2025-06-01"]
    assert a.verdict == Verdict.VIOLATION and set(a.evidence) == {"r000", "r001", "r002", "r003"}
    assert b.verdict == Verdict.INDETERMINATE and b.party == "b"  # 2 + 2 > 3, neither alone


def test_protected_site_probability_and_uav_overflight(pair):
    ag = pair[0]
    recs = [_report(1, Kind.EXPLOSION, 35.7, 48.305, major=300, minor=300, etype=ExplosionType.IMPACT),
            _report(2, Kind.EXPLOSION, 35.2, 48.305, etype=ExplosionType.IMPACT),
            _report(3, Kind.INFRASTRUCTURE_STRIKE, 35.0, 47.5),
            _report(4, Kind.AIRCRAFT_SIGHTING, 36.1, 48.0, aircraft="uav"),
            _report(5, Kind.AIRCRAFT_SIGHTING, 36.3, 48.0, aircraft="uav")]
    v = verify(ag, recs)
    assert _finding(v, "r001", "energy").verdict == Verdict.VIOLATION
    assert "Power plant" in _finding(v, "r001", "energy").explanation
    assert _finding(v, "r002", "energy") is None  # far from any protected site
    assert _finding(v, "r003", "energy").verdict == Verdict.VIOLATION  # the record says so
    assert _finding(v, "r004", "air").verdict == Verdict.VIOLATION  # 7.5 km < 15 km
    assert _finding(v, "r005", "air").verdict == Verdict.COMPLIANT  # 22 km


def test_findings_are_reproducible_run_to_run(pair):
    rng = random.Random(5)
    recs = [_report(i, Kind.EXPLOSION, rng.uniform(35.2, 36.8), rng.uniform(47.1, 48.9),
                    major=3000, minor=1000, az=rng.uniform(0, 180), etype=ExplosionType.IMPACT)
            for i in range(50)]
    assert verify(pair[0], recs) == verify(pair[0], recs)


def test_each_party_measures_from_its_own_reference_line():
    # as in Minsk II: b's withdrawal is measured from its own line, 0.05° (3.7 km) east
    text = agreement_yaml().replace(
        "sectors:",
        f"reference_lines:\n  b:\n    geometry: {{type: LineString, coordinates: "
        f"[[{LON0 + 0.05}, 47.0], [{LON0 + 0.05}, 49.0]]}}\n    source: test\nsectors:")
    ag = parse_agreement(text)
    assert ag.summary()["reference_lines"] == {"b": pytest.approx(222.4, abs=0.2)}
    recs = [_report(1, Kind.WEAPON_SIGHTING, 36.15, 48.0, weapon="D-30"),   # 7.5 km past b's line
            _report(2, Kind.WEAPON_SIGHTING, 36.03, 48.0, weapon="D-30"),   # between the lines
            _report(3, Kind.WEAPON_SIGHTING, 35.80, 48.0, weapon="D-30")]   # a's side
    v = verify(ag, recs)
    places = {p.record_id: p for p in v.places}
    assert places["r001"].distance_to_reference_m["b"] == pytest.approx(7460, rel=0.01)
    assert places["r001"].distance_to_line_m == pytest.approx(11190, rel=0.01)
    assert places["r001"].zones["near"] == 1.0
    # between the lines, on b's side: nearer the other party than b's own line, so inside
    assert places["r002"].side == "b"
    assert places["r002"].distance_to_reference_m["b"] < 0 and places["r002"].zones["near"] == 1.0
    assert _finding(v, "r002", "withdraw").verdict == Verdict.VIOLATION
    assert _finding(v, "r002", "withdraw").party == "b"
    assert places["r003"].distance_to_reference_m["a"] == pytest.approx(14920, rel=0.01)


def test_a_month_precision_window_is_the_calendar_month():
    text = agreement_yaml().replace(
        "{id: fire, kind: no_fire, text: No fire}",
        "{id: fire, kind: no_fire, text: No fire, valid: {start: '2025-01-31T00:00:00Z', "
        "end: '2025-02-01T00:00:00Z'}}")
    base = _report(1, Kind.BURSTS_AND_SHOTS, 35.9, 48.0)
    jan = Report(**{**{f: getattr(base, f) for f in base.__slots__},
                    "time": datetime(2025, 1, 1, tzinfo=UTC), "time_precision": TimePrecision.MONTH})
    assert jan.time_window_s == 31 * 86400
    f = _finding(verify(parse_agreement(text), [jan]), "r001", "fire")
    assert f.probability == pytest.approx(1 / 31, abs=1e-6)  # 31 January is in January
