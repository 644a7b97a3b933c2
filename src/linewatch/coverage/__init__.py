"""Coverage: what the mission's network could have detected, where, when and of what kind.

Core: imports ``model``, ``geo`` and ``errors``. The simulator and the planner build on its
detection curves; it knows neither of them (it never imports ``sim`` or ``planning``).

Modules:

- ``curves``: the detection curve of an asset against distance, and the table
  :data:`DETECTABILITY` per asset kind and event kind;
- ``network``: the network (sensors, outages, camera views, UAV flights, patrols), checked;
- ``compiled``: a network as arrays in its working frame (internal);
- ``evaluate``: the probability engine, P(detect) at points at a time or over a window;
- ``place``: a place's coverage in a window, and the assets that could have detected there;
- ``line``: the share of a line's length covered, hour by hour.

Pure: no I/O, no clock; times are float epoch seconds (UTC), coordinates ``(lon, lat)``.
"""

from __future__ import annotations

from linewatch.coverage.curves import (
    ASSET_KINDS,
    COVERAGE_KINDS,
    DETECTABILITY,
    Detectability,
    detection_curve,
)
from linewatch.coverage.evaluate import detection_probability, window_probability
from linewatch.coverage.line import hourly_line_coverage, line_coverage, line_samples
from linewatch.coverage.network import CameraView, Flight, Network, Outage, Patrol
from linewatch.coverage.place import Contribution, PlaceCoverage, place_coverage

__all__ = [
    "ASSET_KINDS",
    "COVERAGE_KINDS",
    "CameraView",
    "Contribution",
    "DETECTABILITY",
    "Detectability",
    "Flight",
    "Network",
    "Outage",
    "Patrol",
    "PlaceCoverage",
    "detection_curve",
    "detection_probability",
    "hourly_line_coverage",
    "line_coverage",
    "line_samples",
    "place_coverage",
    "window_probability",
]
