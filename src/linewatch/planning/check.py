"""The independent check of a sensor layout (a mission plan): simulate, fuse, measure.

A plan promises a detection probability and a localisation bound along the line; this module
measures what the layout really delivers, by the same means the mission's data would go
through (docs/plan-check.md):

1. :func:`linewatch.sim.simulate` runs the scenario (``ScenarioParams``: its events,
   noises, outages, clutter) on the layout's sensors, seeded;
2. :func:`linewatch.fusion.fuse` turns the detections into located incidents, with the
   fusion parameters the benchmark uses (the scenario's temperature and celerity jitter);
3. the incidents are matched to the true events as :func:`linewatch.fusion.match_events` matches
   them (one-to-one, sharing at least 60 % of the larger detection set), and every true
   *launch* is scored: *heard* (at least one sensor detected it), *detected* (matched by an
   incident that lies within ``max_error_m`` of it), its localisation error (geodesic, truth
   to estimate) and the Cramér–Rao bound at its true place from the incident's own detections
   of it (:func:`linewatch.fusion.crlb_trace_at`, the simulator's true noise, no wind allowance);
4. the figures are given overall and per stretch: chainage bins of ``stretch_km`` aligned on
   multiples of it from the line's start (as :func:`~linewatch.planning.weakest_stretches` bins them),
   clipped to the simulated stretch; a launch falls in the bin of its nearest place on the
   line. A plan's promises per stretch (``promised``) are carried beside the measurements.

Pure: no files, no clock, no printing; the same inputs and seed give the same figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import partial
from typing import Any

import numpy as np

from linewatch.agreement import Agreement
from linewatch.fusion import (
    FusionParams,
    FusionResult,
    crlb_trace_at,
    fuse,
    match_events,
    offsets_en_m,
    truth_detection_sets,
)
from linewatch.geo import LineIndex
from linewatch.model import Truth
from linewatch.sim import Layout, ScenarioParams, SimResult, simulate

__all__ = ["MAX_ERROR_M", "LaunchTable", "LayoutCheck", "Promise", "StretchTable", "check_layout",
           "stretch_bins_km"]

#: a matched incident farther than this from the true launch does not count as detected
MAX_ERROR_M = 5_000.0

#: one promise for every stretch, or one per stretch (None or NaN: no promise there)
Promise = float | None | Sequence[float | None] | np.ndarray
#: ``map`` or a pool's map, for the fusion engine's worker processes
MapFn = Callable[..., Iterable[Any]]


@dataclass(frozen=True, eq=False)
class StretchTable:
    """Per stretch of the line (columns, one row per stretch, in chainage order).

    ``promised`` holds the plan's promises per stretch (key -> column; NaN: none), next to
    the measured figures."""

    from_km: np.ndarray
    to_km: np.ndarray
    n_launches: np.ndarray
    n_heard: np.ndarray
    n_enough: np.ndarray
    n_detected: np.ndarray
    heard_share: np.ndarray
    enough_share: np.ndarray
    detection_share: np.ndarray
    rmse_m: np.ndarray
    median_error_m: np.ndarray
    p95_error_m: np.ndarray
    crlb_m: np.ndarray
    rho: np.ndarray
    promised: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.from_km)

    def rows(self) -> list[dict[str, object]]:
        """One mapping per stretch, each promise beside the figures as ``promised_<key>``."""
        names = [f.name for f in fields(self) if f.name != "promised"]
        out = []
        for r in range(len(self)):
            row = {n: _plain(getattr(self, n)[r]) for n in names}
            row.update({f"promised_{k}": _plain(v[r]) for k, v in self.promised.items()})
            out.append(row)
        return out


@dataclass(frozen=True, eq=False)
class LaunchTable:
    """Per true launch of the run (columns)."""

    event_id: np.ndarray        # the truth's event id
    chainage_km: np.ndarray     # of its nearest place on the line
    stretch: np.ndarray         # row of StretchTable it falls in
    n_detections: np.ndarray    # detections that truly came from it (any sensor)
    detected: np.ndarray        # bool: matched by an incident within max_error_m
    error_m: np.ndarray         # distance truth -> matched incident (NaN: no match)
    crlb_m: np.ndarray          # √trace(CRLB) from the incident's own detections (detected
                                # launches; NaN otherwise or where unbounded)

    def __len__(self) -> int:
        return len(self.event_id)


@dataclass(frozen=True, eq=False)
class LayoutCheck:
    """What a layout measurably delivers on one seeded scenario (see the module docstring).

    Shares are over all true launches of the run (a launch no sensor heard counts as missed);
    the error figures over the detected launches; ``crlb_m`` is the mean √trace(CRLB) and
    ``rho`` = sqrt(mean(error² / trace(CRLB))) over the detected launches with a finite bound.
    NaN where there is nothing to measure."""

    scenario: str
    seed: int
    from_km: float
    to_km: float
    stretch_km: float
    max_error_m: float
    n_sensors: int
    n_sensors_down: int
    n_events: int               # true events, launches and impacts
    n_launches: int
    n_detections: int           # all detections, clutter included
    n_clutter: int
    n_incidents: int            # what fusion located (launches, impacts, ghosts)
    n_heard: int                # launches at least one sensor detected
    n_enough: int               # launches at least ``enough_detections`` sensors detected
    n_detected: int             # launches located: matched, within max_error_m
    n_mislocated: int           # launches matched by an incident beyond max_error_m
    heard_share: float
    enough_share: float
    detection_share: float
    rmse_m: float
    median_error_m: float
    p95_error_m: float
    crlb_m: float
    rho: float
    stretches: StretchTable
    launches: LaunchTable

    def as_dict(self, *, launches: bool = False) -> dict[str, object]:
        """Plain JSON-ready values (NaN as None): the figures, ``stretches`` as a list of rows
        (:meth:`StretchTable.rows`), and with ``launches=True`` one row per launch."""
        out: dict[str, object] = {f.name: _plain(getattr(self, f.name)) for f in fields(self)
                                  if f.name not in {"stretches", "launches"}}
        out["stretches"] = self.stretches.rows()
        if launches:
            t = self.launches
            names = [f.name for f in fields(t)]
            out["launches"] = [{n: _plain(getattr(t, n)[r]) for n in names} for r in range(len(t))]
        return out


def stretch_bins_km(agreement: Agreement, params: ScenarioParams, stretch_km: float = 20.0
                    ) -> np.ndarray:
    """The stretches a check reports, as ``(n, 2)`` chainage km ``[from, to)``: bins of
    ``stretch_km`` aligned on its multiples, clipped to the scenario's stretch of the line."""
    if not stretch_km > 0:
        raise ValueError(f"stretch_km must be positive, got {stretch_km!r}")
    if agreement.line_index is None:
        raise ValueError(f"agreement {agreement.id!r} has no line")
    length = agreement.line_index.length_m
    ch0 = min(max(params.line_from_km * 1000.0, 0.0), length)
    ch1 = length if params.line_to_km is None else min(max(params.line_to_km * 1000.0, 0.0), length)
    step = stretch_km * 1000.0
    b0 = math.floor(ch0 / step + 1e-9)
    b1 = max(b0 + 1, math.ceil(ch1 / step - 1e-9))
    lo = np.maximum(np.arange(b0, b1) * step, ch0)
    hi = np.minimum(np.arange(b0 + 1, b1 + 1) * step, ch1)
    return np.column_stack([lo, hi]) / 1000.0


def check_layout(agreement: Agreement, layout: Layout, *, params: ScenarioParams, seed: int,
                 stretch_km: float = 20.0, promised: Mapping[str, Promise] | None = None,
                 fusion: FusionParams | None = None, max_error_m: float = MAX_ERROR_M,
                 enough_detections: int | None = None, map_fn: MapFn = map) -> LayoutCheck:
    """Simulate ``params`` on ``layout`` (seeded), fuse, and measure against the truth.

    ``promised`` maps a promise's name (e.g. ``"detection_probability"``, ``"crlb_m"``) to
    one value for every stretch or a sequence with one per stretch of
    :func:`stretch_bins_km` (NaN or None: no promise there). ``fusion`` overrides the fusion
    parameters (default: the scenario's temperature and celerity jitter, as the benchmark);
    ``map_fn`` is passed to :func:`linewatch.fusion.fuse` (worker processes).
    ``enough_detections`` (default: fusion's ``min_sensors``): a launch that many sensors detect
    has enough to be located; ``enough_share`` counts them, whether fusion located them or not.
    """
    if not max_error_m > 0:
        raise ValueError(f"max_error_m must be positive, got {max_error_m!r}")
    bins = stretch_bins_km(agreement, params, stretch_km)
    promises = _promises(promised, len(bins))
    sim = simulate(agreement, params, seed=seed, layout=layout)
    fp = fusion if fusion is not None else FusionParams(temperature_c=params.temperature_c,
                                                         celerity_jitter=params.celerity_jitter)
    result = fuse(sim.sensors, sim.detections, agreement=agreement, params=fp, map_fn=map_fn)
    launches = _launches(agreement, sim, result, bins, params, max_error_m)
    heard = launches.n_detections > 0
    enough = launches.n_detections >= (enough_detections if enough_detections is not None else fp.min_sensors)
    figures = partial(_figures, heard=heard, enough=enough, detected=launches.detected,
                      error_m=launches.error_m, crlb_m=launches.crlb_m)
    overall = figures(np.ones(len(launches), bool))
    stretches = _stretch_table(bins, [figures(launches.stretch == b) for b in range(len(bins))], promises)
    labels = np.fromiter(sim.truth.detection_event.values(), dtype=np.int64,
                         count=len(sim.truth.detection_event))
    mislocated = np.isfinite(launches.error_m) & ~launches.detected
    return LayoutCheck(
        scenario=params.name, seed=int(seed), from_km=float(bins[0, 0]),
        to_km=float(bins[-1, 1]), stretch_km=float(stretch_km), max_error_m=float(max_error_m),
        n_sensors=len(sim.sensors),
        n_sensors_down=int(np.sum(sim.network.down)) if sim.network is not None else 0,
        n_events=len(sim.truth.event_id), n_launches=len(launches), n_detections=len(sim.detections),
        n_clutter=int(np.sum(labels < 0)), n_incidents=len(result.incidents),
        n_heard=int(heard.sum()), n_enough=int(enough.sum()),
        n_detected=int(launches.detected.sum()), n_mislocated=int(mislocated.sum()),
        heard_share=overall["heard_share"], enough_share=overall["enough_share"],
        detection_share=overall["detection_share"],
        rmse_m=overall["rmse_m"], median_error_m=overall["median_error_m"],
        p95_error_m=overall["p95_error_m"], crlb_m=overall["crlb_m"], rho=overall["rho"],
        stretches=stretches, launches=launches)


def _launches(agreement: Agreement, sim: SimResult, result: FusionResult, bins: np.ndarray,
              params: ScenarioParams, max_error_m: float) -> LaunchTable:
    """The true launches of the run: where along the line, how often heard, and how well
    fusion located them (its incidents matched to the truth)."""
    truth = sim.truth
    launch = np.flatnonzero(truth.kind == "launch")
    event_id = truth.event_id[launch].astype(np.int64)
    chainage_km = np.zeros(len(launch))
    if len(launch):
        lon, lat = truth.lon[launch], truth.lat[launch]
        x, y = result.frame.to_xy(lon, lat)
        chainage_km = np.asarray(_line(agreement).nearest(
            np.asarray(x), np.asarray(y), lat).chainage_m, dtype=float) / 1000.0
    stretch = np.clip(np.searchsorted(bins[:, 1], chainage_km, side="right"), 0, len(bins) - 1)
    noise = FusionParams(temperature_c=params.temperature_c,
                         celerity_jitter=params.celerity_jitter, wind_allowance_m_s=0.0)
    error_m, crlb_m = _located(sim, result, launch, event_id, noise)
    detected = np.isfinite(error_m) & (error_m <= max_error_m)
    return LaunchTable(event_id, chainage_km, stretch.astype(np.int64),
                       _heard_counts(truth, event_id).astype(np.int64), detected, error_m,
                       np.where(detected, crlb_m, np.nan))


def _line(agreement: Agreement) -> LineIndex:
    if agreement.line_index is None:
        raise ValueError(f"agreement {agreement.id!r} has no line")
    return agreement.line_index


def _heard_counts(truth: Truth, event_id: np.ndarray) -> np.ndarray:
    """Per event, the detections that truly came from it (any sensor)."""
    labels = np.fromiter(truth.detection_event.values(), dtype=np.int64,
                         count=len(truth.detection_event))
    heard_ids, heard_counts = np.unique(labels[labels >= 0], return_counts=True)
    n_dets = np.zeros(len(event_id), np.int64)
    if len(heard_ids):
        pos = np.clip(np.searchsorted(heard_ids, event_id), 0, len(heard_ids) - 1)
        n_dets = np.where(heard_ids[pos] == event_id, heard_counts[pos], 0)
    return n_dets


def _located(sim: SimResult, result: FusionResult, launch: np.ndarray, event_id: np.ndarray,
             noise: FusionParams) -> tuple[np.ndarray, np.ndarray]:
    """Per launch, the distance to the incident matched to it and the √trace(CRLB) at its true
    place from that incident's own detections of it (NaN: no match, or unbounded)."""
    truth, det = sim.truth, sim.detections
    truth_sets = truth_detection_sets(truth)
    inc_sets = [frozenset(str(d) for d in inc.detections) for inc in result.incidents]
    match = {event: i for i, event in match_events(inc_sets, truth_sets)}
    row_of = {str(d): r for r, d in enumerate(det.ids)}
    error_m = np.full(len(launch), np.nan)
    crlb_m = np.full(len(launch), np.nan)
    for k in range(len(launch)):
        i = match.get(int(event_id[k]))
        if i is None:
            continue
        inc = result.incidents[i]
        lon0, lat0 = float(truth.lon[launch[k]]), float(truth.lat[launch[k]])
        error_m[k] = float(np.hypot(*offsets_en_m(lon0, lat0, inc.lon, inc.lat)[0]))
        own = sorted(row_of[d] for d in set(inc.detections) & truth_sets[int(event_id[k])]
                     if d in row_of)
        if own:
            tr = crlb_trace_at(sim.sensors, det, np.array(own), lon0, lat0, frame=result.frame,
                               c_m_s=result.c_m_s, noise=noise)
            crlb_m[k] = math.sqrt(tr) if math.isfinite(tr) and tr > 0 else math.nan
    return error_m, crlb_m


def _stretch_table(bins: np.ndarray, per: list[dict[str, float]], promises: dict[str, np.ndarray]
                   ) -> StretchTable:
    """The figures of each stretch (:func:`_figures`) as columns."""
    def col(name: str, dtype: type = float) -> np.ndarray:
        return np.array([f[name] for f in per], dtype=dtype)
    return StretchTable(
        from_km=bins[:, 0].copy(), to_km=bins[:, 1].copy(), n_launches=col("n", np.int64),
        n_heard=col("n_heard", np.int64), n_enough=col("n_enough", np.int64),
        n_detected=col("n_detected", np.int64), heard_share=col("heard_share"),
        enough_share=col("enough_share"), detection_share=col("detection_share"),
        rmse_m=col("rmse_m"), median_error_m=col("median_error_m"),
        p95_error_m=col("p95_error_m"), crlb_m=col("crlb_m"), rho=col("rho"), promised=promises)


def _figures(sel: np.ndarray, heard: np.ndarray, enough: np.ndarray, detected: np.ndarray,
             error_m: np.ndarray, crlb_m: np.ndarray) -> dict[str, float]:
    """Shares, errors and bounds over the launches ``sel``."""
    n = int(sel.sum())
    e = error_m[sel & detected]
    bounded = sel & detected & np.isfinite(crlb_m)
    nan = math.nan
    return {
        "n": n, "n_heard": int((sel & heard).sum()), "n_enough": int((sel & enough).sum()),
        "n_detected": len(e),
        "heard_share": float((sel & heard).sum() / n) if n else nan,
        "enough_share": float((sel & enough).sum() / n) if n else nan,
        "detection_share": len(e) / n if n else nan,
        "rmse_m": float(np.sqrt(np.mean(e ** 2))) if len(e) else nan,
        "median_error_m": float(np.median(e)) if len(e) else nan,
        "p95_error_m": float(np.percentile(e, 95)) if len(e) else nan,
        "crlb_m": float(np.mean(crlb_m[bounded])) if bounded.any() else nan,
        "rho": (float(np.sqrt(np.mean(error_m[bounded] ** 2 / crlb_m[bounded] ** 2)))
                if bounded.any() else nan),
    }


def _promises(promised: Mapping[str, Promise] | None, n_bins: int) -> dict[str, np.ndarray]:
    """Each promise as one value per stretch (NaN: none)."""
    out: dict[str, np.ndarray] = {}
    for key, value in (promised or {}).items():
        values = np.asarray(value, dtype=object)
        if values.ndim == 0:
            v = values.item()
            out[str(key)] = np.full(n_bins, math.nan if v is None else float(v))
            continue
        arr = np.array([math.nan if v is None else float(v) for v in values], dtype=float)
        if len(arr) != n_bins:
            raise ValueError(f"promised[{key!r}] has {len(arr)} values; the check has "
                             f"{n_bins} stretches (stretch_bins_km)")
        out[str(key)] = arr
    return out


def _plain(v: object) -> object:
    """A JSON-ready scalar: numpy to Python, NaN and infinities to None."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
