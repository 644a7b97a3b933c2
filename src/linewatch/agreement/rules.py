"""Rule kinds: one registered function and one params schema each.

A rule kind is added like this, and nowhere else::

    class NoFooParams(Strict):
        distance_km: float

    @register("no_foo", NoFooParams)
    def no_foo(ctx: RuleContext, rule: CompiledRule[NoFooParams]) -> list[Assessed]:
        rows = np.flatnonzero(ctx.batch.kind == "foo")
        return [Assessed(rows, probability=ctx.line_band(rows, 0, rule.params.distance_km * 1e3))]

``Assessed.probability`` is the probability that the record's true place lies where the rule
forbids the act; :mod:`linewatch.verification.records` folds in the time and turns it into a verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any, Protocol, TypeVar

import numpy as np
from pydantic import BaseModel, Field

from linewatch.agreement.compiled import Agreement, CompiledRule, Placement
from linewatch.agreement.schema import AgreementFile, Problem, Strict
from linewatch.geo import prob_in_band
from linewatch.model import FIRE_KINDS, ExplosionType, Kind

__all__ = ["REGISTRY", "Assessed", "CapParams", "Check", "Evaluate", "NoFireAcrossLineParams", "NoFireParams",
           "NoOverflightParams", "OverflightLimit", "RecordColumns", "RuleContext", "RuleKind",
           "StrikeOnProtectedParams", "WeaponExclusionParams", "WindowOfSilenceParams", "cap",
           "in_force_probability", "no_fire", "no_fire_across_line", "no_overflight", "register",
           "strike_on_protected", "weapon_exclusion", "window_of_silence"]

P = TypeVar("P", bound=BaseModel)


@dataclass
class Assessed:
    """What a rule found on some rows of the batch (or on groups of them)."""

    rows: np.ndarray
    probability: np.ndarray
    party: np.ndarray | None = None
    note: np.ndarray | str = ""
    #: for findings on groups of records (caps): the group's id and its records
    subjects: list[str] | None = None
    evidence: list[tuple[str, ...]] | None = None
    #: True where the probability already includes the time (aggregates do their own)
    timed: bool = False


class RecordColumns(Protocol):
    """What rules read of a batch of records (:class:`linewatch.verification.Batch`): one
    array per field, strings as object arrays with ``None`` where missing."""

    @property
    def ids(self) -> np.ndarray: ...
    @property
    def kind(self) -> np.ndarray: ...
    @property
    def time_s(self) -> np.ndarray: ...
    @property
    def explosion_type(self) -> np.ndarray: ...
    @property
    def weapon_class(self) -> np.ndarray: ...
    @property
    def weapon_class_id(self) -> np.ndarray: ...
    @property
    def count(self) -> np.ndarray: ...
    @property
    def category(self) -> np.ndarray: ...
    @property
    def aircraft_type(self) -> np.ndarray: ...
    @property
    def purpose(self) -> np.ndarray: ...
    @property
    def party(self) -> np.ndarray: ...
    @property
    def has_origin(self) -> np.ndarray: ...
    @property
    def origin_lon(self) -> np.ndarray: ...
    @property
    def origin_lat(self) -> np.ndarray: ...
    @property
    def origin_cov_en(self) -> np.ndarray: ...

    def __len__(self) -> int: ...

    def in_force(self, rule: CompiledRule[Any]) -> np.ndarray:
        """Whether each record's time window meets the rule's validity."""
        ...


@dataclass
class RuleContext:
    """A batch, its placement, and cached answers that several rules share."""

    agreement: Agreement
    batch: RecordColumns
    placement: Placement
    _zone_p: dict[str, np.ndarray] = field(default_factory=dict)

    def zone_probability(self, zone_id: str) -> np.ndarray:
        if zone_id not in self._zone_p:
            self._zone_p[zone_id] = self.agreement.zones[zone_id].probability(self.placement)
        return self._zone_p[zone_id]

    @cached_property
    def side_probability(self) -> dict[str, np.ndarray]:
        return self.agreement.side_probability(self.placement)

    @cached_property
    def located_party(self) -> np.ndarray:
        """The party on whose side each record lies, where that is at least 90 % sure."""
        out = np.full(len(self.batch), None, dtype=object)
        for p, prob in self.side_probability.items():
            out[prob >= 0.9] = p
        return out

    @cached_property
    def origin_side_probability(self) -> dict[str, np.ndarray]:
        b = self.batch
        has = np.flatnonzero(b.has_origin)
        out = {p: np.full(len(b), np.nan) for p in self.agreement.party_ids}
        if len(has) and self.agreement.line_index is not None:
            pl = self.agreement.place(b.origin_lon[has], b.origin_lat[has], b.origin_cov_en[has])
            for p, prob in self.agreement.side_probability(pl).items():
                out[p][has] = prob
        return out

    @cached_property
    def attributed_party(self) -> np.ndarray:
        """Who the act is attributed to: the record's own attribution, else the side the fire
        came from (its assessed origin, or where outgoing fire and muzzle flashes were seen),
        where that is at least 90 % sure; else None."""
        b = self.batch
        out = b.party.copy()
        free = np.array([v is None for v in out], dtype=bool)
        for p, prob in self.origin_side_probability.items():
            out[free & (prob >= 0.9)] = p
        free = np.array([v is None for v in out], dtype=bool)
        fired_here = (b.explosion_type == ExplosionType.OUTGOING.value) | (
            b.kind == Kind.MUZZLE_FLASH.value)
        sel = free & fired_here
        out[sel] = self.located_party[sel]
        return out

    def line_band(self, rows: np.ndarray, lo_m: float | np.ndarray, hi_m: float | np.ndarray
                  ) -> np.ndarray:
        """P(lo_m <= |true distance to the line| <= hi_m), on either side."""
        signed, sd_m = self.placement.line_signed_m, self.placement.line_sd_m
        if signed is None or sd_m is None:
            raise ValueError("this rule kind needs a line")
        s, sd = signed[rows], sd_m[rows]
        p: np.ndarray = np.minimum(prob_in_band(s, sd, lo_m, hi_m) + prob_in_band(s, sd, -hi_m, -lo_m), 1.0)
        return p


#: A rule kind's evaluation: what it finds on a batch, for one rule of the agreement.
Evaluate = Callable[[RuleContext, CompiledRule[P]], list[Assessed]]
#: A rule kind's own checks of its params against the whole file (problems located under the rule).
Check = Callable[[P, AgreementFile], list[Problem]]


@dataclass(frozen=True)
class RuleKind:
    name: str
    params: type[BaseModel]
    evaluate: Evaluate[Any]
    check: Check[Any]
    doc: str


REGISTRY: dict[str, RuleKind] = {}


def _no_check(params: BaseModel, spec: AgreementFile) -> list[Problem]:
    return []


def register(name: str, params: type[P], *, check: Check[P] | None = None
             ) -> Callable[[Evaluate[P]], Evaluate[P]]:
    """Register a rule kind under ``name`` with the schema of its own keys."""
    def deco(fn: Evaluate[P]) -> Evaluate[P]:
        if name in REGISTRY:
            raise ValueError(f"rule kind {name!r} is already registered")
        REGISTRY[name] = RuleKind(name, params, fn, check or _no_check, (fn.__doc__ or "").strip())
        return fn
    return deco


def _zone_refs(*ids_of: Callable[[P], list[str]]) -> Check[P]:
    """A check that the zones the params name (``ids_of(params)``) exist."""
    def check(params: P, spec: AgreementFile) -> list[Problem]:
        zones = {z.id for z in spec.zones}
        return [((), f"unknown zone {z!r}") for get in ids_of for z in get(params) if z not in zones]
    return check


def _kinds(default: frozenset[Kind]) -> Any:
    """The ``kinds`` field of a rule's params: the record kinds it covers, ``default`` if absent."""
    return Field(default_factory=lambda: sorted(default), description="record kinds the rule covers")


# -- any fire ---------------------------------------------------------------------------------

class NoFireParams(Strict):
    kinds: list[Kind] = _kinds(FIRE_KINDS)
    zones: list[str] | None = Field(None, description="only within these zones; anywhere if absent")


def _no_fire_zones(params: NoFireParams) -> list[str]:
    return params.zones or []


@register("no_fire", NoFireParams, check=_zone_refs(_no_fire_zones))
def no_fire(ctx: RuleContext, rule: CompiledRule[NoFireParams]) -> list[Assessed]:
    """Any fire (of the listed kinds), anywhere or within the listed zones, is a violation."""
    b = ctx.batch
    rows = np.flatnonzero(np.isin(b.kind, [k.value for k in rule.params.kinds]))
    if rule.params.zones:
        p = np.max([ctx.zone_probability(z)[rows] for z in rule.params.zones], axis=0)
    else:
        p = np.ones(len(rows))
    return [Assessed(rows, p, ctx.attributed_party[rows])]


class WindowOfSilenceParams(Strict):
    area: str = Field(description="the zone in which all fire stops for the window")
    kinds: list[Kind] = _kinds(FIRE_KINDS)
    purpose: str = ""


def _window_area(params: WindowOfSilenceParams) -> list[str]:
    return [params.area]


@register("window_of_silence", WindowOfSilenceParams, check=_zone_refs(_window_area))
def window_of_silence(ctx: RuleContext, rule: CompiledRule[WindowOfSilenceParams]) -> list[Assessed]:
    """A local ceasefire for repairs: any fire within the area during the rule's validity."""
    b = ctx.batch
    rows = np.flatnonzero(np.isin(b.kind, [k.value for k in rule.params.kinds]))
    p = ctx.zone_probability(rule.params.area)[rows]
    sel = p > 1e-3
    return [Assessed(rows[sel], p[sel], ctx.attributed_party[rows[sel]])]


# -- fire across the line ---------------------------------------------------------------------

class NoFireAcrossLineParams(Strict):
    kinds: list[Kind] = Field(default_factory=lambda: [Kind.EXPLOSION, Kind.PROJECTILE_IN_FLIGHT])


def _needs_line(params: BaseModel, spec: AgreementFile) -> list[Problem]:
    return [] if spec.line is not None else [((), "this rule kind needs a line")]


@register("no_fire_across_line", NoFireAcrossLineParams, check=_needs_line)
def no_fire_across_line(ctx: RuleContext, rule: CompiledRule[NoFireAcrossLineParams]) -> list[Assessed]:
    """Fire whose assessed origin and impact lie on opposite sides of the line. Applies only to
    records that carry an origin (from crater analysis, a camera sequence, or fusion)."""
    b = ctx.batch
    rows = np.flatnonzero(np.isin(b.kind, [k.value for k in rule.params.kinds]) & b.has_origin)
    ps, po = ctx.side_probability, ctx.origin_side_probability
    a, c = ctx.agreement.party_ids
    p = po[a][rows] * ps[c][rows] + po[c][rows] * ps[a][rows]
    return [Assessed(rows, p, ctx.attributed_party[rows])]


# -- weapons ----------------------------------------------------------------------------------

class WeaponExclusionParams(Strict):
    weapon_classes: list[str] = Field(min_length=1)


def _weapon_check(params: WeaponExclusionParams, spec: AgreementFile) -> list[Problem]:
    classes = {w.id: w for w in spec.weapon_classes}
    out: list[Problem] = []
    for c in params.weapon_classes:
        if c not in classes:
            out.append(((), f"unknown weapon class {c!r}"))
        elif not classes[c].banned_from:
            out.append(((), f"weapon class {c!r} has no banned_from zone"))
    return out


@register("weapon_exclusion", WeaponExclusionParams, check=_weapon_check)
def weapon_exclusion(ctx: RuleContext, rule: CompiledRule[WeaponExclusionParams]) -> list[Assessed]:
    """A weapon of a listed class sighted inside a zone its class is banned from (the class's
    ``banned_from``). The probability is the largest over those zones: a lower bound on
    being in any of them."""
    ag, b = ctx.agreement, ctx.batch
    out = []
    for cls_id in rule.params.weapon_classes:
        rows = np.flatnonzero((b.kind == Kind.WEAPON_SIGHTING.value) & (b.weapon_class_id == cls_id))
        if not len(rows):
            continue
        zones = ag.weapon_classes[cls_id].banned_from
        p = np.max([ctx.zone_probability(z)[rows] for z in zones], axis=0)
        party = b.party[rows].copy()
        free = np.array([v is None for v in party], dtype=bool)
        party[free] = ctx.located_party[rows][free]
        out.append(Assessed(rows, p, party, note=f"{cls_id} banned from {', '.join(zones)}"))
    return out


class CapParams(Strict):
    zone: str
    party: str | None = Field(None, description="whose forces are capped; each party if absent")
    limits: dict[str, Annotated[int, Field(ge=0)]] = Field(
        description="weapon class id (or 'troops') -> the most allowed in the zone at once")


def _cap_zone(params: CapParams) -> list[str]:
    return [params.zone]


def _cap_check(params: CapParams, spec: AgreementFile) -> list[Problem]:
    out = _zone_refs(_cap_zone)(params, spec)
    classes = {w.id for w in spec.weapon_classes} | {"troops"}
    out += [((), f"unknown weapon class {k!r} in limits") for k in params.limits if k not in classes]
    if params.party is not None and params.party not in {p.id for p in spec.parties}:
        out.append((("party",), f"unknown party {params.party!r}"))
    return out


@register("cap", CapParams, check=_cap_check)
def cap(ctx: RuleContext, rule: CompiledRule[CapParams]) -> list[Assessed]:
    """At most N of a class in a zone per party, judged per UTC day. A single sighting above the
    cap is a violation; sightings that exceed it only when added up are indeterminate, since
    separate sightings may count the same equipment twice."""
    b = ctx.batch
    p_zone = ctx.zone_probability(rule.params.zone)
    in_zone = p_zone >= 0.5
    party = b.party.copy()
    free = np.array([v is None for v in party], dtype=bool)
    party[free] = ctx.located_party[free]
    day = (b.time_s // 86400).astype(np.int64)
    parties = [rule.params.party] if rule.params.party else list(ctx.agreement.party_ids)
    rows_out, prob, subj, evid, parties_out, notes = [], [], [], [], [], []
    for key, limit in sorted(rule.params.limits.items()):
        is_key = b.weapon_class_id == key if key != "troops" else np.isin(
            b.weapon_class, ["troops", "personnel"])
        base = (b.kind == Kind.WEAPON_SIGHTING.value) & is_key & in_zone & b.in_force(rule)
        for p in parties:
            sel = base & (party == p)
            for d in np.unique(day[sel]):
                rows = np.flatnonzero(sel & (day == d))
                counts = b.count[rows]
                top = rows[np.argmax(counts)]
                most, total = int(counts.max()), int(counts.sum())
                if most > limit:
                    pr, note = float(p_zone[top]), f"one sighting of {most} {key} > cap {limit}"
                elif total > limit:
                    pr = 0.5
                    note = f"sightings add up to {total} {key} > cap {limit}, none alone exceeds it"
                else:
                    pr, note = 0.0, f"at most {total} {key} sighted <= cap {limit}"
                date = np.datetime64(int(d), "D")
                rows_out.append(top)
                prob.append(pr)
                subj.append(f"{rule.id}:{rule.params.zone}:{p}:{key}:{date}")
                evid.append(tuple(b.ids[rows]))
                parties_out.append(p)
                notes.append(note)
    return [Assessed(np.asarray(rows_out, dtype=np.int64), np.asarray(prob, dtype=float),
                     np.asarray(parties_out, dtype=object), np.asarray(notes, dtype=object),
                     subjects=subj, evidence=evid, timed=True)]


# -- protected sites --------------------------------------------------------------------------

class StrikeOnProtectedParams(Strict):
    categories: list[str] = Field(min_length=1)
    explosion_types: list[ExplosionType] = Field(
        default_factory=lambda: [ExplosionType.IMPACT, ExplosionType.AIRBURST,
                                 ExplosionType.UNDETERMINED])


@register("strike_on_protected", StrikeOnProtectedParams)
def strike_on_protected(ctx: RuleContext, rule: CompiledRule[StrikeOnProtectedParams]) -> list[Assessed]:
    """A strike on infrastructure of a protected category (as the record states it), or an
    explosion with a chance of having landed within a protected site of that category."""
    ag, b = ctx.agreement, ctx.batch
    cats = set(rule.params.categories)
    strikes = np.flatnonzero((b.kind == Kind.INFRASTRUCTURE_STRIKE.value)
                             & np.isin(b.category, list(cats)))
    out = [Assessed(strikes, np.ones(len(strikes)), ctx.attributed_party[strikes],
                    note="strike on protected category")]
    sites = [z for z in ag.zones.values() if z.kind == "site" and z.category in cats]
    if sites:
        expl = np.flatnonzero((b.kind == Kind.EXPLOSION.value)
                              & np.isin(b.explosion_type, [t.value for t in rule.params.explosion_types]))
        if len(expl):
            probs = np.array([ctx.zone_probability(z.id)[expl] for z in sites])
            best = probs.argmax(axis=0)
            p = probs.max(axis=0)
            sel = p > 1e-3
            note = np.array([f"within {sites[i].name}" for i in best[sel]], dtype=object)
            out.append(Assessed(expl[sel], p[sel], ctx.attributed_party[expl[sel]], note=note))
    return out


# -- aircraft ---------------------------------------------------------------------------------

class OverflightLimit(Strict):
    aircraft_type: str
    distance_km: Annotated[float, Field(gt=0)]
    sectors: list[str] | None = Field(None, description="only over these sectors; all if absent")
    source: str | None = None


class NoOverflightParams(Strict):
    limits: list[OverflightLimit] = Field(min_length=1)
    exempt_purposes: list[str] = Field(default_factory=list)


def _overflight_check(params: NoOverflightParams, spec: AgreementFile) -> list[Problem]:
    out = _needs_line(params, spec)
    sectors = {s.id for s in spec.sectors}
    for i, lim in enumerate(params.limits):
        out += [(("limits", i, "sectors"), f"unknown sector {s!r}")
                for s in lim.sectors or [] if s not in sectors]
    return out


@register("no_overflight", NoOverflightParams, check=_overflight_check)
def no_overflight(ctx: RuleContext, rule: CompiledRule[NoOverflightParams]) -> list[Assessed]:
    """An aircraft of a listed type within its no-fly distance of the line (on either side),
    per sector where the distance differs by sector. Exempt purposes are compliant."""
    b, chainage = ctx.batch, ctx.placement.chainage_m
    if chainage is None:
        raise ValueError("this rule kind needs a line")
    sector = ctx.agreement.sector_of(chainage)
    limit_m = np.full(len(b), np.nan)
    for lim in rule.params.limits:
        sel = (b.kind == Kind.AIRCRAFT_SIGHTING.value) & (b.aircraft_type == lim.aircraft_type)
        if lim.sectors is not None:
            sel &= np.isin(sector, lim.sectors)
        limit_m[sel & np.isnan(limit_m)] = lim.distance_km * 1000.0
    rows = np.flatnonzero(~np.isnan(limit_m))
    p = ctx.line_band(rows, 0.0, limit_m[rows])
    exempt = np.isin(b.purpose[rows], rule.params.exempt_purposes)
    p[exempt] = 0.0
    note = np.where(exempt, "exempt purpose", "").astype(object)
    party = b.party[rows].copy()
    free = np.array([v is None for v in party], dtype=bool)
    party[free] = ctx.located_party[rows][free]
    return [Assessed(rows, p, party, note=note)]


def in_force_probability(time_s: np.ndarray, window_s: np.ndarray, start_s: float, end_s: float
                         ) -> np.ndarray:
    """The share of each record's time window that falls within ``[start_s, end_s)``.

    A record known to the instant (a zero window) is in force or not:

    >>> time_s, window_s = np.array([0.0, 0.0, 50.0]), np.array([100.0, 0.0, 0.0])
    >>> in_force_probability(time_s, window_s, 50.0, 1000.0).tolist()
    [0.5, 0.0, 1.0]
    """
    lo = np.maximum(time_s, start_s)
    hi = np.minimum(time_s + window_s, end_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.clip((hi - lo) / window_s, 0.0, 1.0)
    point = ((time_s >= start_s) & (time_s < end_s)).astype(float)
    return np.where(window_s > 0, share, point)

