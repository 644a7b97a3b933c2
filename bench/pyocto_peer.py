"""PyOcto (PyPI ``pyocto``, bench-only) on linewatch's sensors and detections, for comparison.

Configured for sound as fusion.md §5.3 suggests: one 0-D velocity model at the speed of sound
(km/s), P picks only, stations in a local km frame (the fusion's :class:`WorkingFrame`), sources
between 0 and 0.5 km "depth". Only arrival-time sensors (microphones and arrays) are given to it:
PyOcto knows neither bearings, ranges nor position fixes. Its events come back as
:class:`~linewatch.model.detections.Incident` objects (detection ids and location; no covariance, so no
ellipse coverage) so that :mod:`linewatch.fusion.metrics` scores both engines the same way.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from linewatch.geo import WorkingFrame
from linewatch.model import Detections, Incident, Sensors

NAN_COV = ((math.nan, math.nan), (math.nan, math.nan))


@dataclass(frozen=True)
class PyOctoSettings:
    tolerance_s: float = 0.3          # VelocityModel0D tolerance
    n_picks: int = 7                  # = n_p_picks; fusion.md §5.4: 7 is far better under clutter
    min_node_size_km: float = 1.0
    time_before_s: float = 90.0
    #: search area beyond the stations: 5 km gave PyOcto its best F1 and speed on `active`
    #: (F1 0.31 at 167 detections/s; 25 km: 0.16 at 76/s, more clutter ghosts far out)
    margin_km: float = 5.0
    n_threads: int = 1                # per-core comparison with fuse (single-threaded)


@dataclass(frozen=True)
class PyOctoRun:
    incidents: tuple[Incident, ...]
    n_picks: int                      # detections handed to PyOcto
    seconds: float                    # associate() only
    seconds_total: float              # including building its inputs and converting its outputs


def run_pyocto(sensors: Sensors, detections: Detections, *, frame: WorkingFrame, c_m_s: float,
               settings: PyOctoSettings = PyOctoSettings()) -> PyOctoRun:
    """Associate ``detections`` with PyOcto; events as incidents with their detection ids."""
    import pandas as pd
    import pyocto

    t_start = time.perf_counter()
    toa_sensor = np.isin(sensors.kind, ["microphone", "array"])
    rows = np.flatnonzero(toa_sensor[detections.sensor] & np.isfinite(detections.time_s))
    x, y = frame.to_xy(sensors.lon, sensors.lat)
    x_km, y_km = np.asarray(x) / 1000.0, np.asarray(y) / 1000.0
    used = np.unique(detections.sensor[rows])
    stations = pd.DataFrame({"id": sensors.ids[used].astype(str), "x": x_km[used], "y": y_km[used],
                             "z": np.zeros(len(used))})
    picks = pd.DataFrame({"station": sensors.ids[detections.sensor[rows]].astype(str),
                          "phase": "P", "time": detections.time_s[rows]})
    m = settings.margin_km
    model = pyocto.VelocityModel0D(p_velocity=c_m_s / 1000.0, s_velocity=c_m_s / 1000.0 / 1.75,
                                   tolerance=settings.tolerance_s)
    associator = pyocto.OctoAssociator(
        xlim=(float(x_km[used].min()) - m, float(x_km[used].max()) + m),
        ylim=(float(y_km[used].min()) - m, float(y_km[used].max()) + m),
        zlim=(0.0, 0.5), velocity_model=model, time_before=settings.time_before_s,
        min_node_size=settings.min_node_size_km, n_picks=settings.n_picks,
        n_p_picks=settings.n_picks, n_s_picks=0, n_p_and_s_picks=0,
        n_threads=settings.n_threads)
    t0 = time.perf_counter()
    catalog, assignments = (associator.associate(picks, stations) if len(picks)
                            else (pd.DataFrame(), pd.DataFrame()))
    seconds = time.perf_counter() - t0
    incidents = _incidents(catalog, assignments, detections.ids[rows], frame)
    return PyOctoRun(tuple(incidents), len(rows), seconds, time.perf_counter() - t_start)


def _incidents(catalog, assignments, pick_ids: np.ndarray, frame: WorkingFrame) -> list[Incident]:
    if len(catalog) == 0:
        return []
    lon, lat = frame.to_lonlat(catalog["x"].to_numpy() * 1000.0, catalog["y"].to_numpy() * 1000.0)
    members: dict[int, list[str]] = {}
    for event, pick in zip(assignments["event_idx"].to_numpy(), assignments["pick_idx"].to_numpy()):
        members.setdefault(int(event), []).append(str(pick_ids[int(pick)]))
    out = []
    for k, (event, t) in enumerate(zip(catalog["idx"].to_numpy(), catalog["time"].to_numpy())):
        out.append(Incident(id=f"pyocto-{int(event)}", time_s=float(t), lon=float(lon[k]),
                            lat=float(lat[k]), kind="unknown",
                            detections=tuple(sorted(members.get(int(event), []))),
                            semi_major_m=math.nan, semi_minor_m=math.nan, azimuth_deg=math.nan,
                            cov_en_m2=NAN_COV))
    return out
