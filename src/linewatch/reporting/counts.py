"""One UTC day's records counted into figures: :func:`count_day`.

Every figure is ``{"count": n, "records": [ids]}``: the records it counts, sorted. Fire, weapon
and mine/UXO figures add up the records' ``count`` (one record may report "about 50
explosions"); the others count records, casualties add up ``killed`` and ``injured``. A record
whose weight is zero is not listed. The report compares a day's figures with the previous
day's and plots them in the trend.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from linewatch.agreement import Agreement
from linewatch.model import ExplosionType, Finding, Kind, Report, Verdict
from linewatch.verification import PlaceFacts, Verification

__all__ = ["DISENGAGEMENT_CATEGORY", "EXPLOSION_ORDER", "FIRE_ORDER", "INSIDE_PROBABILITY", "KIND_LABELS",
           "NEAR_DISENGAGEMENT_M", "SECURITY_CATEGORY", "DayFacts", "Fig", "active_hours", "count_day",
           "day_facts", "day_period", "each_once", "figure", "findings_figure"]

#: The SMM's ceasefire-violation kinds, in the order its reports list them.
FIRE_ORDER = (Kind.EXPLOSION, Kind.PROJECTILE_IN_FLIGHT, Kind.MUZZLE_FLASH,
              Kind.ILLUMINATION_FLARE, Kind.BURSTS_AND_SHOTS)
KIND_LABELS = {
    Kind.EXPLOSION: "explosions", Kind.PROJECTILE_IN_FLIGHT: "projectiles in flight",
    Kind.MUZZLE_FLASH: "muzzle flashes", Kind.ILLUMINATION_FLARE: "illumination flares",
    Kind.BURSTS_AND_SHOTS: "bursts and shots",
}
EXPLOSION_ORDER = tuple(ExplosionType)

#: A ceasefire violation outside a disengagement area but within this distance of it is
#: reported as "near" the area, as the SMM did for Stanytsia Luhanska, Zolote and Petrivske.
NEAR_DISENGAGEMENT_M = 5000.0
#: A record is "inside" a zone when the probability that its true place lies in it is at least this.
INSIDE_PROBABILITY = 0.5
DISENGAGEMENT_CATEGORY = "disengagement_area"
SECURITY_CATEGORY = "security_zone"

#: A figure ``{"count": n, "records": [ids]}``, or a section of the report built of them.
Fig = dict[str, Any]


# -- figures ---------------------------------------------------------------------------------

def figure(records: Iterable[Report], weight: Callable[[Report], int | None] = lambda r: r.count) -> Fig:
    """A figure: the total weight of the records and their ids (those of non-zero weight).

    >>> from linewatch.model import Location, Provenance, SourceKind
    >>> def rec(rid, count):
    ...     return Report(rid, Kind.EXPLOSION, datetime(2025, 6, 2, tzinfo=UTC), Location.point(36.0, 48.0),
    ...                   Provenance(SourceKind.PATROL, "P-1"), count=count)
    >>> figure([rec("b", 50), rec("a", 1), rec("c", 0)])
    {'count': 51, 'records': ['a', 'b']}
    """
    by_id = {r.id: int(weight(r) or 0) for r in records}
    ids = sorted(i for i, w in by_id.items() if w > 0)
    return {"count": sum(by_id[i] for i in ids), "records": ids}


def each_once(r: Report) -> int:
    """The weight of a figure that counts records, not what they report."""
    return 1


def findings_figure(findings: Iterable[Finding]) -> Fig:
    """A figure counting findings; its records are the findings' evidence."""
    fs = list(findings)
    return {"count": len(fs), "records": sorted({e for f in fs for e in f.evidence})}


def day_period(day: date) -> tuple[datetime, datetime]:
    """The UTC day ``[day 00:00, day+1 00:00)``."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def active_hours(reports: Iterable[Report]) -> dict[tuple[str, str], set[str]]:
    """Per (source kind, source id): the UTC clock hours in which it reported at least once."""
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in reports:
        key = (r.provenance.source_kind.value, r.provenance.source_id)
        out[key].add(r.time.astimezone(UTC).strftime("%Y-%m-%dT%H"))
    return out


def _inside(place: PlaceFacts | None, zone_ids: Iterable[str]) -> bool:
    return place is not None and any(place.zones.get(z, 0.0) >= INSIDE_PROBABILITY for z in zone_ids)


def _zone_distance_m(agreement: Agreement, zone_id: str, lon: npt.ArrayLike, lat: npt.ArrayLike
                     ) -> np.ndarray:
    """Distance (m, in the agreement's working frame) from each point to a zone's area."""
    geoms = [agreement.frame.project_geometry(g) for g in agreement.zones[zone_id].polygons_lonlat().values()]
    area = shapely.union_all(geoms)
    x, y = agreement.frame.to_xy(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(shapely.distance(area, shapely.points(x, y)), dtype=float)


def _zones_of(agreement: Agreement, category: str) -> list[str]:
    return [zid for zid, z in agreement.zones.items() if z.category == category]


def _sector_keys(agreement: Agreement) -> list[str | None]:
    return [s.id for s in agreement.sectors] + [None]


# -- what the counts and the sections share ----------------------------------------------------

@dataclass(frozen=True)
class DayFacts:
    """The facts :func:`count_day` and the report's sections share."""

    places: dict[str, PlaceFacts]
    by_record: dict[str, list[Finding]]
    #: weapon sightings found in violation of a weapon exclusion
    in_violation: list[Report]
    #: weapon sightings not in violation but reported outside storage
    outside_storage: list[Report]
    #: per weapon sighting: its party and how it is known ("finding", "reported", "located")
    weapon_party: dict[str, tuple[str | None, str]]
    #: records found in violation of a strike-on-protected rule
    strikes: list[Report]


def _weapon_party(r: Report, place: PlaceFacts | None, findings: list[Finding]) -> tuple[str | None, str]:
    for f in findings:
        if f.party is not None:
            return f.party, "finding"
    if r.party is not None:
        return r.party, "reported"
    return (place.side if place else None), "located"


def day_facts(reports: Sequence[Report], verification: Verification) -> DayFacts:
    """Places and findings by record, and the weapons and strikes the figures count."""
    places = {p.record_id: p for p in verification.places}
    by_record: dict[str, list[Finding]] = defaultdict(list)
    for f in verification.findings:
        by_record[f.record_id].append(f)
    weapon_viol = {f.record_id for f in verification.findings
                   if f.rule_kind == "weapon_exclusion" and f.verdict == Verdict.VIOLATION}
    strike_viol = {f.record_id for f in verification.findings
                   if f.rule_kind == "strike_on_protected" and f.verdict == Verdict.VIOLATION}
    weapons = [r for r in reports if r.kind == Kind.WEAPON_SIGHTING]
    party_of = {}
    for r in weapons:
        fs = [f for f in by_record.get(r.id, []) if f.rule_kind == "weapon_exclusion"
              and (r.id not in weapon_viol or f.verdict == Verdict.VIOLATION)]
        party_of[r.id] = _weapon_party(r, places.get(r.id), fs)
    return DayFacts(places=places, by_record=by_record,
                    in_violation=[r for r in weapons if r.id in weapon_viol],
                    outside_storage=[r for r in weapons if r.id not in weapon_viol and r.in_storage is False],
                    weapon_party=party_of, strikes=[r for r in reports if r.id in strike_viol])


# -- one day's figures -----------------------------------------------------------------------

def _fire_figures(fire: list[Report]) -> Fig:
    expl = [r for r in fire if r.kind == Kind.EXPLOSION]
    return {
        "total": figure(fire),
        "by_kind": {k.value: figure(r for r in fire if r.kind == k) for k in FIRE_ORDER},
        "explosions_by_type": {t.value: figure(r for r in expl
                                               if (r.explosion_type or ExplosionType.UNDETERMINED) == t)
                               for t in EXPLOSION_ORDER},
        "live_fire": figure(r for r in fire if r.live_fire_exercise),
    }


def _by_sector(agreement: Agreement, fire: list[Report], places: dict[str, PlaceFacts]) -> list[Fig]:
    sectors = []
    for key in _sector_keys(agreement):
        sel = [r for r in fire if (places[r.id].sector if r.id in places else None) == key]
        sectors.append({"sector": key, **_fire_figures(sel)})
    return sectors


def _disengagement(agreement: Agreement, fire: list[Report], places: dict[str, PlaceFacts]) -> dict[str, Fig]:
    """Fire inside each disengagement area, and near it (within :data:`NEAR_DISENGAGEMENT_M`)."""
    out = {}
    for zid in _zones_of(agreement, DISENGAGEMENT_CATEGORY):
        inside = [r for r in fire if _inside(places.get(r.id), [zid])]
        ids = {r.id for r in inside}
        rest = [r for r in fire if r.id not in ids]
        d = _zone_distance_m(agreement, zid, [r.location.lon for r in rest],
                             [r.location.lat for r in rest]) if rest else np.zeros(0)
        near = [r for r, m in zip(rest, d) if m <= NEAR_DISENGAGEMENT_M]
        out[zid] = {"inside": figure(inside), "near": figure(near)}
    return out


def _live_fire(agreement: Agreement, fire: list[Report], places: dict[str, PlaceFacts]) -> Fig:
    security = _zones_of(agreement, SECURITY_CATEGORY)
    live = [r for r in fire if r.live_fire_exercise]
    live_in = [r for r in live if _inside(places.get(r.id), security)]
    live_in_ids = {r.id for r in live_in}
    return {**figure(live), "inside_security_zone": figure(live_in),
            "outside_security_zone": figure(r for r in live if r.id not in live_in_ids)}


def _findings(findings: Sequence[Finding], parties: list[str]) -> Fig:
    violations = [f for f in findings if f.verdict == Verdict.VIOLATION]
    return {"violation": findings_figure(violations),
            "indeterminate": findings_figure(f for f in findings if f.verdict == Verdict.INDETERMINATE),
            "violation_by_party": {p: findings_figure(f for f in violations if f.party == p) for p in parties},
            "violation_unattributed": findings_figure(f for f in violations if f.party not in parties)}


def _casualties(reports: Sequence[Report]) -> Fig:
    casualties = [r for r in reports if r.kind == Kind.CIVILIAN_CASUALTY]
    corroborated = [r for r in casualties if r.corroborated]
    return {"reported": {"killed": figure(casualties, lambda r: r.killed or 0),
                         "injured": figure(casualties, lambda r: r.injured or 0)},
            "corroborated": {"killed": figure(corroborated, lambda r: r.killed or 0),
                             "injured": figure(corroborated, lambda r: r.injured or 0)}}


def _coverage(reports: Sequence[Report]) -> Fig:
    hours = active_hours(reports)
    return {"sources": {"count": len({(r.provenance.source_kind.value, r.provenance.source_id)
                                      for r in reports}), "records": [r.id for r in reports]},
            "source_hours": {"count": sum(len(h) for h in hours.values()),
                             "records": [r.id for r in reports]}}


def count_day(agreement: Agreement, day: date, reports: Sequence[Report],
              verification: Verification) -> Fig:
    """One UTC day's figures, each ``{"count": n, "records": [ids]}``.

    ``reports`` are the records of the day and ``verification`` their verification; the
    result is what the report compares with the previous period and plots in the trend.
    """
    reports = sorted(reports, key=lambda r: r.id)
    c = day_facts(reports, verification)
    places = c.places
    fire = [r for r in reports if r.is_fire]
    parties = agreement.party_ids
    side = {p: [r for r in fire if r.id in places and places[r.id].side == p] for p in parties}
    sided = {r.id for v in side.values() for r in v}
    wp = c.weapon_party
    return {
        "date": day.isoformat(),
        "records": figure(reports, each_once),
        "ceasefire_violations": figure(fire),
        "by_kind": {k.value: figure(r for r in fire if r.kind == k) for k in FIRE_ORDER},
        "explosions_by_type": _fire_figures(fire)["explosions_by_type"],
        "by_sector": _by_sector(agreement, fire, places),
        "by_side": {p: figure(side[p]) for p in parties},
        "side_undetermined": figure(r for r in fire if r.id not in sided),
        "live_fire_exercises": _live_fire(agreement, fire, places),
        "weapons_in_violation": figure(c.in_violation),
        "weapons_in_violation_by_party": {
            p: figure(r for r in c.in_violation if wp[r.id][0] == p) for p in parties},
        "weapons_outside_storage": figure(c.outside_storage),
        "weapons_outside_storage_by_party": {
            p: figure(r for r in c.outside_storage if wp[r.id][0] == p) for p in parties},
        "strikes_on_protected": figure(c.strikes, each_once),
        "infrastructure_strikes": figure((r for r in reports if r.kind == Kind.INFRASTRUCTURE_STRIKE), each_once),
        "aircraft_sightings": figure(r for r in reports if r.kind == Kind.AIRCRAFT_SIGHTING),
        "disengagement_areas": _disengagement(agreement, fire, places),
        "fom_restrictions": figure((r for r in reports if r.kind == Kind.FOM_RESTRICTION), each_once),
        "mines_uxo": figure(r for r in reports if r.kind == Kind.MINE_UXO),
        "civilian_casualties": _casualties(reports),
        "findings": _findings(verification.findings, parties),
        "coverage": _coverage(reports),
    }
