"""Fusion metrics on hand-made cases: matching, association counts, ρ and coverage, side."""

from __future__ import annotations

import math

import numpy as np
import pytest

from linewatch.fusion import (
    CHI2_95_2D,
    FusionParams,
    Scores,
    SideScores,
    association_scores,
    crlb_position,
    error_statistics,
    localization_scores,
    match_events,
    measurements_for,
    offsets_en_m,
    pool_scores,
    score_incidents,
    side_scores,
    truth_detection_sets,
)
from linewatch.geo import GEOD, WorkingFrame
from linewatch.model import Detections, Incident, Sensors, Truth, sound_speed_m_s


def ids(prefix: str, n: int, start: int = 0) -> frozenset[str]:
    return frozenset(f"{prefix}{k}" for k in range(start, start + n))


# -- matching -----------------------------------------------------------------------------------

def test_match_exact_sets_one_to_one():
    truth = {7: ids("a", 10), 3: ids("b", 8)}
    assert match_events([ids("b", 8), ids("a", 10)], truth) == [(0, 3), (1, 7)]


def test_match_share_is_over_the_larger_set_and_the_threshold_is_inclusive():
    truth = {1: ids("a", 10)}
    assert match_events([ids("a", 6)], truth) == [(0, 1)]            # 6 / max(6, 10) = 0.6
    assert match_events([ids("a", 5)], truth) == []                  # 0.5
    # 6 true detections plus 5 clutter: 6 / max(11, 10) < 0.6
    assert match_events([ids("a", 6) | ids("x", 5)], truth) == []
    assert match_events([ids("a", 6) | ids("x", 4)], truth) == [(0, 1)]
    assert match_events([ids("a", 5)], truth, min_share=0.5) == [(0, 1)]


def test_match_is_one_to_one_and_greedy_by_share():
    truth = {1: ids("a", 10)}
    # with a low threshold both incidents qualify; the larger share wins, the other is unmatched
    incidents = [ids("a", 4), ids("a", 6, start=4)]
    assert match_events(incidents, truth, min_share=0.3) == [(1, 1)]
    # ties go to the lower incident index
    assert match_events([ids("a", 5), ids("a", 5, start=5)], truth, min_share=0.5) == [(0, 1)]


def test_match_ignores_order_of_truth_dict():
    a, b = ids("a", 9), ids("b", 9)
    inc = [b, a]
    assert match_events(inc, {1: a, 2: b}) == match_events(inc, {2: b, 1: a}) == [(0, 2), (1, 1)]


# -- association scores -------------------------------------------------------------------------

def test_perfect_association():
    truth = {e: ids(f"e{e}-", 8) for e in range(5)}
    s = association_scores(list(truth.values()), truth)
    assert (s.precision, s.recall, s.f1) == (1.0, 1.0, 1.0)
    assert (s.ghosts, s.merged, s.split) == (0, 0, 0)
    assert s.extra_per_event == 0 and s.missing_per_event == 0


def test_merged_event_ghost_and_split_are_counted():
    truth = {1: ids("a", 10), 2: ids("b", 10), 3: ids("c", 10), 4: ids("d", 10)}
    incidents = [
        ids("a", 10),                            # matched
        ids("b", 5) | ids("c", 5),               # merged: half of b and half of c, no majority
        ids("x", 6) | ids("d", 2),               # ghost: mostly clutter
        ids("d", 4, start=2),                    # a piece of d (split with the next one)
        ids("d", 4, start=6),
    ]
    s = association_scores(incidents, truth)
    assert s.true_positives == 1
    assert s.precision == pytest.approx(1 / 5)
    assert s.recall == pytest.approx(1 / 4)
    assert s.f1 == pytest.approx(2 * 0.2 * 0.25 / 0.45)
    assert s.merged == 1
    assert s.split == 1                           # d, in two pieces of 4
    # unmatched with no event holding a majority: the merged one and the clutter one;
    # the d pieces are pure d, so they are misses, not ghosts
    assert s.ghosts == 2


def test_events_below_min_detections_do_not_count_either_way():
    truth = {1: ids("a", 10), 2: ids("b", 3)}
    # the barely-heard event is found: neither a true nor a false positive
    s = association_scores([ids("a", 10), ids("b", 3)], truth)
    assert (s.n_events, s.precision, s.recall) == (1, 1.0, 1.0)
    # and not finding it is no miss
    s = association_scores([ids("a", 10)], truth)
    assert (s.precision, s.recall) == (1.0, 1.0)
    s = association_scores([ids("a", 10)], truth, min_detections=3)
    assert s.recall == 0.5


def test_empty_inputs():
    s = association_scores([], {})
    assert (s.precision, s.recall, s.f1) == (1.0, 1.0, 1.0)
    s = association_scores([], {1: ids("a", 5)})
    assert (s.precision, s.recall, s.f1) == (1.0, 0.0, 0.0)
    s = association_scores([ids("x", 6)], {})
    assert (s.precision, s.ghosts) == (0.0, 1)


def test_truth_detection_sets_drop_clutter():
    truth = _truth([0, 1], detection_event={"d1": 0, "d2": 1, "d3": -1, "d4": 0})
    assert truth_detection_sets(truth) == {0: frozenset({"d1", "d4"}), 1: frozenset({"d2"})}


# -- localization -------------------------------------------------------------------------------

LON0, LAT0 = 35.0, 48.0
FRAME = WorkingFrame(LON0)
C = float(sound_speed_m_s(15.0))
NOISE = FusionParams(celerity_jitter=0.002, wind_allowance_m_s=0.0)


def _network() -> Sensors:
    # two rows of microphones 8 km apart, every 2.5 km over 15 km, around (LON0, LAT0)
    x = np.tile(np.arange(0, 15_001, 2_500.0) - 7_500.0, 2)
    y = np.repeat([-4_000.0, 4_000.0], len(x) // 2)
    x0, y0 = FRAME.to_xy(LON0, LAT0)
    lon, lat = FRAME.to_lonlat(x + x0, y + y0)
    return Sensors.from_columns([f"m{i}" for i in range(len(x))], lon, lat, ["microphone"] * len(x))


def _truth(event_ids, *, lon=None, lat=None, kind=None, side=None, detection_event=None) -> Truth:
    n = len(event_ids)
    return Truth(event_id=np.asarray(event_ids), kind=np.asarray(kind or ["launch"] * n, dtype=object),
                 lon=np.asarray(lon if lon is not None else [LON0] * n, float),
                 lat=np.asarray(lat if lat is not None else [LAT0] * n, float),
                 time_s=np.arange(n, dtype=float) * 100.0,
                 side=np.asarray(side or ["A"] * n, dtype=object), pair_id=np.arange(n),
                 detection_event=detection_event or {})


def _synthetic_estimates(n_events: int, seed: int):
    """Sources inside and beside the network, estimates drawn from the CRLB at the truth."""
    rng = np.random.default_rng(seed)
    sensors = _network()
    sx, sy = FRAME.to_xy(sensors.lon, sensors.lat)
    x0, y0 = FRAME.to_xy(LON0, LAT0)
    ex = x0 + rng.uniform(-10_000, 10_000, n_events)
    ey = y0 + rng.uniform(-10_000, 10_000, n_events)
    elon, elat = FRAME.to_lonlat(ex, ey)
    det_ids, det_sensor, det_time, det_event = [], [], [], {}
    for k in range(n_events):
        r = np.hypot(sx - ex[k], sy - ey[k])
        for j in range(len(sensors)):
            d = f"e{k}-m{j}"
            det_ids.append(d)
            det_sensor.append(j)
            det_time.append(1000.0 * k + r[j] / C)
            det_event[d] = k
    dets = Detections.from_columns(det_ids, det_sensor, det_time, np.full(len(det_ids), 0.02))
    truth = _truth(list(range(n_events)), lon=elon, lat=elat, detection_event=det_event)
    row_of = {d: i for i, d in enumerate(dets.ids)}
    incidents = []
    for k in range(n_events):
        rows = np.array([row_of[f"e{k}-m{j}"] for j in range(len(sensors))])
        m = measurements_for(sensors, dets, rows, frame=FRAME, params=NOISE, c_m_s=C,
                             x_m=float(ex[k]), y_m=float(ey[k]))
        cov = crlb_position(float(ex[k]), float(ey[k]), m, C)
        cov = (cov + cov.T) / 2
        e, n = rng.multivariate_normal([0.0, 0.0], cov)
        lon, lat, _ = GEOD.fwd(elon[k], elat[k], math.degrees(math.atan2(e, n)), math.hypot(e, n))
        incidents.append(_incident(f"i{k}", lon, lat, tuple(str(dets.ids[r]) for r in rows), cov))
    return sensors, dets, truth, incidents


def _incident(iid, lon, lat, detections, cov=((1.0, 0.0), (0.0, 1.0)), side=None) -> Incident:
    cov = np.asarray(cov, float)
    return Incident(id=iid, time_s=0.0, lon=float(lon), lat=float(lat), kind="launch",
                    detections=tuple(detections), semi_major_m=1.0, semi_minor_m=1.0,
                    azimuth_deg=0.0, cov_en_m2=((cov[0, 0], cov[0, 1]), (cov[1, 0], cov[1, 1])),
                    side=side)


def test_rho_is_one_and_coverage_095_for_estimates_drawn_from_the_bound():
    sensors, dets, truth, incidents = _synthetic_estimates(400, seed=3)
    pairs = [(k, k) for k in range(len(incidents))]
    s = localization_scores(pairs, incidents, truth, sensors, dets, frame=FRAME, c_m_s=C, noise=NOISE)
    assert s.n == 400 and s.n_coverage == 400
    assert s.rho == pytest.approx(1.0, abs=0.08)
    assert s.coverage95 == pytest.approx(0.95, abs=0.03)
    assert 0 < s.median_error_m < s.p90_error_m < 500


def test_rho_scales_with_the_error_and_a_biased_estimate_is_seen():
    sensors, dets, truth, incidents = _synthetic_estimates(200, seed=5)
    pairs = [(k, k) for k in range(len(incidents))]
    base = localization_scores(pairs, incidents, truth, sensors, dets, frame=FRAME, c_m_s=C, noise=NOISE)
    # move every estimate 200 m further north: far outside the bound and the ellipses
    moved = []
    for inc in incidents:
        lon, lat, _ = GEOD.fwd(inc.lon, inc.lat, 0.0, 200.0)
        moved.append(_incident(inc.id, lon, lat, inc.detections, inc.cov_en_m2))
    s = localization_scores(pairs, moved, truth, sensors, dets, frame=FRAME, c_m_s=C, noise=NOISE)
    assert s.rho > 3 * base.rho
    assert s.coverage95 < 0.5


def test_bound_uses_only_the_incidents_true_detections():
    sensors, dets, truth, incidents = _synthetic_estimates(1, seed=1)
    inc = incidents[0]
    full = localization_scores([(0, 0)], [inc], truth, sensors, dets, frame=FRAME, c_m_s=C, noise=NOISE)
    # the same estimate from half the detections: a larger bound, a smaller normalised error
    half = _incident(inc.id, inc.lon, inc.lat, inc.detections[::2], inc.cov_en_m2)
    part = localization_scores([(0, 0)], [half], truth, sensors, dets, frame=FRAME, c_m_s=C, noise=NOISE)
    assert part.rho < full.rho
    assert part.median_error_m == pytest.approx(full.median_error_m)


def test_error_statistics_closed_form():
    e = np.array([[3.0, 4.0], [0.0, 1.0]])
    tr = np.array([25.0, 4.0])
    cov = np.array([np.eye(2) * 25.0, np.full((2, 2), np.nan)])
    s = error_statistics(e, tr, cov)
    assert s.rho == pytest.approx(math.sqrt((1.0 + 0.25) / 2))
    assert s.median_error_m == pytest.approx(3.0)
    assert (s.n_coverage, s.coverage95) == (1, 1.0)          # 25/25 = 1 <= 5.991
    s = error_statistics(np.array([[0.0, 10.0]]), np.array([1.0]), np.array([np.eye(2) * 16.0]))
    assert CHI2_95_2D < 100 / 16 and s.coverage95 == 0.0


def test_offsets_east_north():
    lon, lat, _ = GEOD.fwd(LON0, LAT0, 90.0, 1000.0)
    e = offsets_en_m(LON0, LAT0, lon, lat)[0]
    assert e == pytest.approx([1000.0, 0.0], abs=1e-3)
    lon, lat, _ = GEOD.fwd(LON0, LAT0, 180.0, 500.0)
    assert offsets_en_m(LON0, LAT0, lon, lat)[0] == pytest.approx([0.0, -500.0], abs=1e-3)


# -- side ----------------------------------------------------------------------------------------

def test_side_scores():
    truth = _truth([10, 11, 12, 13, 14], kind=["launch", "launch", "launch", "launch", "impact"],
                   side=["A", "B", "A", "B", "A"])
    incidents = [_incident("i0", LON0, LAT0, ("x",), side="A"),     # right
                 _incident("i1", LON0, LAT0, ("y",), side="A"),     # wrong
                 _incident("i2", LON0, LAT0, ("z",), side=None),    # abstains
                 _incident("i3", LON0, LAT0, ("w",), side="B"),     # right
                 _incident("i4", LON0, LAT0, ("v",), side="B")]     # an impact: not scored
    s = side_scores([(0, 10), (1, 11), (2, 12), (3, 13), (4, 14)], incidents, truth)
    assert (s.n_launches, s.decided, s.wrong) == (4, 3, 1)
    assert s.wrong_side_rate == pytest.approx(1 / 3)
    assert s.abstention_rate == pytest.approx(1 / 4)
    s = side_scores([(2, 12)], incidents, truth)
    assert math.isnan(s.wrong_side_rate) and s.abstention_rate == 1.0
    s = side_scores([], incidents, truth)
    assert s.n_launches == 0 and math.isnan(s.abstention_rate)


def test_score_incidents_row():
    sensors, dets, truth, incidents = _synthetic_estimates(20, seed=2)
    s = score_incidents("oracle", incidents, truth, sensors, dets, frame=FRAME, c_m_s=C,
                        noise=NOISE, seconds=2.0)
    assert isinstance(s, Scores)
    row = s.as_row()
    assert row["engine"] == "oracle" and row["detections"] == len(dets)
    assert row["f1"] == 1.0 and row["detections_per_s"] == len(dets) / 2.0
    assert row["abstention_rate"] == 1.0 and math.isnan(row["wrong_side_rate"])
    assert {"rho", "coverage95", "ghosts", "merged", "peak_memory_mb"} <= row.keys()


# -- pooling runs -------------------------------------------------------------------------------

def _run(incidents, truth, errors, traces, covs, side: SideScores, seconds: float):
    """Scores of one run (the runs' detection ids differ, so that they are disjoint)."""
    return Scores(engine="e", n_detections=100,
                  association=association_scores(incidents, truth),
                  localization=error_statistics(np.array(errors), np.array(traces), np.array(covs)),
                  side=side, seconds=seconds)


def test_pooled_scores_equal_the_scores_of_the_runs_together():
    truth1 = {1: ids("1a", 10), 2: ids("1b", 8), 3: ids("1c", 3)}
    inc1 = [ids("1a", 10), ids("1x", 6), ids("1c", 3)]        # a hit, a ghost, a barely-heard one
    truth2 = {1: ids("2a", 10), 2: ids("2b", 10)}
    inc2 = [ids("2a", 9), ids("2b", 5) | ids("2x", 1)]
    e1, e2 = [[3.0, 4.0], [1.0, 0.0]], [[0.0, 20.0]]
    t1, t2 = [25.0, 4.0], [16.0]
    c1 = [np.eye(2) * 25.0, np.full((2, 2), np.nan)]
    c2 = [np.eye(2) * 16.0]
    pooled = pool_scores([
        _run(inc1, truth1, e1, t1, c1, SideScores(3, 2, 1, 0.5, 1 / 3), 2.0),
        _run(inc2, truth2, e2, t2, c2, SideScores(1, 1, 0, 0.0, 0.0), 3.0)])
    together_a = association_scores(inc1 + inc2, {**{f"1-{k}": v for k, v in truth1.items()},
                                                   **{f"2-{k}": v for k, v in truth2.items()}})
    together_l = error_statistics(np.array(e1 + e2), np.array(t1 + t2), np.array(c1 + c2))
    a = pooled.association
    assert (a.true_positives, a.n_events, a.n_predicted, a.ghosts) == (
        together_a.true_positives, together_a.n_events, together_a.n_predicted, together_a.ghosts)
    assert (a.precision, a.recall, a.f1) == pytest.approx(
        (together_a.precision, together_a.recall, together_a.f1))
    assert a.missing_per_event == pytest.approx(together_a.missing_per_event)
    loc = pooled.localization
    assert (loc.rho, loc.rmse_m, loc.coverage95, loc.n_coverage) == pytest.approx(
        (together_l.rho, together_l.rmse_m, together_l.coverage95, together_l.n_coverage))
    assert math.isnan(loc.median_error_m)
    assert (pooled.side.n_launches, pooled.side.wrong) == (4, 1)
    assert pooled.side.wrong_side_rate == pytest.approx(1 / 3)
    assert pooled.side.abstention_rate == pytest.approx(1 / 4)
    assert pooled.detections_per_s == pytest.approx(200 / 5.0)


def test_pooling_needs_runs_of_one_engine():
    with pytest.raises(ValueError, match="at least one"):
        pool_scores([])
    one = _run([ids("1a", 4)], {1: ids("1a", 4)}, [[1.0, 0.0]], [1.0], [np.eye(2)],
               SideScores(0, 0, 0, math.nan, math.nan), 1.0)
    with pytest.raises(ValueError, match="several engines"):
        pool_scores([one, Scores(**{**one.__dict__, "engine": "other"})])
