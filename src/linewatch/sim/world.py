"""A seeded simulator of raw sensor data along an agreement's line (fusion.md §5.1).

Pure numpy, no I/O: the same agreement, parameters and seed give the same sensors, detections
and ground truth. ``linewatch.formats.sensors`` writes them in the public formats
(``docs/fusion-formats.md``).

**Layout** (drawn once per run from the seed): along the simulated stretch, acoustic sensors in
one row on each side of the line at ``acoustic_row_km`` from it (the true distance to the line,
not an offset from a vertex), every ``acoustic_spacing_km``, alternating single microphones
(arrival time) and small arrays (arrival time and bearing), a microphone facing an array across
the line, and optional further rows in depth (``depth_rows_km``, none in the named scenarios:
a row 12 km back every 5 km hears most deep impacts, but its clutter makes more ghosts); a site the line folds back on, so that nothing lies at its distance,
is left out; observation posts on both sides ``observer_back_km`` back; cameras looking at the line
over a sector; UAVs orbiting over alternate sides of the line with sorties and gaps. A share
``outage_fraction`` of the sensors is down for the whole run (listed, silent). Acoustic sensors
have a clock bias drawn once, N(0, ``clock_bias_sd_s``), which the sensor file states as
``clock_sd_s``.

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

**Events.** Launches are Poisson in time at ``launch_rate_per_s_per_60km`` for every 60 km of the
stretch; the shooting party is drawn 50/50 (the scenario is impartial by construction). A launch
lies ``launch_offset_km`` from the line on the shooter's side; its impact ``impact_range_km``
downrange (within ``impact_spread_deg`` of the line's smoothed normal) on the other side, at
least 0.5 km from the line, after a time of flight of distance / ``projectile_speed_m_s``.
Launch and impact are separate events sharing a ``pair_id``; ``side`` is the party on whose
side of the line an event truly lies (checked against the line itself).

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

**Randomness and chunks.** Events and clutter are generated in fixed blocks of ``block_s``
seconds, each from its own seed sequence ``(seed, 2, block)``; the wind and UAV sorties per hour
from ``(seed, 1, hour)`` and ``(seed, 3, hour)``; the layout from ``(seed, 0)``. So the outcome
does not depend on how it is cut: :func:`simulate_chunks` emits, for chunk ``k``, every
detection whose *time* lies in ``[k·chunk_s, (k+1)·chunk_s)`` from the start (the first chunk
also takes earlier ones, the last all later ones: events near the end are heard after it), the
blocks being generated one step ahead of the chunk boundary; and the truth of every pair
*launched* in that interval. Detections of an event may therefore come in the chunk after its
truth. The concatenation of the chunks equals :func:`simulate` exactly.

**The network.** :func:`simulated_network` (and ``simulate(...).network``) states what the run
applied, for the coverage model (``linewatch.coverage.model``): the sensors down for the whole run,
each camera's axis, and every UAV sortie; it draws nothing the detections depend on.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, fields

import numpy as np
from scipy.special import expit

from linewatch.agreement import Agreement
from linewatch.coverage import DETECTABILITY
from linewatch.geo import GEOD
from linewatch.model import Detections, Sensors, Truth, sound_speed_m_s

__all__ = ['Layout', 'SCENARIOS', 'ScenarioParams', 'SimNetwork', 'SimResult', 'concat_detections', 'concat_truth', 'simulate', 'simulate_chunks', 'simulated_network']

_A = 6378137.0
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)

MIC, ARR, OBS, CAM, UAV = range(5)
_KIND_NAMES = np.array(["microphone", "array", "observer", "camera", "uav"], dtype=object)
_EVENT_KINDS = np.array(["launch", "impact"], dtype=object)


#: The coverage model's detection curves: the scenario's detection defaults.
_CURVE = DETECTABILITY


@dataclass(frozen=True)
class ScenarioParams:
    """A scenario: what happens, where, and how the sensor network hears it.

    Distances in km where the name says so, else metres; times in seconds.
    """

    name: str
    duration_s: float
    launch_rate_per_s_per_60km: float     # Poisson launches per second per 60 km of line
    clutter_per_min_per_sensor: float     # false detections per minute per acoustic sensor
    line_from_km: float = 400.0           # the stretch of the line simulated (chainage km)
    line_to_km: float | None = 460.0      # None: to the end of the line
    start_s: float = 1_749_945_600.0      # 2025-06-15T00:00:00Z
    temperature_c: float = 15.0
    wind_m_s: float = 2.0                 # wind speed limit (direction and speed per hour)
    celerity_jitter: float = 0.002        # per-path relative sound-speed noise (0.2 %)
    pick_sd_s: float = 0.02
    clock_bias_sd_s: float = 0.002
    outage_fraction: float = 0.05         # share of sensors down for the whole run
    # -- layout
    acoustic_row_km: float = 4.0
    acoustic_spacing_km: float = 2.5
    #: further rows in depth, as (distance from the line, spacing) in km: they hear impacts
    #: and launches far behind the line that the first row hears too faintly
    depth_rows_km: tuple[tuple[float, float], ...] = ()
    observer_spacing_km: float = 10.0
    observer_back_km: tuple[float, float] = (3.0, 6.0)
    camera_spacing_km: float = 15.0
    camera_back_km: float = 2.0
    camera_range_m: float = 8_000.0
    camera_half_fov_deg: float = 45.0
    uav_spacing_km: float = 30.0
    uav_orbit_km: float = 6.0             # orbit centre's distance from the line
    uav_radius_m: float = _CURVE["uav", "launch"].r50_m
    uav_airborne_share: float = 0.6       # chance a UAV flies a sortie in a given hour
    uav_sortie_s: tuple[float, float] = (900.0, 2400.0)
    # -- events
    launch_offset_km: tuple[float, float] = (3.0, 12.0)
    impact_range_km: tuple[float, float] = (6.0, 18.0)
    impact_spread_deg: float = 30.0
    projectile_speed_m_s: float = 300.0
    # -- detection
    acoustic_p_max: float = _CURVE["microphone", "launch"].p_max
    acoustic_r50_launch_m: float = _CURVE["microphone", "launch"].r50_m   # artillery launches
    acoustic_r50_impact_m: float = _CURVE["microphone", "impact"].r50_m
    acoustic_width_m: float = _CURVE["microphone", "launch"].width_m
    array_bearing_sd_deg: float = 2.0
    observer_p_max: float = _CURVE["observer", "launch"].p_max
    observer_r50_m: float = _CURVE["observer", "launch"].r50_m
    observer_width_m: float = _CURVE["observer", "launch"].width_m
    observer_bearing_sd_deg: float = 5.0
    observer_range_rel_sd: float = 0.3
    observer_time_sd_s: float = 30.0
    camera_p_max: float = _CURVE["camera", "launch"].p_max
    camera_r50_m: float = _CURVE["camera", "launch"].r50_m
    camera_width_m: float = _CURVE["camera", "launch"].width_m
    uav_p_max: float = _CURVE["uav", "launch"].p_max
    fix_sd_m: float = 50.0
    fix_time_sd_s: float = 0.5
    classify_correct: float = 0.9
    other_clutter_factor: float = 0.05    # observers' and cameras' clutter, relative
    block_s: float = 300.0                # generation block (fixes the randomness)

    def to_dict(self) -> dict:
        def lst(v):
            return [lst(x) for x in v] if isinstance(v, tuple) else v
        return {f.name: lst(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict) -> ScenarioParams:
        names = {f.name for f in fields(cls)}
        def tup(v):
            return tuple(tup(x) for x in v) if isinstance(v, list) else v
        return cls(**{k: tup(v) for k, v in d.items() if k in names})


_HOUR = 3600.0

#: The named scenarios. ``day-1200km`` is a heavy day of fire along the whole line (0.1
#: launches/s per 60 km, about 172,000 launches, 3 false detections/min per acoustic sensor):
#: with seed 1, 10.28 M detections of which 3.77 M clutter (docs/fusion-formats.md).
SCENARIOS: dict[str, ScenarioParams] = {
    "quiet": ScenarioParams("quiet", _HOUR, 0.005, 0.1),
    "active": ScenarioParams("active", _HOUR, 0.01, 1.0),
    "barrage": ScenarioParams("barrage", _HOUR, 0.1, 1.0),
    "day-1200km": ScenarioParams("day-1200km", 24 * _HOUR, 0.1, 3.0, line_from_km=0.0,
                                 line_to_km=None),
}


@dataclass(frozen=True, eq=False)
class SimNetwork:
    """The network a run used, as the coverage model needs it (``linewatch.coverage.model``
    turns it into a ``Network`` with :func:`linewatch.sim.network.network_from_simulation`).

    Exactly what the simulator applies: the sensors that are down (silent) for the whole run,
    each camera's optical axis (its field of view and range are ``params.camera_half_fov_deg``
    and ``params.camera_range_m``), and every UAV sortie (a UAV sees only while airborne,
    within ``params.uav_radius_m`` of its orbit centre, the sensor's position). Times are epoch
    seconds (UTC). ``run_end_s`` is the latest time an event can happen: the end of the run
    plus the longest time of flight (impacts come after their launches).
    """

    sensors: Sensors
    params: ScenarioParams
    down: np.ndarray                  # bool per sensor
    run_start_s: float
    run_end_s: float
    camera_azimuth_deg: np.ndarray    # per sensor: true azimuth of a camera's axis, else NaN
    flight_sensor: np.ndarray         # per sortie: index of its UAV in ``sensors``
    flight_start_s: np.ndarray
    flight_end_s: np.ndarray


@dataclass(frozen=True)
class SimResult:
    sensors: Sensors
    detections: Detections
    truth: Truth
    #: the network behind the detections (outages, camera views, UAV sorties)
    network: SimNetwork | None = None


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
        kind = np.atleast_1d(np.asarray(self.kind))
        if kind.dtype.kind in "iu":
            if len(kind) and (kind.min() < MIC or kind.max() > UAV):
                raise ValueError(f"layout: kind codes must lie in {MIC}..{UAV}")
            kind = _KIND_NAMES[kind.astype(np.int64)] if len(kind) else np.zeros(0, object)
        kind = kind.astype(object)
        n = len(lon)
        problems = []
        if lon.ndim != 1 or lat.shape != lon.shape or kind.shape != lon.shape:
            problems.append(f"lon, lat and kind must be 1-D of one length, got {lon.shape}, "
                            f"{lat.shape}, {kind.shape}")
        elif n and not (np.all(np.isfinite(lon)) and np.all(np.abs(lat) <= 90.0)):
            problems.append("positions must be finite, with |lat| <= 90")
        bad = sorted({str(k) for k in kind.tolist()} - set(_KIND_NAMES.tolist()))
        if bad:
            problems.append(f"unknown kind(s) {bad}; expected one of {tuple(_KIND_NAMES)}")
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
    def codes(self) -> np.ndarray:
        """The kinds as the simulator's integer codes (``MIC``..``UAV``)."""
        code = {name: i for i, name in enumerate(_KIND_NAMES.tolist())}
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


# -- public entry points --------------------------------------------------------------------

def simulate(agreement: Agreement, params: ScenarioParams, *, seed: int,
             layout: Layout | None = None) -> SimResult:
    """The whole scenario at once (the concatenation of :func:`simulate_chunks`), with the
    network it used; on the sensors of ``layout`` if given (else the scenario's own rows)."""
    world = _World(agreement, params, int(seed), layout)
    dets, truths = [], []
    for d, t in world.chunks(math.inf):
        dets.append(d)
        truths.append(t)
    return SimResult(world.sensors, concat_detections(dets), concat_truth(truths),
                     network=world.network())


def simulated_network(agreement: Agreement, params: ScenarioParams, *, seed: int,
                      layout: Layout | None = None) -> SimNetwork:
    """The network a run with this agreement, scenario, seed (and layout) uses, without
    simulating it (the layout and the sorties have seeds of their own): what
    ``simulate(...).network`` holds."""
    return _World(agreement, params, int(seed), layout).network()


def simulate_chunks(agreement: Agreement, params: ScenarioParams, *, seed: int,
                    chunk_s: float = 3600.0, layout: Layout | None = None
                    ) -> tuple[Sensors, Iterator[tuple[Detections, Truth]]]:
    """The sensors, and the scenario in time chunks of ``chunk_s`` (memory stays flat).

    Chunk ``k`` holds the detections timed in ``[k·chunk_s, (k+1)·chunk_s)`` from the start
    (the first chunk also earlier ones, the last also later ones) and the truth of the pairs
    launched in that interval, with the event of each of the chunk's detections.
    """
    if not chunk_s > 0:
        raise ValueError(f"chunk_s must be positive, got {chunk_s!r}")
    world = _World(agreement, params, int(seed), layout)
    return world.sensors, world.chunks(float(chunk_s))


def concat_detections(parts: list[Detections]) -> Detections:
    """Detections one after the other (no re-sorting)."""
    if not parts:
        return Detections.from_columns(np.array([], dtype=object), np.array([], np.int64),
                                       np.array([]), np.array([]))
    return Detections.concat(parts)


def concat_truth(parts: list[Truth]) -> Truth:
    """Truth chunks one after the other."""
    names = ["event_id", "kind", "lon", "lat", "time_s", "side", "pair_id"]
    if not parts:
        return _empty_truth()
    det: dict[str, int] = {}
    for p in parts:
        det.update(p.detection_event)
    return Truth(*(np.concatenate([getattr(p, n) for p in parts]) for n in names),
                 detection_event=det)


def _empty_truth() -> Truth:
    return Truth(np.array([], np.int64), np.array([], object), np.array([]), np.array([]),
                 np.array([]), np.array([], object), np.array([], np.int64), {})


# -- the world: layout, weather, blocks -----------------------------------------------------

def _rng(seed: int, stream: int, index: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stream, index]))


def _tnormal(rng: np.random.Generator, n: int, limit: float = 5.0) -> np.ndarray:
    """Standard normal draws truncated (clipped) at ±``limit``."""
    return np.clip(rng.standard_normal(n), -limit, limit)


def _check(p: ScenarioParams) -> None:
    problems = []
    if not p.duration_s > 0:
        problems.append(f"duration_s must be positive, got {p.duration_s!r}")
    for name in ("launch_rate_per_s_per_60km", "clutter_per_min_per_sensor", "wind_m_s",
                 "celerity_jitter", "pick_sd_s", "clock_bias_sd_s"):
        if not getattr(p, name) >= 0:
            problems.append(f"{name} must be >= 0, got {getattr(p, name)!r}")
    if not 0 <= p.outage_fraction < 1:
        problems.append(f"outage_fraction must be in [0, 1), got {p.outage_fraction!r}")
    if not p.block_s > 0:
        problems.append(f"block_s must be positive, got {p.block_s!r}")
    if problems:
        raise ValueError(f"scenario {p.name!r}: " + "; ".join(problems))


class _World:
    def __init__(self, agreement: Agreement, p: ScenarioParams, seed: int,
                 layout: Layout | None = None) -> None:
        _check(p)
        if agreement.line_index is None:
            raise ValueError(f"agreement {agreement.id!r} has no line: the simulator needs one")
        self.ag, self.p, self.seed = agreement, p, seed
        self.li = agreement.line_index
        self.frame = agreement.frame
        length = self.li.length_m
        self.ch0 = min(max(p.line_from_km * 1000.0, 0.0), length)
        self.ch1 = length if p.line_to_km is None else min(max(p.line_to_km * 1000.0, 0.0), length)
        if not self.ch1 - self.ch0 >= 1000.0:
            raise ValueError(f"scenario {p.name!r}: the stretch {p.line_from_km}-{p.line_to_km} km "
                             f"holds less than 1 km of a {length / 1000:.1f} km line")
        self.c0 = float(sound_speed_m_s(p.temperature_c))
        self.left_party = next(q for q in agreement.party_ids if agreement.side_of[q] == "left")
        self.right_party = next(q for q in agreement.party_ids if agreement.side_of[q] == "right")
        self._centreline()
        if layout is None:
            self._layout()
        else:
            self._given_layout(layout)
        self._wind_cache: dict[int, tuple[float, float]] = {}
        self._uav_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        # detections are never earlier than their block's start minus this
        self.early_s = 5.0 * max(p.observer_time_sd_s, p.fix_time_sd_s,
                                 p.pick_sd_s + p.clock_bias_sd_s) + 1.0

    # -- geometry -----------------------------------------------------------------------
    def _on_line(self, ch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        li = self.li
        seg = np.clip(np.searchsorted(li.chain0, ch, side="right") - 1, 0, li.n_segments - 1)
        t = np.clip((ch - li.chain0[seg]) / li.geo_len[seg], 0, 1)
        return li.ax[seg] + t * li.dx[seg], li.ay[seg] + t * li.dy[seg]

    def _centreline(self) -> None:
        """The line smoothed over ±5 km: offsets are taken along its normal, so that points
        stand off a zigzag line the way a front's positions do."""
        step, half = 250.0, 20
        lo = max(0.0, self.ch0 - 40_000.0)
        hi = min(self.li.length_m, self.ch1 + 40_000.0)
        s = np.arange(lo, hi + step, step)
        s[-1] = min(s[-1], self.li.length_m)
        x, y = self._on_line(s)
        k = np.ones(2 * half + 1) / (2 * half + 1)
        xs = np.convolve(np.pad(x, half, mode="edge"), k, mode="valid")
        ys = np.convolve(np.pad(y, half, mode="edge"), k, mode="valid")
        tx, ty = np.gradient(xs), np.gradient(ys)
        tn = np.hypot(tx, ty)
        tn[tn == 0] = 1.0
        self._s, self._cx, self._cy = s, xs, ys
        self._nx, self._ny = -ty / tn, tx / tn     # left normal

    def _normal(self, ch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        nx, ny = np.interp(ch, self._s, self._nx), np.interp(ch, self._s, self._ny)
        n = np.hypot(nx, ny)
        return nx / n, ny / n

    def signed_m(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """True signed distance to the line (positive on the left)."""
        if len(x) == 0:
            return np.zeros(0)
        lat = self.frame.to_lonlat(x, y)[1]
        return self.li.nearest(x, y, lat).signed_m

    def place(self, ch: np.ndarray, target_m: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Points at chainage ``ch`` whose true signed distance to the line is ``target_m``
        (solved along the smoothed normal); returns x, y and the distance reached."""
        cx, cy = np.interp(ch, self._s, self._cx), np.interp(ch, self._s, self._cy)
        nx, ny = self._normal(ch)
        off = np.array(target_m, dtype=float)
        for _ in range(12):
            x, y = cx + nx * off, cy + ny * off
            s = self.signed_m(x, y)
            err = target_m - s
            if len(err) == 0 or np.max(np.abs(err)) < 1.0:
                break
            # along the normal the distance grows at most as fast as the offset; where it does
            # not grow at all (beyond a line's end, across a fold) keep the offset bounded
            off = np.clip(off + err, np.minimum(0.25 * target_m, target_m + np.sign(target_m) * 15_000.0),
                          np.maximum(0.25 * target_m, target_m + np.sign(target_m) * 15_000.0))
        return x, y, s

    # -- the sensor network ---------------------------------------------------------------
    def _layout(self) -> None:
        p = self.p
        rng = _rng(self.seed, 0)
        kinds, chs, targets, facing_sign = [], [], [], []

        def row(spacing_km: float, kind_left, kind_right, back_m_left, back_m_right, shift=0.0):
            sp = spacing_km * 1000.0
            ch = np.arange(self.ch0 + sp / 2 + shift, self.ch1, sp)
            for sign, kind, back in ((1.0, kind_left, back_m_left), (-1.0, kind_right, back_m_right)):
                n = len(ch)
                kinds.append(kind(n) if callable(kind) else np.full(n, kind))
                chs.append(ch)
                targets.append(sign * (back(n) if callable(back) else np.full(n, back)))
                facing_sign.append(np.full(n, sign))
            return ch

        alt = lambda first: (lambda n: np.where(np.arange(n) % 2 == 0, first, 1 - first))  # noqa: E731
        row(p.acoustic_spacing_km, alt(MIC), alt(ARR), p.acoustic_row_km * 1000,
            p.acoustic_row_km * 1000)
        for back_km, spacing_km in p.depth_rows_km:
            row(spacing_km, alt(ARR), alt(MIC), back_km * 1000, back_km * 1000,
                shift=spacing_km * 250)
        obs_back = lambda n: rng.uniform(*p.observer_back_km, size=n) * 1000  # noqa: E731
        row(p.observer_spacing_km, OBS, OBS, obs_back, obs_back)
        row(p.camera_spacing_km, CAM, CAM, p.camera_back_km * 1000, p.camera_back_km * 1000,
            shift=p.camera_spacing_km * 250)
        # UAVs: one orbit per uav_spacing_km, over alternate sides of the line
        sp = p.uav_spacing_km * 1000.0
        ch = np.arange(self.ch0 + sp / 2, self.ch1, sp)
        kinds.append(np.full(len(ch), UAV))
        chs.append(ch)
        side = np.where(np.arange(len(ch)) % 2 == 0, 1.0, -1.0)
        targets.append(side * p.uav_orbit_km * 1000)
        facing_sign.append(side)

        kind = np.concatenate(kinds).astype(np.int64)
        ch = np.concatenate(chs)
        target = np.concatenate(targets)
        fsign = np.concatenate(facing_sign)
        order = np.lexsort((target, ch, kind))
        kind, ch, target, fsign = kind[order], ch[order], target[order], fsign[order]
        x, y, reached = self.place(ch, target)
        # where the line folds back, no point may lie that far from it along the normal: a
        # planner would not put a sensor there, so the site is left out
        fits = np.abs(reached - target) <= 0.05 * np.abs(target)
        kind, ch, target, fsign, x, y = (a[fits] for a in (kind, ch, target, fsign, x, y))
        nx, ny = self._normal(ch)
        lon, lat = self.frame.to_lonlat(x, y)
        # cameras face the line: minus their side's normal
        self._network(rng, kind, x, y, lon, lat, _default_ids(kind), ch, fsign,
                      -fsign * nx, -fsign * ny)

    def _given_layout(self, layout: Layout) -> None:
        """The sensors of a given layout, in its order (see the module docstring)."""
        rng = _rng(self.seed, 0)
        kind = layout.codes
        lon, lat = layout.lon.copy(), layout.lat.copy()
        x, y = (np.asarray(v, dtype=float).reshape(-1) for v in self.frame.to_xy(lon, lat))
        if len(x):
            near = self.li.nearest(x, y, lat)
            ch, side = near.chainage_m, np.where(near.signed_m >= 0.0, 1.0, -1.0)
            # towards the nearest place on the line (the signed distance's gradient points
            # to the left side)
            face_x, face_y = -side * near.normal_x, -side * near.normal_y
        else:
            ch = side = face_x = face_y = np.zeros(0)
        cams = np.flatnonzero(np.isfinite(layout.camera_azimuth_deg) & (kind == CAM))
        if len(cams):
            # a given axis, as a direction in the frame: 1 km along the geodesic, as the
            # network states it (the inverse of ``network()``)
            alon, alat, _ = GEOD.fwd(lon[cams], lat[cams], layout.camera_azimuth_deg[cams],
                                     np.full(len(cams), 1000.0))
            ax, ay = self.frame.to_xy(np.asarray(alon), np.asarray(alat))
            dx, dy = np.asarray(ax) - x[cams], np.asarray(ay) - y[cams]
            norm = np.hypot(dx, dy)
            face_x, face_y = face_x.copy(), face_y.copy()
            face_x[cams], face_y[cams] = dx / norm, dy / norm
        ids = _default_ids(kind) if layout.ids is None else layout.ids.copy()
        self._network(rng, kind, x, y, lon, lat, ids, ch, side, face_x, face_y)

    def _network(self, rng: np.random.Generator, kind: np.ndarray, x: np.ndarray, y: np.ndarray,
                 lon, lat, ids: np.ndarray, ch: np.ndarray, side: np.ndarray, face_x: np.ndarray,
                 face_y: np.ndarray) -> None:
        """Clock biases and outages (drawn from ``rng``), and the sensors."""
        p = self.p
        n = len(kind)
        self.chainage_m, self.side = ch, side
        acoustic = kind <= ARR
        clock_sd = np.where(acoustic, p.clock_bias_sd_s, 0.0)
        self.clock_bias = np.where(acoustic, clock_sd * _tnormal(rng, n), 0.0)
        down = np.zeros(n, bool)
        down[rng.choice(n, size=int(round(p.outage_fraction * n)), replace=False)] = True
        self.up = ~down
        self.kind, self.x, self.y, self.lon, self.lat = kind, x, y, np.asarray(lon), np.asarray(lat)
        self.face_x, self.face_y = face_x, face_y
        self.sensors = Sensors.from_columns(ids, lon, lat, _KIND_NAMES[kind],
                                            elevation_m=np.zeros(n), clock_sd_s=clock_sd)
        self.uav_index = np.flatnonzero(kind == UAV)

    # -- weather and sorties --------------------------------------------------------------
    def wind(self, hour: int) -> tuple[float, float]:
        """(east, north) wind in m/s for an hour block."""
        if hour not in self._wind_cache:
            rng = _rng(self.seed, 1, hour)
            direction = rng.uniform(0, 2 * math.pi)
            speed = rng.uniform(0, self.p.wind_m_s)
            self._wind_cache[hour] = (speed * math.sin(direction), speed * math.cos(direction))
        return self._wind_cache[hour]

    def sorties(self, hour: int) -> tuple[np.ndarray, np.ndarray]:
        """Per UAV, its airborne interval [start, end) in seconds from the run's start."""
        if hour not in self._uav_cache:
            p = self.p
            rng = _rng(self.seed, 3, hour)
            n = len(self.uav_index)
            flies = rng.random(n) < p.uav_airborne_share
            dur = rng.uniform(*p.uav_sortie_s, size=n)
            start = hour * _HOUR + rng.uniform(0, 1, size=n) * np.maximum(_HOUR - dur, 0)
            end = np.where(flies, start + dur, start)
            self._uav_cache[hour] = (start, end)
        return self._uav_cache[hour]

    def network(self) -> SimNetwork:
        """What the run applies: outages, camera axes, UAV sorties (see :class:`SimNetwork`)."""
        p = self.p
        t0 = p.start_s
        run_end = p.duration_s + p.impact_range_km[1] * 1000.0 / p.projectile_speed_m_s * 1.01 + 1.0
        cams = np.flatnonzero(self.kind == CAM)
        azimuth = np.full(len(self.kind), np.nan)
        if len(cams):
            # the axis in the frame, as a true azimuth: 1 km along it, then the geodesic azimuth
            alon, alat = self.frame.to_lonlat(self.x[cams] + 1000.0 * self.face_x[cams],
                                              self.y[cams] + 1000.0 * self.face_y[cams])
            az, _, _ = GEOD.inv(self.lon[cams], self.lat[cams], np.asarray(alon), np.asarray(alat))
            azimuth[cams] = np.asarray(az, float) % 360.0
        sensor, start, end = [], [], []
        for hour in range(int(math.ceil(run_end / _HOUR))):
            s0, s1 = self.sorties(hour)
            fly = np.flatnonzero((s1 > s0) & (s0 < run_end))     # sorties the run can use
            sensor.append(self.uav_index[fly])
            start.append(s0[fly] + t0)
            end.append(s1[fly] + t0)
        cat = lambda parts, dt: np.concatenate(parts) if parts else np.zeros(0, dt)  # noqa: E731
        return SimNetwork(self.sensors, p, ~self.up, float(t0), float(t0 + run_end), azimuth,
                          cat(sensor, np.int64).astype(np.int64), cat(start, float),
                          cat(end, float))

    # -- one block -----------------------------------------------------------------------
    def _events(self, rng: np.random.Generator, t0: float, t1: float) -> dict[str, np.ndarray]:
        p = self.p
        km = (self.ch1 - self.ch0) / 1000.0
        n = int(rng.poisson(p.launch_rate_per_s_per_60km * (t1 - t0) * km / 60.0))
        t_launch = np.sort(rng.uniform(t0, t1, size=n))
        shooter_left = rng.random(n) < 0.5
        sign = np.where(shooter_left, 1.0, -1.0)
        lx, ly, ix, iy = (np.zeros(n) for _ in range(4))
        todo = np.arange(n)
        lo_off, hi_off = p.launch_offset_km
        lo_r, hi_r = p.impact_range_km
        for _ in range(100):
            if len(todo) == 0:
                break
            m = len(todo)
            ch = rng.uniform(self.ch0, self.ch1, size=m)
            d_l = rng.uniform(lo_off, hi_off, size=m) * 1000.0
            theta = np.radians(rng.uniform(-p.impact_spread_deg, p.impact_spread_deg, size=m))
            # far enough downrange to cross the line by >= 2 km along the normal
            lo = np.minimum(np.maximum(lo_r * 1000.0, (d_l + 2000.0) / np.cos(theta)), hi_r * 1000.0)
            r = lo + rng.random(m) * (hi_r * 1000.0 - lo)
            s = sign[todo]
            x, y, got = self.place(ch, s * d_l)
            nx, ny = self._normal(ch)
            ux, uy = -s * nx, -s * ny                      # towards and across the line
            c, si = np.cos(theta), np.sin(theta)
            dx, dy = c * ux + si * uy, -si * ux + c * uy
            jx, jy = x + r * dx, y + r * dy
            got_i = self.signed_m(jx, jy)
            ok = ((np.sign(got) == s) & (np.abs(got - s * d_l) < 0.25 * d_l)
                  & (np.sign(got_i) == -s) & (np.abs(got_i) >= 500.0))
            idx = todo[ok]
            lx[idx], ly[idx], ix[idx], iy[idx] = x[ok], y[ok], jx[ok], jy[ok]
            todo = todo[~ok]
        if len(todo):
            raise RuntimeError(f"could not place {len(todo)} launches across the line")
        llon, llat = self.frame.to_lonlat(lx, ly)
        ilon, ilat = self.frame.to_lonlat(ix, iy)
        _, _, dist = GEOD.inv(llon, llat, ilon, ilat) if n else (None, None, np.zeros(0))
        t_impact = t_launch + np.asarray(dist) / p.projectile_speed_m_s
        left = np.where(shooter_left, self.left_party, self.right_party).astype(object)
        right = np.where(shooter_left, self.right_party, self.left_party).astype(object)
        il = lambda a, b: np.column_stack([a, b]).ravel()  # noqa: E731 - launch, impact, ...
        return {"kind": np.tile(np.array([0, 1]), n), "x": il(lx, ix), "y": il(ly, iy),
                "lon": il(llon, ilon), "lat": il(llat, ilat), "time_s": il(t_launch, t_impact),
                "side": il(left, right), "pair": np.repeat(np.arange(n), 2),
                "pair_time_s": np.repeat(t_launch, 2)}

    def block(self, b: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Events (with truth) and detections of block ``b``; times in seconds from the start."""
        p = self.p
        rng = _rng(self.seed, 2, b)
        t0 = b * p.block_s
        t1 = min((b + 1) * p.block_s, p.duration_s)
        ev = self._events(rng, t0, t1)
        base = b * 1_000_000
        ev["event_id"] = base + np.arange(len(ev["kind"]))
        ev["pair_id"] = base + ev["pair"]
        heard = self._hear(rng, ev)
        clutter = self._clutter(rng, t0, t1)
        det = {k: np.concatenate([heard[k], clutter[k]]) for k in heard}
        n = len(det["sensor"])
        det["ids"] = np.array([f"D{b:05d}{i:07d}" for i in range(n)], dtype=object)
        return ev, det

    def _hear(self, rng: np.random.Generator, ev: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        p = self.p
        up = np.flatnonzero(self.up)
        sk = self.kind[up]
        gate = np.select([sk <= ARR, sk == OBS, sk == CAM, sk == UAV],
                         [p.acoustic_r50_launch_m + 8 * p.acoustic_width_m,
                          p.observer_r50_m + 8 * p.observer_width_m,
                          min(p.camera_range_m, p.camera_r50_m + 8 * p.camera_width_m),
                          p.uav_radius_m])
        m = len(ev["kind"])
        ie_parts, js_parts = [], []
        step = max(1, 2_000_000 // max(len(up), 1))
        for a in range(0, m, step):
            dxp = ev["x"][a:a + step, None] - self.x[None, up]
            dyp = ev["y"][a:a + step, None] - self.y[None, up]
            ie, js = np.nonzero(dxp * dxp + dyp * dyp <= (gate * 1.003 + 50.0) ** 2)
            ie_parts.append(ie + a)
            js_parts.append(up[js])
        ie = np.concatenate(ie_parts) if ie_parts else np.zeros(0, np.int64)
        js = np.concatenate(js_parts) if js_parts else np.zeros(0, np.int64)
        k = self.kind[js]
        ekind = ev["kind"][ie]
        az, _, d = GEOD.inv(self.lon[js], self.lat[js], ev["lon"][ie], ev["lat"][ie])
        az, d = np.asarray(az, float).reshape(-1), np.asarray(d, float).reshape(-1)
        launch = ekind == 0
        r50 = np.select([k <= ARR, k == OBS, k == CAM, k == UAV],
                        [np.where(launch, p.acoustic_r50_launch_m, p.acoustic_r50_impact_m),
                         p.observer_r50_m, p.camera_r50_m, p.uav_radius_m])
        width = np.select([k <= ARR, k == OBS, k == CAM, k == UAV],
                          [p.acoustic_width_m, p.observer_width_m, p.camera_width_m, 200.0])
        pmax = np.select([k <= ARR, k == OBS, k == CAM, k == UAV],
                         [p.acoustic_p_max, p.observer_p_max, p.camera_p_max, p.uav_p_max])
        prob = pmax * (1.0 - expit((d - r50) / width))
        # cameras: inside the field of view and range; UAVs: airborne at the event's time
        ex, ey = ev["x"][ie] - self.x[js], ev["y"][ie] - self.y[js]
        with np.errstate(invalid="ignore", divide="ignore"):
            cos_fov = (ex * self.face_x[js] + ey * self.face_y[js]) / np.hypot(ex, ey)
        cam_ok = (cos_fov >= math.cos(math.radians(p.camera_half_fov_deg))) & (d <= p.camera_range_m)
        prob = np.where(k == CAM, np.where(cam_ok, prob, 0.0), prob)
        t_ev = ev["time_s"][ie]
        hour = np.floor(t_ev / _HOUR).astype(np.int64)
        if np.any(k == UAV):
            airborne = np.zeros(len(k), bool)
            uav_pos = np.searchsorted(self.uav_index, js)
            for h in np.unique(hour[k == UAV]):
                s0, s1 = self.sorties(int(h))
                sel = (k == UAV) & (hour == h)
                q = uav_pos[sel]
                airborne[sel] = (t_ev[sel] >= s0[q]) & (t_ev[sel] < s1[q])
            prob = np.where(k == UAV, np.where(airborne, prob, 0.0), prob)
        hit = rng.random(len(prob)) < prob
        ie, js, k, ekind, az, d, t_ev, hour = (v[hit] for v in (ie, js, k, ekind, az, d, t_ev, hour))
        n = len(ie)
        z_jit, z_pick, z_b, z_r, z_t, z_e, z_n, u_cls = (
            _tnormal(rng, n), _tnormal(rng, n), _tnormal(rng, n), _tnormal(rng, n),
            _tnormal(rng, n), _tnormal(rng, n), _tnormal(rng, n), rng.random(n))
        # acoustic propagation with wind (moving medium: group speed along the path)
        winds = np.array([self.wind(int(h)) for h in range(int(hour.min()), int(hour.max()) + 1)]
                         if n else np.zeros((0, 2)))
        h0 = int(hour.min()) if n else 0
        we, wn = winds[hour - h0, 0] if n else np.zeros(0), winds[hour - h0, 1] if n else np.zeros(0)
        a = np.radians(az)
        ue, un = -np.sin(a), -np.cos(a)               # propagation: source -> sensor
        w_par = we * ue + wn * un
        pe, pn = we - w_par * ue, wn - w_par * un     # cross-wind
        c = self.c0 * (1.0 + p.celerity_jitter * z_jit)
        group = w_par + np.sqrt(np.maximum(c * c - (pe * pe + pn * pn), 1.0))
        toa = t_ev + d / group + self.clock_bias[js] + p.pick_sd_s * z_pick
        # apparent direction to the source: the wavefront normal, reversed
        app = np.degrees(np.arctan2(we - group * ue, wn - group * un))
        acoustic = k <= ARR
        nan = np.full(n, np.nan)
        time = np.where(acoustic, toa, np.where(k == OBS, t_ev + d / self.c0
                                                + p.observer_time_sd_s * z_t,
                                                t_ev + p.fix_time_sd_s * z_t))
        time_sd = np.select([acoustic, k == OBS], [p.pick_sd_s, p.observer_time_sd_s],
                            p.fix_time_sd_s)
        bearing = np.select([k == ARR, k == OBS],
                            [app + p.array_bearing_sd_deg * z_b, az + p.observer_bearing_sd_deg * z_b],
                            np.nan) % 360.0
        bearing_sd = np.select([k == ARR, k == OBS],
                               [p.array_bearing_sd_deg, p.observer_bearing_sd_deg], np.nan)
        rng_m = np.where(k == OBS, d * np.maximum(1.0 + p.observer_range_rel_sd * z_r, 0.2), np.nan)
        rng_sd = p.observer_range_rel_sd * rng_m
        fix = (k == CAM) | (k == UAV)
        flon, flat = _offset_lonlat(ev["lon"][ie], ev["lat"][ie], p.fix_sd_m * z_e, p.fix_sd_m * z_n)
        kind_out = np.where((k != MIC) & (u_cls < p.classify_correct), _EVENT_KINDS[ekind], "unknown")
        return {"sensor": js, "time": time, "time_sd": time_sd.astype(float),
                "bearing": bearing, "bearing_sd": bearing_sd.astype(float),
                "range": rng_m, "range_sd": rng_sd,
                "lon": np.where(fix, flon, nan), "lat": np.where(fix, flat, nan),
                "pos_sd": np.where(fix, p.fix_sd_m, nan), "kind": kind_out.astype(object),
                "temp": np.where(acoustic, p.temperature_c, nan), "event": ev["event_id"][ie]}

    def _clutter(self, rng: np.random.Generator, t0: float, t1: float) -> dict[str, np.ndarray]:
        p = self.p
        factor = np.select([self.kind <= ARR, (self.kind == OBS) | (self.kind == CAM)],
                           [1.0, p.other_clutter_factor], 0.0)
        lam = p.clutter_per_min_per_sensor / 60.0 * (t1 - t0) * factor * self.up
        counts = rng.poisson(lam)
        js = np.repeat(np.arange(len(self.kind)), counts)
        n = len(js)
        k = self.kind[js]
        time = rng.uniform(t0, t1, size=n)
        u_b, u_r, z_pick = rng.random(n), rng.random(n), _tnormal(rng, n)
        acoustic = k <= ARR
        nan = np.full(n, np.nan)
        # a camera's false fix: somewhere in its field of view
        half = math.radians(p.camera_half_fov_deg)
        face = np.arctan2(self.face_x[js], self.face_y[js])
        ang = face + (2 * u_b - 1) * half
        dist = 500.0 + u_r * (p.camera_range_m - 500.0)
        cx, cy = self.x[js] + dist * np.sin(ang), self.y[js] + dist * np.cos(ang)
        clon, clat = self.frame.to_lonlat(cx, cy) if n else (nan, nan)
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

    # -- chunks ---------------------------------------------------------------------------
    def chunks(self, chunk_s: float) -> Iterator[tuple[Detections, Truth]]:
        p = self.p
        n_blocks = int(math.ceil(p.duration_s / p.block_s - 1e-9))
        n_chunks = 1 if not math.isfinite(chunk_s) else max(1, int(math.ceil(p.duration_s / chunk_s - 1e-9)))
        pend_ev: list[dict] = []
        pend_det: list[dict] = []
        nxt = 0
        for c in range(n_chunks):
            last = c == n_chunks - 1
            end = math.inf if last else (c + 1) * chunk_s
            while nxt < n_blocks and nxt * p.block_s - self.early_s < end:
                ev, det = self.block(nxt)
                pend_ev.append(ev)
                pend_det.append(det)
                nxt += 1
            ev = _cat(pend_ev)
            det = _cat(pend_det)
            ev_now = ev["pair_time_s"] < end
            det_now = det["time"] < end
            pend_ev = [{k: v[~ev_now] for k, v in ev.items()}]
            pend_det = [{k: v[~det_now] for k, v in det.items()}]
            yield self._detections({k: v[det_now] for k, v in det.items()}), \
                self._truth({k: v[ev_now] for k, v in ev.items()},
                            {k: v[det_now] for k, v in det.items()})

    def _detections(self, d: dict[str, np.ndarray]) -> Detections:
        s = self.p.start_s
        return Detections.from_columns(
            d["ids"], d["sensor"], d["time"] + s, d["time_sd"], bearing_deg=d["bearing"],
            bearing_sd_deg=d["bearing_sd"], range_m=d["range"], range_sd_m=d["range_sd"],
            lon=d["lon"], lat=d["lat"], position_sd_m=d["pos_sd"], kind=d["kind"],
            temperature_c=d["temp"])

    def _truth(self, ev: dict[str, np.ndarray], det: dict[str, np.ndarray]) -> Truth:
        return Truth(ev["event_id"].astype(np.int64), _EVENT_KINDS[ev["kind"]], ev["lon"],
                     ev["lat"], ev["time_s"] + self.p.start_s, ev["side"].astype(object),
                     ev["pair_id"].astype(np.int64),
                     detection_event=dict(zip(det["ids"].tolist(), det["event"].tolist())))


def _default_ids(kind: np.ndarray) -> np.ndarray:
    """``MIC-0001``, ``ARR-0001``, ... numbered per kind in the given order."""
    prefix = {MIC: "MIC", ARR: "ARR", OBS: "OP", CAM: "CAM", UAV: "UAV"}
    ids = np.empty(len(kind), dtype=object)
    for k, pre in prefix.items():
        sel = np.flatnonzero(kind == k)
        ids[sel] = [f"{pre}-{i + 1:04d}" for i in range(len(sel))]
    return ids


def _cat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([q[k] for q in parts]) for k in parts[0]}


def _offset_lonlat(lon: np.ndarray, lat: np.ndarray, east_m: np.ndarray, north_m: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Move points by small east/north offsets (metres) on the WGS84 ellipsoid."""
    s = np.sin(np.radians(lat))
    w = 1.0 - _E2 * s * s
    n_radius = _A / np.sqrt(w)
    m_radius = _A * (1.0 - _E2) / (w * np.sqrt(w))
    return (lon + np.degrees(east_m / (n_radius * np.cos(np.radians(lat)))),
            lat + np.degrees(north_m / m_radius))
