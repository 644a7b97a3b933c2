"""The mission's values: records and findings, raw sensor columns and fused incidents, and time.

The bottom of the core: imports nothing of linewatch but ``errors``. Records are frozen
dataclasses with (lon, lat) WGS84 coordinates and aware UTC times; sensor data are numpy columns.
"""

from __future__ import annotations

from linewatch.model.detections import (
    DETECTION_KINDS,
    SENSOR_KINDS,
    Detections,
    Incident,
    Sensors,
    Truth,
    sound_speed_m_s,
)
from linewatch.model.records import (
    EARLIEST_TIME,
    FIRE_KINDS,
    LATEST_TIME,
    MAX_COUNT,
    MAX_DELAY_MIN,
    MAX_DISTANCE_M,
    SIGMA_PER_R95,
    ExplosionType,
    Finding,
    Kind,
    Location,
    ObserverFix,
    Provenance,
    Report,
    SourceKind,
    TimePrecision,
    Verdict,
    covariance_to_ellipse,
    ellipse_to_covariance,
    in_time_window,
)
from linewatch.model.time import TimeSpec, utc_datetime, utc_iso, utc_iso_array, utc_minute

__all__ = [
    "DETECTION_KINDS",
    "Detections",
    "EARLIEST_TIME",
    "ExplosionType",
    "FIRE_KINDS",
    "Finding",
    "Incident",
    "Kind",
    "LATEST_TIME",
    "Location",
    "MAX_COUNT",
    "MAX_DELAY_MIN",
    "MAX_DISTANCE_M",
    "ObserverFix",
    "Provenance",
    "Report",
    "SENSOR_KINDS",
    "SIGMA_PER_R95",
    "Sensors",
    "SourceKind",
    "TimePrecision",
    "TimeSpec",
    "Truth",
    "Verdict",
    "covariance_to_ellipse",
    "ellipse_to_covariance",
    "in_time_window",
    "sound_speed_m_s",
    "utc_datetime",
    "utc_iso",
    "utc_iso_array",
    "utc_minute",
]
