"""The gazetteer: nearest settlement, SMM-style descriptions, name resolution."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linewatch.errors import LinewatchError, NotFound
from linewatch.formats.resources import load_boundaries, load_gazetteer
from linewatch.geo import COMPASS_8, GEOD, IN_SETTLEMENT_M, Gazetteer, compass_8, fold_name

# A few settlements near the 2015-2022 line of contact (GeoNames positions).
TOWNS = [
    # name, asciiname, lon, lat, population, country
    ("Horlivka", "Horlivka", 38.01709, 48.29986, 239828, "UA"),
    ("Zolote", "Zolote", 38.51512, 48.69516, 13007, "UA"),
    ("Shyrokyne", "Shyrokyne", 37.81795, 47.09839, 1180, "UA"),
    ("Mariupol", "Mariupol", 37.54131, 47.09514, 431859, "UA"),
    ("Avdiivka", "Avdiivka", 37.74248, 48.13989, 35826, "UA"),
    ("Chișinău", "Chisinau", 28.85938, 47.00902, 635994, "MD"),
    ("Zolote", "Zolote", 30.0, 50.0, 600, "UA"),      # a smaller namesake
    ("Zolote", "Zolote", 28.0, 47.5, 900000, "MD"),    # a (fictional) bigger one abroad
]


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    names, ascii_, lon, lat, pop, cc = zip(*TOWNS)
    return Gazetteer(names, lon, lat, pop, cc, ["x"] * len(TOWNS), asciinames=ascii_)


def _offset(lon, lat, az, dist_m):
    plon, plat, _ = GEOD.fwd(lon, lat, az, dist_m)
    return float(plon), float(plat)


# -- describe: known answers -----------------------------------------------------------------

def test_four_km_south_west(gaz):
    lon, lat = _offset(38.01709, 48.29986, 225.0, 4000.0)
    assert gaz.describe(lon, lat) == ["4 km south-west of Horlivka"]


@pytest.mark.parametrize("az, word", [(0, "north"), (44, "north-east"), (90, "east"),
                                      (140, "south-east"), (180, "south"), (250, "west"),
                                      (300, "north-west"), (337, "north-west"), (338, "north")])
def test_compass_words_from_settlement_to_point(gaz, az, word):
    lon, lat = _offset(38.01709, 48.29986, az, 6000.0)
    assert gaz.describe([lon], [lat]) == [f"6 km {word} of Horlivka"]


def test_own_coordinates_are_in_the_settlement(gaz):
    assert gaz.describe([38.01709, 37.81795], [48.29986, 47.09839]) == [
        "in Horlivka", "in Shyrokyne"]


def test_in_threshold_and_one_km_minimum(gaz):
    inside = _offset(38.51512, 48.69516, 90, IN_SETTLEMENT_M - 1)
    outside = _offset(38.51512, 48.69516, 90, IN_SETTLEMENT_M + 1)
    assert gaz.describe(*zip(inside, outside)) == ["in Zolote", "1 km east of Zolote"]


def test_distance_rounds_half_up(gaz):
    pts = [_offset(38.01709, 48.29986, 0, d) for d in (2499.0, 2501.0)]
    assert gaz.describe(*zip(*pts)) == ["2 km north of Horlivka", "3 km north of Horlivka"]


def test_min_population_skips_villages(gaz):
    # 1.6 km from Shyrokyne (a village), about 22 km from Mariupol
    lon, lat = _offset(37.81795, 47.09839, 90, 1600.0)
    assert gaz.describe(lon, lat) == ["2 km east of Shyrokyne"]
    (text,) = gaz.describe(lon, lat, min_population=100_000)
    assert re.fullmatch(r"\d+ km east of Mariupol", text)
    with pytest.raises(NotFound):
        gaz.describe(lon, lat, min_population=10**9)


def test_compass_8_sectors():
    assert list(compass_8([0, 22.49, 22.5, 359.9, -10, 720 + 180])) == [
        "north", "north", "north-east", "north", "north", "south"]


def test_nearest_shapes_and_empty(gaz):
    idx, dist, az = gaz.nearest([], [])
    assert idx.shape == dist.shape == az.shape == (0,)
    idx, dist, az = gaz.nearest(38.01709, 48.29986)
    assert gaz.names[idx[0]] == "Horlivka" and dist[0] == 0.0 and az[0] == 0.0
    with pytest.raises(ValueError):
        gaz.nearest([1.0, 2.0], [3.0])


def test_bad_columns_are_rejected():
    with pytest.raises(ValueError, match="lon"):
        Gazetteer(["a", "b"], [1.0], [2.0, 3.0])
    with pytest.raises(ValueError, match="lon/lat"):
        Gazetteer(["a"], [200.0], [2.0])


# -- resolve -------------------------------------------------------------------------------

def test_resolve_ignores_case_and_diacritics(gaz):
    expected = (28.85938, 47.00902)
    for spelling in ("Chișinău", "chisinau", "CHIŞINĂU", "  Chisinau "):
        assert gaz.resolve(spelling) == expected


def test_resolve_picks_the_most_populous(gaz):
    assert gaz.resolve("zolote") == (28.0, 47.5)
    assert gaz.resolve("Zolote", country="UA") == (38.51512, 48.69516)
    assert gaz.resolve("Zolote", country="ua") == (38.51512, 48.69516)


def test_resolve_not_found(gaz):
    with pytest.raises(NotFound) as err:
        gaz.resolve("Atlantis")
    assert err.value.kind == "settlement" and err.value.key == "Atlantis"
    assert isinstance(err.value, LinewatchError) and "Atlantis" in str(err.value)
    with pytest.raises(NotFound):
        gaz.resolve("Horlivka", country="MD")


def test_fold_name():
    assert fold_name("Zhigulëvsk") == fold_name("ZHIGULEVSK") == "zhigulevsk"
    assert fold_name("Yur’yev-Pol’skiy") == fold_name("yur'yev pol'skiy")
    assert fold_name("Łańcut") == "lancut"


# -- invariants ----------------------------------------------------------------------------

points = st.lists(st.tuples(st.floats(36.5, 39.5), st.floats(46.5, 49.0)), min_size=1, max_size=25)


@settings(max_examples=40, deadline=None)
@given(points, st.randoms(use_true_random=False))
def test_answers_do_not_depend_on_point_order(gaz, pts, rnd):
    perm = list(range(len(pts)))
    rnd.shuffle(perm)
    lon, lat = np.array(pts).T
    idx, dist, az = gaz.nearest(lon, lat)
    idx2, dist2, az2 = gaz.nearest(lon[perm], lat[perm])
    np.testing.assert_array_equal(idx[perm], idx2)
    np.testing.assert_array_equal(dist[perm], dist2)
    np.testing.assert_array_equal(az[perm], az2)
    text = gaz.describe(lon, lat)
    assert [text[i] for i in perm] == gaz.describe(lon[perm], lat[perm])


@settings(max_examples=40, deadline=None)
@given(points)
def test_stated_distance_and_direction_match_geod(gaz, pts):
    lon, lat = np.array(pts).T
    for (plon, plat), text in zip(pts, gaz.describe(lon, lat)):
        # brute force: the geodesically nearest settlement
        az, _, d = GEOD.inv(gaz.lon, gaz.lat, np.full(len(gaz), plon), np.full(len(gaz), plat))
        i = int(np.argmin(d))
        if d[i] < IN_SETTLEMENT_M:
            assert text == f"in {gaz.names[i]}"
            continue
        m = re.fullmatch(r"(\d+) km ([a-z-]+) of (.+)", text)
        assert m, text
        assert m.group(3) == gaz.names[i]
        assert abs(int(m.group(1)) - d[i] / 1000.0) <= 0.5 + 1e-9
        sector = COMPASS_8.index(m.group(2))
        diff = (az[i] - sector * 45.0 + 180.0) % 360.0 - 180.0
        assert abs(diff) <= 22.5 + 1e-9


# -- the packaged data ---------------------------------------------------------------------

def test_packaged_gazetteer_known_places():
    gaz = load_gazetteer()
    assert len(gaz) > 10_000
    assert gaz.resolve("Horlivka") == pytest.approx((38.01709, 48.29986))
    assert gaz.resolve("kaesong", country="KP") == pytest.approx((126.55444, 37.97083), abs=1e-4)
    assert gaz.resolve("stanytsya luhanska")[0] == pytest.approx(39.48, abs=0.01)
    lon, lat = _offset(*gaz.resolve("Horlivka"), 225.0, 4000.0)
    assert gaz.describe(lon, lat, min_population=100_000) == ["4 km south-west of Horlivka"]
    # villages are included in Ukraine
    assert int((gaz.population[gaz.country == "UA"] < 1000).sum()) > 1000
    assert load_gazetteer() is gaz  # cached


def test_packaged_boundaries_are_valid_and_put_crimea_in_ukraine():
    import shapely
    b = load_boundaries()
    by_iso = {iso: geom for _, iso, geom in b}
    assert {"UKR", "RUS", "BLR", "MDA", "POL", "ROU", "KOR", "PRK"} <= set(by_iso)
    assert all(geom.is_valid and not geom.is_empty for _, _, geom in b)
    assert b.coverage.bounds == (20.0, 32.0, 133.0, 58.0)   # the two extract boxes
    assert all(b.coverage.covers(geom) for _, _, geom in b)
    assert by_iso["UKR"].contains(shapely.Point(34.10, 44.95))  # Simferopol
    assert by_iso["PRK"].contains(shapely.Point(125.75, 39.02))  # Pyongyang
    # shared borders are shared: neighbours do not overlap
    assert by_iso["UKR"].intersection(by_iso["RUS"]).area < 1e-8
    assert math.isclose(shapely.union_all([g for *_, g in b]).area, sum(g.area for *_, g in b),
                        rel_tol=1e-9)
