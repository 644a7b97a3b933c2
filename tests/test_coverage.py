"""Coverage: closed forms, time windows, places, the line, the network file, the simulator, the CLI."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import shapely
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit, logit
from typer.testing import CliRunner

from linewatch.agreement import parse_agreement
from linewatch.cli.coverage import coverage as coverage_cmd
from linewatch.coverage import (
    COVERAGE_KINDS,
    DETECTABILITY,
    CameraView,
    Detectability,
    Flight,
    Network,
    Outage,
    Patrol,
    detection_curve,
    detection_probability,
    hourly_line_coverage,
    line_coverage,
    line_samples,
    place_coverage,
    window_probability,
)
from linewatch.errors import InputError
from linewatch.formats.network import parse_network, read_network, write_network, write_sim_network
from linewatch.geo import GEOD
from linewatch.model import Sensors
from linewatch.sim import (
    SCENARIOS,
    ScenarioParams,
    detectability_from_params,
    network_from_simulation,
    simulate,
    simulated_network,
)

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_749_945_600.0                      # 2025-06-15T00:00:00Z
MIC = DETECTABILITY["microphone", "explosion"]


def sensors(*rows: tuple[str, float, float, str]) -> Sensors:
    ids, lon, lat, kind = zip(*rows)
    return Sensors.from_columns(np.array(ids, dtype=object), lon, lat, kind)


def at(lon: float, lat: float, az: float, dist_m: float) -> tuple[float, float]:
    lo, la, _ = GEOD.fwd(lon, lat, az, dist_m)
    return float(lo), float(la)


def p1(net: Network, lonlat: tuple[float, float], t: float = T0, kind: str = "explosion") -> float:
    return float(detection_probability(net, lonlat[0], lonlat[1], t, kind))


@pytest.fixture(scope="module")
def agreement():
    path = ROOT / "examples" / "agreements" / "line-of-contact.yaml"
    return parse_agreement(path.read_text(encoding="utf-8"), name=str(path))


# -- the table --------------------------------------------------------------------------------

def test_table_takes_the_simulators_defaults():
    p = ScenarioParams("x", 3600.0, 0.0, 0.0)
    assert DETECTABILITY["array", "launch"] == Detectability(p.acoustic_p_max, p.acoustic_r50_launch_m,
                                                             p.acoustic_width_m, "simulator")
    assert DETECTABILITY["microphone", "impact"].r50_m == p.acoustic_r50_impact_m
    assert DETECTABILITY["observer", "impact"].p_max == p.observer_p_max
    assert DETECTABILITY["camera", "launch"].width_m == p.camera_width_m
    assert DETECTABILITY["uav", "launch"].r50_m == p.uav_radius_m
    # explosions of unknown type take the impact's (quieter) curve; the rest are assumptions
    assert DETECTABILITY["array", "explosion"] == DETECTABILITY["array", "impact"]
    assert DETECTABILITY["observer", "weapon_sighting"].basis == "assumption"
    assert ("microphone", "weapon_sighting") not in DETECTABILITY
    assert {k for _, k in DETECTABILITY} == set(COVERAGE_KINDS)


def test_unknown_kind_is_refused():
    net = Network(sensors(("M", 36.0, 48.0, "microphone")))
    with pytest.raises(ValueError, match="'civilian_casualty' has no coverage model"):
        detection_probability(net, 36.0, 48.0, T0, "civilian_casualty")


# -- closed forms -----------------------------------------------------------------------------

def test_one_sensor_half_probability_at_r50():
    net = Network(sensors(("M", 36.0, 48.0, "microphone")))
    assert p1(net, at(36.0, 48.0, 37.0, MIC.r50_m)) == pytest.approx(MIC.p_max / 2, abs=1e-5)
    assert p1(net, (36.0, 48.0)) == pytest.approx(MIC.p_max * expit(MIC.r50_m / MIC.width_m), abs=1e-12)
    # beyond r50 + 8 width nothing, as in the simulator
    assert p1(net, at(36.0, 48.0, 200.0, MIC.r50_m + 8 * MIC.width_m + 50.0)) == 0.0


def test_distances_are_geodesic():
    """Implied distance against pyproj.Geod: 3 degrees off the frame's central meridian."""
    net = Network(sensors(("W", 32.0, 48.0, "microphone"), ("E", 38.0, 48.0, "microphone")))
    az = np.linspace(0.0, 350.0, 36)
    dist = np.linspace(12_000.0, 20_000.0, 36)
    lon, lat, _ = GEOD.fwd(np.full(36, 38.0), np.full(36, 48.0), az, dist)
    p = detection_probability(net, lon, lat, T0, "explosion")
    implied = MIC.r50_m - MIC.width_m * logit(p / MIC.p_max)
    np.testing.assert_allclose(implied, dist, rtol=1e-5)


def test_independent_sensors_combine():
    net = Network(sensors(("A", 36.0, 48.0, "microphone"), ("B", 36.0, 48.0, "array")))
    q = at(36.0, 48.0, 90.0, 9_000.0)
    p = float(detection_curve(MIC, 9_000.0))
    assert p1(net, q) == pytest.approx(1 - (1 - p) ** 2, abs=1e-5)
    assert 0.0 < p1(Network(sensors(("A", 36.0, 48.0, "microphone"))), q) < p1(net, q)


def test_outage():
    s = sensors(("M", 36.0, 48.0, "microphone"))
    net = Network(s, outages=(Outage("M", T0, T0 + 600.0),))
    q = at(36.0, 48.0, 0.0, 5_000.0)
    assert p1(net, q, T0 - 1) > 0.85
    assert p1(net, q, T0) == 0.0 and p1(net, q, T0 + 599.0) == 0.0
    assert p1(net, q, T0 + 600.0) > 0.85
    forever = Network(s, outages=(Outage("M", -math.inf, math.inf),))
    assert p1(forever, q) == 0.0


def test_camera_field_of_view_and_range():
    cam = DETECTABILITY["camera", "explosion"]
    s = sensors(("C", 36.0, 48.0, "camera"))
    net = Network(s, camera_views=(CameraView("C", 90.0, 30.0, 7_000.0),))
    inside = at(36.0, 48.0, 90.0 + 29.0, 5_000.0)
    assert p1(net, inside) == pytest.approx(float(detection_curve(cam, 5_000.0)), abs=1e-5)
    assert p1(net, at(36.0, 48.0, 90.0 + 31.0, 5_000.0)) == 0.0       # outside the view
    assert p1(net, at(36.0, 48.0, 270.0, 2_000.0)) == 0.0              # behind the camera
    assert p1(net, at(36.0, 48.0, 90.0, 7_050.0)) == 0.0               # beyond its range
    assert p1(Network(s), inside) == 0.0                               # no view: not counted


def test_uav_sees_only_while_airborne_within_its_radius():
    uav = DETECTABILITY["uav", "explosion"]
    s = sensors(("U", 36.0, 48.0, "uav"))
    net = Network(s, flights=(Flight("U", T0, T0 + 1800.0),))
    centre = (36.0, 48.0)
    assert p1(net, centre, T0 - 1.0) == 0.0 and p1(net, centre, T0 + 1800.0) == 0.0   # grounded
    assert p1(net, centre, T0 + 60.0) == pytest.approx(uav.p_max, abs=1e-6)
    assert p1(net, at(36.0, 48.0, 45.0, uav.r50_m - 1.0), T0 + 60.0) == pytest.approx(uav.p_max / 2, abs=0.01)
    assert p1(net, at(36.0, 48.0, 45.0, uav.r50_m + 30.0), T0 + 60.0) == 0.0
    small = Network(s, flights=(Flight("U", T0, T0 + 1800.0, radius_m=2_000.0),))
    assert p1(small, at(36.0, 48.0, 45.0, 3_000.0), T0 + 60.0) == 0.0
    assert p1(small, at(36.0, 48.0, 45.0, 1_000.0), T0 + 60.0) == pytest.approx(
        float(detection_curve(replace(uav, r50_m=2_000.0), 1_000.0)), abs=1e-5)
    # along a track: at the middle of its time, in the middle of its way
    a, b = (36.0, 48.0), at(36.0, 48.0, 90.0, 20_000.0)
    tracked = Network(s, flights=(Flight("U", T0, T0 + 1000.0, 2_000.0,
                                         ((a[0], a[1], T0), (b[0], b[1], T0 + 1000.0))),))
    mid = at(36.0, 48.0, 90.0, 10_000.0)
    assert p1(tracked, mid, T0 + 500.0) == pytest.approx(uav.p_max, abs=1e-3)
    assert p1(tracked, mid, T0 + 100.0) == 0.0


def test_patrol_position_is_interpolated_and_present_only_on_its_track():
    pat = DETECTABILITY["patrol", "explosion"]
    a, b = (36.0, 48.0), at(36.0, 48.0, 0.0, 40_000.0)
    net = Network(sensors(("M", 30.0, 40.0, "microphone")),
                  patrols=(Patrol("P1", ((a[0], a[1], T0), (b[0], b[1], T0 + 4000.0))),))
    where = at(36.0, 48.0, 0.0, 10_000.0)            # a quarter of the way, at a quarter time
    east = at(where[0], where[1], 90.0, 7_000.0)
    assert p1(net, east, T0 + 1000.0) == pytest.approx(float(detection_curve(pat, 7_000.0)), abs=2e-3)
    assert p1(net, where, T0 + 1000.0) == pytest.approx(float(detection_curve(pat, 0.0)), abs=1e-3)
    assert p1(net, where, T0 - 1.0) == 0.0 and p1(net, where, T0 + 4001.0) == 0.0


def test_network_refuses_bad_references():
    s = sensors(("M", 36.0, 48.0, "microphone"), ("U", 36.0, 48.0, "uav"))
    with pytest.raises(ValueError, match=r"outages\[0\]: unknown sensor 'X'"):
        Network(s, outages=(Outage("X", 0.0, 1.0),))
    with pytest.raises(ValueError, match=r"camera_views\[0\]: 'M' is not a camera"):
        Network(s, camera_views=(CameraView("M", 0.0, 45.0, 5000.0),))
    with pytest.raises(ValueError, match=r"flights\[0\]: 'M' is not a uav"):
        Network(s, flights=(Flight("M", 0.0, 1.0),))
    with pytest.raises(ValueError, match=r"patrols\[0\] \(P\): track times must increase"):
        Network(s, patrols=(Patrol("P", ((36.0, 48.0, 5.0), (36.1, 48.0, 5.0))),))


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.floats(-0.2, 0.2), st.floats(-0.2, 0.2),
                          st.sampled_from(["microphone", "array", "observer"])), min_size=1, max_size=6),
       st.floats(-0.2, 0.2), st.floats(-0.2, 0.2))
def test_another_sensor_never_lowers_coverage(rows, qx, qy):
    full = Network(sensors(*[(f"S{i}", 36.0 + x, 48.0 + y, k) for i, (x, y, k) in enumerate(rows)]))
    fewer = Network(sensors(*[(f"S{i}", 36.0 + x, 48.0 + y, k) for i, (x, y, k) in enumerate(rows[:-1])])) \
        if len(rows) > 1 else None
    p = p1(full, (36.0 + qx, 48.0 + qy))
    assert 0.0 <= p <= 1.0
    if fewer is not None:
        assert p1(fewer, (36.0 + qx, 48.0 + qy)) <= p * (1 + 1e-7) + 1e-12   # frames differ by micrometres


# -- windows and places -----------------------------------------------------------------------

def test_window_probability_is_the_time_average():
    net = Network(sensors(("M", 36.0, 48.0, "microphone")),
                  outages=(Outage("M", T0, T0 + 900.0),))
    q = at(36.0, 48.0, 0.0, 8_000.0)
    p = float(detection_curve(MIC, 8_000.0))
    assert float(window_probability(net, *q, T0, T0 + 3600.0, "explosion")) == pytest.approx(0.75 * p, abs=1e-5)
    # a moving patrol: the midpoint rule against a brute-force mean
    a, b = (36.0, 48.0), at(36.0, 48.0, 90.0, 30_000.0)
    moving = Network(sensors(("M", 30.0, 40.0, "microphone")),
                     patrols=(Patrol("P1", ((a[0], a[1], T0), (b[0], b[1], T0 + 3600.0))),))
    q = at(36.0, 48.0, 90.0, 12_000.0)
    brute = np.mean([p1(moving, q, t) for t in T0 + (np.arange(3600) + 0.5)])
    got = float(window_probability(moving, *q, T0, T0 + 3600.0, "explosion", step_s=30.0))
    assert got == pytest.approx(brute, abs=2e-3)


def test_place_coverage_over_a_disc_and_its_evidence():
    s = sensors(("M", 36.0, 48.0, "microphone"), ("OP", 36.0, 48.05, "observer"),
                ("FAR", 37.0, 48.0, "microphone"))
    net = Network(s, outages=(Outage("OP", T0 - 10.0, T0 + 7200.0),))
    res = place_coverage(net, (36.0, 48.0), T0, T0 + 3600.0, "explosion", radius_m=15_000.0,
                         n_points=400)
    # the mean of p over a disc around the sensor: (2 / R²) ∫ p(r) r dr
    r = np.linspace(0.0, 15_000.0, 30_001)
    expected = float(np.sum(detection_curve(MIC, r) * r) * (r[1] - r[0]) * 2 / 15_000.0 ** 2)
    assert res.probability == pytest.approx(expected, abs=5e-3)
    assert [c.asset_id for c in res.contributions] == ["M"]
    m = res.contributions[0]
    assert m.asset_kind == "microphone" and m.available_share == 1.0 and m.distance_m < 1.0
    assert m.probability == pytest.approx(res.probability, abs=1e-9)
    assert [c.asset_id for c in res.unavailable] == ["OP"]
    assert res.unavailable[0].potential > 0.3 and res.unavailable[0].available_share == 0.0
    # a polygon: about n_points samples inside it
    poly = shapely.Polygon([(35.95, 47.95), (36.05, 47.95), (36.05, 48.05), (35.95, 48.05)])
    res2 = place_coverage(net, poly, T0, T0, "explosion", n_points=100)
    assert 50 <= res2.n_points <= 130 and res2.n_times == 1 and res2.probability > 0.9


# -- the line -----------------------------------------------------------------------------------

def test_line_coverage_share_is_the_analytic_chords():
    """Microphones 4 km east of a meridian line, 60 km apart (no overlap): each covers a chord
    of 2·sqrt(d² − 4²) km where p(d) = 0.5; a UAV over the line for half of hour 1 adds its own."""
    line = shapely.LineString([(36.0, 47.0), (36.0, 49.0)])
    length = float(GEOD.line_length([36.0, 36.0], [47.0, 49.0]))
    rows = [(f"M{i}", *at(36.0, lat, 90.0, 4_000.0), "microphone") for i, lat in enumerate((47.4, 47.95, 48.5))]
    uav_at = (36.0, 48.85)
    s = sensors(*rows, ("U", *uav_at, "uav"))
    net = Network(s, flights=(Flight("U", T0 + 3600.0, T0 + 5400.0),))
    d_half = MIC.r50_m - MIC.width_m * logit(0.5 / MIC.p_max)
    mics = 3 * 2 * math.sqrt(d_half ** 2 - 4_000.0 ** 2) / length
    uav = DETECTABILITY["uav", "explosion"]
    u_half = uav.r50_m - uav.width_m * logit(0.5 / uav.p_max)
    flights = 2 * u_half / length
    share = line_coverage(net, line, T0, "explosion", spacing_m=100.0)
    assert share == pytest.approx(mics, abs=3 * 2 * 100.0 / length)
    hours = hourly_line_coverage(net, line, T0, "explosion", hours=3, spacing_m=100.0)
    np.testing.assert_allclose(hours, [mics, mics + flights / 2, mics], atol=8 * 100.0 / length)
    assert line_coverage(net, line, T0 + 3700.0, "explosion", duration_s=0.0, spacing_m=100.0) == \
        pytest.approx(mics + flights, abs=8 * 100.0 / length)


def test_line_samples_are_geodesic():
    lon, lat, length = line_samples([np.array([[36.0, 47.0], [37.0, 48.0], [36.5, 48.5]])], 2_000.0)
    total = float(GEOD.line_length([36.0, 37.0, 36.5], [47.0, 48.0, 48.5]))
    assert length.sum() == pytest.approx(total, rel=1e-6)
    assert np.all(length <= 2_000.0) and len(lon) == math.ceil(total / 2_000.0)


# -- the simulator's network --------------------------------------------------------------------

SPARSE = replace(SCENARIOS["barrage"], name="sparse", acoustic_spacing_km=12.0, observer_spacing_km=25.0,
                 camera_spacing_km=20.0, uav_spacing_km=20.0, outage_fraction=0.15,
                 clutter_per_min_per_sensor=0.0, acoustic_r50_impact_m=6_000.0,
                 line_from_km=380.0, line_to_km=480.0)


def test_simulated_network_is_what_the_simulator_applies(agreement):
    res = simulate(agreement, SCENARIOS["active"], seed=4)
    assert res.network is not None
    net = network_from_simulation(simulated_network(agreement, SCENARIOS["active"], seed=4))
    ids = res.sensors.ids
    assert [o.sensor_id for o in net.outages] == [str(i) for i in ids[res.network.down]]
    assert len(net.outages) == round(0.05 * len(ids))
    assert {v.sensor_id for v in net.camera_views} == {str(i) for i in ids[res.sensors.kind == "camera"]}
    assert all(f.end_s - f.start_s <= 2400.0 and f.radius_m == 6000.0 for f in net.flights)
    assert net.detectability is None                # the defaults: the built-in table
    # no detection of a down sensor, and every UAV fix within one of its flights
    down = {o.sensor_id for o in net.outages}
    det_ids = ids[res.detections.sensor]
    assert not down & set(det_ids.tolist())
    uav = res.sensors.kind[res.detections.sensor] == "uav"
    for sid, t in zip(det_ids[uav], res.detections.time_s[uav]):
        assert any(f.sensor_id == sid and f.start_s - 3.0 <= t <= f.end_s + 3.0 for f in net.flights)


def test_realised_detection_rate_matches_the_prediction(agreement):
    """Over simulated events, "some sensor detected it" is Bernoulli(P) under the model.

    A sparse network (sensors 12-25 km apart, 15 % down, quieter impacts) spreads P over
    [0, 1]. Each event's detection is drawn independently, so a bin's count of detected
    events has mean Σ P and standard deviation sqrt(Σ P (1 − P)); |z| < 4 fails by chance
    about once in 16,000 bins. The model differs from the simulator only in thin rings (a UAV
    sees up to 68 m past its radius in the simulator; acoustic impacts are gated at 31 km there
    rather than 22 km, where p < 1e-3), worth far less than one standard deviation; and every
    detection the simulator made is one the model allows, except in that UAV ring.
    """
    allowed: set[tuple[int, str]] = set()
    p_all, heard_all, unexplained = [], [], []
    for seed in (1, 2, 3):
        res = simulate(agreement, SPARSE, seed=seed)
        net = network_from_simulation(res.network)
        assert net.detectability is not None and net.detectability["array", "impact"].r50_m == 6000.0
        tr = res.truth
        for i in range(len(tr.event_id)):
            pc = place_coverage(net, (tr.lon[i], tr.lat[i]), tr.time_s[i], tr.time_s[i], tr.kind[i], top=100)
            p_all.append(pc.probability)
            allowed |= {(int(tr.event_id[i]), c.asset_id) for c in pc.contributions}
        heard_all.append(np.isin(tr.event_id, np.array(list(tr.detection_event.values()))))
        events = np.array([tr.detection_event[d] for d in res.detections.ids])
        where = {int(e): i for i, e in enumerate(tr.event_id)}
        for e, j in zip(events.tolist(), res.detections.sensor.tolist()):
            if e >= 0 and (e, str(res.sensors.ids[j])) not in allowed:
                i = where[e]
                d = GEOD.inv(res.sensors.lon[j], res.sensors.lat[j], tr.lon[i], tr.lat[i])[2]
                unexplained.append((str(res.sensors.kind[j]), float(d)))
    p, heard = np.array(p_all), np.concatenate(heard_all)
    assert len(p) > 3000 and 0.02 < np.mean(p < 0.5) < 0.2
    for lo, hi in ((0.0, 0.5), (0.5, 0.9), (0.9, 0.99), (0.99, 1.01), (0.0, 1.01)):
        sel = (p >= lo) & (p < hi)
        assert sel.sum() >= 50
        z = (heard[sel].sum() - p[sel].sum()) / math.sqrt(np.sum(p[sel] * (1 - p[sel])))
        assert abs(z) < 4.0, (lo, hi, int(sel.sum()), float(p[sel].mean()), float(heard[sel].mean()), z)
    assert all(kind == "uav" and d <= SPARSE.uav_radius_m + 100.0 for kind, d in unexplained), unexplained


# -- the network file ---------------------------------------------------------------------------

def _full_network() -> Network:
    s = sensors(("MIC-1", 36.0, 48.0, "microphone"), ("CAM-1", 36.05, 48.0, "camera"),
                ("UAV-1", 36.1, 48.1, "uav"), ("OP-1", 36.2, 48.0, "observer"))
    return Network(
        s,
        outages=(Outage("MIC-1", T0, T0 + 600.5), Outage("OP-1", T0 + 100.0, math.inf)),
        camera_views=(CameraView("CAM-1", 123.4567, 40.0, 7_500.0),),
        flights=(Flight("UAV-1", T0, T0 + 1800.0, 5_000.0),
                 Flight("UAV-1", T0 + 3600.0, T0 + 4000.0, None,
                        ((36.1, 48.1, T0 + 3600.0), (36.2, 48.15, T0 + 4000.0)))),
        patrols=(Patrol("PAT-1", ((36.0, 47.9, T0), (36.1, 47.95, T0 + 1200.25))),),
        detectability={("camera", "explosion"): Detectability(0.5, 3_000.0, 500.0, "site survey")},
    )


def test_network_file_round_trip(tmp_path):
    net = _full_network()
    path = write_network(net, tmp_path / "net" / "network.json", write_sensors_file=True)
    back, rejected = read_network(path)
    assert rejected == []
    assert back.sensors.ids.tolist() == net.sensors.ids.tolist()
    for name in ("outages", "camera_views", "flights", "patrols"):
        a, b = getattr(net, name), getattr(back, name)
        assert len(a) == len(b)
        for x, y in zip(a, b):
            for fx, fy in zip(x.__dict__.values(), y.__dict__.values()):
                if isinstance(fx, tuple):
                    np.testing.assert_allclose(np.asarray(fx), np.asarray(fy), atol=1e-6)
                elif isinstance(fx, float):
                    assert fy == pytest.approx(fx, abs=1e-6)
                else:
                    assert fx == fy
    assert dict(back.detectability) == dict(net.detectability)
    q = np.array([36.02, 36.05, 36.12]), np.array([47.99, 47.97, 48.1])
    for t in (T0 + 50.0, T0 + 700.0, T0 + 3700.0):
        np.testing.assert_allclose(detection_probability(back, *q, t, "explosion"),
                                   detection_probability(net, *q, t, "explosion"), atol=1e-9)


def test_sim_network_file(tmp_path, agreement):
    params = replace(SCENARIOS["quiet"], acoustic_r50_launch_m=12_000.0)
    res = simulate(agreement, params, seed=3)
    from linewatch.formats.sensors import write_scenario
    write_scenario(res, tmp_path, params, 3)
    path = write_sim_network(agreement, params, 3, tmp_path)
    assert path == tmp_path / "network.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["format"] == "linewatch-network" and doc["sensors"] == "sensors.csv"
    assert {(d["asset_kind"], d["event_kind"]) for d in doc["detectability"]} == \
        {("microphone", "launch"), ("array", "launch")}
    back, _ = read_network(path)
    assert len(back.outages) == int(res.network.down.sum())
    assert len(back.flights) == len(res.network.flight_sensor)


GOOD = {"format": "linewatch-network", "version": 1, "sensors": "sensors.csv",
        "outages": [{"sensor_id": "MIC-1", "start": "2025-06-15T00:00:00Z", "end": None}],
        "camera_views": [{"sensor_id": "CAM-1", "azimuth_deg": 90, "half_fov_deg": 45, "range_m": 8000}],
        "flights": [{"sensor_id": "UAV-1", "start": "2025-06-15T00:00:00Z", "end": "2025-06-15T00:30:00Z"}],
        "patrols": [{"patrol_id": "PAT-1", "track": [{"lon": 36.0, "lat": 48.0, "time": "2025-06-15T00:00:00Z"},
                                                     {"lon": 36.1, "lat": 48.0, "time": "2025-06-15T01:00:00Z"}]}],
        "detectability": [{"asset_kind": "camera", "event_kind": "launch", "p_max": 0.5, "r50_m": 1000,
                           "width_m": 100}]}


def _edit(path: str, value):
    doc = json.loads(json.dumps(GOOD))
    *head, last = path.split("/")
    node = doc
    for k in head:
        node = node[int(k)] if isinstance(node, list) else node[k]
    if value is _DELETE:
        del node[last]
    else:
        node[int(last) if isinstance(node, list) else last] = value
    return json.dumps(doc, indent=1)


_DELETE = object()


@pytest.mark.parametrize("path, value, message", [
    ("format", "linewatch-sensors", "format: 'linewatch-sensors' is not 'linewatch-network'"),
    ("version", 2, "version: 2 is not supported"),
    ("sensors", "missing.csv", "sensors: no such file"),
    ("colour", "red", "colour: unknown field"),
    ("outages/0/sensor_id", "NOPE", "outages[0].sensor_id: unknown sensor 'NOPE'"),
    ("outages/0/until", "x", "outages[0].until: unknown field"),
    ("outages/0/end", "2025-06-14T00:00:00Z", "outages[0].end: '2025-06-14T00:00:00Z' is not after start"),
    ("camera_views/0/sensor_id", "MIC-1", "camera_views[0].sensor_id: 'MIC-1' is a microphone, not a camera"),
    ("camera_views/0/half_fov_deg", 0, "camera_views[0].half_fov_deg: 0 is out of range (0, 180]"),
    ("camera_views/0/range_m", _DELETE, "camera_views[0].range_m: is required"),
    ("flights/0/start", "2025-06-15T00:00:00", "flights[0].start: '2025-06-15T00:00:00' has no time zone"),
    ("flights/0/end", None, "flights[0].end: is required"),
    ("flights/0/radius_m", "big", "flights[0].radius_m: must be a finite number, got 'big'"),
    ("patrols/0/track/1/time", "2025-06-14T00:00:00Z", "patrols[0].track[1].time: '2025-06-14T00:00:00Z' is not after"),
    ("patrols/0/track/0/lat", 95, "patrols[0].track[0].lat: 95 is out of range [-90, 90]"),
    ("patrols/0/patrol_id", "MIC-1", "patrols[0].patrol_id: 'MIC-1' is already a sensor's"),
    ("detectability/0/p_max", 1.5, "detectability[0].p_max: 1.5 is out of range [0, 1]"),
    ("detectability/0/event_kind", "shelling", "detectability[0].event_kind: 'shelling' is not one of"),
])
def test_network_file_errors_name_file_and_field(tmp_path, path, value, message):
    (tmp_path / "sensors.csv").write_text(
        "sensor_id,lon,lat,kind\nMIC-1,36.0,48.0,microphone\nCAM-1,36.05,48.0,camera\n"
        "UAV-1,36.1,48.1,uav\n", encoding="utf-8")
    parse_network(json.dumps(GOOD), name="net.json", base_dir=tmp_path)      # the original is good
    with pytest.raises(InputError) as exc:
        parse_network(_edit(path, value), name="net.json", base_dir=tmp_path)
    assert str(exc.value).startswith("net.json: ") and message in str(exc.value), str(exc.value)


def test_network_file_that_is_not_json(tmp_path):
    with pytest.raises(InputError, match=r"^net.json: line 2, column \d+: invalid JSON"):
        parse_network('{"format": "linewatch-network",\n "version": 1,,}', name="net.json", base_dir=tmp_path)


# -- the CLI, the map and the layering -----------------------------------------------------------

def test_cli_draws_a_map(tmp_path, agreement):
    net = network_from_simulation(simulated_network(agreement, SCENARIOS["quiet"], seed=2))
    path = write_network(net, tmp_path / "network.json", write_sensors_file=True)
    app = typer.Typer()
    app.command("coverage")(coverage_cmd)
    app.callback()(lambda: None)
    runner = CliRunner()
    out = tmp_path / "map.png"
    res = runner.invoke(app, ["coverage", "--at", "2025-06-15T00:20:00Z", "--network", str(path),
                              "--agreement", str(ROOT / "examples" / "agreements" / "line-of-contact.yaml"),
                              "--kind", "launch", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "of the line (1,197.5 km) covered (P >= 0.5 for launch)" in res.output
    bad = runner.invoke(app, ["coverage", "--at", "2025-06-15T00:20:00Z", "--sensors", str(tmp_path / "sensors.csv"),
                              "--kind", "shelling", "--out", str(tmp_path / "x.png")])
    assert bad.exit_code == 2 and "shelling" in bad.output


def test_hourly_share_figure_and_layer(agreement):
    from linewatch.render.coverage_map import hourly_line_shares, hourly_share_figure
    net = network_from_simulation(simulated_network(agreement, SCENARIOS["quiet"], seed=2))
    hours = hourly_line_shares(net, agreement.line_parts, T0, "explosion")
    assert [h["start"] for h in hours[:2]] == ["2025-06-15T00:00:00Z", "2025-06-15T01:00:00Z"]
    assert len(hours) == 24 and all(0.0 < h["share"] < 0.2 for h in hours)   # a 60 km stretch
    fig = hourly_share_figure(hours)
    assert len(fig.axes[0].patches) == 24
    # the layer on the agreement's own map (as the daily report draws it)
    from linewatch.render.coverage_map import draw_coverage_layer
    from linewatch.render.maps import agreement_figure
    ax = agreement_figure(agreement, None, extent=(37.4, 38.4, 48.3, 48.9)).axes[0]
    handles = draw_coverage_layer(ax, agreement.frame, net, T0 + 600.0, "explosion",
                                  (*ax.get_xlim(), *ax.get_ylim()), pixels=60)
    image = ax.images[-1].get_array()
    assert image.shape[1] == 60 and float(image.max()) > 0.99
    assert [h.get_label() for h in handles] == ["P(detect) for explosion", "P = 0.5"]


def test_coverage_module_stays_pure():
    from test_layering import PKG, check_tree
    found = [v for v in check_tree(PKG) if v.path.startswith("coverage/")]
    assert not found, found


def test_the_simulators_defaults_are_the_coverage_models_curves():
    """The simulator takes its detection defaults from the coverage model (the one source)."""
    from linewatch.sim import ScenarioParams
    own = detectability_from_params(ScenarioParams("defaults", 3600.0, 0.0, 0.0))
    assert own == dict(DETECTABILITY)
