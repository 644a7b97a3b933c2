"""Verification of located records against an agreement: columnar, pure, deterministic.

:func:`verify` places every record (side, signed distances, sector, zones) and runs every
rule in force at its time, returning a :class:`Verification` whose findings are sorted, so
the result does not depend on the order of the input.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from linewatch.agreement import REGISTRY, Agreement, CompiledRule, Placement, RuleContext, in_force_probability
from linewatch.geo import covariances_en
from linewatch.model import Finding, Location, Report, Verdict, utc_datetime

__all__ = ["ENGINE_VERSION", "Batch", "PlaceFacts", "Verification", "classify", "finding_to_dict", "utc", "verify"]

#: Bumped whenever a change can alter a verdict; stored with every verification run.
ENGINE_VERSION = "verify-1"


def _epoch(t: datetime | None, default: float) -> float:
    return t.timestamp() if t is not None else default


@dataclass(frozen=True)
class Batch:
    """Records as columns. Strings are object arrays with ``None`` for missing values."""

    ids: np.ndarray
    kind: np.ndarray
    time_s: np.ndarray
    window_s: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    cov_en: np.ndarray
    explosion_type: np.ndarray
    weapon_class: np.ndarray
    weapon_class_id: np.ndarray
    count: np.ndarray
    category: np.ndarray
    aircraft_type: np.ndarray
    purpose: np.ndarray
    party: np.ndarray
    has_origin: np.ndarray
    origin_lon: np.ndarray
    origin_lat: np.ndarray
    origin_cov_en: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def in_force(self, rule: CompiledRule[Any]) -> np.ndarray:
        """Whether each record's time window meets the rule's validity."""
        in_force: np.ndarray = in_force_probability(self.time_s, self.window_s, _epoch(rule.start, -math.inf),
                                                    _epoch(rule.end, math.inf)) > 0
        return in_force

    @classmethod
    def from_reports(cls, reports: Sequence[Report], agreement: Agreement) -> Batch:
        n = len(reports)

        def objects(get: Callable[[Report], Any]) -> np.ndarray:
            # the trailing None keeps a 1-D object array whatever the values are (tuples, lists)
            return np.array([get(r) for r in reports] + [None], dtype=object)[:n]

        def numbers(get: Callable[[Report], float], dtype: type[np.generic]) -> np.ndarray:
            return np.fromiter((get(r) for r in reports), dtype=dtype, count=n)

        loc = [r.location for r in reports]
        origins = [r.origin for r in reports]
        o = [g if g is not None else loc[i] for i, g in enumerate(origins)]
        weapon = objects(lambda r: r.weapon_class)
        return cls(
            ids=objects(lambda r: r.id),
            kind=objects(lambda r: r.kind.value),
            time_s=numbers(lambda r: r.time.timestamp(), np.float64),
            window_s=numbers(lambda r: r.time_window_s, np.float64),
            lon=np.array([g.lon for g in loc], dtype=float),
            lat=np.array([g.lat for g in loc], dtype=float),
            cov_en=_covariances(loc),
            explosion_type=objects(lambda r: r.explosion_type.value if r.explosion_type else None),
            weapon_class=weapon,
            weapon_class_id=np.array([agreement.weapon_class_of(w) for w in weapon] + [None],
                                     dtype=object)[:n],
            count=numbers(lambda r: r.count, np.int64),
            category=objects(lambda r: r.category),
            aircraft_type=objects(lambda r: r.aircraft_type),
            purpose=objects(lambda r: r.purpose),
            party=objects(lambda r: r.party),
            has_origin=np.array([g is not None for g in origins], dtype=bool),
            origin_lon=np.array([g.lon for g in o], dtype=float),
            origin_lat=np.array([g.lat for g in o], dtype=float),
            origin_cov_en=_covariances(o),
        )


def _covariances(locations: Sequence[Location]) -> np.ndarray:
    """(n, 2, 2) east/north covariances of the locations' 95 % ellipses."""
    return covariances_en(np.array([g.semi_major_m for g in locations]),
                          np.array([g.semi_minor_m for g in locations]),
                          np.array([g.azimuth_deg for g in locations]))


@dataclass(frozen=True)
class PlaceFacts:
    """Where one record lies relative to the agreement."""

    record_id: str
    side: str | None
    side_probability: dict[str, float]
    distance_to_line_m: float | None
    distance_to_reference_m: dict[str, float]
    sector: str | None
    zones: dict[str, float]
    rules_in_force: tuple[str, ...]


@dataclass(frozen=True)
class Verification:
    agreement_id: str
    agreement_version: str
    engine: str
    places: tuple[PlaceFacts, ...]
    findings: tuple[Finding, ...]

    def findings_for(self, record_id: str) -> list[Finding]:
        return [f for f in self.findings if f.record_id == record_id or record_id in f.evidence]


def classify(agreement: Agreement, lon: np.ndarray, lat: np.ndarray,
             cov_en: np.ndarray | None = None) -> Placement:
    """The columnar hot path: side, signed distances and chainage of located points."""
    lon = np.asarray(lon, dtype=float)
    if cov_en is None:
        cov_en = np.zeros((len(lon), 2, 2))
    return agreement.place(lon, lat, cov_en)


def _verdict(p: float, agreement: Agreement) -> Verdict:
    if p >= agreement.policy.violation_probability:
        return Verdict.VIOLATION
    if p <= agreement.policy.compliant_probability:
        return Verdict.COMPLIANT
    return Verdict.INDETERMINATE


def verify(agreement: Agreement, reports: Sequence[Report]) -> Verification:
    """Place every record and run every rule in force at its time."""
    reports = sorted(reports, key=lambda r: r.id)
    batch = Batch.from_reports(reports, agreement)
    pl = agreement.place(batch.lon, batch.lat, batch.cov_en)
    ctx = RuleContext(agreement, batch, pl)
    in_force = {r.id: in_force_probability(batch.time_s, batch.window_s, _epoch(r.start, -math.inf),
                                           _epoch(r.end, math.inf)) for r in agreement.rules}
    findings: list[Finding] = []
    for rule in agreement.rules:
        kind = REGISTRY[rule.kind]
        for a in kind.evaluate(ctx, rule):
            p_time = np.ones(len(a.rows)) if a.timed else in_force[rule.id][a.rows]
            probs = np.asarray(a.probability, dtype=float) * p_time
            for i, row in enumerate(a.rows):
                if p_time[i] <= 0:
                    continue
                note = a.note if isinstance(a.note, str) else a.note[i]
                p = float(np.clip(probs[i], 0.0, 1.0))
                findings.append(Finding(
                    record_id=a.subjects[i] if a.subjects else str(batch.ids[row]),
                    rule_id=rule.id, rule_kind=rule.kind, rule_text=rule.text,
                    verdict=_verdict(p, agreement), probability=round(p, 6),
                    evidence=a.evidence[i] if a.evidence else (str(batch.ids[row]),),
                    party=None if a.party is None else a.party[i],
                    explanation=_explain(p, p_time[i], note)))
    findings.sort(key=lambda f: (f.record_id, f.rule_id))
    places = _place_facts(agreement, batch, pl, ctx, in_force)
    return Verification(agreement.id, agreement.version, ENGINE_VERSION, places, tuple(findings))


def _explain(p: float, p_time: float, note: str) -> str:
    parts = [f"P={p:.3f}"]
    if p_time < 1:
        parts.append(f"in force for {p_time:.0%} of the record's time window")
    if note:
        parts.append(str(note))
    return "; ".join(parts)


def _place_facts(agreement: Agreement, batch: Batch, pl: Placement, ctx: RuleContext,
                 in_force: dict[str, np.ndarray]) -> tuple[PlaceFacts, ...]:
    sides = ctx.side_probability
    zone_p = {zid: ctx.zone_probability(zid) for zid in agreement.zones}
    sector = agreement.sector_of(pl.chainage_m) if pl.chainage_m is not None else None
    out = []
    for i, rid in enumerate(batch.ids):
        sp = {p: round(float(v[i]), 6) for p, v in sides.items()}
        side = max(sp, key=lambda p: sp[p]) if sp and max(sp.values()) > 0.5 else None
        out.append(PlaceFacts(
            record_id=str(rid), side=side, side_probability=sp,
            distance_to_line_m=None if pl.line_signed_m is None else round(float(abs(pl.line_signed_m[i])), 2),
            distance_to_reference_m={p: round(float(v[i]), 2) for p, v in pl.own_side_m.items()},
            sector=None if sector is None else sector[i],
            zones={z: round(float(v[i]), 6) for z, v in zone_p.items() if v[i] > 1e-6},
            rules_in_force=tuple(r for r, v in in_force.items() if v[i] > 0)))
    return tuple(out)


def finding_to_dict(f: Finding) -> dict[str, Any]:
    return {"record_id": f.record_id, "rule_id": f.rule_id, "rule_kind": f.rule_kind,
            "rule_text": f.rule_text, "verdict": f.verdict.value, "probability": f.probability,
            "evidence": list(f.evidence), "party": f.party, "explanation": f.explanation}


#: The aware UTC datetime of epoch seconds: :func:`linewatch.model.utc_datetime` (public here too).
utc = utc_datetime
