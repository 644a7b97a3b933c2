"""The daily report as data, modelled on the OSCE SMM daily report.

:func:`count_day` counts one UTC day's records into figures; :func:`build_daily_report` puts a
day's figures beside the previous day's, lists the weapons, strikes, restrictions and findings
behind them, and adds the coverage that produced them and the trend of earlier days. Both are
pure: the records, their verification and the generation time are passed in, and the result is
plain JSON-serialisable data with a deterministic order.

Every figure is ``{"count": n, "records": [ids]}``: the records it counts, sorted. Fire, weapon
and mine/UXO figures add up the records' ``count`` (one record may report "about 50
explosions"); the others count records, casualties add up ``killed`` and ``injured``. A record
whose weight is zero is not listed. See ``docs/report-formats.md``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import shapely

from linewatch.agreement import Agreement
from linewatch.model import ExplosionType, Finding, Kind, Report, SourceKind, Verdict, utc_iso
from linewatch.verification import AllegationFinding, PlaceFacts, Verification, verdict_counts

__all__ = ['DISENGAGEMENT_CATEGORY', 'EXPLOSION_ORDER', 'FIRE_ORDER', 'FORMAT', 'INSIDE_PROBABILITY', 'KIND_LABELS', 'NEAR_DISENGAGEMENT_M', 'SECURITY_CATEGORY', 'build_daily_report', 'count_day']

FORMAT = "linewatch-daily-report/1"

#: The SMM's ceasefire-violation kinds, in the order its reports list them.
FIRE_ORDER = (Kind.EXPLOSION, Kind.PROJECTILE_IN_FLIGHT, Kind.MUZZLE_FLASH,
              Kind.ILLUMINATION_FLARE, Kind.BURSTS_AND_SHOTS)
KIND_LABELS = {
    Kind.EXPLOSION: "explosions", Kind.PROJECTILE_IN_FLIGHT: "projectiles in flight",
    Kind.MUZZLE_FLASH: "muzzle flashes", Kind.ILLUMINATION_FLARE: "illumination flares",
    Kind.BURSTS_AND_SHOTS: "bursts and shots",
}
EXPLOSION_ORDER = tuple(ExplosionType)
_TYPE_WORDS = {ExplosionType.IMPACT: ("impact", "impacts"),
               ExplosionType.AIRBURST: ("airburst", "airbursts"),
               ExplosionType.OUTGOING: ("outgoing", "outgoing"),
               ExplosionType.UNDETERMINED: ("undetermined", "undetermined")}

#: A ceasefire violation outside a disengagement area but within this distance of it is
#: reported as "near" the area, as the SMM did for Stanytsia Luhanska, Zolote and Petrivske.
NEAR_DISENGAGEMENT_M = 5000.0
#: A record is "inside" a zone when the probability that its true place lies in it is at least this.
INSIDE_PROBABILITY = 0.5
DISENGAGEMENT_CATEGORY = "disengagement_area"
SECURITY_CATEGORY = "security_zone"

Fig = dict[str, Any]


# -- small helpers ---------------------------------------------------------------------------

def _fig(records: Iterable[Report], weight: Callable[[Report], int] = lambda r: r.count) -> Fig:
    """A figure: the total weight of the records and their ids (those of non-zero weight)."""
    by_id = {r.id: int(weight(r) or 0) for r in records}
    ids = sorted(i for i, w in by_id.items() if w > 0)
    return {"count": sum(by_id[i] for i in ids), "records": ids}


def _one(r: Report) -> int:
    return 1


def _ffig(findings: Iterable[Finding]) -> Fig:
    """A figure counting findings; its records are the findings' evidence."""
    fs = list(findings)
    return {"count": len(fs), "records": sorted({e for f in fs for e in f.evidence})}


def _period(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def _n(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _inside(place: PlaceFacts | None, zone_ids: Iterable[str]) -> bool:
    return place is not None and any(place.zones.get(z, 0.0) >= INSIDE_PROBABILITY for z in zone_ids)


def _zone_distance_m(agreement: Agreement, zone_id: str, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Distance (m, in the agreement's working frame) from each point to a zone's area."""
    geoms = [agreement.frame.project_geometry(g) for g in agreement.zones[zone_id].polygons_lonlat().values()]
    area = shapely.union_all(geoms)
    x, y = agreement.frame.to_xy(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(shapely.distance(area, shapely.points(x, y)), dtype=float)


def _zones_of(agreement: Agreement, category: str) -> list[str]:
    return [zid for zid, z in agreement.zones.items() if z.category == category]


def _sector_keys(agreement: Agreement) -> list[str | None]:
    return [s.id for s in agreement.sectors] + [None]


# -- one day's figures -----------------------------------------------------------------------

def _fire_figures(fire: list[Report]) -> dict[str, Any]:
    expl = [r for r in fire if r.kind == Kind.EXPLOSION]
    return {
        "total": _fig(fire),
        "by_kind": {k.value: _fig(r for r in fire if r.kind == k) for k in FIRE_ORDER},
        "explosions_by_type": {t.value: _fig(r for r in expl
                                             if (r.explosion_type or ExplosionType.UNDETERMINED) == t)
                               for t in EXPLOSION_ORDER},
        "live_fire": _fig(r for r in fire if r.live_fire_exercise),
    }


def _weapon_party(r: Report, place: PlaceFacts | None, findings: list[Finding]) -> tuple[str | None, str]:
    for f in findings:
        if f.party is not None:
            return f.party, "finding"
    if r.party is not None:
        return r.party, "reported"
    return (place.side if place else None), "located"


def _classify(agreement: Agreement, reports: Sequence[Report], verification: Verification) -> dict[str, Any]:
    """The facts :func:`count_day` and :func:`build_daily_report` share."""
    places = {p.record_id: p for p in verification.places}
    by_record: dict[str, list[Finding]] = defaultdict(list)
    for f in verification.findings:
        by_record[f.record_id].append(f)
    weapon_viol = {f.record_id for f in verification.findings
                   if f.rule_kind == "weapon_exclusion" and f.verdict == Verdict.VIOLATION}
    strike_viol = {f.record_id for f in verification.findings
                   if f.rule_kind == "strike_on_protected" and f.verdict == Verdict.VIOLATION}
    weapons = [r for r in reports if r.kind == Kind.WEAPON_SIGHTING]
    in_violation = [r for r in weapons if r.id in weapon_viol]
    outside = [r for r in weapons if r.id not in weapon_viol and r.in_storage is False]
    party_of = {}
    for r in weapons:
        fs = [f for f in by_record.get(r.id, []) if f.rule_kind == "weapon_exclusion"
              and (r.id not in weapon_viol or f.verdict == Verdict.VIOLATION)]
        party_of[r.id] = _weapon_party(r, places.get(r.id), fs)
    return {"places": places, "by_record": by_record, "in_violation": in_violation,
            "outside_storage": outside, "weapon_party": party_of,
            "strikes": [r for r in reports if r.id in strike_viol]}


def count_day(agreement: Agreement, day: date, reports: Sequence[Report],
              verification: Verification) -> dict[str, Any]:
    """One UTC day's figures, each ``{"count": n, "records": [ids]}``.

    ``reports`` are the records of the day and ``verification`` their verification; the
    result is what the report compares with the previous period and plots in the trend.
    """
    reports = sorted(reports, key=lambda r: r.id)
    c = _classify(agreement, reports, verification)
    places = c["places"]
    fire = [r for r in reports if r.is_fire]
    parties = agreement.party_ids

    sectors = []
    for key in _sector_keys(agreement):
        sel = [r for r in fire if (places[r.id].sector if r.id in places else None) == key]
        sectors.append({"sector": key, **_fire_figures(sel)})

    security = _zones_of(agreement, SECURITY_CATEGORY)
    live = [r for r in fire if r.live_fire_exercise]
    live_in = [r for r in live if _inside(places.get(r.id), security)]

    disengagement = {}
    for zid in _zones_of(agreement, DISENGAGEMENT_CATEGORY):
        inside = [r for r in fire if _inside(places.get(r.id), [zid])]
        ids = {r.id for r in inside}
        rest = [r for r in fire if r.id not in ids]
        d = _zone_distance_m(agreement, zid, [r.location.lon for r in rest],
                             [r.location.lat for r in rest]) if rest else np.zeros(0)
        near = [r for r, m in zip(rest, d) if m <= NEAR_DISENGAGEMENT_M]
        disengagement[zid] = {"inside": _fig(inside), "near": _fig(near)}

    findings = [f for f in verification.findings if f.verdict == Verdict.VIOLATION]
    indeterminate = [f for f in verification.findings if f.verdict == Verdict.INDETERMINATE]
    casualties = [r for r in reports if r.kind == Kind.CIVILIAN_CASUALTY]
    corroborated = [r for r in casualties if r.corroborated]
    side = {p: [r for r in fire if r.id in places and places[r.id].side == p] for p in parties}
    sided = {r.id for v in side.values() for r in v}
    live_in_ids = {r.id for r in live_in}
    wp = c["weapon_party"]
    hours = _active_hours(reports)
    return {
        "date": day.isoformat(),
        "records": _fig(reports, _one),
        "ceasefire_violations": _fig(fire),
        "by_kind": {k.value: _fig(r for r in fire if r.kind == k) for k in FIRE_ORDER},
        "explosions_by_type": _fire_figures(fire)["explosions_by_type"],
        "by_sector": sectors,
        "by_side": {p: _fig(side[p]) for p in parties},
        "side_undetermined": _fig(r for r in fire if r.id not in sided),
        "live_fire_exercises": {
            **_fig(live), "inside_security_zone": _fig(live_in),
            "outside_security_zone": _fig(r for r in live if r.id not in live_in_ids)},
        "weapons_in_violation": _fig(c["in_violation"]),
        "weapons_in_violation_by_party": {
            p: _fig(r for r in c["in_violation"] if wp[r.id][0] == p) for p in parties},
        "weapons_outside_storage": _fig(c["outside_storage"]),
        "weapons_outside_storage_by_party": {
            p: _fig(r for r in c["outside_storage"] if wp[r.id][0] == p) for p in parties},
        "strikes_on_protected": _fig(c["strikes"], _one),
        "infrastructure_strikes": _fig((r for r in reports if r.kind == Kind.INFRASTRUCTURE_STRIKE), _one),
        "aircraft_sightings": _fig(r for r in reports if r.kind == Kind.AIRCRAFT_SIGHTING),
        "disengagement_areas": disengagement,
        "fom_restrictions": _fig((r for r in reports if r.kind == Kind.FOM_RESTRICTION), _one),
        "mines_uxo": _fig(r for r in reports if r.kind == Kind.MINE_UXO),
        "civilian_casualties": {
            "reported": {"killed": _fig(casualties, lambda r: r.killed or 0),
                         "injured": _fig(casualties, lambda r: r.injured or 0)},
            "corroborated": {"killed": _fig(corroborated, lambda r: r.killed or 0),
                             "injured": _fig(corroborated, lambda r: r.injured or 0)}},
        "findings": {
            "violation": _ffig(findings), "indeterminate": _ffig(indeterminate),
            "violation_by_party": {p: _ffig(f for f in findings if f.party == p) for p in parties},
            "violation_unattributed": _ffig(f for f in findings if f.party not in parties)},
        "coverage": {
            "sources": {"count": len({(r.provenance.source_kind.value, r.provenance.source_id)
                                      for r in reports}), "records": [r.id for r in reports]},
            "source_hours": {"count": sum(len(h) for h in hours.values()),
                             "records": [r.id for r in reports]}},
    }


def _active_hours(reports: Iterable[Report]) -> dict[tuple[str, str], set[str]]:
    """Per (source kind, source id): the UTC clock hours in which it reported at least once."""
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in reports:
        key = (r.provenance.source_kind.value, r.provenance.source_id)
        out[key].add(r.time.astimezone(UTC).strftime("%Y-%m-%dT%H"))
    return out


# -- the daily report ------------------------------------------------------------------------

def _with_previous(current: Fig, previous: Fig) -> Fig:
    return {"count": current["count"], "records": current["records"],
            "previous": {"count": previous["count"], "records": previous["records"]}}


def _place_words(reports: Sequence[Report], gazetteer: Any | None) -> dict[str, str]:
    """Each record's place in words ("4 km south-west of Horlivka"), else ``"lon, lat"``."""
    if not reports:
        return {}
    lon = np.array([r.location.lon for r in reports], dtype=float)
    lat = np.array([r.location.lat for r in reports], dtype=float)
    if gazetteer is None:
        words = [f"{x:.4f}, {y:.4f}" for x, y in zip(lon, lat)]
    else:
        words = [str(w) for w in gazetteer.describe(lon, lat)]
    return {r.id: w for r, w in zip(reports, words)}


class _Ctx:
    """What the section builders share: records by id, their places and words."""

    def __init__(self, agreement: Agreement, reports: Sequence[Report], verification: Verification,
                 gazetteer: Any | None) -> None:
        self.agreement = agreement
        self.reports = reports
        self.by_id = {r.id: r for r in reports}
        self.words = _place_words(reports, gazetteer)
        self.c = _classify(agreement, reports, verification)
        self.places: dict[str, PlaceFacts] = self.c["places"]
        self.findings = verification.findings
        self.rules = {r.id: r for r in agreement.rules}

    def where(self, record_id: str) -> dict[str, Any]:
        r = self.by_id.get(record_id)
        if r is None:
            return {"place": None, "lon": None, "lat": None}
        return {"place": self.words[record_id], "lon": round(r.location.lon, 5),
                "lat": round(r.location.lat, 5)}

    def common(self, r: Report) -> dict[str, Any]:
        return {"record_id": r.id, "time": utc_iso(r.time), **self.where(r.id),
                "source": f"{r.provenance.source_kind.value}:{r.provenance.source_id}"}


def _time_key(ctx: _Ctx) -> Callable[[Report], tuple]:
    return lambda r: (r.time, r.id)


def _sector_name(agreement: Agreement, key: str | None) -> str:
    names = {s.id: s.name for s in agreement.sectors}
    return names.get(key, "Outside any sector") if key is not None else "Outside any sector"


def _violations_table(agreement: Agreement, today: dict, prev: dict) -> dict[str, Any]:
    def row(cur: dict, old: dict) -> dict[str, Any]:
        return {
            "total": _with_previous(cur["total"], old["total"]),
            "by_kind": {k: _with_previous(cur["by_kind"][k], old["by_kind"][k]) for k in cur["by_kind"]},
            "explosions_by_type": {t: _with_previous(cur["explosions_by_type"][t], old["explosions_by_type"][t])
                                   for t in cur["explosions_by_type"]},
            "live_fire": _with_previous(cur["live_fire"], old["live_fire"]),
        }

    rows = []
    for cur, old in zip(today["by_sector"], prev["by_sector"]):
        if cur["sector"] is None and not cur["total"]["count"] and not old["total"]["count"]:
            continue
        rows.append({"sector": cur["sector"], "name": _sector_name(agreement, cur["sector"]),
                     **row(cur, old)})

    def whole(d: dict) -> dict:
        return {"total": d["ceasefire_violations"], "by_kind": d["by_kind"],
                "explosions_by_type": d["explosions_by_type"], "live_fire": d["live_fire_exercises"]}

    return {"kinds": [k.value for k in FIRE_ORDER],
            "kind_labels": {k.value: KIND_LABELS[k] for k in FIRE_ORDER},
            "explosion_types": [t.value for t in EXPLOSION_ORDER],
            "rows": rows, "total": row(whole(today), whole(prev))}


def _weapon_items(ctx: _Ctx, records: list[Report], violation: bool) -> list[dict[str, Any]]:
    ag = ctx.agreement
    out = []
    for r in sorted(records, key=_time_key(ctx)):
        cid = ag.weapon_class_of(r.weapon_class)
        party, basis = ctx.c["weapon_party"][r.id]
        fs = [f for f in ctx.c["by_record"].get(r.id, []) if f.rule_kind == "weapon_exclusion"]
        if violation:
            fs = [f for f in fs if f.verdict == Verdict.VIOLATION]
        out.append({**ctx.common(r), "weapon": r.weapon_class, "class_id": cid,
                    "class_name": ag.weapon_classes[cid].name if cid else None, "count": r.count,
                    "in_storage": r.in_storage, "party": party, "party_basis": basis,
                    "findings": [{"rule_id": f.rule_id, "verdict": f.verdict.value,
                                  "probability": f.probability} for f in fs]})
    return out


def _weapons(ctx: _Ctx, today: dict, prev: dict) -> dict[str, Any]:
    parties = ctx.agreement.party_ids
    out = {}
    for key, records, viol in (("in_violation", ctx.c["in_violation"], True),
                               ("outside_storage", ctx.c["outside_storage"], False)):
        fk = f"weapons_{key}"
        out[key] = {**_with_previous(today[fk], prev[fk]),
                    "by_party": {p: _with_previous(today[f"{fk}_by_party"][p], prev[f"{fk}_by_party"][p])
                                 for p in parties},
                    "items": _weapon_items(ctx, records, viol)}
    return out


def _site_for(ctx: _Ctx, r: Report, categories: Iterable[str]) -> tuple[str | None, str | None]:
    place = ctx.places.get(r.id)
    cats = set(categories)
    best, best_p = None, 0.0
    for zid, z in ctx.agreement.zones.items():
        p = place.zones.get(zid, 0.0) if place else 0.0
        if z.kind == "site" and z.category in cats and p > best_p:
            best, best_p = zid, p
    return (best, ctx.agreement.zones[best].name) if best else (None, None)


def _protected(ctx: _Ctx, today: dict, prev: dict) -> dict[str, Any]:
    items = []
    for f in ctx.findings:
        if f.rule_kind != "strike_on_protected" or f.verdict == Verdict.COMPLIANT:
            continue
        r = ctx.by_id.get(f.record_id)
        if r is None:
            continue
        cats = [r.category] if r.kind == Kind.INFRASTRUCTURE_STRIKE else \
            list(ctx.rules[f.rule_id].params.categories)
        site_id, site_name = _site_for(ctx, r, cats)
        items.append({**ctx.common(r), "kind": r.kind.value,
                      "category": r.category if r.kind == Kind.INFRASTRUCTURE_STRIKE
                      else (ctx.agreement.zones[site_id].category if site_id else None),
                      "site_id": site_id, "site_name": site_name, "rule_id": f.rule_id,
                      "rule_text": f.rule_text, "verdict": f.verdict.value,
                      "probability": f.probability, "party": f.party,
                      "description": r.description})
    items.sort(key=lambda d: (d["verdict"] != "violation", d["time"], d["record_id"], d["rule_id"]))
    return {**_with_previous(today["strikes_on_protected"], prev["strikes_on_protected"]), "items": items}


def _disengagement(ctx: _Ctx, today: dict, prev: dict) -> list[dict[str, Any]]:
    return [{"zone": zid, "name": ctx.agreement.zones[zid].name, "near_m": NEAR_DISENGAGEMENT_M,
             "inside": _with_previous(v["inside"], prev["disengagement_areas"][zid]["inside"]),
             "near": _with_previous(v["near"], prev["disengagement_areas"][zid]["near"])}
            for zid, v in today["disengagement_areas"].items()]


def _windows(ctx: _Ctx, day: date) -> list[dict[str, Any]]:
    start, end = _period(day)
    out = []
    for rule in ctx.agreement.rules:
        if rule.kind != "window_of_silence":
            continue
        if (rule.start is not None and rule.start >= end) or (rule.end is not None and rule.end <= start):
            continue
        fs = [f for f in ctx.findings if f.rule_id == rule.id]
        viol = [f for f in fs if f.verdict == Verdict.VIOLATION]
        ind = [f for f in fs if f.verdict == Verdict.INDETERMINATE]
        area = rule.params.area
        out.append({"rule_id": rule.id, "text": rule.text, "area": area,
                    "area_name": ctx.agreement.zones[area].name, "purpose": rule.params.purpose,
                    "start": utc_iso(rule.start), "end": utc_iso(rule.end),
                    "violations": _ffig(viol), "indeterminate": _ffig(ind),
                    "status": "violated" if viol else ("possibly violated" if ind else "held")})
    return out


def _listing(ctx: _Ctx, kind: Kind, fields: Callable[[Report], dict]) -> list[dict[str, Any]]:
    return [{**ctx.common(r), **fields(r)}
            for r in sorted((r for r in ctx.reports if r.kind == kind), key=_time_key(ctx))]


def _findings(ctx: _Ctx, today: dict) -> dict[str, Any]:
    items = []
    for f in ctx.findings:
        if f.verdict == Verdict.COMPLIANT:
            continue
        subject = f.record_id if f.record_id in ctx.by_id else (f.evidence[0] if f.evidence else f.record_id)
        r = ctx.by_id.get(subject)
        items.append({"record_id": f.record_id, "rule_id": f.rule_id, "rule_kind": f.rule_kind,
                      "rule_text": f.rule_text, "verdict": f.verdict.value,
                      "probability": f.probability, "evidence": list(f.evidence), "party": f.party,
                      "explanation": f.explanation, "time": utc_iso(r.time) if r else None,
                      "kind": r.kind.value if r else None, **ctx.where(subject)})
    items.sort(key=lambda d: (d["verdict"] != "violation", d["time"] or "", d["record_id"], d["rule_id"]))
    fd = today["findings"]
    return {"violation": fd["violation"], "indeterminate": fd["indeterminate"],
            "by_party": fd["violation_by_party"], "unattributed": fd["violation_unattributed"],
            "items": items}


def _sensor_network(ctx: _Ctx) -> dict[str, Any]:
    """Incidents fused from raw sensor detections: how many, of what kind, how precisely
    located, which launches were paired with impacts and to which side they were attributed."""
    fused = sorted((r for r in ctx.reports if r.provenance.source_kind == SourceKind.SENSOR_FUSION),
                   key=_time_key(ctx))
    extra = {r.id: dict(r.extra) for r in fused}
    major = np.array([r.location.semi_major_m for r in fused], dtype=float)
    pairs = {extra[r.id]["pair_id"] for r in fused if "pair_id" in extra[r.id]}
    launches = [r for r in fused if r.explosion_type == ExplosionType.OUTGOING]
    paired_launches = [r for r in launches if "pair_id" in extra[r.id]]
    items = [{**ctx.common(r), "explosion_type": r.explosion_type.value if r.explosion_type else None,
              "semi_major_m": round(r.location.semi_major_m, 1),
              "semi_minor_m": round(r.location.semi_minor_m, 1),
              "azimuth_deg": round(r.location.azimuth_deg, 1),
              "detections": len(extra[r.id].get("detections", "").split(",")) if extra[r.id].get("detections") else 0,
              "pair_id": extra[r.id].get("pair_id"), "side": r.party,
              "side_probability": json.loads(extra[r.id]["side_probability"])
              if "side_probability" in extra[r.id] else None,
              "engine": r.engine} for r in fused]
    return {
        "incidents": _fig(fused, _one),
        "by_type": {t.value: _fig((r for r in fused if r.explosion_type == t), _one)
                    for t in ExplosionType},
        "pairs": len(pairs),
        "launches_attributed": {p: _fig((r for r in paired_launches if r.party == p), _one)
                                for p in ctx.agreement.party_ids},
        "launches_abstained": _fig((r for r in paired_launches if r.party is None), _one),
        "ellipse_semi_major_m": {
            "median": round(float(np.median(major)), 1) if len(major) else None,
            "p90": round(float(np.percentile(major, 90)), 1) if len(major) else None},
        "items": items,
    }


def _coverage(reports: Sequence[Report], today: dict) -> dict[str, Any]:
    hours = _active_hours(reports)
    by_source: dict[tuple[str, str], list[Report]] = defaultdict(list)
    for r in reports:
        by_source[(r.provenance.source_kind.value, r.provenance.source_id)].append(r)
    sources = []
    for (kind, sid), rs in sorted(by_source.items()):
        sources.append({"source_kind": kind, "source_id": sid, "records": _fig(rs, _one),
                        "first": utc_iso(min(r.time for r in rs)), "last": utc_iso(max(r.time for r in rs)),
                        "active_hours": len(hours[(kind, sid)]),
                        "hours": sorted(h[-2:] for h in hours[(kind, sid)])})
    kinds = []
    for kind in sorted({k for k, _ in by_source}):
        rs = [r for (k, _), v in by_source.items() if k == kind for r in v]
        kinds.append({"source_kind": kind, "sources": sum(1 for k, _ in by_source if k == kind),
                      "records": _fig(rs, _one), "first": utc_iso(min(r.time for r in rs)),
                      "last": utc_iso(max(r.time for r in rs)),
                      "active_hours": sum(len(h) for (k, _), h in hours.items() if k == kind)})
    sh = today["coverage"]["source_hours"]["count"]
    cv = today["ceasefire_violations"]["count"]
    return {"sources": today["coverage"]["sources"], "source_hours": today["coverage"]["source_hours"],
            "ceasefire_violations_per_source_hour": round(cv / sh, 4) if sh else None,
            "by_source_kind": kinds, "by_source": sources}


def _trend(history: Sequence[dict], today: dict) -> list[dict[str, Any]]:
    days = {h["date"]: h for h in history if h["date"] < today["date"]}
    days[today["date"]] = today
    out = []
    for d in sorted(days):
        h = days[d]
        sh = h["coverage"]["source_hours"]
        cv = h["ceasefire_violations"]
        out.append({"date": d, "ceasefire_violations": cv, "by_kind": h["by_kind"],
                    "live_fire_exercises": {"count": h["live_fire_exercises"]["count"],
                                            "records": h["live_fire_exercises"]["records"]},
                    "source_hours": sh,
                    "per_source_hour": round(cv["count"] / sh["count"], 4) if sh["count"] else None})
    return out


def _explosion_phrase(types: dict[str, Fig]) -> str:
    parts = [_n(types[t.value]["count"], *_TYPE_WORDS[t]) for t in EXPLOSION_ORDER
             if types[t.value]["count"]]
    return f" ({_join(parts)})" if parts else ""


def _fire_sentence(where: str, cur: dict, prev_total: int) -> str:
    total, expl = cur["total"]["count"], cur["by_kind"][Kind.EXPLOSION.value]["count"]
    s = f"{where} the mission recorded {_n(total, 'ceasefire violation', 'ceasefire violations')}"
    if expl:
        s += f", including {_n(expl, 'explosion', 'explosions')}{_explosion_phrase(cur['explosions_by_type'])}"
    s += "."
    live = cur["live_fire"]["count"]
    if live:
        s += (" Of these, 1 was assessed as a live-fire exercise." if live == 1 else
              f" Of these, {live} were assessed as live-fire exercises.")
    return s + f" In the previous reporting period it recorded {prev_total}."


def _sector_label(name: str) -> str:
    words = ("sector", "stretch", "region", "area", "oblast", "segment")
    return f"the {name}" if any(w in name.lower() for w in words) else f"the {name} sector"


def _allegations(findings: Sequence[AllegationFinding]) -> dict[str, Any]:
    """The parties' allegations of the period and the verdict on each, with its evidence."""
    items = sorted((f.as_dict() for f in findings), key=lambda d: d["allegation_id"])
    by_party: dict[str, dict[str, int]] = {}
    for f in findings:
        row = by_party.setdefault(f.alleging_party, {k: 0 for k in verdict_counts(())})
        row[str(f.verdict)] += 1
    return {"received": len(items), "verdicts": verdict_counts(findings),
            "by_alleging_party": dict(sorted(by_party.items())), "items": items}


_VERDICT_WORDS = {"corroborated": "corroborated", "not_corroborated": "not corroborated despite coverage",
                  "contradicted": "contradicted by the evidence", "unverifiable": "unverifiable (no coverage)"}


def _summary(agreement: Agreement, today: dict, prev: dict, sections: dict) -> list[str]:
    out = []
    for cur, old in zip(today["by_sector"], prev["by_sector"]):
        if not cur["total"]["count"] and not old["total"]["count"]:
            continue
        where = "Outside any sector" if cur["sector"] is None else \
            f"In {_sector_label(_sector_name(agreement, cur['sector']))}"
        out.append(_fire_sentence(where, cur, old["total"]["count"]))
    whole = {"total": today["ceasefire_violations"], "by_kind": today["by_kind"],
             "explosions_by_type": today["explosions_by_type"], "live_fire": today["live_fire_exercises"]}
    out.append(_fire_sentence("In total", whole, prev["ceasefire_violations"]["count"]))
    w = sections["weapons"]
    out.append(f"The mission saw {_n(w['in_violation']['count'], 'weapon', 'weapons')} in violation of "
               f"withdrawal lines and {_n(w['outside_storage']['count'], 'weapon', 'weapons')} beyond "
               f"withdrawal lines but outside designated storage sites.")
    ps = sections["protected_sites"]["count"]
    if ps:
        out.append(f"It recorded {_n(ps, 'strike', 'strikes')} on protected sites.")
    fom = sections["freedom_of_movement"]["count"]
    out.append(f"Its freedom of movement was restricted {_n(fom, 'time', 'times')}*." if fom
               else "It recorded no restrictions of its freedom of movement.")
    cc = today["civilian_casualties"]
    rk, ri = cc["reported"]["killed"]["count"], cc["reported"]["injured"]["count"]
    if rk or ri:
        ck, ci = cc["corroborated"]["killed"]["count"], cc["corroborated"]["injured"]["count"]
        out.append(f"Civilian casualties were reported ({rk} killed, {ri} injured); the mission "
                   f"corroborated {ck} killed and {ci} injured.")
    f = today["findings"]
    out.append(f"Verification against the agreement found {_n(f['violation']['count'], 'violation', 'violations')}"
               f" and {_n(f['indeterminate']['count'], 'indeterminate finding', 'indeterminate findings')}.")
    al = sections["allegations"]
    if al["received"]:
        parts = [f"{n} {_VERDICT_WORDS[k]}" for k, n in al["verdicts"].items() if n]
        out.append(f"{_n(al['received'], 'allegation was', 'allegations were')} received from the "
                   f"parties: {_join(parts)}.")
    return out


def _records_table(ctx: _Ctx) -> list[dict[str, Any]]:
    out = []
    for r in sorted(ctx.reports, key=_time_key(ctx)):
        p = ctx.places.get(r.id)
        out.append({"id": r.id, "kind": r.kind.value, "time": utc_iso(r.time), **ctx.where(r.id),
                    "count": r.count,
                    "explosion_type": r.explosion_type.value if r.explosion_type else None,
                    "live_fire_exercise": r.live_fire_exercise, "party": r.party,
                    "source_kind": r.provenance.source_kind.value, "source_id": r.provenance.source_id,
                    "sector": p.sector if p else None, "side": p.side if p else None,
                    "distance_to_line_m": p.distance_to_line_m if p else None})
    return out


def build_daily_report(agreement: Agreement, day: date, *, reports: Sequence[Report],
                       verification: Verification, previous_reports: Sequence[Report],
                       previous_verification: Verification, history: Sequence[dict],
                       gazetteer: Any | None = None, generated_at: datetime,
                       engine: str, allegations: Sequence[AllegationFinding] = (),
                       line_coverage: Sequence[dict] | None = None) -> dict[str, Any]:
    """The daily report for the UTC day ``[day 00:00, day+1 00:00)`` as JSON-serialisable data.

    ``reports``/``verification`` are that day's records and their verification, and
    ``previous_*`` the previous day's; ``history`` holds :func:`count_day` results of earlier
    days, oldest first, for the trend. ``gazetteer`` is anything with a vectorised
    ``describe(lon, lat) -> list[str]`` (:class:`linewatch.geo.places.Gazetteer`). ``allegations``
    are the verdicts on the parties' allegations of the period; ``line_coverage`` the share of
    the line the sensor network covered each hour (``{"start", "share"}``), if known.
    """
    reports = sorted(reports, key=lambda r: r.id)
    today = count_day(agreement, day, reports, verification)
    prev = count_day(agreement, day - timedelta(days=1), previous_reports, previous_verification)
    ctx = _Ctx(agreement, reports, verification, gazetteer)
    start, end = _period(day)
    pstart, pend = _period(day - timedelta(days=1))
    spec = agreement.spec
    sections: dict[str, Any] = {
        "ceasefire_violations": _violations_table(agreement, today, prev),
        "live_fire_exercises": {
            **_with_previous(today["live_fire_exercises"], prev["live_fire_exercises"]),
            "inside_security_zone": _with_previous(today["live_fire_exercises"]["inside_security_zone"],
                                                   prev["live_fire_exercises"]["inside_security_zone"]),
            "outside_security_zone": _with_previous(today["live_fire_exercises"]["outside_security_zone"],
                                                    prev["live_fire_exercises"]["outside_security_zone"])},
        "by_side": {"parties": {p: _with_previous(today["by_side"][p], prev["by_side"][p])
                                for p in agreement.party_ids},
                    "undetermined": _with_previous(today["side_undetermined"], prev["side_undetermined"])},
        "weapons": _weapons(ctx, today, prev),
        "protected_sites": _protected(ctx, today, prev),
        "disengagement_areas": _disengagement(ctx, today, prev),
        "windows_of_silence": _windows(ctx, day),
        "freedom_of_movement": {
            **_with_previous(today["fom_restrictions"], prev["fom_restrictions"]),
            "items": _listing(ctx, Kind.FOM_RESTRICTION, lambda r: {
                "marker": "*", "restriction": r.restriction, "delay_min": r.delay_min,
                "party": r.party, "description": r.description})},
        "mines_uxo": {
            **_with_previous(today["mines_uxo"], prev["mines_uxo"]),
            "items": _listing(ctx, Kind.MINE_UXO, lambda r: {
                "count": r.count, "category": r.category, "party": r.party,
                "description": r.description})},
        "civilian_casualties": {
            **{k: {x: _with_previous(today["civilian_casualties"][k][x], prev["civilian_casualties"][k][x])
                   for x in ("killed", "injured")} for k in ("reported", "corroborated")},
            "items": _listing(ctx, Kind.CIVILIAN_CASUALTY, lambda r: {
                "killed": r.killed or 0, "injured": r.injured or 0,
                "corroborated": bool(r.corroborated), "description": r.description})},
        "findings": _findings(ctx, today),
        "sensor_network": _sensor_network(ctx),
        "coverage": {**_coverage(reports, today),
                     "line_share_by_hour": list(line_coverage) if line_coverage else None},
        "trend": _trend(history, today),
        "allegations": _allegations(allegations),
    }
    header = {
        "agreement": {"id": agreement.id, "title": agreement.title, "version": agreement.version},
        "notional": bool(spec.notional or (spec.line is not None and spec.line.notional)),
        "parties": [{"id": p.id, "name": p.name, "side": p.side} for p in agreement.parties],
        "sectors": [{"id": s.id, "name": s.name} for s in agreement.sectors],
        "date": day.isoformat(),
        "period": {"start": utc_iso(start), "end": utc_iso(end)},
        "previous_period": {"start": utc_iso(pstart), "end": utc_iso(pend)},
        "generated_at": utc_iso(generated_at), "engine": engine,
        "records": _with_previous(today["records"], prev["records"]),
    }
    return {"format": FORMAT, "header": header,
            "summary": _summary(agreement, today, prev, sections), **sections,
            "records": _records_table(ctx)}
