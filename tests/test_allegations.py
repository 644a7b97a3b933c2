"""Allegation verdicts: each class, the perpetrator, places as areas, and impartiality."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linewatch.agreement import parse_agreement
from linewatch.model import ExplosionType, Kind, Location, Provenance, Report, SourceKind
from linewatch.verification import (
    AdjudicationParams,
    Allegation,
    AllegationKind,
    AllegationVerdict,
    AllegedPlace,
    CoverageAnswer,
    adjudicate,
    mirror_allegation,
    verdict_counts,
)

LON0 = 36.0
T0 = datetime(2025, 6, 1, 12, tzinfo=UTC)
KM_LON = 1 / 74.6      # degrees of longitude per km near 48° N (about)
KM_LAT = 1 / 111.2


def agreement():
    return parse_agreement(f"""
id: allegation-test
title: Allegation test
version: "3"
parties:
  - {{id: a, name: Party A, side: left}}
  - {{id: b, name: Party B, side: right}}
line:
  geometry: {{type: LineString, coordinates: [[{LON0}, 47.0], [{LON0}, 49.0]]}}
zones:
  - {{kind: site, id: plant, name: Power plant, category: energy, point: [{LON0 + 0.2}, 48.3], radius_km: 2}}
rules:
  - {{id: fire, kind: no_fire, text: No fire}}
""", name="allegations.yaml")


AG = agreement()


def covered_east_of(lon_min: float, p: float = 0.9):
    """A coverage model: probability ``p`` east of ``lon_min``, none west of it."""
    def coverage(place, start, end, kind):
        return CoverageAnswer(p if place.lon > lon_min else 0.0, ("post-1",) if place.lon > lon_min else ())
    return coverage


def impact(i, lon, lat, *, minutes=0.0, party=None, side_p=None, r95_m=200.0,
           etype=ExplosionType.IMPACT, source=SourceKind.SENSOR_FUSION):
    extra = ()
    if side_p is not None:
        extra = (("side_probability", json.dumps(side_p, sort_keys=True)),)
    return Report(id=f"r{i}", kind=Kind.EXPLOSION, time=T0 + timedelta(minutes=minutes),
                  location=Location(lon, lat, r95_m, r95_m, 0.0),
                  provenance=Provenance(source, "x"), explosion_type=etype, party=party,
                  extra=extra)


def allegation(i, lon, lat, *, by="b", against="a", kind=AllegationKind.SHELLING, radius_m=1000.0,
               minutes=(0, 60), area=None, site_id=None, site_category=None):
    return Allegation(
        id=f"al{i}", alleging_party=by, accused_party=against, kind=kind,
        start=T0 + timedelta(minutes=minutes[0]) - timedelta(minutes=10),
        end=T0 + timedelta(minutes=minutes[1]),
        place=AllegedPlace(lon, lat, radius_m, area=area), received_time=T0 + timedelta(hours=3),
        site_id=site_id, site_category=site_category)


EAST = LON0 + 5 * KM_LON       # 5 km into b's side


def test_corroborated_with_the_perpetrator_confirmed():
    records = [impact(1, EAST + 0.3 * KM_LON, 48.0, minutes=20, party="a",
                      side_p={"a": 0.99, "b": 0.01})]
    (f,) = adjudicate([allegation(1, EAST, 48.0)], records, AG, covered_east_of(LON0))
    assert f.verdict is AllegationVerdict.CORROBORATED and f.perpetrator == "confirmed"
    assert [m.record_id for m in f.matches] == ["r1"]
    assert f.matches[0].distance_m == 0.0 and f.probability > 0.99
    assert (f.agreement_id, f.agreement_version, f.engine) == ("allegation-test", "3", "allegations-1")
    assert "r1" in f.explanation and f.evidence == ("r1",)


def test_wrong_perpetrator_is_contradicted():
    records = [impact(1, EAST, 48.0, minutes=20, party="b", side_p={"a": 0.01, "b": 0.99})]
    (f,) = adjudicate([allegation(1, EAST, 48.0)], records, AG, covered_east_of(LON0))
    assert f.verdict is AllegationVerdict.CONTRADICTED and f.perpetrator == "contradicted"
    assert "b's" in f.explanation


def test_unsure_side_of_origin_leaves_the_perpetrator_undetermined():
    records = [impact(1, EAST, 48.0, minutes=20, party="b", side_p={"a": 0.2, "b": 0.8})]
    (f,) = adjudicate([allegation(1, EAST, 48.0)], records, AG, covered_east_of(LON0))
    assert f.verdict is AllegationVerdict.CORROBORATED and f.perpetrator == "undetermined"


def test_not_corroborated_despite_coverage_gives_the_detection_probability():
    (f,) = adjudicate([allegation(1, EAST, 48.0)], [], AG, covered_east_of(LON0, 0.87))
    assert f.verdict is AllegationVerdict.NOT_CORROBORATED
    assert f.probability == pytest.approx(0.87) and f.detection_probability == pytest.approx(0.87)
    assert f.coverage_sources == ("post-1",) and "0.87" in f.explanation


def test_no_coverage_is_unverifiable_and_no_model_too():
    west = LON0 - 0.5
    (f,) = adjudicate([allegation(1, west, 48.0, by="a", against="b")], [], AG,
                      covered_east_of(LON0))
    assert f.verdict is AllegationVerdict.UNVERIFIABLE and f.detection_probability == 0.0
    (f,) = adjudicate([allegation(1, EAST, 48.0)], [], AG, None)
    assert f.verdict is AllegationVerdict.UNVERIFIABLE and f.detection_probability is None


def test_an_event_observed_elsewhere_contradicts_a_covered_allegation():
    records = [impact(1, EAST + 3.5 * KM_LON, 48.0, minutes=30, party="a")]
    (f,) = adjudicate([allegation(1, EAST, 48.0)], records, AG, covered_east_of(LON0))
    assert f.verdict is AllegationVerdict.CONTRADICTED and not f.matches
    assert f.elsewhere[0].record_id == "r1" and 2_000 < f.elsewhere[0].distance_m < 3_000
    # at the place but three hours later: beyond elsewhere_s, so nothing bears on it
    records = [impact(1, EAST, 48.0, minutes=240)]
    (f,) = adjudicate([allegation(1, EAST, 48.0)], records, AG, covered_east_of(LON0))
    assert f.verdict is AllegationVerdict.NOT_CORROBORATED and not f.elsewhere


def test_time_tolerance_and_the_window():
    params = AdjudicationParams(time_tolerance_s=600.0)
    inside = [impact(1, EAST, 48.0, minutes=69)]       # 9 min after the window's end
    late = [impact(1, EAST, 48.0, minutes=75)]
    assert adjudicate([allegation(1, EAST, 48.0)], inside, AG, covered_east_of(LON0),
                      params)[0].verdict is AllegationVerdict.CORROBORATED
    f = adjudicate([allegation(1, EAST, 48.0)], late, AG, covered_east_of(LON0), params)[0]
    assert f.verdict is AllegationVerdict.CONTRADICTED and f.elsewhere[0].offset_s == pytest.approx(300)


def test_launches_do_not_corroborate_shelling_of_a_place():
    records = [impact(1, EAST, 48.0, minutes=20, etype=ExplosionType.OUTGOING, party="b")]
    (f,) = adjudicate([allegation(1, EAST, 48.0)], records, AG, covered_east_of(LON0))
    assert f.verdict is AllegationVerdict.NOT_CORROBORATED


def test_a_vague_record_matches_with_its_probability():
    # 3 km off, with a 95 % ellipse of 4 km: it may well be the alleged event
    records = [impact(1, EAST + 3 * KM_LON, 48.0, minutes=20, r95_m=4_000.0)]
    (f,) = adjudicate([allegation(1, EAST, 48.0)], records, AG, covered_east_of(LON0))
    assert f.verdict is AllegationVerdict.CORROBORATED and f.perpetrator == "undetermined"
    assert 0.1 < f.probability < 0.9


def test_area_place():
    ring = ((EAST - 2 * KM_LON, 47.98), (EAST + 2 * KM_LON, 47.98), (EAST + 2 * KM_LON, 48.02),
            (EAST - 2 * KM_LON, 48.02), (EAST - 2 * KM_LON, 47.98))
    inside = [impact(1, EAST + 1.5 * KM_LON, 48.01, minutes=5, party="a")]
    (f,) = adjudicate([allegation(1, EAST, 48.0, radius_m=0, area=ring)], inside, AG,
                      covered_east_of(LON0))
    assert f.verdict is AllegationVerdict.CORROBORATED and f.matches[0].distance_m == 0.0
    outside = [impact(1, EAST + 4 * KM_LON, 48.0, minutes=5, party="a")]
    (f,) = adjudicate([allegation(1, EAST, 48.0, radius_m=0, area=ring)], outside, AG,
                      covered_east_of(LON0))
    assert f.verdict is AllegationVerdict.CONTRADICTED
    assert f.elsewhere[0].distance_m == pytest.approx(2_000, rel=0.03)


def test_site_of_another_category_is_noted():
    records = [impact(1, LON0 + 0.2, 48.3, minutes=5, party="a", side_p={"a": 1.0, "b": 0.0})]
    (f,) = adjudicate([allegation(1, LON0 + 0.2, 48.3, kind=AllegationKind.PROTECTED_SITE_STRIKE,
                                  site_id="plant", site_category="water")], records, AG,
                      covered_east_of(LON0))
    assert f.verdict is AllegationVerdict.CORROBORATED and "category 'energy'" in f.explanation


def test_other_kinds_need_records_of_their_kind():
    sighting = Report(id="w1", kind=Kind.WEAPON_SIGHTING, time=T0 + timedelta(minutes=5),
                      location=Location.point(EAST, 48.0, 100.0),
                      provenance=Provenance(SourceKind.PATROL, "p"), party="a")
    al = allegation(1, EAST, 48.0, kind=AllegationKind.WEAPONS_IN_ZONE)
    (f,) = adjudicate([al], [sighting], AG, covered_east_of(LON0))
    assert f.verdict is AllegationVerdict.CORROBORATED and f.perpetrator == "confirmed"
    (f,) = adjudicate([al], [impact(1, EAST, 48.0, minutes=5, party="a")], AG, covered_east_of(LON0))
    assert f.verdict is AllegationVerdict.NOT_CORROBORATED


def test_counts_list_every_verdict():
    fs = adjudicate([allegation(1, EAST, 48.0), allegation(2, LON0 - 0.5, 48.0, by="a", against="b")],
                    [], AG, covered_east_of(LON0))
    assert verdict_counts(fs) == {"corroborated": 0, "not_corroborated": 1, "contradicted": 0,
                                  "unverifiable": 1}


def test_bad_allegations_are_refused():
    with pytest.raises(ValueError, match="accuses itself"):
        allegation(1, EAST, 48.0, by="a", against="a")
    with pytest.raises(ValueError, match="before start"):
        allegation(1, EAST, 48.0, minutes=(60, -30))
    with pytest.raises(ValueError, match="outside lon/lat"):
        AllegedPlace(200.0, 48.0)


# -- impartiality ------------------------------------------------------------------------------

SWAP = {"a": "b", "b": "a"}


def mirror_lon(lon: float) -> float:
    return 2 * LON0 - lon


def mirror_report(r: Report) -> Report:
    from dataclasses import replace
    extra = tuple((k, json.dumps({SWAP[p]: v for p, v in json.loads(val).items()}, sort_keys=True))
                  if k == "side_probability" else (k, val) for k, val in r.extra)
    return replace(r, location=replace(r.location, lon=mirror_lon(r.location.lon)),
                   party=SWAP.get(r.party) if r.party else None, extra=extra)


def mirrored_coverage(coverage):
    def inner(place, start, end, kind):
        from dataclasses import replace
        return coverage(replace(place, lon=mirror_lon(place.lon)), start, end, kind)
    return inner


events = st.lists(st.tuples(
    st.floats(-12, 12), st.floats(-6, 6), st.floats(-30, 120), st.sampled_from(["a", "b", None]),
    st.floats(0.5, 1.0), st.floats(100, 3000)), min_size=0, max_size=6)
claims = st.lists(st.tuples(
    st.floats(-12, 12), st.floats(-6, 6), st.sampled_from(["a", "b"]), st.booleans(),
    st.floats(0, 3000)), min_size=1, max_size=5)


@settings(max_examples=60, deadline=None)
@given(events, claims)
def test_swapping_the_parties_swaps_the_verdicts(evs, cls):
    records = [impact(i, LON0 + x * KM_LON, 48.0 + y * KM_LAT, minutes=m, party=p,
                      side_p=None if p is None else {p: q, SWAP[p]: 1 - q}, r95_m=r)
               for i, (x, y, m, p, q, r) in enumerate(evs)]
    als = [allegation(i, LON0 + x * KM_LON, 48.0 + y * KM_LAT, by=by,
                      against=SWAP[by] if named else None, radius_m=rad)
           for i, (x, y, by, named, rad) in enumerate(cls)]
    coverage = covered_east_of(LON0 - 4 * KM_LON)
    # the mirror of "covered east of" is "covered west of": evaluate the original at the mirror
    original = adjudicate(als, records, AG, coverage)
    mirrored = adjudicate(
        [mirror_allegation(a, SWAP.__getitem__, lambda lon, lat: (mirror_lon(lon), lat)) for a in als],
        [mirror_report(r) for r in records], AG, mirrored_coverage(coverage))
    for f, g in zip(original, mirrored):
        assert (f.verdict, f.perpetrator) == (g.verdict, g.perpetrator)
        assert f.probability == pytest.approx(g.probability, abs=1e-9)
        assert [m.record_id for m in f.matches] == [m.record_id for m in g.matches]
        assert [m.party for m in f.matches] == [SWAP.get(m.party) for m in g.matches]
        assert g.alleging_party == SWAP[f.alleging_party]


@settings(max_examples=30, deadline=None)
@given(events, claims, st.randoms(use_true_random=False))
def test_the_order_of_records_does_not_matter(evs, cls, rnd):
    records = [impact(i, LON0 + x * KM_LON, 48.0 + y * KM_LAT, minutes=m, party=p, r95_m=r)
               for i, (x, y, m, p, _, r) in enumerate(evs)]
    als = [allegation(i, LON0 + x * KM_LON, 48.0 + y * KM_LAT, by=by, radius_m=rad)
           for i, (x, y, by, _, rad) in enumerate(cls) if by == "b"] or \
          [allegation(0, LON0, 48.0)]
    shuffled = list(records)
    rnd.shuffle(shuffled)
    a = adjudicate(als, records, AG, covered_east_of(LON0))
    b = adjudicate(als, shuffled, AG, covered_east_of(LON0))
    assert [f.as_dict() for f in a] == [f.as_dict() for f in b]


# -- end to end on a simulated scenario ---------------------------------------------------------

def test_scripted_allegations_on_a_simulated_scenario_get_the_verdicts_they_deserve():
    from dataclasses import replace as dc_replace
    from pathlib import Path

    from linewatch.coverage import place_coverage
    from linewatch.fusion import fuse
    from linewatch.services import incidents_to_reports, load_agreement_file
    from linewatch.sim import SCENARIOS, network_from_simulation, simulate, simulate_allegations
    from linewatch.verification import network_coverage

    ag = load_agreement_file(Path(__file__).resolve().parents[1] / "examples" / "agreements"
                             / "line-of-contact.yaml").agreement
    sim = simulate(ag, dc_replace(SCENARIOS["quiet"], duration_s=2 * 3600.0), seed=3)
    net = network_from_simulation(sim.network)
    res = fuse(sim.sensors, sim.detections, agreement=ag)
    records = incidents_to_reports(res.incidents, engine=res.engine)

    def p_at(lon, lat, t):
        return place_coverage(net, (lon, lat), t - 1800, t + 1800, "explosion", radius_m=1500.0,
                              n_points=16, step_s=300.0).probability
    scripted = simulate_allegations(sim.truth, ag, seed=3, n_true=8, n_wrong=4, n_false=8,
                                    n_uncovered=4, coverage=p_at)
    assert {s.case for s in scripted} == {"true", "wrong_perpetrator", "false", "uncovered"}
    findings = adjudicate([s.allegation for s in scripted], records, ag, network_coverage(net))
    got: dict[str, list[str]] = {}
    for s, f in zip(scripted, findings):
        got.setdefault(s.case, []).append(str(f.verdict))
        assert f.agreement_version == ag.version
    assert set(got["wrong_perpetrator"]) == {"contradicted"}
    assert set(got["uncovered"]) == {"unverifiable"}
    assert set(got["false"]) == {"not_corroborated"}
    assert got["true"].count("corroborated") >= 6, got["true"]
    # every verdict states what the network could have detected there and then
    assert all(f.detection_probability is not None for f in findings)
