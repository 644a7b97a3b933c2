"""A simulated scenario's directory: the sensors, the detections, the ground truth and a summary.

``sensors.csv``, ``detections.jsonl``, ``truth_events.csv``, ``truth_detections.csv`` and
``scenario.json`` (``docs/fusion-formats.md``), written chunk by chunk as the simulator makes
them, so a scenario of any size is written in bounded memory.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from linewatch.formats.detections import write_detections
from linewatch.formats.sensor_list import write_sensors
from linewatch.formats.truth import (
    DETECTIONS_HEADER,
    EVENTS_HEADER,
    TRUTH_DETECTIONS,
    TRUTH_EVENTS,
    write_truth_detections,
    write_truth_events,
)
from linewatch.model import Sensors, utc_iso_array

__all__ = ["SCENARIO_FORMAT", "write_scenario"]

SCENARIO_FORMAT = "linewatch-scenario/1"


@dataclass
class _Counts:
    """What the chunks written held: detections (and how many clutter), events, time span."""

    detections: int = 0
    events: int = 0
    clutter: int = 0
    first: float = math.inf
    last: float = -math.inf


def write_scenario(result_or_chunks: Any, out_dir: str | os.PathLike[str], params: Any,
                   seed: int) -> dict[str, Any]:
    """Write a simulated scenario to ``out_dir``, streaming chunk by chunk: ``sensors.csv``,
    ``detections.jsonl``, ``truth_events.csv``, ``truth_detections.csv`` and ``scenario.json``
    (the parameters, the seed and the counts). ``result_or_chunks`` is a
    :class:`~linewatch.sim.world.SimResult` or the ``(sensors, chunks)`` pair of
    :func:`~linewatch.sim.world.simulate_chunks`. Returns the summary written to scenario.json."""
    if hasattr(result_or_chunks, "detections"):
        sensors = result_or_chunks.sensors
        chunks: Iterable[Any] = [(result_or_chunks.detections, result_or_chunks.truth)]
    else:
        sensors, chunks = result_or_chunks
    out = Path(out_dir)
    os.makedirs(out, exist_ok=True)
    with open(out / "sensors.csv", "w", encoding="utf-8", newline="") as f:
        write_sensors(sensors, f)
    counts = _write_chunks(out, sensors, chunks)
    p = params.to_dict() if hasattr(params, "to_dict") else dict(params)
    summary = {
        "format": SCENARIO_FORMAT,
        "scenario": p,
        "seed": int(seed),
        "start": utc_iso_array(np.array([p.get("start_s", 0.0)]))[0] if "start_s" in p else None,
        "counts": {"sensors": len(sensors), "detections": counts.detections,
                   "clutter": counts.clutter, "events": counts.events},
        "detection_times": ({"first": utc_iso_array(np.array([counts.first]))[0],
                             "last": utc_iso_array(np.array([counts.last]))[0]}
                            if counts.detections else None),
        "files": ["sensors.csv", "detections.jsonl", TRUTH_EVENTS, TRUTH_DETECTIONS],
    }
    with open(out / "scenario.json", "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, allow_nan=False)
        f.write("\n")
    return summary


def _write_chunks(out: Path, sensors: Sensors, chunks: Iterable[Any]) -> _Counts:
    """The detections and the ground truth, one ``(detections, truth)`` chunk at a time."""
    counts = _Counts()
    with open(out / "detections.jsonl", "w", encoding="utf-8", newline="") as fd, \
            open(out / TRUTH_EVENTS, "w", encoding="utf-8", newline="") as fe, \
            open(out / TRUTH_DETECTIONS, "w", encoding="utf-8", newline="") as ft:
        fe.write(EVENTS_HEADER)
        ft.write(DETECTIONS_HEADER)
        for dets, truth in chunks:
            write_detections(dets, sensors, fd)
            write_truth_events(truth, fe)
            write_truth_detections(truth, ft)
            counts.detections += len(dets)
            counts.events += len(truth.event_id)
            counts.clutter += sum(1 for v in truth.detection_event.values() if v < 0)
            if len(dets):
                counts.first = min(counts.first, float(dets.time_s.min()))
                counts.last = max(counts.last, float(dets.time_s.max()))
    return counts
