"""Fusion: associate raw detections into located incidents, pair launches with impacts, and
say from which side of the line the fire came (or abstain).

The engine (fusion.md §4.3):

1. **Partition.** The area is cut into overlapping tiles along the line (or along the sensors'
   main axis) and time into overlapping windows, so memory stays flat as the input grows and
   the work can be spread; an incident belongs to the tile and window whose core holds it.
2. **Candidates.** A coarse space–time search: for every grid point and every arrival time, the
   origin time it implies; grid points where many sensors imply the same origin time are
   candidates (arrays' bearings prune pairs that point elsewhere).
3. **Refinement.** Around a candidate: a fine search, then maximum likelihood (Levenberg–
   Marquardt) with outlier rejection, each sensor used at most once; the covariance is the
   inverse Fisher information at the estimate (95 % ellipse).
4. **Exclusive, greedy acceptance**, strongest first: each detection joins at most one
   incident. A candidate must be consistent (χ²) and hold enough of the detections the sensor
   network should have made there, which rules out "ghosts" assembled from clutter.
5. **Pairing** launches with impacts by time of flight and geometry, and **attribution**:
   P(launch on each party's side) from the signed distance to the line and its spread along
   the line's normal; below ``side_threshold`` the engine abstains.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import linear_sum_assignment

from linewatch.detections import Detections, Incident, Sensors, sound_speed_m_s
from linewatch.estimation import (Measurements, estimate_wind, fisher_information, gauss_newton,
                                  per_detection_chi2, position_covariance, toa_sd)
from linewatch.geo import WorkingFrame
from linewatch.model import covariance_to_ellipse

ENGINE_VERSION = "fusion-1"
CHI2_95_2D = 5.991464547107979


@dataclass(frozen=True)
class FusionParams:
    temperature_c: float | None = None     # None: the detections' median temperature, else 15 °C
    celerity_jitter: float = 0.002         # per-path relative sound-speed noise
    wind_allowance_m_s: float = 1.0        # unmodelled wind during association, as per-path noise
    estimate_wind: bool = True             # estimate a wind per block and relocate with it
    wind_block_s: float = 3600.0
    wind_min_events: int = 3
    wind_residual_m_s: float = 0.5         # what the estimated wind leaves, as per-path noise
    min_sensors: int = 7                   # distinct sensors with an arrival time
    expected_share: float = 0.5            # of the detections the network should have made
    min_expected: float = 8.0              # where the network hears less, clutter wins: no search
    near_m: float = 4_000.0                # sensors this close to a source hear it nearly always:
    near_silent: int = 1                   # more silent ones than this (and than this share)
    near_silent_share: float = 0.25        # make the incident a ghost
    #: distance at which a sensor hears half the events: a quiet source (for the share test)
    #: and a loud one (for where searching is worth it at all)
    detection_range_m: tuple[float, float] = (8_000.0, 15_000.0)
    max_range_m: float = 25_000.0          # farthest sensor-source distance considered
    grid_m: float = 1_000.0                # coarse search cell
    window_s: float = 30.0                 # origin-time window of the coarse search
    block_s: float = 600.0                 # time block whose candidates compete best-first
    #: candidates up to this far past a block compete too (and hold their detections), so an
    #: event just after the block's end is not carved into wrong fits that the block can keep
    block_overlap_s: float = 60.0
    tile_m: float = 60_000.0               # tile core length along the line
    tile_margin_m: float = 25_000.0        # sources searched beyond the sensors
    gate_sigma: float = 3.5                # outlier gate on whitened residuals
    max_chi2_per_dof: float = 3.0
    projectile_speed_m_s: tuple[float, float] = (150.0, 700.0)
    max_flight_m: float = 45_000.0
    side_threshold: float = 0.95


@dataclass(frozen=True)
class FusionResult:
    incidents: tuple[Incident, ...]
    n_detections: int
    n_used: int
    frame: WorkingFrame
    c_m_s: float
    engine: str = ENGINE_VERSION
    stats: dict = field(default_factory=dict)


# -- measurements in the frame ----------------------------------------------------------------

@dataclass(frozen=True)
class _Prepared:
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
        sx, sy = self.sx[self.sensor[rows]], self.sy[self.sensor[rows]]
        r = np.hypot(sx - x, sy - y) if x is not None else np.full(len(rows), 10_000.0)
        jitter = math.hypot(params.celerity_jitter, params.wind_allowance_m_s / c)
        sd = toa_sd(self.pick_sd[rows], self.clock_sd[rows], r, c, jitter)
        t = np.where(self.toa[rows], self.t[rows], np.nan)
        return Measurements(sx, sy, t, sd, self.bearing[rows], self.bearing_sd[rows],
                            self.range_m[rows], self.range_sd[rows], self.fx[rows], self.fy[rows],
                            self.fsd[rows])


def _prepare(sensors: Sensors, det: Detections, frame: WorkingFrame) -> _Prepared:
    sx, sy = frame.to_xy(sensors.lon, sensors.lat)
    has_fix = np.isfinite(det.lon) & np.isfinite(det.lat)
    fx = np.full(len(det), np.nan)
    fy = np.full(len(det), np.nan)
    if has_fix.any():
        fx[has_fix], fy[has_fix] = frame.to_xy(det.lon[has_fix], det.lat[has_fix])
    kind_s = sensors.kind[det.sensor]
    toa = np.isin(kind_s, ["microphone", "array"]) & (det.time_sd_s < 1.0)
    return _Prepared(
        sx=np.asarray(sx), sy=np.asarray(sy), sensor=det.sensor, t=det.time_s,
        pick_sd=np.nan_to_num(det.time_sd_s, nan=0.05), clock_sd=sensors.clock_sd_s[det.sensor],
        bearing=np.radians(det.bearing_deg), bearing_sd=np.radians(det.bearing_sd_deg),
        range_m=det.range_m, range_sd=det.range_sd_m, fx=fx, fy=fy,
        fsd=np.where(has_fix, np.nan_to_num(det.position_sd_m, nan=50.0), np.nan),
        kind=det.kind, toa=toa, sensor_toa=np.isin(sensors.kind, ["microphone", "array"]))


def measurements_for(sensors: Sensors, detections: Detections, rows, *, frame: WorkingFrame,
                     params: FusionParams = FusionParams(), c_m_s: float | None = None,
                     x_m: float | None = None, y_m: float | None = None) -> Measurements:
    """Some detections as measurement columns in the frame (for the CRLB at a known source)."""
    c = c_m_s if c_m_s is not None else _sound_speed(detections, params)
    return _prepare(sensors, detections, frame).measurements(np.asarray(rows), c, params, x_m, y_m)


def _sound_speed(det: Detections, params: FusionParams) -> float:
    if params.temperature_c is not None:
        return float(sound_speed_m_s(params.temperature_c))
    temps = det.temperature_c[np.isfinite(det.temperature_c)]
    return float(sound_speed_m_s(float(np.median(temps)) if len(temps) else 15.0))


# -- locating one group -----------------------------------------------------------------------

@dataclass
class _Fit:
    x: float
    y: float
    t0: float
    rows: np.ndarray
    fisher: np.ndarray
    chi2: float
    dof: int


def _fit(p: _Prepared, rows: np.ndarray, x: float, y: float, t0: float, c: float,
         params: FusionParams, *, robust: bool = True) -> _Fit | None:
    rows = np.asarray(rows)
    for _ in range(4):
        if len(rows) == 0:
            return None
        m = p.measurements(rows, c, params, x, y)
        x, y, t0, fisher = gauss_newton(x, y, t0, m, c)
        m = p.measurements(rows, c, params, x, y)
        chi2 = per_detection_chi2(x, y, t0, m, c)
        if not robust:
            break
        keep = _one_per_sensor(p, rows, chi2) & (chi2 <= params.gate_sigma ** 2 * _n_meas(m))
        if keep.all():
            break
        rows = rows[keep]
    m = p.measurements(rows, c, params, x, y)
    chi2 = per_detection_chi2(x, y, t0, m, c)
    n_rows = int(np.sum(_n_meas(m)))
    return _Fit(x, y, t0, rows, fisher, float(chi2.sum()), max(n_rows - 3, 1))


def _n_meas(m: Measurements) -> np.ndarray:
    n = np.isfinite(m.time_s).astype(int) + np.isfinite(m.bearing_rad) + np.isfinite(m.range_m)
    return np.maximum(n + 2 * np.isfinite(m.fix_x), 1)


def _one_per_sensor(p: _Prepared, rows: np.ndarray, chi2: np.ndarray) -> np.ndarray:
    order = np.lexsort((chi2, p.sensor[rows]))
    first = np.ones(len(rows), bool)
    s = p.sensor[rows][order]
    first_sorted = np.concatenate([[True], s[1:] != s[:-1]])
    first[order] = first_sorted
    return first


def locate_group(sensors: Sensors, detections: Detections, rows, *, frame: WorkingFrame,
                 params: FusionParams = FusionParams(), c_m_s: float | None = None) -> Incident | None:
    """Locate one given group of detections (no association): a global search, then ML."""
    rows = np.asarray(rows)
    c = c_m_s if c_m_s is not None else _sound_speed(detections, params)
    p = _prepare(sensors, detections, frame)
    start = _grid_start(p, rows, c, params)
    if start is None:
        return None
    fit = _fit(p, rows, *start, c, params, robust=False)
    if fit is None:
        return None
    return _incident(fit, detections, frame, c)


def _grid_start(p: _Prepared, rows: np.ndarray, c: float, params: FusionParams):
    """The best point of a 250 m grid around the group's sensors (a global start for ML)."""
    sx, sy = p.sx[p.sensor[rows]], p.sy[p.sensor[rows]]
    fixed = np.isfinite(p.fx[rows])
    if fixed.any():
        cx, cy = np.mean(p.fx[rows][fixed]), np.mean(p.fy[rows][fixed])
        half = 2_000.0
    else:
        cx, cy = np.mean(sx), np.mean(sy)
        half = params.max_range_m
    best = None
    for step in (1_000.0, 100.0):
        g = np.arange(-half, half + step / 2, step)
        gx, gy = np.meshgrid(cx + g, cy + g, indexing="ij")
        gx, gy = gx.ravel(), gy.ravel()
        m = p.measurements(rows, c, params)
        cost = _grid_cost(gx, gy, m, c)
        i = int(np.argmin(cost))
        best = (float(gx[i]), float(gy[i]))
        cx, cy, half = best[0], best[1], 2 * step
    m = p.measurements(rows, c, params, *best)
    d = np.hypot(best[0] - m.sensor_x, best[1] - m.sensor_y)
    has = np.isfinite(m.time_s)
    t0 = float(np.median(m.time_s[has] - d[has] / c)) if has.any() else float(np.nanmedian(p.t[rows]))
    return best[0], best[1], t0


def _grid_cost(gx, gy, m: Measurements, c: float) -> np.ndarray:
    """Sum of squared whitened residuals at grid points, with t0 profiled out (TOA part)."""
    dx = gx[:, None] - m.sensor_x[None, :]
    dy = gy[:, None] - m.sensor_y[None, :]
    r = np.hypot(dx, dy)
    cost = np.zeros(len(gx))
    has = np.isfinite(m.time_s)
    if has.sum() >= 2:
        w = 1.0 / m.toa_sd_s[has] ** 2
        t0 = m.time_s[has][None, :] - r[:, has] / c
        mean = (t0 * w).sum(1) / w.sum()
        cost += (((t0 - mean[:, None]) ** 2) * w).sum(1)
    has = np.isfinite(m.bearing_rad)
    if has.any():
        pred = np.arctan2(dx[:, has], dy[:, has])
        res = np.angle(np.exp(1j * (m.bearing_rad[has][None, :] - pred)))
        cost += ((res / m.bearing_sd_rad[has]) ** 2).sum(1)
    has = np.isfinite(m.range_m)
    if has.any():
        cost += (((m.range_m[has] - r[:, has]) / m.range_sd_m[has]) ** 2).sum(1)
    has = np.isfinite(m.fix_x)
    if has.any():
        cost += (((gx[:, None] - m.fix_x[has]) ** 2 + (gy[:, None] - m.fix_y[has]) ** 2)
                 / m.fix_sd_m[has] ** 2).sum(1)
    return cost


def _incident(fit: _Fit, det: Detections, frame: WorkingFrame, c: float) -> Incident:
    lon, lat = frame.to_lonlat(np.array([fit.x]), np.array([fit.y]))
    lon, lat = float(lon[0]), float(lat[0])
    cov_grid = position_covariance(fit.fisher)
    # grid metres -> true east/north: undo the scale factor and the meridian convergence
    k = float(frame.scale_factor(np.array([fit.x]), np.array([lat]))[0])
    g = float(frame.convergence_rad(np.array([lon]), np.array([lat]))[0])
    cg, sg = math.cos(g), math.sin(g)
    rot = np.array([[cg, sg], [-sg, cg]])
    cov = rot @ cov_grid @ rot.T / (k * k)
    major, minor, az = covariance_to_ellipse(cov[0, 0], cov[0, 1], cov[1, 1])
    ids = tuple(sorted(str(i) for i in det.ids[fit.rows]))
    kinds = det.kind[fit.rows]
    n_launch, n_impact = int(np.sum(kinds == "launch")), int(np.sum(kinds == "impact"))
    kind = "launch" if n_launch > n_impact else "impact" if n_impact > n_launch else "unknown"
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:10]
    t_var = np.linalg.pinv(fit.fisher)[2, 2] if fit.fisher[2, 2] > 0 else math.nan
    return Incident(
        id=f"inc-{digest}", time_s=fit.t0, lon=lon, lat=lat, kind=kind, detections=ids,
        semi_major_m=major, semi_minor_m=min(minor, major), azimuth_deg=az,
        cov_en_m2=((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))),
        time_sd_s=float(math.sqrt(t_var)) if t_var == t_var and t_var > 0 else math.nan,
        n_sensors=len(set(det.sensor[fit.rows].tolist())))


# -- association ------------------------------------------------------------------------------

def _tiles(p: _Prepared, frame: WorkingFrame, agreement, params: FusionParams):
    """Overlapping tiles as (sensor mask, core test) along the line or the sensors' main axis."""
    if agreement is not None and agreement.line_index is not None:
        lat = frame.to_lonlat(p.sx, p.sy)[1]
        along = agreement.line_index.nearest(p.sx, p.sy, lat).chainage_m

        def along_of(x, y):
            la = frame.to_lonlat(np.atleast_1d(x), np.atleast_1d(y))[1]
            return agreement.line_index.nearest(np.atleast_1d(x), np.atleast_1d(y), la).chainage_m
    else:
        centre = np.array([p.sx.mean(), p.sy.mean()])
        xy = np.column_stack([p.sx, p.sy]) - centre
        axis = np.linalg.svd(xy, full_matrices=False)[2][0] if len(xy) > 1 else np.array([1.0, 0.0])

        def along_of(x, y):
            return (np.atleast_1d(x) - centre[0]) * axis[0] + (np.atleast_1d(y) - centre[1]) * axis[1]
        along = along_of(p.sx, p.sy)
    lo, hi = float(along.min()), float(along.max())
    n = max(1, math.ceil((hi - lo) / params.tile_m))
    edges = np.linspace(lo, hi, n + 1)
    tiles = []
    for i in range(n):
        a, b = edges[i], edges[i + 1]
        last = i == n - 1
        mask = (along >= a - params.tile_margin_m) & (along <= b + params.tile_margin_m)

        def core(x, y, a=a, b=b, first=i == 0, last=last):
            s = along_of(x, y)
            return (first or s >= a) and (last or s < b)
        tiles.append((mask, core))
    return tiles


def fuse(sensors: Sensors, detections: Detections, *, agreement=None,
         params: FusionParams = FusionParams(),
         progress: Callable[[int], None] | None = None) -> FusionResult:
    """Associate and locate; pair launches with impacts; attribute the side of origin."""
    det = detections.sorted()
    frame = agreement.frame if agreement is not None else WorkingFrame.for_lonlat(sensors.lon)
    c = _sound_speed(det, params)
    p = _prepare(sensors, det, frame)
    used = np.zeros(len(det), bool)
    fits: list[_Fit] = []
    stats = {"candidates": 0, "rejected_share": 0, "rejected_chi2": 0}
    if len(det):
        alive = np.zeros(len(sensors), bool)
        alive[np.unique(det.sensor)] = True
        t_lo, t_hi = float(det.time_s.min()), float(det.time_s.max())
        max_travel = params.max_range_m / c
        for mask, core in _tiles(p, frame, agreement, params):
            in_tile = mask[p.sensor]
            if not (mask & alive).any():
                continue
            grid = _tile_grid(p, mask & alive, params)
            b0 = math.floor((t_lo - max_travel) / params.block_s) * params.block_s
            for bs in np.arange(b0, t_hi + params.block_s, params.block_s):
                lo = np.searchsorted(det.time_s, bs, "left")
                hi = np.searchsorted(det.time_s, bs + params.block_s + params.block_overlap_s
                                     + max_travel, "right")
                rows = np.arange(lo, hi)
                rows = rows[in_tile[rows] & ~used[rows]]
                if len(rows) < params.min_sensors:
                    continue
                for fit in _associate_block(p, rows, bs, c, params, mask & alive, grid, core, stats):
                    used[fit.rows] = True
                    fits.append(fit)
            if progress is not None:
                progress(int(in_tile.sum()))
    fits = _calibrate_wind(p, fits, c, params, stats)
    incidents = [_incident(f, det, frame, c) for f in fits]
    incidents = _pair_and_attribute(incidents, frame, agreement, params)
    incidents.sort(key=lambda i: (i.time_s, i.id))
    return FusionResult(tuple(incidents), len(det), int(used.sum()), frame, c, stats=stats)


def _associate_block(p: _Prepared, rows: np.ndarray, bs: float, c: float, params: FusionParams,
                     alive: np.ndarray, grid: _Grid, core, stats: dict) -> list[_Fit]:
    """Best-first, exclusive acceptance of the candidates of one time block of one tile: the
    strongest candidates of all the block's windows are refined first, so a strong event takes
    its detections before any partial, wrong fit can form from some of them."""
    parts = [_window_candidates(p, rows, float(ws), c, params, grid)
             for ws in np.arange(bs, bs + params.block_s + params.block_overlap_s, params.window_s)]
    parts = [a for a in parts if len(a)]
    cands = np.vstack(parts) if parts else np.zeros((0, 5))
    cands = cands[np.lexsort((cands[:, 2], cands[:, 1], cands[:, 3], -cands[:, 0]))].tolist()
    out: list[_Fit] = []
    taken = np.zeros(len(rows), bool)
    # one refinement per neighbourhood (cells of 1.75 grid steps and 4.5 s, and their neighbours):
    # neighbouring cells of a candidate are the same source
    tried: set[tuple[int, int, int]] = set()
    cell = 1.75 * params.grid_m
    tau = params.grid_m * math.sqrt(0.5) / c + 3.0 * 0.06
    for _, cx, cy, t_guess, need in cands:
        key = (int(cx // cell), int(cy // cell), int(t_guess // 4.5))
        if key in tried:
            continue
        tried.update((key[0] + i, key[1] + j, key[2] + k)
                     for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1))
        free = rows[~taken]
        if len(free) < params.min_sensors:
            break
        # only detections that can come from a source near this origin time
        lo = np.searchsorted(p.t[free], t_guess - 10.0, "left")
        hi = np.searchsorted(p.t[free], t_guess + params.max_range_m / c + 10.0, "right")
        free = free[lo:hi]
        if _support(p, free, cx, cy, t_guess, c, tau) < need:
            continue  # its detections have gone to better fits
        stats["candidates"] += 1
        fit = _refine(p, free, cx, cy, t_guess, c, params)
        if fit is None or not _acceptable(p, fit, alive, params, stats):
            continue
        if _contradicted(p, free, fit, c, params):
            stats["rejected_bearings"] = stats.get("rejected_bearings", 0) + 1
            continue
        # a good fit that belongs to a neighbouring tile or block still holds its detections
        # here, so that no weaker, wrong fit in this tile can take them; its owner reports it
        taken |= np.isin(rows, fit.rows)
        if (bs <= fit.t0 < bs + params.block_s) and core(fit.x, fit.y):
            out.append(fit)
    return out


def _calibrate_wind(p: _Prepared, fits: list[_Fit], c: float, params: FusionParams,
                    stats: dict) -> list[_Fit]:
    """Estimate a wind per time block from the block's events together (a common
    direction-dependent change of the speed of sound, which single events cannot tell from
    their position) and relocate every event with it (fusion.md §2.4)."""
    if not params.estimate_wind or not fits:
        return fits
    final = replace(params, wind_allowance_m_s=params.wind_residual_m_s)
    blocks: dict[int, list[int]] = {}
    for i, f in enumerate(fits):
        blocks.setdefault(int(f.t0 // params.wind_block_s), []).append(i)
    out = list(fits)
    winds = {}
    for block, idx in sorted(blocks.items()):
        usable = [i for i in idx if int(np.sum(p.toa[fits[i].rows])) >= 6]
        wind = (0.0, 0.0)
        if len(usable) >= params.wind_min_events:
            for _ in range(3):
                events = [(out[i].x, out[i].y, out[i].t0,
                           p.measurements(out[i].rows, c, final, out[i].x, out[i].y)) for i in usable]
                wind, _ = estimate_wind(events, c, wind)
                for i in usable:
                    out[i] = _refit(p, out[i], c, final, wind)
        for i in idx:
            out[i] = _refit(p, out[i], c, final, wind)
        winds[block] = (round(wind[0], 2), round(wind[1], 2))
    stats["wind_m_s"] = winds
    return out


def _refit(p: _Prepared, fit: _Fit, c: float, params: FusionParams,
           wind: tuple[float, float]) -> _Fit:
    m = p.measurements(fit.rows, c, params, fit.x, fit.y)
    x, y, t0, _ = gauss_newton(fit.x, fit.y, fit.t0, m, c, wind=wind)
    m = p.measurements(fit.rows, c, params, x, y)
    chi2 = per_detection_chi2(x, y, t0, m, c, wind)
    return _Fit(x, y, t0, fit.rows, fisher_information(x, y, m, c), float(chi2.sum()), fit.dof)


def _contradicted(p: _Prepared, free: np.ndarray, fit: _Fit, c: float,
                  params: FusionParams) -> bool:
    """Do the arrays that heard something at the right time point elsewhere?

    Arrival times alone admit "ghosts" between simultaneous events; at a true source, the
    arrays whose arrival times fit also point at it."""
    arr = free[p.toa[free] & np.isfinite(p.bearing[free])]
    if len(arr) == 0:
        return False
    m = p.measurements(arr, c, params, fit.x, fit.y)
    dx, dy = fit.x - m.sensor_x, fit.y - m.sensor_y
    timely = np.abs(m.time_s - fit.t0 - np.hypot(dx, dy) / c) <= params.gate_sigma * m.toa_sd_s
    if not timely.any():
        return False
    b_res = np.abs(np.angle(np.exp(1j * (m.bearing_rad - np.arctan2(dx, dy))))) / m.bearing_sd_rad
    sensor = p.sensor[arr]
    heard = np.unique(sensor[timely])
    agree = np.unique(sensor[timely & (b_res <= params.gate_sigma)])
    return len(heard) - len(agree) > max(1.0, 0.3 * len(heard))


def _acceptable(p: _Prepared, fit: _Fit, alive: np.ndarray, params: FusionParams,
                stats: dict) -> bool:
    n_toa = len(np.unique(p.sensor[fit.rows][p.toa[fit.rows]]))
    if n_toa < params.min_sensors:
        return False
    expected = _expected_sensors(p, fit.x, fit.y, alive, params)
    audible = _expected_sensors(p, fit.x, fit.y, alive, params, loud=True)
    if audible < params.min_expected or n_toa < params.expected_share * expected:
        stats["rejected_share"] += 1
        return False
    if fit.chi2 / fit.dof > params.max_chi2_per_dof:
        stats["rejected_chi2"] += 1
        return False
    # the sensors close to a real source hear it nearly always; clutter that happens to fit a
    # source far from most of them leaves the close ones silent
    near = np.flatnonzero(alive & p.sensor_toa
                          & (np.hypot(p.sx - fit.x, p.sy - fit.y) <= params.near_m))
    silent = len(near) - len(np.intersect1d(near, p.sensor[fit.rows]))
    if silent > max(params.near_silent, params.near_silent_share * len(near)):
        stats["rejected_near"] = stats.get("rejected_near", 0) + 1
        return False
    return True


@dataclass(frozen=True)
class _Grid:
    """The coarse search grid of a tile: points a loud source there would be heard from, and
    how many sensors would hear a quiet one."""

    x: np.ndarray
    y: np.ndarray
    expected: np.ndarray


def _tile_grid(p: _Prepared, alive: np.ndarray, params: FusionParams) -> _Grid:
    idx = np.flatnonzero(alive & np.isin(np.arange(len(p.sx)), np.unique(p.sensor[p.toa])))
    sx, sy = p.sx[idx], p.sy[idx]
    g = params.grid_m
    gx = np.arange(math.floor((sx.min() - params.tile_margin_m) / g) * g, sx.max() + params.tile_margin_m + g, g)
    gy = np.arange(math.floor((sy.min() - params.tile_margin_m) / g) * g, sy.max() + params.tile_margin_m + g, g)
    GX, GY = np.meshgrid(gx, gy, indexing="ij")
    GX, GY = GX.ravel(), GY.ravel()
    keep = _expected_grid(p, GX, GY, alive, params, loud=True) >= params.min_expected
    GX, GY = GX[keep], GY[keep]
    return _Grid(GX, GY, _expected_grid(p, GX, GY, alive, params))


def _window_candidates(p: _Prepared, rows: np.ndarray, ws: float, c: float, params: FusionParams,
                       grid: _Grid) -> np.ndarray:
    """Coarse space-time candidates with origin times in ``[ws, ws + window_s)``: rows of
    (count, x, y, t0, count needed) where enough sensors imply the same origin time at a grid
    point, at the peaks in time."""
    lo = np.searchsorted(p.t[rows], ws, "left")
    hi = np.searchsorted(p.t[rows], ws + params.window_s + params.max_range_m / c, "right")
    rows = rows[lo:hi]
    toa_rows = rows[p.toa[rows]]
    if len(np.unique(p.sensor[toa_rows])) < params.min_sensors or len(grid.x) == 0:
        return np.zeros((0, 5))
    sx, sy = p.sx[p.sensor[toa_rows]], p.sy[p.sensor[toa_rows]]
    g = params.grid_m
    GX, GY, expected = grid.x, grid.y, grid.expected
    dx = GX[:, None] - sx[None, :]
    dy = GY[:, None] - sy[None, :]
    r = np.hypot(dx, dy)
    ok = r <= params.max_range_m
    half_diag = g * math.sqrt(0.5)
    b = p.bearing[toa_rows]
    has_b = np.isfinite(b)
    if has_b.any():  # an array's bearing must point at the cell
        pred = np.arctan2(dx[:, has_b], dy[:, has_b])
        tol = 3.0 * p.bearing_sd[toa_rows][has_b] + np.arctan2(half_diag, np.maximum(r[:, has_b], 1.0))
        ok[:, has_b] &= np.abs(np.angle(np.exp(1j * (b[has_b] - pred)))) <= tol
    tau = half_diag / c + 3.0 * 0.06
    nb = int(math.ceil(params.window_s / tau)) + 1
    bins = np.floor((p.t[toa_rows][None, :] - r / c - ws) / tau).astype(np.int64)
    ok &= (bins >= 0) & (bins < nb)
    gi, di = np.nonzero(ok)
    hist = np.bincount(gi * (nb + 1) + bins[gi, di], minlength=len(GX) * (nb + 1))
    hist = hist.reshape(len(GX), nb + 1)
    merged = hist[:, :-1] + hist[:, 1:]
    need = np.maximum(params.min_sensors, 0.7 * params.expected_share * expected)
    # peaks in time at each grid point: a bin at least as full as its neighbours
    padded = np.pad(merged, ((0, 0), (1, 1)))
    peak = (merged >= padded[:, :-2]) & (merged >= padded[:, 2:])
    gi, bj = np.nonzero(peak & (merged >= need[:, None]))
    return np.column_stack([merged[gi, bj], GX[gi], GY[gi], ws + (bj + 1) * tau, need[gi]])


def _support(p: _Prepared, rows: np.ndarray, x: float, y: float, t0: float, c: float,
             tol_s: float) -> int:
    """Distinct sensors among ``rows`` whose arrival time (and bearing) fits a coarse source."""
    toa = rows[p.toa[rows]]
    if len(toa) == 0:
        return 0
    dx, dy = x - p.sx[p.sensor[toa]], y - p.sy[p.sensor[toa]]
    r = np.hypot(dx, dy)
    ok = np.abs(p.t[toa] - t0 - r / c) <= tol_s
    b = p.bearing[toa]
    has_b = np.isfinite(b)
    if has_b.any():
        miss = np.abs(np.angle(np.exp(1j * (b[has_b] - np.arctan2(dx[has_b], dy[has_b])))))
        tol = 3.0 * p.bearing_sd[toa][has_b] + np.arctan2(1000.0, np.maximum(r[has_b], 1.0))
        ok[has_b] &= miss <= tol
    return len(np.unique(p.sensor[toa][ok]))


def _expected_grid(p: _Prepared, x: np.ndarray, y: np.ndarray, alive: np.ndarray,
                   params: FusionParams, *, loud: bool = False) -> np.ndarray:
    """How many arrival-time sensors would hear a quiet (or loud) source at each (x, y)."""
    idx = np.flatnonzero(alive)
    r50 = params.detection_range_m[1 if loud else 0]
    d = np.hypot(np.asarray(x, float)[:, None] - p.sx[idx][None, :],
                 np.asarray(y, float)[:, None] - p.sy[idx][None, :])
    with np.errstate(over="ignore"):
        prob = 1.0 / (1.0 + np.exp((d - r50) / 2000.0))
    return prob.sum(axis=1)


def _expected_sensors(p: _Prepared, x: float, y: float, alive: np.ndarray,
                      params: FusionParams, *, loud: bool = False) -> float:
    return float(_expected_grid(p, np.array([x]), np.array([y]), alive, params, loud=loud)[0])


def _refine(p: _Prepared, rows: np.ndarray, x: float, y: float, t0: float, c: float,
            params: FusionParams) -> _Fit | None:
    """Fine search around a coarse candidate, then robust ML on the consistent detections.

    Two events close in space and time make a false peak between them, where detections of
    both agree on a source; so the few best separate peaks of the fine search are each fitted,
    and the fit that explains the most sensors wins."""
    toa = rows[p.toa[rows]]
    best = None
    for cx, cy, ct in _fine_peaks(p, toa, x, y, t0, c, 250.0, 1.5 * params.grid_m, 1.0, k=3):
        start = _fine_peaks(p, toa, cx, cy, ct, c, 50.0, 250.0, 0.3, k=1)
        fit = _consistent_fit(p, rows, *start[0], c, params) if start else None
        if fit is not None and (best is None or _strength(p, fit) > _strength(p, best)):
            best = fit
    return best


def _strength(p: _Prepared, fit: _Fit) -> tuple[int, float]:
    return len(np.unique(p.sensor[fit.rows])), -fit.chi2 / fit.dof


def _fine_peaks(p: _Prepared, toa: np.ndarray, x: float, y: float, t0: float, c: float,
                step_m: float, half_m: float, tol_s: float, *, k: int) -> list[tuple[float, float, float]]:
    """Up to ``k`` separate grid points (``step_m`` apart, within ``half_m`` of ``(x, y)``)
    where the most arrival times agree on an origin time within ``tol_s`` of ``t0``: the
    fullest pair of time bins; each with the mean origin time of those detections."""
    sx, sy = p.sx[p.sensor[toa]], p.sy[p.sensor[toa]]
    offs = np.arange(-half_m, half_m + step_m / 2, step_m)
    gx, gy = np.meshgrid(x + offs, y + offs, indexing="ij")
    gx, gy = gx.ravel(), gy.ravel()
    t0s = p.t[toa][None, :] - np.hypot(gx[:, None] - sx[None, :], gy[:, None] - sy[None, :]) / c
    width = 0.15 + step_m / (2 * c)
    lo_t = t0 - tol_s - step_m / c
    nb = int(math.ceil(2 * (tol_s + step_m / c) / width)) + 1
    bins = np.floor((t0s - lo_t) / width).astype(np.int64)
    gi, di = np.nonzero((bins >= 0) & (bins < nb))
    flat_bins = gi * (nb + 1) + bins[gi, di]
    size = len(gx) * (nb + 1)
    hist = np.bincount(flat_bins, minlength=size).reshape(len(gx), nb + 1).astype(float)
    sums = np.bincount(flat_bins, weights=t0s[gi, di], minlength=size).reshape(len(gx), nb + 1)
    pair = hist[:, :-1] + hist[:, 1:]
    j = np.argmax(pair, axis=1)
    count = pair[np.arange(len(gx)), j]
    out: list[tuple[float, float, float]] = []
    top = count.max() if len(count) else 0.0
    for i in np.argsort(-count, kind="stable"):
        if count[i] == 0 or count[i] < 0.6 * top or len(out) == k:
            break
        if any(math.hypot(gx[i] - ox, gy[i] - oy) < 2.5 * step_m for ox, oy, _ in out):
            continue
        out.append((float(gx[i]), float(gy[i]),
                    float((sums[i, j[i]] + sums[i, j[i] + 1]) / count[i])))
    return out


def _consistent_fit(p: _Prepared, rows: np.ndarray, x: float, y: float, t0: float, c: float,
                    params: FusionParams) -> _Fit | None:
    """Robust ML from a fine start on the detections consistent with it (arrival times within
    a wide gate, bearings and fixes that agree), then grown by those consistent with the fit."""
    m = p.measurements(rows, c, params, x, y)
    chi2 = per_detection_chi2(x, y, t0, m, c)
    cand = rows[chi2 <= (params.gate_sigma * 2) ** 2 * _n_meas(m)]
    if len(cand) < params.min_sensors:
        return None
    fit = _fit(p, cand, x, y, t0, c, params)
    # grow: from a start off by a cell, the gate drops the sensors nearest the source (whose
    # residuals are largest there); at the fitted source, take every consistent detection again
    for _ in range(2):
        if fit is None:
            return None
        m = p.measurements(rows, c, params, fit.x, fit.y)
        chi2 = per_detection_chi2(fit.x, fit.y, fit.t0, m, c)
        ok = chi2 <= params.gate_sigma ** 2 * _n_meas(m)
        grown = rows[ok & _one_per_sensor(p, rows, np.where(ok, chi2, np.inf))]
        if len(grown) <= len(fit.rows) or set(grown.tolist()) == set(fit.rows.tolist()):
            break
        bigger = _fit(p, grown, fit.x, fit.y, fit.t0, c, params)
        if bigger is None or len(bigger.rows) <= len(fit.rows):
            break
        fit = bigger
    return fit


# -- pairing and attribution ------------------------------------------------------------------

def _pair_and_attribute(incidents: list[Incident], frame: WorkingFrame, agreement,
                        params: FusionParams) -> list[Incident]:
    """Every launch gets the side it was fired from (or none, abstaining); an impact paired
    with a launch by time of flight gets the pair id and the launch's side."""
    incidents = [replace(inc, side_probability=sp, side=side) if inc.kind == "launch" else inc
                 for inc in incidents for sp, side in [_side(inc, agreement, params)]]
    launches = [i for i, inc in enumerate(incidents) if inc.kind == "launch"]
    impacts = [i for i, inc in enumerate(incidents) if inc.kind == "impact"]
    if not launches or not impacts:
        return incidents
    lx, ly = frame.to_xy(np.array([incidents[i].lon for i in launches]),
                         np.array([incidents[i].lat for i in launches]))
    ix, iy = frame.to_xy(np.array([incidents[i].lon for i in impacts]),
                         np.array([incidents[i].lat for i in impacts]))
    lt = np.array([incidents[i].time_s for i in launches])
    it = np.array([incidents[i].time_s for i in impacts])
    dist = np.hypot(lx[:, None] - ix[None, :], ly[:, None] - iy[None, :])
    tof = it[None, :] - lt[:, None]
    vmin, vmax = params.projectile_speed_m_s
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = dist / tof
    ok = (tof > 0) & (speed >= vmin) & (speed <= vmax) & (dist <= params.max_flight_m)
    big = 1e9
    cost = np.full(speed.shape, big)
    cost[ok] = np.abs(np.log(speed[ok] / 300.0)) + tof[ok] / 600.0
    r, cidx = linear_sum_assignment(cost)
    out = list(incidents)
    for a, b in zip(r, cidx):
        if cost[a, b] >= big:
            continue
        li, ii = launches[a], impacts[b]
        pair = "pair-" + hashlib.sha256((incidents[li].id + incidents[ii].id).encode()).hexdigest()[:10]
        launch = incidents[li]
        out[li] = replace(out[li], pair_id=pair)
        out[ii] = replace(out[ii], pair_id=pair, side_probability=launch.side_probability,
                          side=launch.side)
    return out


def _side(launch: Incident, agreement, params: FusionParams):
    if agreement is None or agreement.line_index is None:
        return None, None
    cov = np.array([launch.cov_en_m2])
    pl = agreement.place(np.array([launch.lon]), np.array([launch.lat]), cov)
    probs = {p: round(float(v[0]), 6) for p, v in agreement.side_probability(pl).items()}
    best = max(probs, key=probs.get)
    return probs, (best if probs[best] >= params.side_threshold else None)
