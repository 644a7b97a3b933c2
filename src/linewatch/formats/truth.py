"""The simulator's ground truth: ``truth_events.csv`` (one row per event) and
``truth_detections.csv`` (which event each detection came from; negative for clutter).

``docs/fusion-formats.md`` is the contract; the fusion metrics score against these files.
"""

from __future__ import annotations

import csv
import io
import os
from typing import Any, TextIO

import numpy as np

from linewatch.errors import InputError, RecordError
from linewatch.formats.fields import epoch_time, open_text
from linewatch.model import Truth, utc_iso_array

__all__ = ["DETECTIONS_HEADER", "EVENTS_HEADER", "TRUTH_DETECTIONS", "TRUTH_EVENTS", "read_truth",
           "write_truth", "write_truth_detections", "write_truth_events"]

TRUTH_EVENTS = "truth_events.csv"
TRUTH_DETECTIONS = "truth_detections.csv"
#: The files' header lines.
EVENTS_HEADER = "event_id,kind,lon,lat,time,side,pair_id\n"
DETECTIONS_HEADER = "detection_id,event_id\n"


def write_truth_events(truth: Truth, stream: TextIO) -> None:
    """The rows of ``truth_events.csv`` (without the header)."""
    times = utc_iso_array(truth.time_s).tolist()
    lon = np.round(truth.lon, 7).tolist()
    lat = np.round(truth.lat, 7).tolist()
    stream.write("".join(
        f"{e},{k},{x},{y},{t},{s},{p}\n" for e, k, x, y, t, s, p in zip(
            truth.event_id.tolist(), truth.kind.tolist(), lon, lat, times, truth.side.tolist(),
            truth.pair_id.tolist())))


def write_truth_detections(truth: Truth, stream: TextIO) -> None:
    """The rows of ``truth_detections.csv`` (without the header)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerows(truth.detection_event.items())
    stream.write(buf.getvalue())


def write_truth(truth: Truth, directory: str | os.PathLike[str]) -> None:
    """``truth_events.csv`` and ``truth_detections.csv`` in ``directory``."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, TRUTH_EVENTS), "w", encoding="utf-8", newline="") as f:
        f.write(EVENTS_HEADER)
        write_truth_events(truth, f)
    with open(os.path.join(directory, TRUTH_DETECTIONS), "w", encoding="utf-8", newline="") as f:
        f.write(DETECTIONS_HEADER)
        write_truth_detections(truth, f)


def read_truth(directory: str | os.PathLike[str]) -> Truth:
    """The ground truth written by :func:`write_truth` (InputError on a malformed file)."""
    cols = _read_events(os.path.join(directory, TRUTH_EVENTS))
    det = _read_detection_events(os.path.join(directory, TRUTH_DETECTIONS))
    return Truth(np.array(cols[0], np.int64), np.array(cols[1], dtype=object),
                 np.array(cols[2], float), np.array(cols[3], float), np.array(cols[4], float),
                 np.array(cols[5], dtype=object), np.array(cols[6], np.int64), det)


def _read_events(path: str) -> list[list[Any]]:
    """The columns of ``truth_events.csv``: event id, kind, lon, lat, time, side, pair id."""
    cols: list[list[Any]] = [[] for _ in range(7)]
    with open_text(path) as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != EVENTS_HEADER.strip().split(","):
            raise InputError(f"{path}: line 1: expected the header {EVENTS_HEADER.strip()}")
        for line, row in enumerate(reader, start=2):
            try:
                e, k, x, y, t, s, p = row
                vals = (int(e), k, float(x), float(y), epoch_time(t), s, int(p))
            except (ValueError, RecordError) as exc:
                raise InputError(f"{path}: line {line}: {exc}") from None
            for c, v in zip(cols, vals):
                c.append(v)
    return cols


def _read_detection_events(path: str) -> dict[str, int]:
    """``truth_detections.csv``: detection id to event id."""
    det: dict[str, int] = {}
    with open_text(path) as f:
        reader = csv.reader(f)
        if next(reader, None) != DETECTIONS_HEADER.strip().split(","):
            raise InputError(f"{path}: line 1: expected the header {DETECTIONS_HEADER.strip()}")
        for line, row in enumerate(reader, start=2):
            try:
                did, ev = row
                det[did] = int(ev)
            except ValueError as exc:
                raise InputError(f"{path}: line {line}: {exc}") from None
    return det
