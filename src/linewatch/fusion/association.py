"""Association: from raw detections to located groups, one tile and time block at a time.

The engine's inner loop (fusion.md §4.3), pure and columnar; :mod:`linewatch.fusion.engine` drives it
over tiles along the line and blocks of time, and pairs and attributes what it finds.

1. **Candidates.** A coarse space-time search: for every grid point and every arrival time, the
   origin time it implies; grid points where many sensors imply the same origin time are
   candidates (arrays' bearings prune pairs that point elsewhere).
2. **Refinement.** Around a candidate: a fine search, then maximum likelihood (Levenberg–
   Marquardt) with outlier rejection, each sensor used at most once; the covariance is the
   inverse Fisher information at the estimate (95 % ellipse).
3. **Exclusive, greedy acceptance**, strongest first: each detection joins at most one
   incident. A candidate must be consistent (χ²), hold enough of the detections the sensor
   network should have made there, and not leave the sensors next to it silent, which rules
   out "ghosts" assembled from clutter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from linewatch.fusion.estimation import Measurements, gauss_newton, per_detection_chi2, toa_sd, travel_time
from linewatch.geo import WorkingFrame
from linewatch.model import Detections, Sensors, sound_speed_m_s

__all__ = ['BlockTask', 'Fit', 'FusionParams', 'Prepared', 'TileGrid', 'associate_block', 'fit_rows', 'grid_start', 'n_meas', 'one_per_sensor', 'prepare', 'reassign', 'run_block', 'sound_speed_for', 'tile_grid']


@dataclass(frozen=True)
class FusionParams:
    """The fusion engine's parameters (lengths in metres, times in seconds)."""

    temperature_c: float | None = None     # None: the detections' median temperature, else 15 °C
    celerity_jitter: float = 0.002         # per-path relative sound-speed noise
    wind_allowance_m_s: float = 1.0        # unmodelled wind during association, as per-path noise
    estimate_wind: bool = True             # estimate a wind per block and relocate with it
    wind_block_s: float = 3600.0
    wind_min_events: int = 3
    wind_residual_m_s: float = 0.5         # what the estimated wind leaves, as per-path noise
    #: associate again with the hour's estimated wind (fewer fragments of events whose far
    #: arrivals the wind pushed out of the gate, at about twice the work)
    reassociate: bool = True
    #: rounds in which every detection goes to the incident that explains it best, and the
    #: incidents are refitted (and dropped if they no longer hold): merged and split events
    reassign_rounds: int = 2
    wind_m_s: tuple[float, float] = (0.0, 0.0)  # the wind (east, north) fits assume
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
    tile_margin_m: float = 25_000.0        # a tile's sensors reach this far beyond its core
    search_margin_m: float = 15_000.0      # and its search this far (sources that compete)
    gate_sigma: float = 3.5                # outlier gate on whitened residuals
    max_chi2_per_dof: float = 3.0
    projectile_speed_m_s: tuple[float, float] = (150.0, 700.0)
    max_flight_m: float = 45_000.0
    side_threshold: float = 0.95
    #: regions of the line fused on their own (their own tiles, hourly wind and detections
    #: taken), each with ``region_margin_m`` of sensors beyond its core, so the line can be
    #: reprocessed in parallel (docs/reprocess.md); None: the whole line as one region
    region_m: float | None = None
    region_margin_m: float = 40_000.0

    def __post_init__(self) -> None:
        ratio = self.wind_block_s / self.block_s
        if self.block_s <= 0 or ratio < 1 or abs(ratio - round(ratio)) > 1e-9:
            raise ValueError(f"block_s ({self.block_s!r}) must divide wind_block_s "
                             f"({self.wind_block_s!r})")
        if 2 * self.tile_margin_m >= self.tile_m:
            raise ValueError(f"tile_margin_m ({self.tile_margin_m!r}) must be under half of "
                             f"tile_m ({self.tile_m!r}): tiles two apart must not overlap")
        if self.region_m is not None and not self.region_m > 0:
            raise ValueError(f"region_m ({self.region_m!r}) must be positive")
        if self.region_margin_m < self.max_range_m:
            raise ValueError(f"region_margin_m ({self.region_margin_m!r}) must be at least "
                             f"max_range_m ({self.max_range_m!r}): every sensor that hears an "
                             "event at a region's edge must be in the region")


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


@dataclass
class Fit:
    """A located group: the source in the frame, the detections (rows), Fisher information
    over (x, y, t0) and the fit's χ² with its degrees of freedom."""

    x: float
    y: float
    t0: float
    rows: np.ndarray
    fisher: np.ndarray
    chi2: float
    dof: int


def fit_rows(p: Prepared, rows: np.ndarray, x: float, y: float, t0: float, c: float,
             params: FusionParams, *, robust: bool = True) -> Fit | None:
    """ML from a start; with ``robust``, outliers and a sensor's second detection dropped."""
    rows = np.asarray(rows)
    for _ in range(4):
        if len(rows) == 0:
            return None
        m = p.measurements(rows, c, params, x, y)
        x, y, t0, fisher = gauss_newton(x, y, t0, m, c, wind=params.wind_m_s)
        m = p.measurements(rows, c, params, x, y)
        chi2 = per_detection_chi2(x, y, t0, m, c, params.wind_m_s)
        if not robust:
            break
        keep = one_per_sensor(p, rows, chi2) & (chi2 <= params.gate_sigma ** 2 * n_meas(m))
        if keep.all():
            break
        rows = rows[keep]
    m = p.measurements(rows, c, params, x, y)
    chi2 = per_detection_chi2(x, y, t0, m, c, params.wind_m_s)
    n_rows = int(np.sum(n_meas(m)))
    return Fit(x, y, t0, rows, fisher, float(chi2.sum()), max(n_rows - 3, 1))


def n_meas(m: Measurements) -> np.ndarray:
    """How many scalar measurements each detection holds (at least one)."""
    n = np.isfinite(m.time_s).astype(int) + np.isfinite(m.bearing_rad) + np.isfinite(m.range_m)
    return np.maximum(n + 2 * np.isfinite(m.fix_x), 1)


def one_per_sensor(p: Prepared, rows: np.ndarray, chi2: np.ndarray) -> np.ndarray:
    """A mask keeping each sensor's best-fitting detection among ``rows``."""
    order = np.lexsort((chi2, p.sensor[rows]))
    first = np.ones(len(rows), bool)
    s = p.sensor[rows][order]
    first_sorted = np.concatenate([[True], s[1:] != s[:-1]])
    first[order] = first_sorted
    return first


def grid_start(p: Prepared, rows: np.ndarray, c: float, params: FusionParams):
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


@dataclass(frozen=True)
class BlockTask:
    """One time block of one tile: its free detections (sorted by time), the sensors alive,
    the tile's search grid, the block's start and the speed of sound. Self-contained, so a
    worker process can run it."""

    p: Prepared
    bs: float
    c: float
    params: FusionParams
    alive: np.ndarray
    grid: TileGrid


def run_block(task: BlockTask) -> tuple[list[Fit], dict[str, int]]:
    """The fits of a block (origin time in it, rows of ``task.p``) and counts of what the
    search tried and rejected."""
    stats = {"candidates": 0, "rejected_share": 0, "rejected_chi2": 0, "rejected_near": 0,
             "rejected_bearings": 0}
    fits = associate_block(task.p, np.arange(len(task.p.t)), task.bs, task.c, task.params,
                           task.alive, task.grid, stats)
    return fits, stats


def associate_block(p: Prepared, rows: np.ndarray, bs: float, c: float, params: FusionParams,
                    alive: np.ndarray, grid: TileGrid, stats: dict) -> list[Fit]:
    """Best-first, exclusive acceptance of the candidates of one time block of one tile: the
    strongest candidates of all the block's windows (and of the windows just after it) are
    refined first, so a strong event takes its detections before any partial, wrong fit can
    form from some of them. Returns the fits whose origin time lies in the block."""
    geo = _Geometry.of(p, rows, grid, c, params)
    parts = [_window_candidates(p, rows, float(ws), c, params, grid, geo)
             for ws in np.arange(bs, bs + params.block_s + params.block_overlap_s, params.window_s)]
    parts = [a for a in parts if len(a)]
    cands = np.vstack(parts) if parts else np.zeros((0, 5))
    cands = cands[np.lexsort((cands[:, 2], cands[:, 1], cands[:, 3], -cands[:, 0]))].tolist()
    out: list[Fit] = []
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
            stats["rejected_bearings"] += 1
            continue
        # a good fit that belongs to the next block still holds its detections here, so that
        # no weaker, wrong fit can take them; the next block reports it
        taken |= np.isin(rows, fit.rows)
        if bs <= fit.t0 < bs + params.block_s:
            out.append(fit)
    return out


def _contradicted(p: Prepared, free: np.ndarray, fit: Fit, c: float,
                  params: FusionParams) -> bool:
    """Do the arrays that heard something at the right time point elsewhere?

    Arrival times alone admit "ghosts" between simultaneous events; at a true source, the
    arrays whose arrival times fit also point at it."""
    arr = free[p.toa[free] & np.isfinite(p.bearing[free])]
    if len(arr) == 0:
        return False
    m = p.measurements(arr, c, params, fit.x, fit.y)
    dx, dy = fit.x - m.sensor_x, fit.y - m.sensor_y
    timely = (np.abs(m.time_s - fit.t0 - travel_time(dx, dy, c, params.wind_m_s))
              <= params.gate_sigma * m.toa_sd_s)
    if not timely.any():
        return False
    b_res = np.abs(np.angle(np.exp(1j * (m.bearing_rad - np.arctan2(dx, dy))))) / m.bearing_sd_rad
    sensor = p.sensor[arr]
    heard = np.unique(sensor[timely])
    agree = np.unique(sensor[timely & (b_res <= params.gate_sigma)])
    return len(heard) - len(agree) > max(1.0, 0.3 * len(heard))


def reassign(p: Prepared, fits: list[Fit], c: float, params: FusionParams,
             alive: np.ndarray) -> list[Fit]:
    """Greedy acceptance gives each detection to the first good fit that wanted it; here each
    detection held by any fit goes to the fit that explains it best (the lowest χ² per
    measurement within the gate), every fit is refitted on what it got, and a fit that no longer
    passes the acceptance tests is dropped, its detections free again; ``params.reassign_rounds``
    times. A detection of two events heard together ends with the one it fits."""
    reach_s = params.max_range_m / c + 120.0     # observers report up to minutes after the sound
    stats = {"rejected_share": 0, "rejected_chi2": 0, "rejected_near": 0}
    for _ in range(params.reassign_rounds):
        if len(fits) < 2:
            return fits
        pool = np.unique(np.concatenate([f.rows for f in fits]))
        owner = np.full(len(pool), -1)
        score = np.full(len(pool), np.inf)
        for k, f in enumerate(fits):
            lo = int(np.searchsorted(p.t[pool], f.t0 - 10.0, "left"))
            hi = int(np.searchsorted(p.t[pool], f.t0 + reach_s, "right"))
            m = p.measurements(pool[lo:hi], c, params, f.x, f.y)
            chi2 = per_detection_chi2(f.x, f.y, f.t0, m, c, params.wind_m_s)
            nm = n_meas(m)
            per = np.where(chi2 <= params.gate_sigma ** 2 * nm, chi2 / nm, np.inf)
            better = per < score[lo:hi]
            score[lo:hi][better] = per[better]
            owner[lo:hi][better] = k
        kept = []
        for k, f in enumerate(fits):
            rows = pool[owner == k]
            if len(rows) == 0:
                continue
            g = fit_rows(p, rows, f.x, f.y, f.t0, c, params)
            if g is not None and _acceptable(p, g, alive, params, stats):
                kept.append(g)
        fits = kept
    return fits


def _acceptable(p: Prepared, fit: Fit, alive: np.ndarray, params: FusionParams,
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
        stats["rejected_near"] += 1
        return False
    return True


@dataclass(frozen=True)
class TileGrid:
    """The coarse search grid of a tile: points a loud source there would be heard from, and
    how many sensors would hear a quiet one."""

    x: np.ndarray
    y: np.ndarray
    expected: np.ndarray


def tile_grid(p: Prepared, alive: np.ndarray, params: FusionParams) -> TileGrid:
    """The coarse grid over the ``alive`` arrival-time sensors of a tile and its margin."""
    idx = np.flatnonzero(alive & np.isin(np.arange(len(p.sx)), np.unique(p.sensor[p.toa])))
    if len(idx) == 0:
        return TileGrid(np.zeros(0), np.zeros(0), np.zeros(0))
    sx, sy = p.sx[idx], p.sy[idx]
    g = params.grid_m
    gx = np.arange(math.floor((sx.min() - params.tile_margin_m) / g) * g, sx.max() + params.tile_margin_m + g, g)
    gy = np.arange(math.floor((sy.min() - params.tile_margin_m) / g) * g, sy.max() + params.tile_margin_m + g, g)
    GX, GY = np.meshgrid(gx, gy, indexing="ij")
    GX, GY = GX.ravel(), GY.ravel()
    keep = _expected_grid(p, GX, GY, alive, params, loud=True) >= params.min_expected
    GX, GY = GX[keep], GY[keep]
    return TileGrid(GX, GY, _expected_grid(p, GX, GY, alive, params))


@dataclass(frozen=True)
class _Geometry:
    """Grid point to sensor geometry of a block, computed once for all its windows: for each
    grid point (rows) and sensor heard in the block (columns), the travel time, whether it is
    in range, the azimuth from the sensor, and the angle a grid cell spans from it."""

    sensors: np.ndarray
    travel_s: np.ndarray
    within: np.ndarray
    azimuth: np.ndarray
    slack: np.ndarray

    @classmethod
    def of(cls, p: Prepared, rows: np.ndarray, grid: TileGrid, c: float,
           params: FusionParams) -> _Geometry:
        sensors = np.unique(p.sensor[rows[p.toa[rows]]])
        dx = grid.x[:, None] - p.sx[sensors][None, :]
        dy = grid.y[:, None] - p.sy[sensors][None, :]
        r = np.hypot(dx, dy)
        half_diag = params.grid_m * math.sqrt(0.5)
        return cls(sensors, r / c, r <= params.max_range_m, np.arctan2(dx, dy),
                   np.arctan2(half_diag, np.maximum(r, 1.0)))


def _window_candidates(p: Prepared, rows: np.ndarray, ws: float, c: float, params: FusionParams,
                       grid: TileGrid, geo: _Geometry) -> np.ndarray:
    """Coarse space-time candidates with origin times in ``[ws, ws + window_s)``: rows of
    (count, x, y, t0, count needed) where enough sensors imply the same origin time at a grid
    point, at the peaks in time."""
    lo = np.searchsorted(p.t[rows], ws, "left")
    hi = np.searchsorted(p.t[rows], ws + params.window_s + params.max_range_m / c, "right")
    rows = rows[lo:hi]
    toa_rows = rows[p.toa[rows]]
    if len(np.unique(p.sensor[toa_rows])) < params.min_sensors or len(grid.x) == 0:
        return np.zeros((0, 5))
    cols = np.searchsorted(geo.sensors, p.sensor[toa_rows])
    ok = geo.within[:, cols]
    b = p.bearing[toa_rows]
    has_b = np.isfinite(b)
    if has_b.any():  # an array's bearing must point at the cell
        miss = b[has_b] - geo.azimuth[:, cols[has_b]]
        miss -= 2 * np.pi * np.rint(miss / (2 * np.pi))
        tol = 3.0 * p.bearing_sd[toa_rows][has_b] + geo.slack[:, cols[has_b]]
        ok[:, has_b] &= np.abs(miss) <= tol
    tau = params.grid_m * math.sqrt(0.5) / c + 3.0 * 0.06
    nb = int(math.ceil(params.window_s / tau)) + 1
    bins = np.floor((p.t[toa_rows][None, :] - geo.travel_s[:, cols] - ws) / tau).astype(np.int64)
    ok &= (bins >= 0) & (bins < nb)
    gi, di = np.nonzero(ok)
    n_grid = len(grid.x)
    hist = np.bincount(gi * (nb + 1) + bins[gi, di], minlength=n_grid * (nb + 1))
    hist = hist.reshape(n_grid, nb + 1)
    merged = hist[:, :-1] + hist[:, 1:]
    need = np.maximum(params.min_sensors, 0.7 * params.expected_share * grid.expected)
    # peaks in time at each grid point: a bin at least as full as its neighbours
    padded = np.pad(merged, ((0, 0), (1, 1)))
    peak = (merged >= padded[:, :-2]) & (merged >= padded[:, 2:])
    gi, bj = np.nonzero(peak & (merged >= need[:, None]))
    return np.column_stack([merged[gi, bj], grid.x[gi], grid.y[gi], ws + (bj + 1) * tau, need[gi]])


def _support(p: Prepared, rows: np.ndarray, x: float, y: float, t0: float, c: float,
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


def _expected_grid(p: Prepared, x: np.ndarray, y: np.ndarray, alive: np.ndarray,
                   params: FusionParams, *, loud: bool = False) -> np.ndarray:
    """How many arrival-time sensors would hear a quiet (or loud) source at each (x, y)."""
    idx = np.flatnonzero(alive)
    r50 = params.detection_range_m[1 if loud else 0]
    d = np.hypot(np.asarray(x, float)[:, None] - p.sx[idx][None, :],
                 np.asarray(y, float)[:, None] - p.sy[idx][None, :])
    with np.errstate(over="ignore"):
        prob = 1.0 / (1.0 + np.exp((d - r50) / 2000.0))
    return prob.sum(axis=1)


def _expected_sensors(p: Prepared, x: float, y: float, alive: np.ndarray,
                      params: FusionParams, *, loud: bool = False) -> float:
    return float(_expected_grid(p, np.array([x]), np.array([y]), alive, params, loud=loud)[0])


def _refine(p: Prepared, rows: np.ndarray, x: float, y: float, t0: float, c: float,
            params: FusionParams) -> Fit | None:
    """Fine search around a coarse candidate, then robust ML on the consistent detections.

    Two events close in space and time make a false peak between them, where detections of
    both agree on a source; so the few best separate peaks of the fine search are each fitted,
    and the fit that explains the most sensors wins."""
    toa = rows[p.toa[rows]]
    # only arrival times the fine search can count: within 11 s of the candidate's prediction
    # (its tolerance, 2.1 km of offset at most, and the effect of a wind of up to 10 m/s)
    r = np.hypot(p.sx[p.sensor[toa]] - x, p.sy[p.sensor[toa]] - y)
    toa = toa[np.abs(p.t[toa] - t0 - r / c) <= 11.0]
    best = None
    peaks = _fine_peaks(p, toa, x, y, t0, c, params.wind_m_s, 250.0, 1.5 * params.grid_m, 1.0, k=3)
    # the coarse search's wide bins admit chance coincidences of clutter; where even the best
    # fine peak holds fewer than one under the floor, no fit can reach it (measured: none did)
    if not peaks or peaks[0][3] < params.min_sensors - 1:
        return None
    for cx, cy, ct, _ in peaks:
        start = _fine_peaks(p, toa, cx, cy, ct, c, params.wind_m_s, 50.0, 250.0, 0.3, k=1)
        fit = _consistent_fit(p, rows, *start[0][:3], c, params) if start else None
        if fit is not None and (best is None or _strength(p, fit) > _strength(p, best)):
            best = fit
    return best


def _strength(p: Prepared, fit: Fit) -> tuple[int, float]:
    return len(np.unique(p.sensor[fit.rows])), -fit.chi2 / fit.dof


def _fine_peaks(p: Prepared, toa: np.ndarray, x: float, y: float, t0: float, c: float,
                wind: tuple[float, float], step_m: float, half_m: float, tol_s: float, *,
                k: int) -> list[tuple[float, float, float, int]]:
    """Up to ``k`` separate grid points (``step_m`` apart, within ``half_m`` of ``(x, y)``)
    where the most arrival times agree on an origin time within ``tol_s`` of ``t0``: the
    fullest pair of time bins; each with the mean origin time of those detections and their
    number, best first."""
    sx, sy = p.sx[p.sensor[toa]], p.sy[p.sensor[toa]]
    offs = np.arange(-half_m, half_m + step_m / 2, step_m)
    gx, gy = np.meshgrid(x + offs, y + offs, indexing="ij")
    gx, gy = gx.ravel(), gy.ravel()
    t0s = p.t[toa][None, :] - travel_time(gx[:, None] - sx[None, :], gy[:, None] - sy[None, :], c, wind)
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
        if any(math.hypot(gx[i] - ox, gy[i] - oy) < 2.5 * step_m for ox, oy, *_ in out):
            continue
        out.append((float(gx[i]), float(gy[i]),
                    float((sums[i, j[i]] + sums[i, j[i] + 1]) / count[i]), int(count[i])))
    return out


def _consistent_fit(p: Prepared, rows: np.ndarray, x: float, y: float, t0: float, c: float,
                    params: FusionParams) -> Fit | None:
    """Robust ML from a fine start on the detections consistent with it (arrival times within
    a wide gate, bearings and fixes that agree), then grown by those consistent with the fit."""
    m = p.measurements(rows, c, params, x, y)
    chi2 = per_detection_chi2(x, y, t0, m, c, params.wind_m_s)
    cand = rows[chi2 <= (params.gate_sigma * 2) ** 2 * n_meas(m)]
    if len(cand) < params.min_sensors:
        return None
    fit = fit_rows(p, cand, x, y, t0, c, params)
    # grow: from a start off by a cell, the gate drops the sensors nearest the source (whose
    # residuals are largest there); at the fitted source, take every consistent detection again
    for _ in range(2):
        if fit is None:
            return None
        m = p.measurements(rows, c, params, fit.x, fit.y)
        chi2 = per_detection_chi2(fit.x, fit.y, fit.t0, m, c, params.wind_m_s)
        ok = chi2 <= params.gate_sigma ** 2 * n_meas(m)
        grown = rows[ok & one_per_sensor(p, rows, np.where(ok, chi2, np.inf))]
        if len(grown) <= len(fit.rows) or set(grown.tolist()) == set(fit.rows.tolist()):
            break
        bigger = fit_rows(p, grown, fit.x, fit.y, fit.t0, c, params)
        if bigger is None or len(bigger.rows) <= len(fit.rows):
            break
        fit = bigger
    return fit
