"""The detections file: JSON Lines, one detection a line, read in chunks and written columnar.

``docs/fusion-formats.md`` is the contract. Each line is checked against the sensors file
(its sensor must exist), against the lines before it (ids unique in the whole file, each
sensor's times in order) and field by field; a bad line comes back as a
:class:`~linewatch.formats.records.Rejected`. A file of ten million lines is read in chunks of
bounded memory and written with one f-string per line, grouped by which optional fields the
lines carry.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

from linewatch.errors import RecordError
from linewatch.formats.fields import epoch_time, given, ident, number
from linewatch.formats.jsonl import json_objects
from linewatch.formats.records import Rejected
from linewatch.model import DETECTION_KINDS, Detections, Sensors, utc_iso, utc_iso_array

__all__ = ["DETECTION_FIELDS", "iter_detection_chunks", "read_detections", "write_detections"]

DETECTION_FIELDS = ("id", "sensor_id", "time", "time_sd_s", "bearing_deg", "bearing_sd_deg",
                    "range_m", "range_sd_m", "lon", "lat", "position_sd_m", "kind", "temperature_c")
_DETECTION_REQUIRED = ("id", "sensor_id", "time", "time_sd_s")
_JSON_UNSAFE = re.compile(r'["\\\x00-\x1f]')

#: One detection, in the order of :data:`DETECTION_FIELDS` but with the sensor's index for its id.
_Row = tuple[str, int, float, float, float, float, float, float, float, float, float, str, float]
#: A line read: its number, its raw text, and the detection or why it was rejected.
_Pending = tuple[int, str, _Row | Rejected]


# -- reading -------------------------------------------------------------------------------

def iter_detection_chunks(stream: Iterable[str], sensors: Sensors, *, name: str,
                          chunk_size: int = 200_000) -> Iterator[tuple[Detections, list[Rejected]]]:
    """Detections from JSONL in chunks of ``chunk_size`` non-blank lines, each sorted by time;
    with each chunk, the lines of it that were rejected (in file order).

    Rejected: lines that are not a JSON object, unknown fields, missing required fields, bad
    values, unknown sensors, repeated ids (across chunks compared by a 64-bit hash of the id)
    and times earlier than the same sensor's previous accepted detection. At least one chunk
    is yielded (empty for an empty file).
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size!r}")
    state = _Reader(name, sensors.index(), np.full(len(sensors), -math.inf),
                    np.zeros(len(sensors), np.int64), [])
    pending: list[_Pending] = []
    emitted = False
    for line, raw, obj in json_objects(stream, name=name):
        if isinstance(obj, Rejected):
            pending.append((line, raw, obj))
        else:
            try:
                pending.append((line, raw, _detection_row(obj, state.index)))
            except RecordError as exc:
                pending.append((line, raw, Rejected(name, line, exc.field, exc.reason, raw)))
        if len(pending) >= chunk_size:
            yield _finish(state, sensors, pending)
            pending = []
            emitted = True
    if pending or not emitted:
        yield _finish(state, sensors, pending)


def read_detections(stream: Iterable[str], sensors: Sensors, *, name: str
                    ) -> tuple[Detections, list[Rejected]]:
    """All detections of a JSONL stream, sorted by time then id, and the rejected lines."""
    parts, rejected = [], []
    for d, r in iter_detection_chunks(stream, sensors, name=name):
        parts.append(d)
        rejected += r
    return Detections.concat(parts).sorted(), rejected


def _detection_row(obj: dict[str, Any], index: dict[str, int]) -> _Row:
    for f in obj:
        if f not in DETECTION_FIELDS:
            raise RecordError(f"unknown field {f!r}", field=f)
    for f in _DETECTION_REQUIRED:
        if not given(obj.get(f)):
            raise RecordError(f"{f} is required", field=f)
    did = ident(obj["id"], "id")
    sid = ident(obj["sensor_id"], "sensor_id")
    s = index.get(sid)
    if s is None:
        raise RecordError(f"unknown sensor_id {sid!r} (not in the sensors file)", field="sensor_id")
    t = epoch_time(obj["time"])
    tsd = number(obj["time_sd_s"], "time_sd_s", lo=0, hi=86400)
    b, bsd = _bearing(obj)
    r, rsd = _range(obj)
    lon, lat, psd = _position_fix(obj)
    kind = _kind(obj)
    temp = (number(obj["temperature_c"], "temperature_c", lo=-60, hi=60)
            if given(obj.get("temperature_c")) else math.nan)
    return did, s, t, tsd, b, bsd, r, rsd, lon, lat, psd, kind, temp


def _pair(obj: dict[str, Any], value: str, sd: str) -> bool:
    """Whether a measurement and its SD are given; RecordError if only one of them is."""
    if not (given(obj.get(value)) or given(obj.get(sd))):
        return False
    if not given(obj.get(value)):
        raise RecordError(f"{sd} without {value}", field=value)
    if not given(obj.get(sd)):
        raise RecordError(f"{value} needs {sd}", field=sd)
    return True


def _bearing(obj: dict[str, Any]) -> tuple[float, float]:
    if not _pair(obj, "bearing_deg", "bearing_sd_deg"):
        return math.nan, math.nan
    return (number(obj["bearing_deg"], "bearing_deg", lo=0, hi=360) % 360.0,
            number(obj["bearing_sd_deg"], "bearing_sd_deg", lo=0, hi=180, lo_open=True))


def _range(obj: dict[str, Any]) -> tuple[float, float]:
    if not _pair(obj, "range_m", "range_sd_m"):
        return math.nan, math.nan
    return (number(obj["range_m"], "range_m", lo=0, hi=1e6, lo_open=True),
            number(obj["range_sd_m"], "range_sd_m", lo=0, hi=1e6, lo_open=True))


def _position_fix(obj: dict[str, Any]) -> tuple[float, float, float]:
    keys = ("lon", "lat", "position_sd_m")
    if not any(given(obj.get(f)) for f in keys):
        return math.nan, math.nan, math.nan
    for f in keys:
        if not given(obj.get(f)):
            raise RecordError(f"a position fix needs lon, lat and position_sd_m; {f} is missing",
                              field=f)
    return (number(obj["lon"], "lon", lo=-180, hi=180), number(obj["lat"], "lat", lo=-90, hi=90),
            number(obj["position_sd_m"], "position_sd_m", lo=0, hi=1e6, lo_open=True))


def _kind(obj: dict[str, Any]) -> str:
    kind = obj.get("kind")
    if not given(kind):
        return "unknown"
    if not isinstance(kind, str) or kind not in DETECTION_KINDS:
        raise RecordError(f"kind {kind!r} is not one of {', '.join(DETECTION_KINDS)}", field="kind")
    return kind


@dataclass
class _Reader:
    """State carried across chunks: ids seen and each sensor's last time."""

    name: str
    index: dict[str, int]
    last_time: np.ndarray
    last_line: np.ndarray
    seen_hashes: list[np.ndarray]


def _finish(state: _Reader, sensors: Sensors, pending: list[_Pending]
            ) -> tuple[Detections, list[Rejected]]:
    """Settle one chunk in file order: ids against earlier chunks (64-bit hashes) and within
    the chunk, then each sensor's time order; build the chunk's columns."""
    old_dup = _seen_before(state, pending)
    cols: list[list[Any]] = [[] for _ in range(13)]
    rejected: list[Rejected] = []
    ids_here: dict[str, int] = {}
    name = state.name
    for i, (line, raw, row) in enumerate(pending):
        if isinstance(row, Rejected):
            rejected.append(row)
            continue
        did, s, t = row[0], row[1], row[2]
        if old_dup[i]:
            rejected.append(Rejected(name, line, "id", f"duplicate id {did!r} (seen earlier in "
                                     "the file)", raw))
        elif did in ids_here:
            rejected.append(Rejected(name, line, "id", f"duplicate id {did!r} (first on line "
                                     f"{ids_here[did]})", raw))
        elif t < state.last_time[s]:
            rejected.append(Rejected(name, line, "time", _out_of_order(state, sensors, s, t), raw))
        else:
            state.last_time[s] = t
            state.last_line[s] = line
            ids_here[did] = line
            for c, v in zip(cols, row):
                c.append(v)
    if cols[0]:
        state.seen_hashes.append(np.sort(np.fromiter(map(hash, cols[0]), dtype=np.int64,
                                                     count=len(cols[0]))))
    return _to_detections(cols), rejected


def _seen_before(state: _Reader, pending: list[_Pending]) -> np.ndarray:
    """For each pending line, whether its id's hash is among the earlier chunks' ids."""
    rows = [(i, q[2]) for i, q in enumerate(pending) if isinstance(q[2], tuple)]
    old_dup = np.zeros(len(pending), bool)
    hashes = np.fromiter((hash(r[0]) for _, r in rows), dtype=np.int64, count=len(rows))
    for old in state.seen_hashes:
        pos = np.clip(np.searchsorted(old, hashes), 0, len(old) - 1)
        old_dup[[i for (i, _), d in zip(rows, old[pos] == hashes) if d]] = True
    return old_dup


def _out_of_order(state: _Reader, sensors: Sensors, s: int, t: float) -> str:
    last = utc_iso(float(state.last_time[s]), timespec="microseconds")
    return (f"time {utc_iso(t, timespec='microseconds')} is earlier than the previous detection of "
            f"sensor {sensors.ids[s]!r} (line {state.last_line[s]}, {last}): times out of order")


def _to_detections(cols: list[list[Any]]) -> Detections:
    return Detections.from_columns(
        np.array(cols[0], dtype=object), np.array(cols[1], dtype=np.int64), cols[2], cols[3],
        bearing_deg=cols[4], bearing_sd_deg=cols[5], range_m=cols[6], range_sd_m=cols[7],
        lon=cols[8], lat=cols[9], position_sd_m=cols[10], kind=np.array(cols[11], dtype=object),
        temperature_c=cols[12])


# -- writing -------------------------------------------------------------------------------

def write_detections(detections: Detections, sensors: Sensors, stream: TextIO, *,
                     block: int = 100_000) -> int:
    """Write detections as JSONL (in their order); returns the count.

    Optional fields are written only where present (not NaN). Times are ISO 8601 UTC with
    microseconds; positions to 1e-7 degree, bearings to 1e-4 degree, ranges to 1 mm.
    """
    sensor_json = np.array(_json_strings(sensors.ids), dtype=object)
    n = len(detections)
    for a in range(0, n, block):
        d = detections.take(np.arange(a, min(a + block, n)))
        _check_finite("time_s", d.time_s)
        _check_finite("time_sd_s", d.time_sd_s)
        stream.write(_format_block(d, sensor_json))
    return n


def _json_strings(values: np.ndarray) -> list[str]:
    vals = [str(v) for v in values.tolist()]
    if _JSON_UNSAFE.search("".join(vals)):
        return [json.dumps(v, ensure_ascii=False) for v in vals]
    return [f'"{v}"' for v in vals]


def _check_finite(name: str, a: np.ndarray) -> None:
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has non-finite values; cannot write detections")


def _format_block(d: Detections, sensor_json: np.ndarray) -> str:
    n = len(d)
    ids = _json_strings(d.ids)
    sid = sensor_json[d.sensor].tolist()
    times = utc_iso_array(d.time_s).tolist()
    tsd = np.round(d.time_sd_s, 6).tolist()
    kinds = _json_strings(d.kind)
    has_b = np.isfinite(d.bearing_deg)
    has_r = np.isfinite(d.range_m)
    has_f = np.isfinite(d.lon) & np.isfinite(d.lat)
    has_t = np.isfinite(d.temperature_c)
    code = has_b * 1 + has_r * 2 + has_f * 4 + has_t * 8
    b = np.round(d.bearing_deg, 4).tolist()
    bsd = np.round(d.bearing_sd_deg, 4).tolist()
    r = np.round(d.range_m, 3).tolist()
    rsd = np.round(d.range_sd_m, 3).tolist()
    lon = np.round(d.lon, 7).tolist()
    lat = np.round(d.lat, 7).tolist()
    psd = np.round(d.position_sd_m, 3).tolist()
    temp = np.round(d.temperature_c, 3).tolist()
    out = [""] * n
    for c in np.unique(code).tolist():
        idx = np.flatnonzero(code == c).tolist()
        for i in idx:
            parts = [f'{{"id":{ids[i]},"sensor_id":{sid[i]},"time":"{times[i]}","time_sd_s":{tsd[i]}']
            if c & 1:
                parts.append(f',"bearing_deg":{b[i]},"bearing_sd_deg":{bsd[i]}')
            if c & 2:
                parts.append(f',"range_m":{r[i]},"range_sd_m":{rsd[i]}')
            if c & 4:
                parts.append(f',"lon":{lon[i]},"lat":{lat[i]},"position_sd_m":{psd[i]}')
            parts.append(f',"kind":{kinds[i]}')
            if c & 8:
                parts.append(f',"temperature_c":{temp[i]}')
            parts.append("}\n")
            out[i] = "".join(parts)
    return "".join(out)
