"""The sensors file: one row per sensor, as CSV (with a header) or JSON Lines.

``docs/fusion-formats.md`` is the contract. Bad rows and repeated ids come back as
:class:`~linewatch.formats.records.Rejected`; a missing or broken header, a multi-line JSON
document, or no valid sensor at all raises :class:`~linewatch.errors.InputError`.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import Any, TextIO

import numpy as np

from linewatch.errors import InputError, RecordError
from linewatch.formats.fields import given, ident, number
from linewatch.formats.lines import LongLine, long_line_reason, quote, text_lines
from linewatch.formats.records import Rejected
from linewatch.model import SENSOR_KINDS, Sensors

__all__ = ["SENSOR_FIELDS", "read_sensors", "write_sensors"]

SENSOR_FIELDS = ("sensor_id", "lon", "lat", "elevation_m", "kind", "clock_sd_s")
_SENSOR_REQUIRED = ("sensor_id", "lon", "lat", "kind")
#: One sensor: id, lon, lat, elevation (m), kind, clock error SD (s).
_Row = tuple[str, float, float, float, str, float]


def read_sensors(stream: Iterable[str], *, name: str, fmt: str | None = None
                 ) -> tuple[Sensors, list[Rejected]]:
    """Sensors from CSV (with a header) or JSONL; ``fmt`` ("csv" or "jsonl") or detected from
    ``name`` and the first line. Bad rows and repeated ids are rejected; a missing or broken
    header, or no sensors at all, raises InputError."""
    lines = text_lines(stream, name)
    first = next(((n, line) for n, line in lines if line.strip()), None)
    if first is None:
        raise InputError(f"{name}: no sensors: the file is empty")
    fmt = fmt or _sniff(name, first[1])
    if fmt not in ("csv", "jsonl"):
        raise InputError(f"{name}: unknown sensors format {fmt!r} (expected csv or jsonl)")
    rows = _SensorRows(name)
    if fmt == "csv":
        _read_csv(first, lines, rows)
    else:
        _read_jsonl(first, lines, rows)
    return rows.result()


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


# -- reading -------------------------------------------------------------------------------

def _sniff(name: str, head: str) -> str:
    ext = os.path.splitext(name)[1].lower()
    if ext in (".jsonl", ".ndjson", ".jsonlines"):
        return "jsonl"
    if ext == ".csv":
        return "csv"
    return "jsonl" if head.lstrip("\ufeff").lstrip().startswith("{") else "csv"


def _sensor_row(row: dict[str, Any]) -> _Row:
    sid = ident(row.get("sensor_id"), "sensor_id") if given(row.get("sensor_id")) else None
    if sid is None:
        raise RecordError("sensor_id is required", field="sensor_id")
    for f in ("lon", "lat", "kind"):
        if not given(row.get(f)):
            raise RecordError(f"{f} is required", field=f)
    lon = number(row["lon"], "lon", lo=-180, hi=180)
    lat = number(row["lat"], "lat", lo=-90, hi=90)
    kind = row["kind"]
    if not isinstance(kind, str) or kind.strip().lower() not in SENSOR_KINDS:
        raise RecordError(f"kind {quote(kind)} is not one of {', '.join(SENSOR_KINDS)}", field="kind")
    elev = number(row["elevation_m"], "elevation_m", lo=-500, hi=9000) \
        if given(row.get("elevation_m")) else 0.0
    clock = number(row["clock_sd_s"], "clock_sd_s", lo=0, hi=3600) \
        if given(row.get("clock_sd_s")) else 0.0
    return sid, lon, lat, elev, kind.strip().lower(), clock


class _SensorRows:
    """The sensors read so far, the rows rejected, and the line each id was first seen on."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.rows: list[_Row] = []
        self.rejected: list[Rejected] = []
        self.seen: dict[str, int] = {}

    def reject(self, line: int, field: str | None, reason: str, raw: str) -> None:
        self.rejected.append(Rejected(self.name, line, field, reason, raw))

    def take(self, line: int, raw: str, row: dict[str, Any]) -> None:
        """Check one row's fields and its id's uniqueness; keep it or reject it."""
        try:
            extra = sorted(set(row) - set(SENSOR_FIELDS))
            if extra:
                raise RecordError(f"unknown field {quote(extra[0])} (expected {', '.join(SENSOR_FIELDS)})",
                                  field=extra[0])
            r = _sensor_row(row)
        except RecordError as exc:
            self.reject(line, exc.field, exc.reason, raw)
            return
        if r[0] in self.seen:
            self.reject(line, "sensor_id", f"duplicate sensor_id {r[0]!r} (first on line {self.seen[r[0]]})",
                        raw)
            return
        self.seen[r[0]] = line
        self.rows.append(r)

    def result(self) -> tuple[Sensors, list[Rejected]]:
        """The sensors and the rejected rows; InputError if no sensor is valid."""
        if not self.rows:
            first = self.rejected[0] if self.rejected else None
            raise InputError(f"{self.name}: no valid sensors ({len(self.rejected)} rejected"
                             + (f"; first: line {first.line}: {first.reason}" if first else "")
                             + ")")
        cols = list(zip(*self.rows))
        return (Sensors.from_columns(np.array(cols[0], dtype=object), cols[1], cols[2], cols[4],
                                     elevation_m=cols[3], clock_sd_s=cols[5]), self.rejected)


def _csv_header(name: str, first: tuple[int, str]) -> list[str]:
    """The header's column names (lower case); InputError naming what is wrong with it."""
    if isinstance(first[1], LongLine):
        raise InputError(f"{name}: line {first[0]}: cannot read the sensors header: "
                         f"{long_line_reason(first[1])}")
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
    return header


def _read_csv(first: tuple[int, str], lines: Iterator[tuple[int, str]], rows: _SensorRows) -> None:
    header = _csv_header(rows.name, first)
    for line_no, line in lines:
        if isinstance(line, LongLine):
            rows.reject(line_no, None, long_line_reason(line), line)
            continue
        if not line.strip():
            continue
        raw = line.rstrip("\r\n")
        try:
            cells = next(csv.reader([raw]))
        except csv.Error as exc:
            rows.reject(line_no, None, f"invalid CSV: {exc}", raw)
            continue
        if len(cells) != len(header):
            rows.reject(line_no, None, f"{len(cells)} cells, the header has {len(header)}", raw)
            continue
        rows.take(line_no, raw, {h: c.strip() for h, c in zip(header, cells)})


def _read_jsonl(first: tuple[int, str], lines: Iterator[tuple[int, str]], rows: _SensorRows) -> None:
    for line_no, line in chain([first], lines):
        if isinstance(line, LongLine):
            rows.reject(line_no, None, long_line_reason(line), line)
            continue
        text = line.strip()
        if not text:
            continue
        raw = line.rstrip("\r\n")
        if line_no == first[0] and text in ("{", "["):
            raise InputError(f"{rows.name}: line {line_no}: a multi-line JSON document, not JSON Lines")
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError) as exc:    # JSONDecodeError, or a number too long
            rows.reject(line_no, None, f"invalid JSON: {exc}", raw)
            continue
        if not isinstance(obj, dict):
            rows.reject(line_no, None, "expected a JSON object", raw)
            continue
        rows.take(line_no, raw, obj)
