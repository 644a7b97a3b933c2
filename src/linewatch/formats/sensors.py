"""The public raw-data formats: sensors (CSV or JSONL), detections (JSONL), ground truth (CSV).

``docs/fusion-formats.md`` is the contract. Readers never drop a bad row silently: each comes
back as a :class:`~linewatch.formats.records.Rejected` (file, line, field, reason, raw text) for
the quarantine; only a file that cannot be read as a whole (not UTF-8, no usable header, a
multi-line JSON document) raises :class:`~linewatch.errors.InputError`.

Writers are columnar: a detections file of ten million lines is formatted with one f-string
per line, grouped by which optional fields the lines carry.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

import numpy as np

from linewatch.errors import InputError, RecordError
from linewatch.formats.jsonl import json_objects
from linewatch.formats.records import Rejected, text_lines
from linewatch.model import DETECTION_KINDS, SENSOR_KINDS, Detections, Sensors, Truth, utc_iso, utc_iso_array

__all__ = [
    "SENSOR_FIELDS", "DETECTION_FIELDS", "read_sensors", "write_sensors", "read_detections",
    "iter_detection_chunks", "write_detections", "write_truth", "read_truth", "write_scenario",
    "open_text",
]

SENSOR_FIELDS = ("sensor_id", "lon", "lat", "elevation_m", "kind", "clock_sd_s")
_SENSOR_REQUIRED = ("sensor_id", "lon", "lat", "kind")
DETECTION_FIELDS = ("id", "sensor_id", "time", "time_sd_s", "bearing_deg", "bearing_sd_deg",
                    "range_m", "range_sd_m", "lon", "lat", "position_sd_m", "kind", "temperature_c")
_DETECTION_REQUIRED = ("id", "sensor_id", "time", "time_sd_s")
_MAX_ID = 200
_BAD_ID = re.compile(r"[\x00-\x1f]|^\s|\s$")
_JSON_UNSAFE = re.compile(r'["\\\x00-\x1f]')


def open_text(path: str | os.PathLike[str]) -> TextIO:
    """Open a UTF-8 text file for reading (BOM allowed); InputError if it cannot be opened."""
    name = os.fspath(path)
    try:
        return open(name, encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError(f"{name}: cannot open: {exc.strerror}") from exc


# -- value checks (each raises RecordError naming the field) --------------------------------

def _given(v: Any) -> bool:
    return v is not None and v != ""


def _number(v: Any, field: str, *, lo: float = -math.inf, hi: float = math.inf,
            lo_open: bool = False, hi_open: bool = False) -> float:
    if isinstance(v, bool):
        raise RecordError(f"{field} must be a number, got {v!r}", field=field)
    if isinstance(v, str):
        try:
            x = float(v.strip())
        except ValueError:
            raise RecordError(f"{field} must be a number, got {v!r}", field=field) from None
    elif isinstance(v, (int, float)):
        x = float(v)
    else:
        raise RecordError(f"{field} must be a number, got {type(v).__name__} {v!r}", field=field)
    if not math.isfinite(x):
        raise RecordError(f"{field} must be finite, got {v!r}", field=field)
    if x < lo or (lo_open and x == lo) or x > hi or (hi_open and x == hi):
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        raise RecordError(f"{field} {x!r} is out of range {left}{lo:g}, {hi:g}{right}", field=field)
    return x


def _ident(v: Any, field: str) -> str:
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise RecordError(f"{field} must be a string, got {type(v).__name__} {v!r}", field=field)
    s = str(v)
    if not s or len(s) > _MAX_ID or _BAD_ID.search(s):
        raise RecordError(f"{field} {s[:60]!r} must be 1-{_MAX_ID} characters, without control "
                          "characters or surrounding spaces", field=field)
    return s


def _time(v: Any, field: str = "time") -> float:
    if isinstance(v, bool):
        raise RecordError(f"{field} must be ISO 8601 or epoch seconds, got {v!r}", field=field)
    if isinstance(v, (int, float)):
        x = float(v)
        if not math.isfinite(x):
            raise RecordError(f"{field} must be finite, got {v!r}", field=field)
        return x
    if not isinstance(v, str):
        raise RecordError(f"{field} must be an ISO 8601 string or epoch seconds, got "
                          f"{type(v).__name__}", field=field)
    try:
        dt = datetime.fromisoformat(v.strip())
    except ValueError:
        raise RecordError(f"{field} {v!r} is not an ISO 8601 date and time", field=field) from None
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise RecordError(f"{field} {v!r} has no time zone; add 'Z' (UTC)", field=field)
    return dt.timestamp()


# -- sensors --------------------------------------------------------------------------------

def _sensor_row(row: dict[str, Any]) -> tuple:
    sid = _ident(row.get("sensor_id"), "sensor_id") if _given(row.get("sensor_id")) else None
    if sid is None:
        raise RecordError("sensor_id is required", field="sensor_id")
    for f in ("lon", "lat", "kind"):
        if not _given(row.get(f)):
            raise RecordError(f"{f} is required", field=f)
    lon = _number(row["lon"], "lon", lo=-180, hi=180)
    lat = _number(row["lat"], "lat", lo=-90, hi=90)
    kind = row["kind"]
    if not isinstance(kind, str) or kind.strip().lower() not in SENSOR_KINDS:
        raise RecordError(f"kind {kind!r} is not one of {', '.join(SENSOR_KINDS)}", field="kind")
    elev = _number(row["elevation_m"], "elevation_m", lo=-500, hi=9000) \
        if _given(row.get("elevation_m")) else 0.0
    clock = _number(row["clock_sd_s"], "clock_sd_s", lo=0, hi=3600) \
        if _given(row.get("clock_sd_s")) else 0.0
    return sid, lon, lat, elev, kind.strip().lower(), clock


def _sniff(name: str, head: str) -> str:
    ext = os.path.splitext(name)[1].lower()
    if ext in (".jsonl", ".ndjson", ".jsonlines"):
        return "jsonl"
    if ext == ".csv":
        return "csv"
    return "jsonl" if head.lstrip("\ufeff").lstrip().startswith("{") else "csv"


def read_sensors(stream: Iterable[str], *, name: str, fmt: str | None = None
                 ) -> tuple[Sensors, list[Rejected]]:
    """Sensors from CSV (with a header) or JSONL; ``fmt`` ("csv" or "jsonl") or detected from
    ``name`` and the first line. Bad rows and repeated ids are rejected; a missing or broken
    header, or no sensors at all, raises InputError."""
    lines = text_lines(stream, name)
    rows: list[tuple] = []
    rejected: list[Rejected] = []
    first = None
    for number, line in lines:
        if line.strip():
            first = (number, line)
            break
    if first is None:
        raise InputError(f"{name}: no sensors: the file is empty")
    fmt = fmt or _sniff(name, first[1])
    if fmt not in ("csv", "jsonl"):
        raise InputError(f"{name}: unknown sensors format {fmt!r} (expected csv or jsonl)")
    seen: dict[str, int] = {}

    def take(number: int, raw: str, row: dict[str, Any]) -> None:
        try:
            extra = sorted(set(row) - set(SENSOR_FIELDS))
            if extra:
                raise RecordError(f"unknown field {extra[0]!r} (expected {', '.join(SENSOR_FIELDS)})",
                                  field=extra[0])
            r = _sensor_row(row)
        except RecordError as exc:
            rejected.append(Rejected(name, number, exc.field, exc.reason, raw))
            return
        if r[0] in seen:
            rejected.append(Rejected(name, number, "sensor_id",
                                     f"duplicate sensor_id {r[0]!r} (first on line {seen[r[0]]})", raw))
            return
        seen[r[0]] = number
        rows.append(r)

    if fmt == "csv":
        header = [c.strip().lower() for c in next(csv.reader([first[1]]))]
        missing = [c for c in _SENSOR_REQUIRED if c not in header]
        unknown = [c for c in header if c not in SENSOR_FIELDS]
        dupes = sorted({c for c in header if header.count(c) > 1})
        if missing or unknown or dupes:
            what = "; ".join(filter(None, [
                f"missing column(s) {', '.join(missing)}" if missing else "",
                f"unknown column(s) {', '.join(unknown)}" if unknown else "",
                f"repeated column(s) {', '.join(dupes)}" if dupes else ""]))
            raise InputError(f"{name}: line {first[0]}: bad sensors header: {what}; expected "
                             f"{','.join(SENSOR_FIELDS)} (elevation_m and clock_sd_s optional)")
        for number, line in lines:
            if not line.strip():
                continue
            raw = line.rstrip("\r\n")
            try:
                cells = next(csv.reader([raw]))
            except csv.Error as exc:
                rejected.append(Rejected(name, number, None, f"invalid CSV: {exc}", raw))
                continue
            if len(cells) != len(header):
                rejected.append(Rejected(name, number, None, f"{len(cells)} cells, the header has "
                                         f"{len(header)}", raw))
                continue
            take(number, raw, {h: c.strip() for h, c in zip(header, cells)})
    else:
        def objects() -> Iterator[tuple[int, str]]:
            yield first
            yield from lines
        for number, line in objects():
            text = line.strip()
            if not text:
                continue
            raw = line.rstrip("\r\n")
            if number == first[0] and text in ("{", "["):
                raise InputError(f"{name}: line {number}: a multi-line JSON document, not JSON Lines")
            try:
                obj = json.loads(text)
            except (json.JSONDecodeError, RecursionError) as exc:
                rejected.append(Rejected(name, number, None, f"invalid JSON: {exc}", raw))
                continue
            if not isinstance(obj, dict):
                rejected.append(Rejected(name, number, None, "expected a JSON object", raw))
                continue
            take(number, raw, obj)
    if not rows:
        raise InputError(f"{name}: no valid sensors ({len(rejected)} rejected"
                         + (f"; first: line {rejected[0].line}: {rejected[0].reason}" if rejected else "")
                         + ")")
    cols = list(zip(*rows))
    return (Sensors.from_columns(np.array(cols[0], dtype=object), cols[1], cols[2], cols[4],
                                 elevation_m=cols[3], clock_sd_s=cols[5]), rejected)


def write_sensors(sensors: Sensors, stream: TextIO, fmt: str = "csv") -> int:
    """Write sensors as CSV (with the header) or JSONL; returns the count."""
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"unknown sensors format {fmt!r} (expected csv or jsonl)")
    rows = zip(sensors.ids.tolist(), np.round(sensors.lon, 7).tolist(),
               np.round(sensors.lat, 7).tolist(), np.round(sensors.elevation_m, 3).tolist(),
               sensors.kind.tolist(), sensors.clock_sd_s.tolist())
    if fmt == "csv":
        w = csv.writer(stream, lineterminator="\n")
        w.writerow(SENSOR_FIELDS)
        for r in rows:
            w.writerow(r)
    else:
        for r in rows:
            stream.write(json.dumps(dict(zip(SENSOR_FIELDS, r)), ensure_ascii=False) + "\n")
    return len(sensors)


# -- detections -----------------------------------------------------------------------------

@dataclass
class _Reader:
    """State carried across chunks: ids seen and each sensor's last time."""

    name: str
    index: dict[str, int]
    last_time: np.ndarray
    last_line: np.ndarray
    seen_hashes: list[np.ndarray]


def _detection_row(obj: dict[str, Any], index: dict[str, int]) -> tuple:
    for f in obj:
        if f not in DETECTION_FIELDS:
            raise RecordError(f"unknown field {f!r}", field=f)
    for f in _DETECTION_REQUIRED:
        if not _given(obj.get(f)):
            raise RecordError(f"{f} is required", field=f)
    did = _ident(obj["id"], "id")
    sid = _ident(obj["sensor_id"], "sensor_id")
    s = index.get(sid)
    if s is None:
        raise RecordError(f"unknown sensor_id {sid!r} (not in the sensors file)", field="sensor_id")
    t = _time(obj["time"])
    tsd = _number(obj["time_sd_s"], "time_sd_s", lo=0, hi=86400)
    nan = math.nan
    b = bsd = r = rsd = lon = lat = psd = temp = nan
    g = obj.get
    if _given(g("bearing_deg")) or _given(g("bearing_sd_deg")):
        if not _given(g("bearing_deg")):
            raise RecordError("bearing_sd_deg without bearing_deg", field="bearing_deg")
        if not _given(g("bearing_sd_deg")):
            raise RecordError("bearing_deg needs bearing_sd_deg", field="bearing_sd_deg")
        b = _number(g("bearing_deg"), "bearing_deg", lo=0, hi=360) % 360.0
        bsd = _number(g("bearing_sd_deg"), "bearing_sd_deg", lo=0, hi=180, lo_open=True)
    if _given(g("range_m")) or _given(g("range_sd_m")):
        if not _given(g("range_m")):
            raise RecordError("range_sd_m without range_m", field="range_m")
        if not _given(g("range_sd_m")):
            raise RecordError("range_m needs range_sd_m", field="range_sd_m")
        r = _number(g("range_m"), "range_m", lo=0, hi=1e6, lo_open=True)
        rsd = _number(g("range_sd_m"), "range_sd_m", lo=0, hi=1e6, lo_open=True)
    if _given(g("lon")) or _given(g("lat")) or _given(g("position_sd_m")):
        for f in ("lon", "lat", "position_sd_m"):
            if not _given(g(f)):
                raise RecordError(f"a position fix needs lon, lat and position_sd_m; {f} is missing",
                                  field=f)
        lon = _number(g("lon"), "lon", lo=-180, hi=180)
        lat = _number(g("lat"), "lat", lo=-90, hi=90)
        psd = _number(g("position_sd_m"), "position_sd_m", lo=0, hi=1e6, lo_open=True)
    kind = g("kind")
    if _given(kind):
        if not isinstance(kind, str) or kind not in DETECTION_KINDS:
            raise RecordError(f"kind {kind!r} is not one of {', '.join(DETECTION_KINDS)}", field="kind")
    else:
        kind = "unknown"
    if _given(g("temperature_c")):
        temp = _number(g("temperature_c"), "temperature_c", lo=-60, hi=60)
    return did, s, t, tsd, b, bsd, r, rsd, lon, lat, psd, kind, temp


def _empty_columns() -> list[list]:
    return [[] for _ in range(13)]


def _to_detections(cols: list[list]) -> Detections:
    return Detections.from_columns(
        np.array(cols[0], dtype=object), np.array(cols[1], dtype=np.int64), cols[2], cols[3],
        bearing_deg=cols[4], bearing_sd_deg=cols[5], range_m=cols[6], range_sd_m=cols[7],
        lon=cols[8], lat=cols[9], position_sd_m=cols[10], kind=np.array(cols[11], dtype=object),
        temperature_c=cols[12])


def _finish(state: _Reader, sensors: Sensors, pending: list[tuple[int, str, Any]]
            ) -> tuple[Detections, list[Rejected]]:
    """Settle one chunk in file order: ids against earlier chunks (64-bit hashes) and within
    the chunk, then each sensor's time order; build the chunk's columns."""
    rows = [(i, q[2]) for i, q in enumerate(pending) if isinstance(q[2], tuple)]
    old_dup = np.zeros(len(pending), bool)
    hashes = np.fromiter((hash(r[0]) for _, r in rows), dtype=np.int64, count=len(rows))
    for old in state.seen_hashes:
        pos = np.clip(np.searchsorted(old, hashes), 0, len(old) - 1)
        old_dup[[i for (i, _), d in zip(rows, old[pos] == hashes) if d]] = True
    cols = _empty_columns()
    rejected: list[Rejected] = []
    ids_here: dict[str, int] = {}
    name = state.name
    for i, (number, raw, row) in enumerate(pending):
        if isinstance(row, Rejected):
            rejected.append(row)
            continue
        did, s, t = row[0], row[1], row[2]
        if old_dup[i]:
            rejected.append(Rejected(name, number, "id", f"duplicate id {did!r} (seen earlier in "
                                     "the file)", raw))
        elif did in ids_here:
            rejected.append(Rejected(name, number, "id", f"duplicate id {did!r} (first on line "
                                     f"{ids_here[did]})", raw))
        elif t < state.last_time[s]:
            rejected.append(Rejected(
                name, number, "time", f"time {utc_iso(t, timespec='microseconds')} is earlier than the previous detection of "
                f"sensor {sensors.ids[s]!r} (line {state.last_line[s]}, {utc_iso(state.last_time[s], timespec='microseconds')}): "
                "times out of order", raw))
        else:
            state.last_time[s] = t
            state.last_line[s] = number
            ids_here[did] = number
            for c, v in zip(cols, row):
                c.append(v)
    if cols[0]:
        state.seen_hashes.append(np.sort(np.fromiter(map(hash, cols[0]), dtype=np.int64,
                                                     count=len(cols[0]))))
    return _to_detections(cols), rejected


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
    pending: list[tuple[int, str, Any]] = []
    emitted = False
    for number, raw, obj in json_objects(stream, name=name):
        if isinstance(obj, Rejected):
            pending.append((number, raw, obj))
        else:
            try:
                pending.append((number, raw, _detection_row(obj, state.index)))
            except RecordError as exc:
                pending.append((number, raw, Rejected(name, number, exc.field, exc.reason, raw)))
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
    return _concat(parts).sorted(), rejected


def _concat(parts: list[Detections]) -> Detections:
    return Detections.concat(parts)


def _json_strings(values: np.ndarray) -> list[str]:
    vals = [str(v) for v in values.tolist()]
    if _JSON_UNSAFE.search("".join(vals)):
        return [json.dumps(v, ensure_ascii=False) for v in vals]
    return [f'"{v}"' for v in vals]


def _check_finite(name: str, a: np.ndarray) -> None:
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has non-finite values; cannot write detections")


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


# -- ground truth ---------------------------------------------------------------------------

TRUTH_EVENTS = "truth_events.csv"
TRUTH_DETECTIONS = "truth_detections.csv"
_EVENT_HEADER = "event_id,kind,lon,lat,time,side,pair_id\n"
_DET_HEADER = "detection_id,event_id\n"


def _write_truth_events(truth: Truth, stream: TextIO) -> None:
    times = utc_iso_array(truth.time_s).tolist()
    lon = np.round(truth.lon, 7).tolist()
    lat = np.round(truth.lat, 7).tolist()
    stream.write("".join(
        f"{e},{k},{x},{y},{t},{s},{p}\n" for e, k, x, y, t, s, p in zip(
            truth.event_id.tolist(), truth.kind.tolist(), lon, lat, times, truth.side.tolist(),
            truth.pair_id.tolist())))


def _write_truth_detections(truth: Truth, stream: TextIO) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerows(truth.detection_event.items())
    stream.write(buf.getvalue())


def write_truth(truth: Truth, directory: str | os.PathLike[str]) -> None:
    """``truth_events.csv`` and ``truth_detections.csv`` in ``directory``."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, TRUTH_EVENTS), "w", encoding="utf-8", newline="") as f:
        f.write(_EVENT_HEADER)
        _write_truth_events(truth, f)
    with open(os.path.join(directory, TRUTH_DETECTIONS), "w", encoding="utf-8", newline="") as f:
        f.write(_DET_HEADER)
        _write_truth_detections(truth, f)


def read_truth(directory: str | os.PathLike[str]) -> Truth:
    """The ground truth written by :func:`write_truth` (InputError on a malformed file)."""
    path = os.path.join(directory, TRUTH_EVENTS)
    cols: list[list] = [[] for _ in range(7)]
    with open_text(path) as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != _EVENT_HEADER.strip().split(","):
            raise InputError(f"{path}: line 1: expected the header {_EVENT_HEADER.strip()}")
        for number, row in enumerate(reader, start=2):
            try:
                e, k, x, y, t, s, p = row
                vals = (int(e), k, float(x), float(y), _time(t), s, int(p))
            except (ValueError, RecordError) as exc:
                raise InputError(f"{path}: line {number}: {exc}") from None
            for c, v in zip(cols, vals):
                c.append(v)
    det: dict[str, int] = {}
    path = os.path.join(directory, TRUTH_DETECTIONS)
    with open_text(path) as f:
        reader = csv.reader(f)
        if next(reader, None) != _DET_HEADER.strip().split(","):
            raise InputError(f"{path}: line 1: expected the header {_DET_HEADER.strip()}")
        for number, row in enumerate(reader, start=2):
            try:
                did, ev = row
                det[did] = int(ev)
            except ValueError as exc:
                raise InputError(f"{path}: line {number}: {exc}") from None
    return Truth(np.array(cols[0], np.int64), np.array(cols[1], dtype=object),
                 np.array(cols[2], float), np.array(cols[3], float), np.array(cols[4], float),
                 np.array(cols[5], dtype=object), np.array(cols[6], np.int64), det)


# -- a whole scenario -----------------------------------------------------------------------

def write_scenario(result_or_chunks: Any, out_dir: str | os.PathLike[str], params: Any,
                   seed: int) -> dict[str, Any]:
    """Write a simulated scenario to ``out_dir``, streaming chunk by chunk: ``sensors.csv``,
    ``detections.jsonl``, ``truth_events.csv``, ``truth_detections.csv`` and ``scenario.json``
    (the parameters, the seed and the counts). ``result_or_chunks`` is a
    :class:`~linewatch.sim.world.SimResult` or the ``(sensors, chunks)`` pair of
    :func:`~linewatch.sim.world.simulate_chunks`. Returns the summary written to scenario.json."""
    if hasattr(result_or_chunks, "detections"):
        sensors = result_or_chunks.sensors
        chunks: Iterable = [(result_or_chunks.detections, result_or_chunks.truth)]
    else:
        sensors, chunks = result_or_chunks
    os.makedirs(out_dir, exist_ok=True)
    j = lambda name: os.path.join(out_dir, name)  # noqa: E731
    n_det = n_ev = n_clutter = 0
    t_min, t_max = math.inf, -math.inf
    with open(j("sensors.csv"), "w", encoding="utf-8", newline="") as f:
        write_sensors(sensors, f)
    with open(j("detections.jsonl"), "w", encoding="utf-8", newline="") as fd, \
            open(j(TRUTH_EVENTS), "w", encoding="utf-8", newline="") as fe, \
            open(j(TRUTH_DETECTIONS), "w", encoding="utf-8", newline="") as ft:
        fe.write(_EVENT_HEADER)
        ft.write(_DET_HEADER)
        for dets, truth in chunks:
            write_detections(dets, sensors, fd)
            _write_truth_events(truth, fe)
            _write_truth_detections(truth, ft)
            n_det += len(dets)
            n_ev += len(truth.event_id)
            n_clutter += sum(1 for v in truth.detection_event.values() if v < 0)
            if len(dets):
                t_min = min(t_min, float(dets.time_s.min()))
                t_max = max(t_max, float(dets.time_s.max()))
    p = params.to_dict() if hasattr(params, "to_dict") else dict(params)
    summary = {
        "format": "linewatch-scenario/1",
        "scenario": p,
        "seed": int(seed),
        "start": utc_iso_array(np.array([p.get("start_s", 0.0)]))[0] if "start_s" in p else None,
        "counts": {"sensors": len(sensors), "detections": n_det, "clutter": n_clutter,
                   "events": n_ev},
        "detection_times": ({"first": utc_iso_array(np.array([t_min]))[0],
                             "last": utc_iso_array(np.array([t_max]))[0]} if n_det else None),
        "files": ["sensors.csv", "detections.jsonl", TRUTH_EVENTS, TRUTH_DETECTIONS],
    }
    with open(j("scenario.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, allow_nan=False)
        f.write("\n")
    return summary
