"""The public sensor, detection and ground-truth formats (docs/fusion-formats.md)."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linewatch.agreement import parse_agreement
from linewatch.errors import InputError
from linewatch.formats.sensors import (
    iter_detection_chunks,
    read_detections,
    read_sensors,
    read_truth,
    write_detections,
    write_scenario,
    write_sensors,
    write_truth,
)
from linewatch.model import Detections, Sensors, utc_iso_array
from linewatch.sim import SCENARIOS, simulate, simulate_chunks

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "fusion"
T0 = 1_749_945_600.0  # 2025-06-15T00:00:00Z


@pytest.fixture(scope="module")
def agreement():
    path = ROOT / "examples" / "agreements" / "line-of-contact.yaml"
    return parse_agreement(path.read_text(encoding="utf-8"), name=str(path))


@pytest.fixture(scope="module")
def small(agreement):
    params = replace(SCENARIOS["active"], duration_s=900.0)
    return params, simulate(agreement, params, seed=5)


def _sensors(name="sensors_good.csv"):
    with open(DATA / name, encoding="utf-8", newline="") as f:
        return read_sensors(f, name=name)


def _equal_detections(a: Detections, b: Detections, *, time_tol=1e-6):
    assert len(a) == len(b)
    assert a.ids.tolist() == b.ids.tolist()
    assert (a.sensor == b.sensor).all()
    assert a.kind.tolist() == b.kind.tolist()
    np.testing.assert_allclose(a.time_s, b.time_s, atol=time_tol, rtol=0)
    for f, tol in (("time_sd_s", 1e-6), ("bearing_deg", 1e-4), ("bearing_sd_deg", 1e-4),
                   ("range_m", 1e-3), ("range_sd_m", 1e-3), ("lon", 1e-7), ("lat", 1e-7),
                   ("position_sd_m", 1e-3), ("temperature_c", 1e-3)):
        x, y = getattr(a, f), getattr(b, f)
        assert (np.isnan(x) == np.isnan(y)).all(), f
        np.testing.assert_allclose(x[~np.isnan(x)], y[~np.isnan(y)], atol=tol, rtol=0, err_msg=f)


# -- sensors --------------------------------------------------------------------------------

def test_sensors_csv_and_jsonl_agree():
    a, rej_a = _sensors("sensors_good.csv")
    b, rej_b = _sensors("sensors_good.jsonl")
    assert rej_a == [] and rej_b == []
    assert a.ids.tolist() == b.ids.tolist() == ["MIC-1", "MIC-2", "ARR-1", "OP-1", "CAM-1", "UAV-1"]
    for f in ("lon", "lat", "elevation_m", "clock_sd_s"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert a.kind.tolist() == ["microphone", "microphone", "array", "observer", "camera", "uav"]
    assert a.elevation_m[3] == 0.0 and a.clock_sd_s[1] == 0.0   # empty cells: the defaults


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_sensors_round_trip(small, fmt):
    _, result = small
    buf = io.StringIO()
    write_sensors(result.sensors, buf, fmt=fmt)
    back, rej = read_sensors(io.StringIO(buf.getvalue()), name=f"s.{fmt}")
    assert rej == []
    s = result.sensors
    assert back.ids.tolist() == s.ids.tolist() and back.kind.tolist() == s.kind.tolist()
    np.testing.assert_allclose(back.lon, s.lon, atol=1e-7)
    np.testing.assert_allclose(back.lat, s.lat, atol=1e-7)
    np.testing.assert_array_equal(back.clock_sd_s, s.clock_sd_s)


def test_bad_sensor_rows_are_quarantined():
    sensors, rej = _sensors("sensors_bad.csv")
    assert sensors.ids.tolist() == ["MIC-1", "ARR-1"]
    got = {(r.line, r.field) for r in rej}
    assert got == {(3, "lon"), (4, "lat"), (5, "kind"), (6, "sensor_id"), (7, None),
                   (8, "clock_sd_s"), (9, "lon"), (10, "sensor_id")}
    assert all(r.file == "sensors_bad.csv" and r.reason and r.raw for r in rej)
    dup = next(r for r in rej if r.line == 6)
    assert "duplicate" in dup.reason and "line 2" in dup.reason


@pytest.mark.parametrize("text, match", [
    ("", "empty"),
    ("\n\n", "empty"),
    ("id,lon,lat,kind\nA,1,2,microphone\n", "missing column"),
    ("sensor_id,lon,lat,kind,colour\nA,1,2,microphone,red\n", "unknown column"),
    ("sensor_id,lon,lat,kind\nA,1,200,microphone\n", "no valid sensors"),
])
def test_sensor_file_problems_raise(text, match):
    with pytest.raises(InputError, match=match):
        read_sensors(io.StringIO(text), name="s.csv")


def test_sensors_not_utf8_raises(tmp_path):
    p = tmp_path / "s.csv"
    p.write_bytes(b"sensor_id,lon,lat,kind\n\xff\xfe,1,2,microphone\n")
    with open(p, encoding="utf-8", newline="") as f, pytest.raises(InputError, match="UTF-8"):
        read_sensors(f, name=str(p))


# -- detections -----------------------------------------------------------------------------

def test_good_detections_epoch_and_iso_times():
    sensors, _ = _sensors()
    with open(DATA / "detections_good.jsonl", encoding="utf-8") as f:
        d, rej = read_detections(f, sensors, name="detections_good.jsonl")
    assert rej == []
    assert len(d) == 7
    t = dict(zip(d.ids.tolist(), d.time_s.tolist()))
    assert t["d1"] == pytest.approx(T0 + 10.125, abs=1e-6)
    assert t["d2"] == T0 + 10.5                              # epoch seconds as a number
    assert t["d3"] == pytest.approx(T0 + 11.0, abs=1e-6)     # +03:00 converted to UTC
    assert t["d7"] == pytest.approx(T0 + 12.000001, abs=1e-7)
    assert list(d.time_s) == sorted(d.time_s)
    i = d.ids.tolist().index("d4")
    assert (d.bearing_deg[i], d.range_m[i], d.range_sd_m[i], d.kind[i]) == (10, 5000, 1500, "impact")
    i = d.ids.tolist().index("d6")
    assert np.isnan(d.bearing_deg[i]) and d.position_sd_m[i] == 40   # null: not given
    assert d.kind[d.ids.tolist().index("d1")] == "unknown"


EXPECTED_BAD = {
    2: ("sensor_id", "unknown sensor_id"), 3: ("id", "duplicate id"), 4: ("time", "required"),
    5: ("time_sd_s", "required"), 6: ("time", "ISO 8601"), 7: ("time", "time zone"),
    8: ("bearing_deg", "out of range"), 9: ("bearing_sd_deg", "needs"),
    10: ("range_m", "out of range"), 11: ("lat", "missing"), 12: ("kind", "not one of"),
    13: ("colour", "unknown field"), 14: ("time", "out of order"),
    15: ("time_sd_s", "out of range"), 16: ("temperature_c", "number"), 17: (None, "invalid JSON"),
    18: (None, "JSON object"), 19: ("time", "epoch"),
}


@pytest.mark.parametrize("chunk_size", [200_000, 1, 3])
def test_every_kind_of_bad_detection_is_quarantined(chunk_size):
    sensors, _ = _sensors()
    with open(DATA / "detections_bad.jsonl", encoding="utf-8") as f:
        parts = list(iter_detection_chunks(f, sensors, name="bad.jsonl", chunk_size=chunk_size))
    ids = [i for d, _ in parts for i in d.ids.tolist()]
    rej = [r for _, rs in parts for r in rs]
    assert sorted(ids) == ["b1", "b17"]
    assert {r.line: r.field for r in rej} == {k: v[0] for k, v in EXPECTED_BAD.items()}
    for r in rej:
        assert r.file == "bad.jsonl"
        assert EXPECTED_BAD[r.line][1] in r.reason, (r.line, r.reason)
        assert r.raw == (DATA / "detections_bad.jsonl").read_text().splitlines()[r.line - 1]


def test_duplicates_and_order_across_chunks():
    sensors, _ = _sensors()
    lines = [json.dumps({"id": f"x{i}", "sensor_id": "MIC-1", "time": T0 + i, "time_sd_s": 0.02})
             for i in range(10)]
    lines.append(json.dumps({"id": "x2", "sensor_id": "MIC-2", "time": T0 + 20, "time_sd_s": 0.02}))
    lines.append(json.dumps({"id": "y", "sensor_id": "MIC-1", "time": T0 + 5, "time_sd_s": 0.02}))
    text = "\n".join(lines) + "\n"
    for size in (1, 4, 100):
        parts = list(iter_detection_chunks(io.StringIO(text), sensors, name="x", chunk_size=size))
        rej = [r for _, rs in parts for r in rs]
        assert [(r.line, r.field) for r in rej] == [(11, "id"), (12, "time")], size
        assert sum(len(d) for d, _ in parts) == 10


def test_streaming_reader_equals_whole_reader(small):
    _, result = small
    buf = io.StringIO()
    write_detections(result.detections, result.sensors, buf)
    text = buf.getvalue()
    whole, rej = read_detections(io.StringIO(text), result.sensors, name="d.jsonl")
    assert rej == []
    parts = list(iter_detection_chunks(io.StringIO(text), result.sensors, name="d.jsonl",
                                       chunk_size=97))
    assert len(parts) == -(-len(whole) // 97)
    streamed = Detections(*(np.concatenate([getattr(p, f) for p, _ in parts])
                            for f in Detections.__dataclass_fields__)).sorted()
    _equal_detections(streamed, whole, time_tol=0)


def test_detections_round_trip(small):
    _, result = small
    buf = io.StringIO()
    assert write_detections(result.detections, result.sensors, buf, block=1000) == len(result.detections)
    text = buf.getvalue()
    assert all(json.loads(line) for line in text.splitlines())
    back, rej = read_detections(io.StringIO(text), result.sensors, name="d.jsonl")
    assert rej == []
    _equal_detections(back, result.detections)


def test_write_escapes_ids():
    sensors = Sensors.from_columns(np.array(['a"b', "c\\d"], dtype=object), [37.0, 37.1],
                                   [48.0, 48.1], ["microphone", "array"])
    d = Detections.from_columns(np.array(['id "1"', "id\\2"], dtype=object), [0, 1],
                                [T0, T0 + 1], [0.02, 0.02], bearing_deg=[np.nan, 10.0],
                                bearing_sd_deg=[np.nan, 2.0])
    buf = io.StringIO()
    write_detections(d, sensors, buf)
    back, rej = read_detections(io.StringIO(buf.getvalue()), sensors, name="x")
    assert rej == [] and back.ids.tolist() == ['id "1"', "id\\2"]
    assert back.sensor.tolist() == [0, 1] and back.bearing_deg[1] == 10.0


def test_multiline_json_document_raises():
    sensors, _ = _sensors()
    with pytest.raises(InputError, match="multi-line"):
        read_detections(io.StringIO('{\n"id": "a"\n}\n'), sensors, name="d.json")


def test_empty_detections_file():
    sensors, _ = _sensors()
    d, rej = read_detections(io.StringIO(""), sensors, name="d.jsonl")
    assert len(d) == 0 and rej == []


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=10 * 365 * 86400, allow_nan=False), max_size=20))
def test_iso_and_epoch_times_agree(offsets):
    sensors, _ = _sensors()
    t = np.sort(T0 + np.round(np.array(offsets, dtype=float), 6))
    iso = utc_iso_array(t)
    iso_lines = [json.dumps({"id": f"i{k}", "sensor_id": "MIC-1", "time": s, "time_sd_s": 0.02})
                 for k, s in enumerate(iso.tolist())]
    ep_lines = [json.dumps({"id": f"i{k}", "sensor_id": "MIC-1", "time": float(v), "time_sd_s": 0.02})
                for k, v in enumerate(t.tolist())]
    a, ra = read_detections(io.StringIO("\n".join(iso_lines)), sensors, name="iso")
    b, rb = read_detections(io.StringIO("\n".join(ep_lines)), sensors, name="epoch")
    assert ra == [] and rb == []
    np.testing.assert_allclose(a.time_s, b.time_s, atol=1e-6, rtol=0)


# -- truth and whole scenarios --------------------------------------------------------------

def test_truth_round_trip(small, tmp_path):
    _, result = small
    write_truth(result.truth, tmp_path)
    back = read_truth(tmp_path)
    t = result.truth
    np.testing.assert_array_equal(back.event_id, t.event_id)
    np.testing.assert_array_equal(back.pair_id, t.pair_id)
    assert back.kind.tolist() == t.kind.tolist() and back.side.tolist() == t.side.tolist()
    np.testing.assert_allclose(back.lon, t.lon, atol=1e-7)
    np.testing.assert_allclose(back.time_s, t.time_s, atol=1e-6)
    assert back.detection_event == t.detection_event


def test_read_truth_bad_header(tmp_path):
    (tmp_path / "truth_events.csv").write_text("id,kind\n")
    (tmp_path / "truth_detections.csv").write_text("detection_id,event_id\n")
    with pytest.raises(InputError, match="truth_events.csv: line 1"):
        read_truth(tmp_path)


def test_write_scenario_streams_chunks(agreement, small, tmp_path):
    params, result = small
    summary = write_scenario(simulate_chunks(agreement, params, seed=5, chunk_s=200.0),
                             tmp_path / "chunked", params, 5)
    write_scenario(result, tmp_path / "whole", params, 5)
    for name in ("sensors.csv", "detections.jsonl", "truth_events.csv", "truth_detections.csv"):
        a = (tmp_path / "chunked" / name).read_text()
        b = (tmp_path / "whole" / name).read_text()
        if name == "truth_detections.csv":   # the same rows, chunk by chunk
            a, b = sorted(a.splitlines()), sorted(b.splitlines())
        assert a == b, name
    meta = json.loads((tmp_path / "chunked" / "scenario.json").read_text())
    assert meta["seed"] == 5 and meta["scenario"]["name"] == "active"
    assert meta["counts"]["detections"] == len(result.detections) == summary["counts"]["detections"]
    assert meta["counts"]["events"] == len(result.truth.event_id)
    assert meta["start"] == "2025-06-15T00:00:00.000000Z"
    with open(tmp_path / "whole" / "sensors.csv", encoding="utf-8", newline="") as f:
        sensors, _ = read_sensors(f, name="sensors.csv")
    with open(tmp_path / "whole" / "detections.jsonl", encoding="utf-8") as f:
        d, rej = read_detections(f, sensors, name="detections.jsonl")
    assert rej == []
    _equal_detections(d, result.detections)
