"""What the sensors report: detections of the events, and clutter.

**Propagation.** Speed of sound from temperature; a wind per hour block (uniform direction,
speed uniform up to ``wind_m_s``) adds its component along each path (the exact moving-medium
group speed) and deflects an array's apparent bearing by the cross-wind component; each path's
celerity gets a relative jitter N(0, ``celerity_jitter``); picks get N(0, ``pick_sd_s``) noise.
Detection probability ``p_max * (1 - sigmoid((d - R50) / w))`` per sensor kind and event kind.
Observers report a bearing, a distance band (±30 %) and a time within ~30 s; cameras fix
events in their field of view, UAVs those under their orbit while airborne (σ 50 m).
Classifying sensors (arrays, observers, cameras, UAVs) give the right ``kind`` with
probability ``classify_correct`` and ``unknown`` otherwise; microphones and clutter always say
``unknown``. Gaussian time noises are truncated at 5 σ.

**Clutter.** False detections, Poisson per up sensor at ``clutter_per_min_per_sensor`` for
microphones and arrays, ``other_clutter_factor`` times that for observers and cameras (UAVs
none); ground truth labels them event ``-1``.

Both return detection columns: ``sensor`` (index), ``time`` (seconds from the start),
``time_sd``, ``bearing``, ``bearing_sd``, ``range``, ``range_sd``, ``lon``, ``lat``,
``pos_sd``, ``kind``, ``temp`` and ``event`` (the event id, ``-1`` for clutter).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from linewatch.geo import GEOD, WorkingFrame
from linewatch.sim.conditions import HourlyConditions
from linewatch.sim.events import EVENT_KINDS, LAUNCH
from linewatch.sim.layout import ARR, CAM, MIC, OBS, UAV, SensorField
from linewatch.sim.scenarios import HOUR_S, ScenarioParams
from linewatch.sim.streams import tnormal

__all__ = ["Columns", "clutter", "hear", "offset_lonlat"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
#: Columns of one table by name (events, or detections).
Columns = dict[str, np.ndarray]

# WGS84
_A = 6378137.0
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)


class _Paths(NamedTuple):
    """Event-sensor pairs: the event's row, the sensor, its kind code, the event's kind code,
    the azimuth and distance from the sensor to the event, the event's time and hour."""

    ie: Ints
    js: Ints
    k: Ints
    ekind: Ints
    az: Floats
    d: Floats
    t_ev: Floats
    hour: Ints

    def select(self, mask: npt.NDArray[np.bool_]) -> _Paths:
        """The pairs where ``mask`` holds."""
        return _Paths(self.ie[mask], self.js[mask], self.k[mask], self.ekind[mask], self.az[mask],
                      self.d[mask], self.t_ev[mask], self.hour[mask])


def hear(rng: np.random.Generator, ev: Columns, field: SensorField, p: ScenarioParams,
         conditions: HourlyConditions, c0: float) -> Columns:
    """The detections of the events ``ev`` by the sensors that are up (``c0``: the speed of
    sound in still air)."""
    paths = _paths_in_reach(ev, field, p)
    prob = _probability(paths, ev, field, p, conditions)
    heard = paths.select(rng.random(len(prob)) < prob)
    return _measure(rng, heard, ev, field, p, conditions, c0)


def _paths_in_reach(ev: Columns, field: SensorField, p: ScenarioParams) -> _Paths:
    """Every pair of an event and an up sensor close enough for the sensor to detect it."""
    up = np.flatnonzero(field.up)
    sk = field.kind[up]
    gate = np.select([sk <= ARR, sk == OBS, sk == CAM, sk == UAV],
                     [p.acoustic_r50_launch_m + 8 * p.acoustic_width_m,
                      p.observer_r50_m + 8 * p.observer_width_m,
                      min(p.camera_range_m, p.camera_r50_m + 8 * p.camera_width_m),
                      p.uav_radius_m])
    m = len(ev["kind"])
    ie_parts, js_parts = [], []
    step = max(1, 2_000_000 // max(len(up), 1))
    for a in range(0, m, step):
        dxp = ev["x"][a:a + step, None] - field.x[None, up]
        dyp = ev["y"][a:a + step, None] - field.y[None, up]
        ie, js = np.nonzero(dxp * dxp + dyp * dyp <= (gate * 1.003 + 50.0) ** 2)
        ie_parts.append(ie + a)
        js_parts.append(up[js])
    ie = np.concatenate(ie_parts) if ie_parts else np.zeros(0, np.int64)
    js = np.concatenate(js_parts) if js_parts else np.zeros(0, np.int64)
    az, _, d = GEOD.inv(field.lon[js], field.lat[js], ev["lon"][ie], ev["lat"][ie])
    t_ev = ev["time_s"][ie]
    return _Paths(ie, js, field.kind[js], ev["kind"][ie], np.asarray(az, float).reshape(-1),
                  np.asarray(d, float).reshape(-1), t_ev, np.floor(t_ev / HOUR_S).astype(np.int64))


def _probability(paths: _Paths, ev: Columns, field: SensorField, p: ScenarioParams,
                 conditions: HourlyConditions) -> Floats:
    """Each pair's detection probability: the kind's curve, inside a camera's field of view
    and range, while a UAV is airborne."""
    ie, js, k, d, t_ev, hour = paths.ie, paths.js, paths.k, paths.d, paths.t_ev, paths.hour
    launch = paths.ekind == LAUNCH
    r50 = np.select([k <= ARR, k == OBS, k == CAM, k == UAV],
                    [np.where(launch, p.acoustic_r50_launch_m, p.acoustic_r50_impact_m),
                     p.observer_r50_m, p.camera_r50_m, p.uav_radius_m])
    width = np.select([k <= ARR, k == OBS, k == CAM, k == UAV],
                      [p.acoustic_width_m, p.observer_width_m, p.camera_width_m, 200.0])
    pmax = np.select([k <= ARR, k == OBS, k == CAM, k == UAV],
                     [p.acoustic_p_max, p.observer_p_max, p.camera_p_max, p.uav_p_max])
    prob: Floats = pmax * (1.0 - expit((d - r50) / width))
    # cameras: inside the field of view and range; UAVs: airborne at the event's time
    ex, ey = ev["x"][ie] - field.x[js], ev["y"][ie] - field.y[js]
    with np.errstate(invalid="ignore", divide="ignore"):
        cos_fov = (ex * field.face_x[js] + ey * field.face_y[js]) / np.hypot(ex, ey)
    cam_ok = (cos_fov >= math.cos(math.radians(p.camera_half_fov_deg))) & (d <= p.camera_range_m)
    prob = np.where(k == CAM, np.where(cam_ok, prob, 0.0), prob)
    if np.any(k == UAV):
        airborne = np.zeros(len(k), bool)
        uav_pos = np.searchsorted(field.uav_index, js)
        for h in np.unique(hour[k == UAV]):
            s0, s1 = conditions.sorties(int(h))
            sel = (k == UAV) & (hour == h)
            q = uav_pos[sel]
            airborne[sel] = (t_ev[sel] >= s0[q]) & (t_ev[sel] < s1[q])
        prob = np.where(k == UAV, np.where(airborne, prob, 0.0), prob)
    return prob


def _winds(conditions: HourlyConditions, hour: Ints) -> tuple[Floats, Floats]:
    """The (east, north) wind at each of the hours."""
    if not len(hour):
        return np.zeros(0), np.zeros(0)
    h0 = int(hour.min())
    winds = np.array([conditions.wind(h) for h in range(h0, int(hour.max()) + 1)])
    return winds[hour - h0, 0], winds[hour - h0, 1]


def _measure(rng: np.random.Generator, paths: _Paths, ev: Columns, field: SensorField,
             p: ScenarioParams, conditions: HourlyConditions, c0: float) -> Columns:
    """The detections of the pairs heard: times, bearings, ranges, fixes, kinds, with noise."""
    ie, js, k, az, d, t_ev = paths.ie, paths.js, paths.k, paths.az, paths.d, paths.t_ev
    n = len(ie)
    z_jit, z_pick, z_b, z_r, z_t, z_e, z_n, u_cls = (
        tnormal(rng, n), tnormal(rng, n), tnormal(rng, n), tnormal(rng, n),
        tnormal(rng, n), tnormal(rng, n), tnormal(rng, n), rng.random(n))
    # acoustic propagation with wind (moving medium: group speed along the path)
    we, wn = _winds(conditions, paths.hour)
    a = np.radians(az)
    ue, un = -np.sin(a), -np.cos(a)               # propagation: source -> sensor
    w_par = we * ue + wn * un
    pe, pn = we - w_par * ue, wn - w_par * un     # cross-wind
    c = c0 * (1.0 + p.celerity_jitter * z_jit)
    group = w_par + np.sqrt(np.maximum(c * c - (pe * pe + pn * pn), 1.0))
    toa = t_ev + d / group + field.clock_bias[js] + p.pick_sd_s * z_pick
    # apparent direction to the source: the wavefront normal, reversed
    app = np.degrees(np.arctan2(we - group * ue, wn - group * un))
    acoustic = k <= ARR
    nan = np.full(n, np.nan)
    time = np.where(acoustic, toa, np.where(k == OBS, t_ev + d / c0 + p.observer_time_sd_s * z_t,
                                            t_ev + p.fix_time_sd_s * z_t))
    time_sd = np.select([acoustic, k == OBS], [p.pick_sd_s, p.observer_time_sd_s], p.fix_time_sd_s)
    bearing = np.select([k == ARR, k == OBS],
                        [app + p.array_bearing_sd_deg * z_b, az + p.observer_bearing_sd_deg * z_b],
                        np.nan) % 360.0
    bearing_sd = np.select([k == ARR, k == OBS], [p.array_bearing_sd_deg, p.observer_bearing_sd_deg], np.nan)
    rng_m = np.where(k == OBS, d * np.maximum(1.0 + p.observer_range_rel_sd * z_r, 0.2), np.nan)
    rng_sd = p.observer_range_rel_sd * rng_m
    fix = (k == CAM) | (k == UAV)
    flon, flat = offset_lonlat(ev["lon"][ie], ev["lat"][ie], p.fix_sd_m * z_e, p.fix_sd_m * z_n)
    kind_out = np.where((k != MIC) & (u_cls < p.classify_correct), EVENT_KINDS[paths.ekind], "unknown")
    return {"sensor": js, "time": time, "time_sd": time_sd.astype(float),
            "bearing": bearing, "bearing_sd": bearing_sd.astype(float),
            "range": rng_m, "range_sd": rng_sd,
            "lon": np.where(fix, flon, nan), "lat": np.where(fix, flat, nan),
            "pos_sd": np.where(fix, p.fix_sd_m, nan), "kind": kind_out.astype(object),
            "temp": np.where(acoustic, p.temperature_c, nan), "event": ev["event_id"][ie]}


def clutter(rng: np.random.Generator, field: SensorField, p: ScenarioParams, frame: WorkingFrame,
            t0: float, t1: float) -> Columns:
    """False detections in ``[t0, t1)`` (seconds from the start) by the sensors that are up."""
    kinds = field.kind
    factor = np.select([kinds <= ARR, (kinds == OBS) | (kinds == CAM)], [1.0, p.other_clutter_factor], 0.0)
    lam = p.clutter_per_min_per_sensor / 60.0 * (t1 - t0) * factor * field.up
    counts = rng.poisson(lam)
    js = np.repeat(np.arange(len(kinds)), counts)
    n = len(js)
    k = kinds[js]
    time = rng.uniform(t0, t1, size=n)
    u_b, u_r, z_pick = rng.random(n), rng.random(n), tnormal(rng, n)
    acoustic = k <= ARR
    nan = np.full(n, np.nan)
    # a camera's false fix: somewhere in its field of view
    half = math.radians(p.camera_half_fov_deg)
    face = np.arctan2(field.face_x[js], field.face_y[js])
    ang = face + (2 * u_b - 1) * half
    dist = 500.0 + u_r * (p.camera_range_m - 500.0)
    cx, cy = field.x[js] + dist * np.sin(ang), field.y[js] + dist * np.cos(ang)
    clon, clat = frame.to_lonlat(cx, cy) if n else (nan, nan)
    obs_range = 2000.0 + u_r * 13_000.0
    return {"sensor": js, "time": time + np.where(acoustic, p.pick_sd_s * z_pick, 0.0),
            "time_sd": np.select([acoustic, k == OBS], [p.pick_sd_s, p.observer_time_sd_s],
                                 p.fix_time_sd_s).astype(float),
            "bearing": np.where((k == ARR) | (k == OBS), u_b * 360.0, np.nan),
            "bearing_sd": np.select([k == ARR, k == OBS],
                                    [p.array_bearing_sd_deg, p.observer_bearing_sd_deg],
                                    np.nan).astype(float),
            "range": np.where(k == OBS, obs_range, np.nan),
            "range_sd": np.where(k == OBS, p.observer_range_rel_sd * obs_range, np.nan),
            "lon": np.where(k == CAM, np.asarray(clon), nan),
            "lat": np.where(k == CAM, np.asarray(clat), nan),
            "pos_sd": np.where(k == CAM, p.fix_sd_m, nan),
            "kind": np.full(n, "unknown", dtype=object),
            "temp": np.where(acoustic, p.temperature_c, nan),
            "event": np.full(n, -1, np.int64)}


def offset_lonlat(lon: Floats, lat: Floats, east_m: Floats, north_m: Floats) -> tuple[Floats, Floats]:
    """Move points by small east/north offsets (metres) on the WGS84 ellipsoid.

    Examples:
        >>> lon, lat = offset_lonlat(np.array([36.0]), np.array([0.0]), np.array([0.0]),
        ...                          np.array([1_000.0]))
        >>> round(float(lat[0]), 6)                   # 1 km north on the equator
        0.009044
    """
    s = np.sin(np.radians(lat))
    w = 1.0 - _E2 * s * s
    n_radius = _A / np.sqrt(w)
    m_radius = _A * (1.0 - _E2) / (w * np.sqrt(w))
    return (lon + np.degrees(east_m / (n_radius * np.cos(np.radians(lat)))),
            lat + np.degrees(north_m / m_radius))
