"""Detections and sensors as columns in the working frame, the form association works on;
and the speed of sound the engine assumes for them."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from linewatch.fusion.estimation import Measurements, toa_sd
from linewatch.fusion.params import FusionParams
from linewatch.geo import WorkingFrame
from linewatch.model import Detections, Sensors, sound_speed_m_s

__all__ = ["Prepared", "prepare", "sound_speed_for"]


@dataclass(frozen=True)
class Prepared:
    """Detections and sensors in the working frame, as columns."""

    sx: np.ndarray
    sy: np.ndarray
    sensor: np.ndarray
    t: np.ndarray
    pick_sd: np.ndarray
    clock_sd: np.ndarray
    bearing: np.ndarray       # radians, NaN if none
    bearing_sd: np.ndarray
    range_m: np.ndarray
    range_sd: np.ndarray
    fx: np.ndarray
    fy: np.ndarray
    fsd: np.ndarray
    kind: np.ndarray
    toa: np.ndarray           # bool: the arrival time is informative (microphones, arrays)
    sensor_toa: np.ndarray    # per sensor, bool: a microphone or an array

    def measurements(self, rows: np.ndarray, c: float, params: FusionParams,
                     x: float | None = None, y: float | None = None) -> Measurements:
        """The measurement columns of ``rows``; the arrival-time noise grows with the path
        from a source at ``(x, y)`` (10 km from every sensor without one)."""
        sx, sy = self.sx[self.sensor[rows]], self.sy[self.sensor[rows]]
        r = np.hypot(sx - x, sy - y) if x is not None else np.full(len(rows), 10_000.0)
        jitter = math.hypot(params.celerity_jitter, params.wind_allowance_m_s / c)
        sd = toa_sd(self.pick_sd[rows], self.clock_sd[rows], r, c, jitter)
        t = np.where(self.toa[rows], self.t[rows], np.nan)
        return Measurements(sx, sy, t, sd, self.bearing[rows], self.bearing_sd[rows],
                            self.range_m[rows], self.range_sd[rows], self.fx[rows], self.fy[rows],
                            self.fsd[rows])

    def take(self, rows: np.ndarray) -> Prepared:
        """Some detections (the sensors stay whole)."""
        per_sensor = {"sx", "sy", "sensor_toa"}
        return Prepared(**{f.name: getattr(self, f.name) if f.name in per_sensor
                           else getattr(self, f.name)[rows] for f in fields(self)})


def prepare(sensors: Sensors, det: Detections, frame: WorkingFrame) -> Prepared:
    """``det`` (sorted by time) and ``sensors`` as columns in ``frame``."""
    sx, sy = frame.to_xy(sensors.lon, sensors.lat)
    has_fix = np.isfinite(det.lon) & np.isfinite(det.lat)
    fx = np.full(len(det), np.nan)
    fy = np.full(len(det), np.nan)
    if has_fix.any():
        fx[has_fix], fy[has_fix] = frame.to_xy(det.lon[has_fix], det.lat[has_fix])
    kind_s = sensors.kind[det.sensor]
    toa = np.isin(kind_s, ["microphone", "array"]) & (det.time_sd_s < 1.0)
    return Prepared(
        sx=np.asarray(sx), sy=np.asarray(sy), sensor=det.sensor, t=det.time_s,
        pick_sd=np.nan_to_num(det.time_sd_s, nan=0.05), clock_sd=sensors.clock_sd_s[det.sensor],
        bearing=np.radians(det.bearing_deg), bearing_sd=np.radians(det.bearing_sd_deg),
        range_m=det.range_m, range_sd=det.range_sd_m, fx=fx, fy=fy,
        fsd=np.where(has_fix, np.nan_to_num(det.position_sd_m, nan=50.0), np.nan),
        kind=det.kind, toa=toa, sensor_toa=np.isin(sensors.kind, ["microphone", "array"]))


def sound_speed_for(det: Detections, params: FusionParams) -> float:
    """The speed of sound: at the given temperature, else the detections' median, else 15 °C."""
    if params.temperature_c is not None:
        return float(sound_speed_m_s(params.temperature_c))
    temps = det.temperature_c[np.isfinite(det.temperature_c)]
    return float(sound_speed_m_s(float(np.median(temps)) if len(temps) else 15.0))
