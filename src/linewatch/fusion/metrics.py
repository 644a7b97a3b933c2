"""How well fused incidents match the ground truth: association, localization and side.

Definitions (fusion.md §4.2, §5.2; issue 3, "Metrics and benchmark"):

* **Matching.** An incident and a true event match when they share at least ``min_share``
  (0.6) of the larger of the two detection sets: ``|I ∩ T| / max(|I|, |T|) ≥ 0.6`` (PyOcto's
  benchmark criterion), one-to-one, greedily by share (ties: larger intersection, then the
  lower incident index, then the lower event id). With ``min_share > 0.5`` and disjoint sets
  on both sides, every incident can only reach the threshold with one event anyway.
* **Counted events.** Only true events with at least ``min_detections`` (4) detections count
  towards recall: fewer arrival times cannot fix a position and an origin time with any
  redundancy. An incident that matches such a barely-heard event is neither a true nor a
  false positive (it is left out of the precision).
* **Ghost**: an unmatched incident in which no single true event holds a majority (more than
  half) of the detections: assembled from clutter or from scraps of several events.
  **Merged**: an incident holding at least ``merge_min_detections`` (3) detections of each of
  two or more true events. **Split**: a counted true event left unmatched whose detections
  are spread over two or more incidents with at least ``merge_min_detections`` each.
* **Localization.** For each matched pair, the error is the geodesic east/north offset from
  the truth to the estimate (``pyproj.Geod``). ``ρ = sqrt(mean(|e|² / trace(CRLB)))`` with the
  Cramér–Rao bound at the *true* position from the incident's detections that truly belong to
  the event, under the noise model the caller passes (pick, clock and celerity jitter; no
  allowance for wind: a wind bias shows up as ρ > 1). Coverage is the share of matched truths
  inside the incident's own 95 % ellipse (Mahalanobis² ≤ 5.991 under ``cov_en_m2``).
* **Side**, for matched true launches: wrong-side rate = wrong / decided, abstention rate =
  abstained / matched launches (an incident with ``side`` None abstains).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np
import numpy.typing as npt

from linewatch.fusion.estimation import crlb_position
from linewatch.fusion.locating import measurements_for
from linewatch.fusion.params import FusionParams
from linewatch.geo import GEOD, WorkingFrame
from linewatch.model import Detections, Incident, Sensors, Truth

__all__ = ["AssociationScores", "CHI2_95_2D", "LocalizationScores", "Scores", "SideScores",
           "association_scores", "crlb_trace_at", "error_statistics", "heard_by", "localization_scores",
           "match_events", "offsets_en_m", "pool_scores", "score_incidents", "side_scores",
           "truth_detection_sets"]

CHI2_95_2D = 5.991464547107979


# -- association --------------------------------------------------------------------------------

def truth_detection_sets(truth: Truth) -> dict[int, frozenset[str]]:
    """Each true event's detection ids (clutter, event id −1, left out)."""
    groups: dict[int, set[str]] = defaultdict(set)
    for det_id, event in truth.detection_event.items():
        if event >= 0:
            groups[int(event)].add(str(det_id))
    return {e: frozenset(ids) for e, ids in sorted(groups.items())}


def _overlaps(incident_sets: Sequence[frozenset[str]], truth_sets: Mapping[int, frozenset[str]]
              ) -> list[Counter[int]]:
    """For each incident: true event id -> number of its detections in the incident."""
    owner: dict[str, list[int]] = defaultdict(list)
    for event, ids in truth_sets.items():
        for det_id in ids:
            owner[det_id].append(event)
    out = []
    for ids in incident_sets:
        c: Counter[int] = Counter()
        for det_id in ids:
            for event in owner.get(det_id, ()):
                c[event] += 1
        out.append(c)
    return out


def match_events(incident_detection_sets: Sequence[frozenset[str]],
                 truth_detection_sets: Mapping[int, frozenset[str]], *,
                 min_share: float = 0.6) -> list[tuple[int, int]]:
    """One-to-one ``(incident index, true event id)`` pairs sharing ≥ ``min_share`` of
    ``max(|incident|, |event|)`` detections, chosen greedily by share; sorted by incident.

    The first incident holds 4 of event 7's 5 detections (a share of 0.8); the second holds 2
    of its own 6 that are event 8's (a third):

    >>> match_events([frozenset("abcd"), frozenset("uvwxyz")],
    ...              {7: frozenset("abcde"), 8: frozenset("yz")})
    [(0, 7)]
    """
    candidates = []
    for i, counts in enumerate(_overlaps(incident_detection_sets, truth_detection_sets)):
        n_i = len(incident_detection_sets[i])
        for event, n in counts.items():
            share = n / max(n_i, len(truth_detection_sets[event]))
            if share >= min_share:
                candidates.append((-share, -n, i, event))
    candidates.sort()
    taken_i: set[int] = set()
    taken_e: set[int] = set()
    pairs = []
    for _, _, i, event in candidates:
        if i not in taken_i and event not in taken_e:
            taken_i.add(i)
            taken_e.add(event)
            pairs.append((i, event))
    return sorted(pairs)


@dataclass(frozen=True)
class AssociationScores:
    n_incidents: int
    n_events: int                # true events with at least ``min_detections`` detections
    true_positives: int
    n_predicted: int             # incidents less those matching a barely-heard event
    precision: float
    recall: float
    f1: float
    ghosts: int
    merged: int
    split: int
    extra_per_event: float       # detections in a matched incident that are not the event's
    missing_per_event: float     # the event's detections the matched incident lacks


def association_scores(incident_detection_sets: Sequence[frozenset[str]],
                       truth_detection_sets: Mapping[int, frozenset[str]], *,
                       min_share: float = 0.6, min_detections: int = 4,
                       merge_min_detections: int = 3,
                       pairs: Sequence[tuple[int, int]] | None = None,
                       counted: Collection[int] | None = None) -> AssociationScores:
    """Precision, recall and F1 over the counted events, plus ghosts, merges and splits
    (definitions in the module docstring). With no incidents the precision is 1; with no
    counted events the recall is 1. ``counted``: the events to count, if not those with at
    least ``min_detections`` detections (e.g. :func:`heard_by` at least 7 sensors); an
    incident that matches another event is then left out of the precision."""
    if pairs is None:
        pairs = match_events(incident_detection_sets, truth_detection_sets, min_share=min_share)
    counted = ({e for e, ids in truth_detection_sets.items() if len(ids) >= min_detections}
               if counted is None else set(counted))
    tp_pairs = [(i, e) for i, e in pairs if e in counted]
    tp = len(tp_pairs)
    n_pred = len(incident_detection_sets) - (len(pairs) - tp)
    precision = tp / n_pred if n_pred else 1.0
    recall = tp / len(counted) if counted else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0

    overlaps = _overlaps(incident_detection_sets, truth_detection_sets)
    matched_i = {i for i, _ in pairs}
    matched_e = {e for _, e in pairs}
    ghosts = sum(1 for i, c in enumerate(overlaps) if i not in matched_i
                 and (not c or 2 * max(c.values()) <= len(incident_detection_sets[i])))
    merged = sum(1 for c in overlaps if sum(n >= merge_min_detections for n in c.values()) >= 2)
    pieces: Counter[int] = Counter(e for c in overlaps for e, n in c.items() if n >= merge_min_detections)
    split = sum(1 for e in counted - matched_e if pieces[e] >= 2)
    extra = [len(incident_detection_sets[i] - truth_detection_sets[e]) for i, e in tp_pairs]
    missing = [len(truth_detection_sets[e] - incident_detection_sets[i]) for i, e in tp_pairs]
    return AssociationScores(
        n_incidents=len(incident_detection_sets), n_events=len(counted), true_positives=tp,
        n_predicted=n_pred, precision=precision, recall=recall, f1=f1, ghosts=ghosts, merged=merged, split=split,
        extra_per_event=float(np.mean(extra)) if extra else math.nan,
        missing_per_event=float(np.mean(missing)) if missing else math.nan)


def heard_by(truth: Truth, sensors: Sensors, detections: Detections, n_sensors: int) -> set[int]:
    """The true events whose arrival times at least ``n_sensors`` distinct microphones and
    arrays measured: those the association must not miss, whatever the clutter."""
    row = {str(d): k for k, d in enumerate(detections.ids)}
    acoustic = np.isin(sensors.kind, ["microphone", "array"])
    out = set()
    for event, ids in truth_detection_sets(truth).items():
        rows = [row[d] for d in ids if d in row]
        heard = {int(s) for s in detections.sensor[rows] if acoustic[s]}
        if len(heard) >= n_sensors:
            out.add(event)
    return out


# -- localization -------------------------------------------------------------------------------

@dataclass(frozen=True)
class LocalizationScores:
    n: int                       # matched pairs with a finite bound
    rho: float                   # sqrt(mean(|e|² / trace(CRLB)))
    median_error_m: float
    p90_error_m: float
    rmse_m: float
    coverage95: float            # share inside the incident's 95 % ellipse (NaN: no ellipses)
    n_coverage: int


def error_statistics(error_en_m: np.ndarray, crlb_trace_m2: np.ndarray,
                     cov_en_m2: np.ndarray) -> LocalizationScores:
    """The localization scores from per-event east/north errors ``(n, 2)``, the traces of
    their bounds ``(n,)`` and the estimates' own covariances ``(n, 2, 2)`` (NaN: none)."""
    e = np.asarray(error_en_m, dtype=float).reshape(-1, 2)
    tr = np.asarray(crlb_trace_m2, dtype=float)
    cov = np.asarray(cov_en_m2, dtype=float).reshape(-1, 2, 2)
    d2 = np.einsum("ij,ij->i", e, e)
    ok = np.isfinite(tr) & (tr > 0) & np.isfinite(d2)
    dist = np.sqrt(d2[ok])
    rho = float(np.sqrt(np.mean(d2[ok] / tr[ok]))) if ok.any() else math.nan
    has_cov = np.isfinite(cov).all(axis=(1, 2)) & np.isfinite(d2)
    n_cov = int(has_cov.sum())
    coverage = math.nan
    if n_cov:
        inside = [float(v @ np.linalg.pinv(c) @ v) <= CHI2_95_2D for v, c in zip(e[has_cov], cov[has_cov])]
        coverage = float(np.mean(inside))
    return LocalizationScores(
        n=int(ok.sum()), rho=rho,
        median_error_m=float(np.median(dist)) if len(dist) else math.nan,
        p90_error_m=float(np.percentile(dist, 90)) if len(dist) else math.nan,
        rmse_m=float(np.sqrt(np.mean(dist ** 2))) if len(dist) else math.nan,
        coverage95=coverage, n_coverage=n_cov)


def offsets_en_m(lon0: npt.ArrayLike, lat0: npt.ArrayLike, lon1: npt.ArrayLike,
                 lat1: npt.ArrayLike) -> np.ndarray:
    """Geodesic east/north offsets ``(n, 2)`` in metres from points 0 to points 1.

    >>> east, north = offsets_en_m(30.0, 50.0, 30.0, 50.01)[0]    # 0.01° north
    >>> round(float(north), 1), abs(round(float(east), 1))
    (1112.3, 0.0)
    """
    lons0, lats0, lons1, lats1 = (np.atleast_1d(np.asarray(v, dtype=float))
                                  for v in (lon0, lat0, lon1, lat1))
    az_deg, _, dist_m = GEOD.inv(lons0, lats0, lons1, lats1)
    az = np.radians(np.asarray(az_deg))
    dist = np.asarray(dist_m)
    return np.column_stack([dist * np.sin(az), dist * np.cos(az)])


def crlb_trace_at(sensors: Sensors, detections: Detections, rows: np.ndarray, lon: float,
                  lat: float, *, frame: WorkingFrame, c_m_s: float, noise: FusionParams) -> float:
    """trace of the position bound (true m²) for a source at ``(lon, lat)`` seen by ``rows``."""
    sub = detections.take(np.asarray(rows))
    xs, ys = frame.to_xy(np.array([lon]), np.array([lat]))
    x, y = float(xs[0]), float(ys[0])
    m = measurements_for(sensors, sub, np.arange(len(sub)), frame=frame, params=noise,
                         c_m_s=c_m_s, x_m=x, y_m=y)
    cov = crlb_position(x, y, m, c_m_s)
    k = float(frame.scale_factor(np.array([x]), np.array([lat]))[0])
    tr = float(np.trace(cov)) / (k * k)       # grid metres² -> true metres²
    return tr if np.all(np.isfinite(cov)) else math.nan


def localization_scores(pairs: Sequence[tuple[int, int]], incidents: Sequence[Incident],
                        truth: Truth, sensors: Sensors, detections: Detections, *,
                        frame: WorkingFrame, c_m_s: float,
                        noise: FusionParams = FusionParams(wind_allowance_m_s=0.0),
                        truth_sets: Mapping[int, frozenset[str]] | None = None
                        ) -> LocalizationScores:
    """ρ, errors and ellipse coverage over matched pairs; ``noise`` carries the true noise
    model (``celerity_jitter``; set ``wind_allowance_m_s`` to 0 for the physical bound)."""
    if truth_sets is None:
        truth_sets = truth_detection_sets(truth)
    where = {int(e): k for k, e in enumerate(truth.event_id)}
    row_of = {str(d): r for r, d in enumerate(detections.ids)}
    errors, traces, covs = [], [], []
    for i, event in pairs:
        inc, k = incidents[i], where[event]
        own = sorted(row_of[d] for d in set(inc.detections) & truth_sets[event] if d in row_of)
        if not own:
            continue
        lon, lat = float(truth.lon[k]), float(truth.lat[k])
        traces.append(crlb_trace_at(sensors, detections, np.array(own), lon, lat, frame=frame,
                                    c_m_s=c_m_s, noise=noise))
        errors.append(offsets_en_m(lon, lat, inc.lon, inc.lat)[0])
        covs.append(np.asarray(inc.cov_en_m2, dtype=float))
    return error_statistics(np.array(errors).reshape(-1, 2), np.array(traces),
                            np.array(covs).reshape(-1, 2, 2))


# -- side of origin -----------------------------------------------------------------------------

@dataclass(frozen=True)
class SideScores:
    n_launches: int              # matched true launches
    decided: int
    wrong: int
    wrong_side_rate: float       # wrong / decided (NaN if none decided)
    abstention_rate: float       # abstained / matched launches (NaN if none)


def side_scores(pairs: Sequence[tuple[int, int]], incidents: Sequence[Incident],
                truth: Truth) -> SideScores:
    """Wrong-side and abstention rates over matched true launches."""
    where = {int(e): k for k, e in enumerate(truth.event_id)}
    n = decided = wrong = 0
    for i, event in pairs:
        k = where[event]
        if truth.kind[k] != "launch":
            continue
        n += 1
        side = incidents[i].side
        if side is not None:
            decided += 1
            wrong += side != truth.side[k]
    return SideScores(n_launches=n, decided=decided, wrong=wrong,
                      wrong_side_rate=wrong / decided if decided else math.nan,
                      abstention_rate=(n - decided) / n if n else math.nan)


# -- everything ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scores:
    """One engine's scores on one scenario, with its throughput measured by the caller."""

    engine: str
    n_detections: int
    association: AssociationScores
    localization: LocalizationScores
    side: SideScores
    seconds: float = math.nan
    peak_memory_mb: float = math.nan

    @property
    def detections_per_s(self) -> float:
        return self.n_detections / self.seconds if self.seconds > 0 else math.nan

    def as_row(self) -> dict[str, object]:
        """A flat mapping for printing: engine, sizes, then every score by name."""
        row: dict[str, object] = {"engine": self.engine, "detections": self.n_detections}
        for part in (self.association, self.localization):
            row.update(asdict(part))
        row.update({f"side_{f.name}" if f.name in {"decided", "wrong"} else f.name:
                    getattr(self.side, f.name) for f in fields(self.side)})
        row.update(seconds=self.seconds, detections_per_s=self.detections_per_s,
                   peak_memory_mb=self.peak_memory_mb)
        return row


def score_incidents(engine: str, incidents: Sequence[Incident], truth: Truth, sensors: Sensors,
                    detections: Detections, *, frame: WorkingFrame, c_m_s: float,
                    noise: FusionParams = FusionParams(wind_allowance_m_s=0.0),
                    min_share: float = 0.6, min_detections: int = 4, seconds: float = math.nan,
                    peak_memory_mb: float = math.nan) -> Scores:
    """Match ``incidents`` to ``truth`` and compute every score."""
    truth_sets = truth_detection_sets(truth)
    inc_sets = [frozenset(str(d) for d in inc.detections) for inc in incidents]
    pairs = match_events(inc_sets, truth_sets, min_share=min_share)
    return Scores(
        engine=engine, n_detections=len(detections),
        association=association_scores(inc_sets, truth_sets, min_share=min_share,
                                       min_detections=min_detections, pairs=pairs),
        localization=localization_scores(pairs, incidents, truth, sensors, detections,
                                         frame=frame, c_m_s=c_m_s, noise=noise,
                                         truth_sets=truth_sets),
        side=side_scores(pairs, incidents, truth), seconds=seconds, peak_memory_mb=peak_memory_mb)


def pool_scores(scores: Sequence[Scores]) -> Scores:
    """One engine's scores over several runs (seeds), as if they were one run: counts add up,
    precision, recall and F1 come from the summed counts, ρ and RMSE are the root of the
    pooled mean square, coverage the pooled share; throughput is total detections over total
    seconds. Medians and percentiles do not pool and are NaN; peak memory is the largest."""
    if not scores:
        raise ValueError("pool_scores needs at least one run")
    if len({s.engine for s in scores}) > 1:
        raise ValueError(f"pool_scores got several engines: {sorted({s.engine for s in scores})}")
    a = [s.association for s in scores]
    tp, n_pred, n_ev = (sum(getattr(x, f) for x in a)
                        for f in ("true_positives", "n_predicted", "n_events"))
    precision = tp / n_pred if n_pred else 1.0
    recall = tp / n_ev if n_ev else 1.0

    def mean_over_tp(name: str) -> float:
        w = [(x.true_positives, getattr(x, name)) for x in a if x.true_positives]
        return sum(n * v for n, v in w) / sum(n for n, _ in w) if w else math.nan

    association = AssociationScores(
        n_incidents=sum(x.n_incidents for x in a), n_events=n_ev, true_positives=tp,
        n_predicted=n_pred, precision=precision, recall=recall,
        f1=2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0,
        ghosts=sum(x.ghosts for x in a), merged=sum(x.merged for x in a),
        split=sum(x.split for x in a), extra_per_event=mean_over_tp("extra_per_event"),
        missing_per_event=mean_over_tp("missing_per_event"))

    loc = [s.localization for s in scores]

    def root_mean_square(name: str, weight: str) -> float:
        w = [(getattr(x, weight), getattr(x, name)) for x in loc
             if getattr(x, weight) and math.isfinite(getattr(x, name))]
        return math.sqrt(sum(n * v * v for n, v in w) / sum(n for n, _ in w)) if w else math.nan

    cov = [(x.n_coverage, x.coverage95) for x in loc if x.n_coverage]
    localization = LocalizationScores(
        n=sum(x.n for x in loc), rho=root_mean_square("rho", "n"), median_error_m=math.nan,
        p90_error_m=math.nan, rmse_m=root_mean_square("rmse_m", "n"),
        coverage95=sum(n * v for n, v in cov) / sum(n for n, _ in cov) if cov else math.nan,
        n_coverage=sum(n for n, _ in cov))

    sides = [s.side for s in scores]
    n, decided, wrong = (sum(getattr(x, f) for x in sides) for f in ("n_launches", "decided", "wrong"))
    side = SideScores(n_launches=n, decided=decided, wrong=wrong,
                      wrong_side_rate=wrong / decided if decided else math.nan,
                      abstention_rate=(n - decided) / n if n else math.nan)
    memory = [s.peak_memory_mb for s in scores if math.isfinite(s.peak_memory_mb)]
    return Scores(engine=scores[0].engine, n_detections=sum(s.n_detections for s in scores),
                  association=association, localization=localization, side=side,
                  seconds=sum(s.seconds for s in scores),
                  peak_memory_mb=max(memory) if memory else math.nan)
