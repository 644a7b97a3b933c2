"""Terrain: elevations, line of sight (curvature, refraction, ridges), the visibility matrix,
and reading DEMs (GeoTIFF round trip, projected vs geographic CRS, bad files)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import rasterio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pyproj import Transformer
from rasterio.errors import NotGeoreferencedWarning
from scipy.ndimage import gaussian_filter

from linewatch.errors import InputError
from linewatch.formats.dem import read_dem, synthetic_elevation, write_synthetic_dem
from linewatch.geo import EARTH_RADIUS_M, GEOD, REFRACTION_K, Terrain
from linewatch.geo import terrain as terrain_module

UTM37 = 32637
TO_LONLAT = Transformer.from_crs(UTM37, 4326, always_xy=True)


def flat_utm(rows: int, cols: int, cell: float, z: float = 0.0) -> Terrain:
    """Flat ground in UTM 37N with its north-west corner at 350 km E, 5,380 km N (~37° E 48.5° N)."""
    return Terrain(np.full((rows, cols), z, dtype=np.float32),
                   (cell, 0.0, 350_000.0, 0.0, -cell, 5_380_000.0), UTM37)


def rough_wgs84(seed: int, scale_m: float, *, shape=(120, 160), holes: bool = False) -> Terrain:
    """Smooth random relief on a 0.0004° grid (about 30 × 45 m) in EPSG:4326."""
    rng = np.random.default_rng(seed)
    z = gaussian_filter(rng.normal(size=shape), 6) * scale_m * 10 + 200
    if holes:
        z[rng.random(shape) < 0.02] = -9999.0
    return Terrain(z.astype(np.float32), (0.0004, 0.0, 37.0, 0.0, -0.0004, 48.2), 4326,
                   -9999.0 if holes else None)


def random_points(terrain: Terrain, n: int, seed: int, margin: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a, _, c, _, e, f = terrain.transform
    rows, cols = terrain.shape
    lon = rng.uniform(c + margin, c + a * cols - margin, n)
    lat = rng.uniform(f + e * rows + margin, f - margin, n)
    return np.column_stack([lon, lat])


def brute_force_los(terrain: Terrain, p0, h0, p1, h1, *, k=REFRACTION_K) -> np.ndarray:
    """Every profile sample, one pair at a time, in lon/lat (the grid is EPSG:4326)."""
    step = terrain.cell_size_m
    curv = (1 - k) / (2 * EARTH_RADIUS_M)
    out = np.ones(len(p0), dtype=bool)
    for i, ((lon0, lat0), (lon1, lat1)) in enumerate(zip(p0, p1)):
        _, _, dist = GEOD.inv(lon0, lat0, lon1, lat1)
        e0 = terrain.elevation_at(lon0, lat0) + h0[i]
        e1 = terrain.elevation_at(lon1, lat1) + h1[i]
        if not (np.isfinite(e0) and np.isfinite(e1)):
            continue
        n = max(1, math.ceil(dist / step))
        t = np.arange(1, n) / n
        z = terrain.elevation_at(lon0 + t * (lon1 - lon0), lat0 + t * (lat1 - lat0))
        line = e0 + t * (e1 - e0) - curv * dist * dist * t * (1 - t)
        out[i] = not np.any(z > line + 1e-9)
    return out


# ---- elevations -----------------------------------------------------------------------------

def test_elevation_is_bilinear_and_nan_outside():
    rows, cols = np.mgrid[0:20, 0:30]
    plane = 100 + 2.0 * cols - 3.0 * rows                  # bilinear interpolation is exact
    terrain = Terrain(plane.astype(float), (0.01, 0, 37.0, 0, -0.01, 48.0), 4326)
    lon = 37.0 + np.array([0.005, 0.123, 0.2899, 0.15])    # cell centres at 37.005 + 0.01 k
    lat = 48.0 - np.array([0.005, 0.077, 0.1901, 0.15])
    expected = 100 + 2.0 * ((lon - 37.0) / 0.01 - 0.5) - 3.0 * ((48.0 - lat) / 0.01 - 0.5)
    np.testing.assert_allclose(terrain.elevation_at(lon, lat), expected, atol=1e-9)
    outside = terrain.elevation_at([36.99, 37.1, 37.31], [47.9, 48.01, 47.9])
    assert np.isnan(outside).all()
    # between the last cell centre and the raster's edge, the edge cell's value extends
    assert terrain.elevation_at(37.2999, 47.9999) == pytest.approx(100 + 2.0 * 29)


def test_terrain_rejects_bad_arrays():
    with pytest.raises(ValueError, match="2-D"):
        Terrain(np.zeros(5), (1, 0, 0, 0, -1, 0), UTM37)
    with pytest.raises(ValueError, match="invertible"):
        Terrain(np.zeros((3, 3)), (1, 0, 0, 2, 0, 0), UTM37)
    with pytest.raises(ValueError, match="crs"):
        Terrain(np.zeros((3, 3)), (1, 0, 0, 0, -1, 0), "not a crs")


# ---- flat ground, the horizon ----------------------------------------------------------------

def test_flat_ground_everything_in_range_is_visible():
    terrain = flat_utm(300, 300, 50.0, z=150.0)            # 15 km square
    rng = np.random.default_rng(5)
    x, y = rng.uniform(350_000, 365_000, 260), rng.uniform(5_365_000, 5_380_000, 260)
    pts = np.column_stack(TO_LONLAT.transform(x, y))
    obs, tgt = pts[:60], pts[60:]
    vis = terrain.visibility_matrix(obs, tgt, 5.0, 2.0, 4_000.0)
    i, j = np.meshgrid(np.arange(len(obs)), np.arange(len(tgt)), indexing="ij")
    _, _, dist = GEOD.inv(obs[i.ravel(), 0], obs[i.ravel(), 1], tgt[j.ravel(), 0],
                          tgt[j.ravel(), 1])
    in_range = (np.asarray(dist) <= 4_000.0).reshape(i.shape)
    assert in_range.sum() > 200
    np.testing.assert_array_equal(vis.toarray(), in_range)


def horizon_km(h1: float, h2: float, k: float) -> float:
    """Distance at which two heights over a smooth earth just see each other."""
    return math.sqrt(2 * EARTH_RADIUS_M / (1 - k)) * (math.sqrt(h1) + math.sqrt(h2)) / 1000


@pytest.mark.parametrize("h1, h2", [(10.0, 10.0), (2.0, 30.0), (25.0, 0.5)])
@pytest.mark.parametrize("k", [0.0, REFRACTION_K])
def test_horizon_over_flat_ground(h1, h2, k):
    if k == 0.0:   # the textbook rule: d ≈ 3.57 (√h1 + √h2) km without refraction
        assert horizon_km(h1, h2, k) == pytest.approx(3.57 * (math.sqrt(h1) + math.sqrt(h2)),
                                                      rel=1e-3)
    else:          # with standard refraction the horizon is about 7 % further: 3.83 km
        assert horizon_km(h1, h2, k) == pytest.approx(3.83 * (math.sqrt(h1) + math.sqrt(h2)),
                                                      rel=1e-3)
    terrain = flat_utm(60, 360, 100.0)                     # 36 km east–west
    lon0, lat0 = TO_LONLAT.transform(351_000.0, 5_377_000.0)
    d = horizon_km(h1, h2, k) * 1000 * np.array([0.5, 0.98, 1.02, 1.3])
    lon1, lat1, _ = GEOD.fwd(np.full(4, lon0), np.full(4, lat0), np.full(4, 90.0), d)
    seen = terrain.line_of_sight(lon0, lat0, h1, lon1, lat1, h2, refraction_k=k)
    assert seen.tolist() == [True, True, False, False]
    flat_earth = terrain.line_of_sight(lon0, lat0, h1, lon1, lat1, h2, earth_curvature=False)
    assert flat_earth.all()


# ---- ridges ------------------------------------------------------------------------------------

def ridge_wgs84() -> Terrain:
    """A north–south ridge at 37.10° E, 200 m above flat ground at 100 m, 1 km half width."""
    lon = 37.0 + (np.arange(500) + 0.5) * 0.0004
    lat = 48.2 - (np.arange(250) + 0.5) * 0.0003
    z = synthetic_elevation(lon[None, :], lat[:, None],
                            ridges=[(37.10, 47.0, 37.10, 49.0, 200.0, 1000.0)])
    return Terrain(z, (0.0004, 0.0, 37.0, 0.0, -0.0003, 48.2), 4326)


def eye_needed(lon0, lon1, lat, h1, *, curvature):
    """The lowest eye at lon0 that sees h1 above the ground at lon1 over the synthetic ridge,
    from the continuous surface (not the grid)."""
    _, _, dist = GEOD.inv(lon0, lat, lon1, lat)
    f = np.linspace(0.0, 1.0, 20_001)[1:-1]
    z = synthetic_elevation(lon0 + f * (lon1 - lon0), lat,
                            ridges=[(37.10, 47.0, 37.10, 49.0, 200.0, 1000.0)])
    z1 = synthetic_elevation(lon1, lat, ridges=[(37.10, 47.0, 37.10, 49.0, 200.0, 1000.0)])
    if curvature:
        z = z + (1 - REFRACTION_K) * dist * dist * f * (1 - f) / (2 * EARTH_RADIUS_M)
    return float(np.max((z - f * (z1 + h1)) / (1 - f)))


def test_ridge_between_observer_and_target_blocks():
    terrain = ridge_wgs84()
    lat = 48.16
    west, _, _ = GEOD.fwd(37.10, lat, 270.0, 2_000.0)      # 2 km west of the crest
    east, _, _ = GEOD.fwd(37.10, lat, 90.0, 3_000.0)       # 3 km east of it
    far_west, _, _ = GEOD.fwd(37.10, lat, 270.0, 5_000.0)
    assert not terrain.line_of_sight(west, lat, 5.0, east, lat, 2.0)
    assert terrain.line_of_sight(west, lat, 5.0, far_west, lat, 2.0)   # same side
    # over the crest (300 m) from 2 km of 5 km the eye must be above 0.6 e0 + 0.4 * 102 = 300,
    # e0 = 432 m; a little more, as the sightline grazes the ridge's far slope
    for curvature in (False, True):
        need = eye_needed(west, east, lat, 2.0, curvature=curvature) - 100.0
        assert 332.0 < need < 340.0
        assert terrain.line_of_sight(west, lat, need + 0.5, east, lat, 2.0,
                                     earth_curvature=curvature)
        assert not terrain.line_of_sight(west, lat, need - 0.5, east, lat, 2.0,
                                         earth_curvature=curvature)
    # the bulge of the earth at the crest (0.87 * 2 km * 3 km / 2R = 0.41 m) shows in the eye
    assert eye_needed(west, east, lat, 2.0, curvature=True) - eye_needed(
        west, east, lat, 2.0, curvature=False) == pytest.approx(0.41 / 0.6, abs=0.05)


@pytest.mark.parametrize("seed, scale, holes", [(1, 10.0, False), (2, 30.0, False),
                                                (3, 300.0, False), (4, 30.0, True)])
def test_line_of_sight_tests_every_sample(seed, scale, holes):
    """The coarse-to-fine search gives exactly what testing every profile sample gives."""
    terrain = rough_wgs84(seed, scale, holes=holes)
    rng = np.random.default_rng(seed)
    p0, p1 = random_points(terrain, 300, seed), random_points(terrain, 300, seed + 100)
    h0, h1 = rng.uniform(0, 40, 300), rng.uniform(0, 40, 300)
    got = terrain.line_of_sight(p0[:, 0], p0[:, 1], h0, p1[:, 0], p1[:, 1], h1)
    np.testing.assert_array_equal(got, brute_force_los(terrain, p0, h0, p1, h1))
    assert 0.1 < got.mean() < 0.9                          # a mix of both answers


def test_visibility_matrix_agrees_with_line_of_sight():
    terrain = rough_wgs84(7, 30.0)
    obs, tgt = random_points(terrain, 40, 1), random_points(terrain, 70, 2)
    vis = terrain.visibility_matrix(obs, tgt, 10.0, np.linspace(0, 20, 70), 3_000.0)
    i, j = (v.ravel() for v in np.meshgrid(np.arange(40), np.arange(70), indexing="ij"))
    _, _, dist = GEOD.inv(obs[i, 0], obs[i, 1], tgt[j, 0], tgt[j, 1])
    los = terrain.line_of_sight(obs[i, 0], obs[i, 1], 10.0, tgt[j, 0], tgt[j, 1],
                                np.linspace(0, 20, 70)[j])
    expected = (los & (np.asarray(dist) <= 3_000.0)).reshape(40, 70)
    assert vis.dtype == bool and vis.format == "csr"
    np.testing.assert_array_equal(vis.toarray(), expected)
    assert 0 < vis.nnz < (np.asarray(dist) <= 3_000.0).sum()


def test_blocks_and_chunks_do_not_change_the_answer(monkeypatch):
    terrain = rough_wgs84(8, 30.0)
    obs, tgt = random_points(terrain, 60, 3), random_points(terrain, 80, 4)
    whole = terrain.visibility_matrix(obs, tgt, 5.0, 2.0, 2_500.0)
    monkeypatch.setattr(terrain_module, "_BLOCK_PAIRS", 97)      # many blocks of pairs
    monkeypatch.setattr(terrain_module, "_CHUNK_ITEMS", 61)      # many chunks of samples
    parts = terrain.visibility_matrix(obs, tgt, 5.0, 2.0, 2_500.0)
    assert whole.nnz > 100 and (whole != parts).nnz == 0


def test_pairs_off_the_grid_count_as_visible():
    terrain = ridge_wgs84()
    inside = [37.05, 48.15]
    outside = [37.25, 48.15]                               # east of the grid, beyond the ridge
    assert terrain.line_of_sight(*inside, 2.0, *outside, 2.0)
    assert terrain.line_of_sight(*outside, 2.0, *inside, 2.0)
    vis = terrain.visibility_matrix([inside], [outside, [37.9, 48.15]], 2.0, 2.0, 20_000.0)
    assert vis.toarray().tolist() == [[True, False]]       # the second is out of range


# ---- symmetry (Hypothesis) -------------------------------------------------------------------

GRID = arrays(np.float64, (12, 14), elements=st.floats(0, 60, allow_nan=False))
LON = st.floats(37.0, 37.014)
LAT = st.floats(47.988, 48.0)
HEIGHT = st.floats(0, 30, allow_nan=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grid=GRID, pts=st.lists(st.tuples(LON, LAT, HEIGHT, LON, LAT, HEIGHT), min_size=1,
                                  max_size=20),
       curvature=st.booleans())
def test_line_of_sight_is_symmetric(grid, pts, curvature):
    """A sees B from h1 to h2 if and only if B sees A from h2 to h1."""
    terrain = Terrain(grid, (0.001, 0.0, 37.0, 0.0, -0.001, 48.0), 4326)
    lon0, lat0, h0, lon1, lat1, h1 = (np.array(v) for v in zip(*pts))
    ab = terrain.line_of_sight(lon0, lat0, h0, lon1, lat1, h1, earth_curvature=curvature,
                               step_m=40.0)
    ba = terrain.line_of_sight(lon1, lat1, h1, lon0, lat0, h0, earth_curvature=curvature,
                               step_m=40.0)
    np.testing.assert_array_equal(ab, ba)


@settings(max_examples=60, deadline=None)
@given(grid=GRID, a=st.lists(st.tuples(LON, LAT), min_size=1, max_size=8),
       b=st.lists(st.tuples(LON, LAT), min_size=1, max_size=8), ha=HEIGHT, hb=HEIGHT)
def test_visibility_matrix_is_symmetric(grid, a, b, ha, hb):
    terrain = Terrain(grid, (0.001, 0.0, 37.0, 0.0, -0.001, 48.0), 4326)
    ab = terrain.visibility_matrix(a, b, ha, hb, 1_200.0)
    ba = terrain.visibility_matrix(b, a, hb, ha, 1_200.0)
    np.testing.assert_array_equal(ab.toarray(), ba.toarray().T)


# ---- DEM files ---------------------------------------------------------------------------------

BOX = (37.0, 48.0, 37.2, 48.1)
FEATURES = dict(ridges=[(37.1, 47.9, 37.1, 48.2, 200.0, 1_000.0)],
                hills=[(37.05, 48.05, 350.0, 1_500.0)])


def test_geotiff_round_trip(tmp_path):
    path = tmp_path / "dem.tif"
    written = write_synthetic_dem(path, BOX, crs=UTM37, cell_m=60.0, **FEATURES)
    read = read_dem(path)
    assert read.crs == UTM37 and read.nodata is None
    assert read.transform == pytest.approx(written.transform)
    np.testing.assert_array_equal(read.elevation, written.elevation)
    assert read.cell_size_m == pytest.approx(60.0, rel=2e-3)   # UTM scale factor near 37° E


def test_nodata_cells_do_not_block(tmp_path):
    path = tmp_path / "holes.tif"
    z = np.full((40, 60), 100.0, dtype=np.float32)
    z[:, 30] = 500.0                                       # a wall ...
    z[18:22, 30] = -32768.0                                # ... with a gap of no data
    with rasterio.open(path, "w", driver="GTiff", width=60, height=40, count=1, dtype="float32",
                       crs="EPSG:4326", transform=rasterio.Affine(0.001, 0, 37.0, 0, -0.001, 48.0),
                       nodata=-32768.0) as dst:
        dst.write(z, 1)
    terrain = read_dem(path)
    assert terrain.nodata == -32768.0
    assert np.isnan(terrain.elevation_at(37.0305, 47.98))
    assert terrain.line_of_sight(37.01, 47.98, 2.0, 37.05, 47.98, 2.0)       # through the gap
    assert not terrain.line_of_sight(37.01, 47.99, 2.0, 37.05, 47.99, 2.0)   # through the wall


@pytest.mark.parametrize("crs", [UTM37, 32636])
def test_projected_dem_gives_the_answers_of_the_geographic_one(tmp_path, crs):
    write_synthetic_dem(tmp_path / "geo.tif", BOX, crs=4326, cell_m=30.0, **FEATURES)
    geo = read_dem(tmp_path / "geo.tif")
    write_synthetic_dem(tmp_path / "utm.tif", BOX, crs=crs, cell_m=30.0, **FEATURES)
    utm = read_dem(tmp_path / "utm.tif")
    assert utm.crs == crs and geo.crs == 4326
    # the same surface: elevations agree to well under a metre
    pts = random_points(geo, 2_000, 3, margin=0.002)
    diff = geo.elevation_at(pts[:, 0], pts[:, 1]) - utm.elevation_at(pts[:, 0], pts[:, 1])
    assert np.nanmax(np.abs(diff)) < 1.0 and not np.isnan(diff).any()
    # the shadow of the ridge, seen from the top of the hill, ends at the same place (< 1 cell)
    lon = np.linspace(37.115, 37.19, 800)                  # every ~7 m, 1.1–6.7 km east of it
    lat = np.full(800, 48.05)
    ends = []
    for terrain in (geo, utm):
        seen = terrain.line_of_sight(37.05, 48.05, 5.0, lon, lat, 2.0)
        assert not seen[0] and seen[-1]
        first = int(np.argmax(seen))
        assert seen[first:].all()                          # one shadow, then visible
        ends.append(GEOD.inv(37.05, 48.05, lon[first], 48.05)[2])
    assert abs(ends[0] - ends[1]) < 30.0
    # and random pairs agree but for a few grazing sightlines
    p0, p1 = random_points(geo, 1_500, 4, 0.002), random_points(geo, 1_500, 5, 0.002)
    a = geo.line_of_sight(p0[:, 0], p0[:, 1], 5.0, p1[:, 0], p1[:, 1], 2.0)
    b = utm.line_of_sight(p0[:, 0], p0[:, 1], 5.0, p1[:, 0], p1[:, 1], 2.0)
    assert 0.1 < a.mean() < 0.9 and (a != b).mean() < 0.01


def _write_plain(path, *, crs=None, transform=None, count=1):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver="GTiff", width=8, height=6, count=count,
                           dtype="float32", crs=crs, transform=transform) as dst:
            for band in range(1, count + 1):
                dst.write(np.full((6, 8), 10.0 * band, dtype=np.float32), band)


def test_bad_files_raise_input_error_naming_the_file(tmp_path):
    missing = tmp_path / "missing.tif"
    with pytest.raises(InputError, match=r"missing\.tif: no such file"):
        read_dem(missing)
    text = tmp_path / "notes.tif"
    text.write_text("this is not a raster\n")
    with pytest.raises(InputError, match=r"notes\.tif: not a raster"):
        read_dem(text)
    no_crs = tmp_path / "no_crs.tif"
    _write_plain(no_crs, transform=rasterio.Affine(0.001, 0, 37.0, 0, -0.001, 48.0))
    with pytest.raises(InputError, match=r"no_crs\.tif: the raster has no CRS"):
        read_dem(no_crs)
    bare = tmp_path / "bare.tif"
    _write_plain(bare, crs="EPSG:4326")
    with pytest.raises(InputError, match=r"bare\.tif: the raster has no geotransform"):
        read_dem(bare)


def test_first_band_of_several(tmp_path):
    path = tmp_path / "three.tif"
    _write_plain(path, crs="EPSG:32637", transform=rasterio.Affine(30, 0, 4e5, 0, -30, 5.3e6),
                 count=3)
    terrain = read_dem(path)
    assert terrain.shape == (6, 8) and (terrain.elevation == 10.0).all()
