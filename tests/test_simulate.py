"""The scenario simulator: determinism, chunking, rates, physics, geometry and impartiality."""

from __future__ import annotations

import math
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linewatch.agreement import parse_agreement
from linewatch.geo import GEOD
from linewatch.model import Detections, sound_speed_m_s
from linewatch.sim import SCENARIOS, ScenarioParams, concat_detections, concat_truth, simulate, simulate_chunks

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def agreement():
    path = ROOT / "examples" / "agreements" / "line-of-contact.yaml"
    return parse_agreement(path.read_text(encoding="utf-8"), name=str(path))


@pytest.fixture(scope="module")
def barrage(agreement):
    params = SCENARIOS["barrage"]
    return params, simulate(agreement, params, seed=11)


@pytest.fixture(scope="module")
def calm(agreement):
    """No wind: arrival times and bearings are checked against the straight-path physics."""
    params = replace(SCENARIOS["barrage"], wind_m_s=0.0, duration_s=1800.0)
    return params, simulate(agreement, params, seed=12)


def _event_of(result) -> np.ndarray:
    return np.array([result.truth.detection_event[i] for i in result.detections.ids.tolist()])


def _assert_same(a, b):
    for f in fields(Detections):
        x, y = getattr(a.detections, f.name), getattr(b.detections, f.name)
        if x.dtype.kind == "f":
            np.testing.assert_array_equal(x, y, err_msg=f.name)
        else:
            assert x.tolist() == y.tolist(), f.name
    for f in ("event_id", "kind", "lon", "lat", "time_s", "side", "pair_id"):
        assert getattr(a.truth, f).tolist() == getattr(b.truth, f).tolist(), f
    assert a.truth.detection_event == b.truth.detection_event


def test_named_scenarios():
    assert {"quiet", "active", "barrage", "day-1200km"} <= set(SCENARIOS)
    q, a, b, d = (SCENARIOS[n] for n in ("quiet", "active", "barrage", "day-1200km"))
    assert (q.launch_rate_per_s_per_60km, q.clutter_per_min_per_sensor) == (0.005, 0.1)
    assert (a.launch_rate_per_s_per_60km, a.clutter_per_min_per_sensor) == (0.01, 1.0)
    assert b.launch_rate_per_s_per_60km == 0.1
    assert all(s.duration_s == 3600 and s.line_to_km - s.line_from_km == 60 for s in (q, a, b))
    assert d.duration_s == 86400 and d.line_from_km == 0 and d.line_to_km is None
    for s in SCENARIOS.values():
        assert ScenarioParams.from_dict(s.to_dict()) == s


def test_deterministic_per_seed(agreement):
    params = replace(SCENARIOS["active"], duration_s=600.0)
    a = simulate(agreement, params, seed=3)
    b = simulate(agreement, params, seed=3)
    _assert_same(a, b)
    c = simulate(agreement, params, seed=4)
    assert a.detections.time_s.tolist() != c.detections.time_s.tolist()


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**31), chunk_s=st.sampled_from([100.0, 450.0, 1000.0, 3600.0]))
def test_chunks_concatenate_to_the_whole(agreement, seed, chunk_s):
    params = replace(SCENARIOS["active"], duration_s=1200.0, launch_rate_per_s_per_60km=0.03)
    whole = simulate(agreement, params, seed=seed)
    sensors, chunks = simulate_chunks(agreement, params, seed=seed, chunk_s=chunk_s)
    parts = list(chunks)
    assert len(parts) == math.ceil(1200.0 / chunk_s)
    joined = type(whole)(sensors, concat_detections([d for d, _ in parts]),
                         concat_truth([t for _, t in parts]))
    _assert_same(joined, whole)
    # every chunk but the first and last holds exactly the detections timed in it
    start = params.start_s
    for k, (d, t) in enumerate(parts):
        if 0 < k < len(parts) - 1:
            assert d.time_s.min() >= start + k * chunk_s and d.time_s.max() < start + (k + 1) * chunk_s
        assert set(t.detection_event) == set(d.ids.tolist())


def test_output_is_consistent(barrage):
    _, r = barrage
    d, t = r.detections, r.truth
    assert len(set(d.ids.tolist())) == len(d)
    assert np.all(np.diff(d.time_s) >= 0)
    assert set(t.detection_event) == set(d.ids.tolist())
    ev = _event_of(r)
    assert set(ev[ev >= 0]) <= set(t.event_id.tolist())
    assert len(set(r.sensors.ids.tolist())) == len(r.sensors)
    # every pair: one launch then one impact, with a time of flight at 300 m/s
    launch, impact = t.kind == "launch", t.kind == "impact"
    assert launch.sum() == impact.sum()
    np.testing.assert_array_equal(t.pair_id[launch], t.pair_id[impact])
    _, _, dist = GEOD.inv(t.lon[launch], t.lat[launch], t.lon[impact], t.lat[impact])
    np.testing.assert_allclose(t.time_s[impact] - t.time_s[launch], dist / 300.0, atol=1e-6)
    assert np.all((dist > 5_000) & (dist < 18_500))


def test_launch_count_matches_the_rate(agreement):
    # over 4 seeds of the barrage: 4 * 0.1/s * 3600 s * (60 km / 60 km) = 1440 launches
    n = sum(int((simulate(agreement, SCENARIOS["barrage"], seed=s).truth.kind == "launch").sum())
            for s in range(4))
    assert abs(n - 1440) < 4 * math.sqrt(1440)


def test_clutter_count_matches_the_rate(barrage):
    params, r = barrage
    ev = _event_of(r)
    kinds = r.sensors.kind
    sensor_of = r.detections.sensor
    acoustic = np.isin(kinds[sensor_of], ["microphone", "array"])
    n_acoustic_up = len(set(sensor_of[acoustic].tolist()))
    n_acoustic = int(np.isin(kinds, ["microphone", "array"]).sum())
    # the outages: 5 % of all sensors, so most acoustic sensors are up
    assert n_acoustic * 0.85 <= n_acoustic_up <= n_acoustic
    expected = params.clutter_per_min_per_sensor * n_acoustic_up * params.duration_s / 60.0
    got = int(((ev < 0) & acoustic).sum())
    assert abs(got - expected) < 4 * math.sqrt(expected)
    assert set(r.detections.kind[ev < 0].tolist()) == {"unknown"}


def test_outages(barrage):
    params, r = barrage
    heard = set(r.detections.sensor.tolist())
    silent = len(r.sensors) - len(heard)
    assert silent >= round(params.outage_fraction * len(r.sensors))
    assert silent <= round(params.outage_fraction * len(r.sensors)) + 6   # quiet UAVs, cameras


def _true_pairs(r, kinds):
    ev = _event_of(r)
    sel = (ev >= 0) & np.isin(r.sensors.kind[r.detections.sensor], kinds)
    idx = np.flatnonzero(sel)
    pos = {e: i for i, e in enumerate(r.truth.event_id.tolist())}
    e = np.array([pos[v] for v in ev[idx]])
    s = r.detections.sensor[idx]
    az, _, dist = GEOD.inv(r.sensors.lon[s], r.sensors.lat[s], r.truth.lon[e], r.truth.lat[e])
    return idx, e, s, np.asarray(az), np.asarray(dist)


def test_arrival_times_follow_the_physics(calm):
    params, r = calm
    idx, e, s, _, dist = _true_pairs(r, ["microphone", "array"])
    c = sound_speed_m_s(params.temperature_c)
    resid = r.detections.time_s[idx] - (r.truth.time_s[e] + dist / c)
    sd = np.sqrt(params.pick_sd_s ** 2 + r.sensors.clock_sd_s[s] ** 2
                 + (params.celerity_jitter * dist / c) ** 2)
    z = resid / sd
    assert len(z) > 5000
    assert np.all(np.abs(z) < 9)
    assert abs(z.mean()) < 0.1 and 0.9 < z.std() < 1.1


def test_detection_probability_follows_the_range_curve(calm):
    params, r = calm
    t, sen = r.truth, r.sensors
    ev = _event_of(r)
    up = np.unique(r.detections.sensor[np.isin(sen.kind[r.detections.sensor], ["microphone", "array"])])
    ee, ss = np.meshgrid(np.arange(len(t.lon)), up, indexing="ij")
    ee, ss = ee.ravel(), ss.ravel()
    _, _, dist = GEOD.inv(sen.lon[ss], sen.lat[ss], t.lon[ee], t.lat[ee])
    r50 = np.where(t.kind[ee] == "launch", params.acoustic_r50_launch_m, params.acoustic_r50_impact_m)
    p = params.acoustic_p_max / (1.0 + np.exp((dist - r50) / params.acoustic_width_m))
    heard = set(zip(ev[ev >= 0].tolist(), r.detections.sensor[ev >= 0].tolist()))
    got = np.array([(int(t.event_id[e]), int(s)) in heard for e, s in zip(ee, ss)])
    for lo, hi in ((0, 8e3), (8e3, 12e3), (12e3, 16e3), (16e3, 22e3), (22e3, 40e3)):
        sel = (dist >= lo) & (dist < hi)
        expected, n = p[sel].sum(), got[sel].sum()
        assert abs(n - expected) < 4 * math.sqrt(expected) + 3, (lo, hi, n, expected)


def test_wind_shifts_arrivals_by_at_most_its_speed(agreement):
    params = replace(SCENARIOS["barrage"], wind_m_s=10.0, duration_s=900.0)
    r = simulate(agreement, params, seed=13)
    idx, e, s, _, dist = _true_pairs(r, ["microphone", "array"])
    c = sound_speed_m_s(params.temperature_c)
    speed = dist / (r.detections.time_s[idx] - r.truth.time_s[e])
    far = dist > 5000
    # the wind (<= 10 m/s), 5 sigma of celerity jitter, and 5 sigma of pick and clock noise
    # over a path of at least 5 km
    slack = 10.0 + 5 * params.celerity_jitter * c + 5 * (params.pick_sd_s + 0.002) * c * c / 5000
    assert np.all(np.abs(speed - c)[far] < slack)
    assert np.std((speed - c)[far]) > 1.5   # the wind does show (calm: about 0.7 m/s)


def test_bearings_follow_the_physics(calm):
    params, r = calm
    idx, _, s, az, _ = _true_pairs(r, ["array"])
    err = (r.detections.bearing_deg[idx] - az + 180.0) % 360.0 - 180.0
    assert 0.9 * params.array_bearing_sd_deg < err.std() < 1.1 * params.array_bearing_sd_deg
    assert abs(err.mean()) < 0.2
    idx, _, s, az, dist = _true_pairs(r, ["observer"])
    err = (r.detections.bearing_deg[idx] - az + 180.0) % 360.0 - 180.0
    assert 0.8 * params.observer_bearing_sd_deg < err.std() < 1.2 * params.observer_bearing_sd_deg
    rel = r.detections.range_m[idx] / dist - 1.0
    assert 0.25 < rel.std() < 0.35
    np.testing.assert_allclose(r.detections.range_sd_m[idx],
                               params.observer_range_rel_sd * r.detections.range_m[idx])


def test_position_fixes(calm):
    params, r = calm
    idx, e, _, _, _ = _true_pairs(r, ["camera", "uav"])
    assert len(idx) > 30
    _, _, err = GEOD.inv(r.detections.lon[idx], r.detections.lat[idx], r.truth.lon[e], r.truth.lat[e])
    # the error of a 2-D Gaussian fix: Rayleigh with scale fix_sd_m, mean sd * sqrt(pi / 2)
    assert 0.8 < np.mean(err) / (params.fix_sd_m * math.sqrt(math.pi / 2)) < 1.2
    assert np.all(r.detections.position_sd_m[idx] == params.fix_sd_m)
    assert np.all(np.abs(r.detections.time_s[idx] - r.truth.time_s[e]) <= 5 * params.fix_time_sd_s)


def test_kind_labels(barrage):
    params, r = barrage
    ev = _event_of(r)
    sk = r.sensors.kind[r.detections.sensor]
    assert set(r.detections.kind[sk == "microphone"].tolist()) == {"unknown"}
    pos = {e: i for i, e in enumerate(r.truth.event_id.tolist())}
    for kind in ("array", "observer"):
        sel = np.flatnonzero((sk == kind) & (ev >= 0))
        truth_kind = r.truth.kind[[pos[v] for v in ev[sel]]]
        said = r.detections.kind[sel]
        assert np.all((said == truth_kind) | (said == "unknown"))
        assert abs(np.mean(said == truth_kind) - params.classify_correct) < 0.05
    temp = r.detections.temperature_c
    acoustic = np.isin(sk, ["microphone", "array"])
    assert np.all(temp[acoustic] == params.temperature_c) and np.all(np.isnan(temp[~acoustic]))


def test_geometry_relative_to_the_line(agreement, barrage):
    params, r = barrage
    t = r.truth
    pl = agreement.place(t.lon, t.lat, np.zeros((len(t.lon), 2, 2)))
    prob = agreement.side_probability(pl)
    on_own_side = np.array([prob[s][i] for i, s in enumerate(t.side.tolist())])
    assert np.all(on_own_side == 1.0)
    launch, impact = t.kind == "launch", t.kind == "impact"
    assert np.all(t.side[launch] != t.side[impact])      # impacts across the line
    lo, hi = params.launch_offset_km
    d = np.abs(pl.line_signed_m)
    assert np.all((d[launch] >= 0.75 * lo * 1000) & (d[launch] <= 1.25 * hi * 1000))
    assert np.all(d[impact] >= 500.0)
    ch = pl.chainage_m[launch] / 1000
    # the nearest point of a zigzag line can lie well along from the chainage drawn
    assert np.all((ch > params.line_from_km - 15) & (ch < params.line_to_km + 15))
    # sensors: acoustic rows about acoustic_row_km (and each depth row's distance) off the
    # line, as many on both sides, at the rows' spacings
    s = r.sensors
    spl = agreement.place(s.lon, s.lat, np.zeros((len(s), 2, 2)))
    ac = np.isin(s.kind, ["microphone", "array"])
    dist_km = np.abs(spl.line_signed_m[ac]) / 1000
    rows = [(params.acoustic_row_km, params.acoustic_spacing_km), *params.depth_rows_km]
    nearest = np.argmin([np.abs(dist_km - back) for back, _ in rows], axis=0)
    np.testing.assert_allclose(dist_km, [rows[i][0] for i in nearest], rtol=0.05)
    length_km = params.line_to_km - params.line_from_km
    for i, (_, spacing) in enumerate(rows):  # a site the line folds back on is left out
        assert 0.75 * 2 * round(length_km / spacing) <= (nearest == i).sum() <= 2 * round(length_km / spacing)
    left, right = (spl.line_signed_m[ac] > 0).sum(), (spl.line_signed_m[ac] < 0).sum()
    assert abs(left - right) <= 0.1 * (left + right)


def test_the_generator_is_impartial(agreement):
    # party counts balanced: the shooting side is drawn 50/50
    t = concat_truth([simulate(agreement, SCENARIOS["barrage"], seed=s).truth for s in (21, 22)])
    launch = t.kind == "launch"
    n = int(launch.sum())
    counts = {p: int((t.side[launch] == p).sum()) for p in agreement.party_ids}
    assert sum(counts.values()) == n
    assert abs(counts["ua"] - counts["ru"]) < 4 * math.sqrt(n)
    # both parties' launches are heard alike
    r = simulate(agreement, SCENARIOS["barrage"], seed=21)
    ev = _event_of(r)
    pos = {e: i for i, e in enumerate(r.truth.event_id.tolist())}
    heard = r.truth.side[[pos[v] for v in ev[ev >= 0]]]
    per = {p: np.sum(heard == p) / max(np.sum(r.truth.side == p), 1) for p in agreement.party_ids}
    assert abs(per["ua"] - per["ru"]) / max(per.values()) < 0.15


def test_bad_parameters(agreement):
    with pytest.raises(ValueError, match="duration_s"):
        simulate(agreement, replace(SCENARIOS["quiet"], duration_s=0.0), seed=1)
    with pytest.raises(ValueError, match="stretch"):
        simulate(agreement, replace(SCENARIOS["quiet"], line_from_km=5000.0, line_to_km=6000.0),
                 seed=1)
    with pytest.raises(ValueError, match="chunk_s"):
        simulate_chunks(agreement, SCENARIOS["quiet"], seed=1, chunk_s=0.0)
