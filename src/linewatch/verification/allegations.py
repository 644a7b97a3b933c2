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

This module holds the values: the allegation as received, the verdict on it and its evidence;
:mod:`linewatch.verification.adjudication` reaches the verdicts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import shapely

from linewatch.model import Kind

__all__ = ["ALLEGATION_ENGINE", "AdjudicationParams", "Allegation", "AllegationFinding",
           "AllegationKind", "AllegationVerdict", "AllegedPlace", "Coverage", "CoverageAnswer", "Match",
           "mirror_allegation", "verdict_counts"]

ALLEGATION_ENGINE = "allegations-1"


class AllegationKind(StrEnum):
    """What a party alleges."""

    SHELLING = "shelling"                          # artillery, mortar or rocket fire on a place
    PROTECTED_SITE_STRIKE = "protected_site_strike"  # a strike on an energy, water... site
    SMALL_ARMS_FIRE = "small_arms_fire"
    WEAPONS_IN_ZONE = "weapons_in_zone"            # weapons where the agreement forbids them
    OVERFLIGHT = "overflight"                      # aircraft or drones over the other side


class AllegationVerdict(StrEnum):
    """The mission's verdict on an allegation (see the module's docstring)."""

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
        """The alleged area as a lon/lat polygon, or None for a point with a radius."""
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

    def as_dict(self) -> dict[str, Any]:
        def m(x: Match) -> dict[str, Any]:
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
    """How many findings of each verdict, every verdict listed (zeros included).

    >>> verdict_counts(())
    {'corroborated': 0, 'not_corroborated': 0, 'contradicted': 0, 'unverifiable': 0}
    """
    out = {str(v): 0 for v in AllegationVerdict}
    for f in findings:
        out[str(f.verdict)] += 1
    return out
