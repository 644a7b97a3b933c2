"""The plan check: the simulator on a given layout, and what a layout measurably delivers."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest

from linewatch.agreement import parse_agreement
from linewatch.model import Detections
from linewatch.planning import check_layout, stretch_bins_km
from linewatch.sim import (
    SCENARIOS,
    Layout,
    concat_detections,
    concat_truth,
    simulate,
    simulate_chunks,
    simulated_network,
)

ROOT = Path(__file__).resolve().parents[1]
SEED = 1
#: 40 km of line for half an hour, about 65 launches: a check takes a few seconds
SCENARIO = replace(SCENARIOS["barrage"], name="plan-check", line_from_km=400.0, line_to_km=440.0,
                   duration_s=1800.0, launch_rate_per_s_per_60km=0.05)


@pytest.fixture(scope="module")
def agreement():
    path = ROOT / "examples" / "agreements" / "line-of-contact.yaml"
    return parse_agreement(path.read_text(encoding="utf-8"), name=str(path))


@pytest.fixture(scope="module")
def network(agreement):
    return simulated_network(agreement, SCENARIO, seed=SEED)


def _chainage_km(agreement, lon, lat) -> np.ndarray:
    x, y = agreement.frame.to_xy(lon, lat)
    return agreement.line_index.nearest(np.asarray(x), np.asarray(y), lat).chainage_m / 1000.0


def _subset(layout: Layout, keep: np.ndarray) -> Layout:
    return Layout(layout.lon[keep], layout.lat[keep], layout.kind[keep], ids=layout.ids[keep],
                  camera_azimuth_deg=layout.camera_azimuth_deg[keep])


@pytest.fixture(scope="module")
def dense(network):
    """The scenario's own network: acoustic sensors every 2.5 km on both sides."""
    return Layout.from_network(network)


@pytest.fixture(scope="module")
def sparse(dense):
    """The same, with only every third acoustic sensor."""
    acoustic = np.isin(dense.kind, ["microphone", "array"])
    return _subset(dense, ~acoustic | (np.cumsum(acoustic) % 3 == 0))


@pytest.fixture(scope="module")
def dense_check(agreement, dense):
    return check_layout(agreement, dense, params=SCENARIO, seed=SEED, stretch_km=10.0,
                        promised={"detection_probability": 0.9, "crlb_m": [150, 100, 100, None]})


# -- the simulator on a given layout ----------------------------------------------------------------

def _assert_same_run(a, b, *, fix_atol_deg: float = 0.0):
    for f in ("ids", "kind"):
        assert getattr(a.sensors, f).tolist() == getattr(b.sensors, f).tolist(), f
    for f in ("lon", "lat", "elevation_m", "clock_sd_s"):
        np.testing.assert_array_equal(getattr(a.sensors, f), getattr(b.sensors, f), err_msg=f)
    for f in ("event_id", "kind", "lon", "lat", "time_s", "side", "pair_id"):
        assert getattr(a.truth, f).tolist() == getattr(b.truth, f).tolist(), f
    assert a.truth.detection_event == b.truth.detection_event
    for f in fields(Detections):
        x, y = getattr(a.detections, f.name), getattr(b.detections, f.name)
        if f.name in ("lon", "lat"):       # cameras' false fixes go through the projection
            np.testing.assert_allclose(x, y, rtol=0, atol=fix_atol_deg, err_msg=f.name)
        elif x.dtype.kind == "f":
            np.testing.assert_array_equal(x, y, err_msg=f.name)
        else:
            assert x.tolist() == y.tolist(), f.name


def test_the_scenarios_own_network_as_a_layout_reproduces_the_run(agreement):
    """With no clock bias and no outages nothing is drawn for the network, so the rows given
    back as a layout give the same run (the cameras' false fixes to ~1e-10°, a few µm)."""
    params = replace(SCENARIO, outage_fraction=0.0, clock_bias_sd_s=0.0, duration_s=900.0)
    a = simulate(agreement, params, seed=SEED)
    b = simulate(agreement, params, seed=SEED, layout=Layout.from_network(a.network))
    assert len(a.detections) > 500 and (a.sensors.kind == "camera").any()
    _assert_same_run(a, b, fix_atol_deg=1e-9)
    np.testing.assert_allclose(a.network.camera_azimuth_deg, b.network.camera_azimuth_deg,
                               rtol=0, atol=1e-6)
    for f in ("down", "flight_sensor", "flight_start_s", "flight_end_s"):
        np.testing.assert_array_equal(getattr(a.network, f), getattr(b.network, f), err_msg=f)


def test_with_outages_the_layout_changes_only_which_sensors_are_down(agreement, network):
    """The rows draw the observers' depth from the layout's seed stream before the clock
    biases and the outages; a given layout has no such draws, so the same seed puts other
    sensors down (as many) and gives other biases: the detections differ, the truth does not."""
    params = replace(SCENARIO, duration_s=900.0)
    a = simulate(agreement, params, seed=SEED)
    b = simulate(agreement, params, seed=SEED, layout=Layout.from_network(network))
    assert a.sensors.ids.tolist() == b.sensors.ids.tolist()
    np.testing.assert_array_equal(a.sensors.lon, b.sensors.lon)
    np.testing.assert_array_equal(a.sensors.clock_sd_s, b.sensors.clock_sd_s)
    assert a.network.down.sum() == b.network.down.sum() > 0
    assert not np.array_equal(a.network.down, b.network.down)
    for f in ("event_id", "kind", "lon", "lat", "time_s", "side", "pair_id"):
        assert getattr(a.truth, f).tolist() == getattr(b.truth, f).tolist(), f
    # a down sensor is silent
    silent = set(np.flatnonzero(b.network.down).tolist())
    assert not silent & set(b.detections.sensor.tolist())


def test_events_do_not_depend_on_the_layout(agreement, sparse):
    params = replace(SCENARIO, duration_s=900.0)
    a = simulate(agreement, params, seed=SEED)
    b = simulate(agreement, params, seed=SEED, layout=sparse)
    assert len(b.sensors) == len(sparse) < len(a.sensors)
    for f in ("event_id", "kind", "lon", "lat", "time_s", "side", "pair_id"):
        assert getattr(a.truth, f).tolist() == getattr(b.truth, f).tolist(), f
    assert len(b.detections) < len(a.detections)


def test_chunks_of_a_layout_concatenate_to_the_whole(agreement, sparse):
    params = replace(SCENARIO, duration_s=1500.0)
    whole = simulate(agreement, params, seed=SEED, layout=sparse)
    sensors, chunks = simulate_chunks(agreement, params, seed=SEED, chunk_s=600.0, layout=sparse)
    dets, truths = zip(*chunks)
    assert sensors.ids.tolist() == whole.sensors.ids.tolist()
    parts = type(whole)(sensors, concat_detections(list(dets)), concat_truth(list(truths)))
    _assert_same_run(whole, parts)
    assert simulated_network(agreement, params, seed=SEED, layout=sparse).down.tolist() \
        == whole.network.down.tolist()


def test_cameras_without_an_axis_face_the_line(agreement, network):
    """``Layout.from_sensors`` has no axes: each camera looks at its nearest place on the line."""
    s = network.sensors
    net = simulated_network(agreement, SCENARIO, seed=SEED, layout=Layout.from_sensors(s))
    cams = np.flatnonzero(s.kind == "camera")
    assert len(cams) >= 2 and np.isnan(net.camera_azimuth_deg[s.kind != "camera"]).all()
    from linewatch.geo import GEOD
    lon, lat, _ = GEOD.fwd(s.lon[cams], s.lat[cams], net.camera_azimuth_deg[cams],
                           np.full(len(cams), 500.0))

    def dist(lo, la):
        x, y = agreement.frame.to_xy(lo, la)
        return agreement.line_index.nearest(np.asarray(x), np.asarray(y), la).distance_m

    # 500 m along the axis is 500 m nearer the line (cameras stand 2 km back)
    np.testing.assert_allclose(dist(s.lon[cams], s.lat[cams]) - dist(np.asarray(lon), np.asarray(lat)),
                               500.0, atol=2.0)


def test_a_layout_is_checked_on_construction():
    with pytest.raises(ValueError, match="unknown kind"):
        Layout([36.0], [48.0], ["radar"])
    with pytest.raises(ValueError, match="one length"):
        Layout([36.0, 36.1], [48.0], ["array", "array"])
    with pytest.raises(ValueError, match="unique"):
        Layout([36.0, 36.1], [48.0, 48.0], ["array", "array"], ids=["A", "A"])
    lay = Layout([36.0, 36.1], [48.0, 48.0], [1, 4])      # integer codes: ARR, UAV
    assert lay.kind.tolist() == ["array", "uav"] and lay.codes.tolist() == [1, 4]
    assert len(lay) == 2 and np.isnan(lay.camera_azimuth_deg).all()


# -- the check ------------------------------------------------------------------------------------

def test_a_denser_layout_detects_more(agreement, sparse, dense_check):
    sparse_check = check_layout(agreement, sparse, params=SCENARIO, seed=SEED, stretch_km=10.0)
    assert sparse_check.n_launches == dense_check.n_launches > 40
    assert dense_check.detection_share >= 0.8
    assert dense_check.detection_share > sparse_check.detection_share + 0.3
    assert dense_check.n_detections > sparse_check.n_detections
    assert dense_check.n_sensors > sparse_check.n_sensors


def test_a_stretch_without_sensors_detects_nothing(agreement, dense):
    """Sensors only from 425 km on: the stretch 400–410 km is at least 15 km from any. Far
    sensors still hear many of its launches, but too few of them to locate one."""
    keep = _chainage_km(agreement, dense.lon, dense.lat) >= 425.0
    check = check_layout(agreement, _subset(dense, keep), params=SCENARIO, seed=SEED,
                         stretch_km=10.0)
    st = check.stretches
    assert st.from_km.tolist() == [400.0, 410.0, 420.0, 430.0]
    assert st.n_launches[0] >= 10
    assert st.detection_share[0] <= 0.15 < st.heard_share[0]
    # where the sensors are (a 15 km patch: its ends see less), most launches are located
    assert st.n_detected[2:].sum() / st.n_launches[2:].sum() >= 0.4
    assert st.n_launches.sum() == check.n_launches
    assert st.n_detected.sum() == check.n_detected


def test_localisation_error_is_near_the_bound_on_a_good_layout(dense_check):
    c = dense_check
    assert c.n_detected >= 40
    assert 0.8 <= c.rho <= 2.0
    assert 0 < c.crlb_m < 500 and c.median_error_m < 100
    assert c.median_error_m <= c.p95_error_m
    covered = c.stretches.n_detected >= 10
    assert (c.stretches.rho[covered] < 2.5).all()
    # the launches' table holds what the figures are made of
    t = c.launches
    assert len(t) == c.n_launches and t.detected.sum() == c.n_detected
    assert np.sqrt(np.mean(t.error_m[t.detected] ** 2)) == pytest.approx(c.rmse_m)
    assert (t.n_detections[t.detected] > 0).all()
    assert c.n_heard == (t.n_detections > 0).sum() >= c.n_detected


def test_the_report_puts_promises_beside_the_measurements(agreement, dense_check):
    d = dense_check.as_dict(launches=True)
    json.dumps(d, allow_nan=False)
    assert d["n_launches"] == dense_check.n_launches and len(d["launches"]) == d["n_launches"]
    rows = d["stretches"]
    assert [r["from_km"] for r in rows] == [400.0, 410.0, 420.0, 430.0]
    assert [r["promised_detection_probability"] for r in rows] == [0.9] * 4
    assert [r["promised_crlb_m"] for r in rows] == [150.0, 100.0, 100.0, None]
    assert {"detection_share", "crlb_m", "rmse_m", "median_error_m", "p95_error_m", "rho",
            "heard_share"} <= set(rows[0])
    with pytest.raises(ValueError, match="stretches"):
        check_layout(agreement, Layout.from_sensors(simulated_network(
            agreement, SCENARIO, seed=SEED).sensors), params=SCENARIO, seed=SEED,
            stretch_km=10.0, promised={"crlb_m": [100.0, 100.0]})


def test_stretches_are_aligned_on_multiples_of_their_length(agreement):
    bins = stretch_bins_km(agreement, replace(SCENARIO, line_from_km=410.0, line_to_km=455.0), 20.0)
    assert bins.tolist() == [[410.0, 420.0], [420.0, 440.0], [440.0, 455.0]]
    assert stretch_bins_km(agreement, SCENARIO, 40.0).tolist() == [[400.0, 440.0]]
