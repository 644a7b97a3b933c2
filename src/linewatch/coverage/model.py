"""What the mission's network could have detected: where, when, and of what kind.

Every sensor, observation post and patrol ("asset") has a detection probability for an event
of a kind at a distance, the logistic model the simulator uses (``linewatch.sim.world``)::

    p(d) = p_max · (1 − sigmoid((d − r50_m) / width_m))

from the table :data:`DETECTABILITY` (per asset kind and event kind; ``docs/coverage.md`` gives
the source of every number, or says it is an assumption). On top of the distance:

- an asset is blind during its **outages**;
- a **camera** sees only inside its field of view (the optical axis ± ``half_fov_deg``) and
  range; a camera without a view in the network is not counted (its direction is unknown);
- a **UAV** sees only while airborne (its **flights**), within the flight's radius of its orbit
  centre (the sensor's position) or of its position along the flight's track; the table's
  ``r50_m`` is the default radius, and nothing is seen beyond the radius;
- a **patrol** is present from the first to the last time of its track, its position
  interpolated in time;
- beyond ``r50_m + 8 · width_m`` nothing is detected (there p < 3.4e-4 · p_max), as in the
  simulator.

Assets are taken as independent: the network detects an event with probability
``1 − Π(1 − p_i)`` (at least one asset reports it; fusing an incident needs several).

**Geometry.** Distances are computed in a transverse Mercator frame centred on the network
(:class:`linewatch.geo.geodesy.WorkingFrame`), turned into geodesic metres with the point scale
factor at the middle of each path; against ``pyproj.Geod`` they agree to better than 1e-5
relative for paths up to 50 km within ±4° of the central meridian (``tests/test_coverage.py``
checks it). Azimuths are corrected by the meridian convergence.

**Time.** A window's probability is the mean over an event time uniform in it: the window is
cut at every outage, flight and patrol boundary and the pieces into steps of at most
``step_s``; each step is evaluated at its middle and weighted by its length (exact for fixed
assets, the midpoint rule for moving ones).

Pure: no I/O, no clock; times are float epoch seconds (UTC), coordinates ``(lon, lat)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import shapely
from scipy import sparse
from scipy.spatial import cKDTree
from scipy.special import expit

from linewatch.geo import GEOD, WorkingFrame, densify_geodesic
from linewatch.model import SENSOR_KINDS, Sensors

__all__ = [
    "ASSET_KINDS", "COVERAGE_KINDS", "DETECTABILITY", "Detectability",
    "detection_curve", "Outage", "CameraView", "Flight", "Patrol", "Network",
    "detection_probability", "window_probability", "Contribution", "PlaceCoverage",
    "place_coverage", "line_samples", "line_coverage", "hourly_line_coverage",
]

#: Sensors (``linewatch.model.detections.SENSOR_KINDS``) and the monitors' patrols.
ASSET_KINDS = (*SENSOR_KINDS, "patrol")

#: Event kinds the coverage model knows: ``linewatch.model.records.Kind`` values that a sensor or a
#: monitor can detect as they happen, plus the fusion's ``launch`` and ``impact``.
COVERAGE_KINDS = ("explosion", "launch", "impact", "infrastructure_strike", "projectile_in_flight",
                  "muzzle_flash", "illumination_flare", "bursts_and_shots", "weapon_sighting",
                  "aircraft_sighting")

#: Beyond r50 + GATE_WIDTHS · width an asset detects nothing (the simulator's gate).
GATE_WIDTHS = 8.0
_HOUR = 3600.0


@dataclass(frozen=True)
class Detectability:
    """Detection probability against distance: ``p_max · (1 − sigmoid((d − r50_m) / width_m))``.

    ``basis`` says where the numbers come from: ``"simulator"`` (``ScenarioParams``, so that
    the simulator and the coverage model agree) or ``"assumption"`` (an engineering
    assumption, documented in ``docs/coverage.md``), or ``"network file"``.
    """

    p_max: float
    r50_m: float
    width_m: float
    basis: str = "assumption"

    def __post_init__(self) -> None:
        if not 0.0 <= self.p_max <= 1.0:
            raise ValueError(f"p_max must be in [0, 1], got {self.p_max!r}")
        if not self.r50_m >= 0.0 or not self.width_m > 0.0:
            raise ValueError(f"r50_m must be >= 0 and width_m > 0, got {self.r50_m!r}, {self.width_m!r}")


def detection_curve(d: Detectability, distance_m: Any) -> np.ndarray:
    """``p(distance)`` for one table entry (no field of view, flight or gate)."""
    dist = np.asarray(distance_m, dtype=float)
    return d.p_max * (1.0 - expit((dist - d.r50_m) / d.width_m))


def _a(p_max: float, r50_km: float, width_km: float) -> Detectability:
    return Detectability(p_max, r50_km * 1000.0, width_km * 1000.0, "assumption")


#: Engineering assumptions (docs/coverage.md explains each); a missing pair means "cannot
#: detect it" (acoustic sensors do not see flares, sightings or flashes).
_ASSUMED: dict[tuple[str, str], Detectability] = {
    # patrols hear explosions as observation posts do, less attentively and from vehicles
    **{("patrol", k): _a(0.6, 8.0, 2.0) for k in ("launch", "impact", "explosion",
                                                 "infrastructure_strike")},
    # small-arms fire: audible to people at 1-5 km; too faint for artillery-tuned arrays
    ("microphone", "bursts_and_shots"): _a(0.5, 2.0, 0.5),
    ("array", "bursts_and_shots"): _a(0.5, 2.0, 0.5),
    ("observer", "bursts_and_shots"): _a(0.8, 3.0, 1.0),
    ("patrol", "bursts_and_shots"): _a(0.7, 2.0, 0.7),
    ("camera", "bursts_and_shots"): _a(0.3, 2.0, 0.5),
    ("uav", "bursts_and_shots"): Detectability(0.3, 6000.0, 200.0, "assumption"),
    # a muzzle flash is seen, by night, within a few km
    ("observer", "muzzle_flash"): _a(0.6, 5.0, 1.5),
    ("patrol", "muzzle_flash"): _a(0.5, 4.0, 1.0),
    ("camera", "muzzle_flash"): _a(0.7, 5.0, 1.0),
    ("uav", "muzzle_flash"): Detectability(0.6, 6000.0, 200.0, "assumption"),
    # a projectile in flight: seen or heard passing over
    ("observer", "projectile_in_flight"): _a(0.6, 5.0, 1.5),
    ("patrol", "projectile_in_flight"): _a(0.5, 4.0, 1.0),
    ("camera", "projectile_in_flight"): _a(0.5, 4.0, 1.0),
    ("uav", "projectile_in_flight"): Detectability(0.3, 6000.0, 200.0, "assumption"),
    # an illumination flare hangs in the sky and is seen from afar
    ("observer", "illumination_flare"): _a(0.8, 15.0, 3.0),
    ("patrol", "illumination_flare"): _a(0.8, 10.0, 3.0),
    ("camera", "illumination_flare"): _a(0.8, 8.0, 2.0),
    ("uav", "illumination_flare"): Detectability(0.6, 6000.0, 200.0, "assumption"),
    # weapons on the ground: close looks; UAVs are the SMM's main tool for them
    ("observer", "weapon_sighting"): _a(0.5, 2.0, 0.5),
    ("patrol", "weapon_sighting"): _a(0.7, 1.0, 0.3),
    ("camera", "weapon_sighting"): _a(0.6, 3.0, 0.5),
    ("uav", "weapon_sighting"): Detectability(0.8, 6000.0, 200.0, "assumption"),
    # aircraft: heard and seen from far; arrays are not tuned to a continuous engine noise
    ("microphone", "aircraft_sighting"): _a(0.3, 8.0, 2.0),
    ("array", "aircraft_sighting"): _a(0.3, 8.0, 2.0),
    ("observer", "aircraft_sighting"): _a(0.8, 10.0, 2.0),
    ("patrol", "aircraft_sighting"): _a(0.8, 8.0, 2.0),
    ("camera", "aircraft_sighting"): _a(0.5, 6.0, 1.0),
    ("uav", "aircraft_sighting"): Detectability(0.3, 6000.0, 200.0, "assumption"),
}


def _heard(event: str, acoustic_r50_m: float) -> dict[tuple[str, str], Detectability]:
    """The curves for launches and impacts (``explosion``, type unknown, and
    ``infrastructure_strike`` take the impact's, the quieter of the two). The simulator's
    defaults (``linewatch.sim.world.ScenarioParams``) are these numbers."""
    return {("microphone", event): Detectability(0.95, acoustic_r50_m, 2_000.0, "simulator"),
            ("array", event): Detectability(0.95, acoustic_r50_m, 2_000.0, "simulator"),
            ("observer", event): Detectability(0.7, 10_000.0, 2_000.0, "simulator"),
            ("camera", event): Detectability(0.8, 6_000.0, 700.0, "simulator"),
            # a UAV: a logistic edge 200 m wide at its orbit radius
            ("uav", event): Detectability(0.85, 6_000.0, 200.0, "simulator")}


#: ``(asset kind, event kind) -> Detectability``: the simulator's curves for launches,
#: impacts and explosions, engineering assumptions for the rest.
DETECTABILITY: Mapping[tuple[str, str], Detectability] = {
    **_ASSUMED, **_heard("launch", 15_000.0), **_heard("impact", 10_000.0),
    **_heard("explosion", 10_000.0), **_heard("infrastructure_strike", 10_000.0)}


# -- the network ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Outage:
    """A sensor is down (detects nothing) in ``[start_s, end_s)``; either end may be infinite."""

    sensor_id: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class CameraView:
    """A camera's optical axis (true azimuth), half field of view and range."""

    sensor_id: str
    azimuth_deg: float
    half_fov_deg: float
    range_m: float


@dataclass(frozen=True)
class Flight:
    """A UAV airborne in ``[start_s, end_s)``, watching ``radius_m`` (``None``: the table's
    ``r50_m``) around its orbit centre (the sensor's position) or, with a ``track`` of
    ``(lon, lat, time_s)`` points, around its position along it."""

    sensor_id: str
    start_s: float
    end_s: float
    radius_m: float | None = None
    track: tuple[tuple[float, float, float], ...] = ()


@dataclass(frozen=True)
class Patrol:
    """Monitors moving along a track of ``(lon, lat, time_s)`` points (times increasing)."""

    patrol_id: str
    track: tuple[tuple[float, float, float], ...]


@dataclass(frozen=True, eq=False)
class Network:
    """The sensors with their outages, camera views, UAV flights, and the patrols.

    ``detectability`` overrides entries of :data:`DETECTABILITY` (``None``: none).
    Invalid references raise ``ValueError`` naming the item.
    """

    sensors: Sensors
    outages: tuple[Outage, ...] = ()
    camera_views: tuple[CameraView, ...] = ()
    flights: tuple[Flight, ...] = ()
    patrols: tuple[Patrol, ...] = ()
    detectability: Mapping[tuple[str, str], Detectability] | None = None

    def __post_init__(self) -> None:
        for name in ("outages", "camera_views", "flights", "patrols"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        problems = _check_network(self)
        if problems:
            raise ValueError("invalid network: " + "; ".join(problems[:10])
                             + (f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""))

    @cached_property
    def table(self) -> dict[tuple[str, str], Detectability]:
        """The effective detectability table."""
        return {**DETECTABILITY, **(self.detectability or {})}

    @property
    def frame(self) -> WorkingFrame:
        """The working frame of the network's computations (centred on its assets)."""
        return self._compiled.frame

    @cached_property
    def _compiled(self) -> _Compiled:
        return _Compiled(self)


def _check_network(net: Network) -> list[str]:
    index = net.sensors.index()
    kinds = net.sensors.kind
    out = []
    for i, o in enumerate(net.outages):
        if o.sensor_id not in index:
            out.append(f"outages[{i}]: unknown sensor {o.sensor_id!r}")
        if not o.start_s < o.end_s:
            out.append(f"outages[{i}] ({o.sensor_id}): start_s {o.start_s!r} is not before end_s {o.end_s!r}")
    seen: set[str] = set()
    for i, v in enumerate(net.camera_views):
        if v.sensor_id not in index or kinds[index[v.sensor_id]] != "camera":
            out.append(f"camera_views[{i}]: {v.sensor_id!r} is not a camera of the sensors")
        if v.sensor_id in seen:
            out.append(f"camera_views[{i}]: a second view for camera {v.sensor_id!r}")
        seen.add(v.sensor_id)
        if not (math.isfinite(v.azimuth_deg) and 0 < v.half_fov_deg <= 180 and v.range_m > 0):
            out.append(f"camera_views[{i}] ({v.sensor_id}): needs a finite azimuth_deg, half_fov_deg "
                       f"in (0, 180] and range_m > 0, got {v.azimuth_deg!r}, {v.half_fov_deg!r}, {v.range_m!r}")
    for i, f in enumerate(net.flights):
        if f.sensor_id not in index or kinds[index[f.sensor_id]] != "uav":
            out.append(f"flights[{i}]: {f.sensor_id!r} is not a uav of the sensors")
        if not (math.isfinite(f.start_s) and math.isfinite(f.end_s) and f.start_s < f.end_s):
            out.append(f"flights[{i}] ({f.sensor_id}): start_s {f.start_s!r} is not before end_s {f.end_s!r}")
        if f.radius_m is not None and not f.radius_m > 0:
            out.append(f"flights[{i}] ({f.sensor_id}): radius_m must be > 0, got {f.radius_m!r}")
        out += _check_track(f.track, f"flights[{i}] ({f.sensor_id})", allow_empty=True)
    ids: set[str] = set()
    for i, p in enumerate(net.patrols):
        if p.patrol_id in index or p.patrol_id in ids:
            out.append(f"patrols[{i}]: id {p.patrol_id!r} is already a sensor's or a patrol's")
        ids.add(p.patrol_id)
        out += _check_track(p.track, f"patrols[{i}] ({p.patrol_id})", allow_empty=False)
    for key, d in (net.detectability or {}).items():
        if (not isinstance(key, tuple) or len(key) != 2 or key[0] not in ASSET_KINDS
                or key[1] not in COVERAGE_KINDS or not isinstance(d, Detectability)):
            out.append(f"detectability: bad entry {key!r}: {d!r}")
    return out


def _check_track(track: Sequence, where: str, *, allow_empty: bool) -> list[str]:
    if not track:
        return [] if allow_empty else [f"{where}: the track has no points"]
    arr = np.asarray(track, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 3 or not np.all(np.isfinite(arr)):
        return [f"{where}: track points must be finite (lon, lat, time_s)"]
    if np.any(np.diff(arr[:, 2]) <= 0):
        return [f"{where}: track times must increase"]
    return []


# -- compiled arrays ------------------------------------------------------------------------

class _Compiled:
    """A network as columns in its working frame.

    Entities: ``fixed`` ones (sensors other than UAVs; UAV flights without a track) and
    ``moving`` ones (patrols; UAV flights with a track). Each has an availability window
    ``[on0, on1)`` and the outages of its sensor.
    """

    def __init__(self, net: Network) -> None:
        s = net.sensors
        n_s = len(s)
        tracks = [np.asarray(p.track, float) for p in net.patrols]
        tracks += [np.asarray(f.track, float) for f in net.flights if f.track]
        allon = np.concatenate([s.lon] + [t[:, 0] for t in tracks])
        self.frame = WorkingFrame.for_lonlat(allon if len(allon) else np.array([0.0]))
        sx, sy = self.frame.to_xy(s.lon, s.lat)
        sx, sy = np.atleast_1d(sx), np.atleast_1d(sy)
        sensor_index = s.index()
        views = {v.sensor_id: v for v in net.camera_views}
        # fixed entities: (sensor, kind, on0, on1, radius, axis x, axis y, cos half fov, range)
        rows: list[tuple] = []
        for i in range(n_s):
            kind = str(s.kind[i])
            view = views.get(str(s.ids[i]))
            if kind == "uav" or (kind == "camera" and view is None):
                continue                     # UAVs see only in flight; a camera needs its view
            if view is None:
                rows.append((i, kind, -math.inf, math.inf, math.nan, 0.0, 0.0, -2.0, math.inf))
                continue
            gamma = float(self.frame.convergence_rad(s.lon[i], s.lat[i]))
            a = math.radians(view.azimuth_deg) - gamma            # the axis's grid azimuth
            rows.append((i, kind, -math.inf, math.inf, math.nan, math.sin(a), math.cos(a),
                         math.cos(math.radians(view.half_fov_deg)), view.range_m))
        #: moving entities: (asset index, kind, track (n, 3), window start, end, radius)
        self.moving: list[tuple[int, str, np.ndarray, float, float, float]] = []
        for f in net.flights:
            i = sensor_index[f.sensor_id]
            r = math.nan if f.radius_m is None else float(f.radius_m)
            if f.track:
                self.moving.append((i, "uav", np.asarray(f.track, float), f.start_s, f.end_s, r))
            else:
                rows.append((i, "uav", f.start_s, f.end_s, r, 0.0, 0.0, -2.0, math.inf))
        for k, tr in enumerate(tracks[:len(net.patrols)]):
            self.moving.append((n_s + k, "patrol", tr, float(tr[0, 2]), float(tr[-1, 2]), math.nan))
        self.ids = np.concatenate([s.ids.astype(object),
                                   np.array([p.patrol_id for p in net.patrols], dtype=object)])
        self.asset_kind = np.concatenate([s.kind.astype(object),
                                          np.full(len(net.patrols), "patrol", dtype=object)])
        cols = list(zip(*rows)) if rows else [[]] * 9
        self.fixed_sensor = np.asarray(cols[0], np.int64)
        self.fixed_kind = np.asarray(cols[1], dtype=object)
        self.fixed_x, self.fixed_y = sx[self.fixed_sensor], sy[self.fixed_sensor]
        self.fixed_on0, self.fixed_on1 = np.asarray(cols[2], float), np.asarray(cols[3], float)
        self.fixed_radius = np.asarray(cols[4], float)
        self.fixed_axis = np.column_stack([np.asarray(cols[5], float), np.asarray(cols[6], float)])
        self.fixed_cos_half = np.asarray(cols[7], float)
        self.fixed_max_range = np.asarray(cols[8], float)
        # outages by sensor index
        self.out_asset = np.array([sensor_index[o.sensor_id] for o in net.outages], np.int64)
        self.out_start = np.array([o.start_s for o in net.outages], float)
        self.out_end = np.array([o.end_s for o in net.outages], float)
        self.table = net.table

    # -- per kind parameters ---------------------------------------------------------------
    def params(self, kinds: np.ndarray, event: str, radius: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """p_max, r50, width and the hard gate per entity for an event kind."""
        n = len(kinds)
        pmax, r50, width = np.zeros(n), np.zeros(n), np.ones(n)
        for k in np.unique(kinds) if n else ():
            d = self.table.get((str(k), event))
            if d is None:
                continue
            sel = kinds == k
            pmax[sel], r50[sel], width[sel] = d.p_max, d.r50_m, d.width_m
        gate = r50 + GATE_WIDTHS * width
        if radius is not None:
            uav = (kinds == "uav") & np.isfinite(radius)
            r50 = np.where(uav, radius, r50)
            gate = np.where(kinds == "uav", r50, gate)      # a UAV sees nothing beyond its radius
        return pmax, r50, width, gate

    def down(self, asset: np.ndarray, times: np.ndarray) -> np.ndarray:
        """(T, len(asset)) True where the asset is in an outage."""
        out = np.zeros((len(times), len(asset)), bool)
        if len(self.out_asset) == 0 or len(asset) == 0:
            return out
        pos = {int(a): j for j, a in enumerate(asset)}
        for a, t0, t1 in zip(self.out_asset, self.out_start, self.out_end):
            j = pos.get(int(a))
            if j is None:
                continue
            out[:, j] |= (times >= t0) & (times < t1)
        return out

    def fixed_available(self, times: np.ndarray) -> np.ndarray:
        """(T, n_fixed) availability of the fixed entities."""
        t = times[:, None]
        on = (t >= self.fixed_on0[None, :]) & (t < self.fixed_on1[None, :])
        return on & ~self.down(self.fixed_sensor, times)

    def breakpoints(self) -> np.ndarray:
        """Every time at which some entity's availability changes."""
        parts = [self.fixed_on0, self.fixed_on1, self.out_start, self.out_end]
        parts += [np.array([t0, t1]) for _, _, _, t0, t1, _ in self.moving]
        b = np.concatenate(parts) if parts else np.zeros(0)
        return np.unique(b[np.isfinite(b)])


# -- the probability engine -----------------------------------------------------------------

def _check_kind(kind: str) -> str:
    k = str(getattr(kind, "value", kind))
    if k not in COVERAGE_KINDS:
        raise ValueError(f"event kind {k!r} has no coverage model; expected one of "
                         f"{', '.join(COVERAGE_KINDS)}")
    return k


def _pair_probability(dx: np.ndarray, dy: np.ndarray, lat: np.ndarray, ex: Any, px: np.ndarray,
                      pmax: Any, r50: Any, width: Any, gate: Any, axis: np.ndarray, cos_half: Any,
                      max_range: Any) -> np.ndarray:
    """p for pairs whose point lies (dx, dy) grid metres from the entity at easting ``ex``."""
    d_grid = np.hypot(dx, dy)
    d = d_grid / WorkingFrame.scale_factor((ex + px) / 2.0, lat)   # k at the path's middle
    p = pmax * (1.0 - expit((d - r50) / width))
    with np.errstate(invalid="ignore", divide="ignore"):
        cos_a = (dx * axis[:, 0] + dy * axis[:, 1]) / d_grid
    in_view = np.where(cos_half > -1.5, (cos_a >= cos_half) | (d_grid == 0.0), True)
    ok = in_view & (d <= gate) & (d <= max_range)
    return np.where(ok, p, 0.0)


@dataclass
class _Evaluation:
    """log(1 − P) per time and point and, per asset, sums for the contributions."""

    log_q: np.ndarray                # (T, P)
    asset_p: np.ndarray              # per asset: Σ_t w_t · mean over points of p
    asset_potential: np.ndarray      # the same had it been available all the time
    asset_available: np.ndarray      # Σ_t w_t · available
    asset_distance: np.ndarray       # closest approach to the reference point (m)

    @property
    def prob(self) -> np.ndarray:
        return -np.expm1(self.log_q)


def _evaluate(net: Network, px: np.ndarray, py: np.ndarray, lat: np.ndarray, times: np.ndarray,
              weights: np.ndarray, kind: str, *, ref: tuple[float, float] | None = None,
              assets: bool = False) -> _Evaluation:
    """P(detect) at points (frame x, y) and times; with ``assets``, every asset's share and,
    with ``ref``, its closest approach to that point."""
    c = net._compiled
    n = len(c.ids)
    ev = _Evaluation(np.zeros((len(times), len(px))), np.zeros(n), np.zeros(n), np.zeros(n),
                     np.full(n, np.inf))
    if len(px) == 0 or len(times) == 0:
        return ev
    tree = cKDTree(np.column_stack([px, py]))
    _add_fixed(ev, c, tree, px, py, lat, times, weights, kind, assets)
    if assets and ref is not None and len(c.fixed_x):
        np.minimum.at(ev.asset_distance, c.fixed_sensor,
                      np.hypot(c.fixed_x - ref[0], c.fixed_y - ref[1]))
    for entity in c.moving:
        _add_moving(ev, c, entity, tree, px, py, lat, times, weights, kind, assets, ref)
    return ev


def _add_fixed(ev: _Evaluation, c: _Compiled, tree: cKDTree, px: np.ndarray, py: np.ndarray,
               lat: np.ndarray, times: np.ndarray, weights: np.ndarray, kind: str,
               assets: bool) -> None:
    """Fixed entities: the point pairs once, then each time's availability (a sparse product)."""
    avail = c.fixed_available(times)
    active = np.flatnonzero(avail.any(axis=0) | assets)
    pm, r50, wd, gate = c.params(c.fixed_kind[active], kind, c.fixed_radius[active])
    useful = pm > 0
    active, pm, r50, wd, gate = (v[useful] for v in (active, pm, r50, wd, gate))
    if len(active) == 0:
        return
    reach = np.minimum(gate, c.fixed_max_range[active]) * 1.002 + 1.0
    lists = tree.query_ball_point(np.column_stack([c.fixed_x[active], c.fixed_y[active]]),
                                  r=reach, return_sorted=False)
    counts = np.fromiter((len(v) for v in lists), np.int64, len(lists))
    pj = (np.concatenate([np.asarray(v, np.int64) for v in lists]) if counts.sum()
          else np.zeros(0, np.int64))
    ej = np.repeat(np.arange(len(active)), counts)
    e = active[ej]
    p = _pair_probability(px[pj] - c.fixed_x[e], py[pj] - c.fixed_y[e], lat[pj], c.fixed_x[e],
                          px[pj], pm[ej], r50[ej], wd[ej], gate[ej], c.fixed_axis[e],
                          c.fixed_cos_half[e], c.fixed_max_range[e])
    keep = p > 0
    pj, ej, p = pj[keep], ej[keep], p[keep]
    lq = np.log1p(-np.minimum(p, 1.0 - 1e-12))
    m = sparse.csr_matrix((lq, (pj, ej)), shape=(len(px), len(active)))
    ev.log_q += np.asarray(m @ avail[:, active].T.astype(float)).T
    if assets:
        per_ent = np.bincount(ej, weights=p, minlength=len(active)) / len(px)
        w_av = weights @ avail[:, active]
        asset = c.fixed_sensor[active]
        np.add.at(ev.asset_p, asset, per_ent * w_av)
        np.maximum.at(ev.asset_potential, asset, per_ent)
        np.add.at(ev.asset_available, asset, w_av)


def _add_moving(ev: _Evaluation, c: _Compiled, entity: tuple, tree: cKDTree, px: np.ndarray,
                py: np.ndarray, lat: np.ndarray, times: np.ndarray, weights: np.ndarray, kind: str,
                assets: bool, ref: tuple[float, float] | None) -> None:
    """A patrol or a UAV on a track: its position and pairs at each time."""
    asset, mkind, tr, t0, t1, radius = entity
    pm, r50, wd, gate = (float(v[0]) for v in c.params(np.array([mkind], dtype=object), kind,
                                                         np.array([radius])))
    if pm <= 0:
        return
    if mkind == "uav":
        present = (times >= t0) & (times < t1) & ~c.down(np.array([asset]), times)[:, 0]
    else:
        present = (times >= t0) & (times <= t1)
    tx, ty = (np.atleast_1d(v) for v in c.frame.to_xy(np.interp(times, tr[:, 2], tr[:, 0]),
                                                      np.interp(times, tr[:, 2], tr[:, 1])))
    if assets:
        ev.asset_available[asset] += float(weights @ present)
        if ref is not None:
            d = float(np.min(np.hypot(tx - ref[0], ty - ref[1])))
            ev.asset_distance[asset] = min(ev.asset_distance[asset], d)
    potential = 0.0
    for ti in np.flatnonzero(present | assets):
        pj = np.asarray(tree.query_ball_point([tx[ti], ty[ti]], r=gate * 1.002 + 1.0), np.int64)
        if len(pj) == 0:
            continue
        p = _pair_probability(px[pj] - tx[ti], py[pj] - ty[ti], lat[pj], tx[ti], px[pj], pm, r50,
                              wd, gate, _NO_AXIS, -2.0, math.inf)
        mean_p = weights[ti] * p.sum() / len(px)
        if present[ti]:
            ev.log_q[ti, pj] += np.log1p(-np.minimum(p, 1.0 - 1e-12))
            ev.asset_p[asset] += mean_p
        potential += mean_p
    ev.asset_potential[asset] = max(ev.asset_potential[asset], potential)


_NO_AXIS = np.zeros((1, 2))


def _time_samples(net: Network, start_s: float, end_s: float, step_s: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Midpoints and weights (summing to 1) of the window cut at the network's breakpoints
    and into steps of at most ``step_s``."""
    if not (math.isfinite(start_s) and math.isfinite(end_s) and end_s >= start_s):
        raise ValueError(f"the window must be finite with start_s <= end_s, got {start_s!r}, {end_s!r}")
    if not step_s > 0:
        raise ValueError(f"step_s must be positive, got {step_s!r}")
    if end_s == start_s:
        return np.array([float(start_s)]), np.ones(1)
    b = net._compiled.breakpoints()
    edges = np.unique(np.concatenate([[start_s, end_s], b[(b > start_s) & (b < end_s)]]))
    mids, wts = [], []
    for a, z in zip(edges[:-1], edges[1:]):
        n = max(1, int(math.ceil((z - a) / step_s - 1e-9)))
        e = np.linspace(a, z, n + 1)
        mids.append((e[:-1] + e[1:]) / 2.0)
        wts.append(np.diff(e))
    t, w = np.concatenate(mids), np.concatenate(wts)
    return t, w / w.sum()


def _points(net: Network, lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
    lon_a, lat_a = np.broadcast_arrays(np.asarray(lon, float), np.asarray(lat, float))
    shape = lon_a.shape
    lon_f, lat_f = lon_a.ravel(), lat_a.ravel()
    x, y = net._compiled.frame.to_xy(lon_f, lat_f)
    return np.atleast_1d(x), np.atleast_1d(y), lat_f, shape


# -- public API -----------------------------------------------------------------------------

def detection_probability(network: Network, lon: Any, lat: Any, time_s: float, kind: str
                          ) -> np.ndarray:
    """P(at least one asset detects an event of ``kind`` at each point at ``time_s``).

    ``lon``/``lat`` broadcast; the result has their shape.
    """
    kind = _check_kind(kind)
    x, y, la, shape = _points(network, lon, lat)
    ev = _evaluate(network, x, y, la, np.array([float(time_s)]), np.ones(1), kind)
    return ev.prob[0].reshape(shape)


def window_probability(network: Network, lon: Any, lat: Any, start_s: float, end_s: float,
                       kind: str, *, step_s: float = 60.0) -> np.ndarray:
    """P(detect) at each point for an event at a time uniform in ``[start_s, end_s]``."""
    kind = _check_kind(kind)
    x, y, la, shape = _points(network, lon, lat)
    t, w = _time_samples(network, start_s, end_s, step_s)
    ev = _evaluate(network, x, y, la, t, w, kind)
    return (w @ ev.prob).reshape(shape)


@dataclass(frozen=True)
class Contribution:
    """One asset's part in a place's coverage.

    ``probability``: its own chance of detecting the event (uniform over the place and the
    window); ``potential``: the same had it been available all the window (outages ignored, a
    UAV over its flights' orbits all the time); ``available_share``: the share of the window it
    was up (a UAV airborne, a patrol present); ``distance_m``: its closest approach to the
    place's centre during the window (for a UAV, its orbit centre or track).
    """

    asset_id: str
    asset_kind: str
    probability: float
    potential: float
    available_share: float
    distance_m: float


@dataclass(frozen=True)
class PlaceCoverage:
    """What the network could have detected of an event of ``kind`` at a place in a window.

    ``probability`` is P(at least one asset detects it) for a place and time uniform over the
    area and the window; ``contributions`` the assets that could have, best first;
    ``unavailable`` those that would have counted (potential ≥ 0.05) but were down, grounded or
    absent for all of the window, best potential first.
    """

    probability: float
    kind: str
    start_s: float
    end_s: float
    n_points: int
    n_times: int
    contributions: tuple[Contribution, ...]
    unavailable: tuple[Contribution, ...] = field(default=())


def place_coverage(network: Network, place: Any, start_s: float, end_s: float, kind: str, *,
                   radius_m: float = 0.0, step_s: float = 60.0, n_points: int = 64,
                   top: int = 5) -> PlaceCoverage:
    """The verdict engine's question: would the network have detected it, and who could have.

    ``place`` is ``(lon, lat)``, a shapely ``Point`` (with ``radius_m``: a disc, sampled with
    ``n_points`` points spread evenly over its area) or a ``Polygon``/``MultiPolygon`` in
    lon/lat (sampled on a grid of about ``n_points`` points inside it).
    """
    kind = _check_kind(kind)
    c = network._compiled
    lon, lat, centre = _place_samples(c.frame, place, radius_m, n_points)
    x, y, la, _ = _points(network, lon, lat)
    t, w = _time_samples(network, start_s, end_s, step_s)
    ev = _evaluate(network, x, y, la, t, w, kind, ref=centre, assets=True)
    prob = float(np.mean(w @ ev.prob))
    order = np.lexsort((c.ids.astype(str), -ev.asset_p))
    contrib, missing = [], []
    for a in order:
        item = Contribution(str(c.ids[a]), str(c.asset_kind[a]), float(min(ev.asset_p[a], 1.0)),
                            float(min(ev.asset_potential[a], 1.0)),
                            round(min(float(ev.asset_available[a]), 1.0), 9),
                            float(ev.asset_distance[a]))
        if item.probability > 0.0 and len(contrib) < top:
            contrib.append(item)
        elif item.available_share == 0.0 and item.potential >= 0.05:
            missing.append(item)
    missing.sort(key=lambda m: (-m.potential, m.asset_id))
    return PlaceCoverage(prob, kind, float(start_s), float(end_s), len(x), len(t), tuple(contrib),
                         tuple(missing[:top]))


def _place_samples(frame: WorkingFrame, place: Any, radius_m: float, n_points: int
                   ) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Sample points (lon, lat) of a place, and its centre in the frame."""
    if not n_points >= 1:
        raise ValueError(f"n_points must be >= 1, got {n_points!r}")
    if isinstance(place, tuple) and len(place) == 2:
        place = shapely.Point(float(place[0]), float(place[1]))
    if not isinstance(place, shapely.Geometry) or place.is_empty:
        raise ValueError(f"place must be (lon, lat) or a shapely Point or Polygon, got {place!r}")
    if place.geom_type == "Point":
        cx, cy = frame.to_xy(place.x, place.y)
        cx, cy = float(cx), float(cy)
        if not radius_m > 0:
            return np.array([place.x]), np.array([place.y]), (cx, cy)
        k = float(WorkingFrame.scale_factor(np.array([cx]), np.array([place.y]))[0])
        i = np.arange(n_points) + 0.5
        r = radius_m * k * np.sqrt(i / n_points)
        th = i * math.pi * (3.0 - math.sqrt(5.0))          # the golden angle: a sunflower
        lon, lat = frame.to_lonlat(cx + r * np.sin(th), cy + r * np.cos(th))
        return np.atleast_1d(lon), np.atleast_1d(lat), (cx, cy)
    if place.geom_type not in ("Polygon", "MultiPolygon"):
        raise ValueError(f"place must be a Point, Polygon or MultiPolygon, got a {place.geom_type}")
    poly = frame.project_geometry(place)
    rep = poly.representative_point()
    x0, y0, x1, y1 = poly.bounds
    spacing = math.sqrt(max(poly.area, 1.0) / n_points)
    for _ in range(6):
        gx, gy = np.meshgrid(np.arange(x0 + spacing / 2, x1, spacing),
                             np.arange(y0 + spacing / 2, y1, spacing))
        inside = shapely.contains_xy(poly, gx.ravel(), gy.ravel())
        if inside.sum() >= max(1, n_points // 2):
            break
        spacing /= 2.0
    xs, ys = gx.ravel()[inside], gy.ravel()[inside]
    if len(xs) == 0:
        xs, ys = np.array([rep.x]), np.array([rep.y])
    lon, lat = frame.to_lonlat(xs, ys)
    return np.atleast_1d(lon), np.atleast_1d(lat), (float(rep.x), float(rep.y))


def line_samples(line: Any, spacing_m: float = 1000.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points along a line at a geodesic spacing: ``(lon, lat, length_m)``, each point the
    middle of a piece of the given length (equal pieces per part, at most ``spacing_m``).

    ``line`` is a shapely ``LineString``/``MultiLineString`` in lon/lat or a sequence of
    ``(n, 2)`` lon/lat arrays (an agreement's ``line_parts``).
    """
    if not spacing_m > 0:
        raise ValueError(f"spacing_m must be positive, got {spacing_m!r}")
    parts = _line_parts(line)
    lons, lats, lens = [], [], []
    for coords in parts:
        dense = densify_geodesic(coords, min(spacing_m / 4.0, 500.0))
        _, _, seg = GEOD.inv(dense[:-1, 0], dense[:-1, 1], dense[1:, 0], dense[1:, 1])
        cum = np.concatenate([[0.0], np.cumsum(np.asarray(seg, float))])
        total = float(cum[-1])
        if total <= 0:
            continue
        n = max(1, int(math.ceil(total / spacing_m - 1e-9)))
        s = (np.arange(n) + 0.5) * total / n
        lons.append(np.interp(s, cum, dense[:, 0]))
        lats.append(np.interp(s, cum, dense[:, 1]))
        lens.append(np.full(n, total / n))
    if not lons:
        raise ValueError("the line has no length")
    return np.concatenate(lons), np.concatenate(lats), np.concatenate(lens)


def _line_parts(line: Any) -> list[np.ndarray]:
    if isinstance(line, shapely.Geometry):
        if line.geom_type not in ("LineString", "MultiLineString") or line.is_empty:
            raise ValueError(f"line must be a LineString or MultiLineString, got {line.geom_type}")
        return [np.asarray(g.coords)[:, :2] for g in shapely.get_parts(line)]
    parts = [np.asarray(p, float) for p in line]
    if not parts or any(p.ndim != 2 or p.shape[1] != 2 or len(p) < 2 for p in parts):
        raise ValueError("line must be a shapely line or a sequence of (n, 2) lon/lat arrays")
    return parts


def _line_shares(network: Network, line: Any, windows: Iterable[tuple[float, float]], kind: str,
                 threshold: float, spacing_m: float, step_s: float) -> np.ndarray:
    kind = _check_kind(kind)
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    lon, lat, length = line_samples(line, spacing_m)
    x, y, la, _ = _points(network, lon, lat)
    samples = [_time_samples(network, a, z, step_s) for a, z in windows]
    times = np.concatenate([t for t, _ in samples])
    ev = _evaluate(network, x, y, la, times, np.ones(len(times)), kind)
    covered = (ev.prob >= threshold) @ length / length.sum()       # per time sample
    out, i = [], 0
    for t, w in samples:
        out.append(float(w @ covered[i:i + len(t)]))
        i += len(t)
    return np.array(out)


def line_coverage(network: Network, line: Any, hour_start_s: float, kind: str, *,
                  threshold: float = 0.5, spacing_m: float = 1000.0, step_s: float = 300.0,
                  duration_s: float = _HOUR) -> float:
    """The share of the line's length where P(detect) ≥ ``threshold``, averaged over the hour
    (or ``duration_s``) from ``hour_start_s``: length and time both count."""
    return float(_line_shares(network, line, [(hour_start_s, hour_start_s + duration_s)], kind,
                              threshold, spacing_m, step_s)[0])


def hourly_line_coverage(network: Network, line: Any, day_start_s: float, kind: str, *,
                         hours: int = 24, threshold: float = 0.5, spacing_m: float = 1000.0,
                         step_s: float = 300.0) -> np.ndarray:
    """:func:`line_coverage` for each of ``hours`` hours from ``day_start_s``: shape (hours,)."""
    windows = [(day_start_s + h * _HOUR, day_start_s + (h + 1) * _HOUR) for h in range(hours)]
    return _line_shares(network, line, windows, kind, threshold, spacing_m, step_s)
