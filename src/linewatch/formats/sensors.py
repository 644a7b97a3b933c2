"""The public raw-data formats, in one import: sensors, detections, ground truth, a scenario.

``docs/fusion-formats.md`` is the contract. Each format has its own module; this one gathers
their readers and writers (``from linewatch.formats.sensors import read_sensors,
iter_detection_chunks``):

- :mod:`~linewatch.formats.sensor_list` — the sensors file (CSV or JSON Lines);
- :mod:`~linewatch.formats.detections` — the detections file (JSON Lines, read in chunks);
- :mod:`~linewatch.formats.truth` — the simulator's ground truth (two CSV files);
- :mod:`~linewatch.formats.scenario` — a simulated scenario's directory (all of the above);
- :mod:`~linewatch.formats.fields` — opening a text file, checking a field's value.

Readers never drop a bad row silently: each comes back as a
:class:`~linewatch.formats.records.Rejected` (file, line, field, reason, raw text) for the
quarantine; only a file that cannot be read as a whole (not UTF-8, no usable header, a
multi-line JSON document) raises :class:`~linewatch.errors.InputError`.
"""

from __future__ import annotations

from linewatch.formats.detections import DETECTION_FIELDS, iter_detection_chunks, read_detections, write_detections
from linewatch.formats.fields import open_text
from linewatch.formats.scenario import write_scenario
from linewatch.formats.sensor_list import SENSOR_FIELDS, read_sensors, write_sensors
from linewatch.formats.truth import TRUTH_DETECTIONS, TRUTH_EVENTS, read_truth, write_truth

__all__ = [
    "DETECTION_FIELDS", "SENSOR_FIELDS", "TRUTH_DETECTIONS", "TRUTH_EVENTS", "iter_detection_chunks",
    "open_text", "read_detections", "read_sensors", "read_truth", "write_detections", "write_scenario",
    "write_sensors", "write_truth",
]
