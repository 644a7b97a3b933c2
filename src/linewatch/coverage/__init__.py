"""Coverage: what the mission's network could have detected, where, when and of what kind.

Core: imports ``model``, ``geo`` and ``errors``. The simulator and the planner build on its
detection curves; it knows neither of them.
"""

from __future__ import annotations

from linewatch.coverage.model import (
    ASSET_KINDS,
    COVERAGE_KINDS,
    DETECTABILITY,
    CameraView,
    Contribution,
    Detectability,
    Flight,
    Network,
    Outage,
    Patrol,
    PlaceCoverage,
    detection_curve,
    detection_probability,
    hourly_line_coverage,
    line_coverage,
    line_samples,
    place_coverage,
    window_probability,
)

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
