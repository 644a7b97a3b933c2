"""Adjudication: the mission's verdict on each of the parties' allegations.

Pure: :func:`adjudicate` takes the allegations, the records (monitors' reports and fused
incidents), the agreement and a *coverage* function (what the network could have detected,
built by the caller from the sensor network, e.g. with :func:`network_coverage`), and returns
:class:`~linewatch.verification.allegations.AllegationFinding` values that carry the agreement
and engine versions they used, so that a verdict can be reproduced.

For each allegation it looks for records of the kinds that bear on it near its place and time:
those in its window (with ``time_tolerance_s``) and likely enough within its place (grown by
``place_tolerance_m``) *match*; the others nearby are *elsewhere*. Then, in this order:
matches corroborate (and confirm or contradict the accused party when the records establish
the side of origin); without them, too little coverage leaves it unverifiable; an event
observed elsewhere contradicts it; else it is not corroborated despite coverage.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypedDict

import numpy as np
import shapely

from linewatch.agreement import Agreement
from linewatch.geo import offsets_en, prob_in_polygon, prob_within_radius
from linewatch.model import ExplosionType, Kind, Report
from linewatch.verification.allegations import (
    AdjudicationParams,
    Allegation,
    AllegationFinding,
    AllegationKind,
    AllegationVerdict,
    AllegedPlace,
    Coverage,
    CoverageAnswer,
    Match,
)

if TYPE_CHECKING:
    from linewatch.coverage import Network

__all__ = ["adjudicate", "coverage_kind", "network_coverage"]

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
    """The event kind whose detection probability decides an allegation of ``kind``.

    >>> coverage_kind(AllegationKind.PROTECTED_SITE_STRIKE).value
    'explosion'
    """
    return _COVERAGE_KIND[AllegationKind(kind)]


def adjudicate(allegations: Sequence[Allegation], records: Sequence[Report], agreement: Agreement,
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


class _Common(TypedDict):
    """What every finding on one allegation says, whatever its verdict."""

    allegation_id: str
    alleging_party: str
    accused_party: str | None
    kind: str
    matches: tuple[Match, ...]
    elsewhere: tuple[Match, ...]
    detection_probability: float | None
    coverage_sources: tuple[str, ...]
    agreement_id: str
    agreement_version: str


def _one(a: Allegation, cols: dict[Kind, _Columns], agreement: Agreement, coverage: Coverage | None,
         params: AdjudicationParams) -> AllegationFinding:
    kind = AllegationKind(a.kind)
    matches, elsewhere = _bearing_records(a, kind, cols, agreement, params)
    answer = (coverage(a.place, a.start - timedelta(seconds=params.time_tolerance_s),
                       a.end + timedelta(seconds=params.time_tolerance_s), coverage_kind(kind))
              if coverage is not None else None)
    p_detect = None if answer is None else float(answer.probability)
    common = _Common(allegation_id=a.id, alleging_party=a.alleging_party,
                     accused_party=a.accused_party, kind=str(kind), matches=tuple(matches),
                     elsewhere=tuple(elsewhere[:5]), detection_probability=p_detect,
                     coverage_sources=() if answer is None else tuple(answer.sources),
                     agreement_id=str(agreement.id), agreement_version=str(agreement.version))
    if matches:
        return _corroborated(a, matches, _site_problem(a, agreement), common)
    if p_detect is None or p_detect < params.min_coverage:
        return _unverifiable(a, kind, p_detect, common)
    if elsewhere:
        return _contradicted(a, kind, p_detect, elsewhere, common)
    return _not_corroborated(a, kind, p_detect, common)


# -- the records that bear on an allegation ------------------------------------------------

def _bearing_records(a: Allegation, kind: AllegationKind, cols: dict[Kind, _Columns],
                     agreement: Agreement, params: AdjudicationParams) -> tuple[list[Match], list[Match]]:
    """The records of the kinds that bear on the allegation, near its place and window: those
    that match it (best first), and the others (nearest in time first)."""
    matches: list[Match] = []
    elsewhere: list[Match] = []
    for k in sorted(_RECORD_KINDS[kind]):
        c = cols.get(k)
        if c is None:
            continue
        for m in _nearby(a, kind, c, agreement, params):
            if m.offset_s == 0.0 and m.space_probability >= params.min_match_probability:
                matches.append(m)
            else:
                elsewhere.append(m)
    matches.sort(key=lambda m: (-m.space_probability, m.distance_m, m.record_id))
    elsewhere.sort(key=lambda m: (abs(m.offset_s), m.distance_m, m.record_id))
    return matches, elsewhere


def _nearby(a: Allegation, kind: AllegationKind, c: _Columns, agreement: Agreement,
            params: AdjudicationParams) -> list[Match]:
    """The records of one kind within ``elsewhere_s`` of the window and ``elsewhere_m`` of the
    place (allowing for their own errors), each with how well it fits."""
    start_s, end_s = a.start.timestamp(), a.end.timestamp()
    lo, hi = start_s - params.elsewhere_s, end_s + params.elsewhere_s
    near_t = np.flatnonzero((c.t1 >= lo) & (c.t0 <= hi))
    if not len(near_t):
        return []
    dist = _distance_m(a.place, c.lon[near_t], c.lat[near_t], agreement)
    near = near_t[dist <= params.elsewhere_m + a.place.radius_m + 3 * _sd_major(c.cov_en[near_t])]
    if not len(near):
        return []
    dist = _distance_m(a.place, c.lon[near], c.lat[near], agreement)
    p_in = _probability_inside(a.place, c.lon[near], c.lat[near], c.cov_en[near],
                               params.place_tolerance_m, agreement)
    out = []
    for j, i in enumerate(near):
        r = c.reports[i]
        if kind in (AllegationKind.SHELLING, AllegationKind.PROTECTED_SITE_STRIKE) \
                and r.explosion_type in _NOT_AN_IMPACT:
            continue
        offset = _offset_s(c.t0[i], c.t1[i], start_s - params.time_tolerance_s,
                           end_s + params.time_tolerance_s)
        out.append(Match(r.id, str(r.kind), str(r.provenance.source_kind), float(dist[j]),
                         offset, float(p_in[j]), _party(r, params)))
    return out


def _sd_major(cov_en: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(np.linalg.eigvalsh(cov_en)[:, -1], 0.0)) if len(cov_en) else np.zeros(0)


def _distance_m(place: AllegedPlace, lon: np.ndarray, lat: np.ndarray, agreement: Agreement) -> np.ndarray:
    """From each point to the alleged place (0 inside it)."""
    if place.area is not None:
        frame = agreement.frame
        poly = frame.project_geometry(place.polygon())
        x, y = frame.to_xy(lon, lat)
        k = frame.scale_factor(x, lat)
        d: np.ndarray = np.asarray(shapely.distance(poly, shapely.points(x, y))) / k
        return d
    _, _, d = offsets_en(place.lon, place.lat, lon, lat)
    return np.maximum(np.asarray(d, float) - place.radius_m, 0.0)


def _probability_inside(place: AllegedPlace, lon: np.ndarray, lat: np.ndarray, cov_en: np.ndarray,
                        tolerance_m: float, agreement: Agreement) -> np.ndarray:
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
    """0 if the record's window [t0, t1] meets [lo, hi], else the signed gap.

    >>> _offset_s(0.0, 60.0, 100.0, 200.0), _offset_s(150.0, 160.0, 100.0, 200.0)
    (-40.0, 0.0)
    """
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


def _site_problem(a: Allegation, agreement: Agreement) -> str:
    if a.site_id is None:
        return ""
    site = agreement.zones.get(a.site_id)
    if site is None:
        return f"The agreement has no site {a.site_id!r}."
    if a.site_category is not None and site.category != a.site_category:
        return (f"Site {a.site_id!r} is of category {site.category!r}, not "
                f"{a.site_category!r} as alleged.")
    return ""


# -- the verdicts --------------------------------------------------------------------------

def _corroborated(a: Allegation, matches: list[Match], site_problem: str, common: _Common
                  ) -> AllegationFinding:
    """Records match: corroborated, unless they put the origin on another party's side."""
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
                             evidence=tuple(m.record_id for m in matches), **common)


def _unverifiable(a: Allegation, kind: AllegationKind, p_detect: float | None, common: _Common
                  ) -> AllegationFinding:
    seen = "" if p_detect is None else f" (detection probability {p_detect:.2f})"
    return AllegationFinding(
        verdict=AllegationVerdict.UNVERIFIABLE, probability=p_detect or 0.0, perpetrator=None,
        explanation=f"No record matches, and the mission could not have observed "
                    f"{_what(kind)} at {_where(a)} in the window{seen}.",
        evidence=(), **common)


def _contradicted(a: Allegation, kind: AllegationKind, p_detect: float, elsewhere: list[Match],
                  common: _Common) -> AllegationFinding:
    """Nothing at the place although it was watched, and an event of the kind elsewhere."""
    e = elsewhere[0]
    when = ("in the window" if e.offset_s == 0.0 else
            f"{abs(e.offset_s) / 60:.0f} min {'before' if e.offset_s < 0 else 'after'} it")
    return AllegationFinding(
        verdict=AllegationVerdict.CONTRADICTED, probability=p_detect, perpetrator=None,
        explanation=f"Nothing was observed at {_where(a)} in the window although the "
                    f"network would have detected {_what(kind)} there with probability "
                    f"{p_detect:.2f}; the evidence points elsewhere: record {e.record_id} "
                    f"{e.distance_m / 1000:.1f} km from the place, {when}.",
        evidence=tuple(m.record_id for m in elsewhere[:5]), **common)


def _not_corroborated(a: Allegation, kind: AllegationKind, p_detect: float, common: _Common
                      ) -> AllegationFinding:
    sources = common["coverage_sources"]
    return AllegationFinding(
        verdict=AllegationVerdict.NOT_CORROBORATED, probability=p_detect, perpetrator=None,
        explanation=f"No record matches, although the network would have detected "
                    f"{_what(kind)} at {_where(a)} in the window with probability "
                    f"{p_detect:.2f}" + (f" ({', '.join(sources[:3])})" if sources else "") + ".",
        evidence=(), **common)


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


# -- the coverage of a sensor network ------------------------------------------------------

def network_coverage(network: Network, *, step_s: float = 60.0, n_points: int = 32) -> Coverage:
    """The coverage function of a sensor network (:class:`linewatch.coverage.Network`): the
    probability that an event of the kind, uniform over the alleged place and window, would
    have been detected, and the assets that could have detected it, best first."""
    from linewatch.coverage import place_coverage  # the coverage model, loaded when first used

    def coverage(place: AllegedPlace, start: datetime, end: datetime, kind: Kind) -> CoverageAnswer:
        where = place.polygon() if place.area is not None else (place.lon, place.lat)
        pc = place_coverage(network, where, start.timestamp(), end.timestamp(), str(kind),
                            radius_m=0.0 if place.area is not None else place.radius_m,
                            step_s=step_s, n_points=n_points)
        return CoverageAnswer(pc.probability, tuple(c.asset_id for c in pc.contributions))
    return coverage
