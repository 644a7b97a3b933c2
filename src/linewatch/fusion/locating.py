"""From fits to incidents: the hour's wind estimated from its events together and every event
relocated with it (fusion.md §2.4), the incident record with its ellipse in true east/north;
and locating given groups of detections the way the engine locates its own (the oracle).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from linewatch.fusion.columns import Prepared, prepare, sound_speed_for
from linewatch.fusion.estimation import (
    Measurements,
    estimate_wind,
    fisher_information,
    gauss_newton,
    per_detection_chi2,
    position_covariance,
)
from linewatch.fusion.fitting import Fit, fit_rows, grid_start
from linewatch.fusion.params import FusionParams
from linewatch.geo import WorkingFrame
from linewatch.model import Detections, Incident, Sensors, covariance_to_ellipse

__all__ = ["calibrate_wind", "incident_from", "locate_group", "locate_groups", "measurements_for", "refit"]


def measurements_for(sensors: Sensors, detections: Detections, rows: npt.ArrayLike, *,
                     frame: WorkingFrame,
                     params: FusionParams = FusionParams(), c_m_s: float | None = None,
                     x_m: float | None = None, y_m: float | None = None) -> Measurements:
    """Some detections as measurement columns in the frame (for the CRLB at a known source)."""
    c = c_m_s if c_m_s is not None else sound_speed_for(detections, params)
    return prepare(sensors, detections, frame).measurements(np.asarray(rows), c, params, x_m, y_m)


def locate_group(sensors: Sensors, detections: Detections, rows: npt.ArrayLike, *,
                 frame: WorkingFrame, params: FusionParams = FusionParams(),
                 c_m_s: float | None = None) -> Incident | None:
    """Locate one given group of detections (no association): a global search, then ML."""
    group = np.asarray(rows)
    c = c_m_s if c_m_s is not None else sound_speed_for(detections, params)
    p = prepare(sensors, detections, frame)
    start = grid_start(p, group, c, params)
    fit = fit_rows(p, group, *start, c, params, robust=False)
    if fit is None:
        return None
    return incident_from(fit, detections, frame)


def locate_groups(sensors: Sensors, detections: Detections, groups: Iterable[npt.ArrayLike], *,
                  frame: WorkingFrame,
                  params: FusionParams = FusionParams(), c_m_s: float | None = None
                  ) -> list[Incident | None]:
    """Locate given groups of detections (a known association: the oracle) as the engine
    locates its own: each by a global search then ML, then, per hour, with the wind the hour's
    groups share estimated from them all. One incident (or None) per group, in order."""
    c = c_m_s if c_m_s is not None else sound_speed_for(detections, params)
    p = prepare(sensors, detections, frame)
    fits: list[Fit | None] = []
    for rows in groups:
        group = np.asarray(rows)
        start = grid_start(p, group, c, params)
        fits.append(fit_rows(p, group, *start, c, params, robust=False))
    hours: dict[int, list[tuple[int, Fit]]] = {}
    for k, f in enumerate(fits):
        if f is not None:
            hours.setdefault(int(f.t0 // params.wind_block_s), []).append((k, f))
    for members in hours.values():
        located, _ = calibrate_wind(p, [f for _, f in members], c, params)
        for (k, _), f in zip(members, located):
            fits[k] = f
    return [None if f is None else incident_from(f, detections, frame) for f in fits]


def calibrate_wind(p: Prepared, fits: list[Fit], c: float, params: FusionParams,
                    wind: tuple[float, float] = (0.0, 0.0)) -> tuple[list[Fit], tuple[float, float]]:
    """Estimate the hour's wind (starting from ``wind``) from its events together (a common
    direction-dependent change of the speed of sound, which single events cannot tell from
    their position) and relocate every event with it (fusion.md §2.4)."""
    if not params.estimate_wind or not fits:
        return fits, wind
    final = replace(params, wind_allowance_m_s=params.wind_residual_m_s)
    out = list(fits)
    usable = [i for i, f in enumerate(fits) if int(np.sum(p.toa[f.rows])) >= 6]
    if len(usable) >= params.wind_min_events:
        for _ in range(3):
            events = [(out[i].x, out[i].y, out[i].t0,
                       p.measurements(out[i].rows, c, final, out[i].x, out[i].y)) for i in usable]
            wind, _ = estimate_wind(events, c, wind)
            for i in usable:
                out[i] = refit(p, out[i], c, final, wind)
    out = [refit(p, f, c, final, wind) for f in out]
    return out, (round(wind[0], 2), round(wind[1], 2))


def refit(p: Prepared, fit: Fit, c: float, params: FusionParams,
           wind: tuple[float, float]) -> Fit:
    m = p.measurements(fit.rows, c, params, fit.x, fit.y)
    x, y, t0, _ = gauss_newton(fit.x, fit.y, fit.t0, m, c, wind=wind)
    m = p.measurements(fit.rows, c, params, x, y)
    chi2 = per_detection_chi2(x, y, t0, m, c, wind)
    return Fit(x, y, t0, fit.rows, fisher_information(x, y, m, c), float(chi2.sum()), fit.dof)


def incident_from(fit: Fit, det: Detections, frame: WorkingFrame) -> Incident:
    """The incident record of a fit: its place in lon/lat, its ellipse in true east/north
    metres, its detections (and their majority kind), an id from their ids."""
    lons, lats = frame.to_lonlat(np.array([fit.x]), np.array([fit.y]))
    lon, lat = float(lons[0]), float(lats[0])
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
