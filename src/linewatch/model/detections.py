"""Raw sensor data as columns: sensors, detections, ground truth, and fused incidents.

The public file formats are in ``docs/fusion-formats.md`` (read and written by
``linewatch.formats.sensors``). Inside, everything is columnar numpy: times are float epoch
seconds (UTC), missing numbers are NaN, strings are object arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["DETECTION_KINDS", "SENSOR_KINDS", "Detections", "Incident", "Sensors", "Truth", "sound_speed_m_s"]

SENSOR_KINDS = ("microphone", "array", "observer", "camera", "uav")
DETECTION_KINDS = ("launch", "impact", "unknown")


def sound_speed_m_s(temperature_c: float | np.ndarray) -> float | np.ndarray:
    """Speed of sound in dry air: 331.3 * sqrt(1 + T / 273.15) m/s (fusion.md §2.4).

    >>> round(float(sound_speed_m_s(20.0)), 1)
    343.2
    """
    return 331.3 * np.sqrt(1.0 + np.asarray(temperature_c, dtype=float) / 273.15)


@dataclass(frozen=True)
class Sensors:
    ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    elevation_m: np.ndarray
    kind: np.ndarray
    clock_sd_s: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def index(self) -> dict[str, int]:
        return {str(s): i for i, s in enumerate(self.ids)}

    @classmethod
    def from_columns(cls, ids: npt.ArrayLike, lon: npt.ArrayLike, lat: npt.ArrayLike,
                     kind: npt.ArrayLike, elevation_m: npt.ArrayLike | None = None,
                     clock_sd_s: npt.ArrayLike | None = None) -> Sensors:
        ids_ = np.asarray(ids, dtype=object)
        n = len(ids_)
        kinds = np.asarray(kind, dtype=object)
        bad = sorted({str(k) for k in kinds if k not in SENSOR_KINDS})
        if bad:
            raise ValueError(f"unknown sensor kind(s) {bad}; expected one of {SENSOR_KINDS}")
        return cls(ids_, np.asarray(lon, float), np.asarray(lat, float),
                   np.zeros(n) if elevation_m is None else np.asarray(elevation_m, float), kinds,
                   np.zeros(n) if clock_sd_s is None else np.asarray(clock_sd_s, float))


@dataclass(frozen=True)
class Detections:
    """Detections sorted by time then id; ``sensor`` indexes :class:`Sensors`."""

    ids: np.ndarray
    sensor: np.ndarray
    time_s: np.ndarray
    time_sd_s: np.ndarray
    bearing_deg: np.ndarray
    bearing_sd_deg: np.ndarray
    range_m: np.ndarray
    range_sd_m: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    position_sd_m: np.ndarray
    kind: np.ndarray
    temperature_c: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_columns(cls, ids: npt.ArrayLike, sensor: npt.ArrayLike, time_s: npt.ArrayLike,
                     time_sd_s: npt.ArrayLike, *, bearing_deg: npt.ArrayLike | None = None,
                     bearing_sd_deg: npt.ArrayLike | None = None, range_m: npt.ArrayLike | None = None,
                     range_sd_m: npt.ArrayLike | None = None, lon: npt.ArrayLike | None = None,
                     lat: npt.ArrayLike | None = None, position_sd_m: npt.ArrayLike | None = None,
                     kind: npt.ArrayLike | None = None,
                     temperature_c: npt.ArrayLike | None = None) -> Detections:
        ids_ = np.asarray(ids, dtype=object)
        n = len(ids_)

        def nan(v: npt.ArrayLike | None) -> np.ndarray:
            return np.full(n, np.nan) if v is None else np.asarray(v, dtype=float)

        d = cls(ids_, np.asarray(sensor, dtype=np.int64),
                np.asarray(time_s, dtype=float), np.asarray(time_sd_s, dtype=float),
                nan(bearing_deg), nan(bearing_sd_deg), nan(range_m), nan(range_sd_m), nan(lon),
                nan(lat), nan(position_sd_m),
                np.full(n, "unknown", dtype=object) if kind is None else np.asarray(kind, dtype=object),
                nan(temperature_c))
        return d.sorted()

    def take(self, idx: np.ndarray) -> Detections:
        return Detections(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))

    @classmethod
    def concat(cls, parts: list[Detections]) -> Detections:
        """Detections one after the other (no re-sorting); at least one part."""
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__))

    def sorted(self) -> Detections:
        order = np.lexsort((self.ids.astype(str), self.time_s))
        return self.take(order)


@dataclass(frozen=True)
class Truth:
    """What really happened in a simulated scenario."""

    event_id: np.ndarray          # int
    kind: np.ndarray              # "launch" | "impact"
    lon: np.ndarray
    lat: np.ndarray
    time_s: np.ndarray
    side: np.ndarray              # party id the event lies on
    pair_id: np.ndarray           # int: a launch and its impact share it
    #: for each detection id: the event it came from, or -1 for clutter
    detection_event: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Incident:
    """A located event fused from detections, with its 95 % error ellipse."""

    id: str
    time_s: float
    lon: float
    lat: float
    kind: str
    detections: tuple[str, ...]
    semi_major_m: float
    semi_minor_m: float
    azimuth_deg: float
    cov_en_m2: tuple[tuple[float, float], tuple[float, float]]
    time_sd_s: float = math.nan
    n_sensors: int = 0
    pair_id: str | None = None
    side_probability: dict[str, float] | None = None
    side: str | None = None
