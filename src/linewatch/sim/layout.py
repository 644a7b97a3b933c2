"""The simulated sensor network: where each sensor stands, what it is, which way it looks.

**The scenario's rows** (drawn once per run from the seed): along the simulated stretch,
acoustic sensors in one row on each side of the line at ``acoustic_row_km`` from it (the true
distance to the line, not an offset from a vertex), every ``acoustic_spacing_km``, alternating
single microphones (arrival time) and small arrays (arrival time and bearing), a microphone
facing an array across the line, and optional further rows in depth (``depth_rows_km``, none
in the named scenarios: a row 12 km back every 5 km hears most deep impacts, but its clutter
makes more ghosts); a site the line folds back on, so that nothing lies at its distance, is
left out; observation posts on both sides ``observer_back_km`` back; cameras looking at the
line over a sector; UAVs orbiting over alternate sides of the line. A share
``outage_fraction`` of the sensors is down for the whole run (listed, silent). Acoustic
sensors have a clock bias drawn once, N(0, ``clock_bias_sd_s``), which the sensor file states
as ``clock_sd_s``.

**A given layout.** With ``layout=`` (a :class:`Layout`: positions and kinds, e.g. a mission
plan's), the simulator uses those sensors, in that order, instead of building its rows; only the
network changes, the events are generated exactly as without it. A sensor's chainage and side
are those of its nearest place on the line; a camera looks along the axis the layout gives it,
or else at that nearest place; a UAV orbits over its given position. Clock biases and the
outage draw come from the layout's seed stream ``(seed, 0)`` as for the rows (same
distributions, same number down), but the rows draw the observers' depth from it first, so a
run's own network given back as a layout (:meth:`Layout.from_network`) gets other biases and
other sensors down; with ``clock_bias_sd_s`` and ``outage_fraction`` 0 it gives the same
detections (to the last bits of the cameras' false fixes, which go through the projection).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from linewatch.geo import GEOD
from linewatch.model import Sensors
from linewatch.sim.network import SimNetwork
from linewatch.sim.scenarios import ScenarioParams
from linewatch.sim.streams import LAYOUT, rng_stream, tnormal
from linewatch.sim.stretch import Stretch

__all__ = ["ARR", "CAM", "KIND_NAMES", "Layout", "MIC", "OBS", "SensorField", "UAV", "given_layout",
           "row_layout"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

#: The simulator's kind codes, in the order of :data:`KIND_NAMES` (acoustic ones first).
MIC, ARR, OBS, CAM, UAV = range(5)
KIND_NAMES = np.array(["microphone", "array", "observer", "camera", "uav"], dtype=object)


@dataclass(frozen=True, eq=False)
class Layout:
    """A given sensor layout: one row per sensor, WGS84 positions and the simulator's kind
    names (``"microphone"``, ``"array"``, ``"observer"``, ``"camera"``, ``"uav"``; the integer
    codes ``MIC``..``UAV`` are accepted too), and optionally the sensors' ids (by default
    ``MIC-0001``, ``ARR-0001``, ... per kind, in the given order, as the simulator names its own)
    and each camera's optical axis as a true azimuth in degrees (NaN or none: the camera faces
    the nearest place on the line). A UAV orbits over its position
    (``ScenarioParams.uav_radius_m``); the field of view, ranges and noises are the scenario's.
    """

    lon: np.ndarray
    lat: np.ndarray
    kind: np.ndarray
    ids: np.ndarray | None = None
    camera_azimuth_deg: np.ndarray | None = None

    def __post_init__(self) -> None:
        lon = np.atleast_1d(np.asarray(self.lon, dtype=float))
        lat = np.atleast_1d(np.asarray(self.lat, dtype=float))
        kind = _kind_names(np.atleast_1d(np.asarray(self.kind)))
        n = len(lon)
        problems = []
        if lon.ndim != 1 or lat.shape != lon.shape or kind.shape != lon.shape:
            problems.append(f"lon, lat and kind must be 1-D of one length, got {lon.shape}, "
                            f"{lat.shape}, {kind.shape}")
        elif n and not (np.all(np.isfinite(lon)) and np.all(np.abs(lat) <= 90.0)):
            problems.append("positions must be finite, with |lat| <= 90")
        bad = sorted({str(k) for k in kind.tolist()} - set(KIND_NAMES.tolist()))
        if bad:
            problems.append(f"unknown kind(s) {bad}; expected one of {tuple(KIND_NAMES)}")
        ids = None
        if self.ids is not None:
            ids = np.atleast_1d(np.asarray(self.ids, dtype=object))
            if ids.shape != lon.shape:
                problems.append(f"ids must have one per sensor ({n}), got {ids.shape}")
            elif len(set(map(str, ids.tolist()))) != n:
                problems.append("ids must be unique")
            else:
                ids = np.array([str(i) for i in ids.tolist()], dtype=object)
        azimuth = np.full(n, np.nan)
        if self.camera_azimuth_deg is not None:
            azimuth = np.atleast_1d(np.asarray(self.camera_azimuth_deg, dtype=float))
            if azimuth.shape != lon.shape:
                problems.append(f"camera_azimuth_deg must have one per sensor ({n}), "
                                f"got {azimuth.shape}")
        if problems:
            raise ValueError("layout: " + "; ".join(problems))
        object.__setattr__(self, "lon", lon)
        object.__setattr__(self, "lat", lat)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "camera_azimuth_deg", azimuth)

    def __len__(self) -> int:
        return len(self.lon)

    @property
    def codes(self) -> Ints:
        """The kinds as the simulator's integer codes (``MIC``..``UAV``)."""
        code = {name: i for i, name in enumerate(KIND_NAMES.tolist())}
        return np.array([code[k] for k in self.kind.tolist()], dtype=np.int64)

    @classmethod
    def from_sensors(cls, sensors: Sensors) -> Layout:
        """The layout of some sensors (e.g. a run's ``SimResult.sensors``), ids included;
        cameras face the line."""
        return cls(sensors.lon, sensors.lat, sensors.kind, ids=sensors.ids)

    @classmethod
    def from_network(cls, network: SimNetwork) -> Layout:
        """The layout of a run's network (``simulated_network(...)``), camera axes included:
        simulating it again gives the same sensors, and with no clock bias and no outages
        (``clock_bias_sd_s`` and ``outage_fraction`` 0) the same detections."""
        s = network.sensors
        return cls(s.lon, s.lat, s.kind, ids=s.ids, camera_azimuth_deg=network.camera_azimuth_deg)


def _kind_names(kind: np.ndarray) -> np.ndarray:
    """Kinds as names (integer codes are translated; an out-of-range code is refused)."""
    if kind.dtype.kind in "iu":
        if len(kind) and (kind.min() < MIC or kind.max() > UAV):
            raise ValueError(f"layout: kind codes must lie in {MIC}..{UAV}")
        kind = KIND_NAMES[kind.astype(np.int64)] if len(kind) else np.zeros(0, object)
    return kind.astype(object)


def default_ids(kind: Ints) -> np.ndarray:
    """``MIC-0001``, ``ARR-0001``, ... numbered per kind in the given order.

    Examples:
        >>> default_ids(np.array([MIC, ARR, MIC, OBS, CAM, UAV])).tolist()
        ['MIC-0001', 'ARR-0001', 'MIC-0002', 'OP-0001', 'CAM-0001', 'UAV-0001']
    """
    prefix = {MIC: "MIC", ARR: "ARR", OBS: "OP", CAM: "CAM", UAV: "UAV"}
    ids = np.empty(len(kind), dtype=object)
    for k, pre in prefix.items():
        sel = np.flatnonzero(kind == k)
        ids[sel] = [f"{pre}-{i + 1:04d}" for i in range(len(sel))]
    return ids


# -- the placed sensors -----------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class SensorField:
    """The sensors as the simulator uses them: per sensor its kind code, position (frame and
    WGS84), chainage and side of the line, the unit direction a camera faces (frame), clock
    bias and whether it is up; and the :class:`Sensors` table the run states."""

    kind: Ints
    x: Floats
    y: Floats
    lon: Floats
    lat: Floats
    chainage_m: Floats
    side: Floats
    face_x: Floats
    face_y: Floats
    clock_bias: Floats
    up: Bools
    sensors: Sensors

    @cached_property
    def uav_index(self) -> Ints:
        """Indices of the UAVs, in order."""
        return np.flatnonzero(self.kind == UAV)


def _field(p: ScenarioParams, rng: np.random.Generator, kind: Ints, x: Floats, y: Floats,
           lon: Floats, lat: Floats, ids: np.ndarray, ch: Floats, side: Floats, face_x: Floats,
           face_y: Floats) -> SensorField:
    """Clock biases and outages (drawn from ``rng``), and the sensors."""
    n = len(kind)
    acoustic = kind <= ARR
    clock_sd = np.where(acoustic, p.clock_bias_sd_s, 0.0)
    clock_bias = np.where(acoustic, clock_sd * tnormal(rng, n), 0.0)
    down = np.zeros(n, bool)
    down[rng.choice(n, size=int(round(p.outage_fraction * n)), replace=False)] = True
    sensors = Sensors.from_columns(ids, lon, lat, KIND_NAMES[kind], elevation_m=np.zeros(n),
                                   clock_sd_s=clock_sd)
    return SensorField(kind, x, y, np.asarray(lon), np.asarray(lat), ch, side, face_x, face_y,
                       clock_bias, ~down, sensors)


#: A row's kinds or depths: one value for the whole row, or a function of its number of sites.
_PerSite = Callable[[int], np.ndarray]


class _Rows:
    """The sites of the scenario's rows, collected row by row: kind, chainage, target signed
    distance from the line, and the side a camera faces away from."""

    def __init__(self, stretch: Stretch) -> None:
        self.stretch = stretch
        self.kinds: list[np.ndarray] = []
        self.chs: list[Floats] = []
        self.targets: list[Floats] = []
        self.facing_sign: list[Floats] = []

    def add(self, spacing_km: float, kind_left: int | _PerSite, kind_right: int | _PerSite,
            back_m_left: float | _PerSite, back_m_right: float | _PerSite, shift: float = 0.0) -> None:
        """A row on each side of the line, every ``spacing_km``, ``back_m`` from it."""
        sp = spacing_km * 1000.0
        ch = np.arange(self.stretch.ch0 + sp / 2 + shift, self.stretch.ch1, sp)
        for sign, kind, back in ((1.0, kind_left, back_m_left), (-1.0, kind_right, back_m_right)):
            n = len(ch)
            self.kinds.append(kind(n) if callable(kind) else np.full(n, kind))
            self.chs.append(ch)
            self.targets.append(sign * (back(n) if callable(back) else np.full(n, back)))
            self.facing_sign.append(np.full(n, sign))

    def add_orbits(self, spacing_km: float, orbit_km: float) -> None:
        """UAVs: one orbit per ``spacing_km``, over alternate sides of the line."""
        sp = spacing_km * 1000.0
        ch = np.arange(self.stretch.ch0 + sp / 2, self.stretch.ch1, sp)
        self.kinds.append(np.full(len(ch), UAV))
        self.chs.append(ch)
        side = np.where(np.arange(len(ch)) % 2 == 0, 1.0, -1.0)
        self.targets.append(side * orbit_km * 1000)
        self.facing_sign.append(side)


def _alternating(first: int) -> _PerSite:
    """Kind codes alternating between ``first`` and the other acoustic kind along a row."""
    return lambda n: np.where(np.arange(n) % 2 == 0, first, 1 - first)


def row_layout(stretch: Stretch, p: ScenarioParams, seed: int) -> SensorField:
    """The scenario's own rows along the stretch (see the module docstring)."""
    rng = rng_stream(seed, LAYOUT)
    rows = _Rows(stretch)
    rows.add(p.acoustic_spacing_km, _alternating(MIC), _alternating(ARR), p.acoustic_row_km * 1000,
             p.acoustic_row_km * 1000)
    for back_km, spacing_km in p.depth_rows_km:
        rows.add(spacing_km, _alternating(ARR), _alternating(MIC), back_km * 1000, back_km * 1000,
                 shift=spacing_km * 250)

    def obs_back(n: int) -> Floats:
        return rng.uniform(*p.observer_back_km, size=n) * 1000

    rows.add(p.observer_spacing_km, OBS, OBS, obs_back, obs_back)
    rows.add(p.camera_spacing_km, CAM, CAM, p.camera_back_km * 1000, p.camera_back_km * 1000,
             shift=p.camera_spacing_km * 250)
    rows.add_orbits(p.uav_spacing_km, p.uav_orbit_km)

    kind = np.concatenate(rows.kinds).astype(np.int64)
    ch = np.concatenate(rows.chs)
    target = np.concatenate(rows.targets)
    fsign = np.concatenate(rows.facing_sign)
    order = np.lexsort((target, ch, kind))
    kind, ch, target, fsign = kind[order], ch[order], target[order], fsign[order]
    x, y, reached = stretch.place(ch, target)
    # where the line folds back, no point may lie that far from it along the normal: a
    # planner would not put a sensor there, so the site is left out
    fits = np.abs(reached - target) <= 0.05 * np.abs(target)
    kind = kind[fits]
    ch, target, fsign, x, y = (a[fits] for a in (ch, target, fsign, x, y))
    nx, ny = stretch.normal(ch)
    lon, lat = stretch.frame.to_lonlat(x, y)
    # cameras face the line: minus their side's normal
    return _field(p, rng, kind, x, y, lon, lat, default_ids(kind), ch, fsign, -fsign * nx, -fsign * ny)


def given_layout(stretch: Stretch, p: ScenarioParams, seed: int, layout: Layout) -> SensorField:
    """The sensors of a given layout, in its order (see the module docstring)."""
    rng = rng_stream(seed, LAYOUT)
    kind = layout.codes
    lon, lat = layout.lon.copy(), layout.lat.copy()
    x, y = (np.asarray(v, dtype=float).reshape(-1) for v in stretch.frame.to_xy(lon, lat))
    if len(x):
        near = stretch.li.nearest(x, y, lat)
        ch, side = near.chainage_m, np.where(near.signed_m >= 0.0, 1.0, -1.0)
        # towards the nearest place on the line (the signed distance's gradient points
        # to the left side)
        face_x, face_y = -side * near.normal_x, -side * near.normal_y
    else:
        ch = side = face_x = face_y = np.zeros(0)
    azimuth = np.asarray(layout.camera_azimuth_deg, dtype=float)     # NaN: face the line
    cams = np.flatnonzero(np.isfinite(azimuth) & (kind == CAM))
    if len(cams):
        # a given axis, as a direction in the frame: 1 km along the geodesic, as the
        # network states it (the inverse of ``_World.network()`` in ``world``)
        alon, alat, _ = GEOD.fwd(lon[cams], lat[cams], azimuth[cams], np.full(len(cams), 1000.0))
        ax, ay = stretch.frame.to_xy(np.asarray(alon), np.asarray(alat))
        dx, dy = np.asarray(ax) - x[cams], np.asarray(ay) - y[cams]
        norm = np.hypot(dx, dy)
        face_x, face_y = face_x.copy(), face_y.copy()
        face_x[cams], face_y[cams] = dx / norm, dy / norm
    ids = default_ids(kind) if layout.ids is None else layout.ids.copy()
    return _field(p, rng, kind, x, y, lon, lat, ids, ch, side, face_x, face_y)
