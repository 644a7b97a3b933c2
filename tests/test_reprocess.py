"""Reprocessing: partitions by region and window of time, on Dask or not, give exactly the
incidents of one sequential run; the result is stored as a run that supersedes the last."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from linewatch.agreement import parse_agreement
from linewatch.cli.main import app
from linewatch.errors import InputError
from linewatch.fusion import (
    FusionParams,
    assemble,
    fuse,
    plan_partitions,
    plan_regions,
    plan_windows,
    region_chunks,
    run_partition,
    settle,
)
from linewatch.model import Detections
from linewatch.services.distributed import ReprocessRun, reprocess, write_run
from linewatch.sim import SCENARIOS, simulate
from linewatch.store import open_store

ROOT = Path(__file__).resolve().parents[1]
AGREEMENT_PATH = ROOT / "examples" / "agreements" / "line-of-contact.yaml"
AGREEMENT = parse_agreement(AGREEMENT_PATH.read_text())
# 100 km of line in regions of 50 km (two regions, one seam), three hours (two time seams with
# one-hour windows), quiet fire with some clutter
SCENARIO = replace(SCENARIOS["quiet"], duration_s=3 * 3600.0, line_from_km=400.0,
                   line_to_km=500.0, clutter_per_min_per_sensor=0.1)
PARAMS = FusionParams(temperature_c=SCENARIO.temperature_c, region_m=50_000.0)


def _key(incidents):
    return [(i.id, i.time_s, i.lon, i.lat, i.cov_en_m2, i.detections, i.pair_id, i.side,
             i.side_probability) for i in incidents]


@pytest.fixture(scope="module")
def scenario():
    sim = simulate(AGREEMENT, SCENARIO, seed=3)
    ref = fuse(sim.sensors, sim.detections, agreement=AGREEMENT, params=PARAMS)
    return sim, ref


@pytest.fixture(scope="module")
def stored(scenario, tmp_path_factory):
    sim, _ = scenario
    path = tmp_path_factory.mktemp("rp") / "store.sqlite"
    with open_store(path) as store:
        assert store.add_detections(sim.detections, sim.sensors) == len(sim.detections)
    return path


def _span(sim):
    return float(sim.detections.time_s.min()), float(sim.detections.time_s.max()) + 1.0


def _in_process_partitions(sim, window_s, warmup_s):
    det = sim.detections
    setups = plan_regions(sim.sensors, AGREEMENT, PARAMS)
    windows = plan_windows(*_span(sim), window_s, PARAMS)
    specs = {(s.region, s.window): s for s in plan_partitions(len(setups), windows, PARAMS, warmup_s)}

    def run(s):
        lo, hi = det.time_s.searchsorted([s.read_from_s, s.read_to_s])
        part = det.take(list(range(lo, hi)))
        return run_partition(setups[s.region], s, region_chunks(setups[s.region], [part]), PARAMS)

    settled = settle({k: run(s) for k, s in specs.items()}, specs, lambda g: [run(s) for s in g])
    return settled, assemble(settled.results.values(), sim.sensors, AGREEMENT, PARAMS)


def test_the_scenario_crosses_seams(scenario):
    sim, ref = scenario
    assert len(plan_regions(sim.sensors, AGREEMENT, PARAMS)) >= 2
    assert len(ref.incidents) > 100 and any(i.pair_id for i in ref.incidents)
    assert ref.engine == "fusion-3+regions-50km"
    assert len(ref.stats["region_wind_m_s"]) >= 3


def test_without_regions_nothing_changes(scenario):
    """region_m None is the engine as it was: one region, the whole line."""
    sim, _ = scenario
    (setup,) = plan_regions(sim.sensors, AGREEMENT, replace(PARAMS, region_m=None))
    assert len(setup.sensors) == len(sim.sensors) and setup.region.home.all()


@pytest.mark.parametrize("window_h,warmup_h", [(1, 1), (2, 2)])
def test_partitions_give_the_sequential_result(scenario, window_h, warmup_h):
    sim, ref = scenario
    settled, out = _in_process_partitions(sim, window_h * 3600.0, warmup_h * 3600.0)
    n_windows = len(plan_windows(*_span(sim), window_h * 3600.0, PARAMS))
    assert settled.n_seams == len(settled.results) // n_windows * (n_windows - 1)
    assert _key(out.incidents) == _key(ref.incidents)
    assert out.n_detections == len(sim.detections)
    assert out.n_used == ref.n_used


def test_dask_two_workers_identical_with_seams_run_again(scenario, stored):
    """Two worker processes; without warm-up every window starts from nothing, so its state
    at the seam differs from the one the previous window hands on, and the re-run from that
    state is exact. In-process (no Dask) streams the same from the store."""
    sim, ref = scenario
    start, end = _span(sim)
    with open_store(stored) as store:
        run = reprocess(store, sim.sensors, start_s=start, end_s=end, agreement=AGREEMENT,
                        params=PARAMS, window_s=3600.0, warmup_s=0.0, workers=2)
        local = reprocess(store, sim.sensors, start_s=start, end_s=end, agreement=AGREEMENT,
                          params=PARAMS)
    assert run.mode == "local:2" and run.n_partitions == len(plan_regions(sim.sensors, AGREEMENT, PARAMS)) * 4
    assert run.n_rerun > 0
    assert _key(run.incidents) == _key(ref.incidents)
    assert local.mode == "in-process" and _key(local.incidents) == _key(ref.incidents)
    assert run.n_detections == local.n_detections == len(sim.detections)


def test_write_back_supersedes(scenario, tmp_path):
    sim, ref = scenario
    start, end = _span(sim)
    with open_store(tmp_path / "s.sqlite") as store:
        first = ReprocessRun(ref.incidents, len(sim.detections), ref.n_used, ref.engine,
                             "in-process")
        r1, n1 = write_run(store, first, params=PARAMS, start_s=start, end_s=end)
        r2, n2 = write_run(store, first, params=PARAMS, start_s=start, end_s=end)
        rows = list(store.record_rows())
        assert n1 == n2 == len(ref.incidents)
        assert len(rows) == len(ref.incidents)
        assert all(r["id"].endswith(f".r{r2}") for r in rows)
        assert store.count_records() == 2 * len(ref.incidents)


def test_cli_end_to_end(scenario, tmp_path):
    sim, ref = scenario
    db = tmp_path / "cli.sqlite"
    sensors_csv = tmp_path / "sensors.csv"
    from linewatch.formats.sensors import write_sensors
    with sensors_csv.open("w", encoding="utf-8", newline="") as fh:
        write_sensors(sim.sensors, fh)
    with open_store(db) as store:
        store.add_detections(sim.detections, sim.sensors)
    args = ["reprocess", "--from", "2025-06-15T00:00Z", "--to", "2025-06-16", "--sensors",
            str(sensors_csv), "--agreement", str(AGREEMENT_PATH), "--db", str(db),
            "--region-km", "50", "--temperature-c", "15"]
    runner = CliRunner()
    one = runner.invoke(app, args)
    assert one.exit_code == 0, one.output
    two = runner.invoke(app, args + ["--workers", "2", "--window-hours", "2", "--warmup-hours", "1"])
    assert two.exit_code == 0, two.output
    assert "local:2" in two.output
    with open_store(db) as store:
        runs = store.fusion_runs()
        assert [r["engine"] for r in runs] == ["fusion-3+regions-50km"] * 2
        rows = list(store.record_rows())
        assert {r["id"].rsplit(".r", 1)[1] for r in rows} == {str(runs[1]["id"])}
        assert sorted(r["id"].rsplit(".r", 1)[0] for r in rows) == sorted(i.id for i in ref.incidents)
        assert store.count_records() == 2 * len(ref.incidents)
        assert all(json.loads(json.dumps(r))["engine"] == "fusion-3+regions-50km" for r in rows)


@pytest.mark.parametrize("bad", [("--from", "yesterday"), ("--to", "2025-06-15T10:00"),
                                 ("--to", "2025-06-14")])
def test_bad_times_are_input_errors(tmp_path, bad):
    sensors_csv = tmp_path / "s.csv"
    sensors_csv.write_text("sensor_id,kind,lon,lat\nMIC-1,microphone,37.0,48.0\n")
    opts = {"--from": "2025-06-15", "--to": "2025-06-16"}
    opts[bad[0]] = bad[1]
    args = ["reprocess", "--sensors", str(sensors_csv), "--db", str(tmp_path / "x.sqlite")]
    for k, v in opts.items():
        args += [k, v]
    res = CliRunner().invoke(app, args)
    assert isinstance(res.exception, InputError) and res.exception.exit_code == 4
    assert bad[1] in str(res.exception) and "sensors" not in str(res.exception)


def test_window_plan_is_whole_hours():
    with pytest.raises(ValueError):
        plan_windows(0.0, 7200.0, 1800.0, PARAMS)
    w = plan_windows(1000.0, 3 * 86400.0, 86400.0, PARAMS)
    assert [x.start_s for x in w] == [1000.0, 86400.0, 172800.0] and w[-1].end_s == 3 * 86400.0


def test_empty_detections_in_a_partition():
    """A region with no detections in a window hands on no state and takes none."""
    assert Detections.from_columns([], [], [], []).time_s.size == 0


def test_a_range_without_stored_detections_is_refused_and_supersedes_nothing(tmp_path):
    """Reprocessing nothing would hide the range's fused records behind an empty run."""
    sensors_csv = tmp_path / "s.csv"
    sensors_csv.write_text("sensor_id,kind,lon,lat\nMIC-1,microphone,37.0,48.0\n")
    db = tmp_path / "x.sqlite"
    res = CliRunner().invoke(app, ["reprocess", "--sensors", str(sensors_csv), "--db", str(db),
                                   "--from", "2025-06-15", "--to", "2025-06-16"])
    assert isinstance(res.exception, InputError) and "no stored detections" in str(res.exception)
    with open_store(db) as store:
        assert store.fusion_runs() == []
