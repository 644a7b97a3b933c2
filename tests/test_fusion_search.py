"""Engine 3's association: candidates by back-projection, best first with exclusivity, the
ghost test by detection pattern, and the reassignment as an assignment."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.test_fusion import AGREEMENT, FRAME, PAIR, Y0, network, shots

from linewatch.fusion import FusionParams, fuse, prepare, reassign, tile_grid
from linewatch.fusion.candidates import Geometry, TileGrid
from linewatch.fusion.fitting import Fit, fit_rows
from linewatch.fusion.ghosts import DetectionPattern, candidate_bounds
from linewatch.fusion.search import best_first, n_toa_sensors
from linewatch.fusion.stacking import local_maxima, stack_candidates

PARAMS = FusionParams(temperature_c=15.0)
C = 340.4   # the speed of sound at 15 °C


def _block(events, *, clutter=0, seed=0):
    sensors, det, _, _ = shots(events, clutter=clutter, seed=seed)
    order = np.lexsort((det.ids.astype(str), det.time_s))
    det = det.take(order)
    p = prepare(sensors, det, FRAME)
    alive = np.ones(len(sensors), bool)
    grid = tile_grid(p, alive, PARAMS)
    rows = np.arange(len(det))
    return det, p, alive, grid, rows


def test_the_stack_peaks_at_the_source_with_every_sensor_that_heard_it():
    x, y, t0, _ = PAIR[0]
    det, p, _, grid, rows = _block([PAIR[0]], clutter=30, seed=1)
    geo = Geometry.of(p, rows, grid, C, PARAMS)
    cands = stack_candidates(p, rows, grid, geo, C, PARAMS, t0 - 30.0, t0 + 30.0, 5)
    score, cx, cy, ct = cands[0]
    heard = len({s for s, i in zip(det.sensor, det.ids) if str(i).startswith("e0")})
    assert np.hypot(cx - x, cy - y) <= 1_000.0 and abs(ct - t0) <= 2.0
    # most arrivals vote in its three bins (a source off the cell's centre spreads the rest)
    assert 0.75 * heard <= score <= heard + 3
    # strict maxima: no two candidates in one neighbourhood of cells and bins
    near = (np.abs(cands[:, 1] - cx) <= 1000) & (np.abs(cands[:, 2] - cy) <= 1000) \
        & (np.abs(cands[:, 3] - ct) <= 1.0)
    assert near.sum() == 1


def test_best_first_gives_each_detection_to_one_event_only():
    # two launches 3 km and 1.5 s apart: their arrivals interleave at every sensor
    events = [PAIR[0], (-6000.0, Y0 - 2000.0, PAIR[0][2] + 1.5, "launch")]
    det, p, alive, grid, rows = _block(events, clutter=40, seed=2)
    geo = Geometry.of(p, rows, grid, C, PARAMS)
    t0 = PAIR[0][2]
    cands = stack_candidates(p, rows, grid, geo, C, PARAMS, t0 - 30.0, t0 + 30.0, 10)
    free = np.ones(len(rows), bool)
    stats: dict[str, int] = {}
    fits = best_first(p, rows, free, cands, C, PARAMS, 10, lambda f: True, stats)
    assert len(fits) == 2
    taken = np.concatenate([f.rows for f in fits])
    assert len(taken) == len(set(taken.tolist()))
    assert not free[taken].any()
    for f in fits:
        events_held = {str(i).split("-")[0] for i in det.ids[f.rows]}
        assert len(events_held - {"c0"}) <= 2 and sum(e.startswith("e") for e in events_held) == 1


def test_a_real_event_passes_the_ghost_test_and_clutter_made_to_fit_fails():
    x, y, t0, _ = PAIR[0]
    det, p, alive, _, rows = _block([PAIR[0]], clutter=60, seed=3)
    ids = det.ids.astype(str)
    real = rows[np.char.startswith(ids, "e0")]
    fit = fit_rows(p, real, x, y, t0, C, PARAMS)
    assert fit is not None
    leftover = rows[~np.char.startswith(ids, "e0")]
    pattern = DetectionPattern.learn(p, [fit], alive, leftover, 600.0, PARAMS)
    assert pattern.llr(p, fit, alive, C, PARAMS, rows) > PARAMS.ghost_llr
    # a "ghost": five arrivals made to fit a source inside the network, its near sensors silent
    _, sx, sy = network()
    gx, gy, gt = 0.0, Y0 - 12_000.0, t0 + 300.0
    far = np.argsort(np.hypot(sx - gx, sy - gy))[6:11]
    ghost_t = gt + np.hypot(sx[far] - gx, sy[far] - gy) / C
    sensors, det2, _, _ = shots([PAIR[0]], clutter=60, seed=3)
    from linewatch.model import Detections
    extra = Detections.from_columns([f"g{k}" for k in range(5)], far.tolist(), ghost_t.tolist(),
                                    np.full(5, 0.02), temperature_c=np.full(5, 15.0))
    both = Detections.concat([det2, extra])
    both = both.take(np.lexsort((both.ids.astype(str), both.time_s)))
    p2 = prepare(sensors, both, FRAME)
    rows2 = np.arange(len(both))
    g_rows = rows2[np.char.startswith(both.ids.astype(str), "g")]
    ghost = fit_rows(p2, g_rows, gx, gy, gt, C, PARAMS, robust=False)
    assert ghost is not None and n_toa_sensors(p2, ghost) == 5
    assert pattern.llr(p2, ghost, alive, C, PARAMS, rows2) < PARAMS.ghost_llr


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 1_000))
def test_the_cheap_bound_is_never_below_the_ratio_it_stands_for(seed):
    x, y, t0, _ = PAIR[0]
    det, p, alive, _, rows = _block([PAIR[0]], clutter=40, seed=seed)
    real = rows[np.char.startswith(det.ids.astype(str), "e0")]
    fit = fit_rows(p, real, x, y, t0, C, PARAMS)
    assert fit is not None
    pattern = DetectionPattern.learn(p, [], alive, rows, 600.0, PARAMS)
    support = fit.rows[p.toa[fit.rows]]
    bound = pattern.bound(p, fit.x, fit.y, fit.t0, support, alive, C, PARAMS, rows, 2.0)
    llr = pattern.llr(p, fit, alive, C, PARAMS, rows)
    assert bound >= llr - 1e-9
    # and the same bound for many candidates at once, sensor by sensor
    cands = np.array([[len(support), fit.x, fit.y, fit.t0], [5.0, fit.x + 20_000.0, fit.y, fit.t0]])
    many = candidate_bounds(pattern, p, cands, rows, rows, alive, C, PARAMS, 2.0)
    assert many[0] >= llr - 1e-9 and many[1] < PARAMS.ghost_llr


def test_reassignment_never_gives_a_fit_two_detections_of_one_sensor():
    """Each fit out of the reassignment holds one event's detections, at most one of each
    sensor, and is refitted and trimmed by χ² as the search trims (a foreign pick the gate let
    in is dropped, not the event): within its χ² quantile."""
    from scipy.special import chdtri
    events = [*PAIR, (-6000.0, Y0 - 2000.0, PAIR[0][2] + 1.5, "launch")]
    det, p, alive, _, rows = _block(events, clutter=40, seed=4)
    ids = det.ids.astype(str)
    fits: list[Fit] = []
    for e, (x, y, t0, _) in enumerate(events):
        f = fit_rows(p, rows[np.char.startswith(ids, f"e{e}-")], x, y, t0, C, PARAMS)
        assert f is not None
        fits.append(f)
    # a greedy, wrong start: the first fit also holds every arrival of the third
    fits[0] = Fit(fits[0].x, fits[0].y, fits[0].t0, np.union1d(fits[0].rows, fits[2].rows),
                  fits[0].fisher, fits[0].chi2, fits[0].dof)
    out = reassign(p, fits, C, PARAMS, alive)
    assert len(out) == 3
    for f in out:
        sensors = p.sensor[f.rows]
        assert len(sensors) == len(set(sensors.tolist()))
        assert len({i.split("-")[0] for i in ids[f.rows]}) == 1
        assert f.chi2 <= float(chdtri(f.dof, 1.0 - PARAMS.trim_quantile))


def test_engine_3_and_engine_2_find_the_same_clean_events():
    events = [*PAIR, (-6000.0, Y0 - 9000.0, PAIR[0][2] + 40.0, "launch")]
    sensors, det, _, _ = shots(events, clutter=30, seed=5)
    new = fuse(sensors, det, agreement=AGREEMENT, params=PARAMS)
    old = fuse(sensors, det, agreement=AGREEMENT,
               params=FusionParams(temperature_c=15.0, association="windows"))
    assert len(new.incidents) == len(old.incidents) == 3
    for a, b in zip(new.incidents, old.incidents):
        assert {d.split("-")[0] for d in a.detections} == {d.split("-")[0] for d in b.detections}


def _peaks_by_maximum_filter(score, grid, grid_m, floor):
    """The oracle: strict local maxima by a maximum filter over the whole rectangle."""
    from scipy.ndimage import maximum_filter
    nb = score.shape[1]
    ix = np.rint((grid.x - grid.x.min()) / grid_m).astype(np.int64)
    iy = np.rint((grid.y - grid.y.min()) / grid_m).astype(np.int64)
    cube = np.zeros((int(ix.max()) + 1, int(iy.max()) + 1, nb), np.int64)
    cube[ix, iy] = score
    key = cube * cube.size + np.arange(cube.size).reshape(cube.shape)
    peak = (key == maximum_filter(key, size=3, mode="constant", cval=0)) & (cube >= floor)
    cell_at = {(int(a), int(b)): k for k, (a, b) in enumerate(zip(ix, iy))}
    return sorted((cell_at[(int(a), int(b))], int(t)) for a, b, t in zip(*np.nonzero(peak)))


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 7), st.integers(2, 7), st.integers(1, 9), st.integers(1, 4), st.integers(0, 2**31))
def test_local_maxima_are_the_maximum_filters(nx, ny, nb, floor, seed):
    """The sparse peak search finds exactly the maximum filter's peaks, ties (plateaus) and
    holes in the grid included."""
    rng = np.random.default_rng(seed)
    keep = rng.random(nx * ny) < 0.8
    keep[0] = True
    gx, gy = np.meshgrid(np.arange(nx) * 1000.0, np.arange(ny) * 1000.0, indexing="ij")
    grid = TileGrid(gx.ravel()[keep], gy.ravel()[keep], np.ones(int(keep.sum())))
    score = rng.integers(0, 6, size=(len(grid.x), nb))          # small values: many ties
    got = sorted(zip(*(a.tolist() for a in local_maxima(score, grid, 1000.0, floor))))
    assert got == _peaks_by_maximum_filter(score, grid, 1000.0, floor)


def test_a_neighbours_catch_is_adopted_only_when_free_and_new():
    from linewatch.fusion.region_engine import _adopt
    used = np.zeros(10, bool)
    used[0] = True

    def fit(x, t0, rows):
        return Fit(x, 0.0, t0, np.array(rows), np.eye(3), 1.0, 5)
    kept = [fit(0.0, 100.0, [1, 2])]
    orphans = [fit(50_000.0, 100.0, [0, 3]),      # a detection already taken: no
               fit(1_500.0, 101.0, [4, 5]),       # the same event as a kept fit: no
               fit(20_000.0, 100.0, [6, 7]),      # a new event, all free: adopted
               fit(20_500.0, 100.5, [8, 9])]      # a duplicate of the one just adopted: no
    got = _adopt(orphans, kept, used)
    assert [f.x for f in got] == [20_000.0]
    assert used[[6, 7]].all() and not used[[3, 4, 5, 8, 9]].any()
