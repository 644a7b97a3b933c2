"""The shipped example agreements: they load, their summaries are sane, and hand-checked
verdicts hold for records placed at known distances from the line.

Records are placed with ``pyproj.Geod.fwd`` perpendicular to the (densified) line at a given
chainage, on a stretch where the line is straight enough that the distance to the line equals
the distance walked; every test asserts that measured distance before it asserts a verdict.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Geod

from linewatch.agreement import Agreement, parse_agreement
from linewatch.model import ExplosionType, Kind, Location, Provenance, Report, SourceKind, TimePrecision, Verdict
from linewatch.verification import verify

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "agreements"
GEOD = Geod(ellps="WGS84")
SRC = Provenance(SourceKind.PATROL, "test")
_ids = itertools.count()


def load(name: str, text: str | None = None) -> Agreement:
    path = EXAMPLES / name
    return parse_agreement(text if text is not None else path.read_text(), name=str(path))


@pytest.fixture(scope="module")
def loc() -> Agreement:
    return load("line-of-contact.yaml")


@pytest.fixture(scope="module")
def energy() -> Agreement:
    return load("energy-moratorium-2025.yaml")


@pytest.fixture(scope="module")
def korea() -> Agreement:
    return load("korea-dmz.yaml")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def report(kind: Kind, lon: float, lat: float, *, radius_m: float = 200.0,
           time: datetime = utc(2025, 7, 1, 12), rid: str | None = None, **kw) -> Report:
    return Report(rid or f"r{next(_ids):04d}", kind, time, Location.point(lon, lat, radius_m), SRC, **kw)


def off_line(ag: Agreement, chain_km: float, dist_km: float, side: str) -> tuple[float, float]:
    """The point ``dist_km`` from the line's point at ``chain_km``, square to the line, on its
    ``left`` or ``right`` (looking along the line's vertex order)."""
    line = ag.line_parts[0]
    _, _, seg = GEOD.inv(line[:-1, 0], line[:-1, 1], line[1:, 0], line[1:, 1])
    chain = np.concatenate([[0.0], np.cumsum(seg)])
    i = int(np.searchsorted(chain, chain_km * 1000.0))
    a, b = line[max(i - 3, 0)], line[min(i + 3, len(line) - 1)]
    az, _, _ = GEOD.inv(a[0], a[1], b[0], b[1])
    lon, lat, _ = GEOD.fwd(line[i, 0], line[i, 1], az + (-90.0 if side == "left" else 90.0),
                           dist_km * 1000.0)
    return float(lon), float(lat)


def distance_km(ag: Agreement, lon: float, lat: float) -> float:
    pl = ag.place(np.array([lon]), np.array([lat]), np.zeros((1, 2, 2)))
    return float(abs(pl.line_signed_m[0])) / 1000.0


def only(findings, rule_id: str):
    hits = [f for f in findings if f.rule_id == rule_id]
    assert len(hits) == 1, hits
    return hits[0]


# -- loading and summaries --------------------------------------------------------------------

@pytest.mark.parametrize("name", ["line-of-contact.yaml", "energy-moratorium-2025.yaml",
                                  "korea-dmz.yaml"])
def test_every_example_loads_and_summarises(name):
    ag = load(name)
    s = ag.summary()
    assert s["id"] == name.removesuffix(".yaml")
    assert len(s["parties"]) == 2 and s["rules"]
    # every zone has an area and every rule its text
    assert all(z["area_km2"] > 0 for z in s["zones"])
    assert all(r["text"].strip() for r in s["rules"])


def test_line_of_contact_summary(loc):
    s = loc.summary()
    assert s["notional"] is True and "NOTIONAL" in loc.spec.description
    assert 1020 <= s["line_length_km"] <= 1380  # ~1,200 km +-15 % (GCSP figure)
    assert s["line_vertices"] >= 1000
    assert s["valid"]["start"] == "2025-06-01T00:00:00+03:00" and s["valid"]["end"] is None
    # sectors tile the line from 0 past its end
    sec = s["sectors"]
    assert sec[0]["from_km"] == 0 and sec[-1]["to_km"] >= s["line_length_km"]
    assert all(a["to_km"] == b["from_km"] for a, b in zip(sec, sec[1:]))
    assert [x["id"] for x in sec] == ["kharkiv", "donetsk-north", "luhansk", "donetsk",
                                      "zaporizhzhia", "kherson"]
    # buffer zone areas: roughly width x length. The bends of the notional line make the
    # buffers overlap on their inner sides, so the area is 75-100 % of width x length.
    areas = {z["id"]: z["area_km2"] for z in s["zones"]}
    length = s["line_length_km"]
    for zid, width in [("security-zone-artillery", 50), ("security-zone-mlrs", 70),
                       ("security-zone-heavy-mlrs", 140), ("addendum-zone", 30)]:
        assert 0.75 * width * length <= areas[zid] <= 1.0 * width * length, zid
    # the two sides' parts of a buffer add up to the two-sided buffer (no area lost at bends)
    parts = loc.zones["security-zone-artillery"].polygons_lonlat()
    assert set(parts) == {"ua", "ru"} and all(p.is_valid for p in parts.values())
    two_sided_km2 = shapely.buffer(loc.line_index.geometry_xy, 25_000.0).area / 1e6
    assert areas["security-zone-artillery"] == pytest.approx(two_sided_km2, rel=0.03)
    # disengagement areas: "not less than 2 km wide and 2 km deep" -> at least 4 km2
    assert areas["disengagement-toretsk"] >= 4 and areas["disengagement-kupiansk"] >= 4
    # the rule windows: the repair window is 10 hours
    rules = {r.id: r for r in loc.rules}
    w = rules["dfs-repair-window"]
    assert w.end - w.start == timedelta(hours=10)
    assert w.start == datetime(2025, 6, 10, 5, tzinfo=UTC)


def test_energy_and_korea_summaries(energy, korea):
    s = energy.summary()
    assert s["line_length_km"] is None and s["line_vertices"] == 0
    assert all(p["side"] is None for p in s["parties"])
    r = energy.rules[0]
    assert r.end - r.start == timedelta(days=30)
    assert r.start == utc(2025, 3, 17, 21)  # 00:00 Moscow time, 18 March 2025
    cats = {z.category for z in energy.zones.values()}
    assert cats == {"oil_refinery", "oil_gas_pipeline", "electricity", "nuclear",
                    "hydroelectric_dam"}
    assert {z.party for z in energy.zones.values()} == {"ru", "ua"}

    k = korea.summary()
    assert 200 <= k["line_length_km"] <= 260 and k["line_vertices"] > 200
    areas = {z["id"]: z["area_km2"] for z in k["zones"]}
    assert 0.8 * 4 * k["line_length_km"] <= areas["dmz"] <= 1.05 * 4 * k["line_length_km"]
    assert 0.8 * 10 * k["line_length_km"] <= areas["ground-buffer-2018"] <= 1.05 * 10 * k["line_length_km"]
    west, east = k["sectors"]
    assert west["to_km"] == east["from_km"] == pytest.approx(k["line_length_km"] * 646 / 1292, abs=0.1)
    nofly = {r.id: r for r in korea.rules}["cma-2018-no-fly"]
    assert nofly.start == datetime(2018, 10, 31, 15, tzinfo=UTC)


# -- sides ------------------------------------------------------------------------------------

CITIES = {  # GeoNames coordinates
    "Kharkiv": (36.2548, 49.9818, "ua"), "Zaporizhzhia": (35.1171, 47.8517, "ua"),
    "Kherson": (32.6146, 46.6369, "ua"), "Kramatorsk": (37.5678, 48.7311, "ua"),
    "Donetsk": (37.8022, 48.0230, "ru"), "Horlivka": (38.0171, 48.2999, "ru"),
    "Melitopol": (35.3820, 46.8473, "ru"), "Nova Kakhovka": (33.3559, 46.7597, "ru"),
    "Enerhodar": (34.6620, 47.4905, "ru"),
}


def test_known_cities_lie_on_the_right_side(loc):
    reports = [report(Kind.MINE_UXO, lon, lat, radius_m=0, rid=name)
               for name, (lon, lat, _) in CITIES.items()]
    places = {p.record_id: p for p in verify(loc, reports).places}
    for name, (_, _, party) in CITIES.items():
        assert places[name].side == party, name
        assert places[name].side_probability[party] == 1.0


def test_korean_sides(korea):
    seoul = report(Kind.MINE_UXO, 126.978, 37.566, rid="seoul", time=utc(2024, 1, 1))
    pyongyang = report(Kind.MINE_UXO, 125.754, 39.034, rid="pyongyang", time=utc(2024, 1, 1))
    places = {p.record_id: p for p in verify(korea, [seoul, pyongyang]).places}
    assert places["seoul"].side == "rok" and places["pyongyang"].side == "dprk"


# -- line of contact: golden verdicts ---------------------------------------------------------

#: a straight stretch of the lower Dnipro (Kherson sector): ru on the left, ua on the right
ANCHOR_KM = 1150.0

WEAPON_CASES = [
    # (system, distance km, rule, expected) -- domain.md §2.2 test-case hints, §2.3
    ("D-30", 20, "minsk2-point2", Verdict.VIOLATION),        # 122 mm howitzer: 20 < 25
    ("122 mm howitzer", 30, "minsk2-point2", Verdict.COMPLIANT),  # 30 > 25
    ("BM-21", 30, "minsk2-point2", Verdict.VIOLATION),       # 30 < 35
    ("BM-21 Grad", 40, "minsk2-point2", Verdict.COMPLIANT),  # 40 > 35
    ("BM-30 Smerch", 60, "minsk2-point2", Verdict.VIOLATION),  # 60 < 70
    ("Smerch", 80, "minsk2-point2", Verdict.COMPLIANT),      # 80 > 70
    ("Tochka-U", 60, "minsk2-point2", Verdict.VIOLATION),    # 60 < 70
    ("T-72", 10, "addendum-2015", Verdict.VIOLATION),        # 10 < 15
    ("T-64", 20, "addendum-2015", Verdict.COMPLIANT),        # 20 > 15
    ("2B11", 12, "addendum-2015", Verdict.VIOLATION),        # 120 mm mortar, 12 < 15
    ("2B9", 16, "addendum-2015", Verdict.COMPLIANT),         # 82 mm gun, 16 > 15
]


@pytest.mark.parametrize("side,party", [("left", "ru"), ("right", "ua")])
@pytest.mark.parametrize("system,dist,rule,expected", WEAPON_CASES)
def test_weapon_withdrawal_distances(loc, system, dist, rule, expected, side, party):
    lon, lat = off_line(loc, ANCHOR_KM, dist, side)
    assert distance_km(loc, lon, lat) == pytest.approx(dist, abs=0.2)
    r = report(Kind.WEAPON_SIGHTING, lon, lat, weapon_class=system, party=party)
    v = verify(loc, [r])
    assert v.places[0].side == party and v.places[0].sector == "kherson"
    f = only(v.findings, rule)
    assert f.verdict == expected, f
    assert f.party == party
    assert f.probability == (pytest.approx(1.0, abs=1e-6) if expected == Verdict.VIOLATION
                             else pytest.approx(0.0, abs=1e-6))


def test_sighting_without_party_is_attributed_to_the_side_it_is_on(loc):
    lon, lat = off_line(loc, ANCHOR_KM, 20, "left")
    f = only(verify(loc, [report(Kind.WEAPON_SIGHTING, lon, lat, weapon_class="D-30")]).findings,
             "minsk2-point2")
    assert f.verdict == Verdict.VIOLATION and f.party == "ru"


def test_uncertain_position_on_a_zone_boundary_is_indeterminate(loc):
    # a tank seen 15 km from the line (the Addendum zone's edge), known only to +-5 km
    lon, lat = off_line(loc, ANCHOR_KM, 15, "right")
    f = only(verify(loc, [report(Kind.WEAPON_SIGHTING, lon, lat, radius_m=5000,
                                 weapon_class="T-80", party="ua")]).findings, "addendum-2015")
    assert f.verdict == Verdict.INDETERMINATE
    assert loc.policy.compliant_probability < f.probability < loc.policy.violation_probability
    assert f.probability == pytest.approx(0.5, abs=0.05)


def test_strike_on_a_protected_energy_site(loc):
    # Sloviansk TPP (Mykolaivka), as the record states the category
    r = report(Kind.INFRASTRUCTURE_STRIKE, 37.7683, 48.8619, category="energy", party="ru")
    f = only(verify(loc, [r]).findings, "protected-infrastructure")
    assert f.verdict == Verdict.VIOLATION and f.party == "ru"
    # a category the rule does not protect gives no finding under it
    r2 = report(Kind.INFRASTRUCTURE_STRIKE, 37.7683, 48.8619, category="school")
    assert not [f for f in verify(loc, [r2]).findings if f.rule_id == "protected-infrastructure"]


def test_impact_one_km_from_the_znpp_names_the_site(loc):
    lon, lat, _ = GEOD.fwd(34.5858, 47.5122, 270.0, 1000.0)  # 1 km west of the reactor site
    r = report(Kind.EXPLOSION, lon, lat, explosion_type=ExplosionType.IMPACT)
    f = only(verify(loc, [r]).findings, "protected-infrastructure")
    assert f.verdict == Verdict.VIOLATION
    assert "Zaporizhzhia nuclear power plant" in f.explanation
    # 5 km from it (radius 2 km), clear of every other site: no finding under the rule
    lon, lat, _ = GEOD.fwd(34.5858, 47.5122, 270.0, 5000.0)
    r = report(Kind.EXPLOSION, lon, lat, explosion_type=ExplosionType.IMPACT)
    assert not [f for f in verify(loc, [r]).findings if f.rule_id == "protected-infrastructure"]


def test_impact_straddling_a_site_boundary_is_indeterminate(loc):
    # 2 km from the ZNPP (its radius), known to +-1.5 km
    lon, lat, _ = GEOD.fwd(34.5858, 47.5122, 270.0, 2000.0)
    r = report(Kind.EXPLOSION, lon, lat, radius_m=1500, explosion_type=ExplosionType.IMPACT)
    f = only(verify(loc, [r]).findings, "protected-infrastructure")
    assert f.verdict == Verdict.INDETERMINATE
    assert 0.1 < f.probability < 0.9


def test_window_of_silence_at_the_filtration_station(loc):
    inside = report(Kind.EXPLOSION, 37.78, 48.16, time=utc(2025, 6, 10, 9),
                    explosion_type=ExplosionType.IMPACT)
    after = report(Kind.EXPLOSION, 37.78, 48.16, time=utc(2025, 6, 10, 16),
                   explosion_type=ExplosionType.IMPACT)  # 19:00 Kyiv: window closed at 18:00
    v = verify(loc, [inside, after])
    assert only(v.findings_for(inside.id), "dfs-repair-window").verdict == Verdict.VIOLATION
    assert not [f for f in v.findings_for(after.id) if f.rule_id == "dfs-repair-window"]
    # the general ceasefire covers both
    assert only(v.findings_for(after.id), "ceasefire").verdict == Verdict.VIOLATION


def test_fire_in_a_disengagement_area_and_before_the_start(loc):
    r = report(Kind.BURSTS_AND_SHOTS, 37.84445, 48.36255)  # centre of the Toretsk area
    f = only(verify(loc, [r]).findings, "disengagement-areas")
    assert f.verdict == Verdict.VIOLATION
    early = report(Kind.BURSTS_AND_SHOTS, 37.84445, 48.36255, time=utc(2025, 5, 31, 20))
    assert verify(loc, [early]).findings == ()  # 23:00 Kyiv time, before the notional start


def test_fire_across_the_line(loc):
    impact_lon, impact_lat = off_line(loc, ANCHOR_KM, 8, "right")
    origin_lon, origin_lat = off_line(loc, ANCHOR_KM, 12, "left")
    r = report(Kind.EXPLOSION, impact_lon, impact_lat, explosion_type=ExplosionType.IMPACT,
               origin=Location.point(origin_lon, origin_lat, 500))
    f = only(verify(loc, [r]).findings, "no-fire-across-line")
    assert f.verdict == Verdict.VIOLATION and f.party == "ru"


# -- mirroring: impartiality ------------------------------------------------------------------

def _swap_sides(text: str) -> str:
    return (text.replace("side: right", "side: @@").replace("side: left", "side: right")
            .replace("side: @@", "side: left"))


def test_mirroring_swaps_parties_and_keeps_verdicts(loc):
    mirrored = load("line-of-contact.yaml", _swap_sides((EXAMPLES / "line-of-contact.yaml").read_text()))
    assert mirrored.side_of == {"ua": "left", "ru": "right"}
    swap = {"ua": "ru", "ru": "ua", None: None}
    recs = []
    for i, (dist, side) in enumerate([(20, "left"), (30, "right"), (60, "left"), (10, "right"),
                                      (15, "left"), (3, "right")]):
        lon, lat = off_line(loc, ANCHOR_KM, dist, side)
        recs.append(report(Kind.WEAPON_SIGHTING, lon, lat, rid=f"w{i}", radius_m=2000,
                           weapon_class=["D-30", "BM-21", "Smerch", "T-72", "2B11", "BM-21"][i],
                           party=["ru", "ua", None, "ua", "ru", None][i]))
        recs.append(report(Kind.EXPLOSION, lon, lat, rid=f"x{i}", radius_m=300,
                           explosion_type=ExplosionType.OUTGOING))
    recs.append(report(Kind.EXPLOSION, 34.575, 47.51, rid="znpp", explosion_type=ExplosionType.IMPACT))
    flipped = [Report(**{**{s: getattr(r, s) for s in Report.__slots__}, "party": swap[r.party]})
               for r in recs]
    a, b = verify(loc, recs), verify(mirrored, flipped)
    assert len(a.findings) == len(b.findings) > len(recs)
    for fa, fb in zip(a.findings, b.findings):
        assert (fa.record_id, fa.rule_id, fa.verdict) == (fb.record_id, fb.rule_id, fb.verdict)
        assert fa.probability == pytest.approx(fb.probability, abs=1e-9)
        assert fb.party == swap[fa.party]
    assert any(f.party is not None for f in a.findings)
    for pa, pb in zip(a.places, b.places):
        assert pb.side == swap[pa.side]
        assert pa.side is not None or pa.record_id == "w5"


# -- energy moratorium ------------------------------------------------------------------------

RYAZAN = (39.7041, 54.627)


def test_strike_on_a_refinery_during_the_moratorium(energy):
    r = report(Kind.INFRASTRUCTURE_STRIKE, *RYAZAN, time=utc(2025, 3, 25, 3), category="oil_refinery",
               party="ua")
    f = only(verify(energy, [r]).findings, "energy-moratorium")
    assert f.verdict == Verdict.VIOLATION and f.party == "ua" and f.probability == 1.0


def test_impact_at_a_protected_site_during_the_moratorium(energy):
    r = report(Kind.EXPLOSION, 35.271, 51.191, time=utc(2025, 3, 21, 6),
               explosion_type=ExplosionType.IMPACT)  # Sudzha gas metering station
    f = only(verify(energy, [r]).findings, "energy-moratorium")
    assert f.verdict == Verdict.VIOLATION and "Sudzha gas metering station" in f.explanation


def test_strike_after_the_moratorium_gives_no_finding(energy):
    r = report(Kind.INFRASTRUCTURE_STRIKE, *RYAZAN, time=utc(2025, 4, 20, 3), category="oil_refinery")
    assert verify(energy, [r]).findings == ()
    # the first minute after expiry (00:00 Moscow time on 17 April) is already outside it
    r = report(Kind.INFRASTRUCTURE_STRIKE, *RYAZAN, time=utc(2025, 4, 16, 21, 0),
               category="oil_refinery")
    assert verify(energy, [r]).findings == ()


def test_week_precision_straddling_the_end_reduces_the_probability(energy):
    # the true time lies in [14 April 00:00, 21 April 00:00) Moscow time; the moratorium ends
    # at 17 April 00:00, so 3 of the 7 days are in force
    r = report(Kind.INFRASTRUCTURE_STRIKE, *RYAZAN, time=utc(2025, 4, 13, 21),
               time_precision=TimePrecision.WEEK, category="oil_refinery")
    f = only(verify(energy, [r]).findings, "energy-moratorium")
    assert f.probability == pytest.approx(3 / 7, abs=1e-6)
    assert f.verdict == Verdict.INDETERMINATE


# -- Korea ------------------------------------------------------------------------------------

WEST_KM, EAST_KM = 70.0, 150.0  # straight stretches of the notional MDL, south side


@pytest.mark.parametrize("aircraft,dist,chain,expected", [
    ("fixed_wing", 30, EAST_KM, Verdict.VIOLATION),   # 30 < 40 (East)
    ("fixed_wing", 30, WEST_KM, Verdict.COMPLIANT),   # 30 > 20 (West)
    ("fixed_wing", 15, WEST_KM, Verdict.VIOLATION),   # 15 < 20 (West)
    ("uav", 12, WEST_KM, Verdict.COMPLIANT),          # 12 > 10 (West)
    ("uav", 12, EAST_KM, Verdict.VIOLATION),          # 12 < 15 (East)
    ("balloon", 20, WEST_KM, Verdict.VIOLATION),      # 20 < 25
    ("balloon", 20, EAST_KM, Verdict.VIOLATION),
    ("rotary_wing", 12, EAST_KM, Verdict.COMPLIANT),  # 12 > 10
    ("rotary_wing", 8, WEST_KM, Verdict.VIOLATION),   # 8 < 10
])
def test_no_fly_distances_by_type_and_sector(korea, aircraft, dist, chain, expected):
    lon, lat = off_line(korea, chain, dist, "right")
    assert distance_km(korea, lon, lat) == pytest.approx(dist, abs=0.2)
    r = report(Kind.AIRCRAFT_SIGHTING, lon, lat, time=utc(2019, 5, 1), aircraft_type=aircraft,
               party="rok")
    v = verify(korea, [r])
    assert v.places[0].sector == ("east" if chain == EAST_KM else "west")
    assert v.places[0].side == "rok"
    f = only(v.findings, "cma-2018-no-fly")
    assert f.verdict == expected and f.party == "rok"


def test_exempt_purpose_is_compliant(korea):
    lon, lat = off_line(korea, EAST_KM, 30, "right")
    for purpose in ("medical_evacuation", "commercial"):
        r = report(Kind.AIRCRAFT_SIGHTING, lon, lat, time=utc(2019, 5, 1),
                   aircraft_type="fixed_wing", purpose=purpose)
        f = only(verify(korea, [r]).findings, "cma-2018-no-fly")
        assert f.verdict == Verdict.COMPLIANT and "exempt" in f.explanation


def test_no_fly_rule_not_in_force_before_november_2018(korea):
    lon, lat = off_line(korea, EAST_KM, 30, "right")
    r = report(Kind.AIRCRAFT_SIGHTING, lon, lat, time=utc(2018, 10, 31, 14),
               aircraft_type="fixed_wing")  # 23:00 Seoul time, 31 Oct 2018
    assert verify(korea, [r]).findings == ()


def test_fire_within_the_dmz(korea):
    inside = report(Kind.EXPLOSION, *off_line(korea, WEST_KM, 1.5, "left"),
                    time=utc(2020, 1, 1), explosion_type=ExplosionType.IMPACT)
    buffer = report(Kind.EXPLOSION, *off_line(korea, WEST_KM, 4, "left"),
                    time=utc(2020, 1, 1), explosion_type=ExplosionType.IMPACT)
    outside = report(Kind.EXPLOSION, *off_line(korea, WEST_KM, 8, "left"),
                     time=utc(2020, 1, 1), explosion_type=ExplosionType.IMPACT)
    v = verify(korea, [inside, buffer, outside])
    assert only(v.findings_for(inside.id), "armistice-no-hostile-acts").verdict == Verdict.VIOLATION
    assert only(v.findings_for(buffer.id), "armistice-no-hostile-acts").verdict == Verdict.COMPLIANT
    assert only(v.findings_for(buffer.id), "cma-2018-ground-buffer").verdict == Verdict.VIOLATION
    assert all(f.verdict == Verdict.COMPLIANT for f in v.findings_for(outside.id))
