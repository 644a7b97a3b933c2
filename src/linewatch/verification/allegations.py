"""The parties' allegations and the mission's verdict on each.

An allegation is a party's claim that the other side did something (shelled a place, struck a
protected site, kept weapons inside a zone, flew over): who alleges, against whom, what, where,
when, and from which statement. The verdict is never a bare yes or no:

* **corroborated**: records of the mission match it in kind, time and place (with how well);
* **not corroborated despite coverage**: nothing matches although the network would have
  detected such an event there and then with the probability given;
* **contradicted**: the evidence points elsewhere: the matching event came from the other
  side of the line, or an event of the kind was observed nearby at another place or time
  while the alleged place was watched;
* **unverifiable**: nothing could have seen it (the detection probability is below
  ``min_coverage``).

Pure: :func:`adjudicate` takes the allegations, the records (monitors' reports and fused
incidents), the agreement and a *coverage* function (what the network could have detected,
built by the caller from the sensor network), and returns :class:`AllegationFinding` values
that carry the agreement and engine versions they used, so that a verdict can be reproduced.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

import numpy as np
import shapely

from linewatch.geo import offsets_en, prob_in_polygon, prob_within_radius
from linewatch.model import ExplosionType, Kind, Report

__all__ = ["ALLEGATION_ENGINE", "AdjudicationParams", "Allegation", "AllegationFinding",
           "AllegationKind", "AllegationVerdict", "AllegedPlace", "CoverageAnswer", "Match",
           "adjudicate", "coverage_kind", "mirror_allegation", "network_coverage", "verdict_counts"]

ALLEGATION_ENGINE = "allegations-1"


class AllegationKind(StrEnum):
    """What a party alleges."""

    SHELLING = "shelling"                          # artillery, mortar or rocket fire on a place
    PROTECTED_SITE_STRIKE = "protected_site_strike"  # a strike on an energy, water... site
    SMALL_ARMS_FIRE = "small_arms_fire"
    WEAPONS_IN_ZONE = "weapons_in_zone"            # weapons where the agreement forbids them
    OVERFLIGHT = "overflight"                      # aircraft or drones over the other side


#: the record kinds that can corroborate each allegation kind
_RECORD_KINDS: dict[AllegationKind, frozenset[Kind]] = {
    AllegationKind.SHELLING: frozenset({Kind.EXPLOSION, Kind.INFRASTRUCTURE_STRIKE}),
    AllegationKind.PROTECTED_SITE_STRIKE: frozenset({Kind.EXPLOSION, Kind.INFRASTRUCTURE_STRIKE}),
    AllegationKind.SMALL_ARMS_FIRE: frozenset({Kind.BURSTS_AND_SHOTS}),
    AllegationKind.WEAPONS_IN_ZONE: frozenset({Kind.WEAPON_SIGHTING}),
    AllegationKind.OVERFLIGHT: frozenset({Kind.AIRCRAFT_SIGHTING}),
}

#: the event kind whose detectability decides whether the network could have seen it
_COVERAGE_KIND: dict[AllegationKind, Kind] = {
    AllegationKind.SHELLING: Kind.EXPLOSION,
    AllegationKind.PROTECTED_SITE_STRIKE: Kind.EXPLOSION,
    AllegationKind.SMALL_ARMS_FIRE: Kind.BURSTS_AND_SHOTS,
    AllegationKind.WEAPONS_IN_ZONE: Kind.WEAPON_SIGHTING,
    AllegationKind.OVERFLIGHT: Kind.AIRCRAFT_SIGHTING,
}

#: an explosion observed where the fire *left* from says nothing about where it landed
_NOT_AN_IMPACT = frozenset({ExplosionType.OUTGOING})


def coverage_kind(kind: AllegationKind) -> Kind:
    """The event kind whose detection probability decides an allegation of ``kind``."""
    return _COVERAGE_KIND[AllegationKind(kind)]


class AllegationVerdict(StrEnum):
    CORROBORATED = "corroborated"
    NOT_CORROBORATED = "not_corroborated"
    CONTRADICTED = "contradicted"
    UNVERIFIABLE = "unverifiable"


@dataclass(frozen=True)
class AllegedPlace:
    """Where an allegation places the event: a point with a radius, or an area (a lon/lat
    ring), as resolved from what the party said (``name``: a settlement or a site, if any)."""

    lon: float
    lat: float
    radius_m: float = 0.0
    area: tuple[tuple[float, float], ...] | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if not (-180.0 <= self.lon <= 180.0 and -90.0 <= self.lat <= 90.0):
            raise ValueError(f"alleged place ({self.lon}, {self.lat}) is outside lon/lat range")
        if not self.radius_m >= 0.0:
            raise ValueError(f"alleged place radius_m must be >= 0, got {self.radius_m!r}")
        if self.area is not None and len(self.area) < 3:
            raise ValueError(f"an alleged area needs at least three corners, got {len(self.area)}")

    def polygon(self) -> shapely.Polygon | None:
        return shapely.Polygon(self.area) if self.area is not None else None


@dataclass(frozen=True)
class Allegation:
    """One party's claim, as received."""

    id: str
    alleging_party: str
    accused_party: str | None         # the claimed perpetrator (None: not said)
    kind: AllegationKind
    start: datetime                   # the claimed time window [start, end]
    end: datetime
    place: AllegedPlace
    received_time: datetime
    source_kind: str = "statement"    # statement, document, liaison_note, ...
    source_reference: str = ""
    site_id: str | None = None        # the agreement's protected site, if the claim names one
    site_category: str | None = None  # energy, water, nuclear... (protected_site_strike)
    description: str = ""
    supersedes: str | None = None     # the id of the allegation this one corrects

    def __post_init__(self) -> None:
        for name in ("start", "end", "received_time"):
            t = getattr(self, name)
            if t.tzinfo is None or t.utcoffset() != timedelta(0):
                raise ValueError(f"allegation {self.id!r}: {name} must be timezone-aware UTC, "
                                 f"got {t!r}")
        if self.end < self.start:
            raise ValueError(f"allegation {self.id!r}: end {self.end.isoformat()} is before "
                             f"start {self.start.isoformat()}")
        if self.accused_party is not None and self.accused_party == self.alleging_party:
            raise ValueError(f"allegation {self.id!r}: the alleging party "
                             f"{self.alleging_party!r} accuses itself")

    @property
    def window_s(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class CoverageAnswer:
    """What the network could have detected: the probability that an event of the alleged
    kind, at the alleged place at a time in the window, would have been detected, and the
    sensors, posts or patrols that contributed most (ids)."""

    probability: float
    sources: tuple[str, ...] = ()


#: the caller's coverage model: (place, start, end, event kind) -> CoverageAnswer
Coverage = Callable[[AllegedPlace, datetime, datetime, Kind], CoverageAnswer]


@dataclass(frozen=True)
class AdjudicationParams:
    place_tolerance_m: float = 1_000.0    # how far a party's place may be off (added to radius)
    time_tolerance_s: float = 600.0       # and its time window
    min_match_probability: float = 0.1    # P(record's true place within the alleged one)
    min_coverage: float = 0.2             # below it: unverifiable
    elsewhere_m: float = 2_500.0          # events of the kind this close (outside the place)...
    elsewhere_s: float = 1_800.0          # ...or this much before or after the window
    min_side_probability: float = 0.95    # a record's side of origin counts when this sure


@dataclass(frozen=True)
class Match:
    """A record that bears on an allegation, and how well it fits."""

    record_id: str
    kind: str
    source_kind: str
    distance_m: float                 # from the record's estimate to the alleged place (0 inside)
    offset_s: float                   # from the window (0 inside, negative before)
    space_probability: float          # P(the record's true place is within the alleged one)
    party: str | None                 # the side of origin or owner the record establishes


@dataclass(frozen=True)
class AllegationFinding:
    """The verdict on one allegation, with its evidence and what it was computed with."""

    allegation_id: str
    alleging_party: str
    accused_party: str | None
    kind: str
    verdict: AllegationVerdict
    #: corroborated: P(the best match is at the alleged place); not corroborated: the
    #: probability that such an event would have been detected; contradicted: the detection
    #: probability where the alleged event was placed; unverifiable: the same (low) probability
    probability: float
    detection_probability: float | None
    perpetrator: str | None           # confirmed, contradicted, undetermined, or None
    matches: tuple[Match, ...]
    elsewhere: tuple[Match, ...]      # events of the kind near the place or time, not matching
    coverage_sources: tuple[str, ...]
    explanation: str
    agreement_id: str
    agreement_version: str
    engine: str = ALLEGATION_ENGINE
    evidence: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict:
        def m(x: Match) -> dict:
            return {"record_id": x.record_id, "kind": x.kind, "source_kind": x.source_kind,
                    "distance_m": round(x.distance_m, 1), "offset_s": round(x.offset_s, 1),
                    "space_probability": round(x.space_probability, 4), "party": x.party}
        return {
            "allegation_id": self.allegation_id, "alleging_party": self.alleging_party,
            "accused_party": self.accused_party, "kind": self.kind, "verdict": str(self.verdict),
            "probability": round(self.probability, 4),
            "detection_probability": (None if self.detection_probability is None
                                      else round(self.detection_probability, 4)),
            "perpetrator": self.perpetrator, "matches": [m(x) for x in self.matches],
            "elsewhere": [m(x) for x in self.elsewhere],
            "coverage_sources": list(self.coverage_sources), "explanation": self.explanation,
            "agreement_id": self.agreement_id, "agreement_version": self.agreement_version,
            "engine": self.engine}


# -- adjudication ------------------------------------------------------------------------------

def adjudicate(allegations: Sequence[Allegation], records: Sequence[Report], agreement,
               coverage: Coverage | None, params: AdjudicationParams = AdjudicationParams()
               ) -> tuple[AllegationFinding, ...]:
    """A finding for every allegation, in the order given.

    ``coverage`` None means that nothing is known of what the network could have seen: an
    allegation no record matches is then unverifiable."""
    by_kind: dict[Kind, list[Report]] = {}
    for r in records:
        by_kind.setdefault(r.kind, []).append(r)
    cols = {k: _Columns.of(rs) for k, rs in by_kind.items()}
    return tuple(_one(a, cols, agreement, coverage, params) for a in allegations)


@dataclass(frozen=True)
class _Columns:
    reports: tuple[Report, ...]
    lon: np.ndarray
    lat: np.ndarray
    cov_en: np.ndarray
    t0: np.ndarray          # epoch seconds: the record's window [t0, t1)
    t1: np.ndarray

    @classmethod
    def of(cls, reports: Sequence[Report]) -> _Columns:
        reports = tuple(reports)
        t0 = np.array([r.time.timestamp() for r in reports])
        return cls(reports, np.array([r.location.lon for r in reports]),
                   np.array([r.location.lat for r in reports]),
                   np.array([r.location.covariance_en_m2 for r in reports], dtype=float).reshape(-1, 2, 2),
                   t0, t0 + np.array([r.time_window_s for r in reports]))


def _one(a: Allegation, cols: dict[Kind, _Columns], agreement, coverage: Coverage | None,
         params: AdjudicationParams) -> AllegationFinding:
    kind = AllegationKind(a.kind)
    start_s, end_s = a.start.timestamp(), a.end.timestamp()
    matches: list[Match] = []
    elsewhere: list[Match] = []
    for k in sorted(_RECORD_KINDS[kind]):
        c = cols.get(k)
        if c is None:
            continue
        lo, hi = start_s - params.elsewhere_s, end_s + params.elsewhere_s
        near_t = np.flatnonzero((c.t1 >= lo) & (c.t0 <= hi))
        if not len(near_t):
            continue
        dist = _distance_m(a.place, c.lon[near_t], c.lat[near_t], agreement)
        near = near_t[dist <= params.elsewhere_m + a.place.radius_m + 3 * _sd_major(c.cov_en[near_t])]
        if not len(near):
            continue
        dist = _distance_m(a.place, c.lon[near], c.lat[near], agreement)
        p_in = _probability_inside(a.place, c.lon[near], c.lat[near], c.cov_en[near],
                                   params.place_tolerance_m, agreement)
        for j, i in enumerate(near):
            r = c.reports[i]
            if kind in (AllegationKind.SHELLING, AllegationKind.PROTECTED_SITE_STRIKE) \
                    and r.explosion_type in _NOT_AN_IMPACT:
                continue
            offset = _offset_s(c.t0[i], c.t1[i], start_s - params.time_tolerance_s,
                               end_s + params.time_tolerance_s)
            m = Match(r.id, str(r.kind), str(r.provenance.source_kind), float(dist[j]),
                      offset, float(p_in[j]), _party(r, params))
            if offset == 0.0 and p_in[j] >= params.min_match_probability:
                matches.append(m)
            else:
                elsewhere.append(m)
    matches.sort(key=lambda m: (-m.space_probability, m.distance_m, m.record_id))
    elsewhere.sort(key=lambda m: (abs(m.offset_s), m.distance_m, m.record_id))
    answer = (coverage(a.place, a.start - timedelta(seconds=params.time_tolerance_s),
                       a.end + timedelta(seconds=params.time_tolerance_s), coverage_kind(kind))
              if coverage is not None else None)
    p_detect = None if answer is None else float(answer.probability)
    sources = () if answer is None else tuple(answer.sources)
    base = dict(allegation_id=a.id, alleging_party=a.alleging_party,
                accused_party=a.accused_party, kind=str(kind), matches=tuple(matches),
                elsewhere=tuple(elsewhere[:5]), detection_probability=p_detect,
                coverage_sources=sources, agreement_id=str(agreement.id),
                agreement_version=str(agreement.version))
    site_problem = _site_problem(a, agreement)
    if matches:
        best = matches[0]
        parties = {m.party for m in matches if m.party is not None}
        if a.accused_party is None:
            perpetrator, verdict = None, AllegationVerdict.CORROBORATED
        elif a.accused_party in parties:
            perpetrator, verdict = "confirmed", AllegationVerdict.CORROBORATED
        elif parties:
            perpetrator, verdict = "contradicted", AllegationVerdict.CONTRADICTED
        else:
            perpetrator, verdict = "undetermined", AllegationVerdict.CORROBORATED
        text = _explain_matches(a, matches, perpetrator, parties)
        if site_problem:
            text += " " + site_problem
        return AllegationFinding(verdict=verdict, probability=best.space_probability,
                                 perpetrator=perpetrator, explanation=text,
                                 evidence=tuple(m.record_id for m in matches), **base)
    if p_detect is None or p_detect < params.min_coverage:
        seen = "" if p_detect is None else f" (detection probability {p_detect:.2f})"
        return AllegationFinding(
            verdict=AllegationVerdict.UNVERIFIABLE, probability=p_detect or 0.0, perpetrator=None,
            explanation=f"No record matches, and the mission could not have observed "
                        f"{_what(kind)} at {_where(a)} in the window{seen}.",
            evidence=(), **base)
    if elsewhere:
        e = elsewhere[0]
        when = ("in the window" if e.offset_s == 0.0 else
                f"{abs(e.offset_s) / 60:.0f} min {'before' if e.offset_s < 0 else 'after'} it")
        return AllegationFinding(
            verdict=AllegationVerdict.CONTRADICTED, probability=p_detect, perpetrator=None,
            explanation=f"Nothing was observed at {_where(a)} in the window although the "
                        f"network would have detected {_what(kind)} there with probability "
                        f"{p_detect:.2f}; the evidence points elsewhere: record {e.record_id} "
                        f"{e.distance_m / 1000:.1f} km from the place, {when}.",
            evidence=tuple(m.record_id for m in elsewhere[:5]), **base)
    return AllegationFinding(
        verdict=AllegationVerdict.NOT_CORROBORATED, probability=p_detect, perpetrator=None,
        explanation=f"No record matches, although the network would have detected "
                    f"{_what(kind)} at {_where(a)} in the window with probability "
                    f"{p_detect:.2f}" + (f" ({', '.join(sources[:3])})" if sources else "") + ".",
        evidence=(), **base)


def _sd_major(cov_en: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(np.linalg.eigvalsh(cov_en)[:, -1], 0.0)) if len(cov_en) else np.zeros(0)


def _distance_m(place: AllegedPlace, lon: np.ndarray, lat: np.ndarray, agreement) -> np.ndarray:
    """From each point to the alleged place (0 inside it)."""
    if place.area is not None:
        frame = agreement.frame
        poly = frame.project_geometry(place.polygon())
        x, y = frame.to_xy(lon, lat)
        k = frame.scale_factor(x, lat)
        return np.asarray(shapely.distance(poly, shapely.points(x, y))) / k
    _, _, d = offsets_en(place.lon, place.lat, lon, lat)
    return np.maximum(np.asarray(d, float) - place.radius_m, 0.0)


def _probability_inside(place: AllegedPlace, lon, lat, cov_en, tolerance_m: float,
                        agreement) -> np.ndarray:
    """P(the record's true position lies within the alleged place grown by ``tolerance_m``)."""
    if place.area is not None:
        frame = agreement.frame
        poly = shapely.buffer(frame.project_geometry(place.polygon()), tolerance_m)
        pl = agreement.place(lon, lat, cov_en)
        return np.asarray(prob_in_polygon(poly, pl.x, pl.y, pl.cov_grid))
    e, n, _ = offsets_en(place.lon, place.lat, lon, lat)
    return np.asarray(prob_within_radius(np.asarray(e), np.asarray(n), cov_en,
                                         place.radius_m + tolerance_m))


def _offset_s(t0: float, t1: float, lo: float, hi: float) -> float:
    """0 if the record's window [t0, t1] meets [lo, hi], else the signed gap."""
    if t1 < lo:
        return float(t1 - lo)
    if t0 > hi:
        return float(t0 - hi)
    return 0.0


def _party(r: Report, params: AdjudicationParams) -> str | None:
    """The side a record establishes: for fused fire, only when its side probability is high
    enough (the engine abstains otherwise); for monitors' reports, the party they name."""
    probs = dict(r.extra).get("side_probability")
    if probs is not None and r.party is not None:
        p = json.loads(probs).get(r.party, 0.0)
        return r.party if p >= params.min_side_probability else None
    return r.party


def _site_problem(a: Allegation, agreement) -> str:
    if a.site_id is None:
        return ""
    site = getattr(agreement, "zones", {}).get(a.site_id)
    if site is None:
        return f"The agreement has no site {a.site_id!r}."
    if a.site_category is not None and site.category != a.site_category:
        return (f"Site {a.site_id!r} is of category {site.category!r}, not "
                f"{a.site_category!r} as alleged.")
    return ""


def _what(kind: AllegationKind) -> str:
    return {AllegationKind.SHELLING: "shelling", AllegationKind.PROTECTED_SITE_STRIKE: "a strike",
            AllegationKind.SMALL_ARMS_FIRE: "small-arms fire",
            AllegationKind.WEAPONS_IN_ZONE: "weapons", AllegationKind.OVERFLIGHT: "an overflight"
            }[kind]


def _where(a: Allegation) -> str:
    p = a.place
    if p.name:
        return p.name
    return f"({p.lon:.4f}, {p.lat:.4f})"


def _explain_matches(a: Allegation, matches: list[Match], perpetrator: str | None,
                     parties: set[str]) -> str:
    best = matches[0]
    head = (f"{len(matches)} record{'s' if len(matches) != 1 else ''} match "
            f"({', '.join(m.record_id for m in matches[:5])}{', ...' if len(matches) > 5 else ''}); "
            f"the best, {best.record_id} ({best.source_kind}), lies "
            f"{best.distance_m / 1000:.1f} km from the alleged place "
            f"(P inside {best.space_probability:.2f}).")
    if perpetrator == "confirmed":
        return head + f" The fire came from {a.accused_party}'s side, as alleged."
    if perpetrator == "contradicted":
        return head + (f" But the evidence puts its origin on {', '.join(sorted(parties))}'s "
                       f"side, not {a.accused_party}'s.")
    if perpetrator == "undetermined":
        return head + " Its origin could not be established."
    return head


# -- impartiality and summaries ----------------------------------------------------------------

def mirror_allegation(a: Allegation, swap: Callable[[str], str],
                      mirror_point: Callable[[float, float], tuple[float, float]]) -> Allegation:
    """The same allegation in the mirrored scenario: parties swapped, place mirrored."""
    lon, lat = mirror_point(a.place.lon, a.place.lat)
    area = (tuple(mirror_point(x, y) for x, y in a.place.area)
            if a.place.area is not None else None)
    return replace(a, alleging_party=swap(a.alleging_party),
                   accused_party=None if a.accused_party is None else swap(a.accused_party),
                   place=replace(a.place, lon=lon, lat=lat, area=area))


def verdict_counts(findings: Sequence[AllegationFinding]) -> dict[str, int]:
    """How many findings of each verdict, every verdict listed (zeros included)."""
    out = {str(v): 0 for v in AllegationVerdict}
    for f in findings:
        out[str(f.verdict)] += 1
    return out


def network_coverage(network, *, step_s: float = 60.0, n_points: int = 32) -> Coverage:
    """The coverage function of a sensor network (:class:`linewatch.coverage.model.Network`): the
    probability that an event of the kind, uniform over the alleged place and window, would
    have been detected, and the assets that could have detected it, best first."""
    from linewatch.coverage import place_coverage

    def coverage(place: AllegedPlace, start: datetime, end: datetime, kind: Kind) -> CoverageAnswer:
        where = place.polygon() if place.area is not None else (place.lon, place.lat)
        pc = place_coverage(network, where, start.timestamp(), end.timestamp(), str(kind),
                            radius_m=0.0 if place.area is not None else place.radius_m,
                            step_s=step_s, n_points=n_points)
        return CoverageAnswer(pc.probability, tuple(c.asset_id for c in pc.contributions))
    return coverage
