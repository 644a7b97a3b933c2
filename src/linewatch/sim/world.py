"""A seeded simulator of raw sensor data along an agreement's line (fusion.md §5.1).

Pure numpy, no I/O: the same agreement, parameters and seed give the same sensors, detections
and ground truth. ``linewatch.formats.sensors`` writes them in the public formats
(``docs/fusion-formats.md``). The parts of a run live in their own modules: the scenario's
numbers (:mod:`~linewatch.sim.scenarios`), the stretch of line (:mod:`~linewatch.sim.stretch`),
the sensors (:mod:`~linewatch.sim.layout`), the wind and UAV sorties per hour
(:mod:`~linewatch.sim.conditions`), the launches and impacts (:mod:`~linewatch.sim.events`),
what the sensors report of them (:mod:`~linewatch.sim.sensing`), and the network a run used
(:mod:`~linewatch.sim.network`). This module runs them, block by block.

**Randomness and chunks.** Events and clutter are generated in fixed blocks of ``block_s``
seconds, each from its own seed sequence ``(seed, 2, block)``; the wind and UAV sorties per hour
from ``(seed, 1, hour)`` and ``(seed, 3, hour)``; the layout from ``(seed, 0)``. So the outcome
does not depend on how it is cut: :func:`simulate_chunks` emits, for chunk ``k``, every
detection whose *time* lies in ``[k·chunk_s, (k+1)·chunk_s)`` from the start (the first chunk
also takes earlier ones, the last all later ones: events near the end are heard after it), the
blocks being generated one step ahead of the chunk boundary; and the truth of every pair
*launched* in that interval. Detections of an event may therefore come in the chunk after its
truth. The concatenation of the chunks equals :func:`simulate` exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from linewatch.agreement import Agreement
from linewatch.geo import GEOD
from linewatch.model import Detections, Sensors, Truth, sound_speed_m_s
from linewatch.sim.conditions import HourlyConditions
from linewatch.sim.events import EVENT_KINDS, draw_events
from linewatch.sim.layout import CAM, Layout, given_layout, row_layout
from linewatch.sim.network import SimNetwork
from linewatch.sim.scenarios import HOUR_S, ScenarioParams, check_params
from linewatch.sim.sensing import Columns, clutter, hear
from linewatch.sim.streams import BLOCKS, rng_stream
from linewatch.sim.stretch import Stretch

__all__ = ["SimResult", "concat_detections", "concat_truth", "simulate", "simulate_chunks",
           "simulated_network"]


@dataclass(frozen=True)
class SimResult:
    """A whole run: the sensors, their detections, the ground truth, and the network used."""

    sensors: Sensors
    detections: Detections
    truth: Truth
    #: the network behind the detections (outages, camera views, UAV sorties)
    network: SimNetwork | None = None


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
    if not parts:
        return Truth(np.array([], np.int64), np.array([], object), np.array([]), np.array([]),
                     np.array([]), np.array([], object), np.array([], np.int64), {})
    det: dict[str, int] = {}
    for p in parts:
        det.update(p.detection_event)

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])

    return Truth(cat("event_id"), cat("kind"), cat("lon"), cat("lat"), cat("time_s"), cat("side"),
                 cat("pair_id"), detection_event=det)


# -- the world: a run's network and its blocks ------------------------------------------------

class _World:
    """One run: its stretch, sensors and hourly conditions, and its blocks of events."""

    def __init__(self, agreement: Agreement, p: ScenarioParams, seed: int,
                 layout: Layout | None = None) -> None:
        check_params(p)
        self.stretch = Stretch(agreement, p)
        self.p, self.seed = p, seed
        self.c0 = float(sound_speed_m_s(p.temperature_c))
        self.parties = (next(q for q in agreement.party_ids if agreement.side_of[q] == "left"),
                        next(q for q in agreement.party_ids if agreement.side_of[q] == "right"))
        self.field = (row_layout(self.stretch, p, seed) if layout is None
                      else given_layout(self.stretch, p, seed, layout))
        self.sensors = self.field.sensors
        self.conditions = HourlyConditions(p, seed, len(self.field.uav_index))
        # detections are never earlier than their block's start minus this
        self.early_s = 5.0 * max(p.observer_time_sd_s, p.fix_time_sd_s,
                                 p.pick_sd_s + p.clock_bias_sd_s) + 1.0

    def network(self) -> SimNetwork:
        """What the run applies: outages, camera axes, UAV sorties (see :class:`SimNetwork`)."""
        p, f = self.p, self.field
        t0 = p.start_s
        run_end = p.duration_s + p.impact_range_km[1] * 1000.0 / p.projectile_speed_m_s * 1.01 + 1.0
        cams = np.flatnonzero(f.kind == CAM)
        azimuth = np.full(len(f.kind), np.nan)
        if len(cams):
            # the axis in the frame, as a true azimuth: 1 km along it, then the geodesic azimuth
            alon, alat = self.stretch.frame.to_lonlat(f.x[cams] + 1000.0 * f.face_x[cams],
                                                      f.y[cams] + 1000.0 * f.face_y[cams])
            az, _, _ = GEOD.inv(f.lon[cams], f.lat[cams], np.asarray(alon), np.asarray(alat))
            azimuth[cams] = np.asarray(az, float) % 360.0
        sensor, start, end = [], [], []
        for hour in range(int(math.ceil(run_end / HOUR_S))):
            s0, s1 = self.conditions.sorties(hour)
            fly = np.flatnonzero((s1 > s0) & (s0 < run_end))     # sorties the run can use
            sensor.append(f.uav_index[fly])
            start.append(s0[fly] + t0)
            end.append(s1[fly] + t0)
        return SimNetwork(self.sensors, p, ~f.up, float(t0), float(t0 + run_end), azimuth,
                          _cat_or_empty(sensor, np.int64).astype(np.int64),
                          _cat_or_empty(start, np.float64), _cat_or_empty(end, np.float64))

    def block(self, b: int) -> tuple[Columns, Columns]:
        """Events (with truth) and detections of block ``b``; times in seconds from the start."""
        p = self.p
        rng = rng_stream(self.seed, BLOCKS, b)
        t0 = b * p.block_s
        t1 = min((b + 1) * p.block_s, p.duration_s)
        ev = draw_events(rng, self.stretch, p, self.parties, t0, t1)
        base = b * 1_000_000
        ev["event_id"] = base + np.arange(len(ev["kind"]))
        ev["pair_id"] = base + ev["pair"]
        heard = hear(rng, ev, self.field, p, self.conditions, self.c0)
        false = clutter(rng, self.field, p, self.stretch.frame, t0, t1)
        det = {k: np.concatenate([heard[k], false[k]]) for k in heard}
        n = len(det["sensor"])
        det["ids"] = np.array([f"D{b:05d}{i:07d}" for i in range(n)], dtype=object)
        return ev, det

    # -- chunks ---------------------------------------------------------------------------
    def chunks(self, chunk_s: float) -> Iterator[tuple[Detections, Truth]]:
        """The run in chunks of ``chunk_s`` (see the module docstring)."""
        p = self.p
        n_blocks = int(math.ceil(p.duration_s / p.block_s - 1e-9))
        n_chunks = 1 if not math.isfinite(chunk_s) else max(1, int(math.ceil(p.duration_s / chunk_s - 1e-9)))
        pend_ev: list[Columns] = []
        pend_det: list[Columns] = []
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

    def _detections(self, d: Columns) -> Detections:
        s = self.p.start_s
        return Detections.from_columns(
            d["ids"], d["sensor"], d["time"] + s, d["time_sd"], bearing_deg=d["bearing"],
            bearing_sd_deg=d["bearing_sd"], range_m=d["range"], range_sd_m=d["range_sd"],
            lon=d["lon"], lat=d["lat"], position_sd_m=d["pos_sd"], kind=d["kind"],
            temperature_c=d["temp"])

    def _truth(self, ev: Columns, det: Columns) -> Truth:
        return Truth(ev["event_id"].astype(np.int64), EVENT_KINDS[ev["kind"]], ev["lon"],
                     ev["lat"], ev["time_s"] + self.p.start_s, ev["side"].astype(object),
                     ev["pair_id"].astype(np.int64),
                     detection_event=dict(zip(det["ids"].tolist(), det["event"].tolist())))


def _cat(parts: list[Columns]) -> Columns:
    return {k: np.concatenate([q[k] for q in parts]) for k in parts[0]}


def _cat_or_empty(parts: list[np.ndarray], dtype: type[np.generic]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype)
