"""The daily report's sections: each of the day's figures beside the previous day's, and the
records, findings and sources behind them.

:func:`build_sections` builds them all in the report's order; the daily report adds its header
and summary (:mod:`linewatch.reporting.daily`). Lists of items are sorted by time, then id.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from linewatch.agreement import Agreement
from linewatch.model import ExplosionType, Kind, Report, SourceKind, Verdict, utc_iso
from linewatch.reporting.counts import (
    EXPLOSION_ORDER,
    FIRE_ORDER,
    KIND_LABELS,
    NEAR_DISENGAGEMENT_M,
    Fig,
    active_hours,
    day_facts,
    day_period,
    each_once,
    figure,
    findings_figure,
)
from linewatch.verification import AllegationFinding, PlaceFacts, Verification, verdict_counts

__all__ = ["Describes", "ReportContext", "build_sections", "records_table", "sector_name", "whole_day",
           "with_previous"]


class Describes(Protocol):
    """A gazetteer: each point in words (:meth:`linewatch.geo.Gazetteer.describe`)."""

    def describe(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> list[str]: ...


def with_previous(current: Fig, previous: Fig) -> Fig:
    """A figure with the previous period's beside it."""
    return {"count": current["count"], "records": current["records"],
            "previous": {"count": previous["count"], "records": previous["records"]}}


def whole_day(day: Fig) -> Fig:
    """A day's fire figures (:func:`~linewatch.reporting.count_day`) in the shape of a sector's."""
    return {"total": day["ceasefire_violations"], "by_kind": day["by_kind"],
            "explosions_by_type": day["explosions_by_type"], "live_fire": day["live_fire_exercises"]}


def sector_name(agreement: Agreement, key: str | None) -> str:
    names = {s.id: s.name for s in agreement.sectors}
    return names.get(key, "Outside any sector") if key is not None else "Outside any sector"


def _place_words(reports: Sequence[Report], gazetteer: Describes | None) -> dict[str, str]:
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


def _by_time(r: Report) -> tuple[datetime, str]:
    return r.time, r.id


class ReportContext:
    """What the section builders share: records by id, their places and words."""

    def __init__(self, agreement: Agreement, reports: Sequence[Report], verification: Verification,
                 gazetteer: Describes | None) -> None:
        self.agreement = agreement
        self.reports = reports
        self.by_id = {r.id: r for r in reports}
        self.words = _place_words(reports, gazetteer)
        self.facts = day_facts(reports, verification)
        self.places: dict[str, PlaceFacts] = self.facts.places
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


def build_sections(ctx: ReportContext, day: date, today: Fig, prev: Fig, *, history: Sequence[Fig],
                   allegations: Sequence[AllegationFinding], line_coverage: Sequence[Fig] | None) -> Fig:
    """Every section of the report, in its order; ``today`` and ``prev`` are the two days'
    :func:`~linewatch.reporting.count_day` figures."""
    return {
        "ceasefire_violations": _violations_table(ctx.agreement, today, prev),
        "live_fire_exercises": _live_fire(today, prev),
        "by_side": {"parties": {p: with_previous(today["by_side"][p], prev["by_side"][p])
                                for p in ctx.agreement.party_ids},
                    "undetermined": with_previous(today["side_undetermined"], prev["side_undetermined"])},
        "weapons": _weapons(ctx, today, prev),
        "protected_sites": _protected(ctx, today, prev),
        "disengagement_areas": _disengagement(ctx, today, prev),
        "windows_of_silence": _windows(ctx, day),
        "freedom_of_movement": {
            **with_previous(today["fom_restrictions"], prev["fom_restrictions"]),
            "items": _listing(ctx, Kind.FOM_RESTRICTION, lambda r: {
                "marker": "*", "restriction": r.restriction, "delay_min": r.delay_min,
                "party": r.party, "description": r.description})},
        "mines_uxo": {
            **with_previous(today["mines_uxo"], prev["mines_uxo"]),
            "items": _listing(ctx, Kind.MINE_UXO, lambda r: {
                "count": r.count, "category": r.category, "party": r.party,
                "description": r.description})},
        "civilian_casualties": {
            **{k: {x: with_previous(today["civilian_casualties"][k][x], prev["civilian_casualties"][k][x])
                   for x in ("killed", "injured")} for k in ("reported", "corroborated")},
            "items": _listing(ctx, Kind.CIVILIAN_CASUALTY, lambda r: {
                "killed": r.killed or 0, "injured": r.injured or 0,
                "corroborated": bool(r.corroborated), "description": r.description})},
        "findings": _findings(ctx, today),
        "sensor_network": _sensor_network(ctx),
        "coverage": {**_coverage(ctx.reports, today),
                     "line_share_by_hour": list(line_coverage) if line_coverage else None},
        "trend": _trend(history, today),
        "allegations": _allegations(allegations),
    }


# -- fire ------------------------------------------------------------------------------------

def _violations_table(agreement: Agreement, today: Fig, prev: Fig) -> Fig:
    def row(cur: Fig, old: Fig) -> Fig:
        return {
            "total": with_previous(cur["total"], old["total"]),
            "by_kind": {k: with_previous(cur["by_kind"][k], old["by_kind"][k]) for k in cur["by_kind"]},
            "explosions_by_type": {t: with_previous(cur["explosions_by_type"][t], old["explosions_by_type"][t])
                                   for t in cur["explosions_by_type"]},
            "live_fire": with_previous(cur["live_fire"], old["live_fire"]),
        }

    rows = []
    for cur, old in zip(today["by_sector"], prev["by_sector"]):
        if cur["sector"] is None and not cur["total"]["count"] and not old["total"]["count"]:
            continue
        rows.append({"sector": cur["sector"], "name": sector_name(agreement, cur["sector"]),
                     **row(cur, old)})
    return {"kinds": [k.value for k in FIRE_ORDER],
            "kind_labels": {k.value: KIND_LABELS[k] for k in FIRE_ORDER},
            "explosion_types": [t.value for t in EXPLOSION_ORDER],
            "rows": rows, "total": row(whole_day(today), whole_day(prev))}


def _live_fire(today: Fig, prev: Fig) -> Fig:
    cur, old = today["live_fire_exercises"], prev["live_fire_exercises"]
    return {**with_previous(cur, old),
            "inside_security_zone": with_previous(cur["inside_security_zone"], old["inside_security_zone"]),
            "outside_security_zone": with_previous(cur["outside_security_zone"], old["outside_security_zone"])}


# -- weapons, protected sites, disengagement areas, windows of silence ---------------------------

def _weapon_items(ctx: ReportContext, records: list[Report], violation: bool) -> list[Fig]:
    ag = ctx.agreement
    out = []
    for r in sorted(records, key=_by_time):
        cid = ag.weapon_class_of(r.weapon_class)
        party, basis = ctx.facts.weapon_party[r.id]
        fs = [f for f in ctx.facts.by_record.get(r.id, []) if f.rule_kind == "weapon_exclusion"]
        if violation:
            fs = [f for f in fs if f.verdict == Verdict.VIOLATION]
        out.append({**ctx.common(r), "weapon": r.weapon_class, "class_id": cid,
                    "class_name": ag.weapon_classes[cid].name if cid else None, "count": r.count,
                    "in_storage": r.in_storage, "party": party, "party_basis": basis,
                    "findings": [{"rule_id": f.rule_id, "verdict": f.verdict.value,
                                  "probability": f.probability} for f in fs]})
    return out


def _weapons(ctx: ReportContext, today: Fig, prev: Fig) -> Fig:
    parties = ctx.agreement.party_ids
    out = {}
    for key, records, viol in (("in_violation", ctx.facts.in_violation, True),
                               ("outside_storage", ctx.facts.outside_storage, False)):
        fk = f"weapons_{key}"
        out[key] = {**with_previous(today[fk], prev[fk]),
                    "by_party": {p: with_previous(today[f"{fk}_by_party"][p], prev[f"{fk}_by_party"][p])
                                 for p in parties},
                    "items": _weapon_items(ctx, records, viol)}
    return out


def _site_for(ctx: ReportContext, r: Report, categories: Iterable[str | None]) -> tuple[str | None, str | None]:
    place = ctx.places.get(r.id)
    cats = set(categories)
    best, best_p = None, 0.0
    for zid, z in ctx.agreement.zones.items():
        p = place.zones.get(zid, 0.0) if place else 0.0
        if z.kind == "site" and z.category in cats and p > best_p:
            best, best_p = zid, p
    return (best, ctx.agreement.zones[best].name) if best else (None, None)


def _protected(ctx: ReportContext, today: Fig, prev: Fig) -> Fig:
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
    return {**with_previous(today["strikes_on_protected"], prev["strikes_on_protected"]), "items": items}


def _disengagement(ctx: ReportContext, today: Fig, prev: Fig) -> list[Fig]:
    return [{"zone": zid, "name": ctx.agreement.zones[zid].name, "near_m": NEAR_DISENGAGEMENT_M,
             "inside": with_previous(v["inside"], prev["disengagement_areas"][zid]["inside"]),
             "near": with_previous(v["near"], prev["disengagement_areas"][zid]["near"])}
            for zid, v in today["disengagement_areas"].items()]


def _windows(ctx: ReportContext, day: date) -> list[Fig]:
    start, end = day_period(day)
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
                    "violations": findings_figure(viol), "indeterminate": findings_figure(ind),
                    "status": "violated" if viol else ("possibly violated" if ind else "held")})
    return out


def _listing(ctx: ReportContext, kind: Kind, fields: Callable[[Report], Fig]) -> list[Fig]:
    return [{**ctx.common(r), **fields(r)}
            for r in sorted((r for r in ctx.reports if r.kind == kind), key=_by_time)]


# -- findings, fused incidents, coverage, trend, allegations, records ---------------------------

def _findings(ctx: ReportContext, today: Fig) -> Fig:
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


def _incident_item(ctx: ReportContext, r: Report) -> Fig:
    extra = dict(r.extra)
    return {**ctx.common(r), "explosion_type": r.explosion_type.value if r.explosion_type else None,
            "semi_major_m": round(r.location.semi_major_m, 1),
            "semi_minor_m": round(r.location.semi_minor_m, 1),
            "azimuth_deg": round(r.location.azimuth_deg, 1),
            "detections": len(extra.get("detections", "").split(",")) if extra.get("detections") else 0,
            "pair_id": extra.get("pair_id"), "side": r.party,
            "side_probability": json.loads(extra["side_probability"])
            if "side_probability" in extra else None,
            "engine": r.engine}


def _sensor_network(ctx: ReportContext) -> Fig:
    """Incidents fused from raw sensor detections: how many, of what kind, how precisely
    located, which launches were paired with impacts and to which side they were attributed."""
    fused = sorted((r for r in ctx.reports if r.provenance.source_kind == SourceKind.SENSOR_FUSION),
                   key=_by_time)
    extra = {r.id: dict(r.extra) for r in fused}
    major = np.array([r.location.semi_major_m for r in fused], dtype=float)
    pairs = {extra[r.id]["pair_id"] for r in fused if "pair_id" in extra[r.id]}
    launches = [r for r in fused if r.explosion_type == ExplosionType.OUTGOING]
    paired_launches = [r for r in launches if "pair_id" in extra[r.id]]
    return {
        "incidents": figure(fused, each_once),
        "by_type": {t.value: figure((r for r in fused if r.explosion_type == t), each_once)
                    for t in ExplosionType},
        "pairs": len(pairs),
        "launches_attributed": {p: figure((r for r in paired_launches if r.party == p), each_once)
                                for p in ctx.agreement.party_ids},
        "launches_abstained": figure((r for r in paired_launches if r.party is None), each_once),
        "ellipse_semi_major_m": {
            "median": round(float(np.median(major)), 1) if len(major) else None,
            "p90": round(float(np.percentile(major, 90)), 1) if len(major) else None},
        "items": [_incident_item(ctx, r) for r in fused],
    }


def _coverage(reports: Sequence[Report], today: Fig) -> Fig:
    hours = active_hours(reports)
    by_source: dict[tuple[str, str], list[Report]] = defaultdict(list)
    for r in reports:
        by_source[(r.provenance.source_kind.value, r.provenance.source_id)].append(r)
    sources = []
    for (kind, sid), rs in sorted(by_source.items()):
        sources.append({"source_kind": kind, "source_id": sid, "records": figure(rs, each_once),
                        "first": utc_iso(min(r.time for r in rs)), "last": utc_iso(max(r.time for r in rs)),
                        "active_hours": len(hours[(kind, sid)]),
                        "hours": sorted(h[-2:] for h in hours[(kind, sid)])})
    kinds = []
    for kind in sorted({k for k, _ in by_source}):
        rs = [r for (k, _), v in by_source.items() if k == kind for r in v]
        kinds.append({"source_kind": kind, "sources": sum(1 for k, _ in by_source if k == kind),
                      "records": figure(rs, each_once), "first": utc_iso(min(r.time for r in rs)),
                      "last": utc_iso(max(r.time for r in rs)),
                      "active_hours": sum(len(h) for (k, _), h in hours.items() if k == kind)})
    sh = today["coverage"]["source_hours"]["count"]
    cv = today["ceasefire_violations"]["count"]
    return {"sources": today["coverage"]["sources"], "source_hours": today["coverage"]["source_hours"],
            "ceasefire_violations_per_source_hour": round(cv / sh, 4) if sh else None,
            "by_source_kind": kinds, "by_source": sources}


def _trend(history: Sequence[Fig], today: Fig) -> list[Fig]:
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
                    "per_source_hour": round(cv["count"] / sh["count"], 4) if sh["count"] else None,
                    **({"review": h["review"]} if "review" in h else {})})
    return out


def _allegations(findings: Sequence[AllegationFinding]) -> Fig:
    """The parties' allegations of the period and the verdict on each, with its evidence."""
    items = sorted((f.as_dict() for f in findings), key=lambda d: d["allegation_id"])
    by_party: dict[str, dict[str, int]] = {}
    for f in findings:
        row = by_party.setdefault(f.alleging_party, {k: 0 for k in verdict_counts(())})
        row[str(f.verdict)] += 1
    return {"received": len(items), "verdicts": verdict_counts(findings),
            "by_alleging_party": dict(sorted(by_party.items())), "items": items}


def records_table(ctx: ReportContext) -> list[Fig]:
    """Every record of the day, by time: where, what, whose, and how it was placed."""
    out = []
    for r in sorted(ctx.reports, key=_by_time):
        p = ctx.places.get(r.id)
        out.append({"id": r.id, "kind": r.kind.value, "time": utc_iso(r.time), **ctx.where(r.id),
                    "count": r.count,
                    "explosion_type": r.explosion_type.value if r.explosion_type else None,
                    "live_fire_exercise": r.live_fire_exercise, "party": r.party,
                    "source_kind": r.provenance.source_kind.value, "source_id": r.provenance.source_id,
                    "sector": p.sector if p else None, "side": p.side if p else None,
                    "distance_to_line_m": p.distance_to_line_m if p else None})
    return out
