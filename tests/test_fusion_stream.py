"""Streaming fusion: how the input is cut, and how the work is spread, do not change the result."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from linewatch.agreement import parse_agreement
from linewatch.fusion import FusionParams, fuse, fuse_chunks
from linewatch.sim import SCENARIOS, simulate, simulate_chunks

ROOT = Path(__file__).resolve().parents[1]
AGREEMENT = parse_agreement((ROOT / "examples" / "agreements" / "line-of-contact.yaml").read_text())
# two tiles along 100 km of line, two and a half hours: seams in space and in time
SCENARIO = replace(SCENARIOS["active"], duration_s=9000.0, line_from_km=400.0, line_to_km=500.0,
                   clutter_per_min_per_sensor=0.3)
PARAMS = FusionParams(temperature_c=SCENARIO.temperature_c)


@pytest.fixture(scope="module")
def whole():
    sim = simulate(AGREEMENT, SCENARIO, seed=5)
    return sim, fuse(sim.sensors, sim.detections, agreement=AGREEMENT, params=PARAMS)


def _key(incidents):
    return [(i.id, i.time_s, i.lon, i.lat, i.cov_en_m2, i.pair_id, i.side) for i in incidents]


def test_the_scenario_has_seams_to_cross(whole):
    sim, res = whole
    assert len(res.incidents) > 100
    assert len(res.stats["wind_m_s"]) == 3                    # three hours
    assert any(i.pair_id for i in res.incidents)


def test_chunks_of_any_size_give_the_same_incidents(whole):
    sim, res = whole
    _, chunks = simulate_chunks(AGREEMENT, SCENARIO, seed=5, chunk_s=700.0)
    hours = list(fuse_chunks(sim.sensors, (d for d, _ in chunks), agreement=AGREEMENT, params=PARAMS))
    streamed = sorted((i for h in hours for i in h.incidents), key=lambda i: (i.time_s, i.id))
    assert _key(streamed) == _key(res.incidents)
    assert sum(h.n_detections for h in hours) == len(sim.detections)
    assert sum(h.n_used for h in hours) == res.n_used
    # cut by count, shuffled within each chunk
    det = sim.detections
    rng = np.random.default_rng(1)
    cuts = [det.take(rng.permutation(np.arange(a, min(a + 997, len(det)))))
            for a in range(0, len(det), 997)]
    again = [i for h in fuse_chunks(sim.sensors, cuts, agreement=AGREEMENT, params=PARAMS)
             for i in h.incidents]
    assert _key(sorted(again, key=lambda i: (i.time_s, i.id))) == _key(res.incidents)


def test_worker_processes_give_the_same_incidents(whole):
    sim, res = whole
    with ProcessPoolExecutor(2) as pool:
        par = fuse(sim.sensors, sim.detections, agreement=AGREEMENT, params=PARAMS, map_fn=pool.map)
    assert _key(par.incidents) == _key(res.incidents)


def test_each_detection_joins_at_most_one_incident(whole):
    _, res = whole
    ids = [d for i in res.incidents for d in i.detections]
    assert len(ids) == len(set(ids)) == res.n_used


def test_detections_that_come_after_their_hour_was_fused_are_reported(whole):
    sim, _ = whole
    det = sim.detections
    t0 = float(det.time_s.min())
    early = np.flatnonzero(det.time_s < t0 + 600.0)[:5]
    rest = np.setdiff1d(np.arange(len(det)), early)
    hours = list(fuse_chunks(sim.sensors, [det.take(rest), det.take(early)],
                             agreement=AGREEMENT, params=PARAMS))
    late = [d for h in hours for d in h.late]
    assert sorted(late) == sorted(str(i) for i in det.ids[early])
    used = {d for h in hours for i in h.incidents for d in i.detections}
    assert not used & set(late)


def test_parameters_that_would_break_the_partition_are_refused():
    with pytest.raises(ValueError, match="block_s"):
        FusionParams(block_s=700.0)
    with pytest.raises(ValueError, match="tile_margin_m"):
        FusionParams(tile_m=40_000.0, tile_margin_m=25_000.0)


def test_a_launch_pairs_with_an_impact_of_the_next_hour():
    from linewatch.fusion import Pairer
    from linewatch.model import Incident
    frame = AGREEMENT.frame
    cov = ((100.0, 0.0), (0.0, 100.0))

    def inc(name, kind, t, dx_m):
        lon, lat = frame.to_lonlat(np.array([200_000.0 + dx_m]), np.array([5_400_000.0]))
        return Incident(name, t, float(lon[0]), float(lat[0]), kind, (name,), 10.0, 10.0, 0.0, cov)

    pairer = Pairer(frame, PARAMS, lambda x, y: np.zeros(len(x), int))
    launch = inc("l", "launch", 3590.0, 0.0)
    first = pairer.add([launch])
    assert first == []                                   # held until the next hour is known
    impact = inc("i", "impact", 3630.0, 12_000.0)        # 12 km in 40 s: 300 m/s
    lone = inc("u", "impact", 3700.0, 200_000.0)         # 200 km away: no launch
    out = pairer.add([impact, lone])
    assert [i.id for i in out] == ["l"] and out[0].pair_id
    rest = pairer.flush()
    assert {i.id: i.pair_id for i in rest} == {"i": out[0].pair_id, "u": None}
