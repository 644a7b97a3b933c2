"""The compiled agreement: its working frame, line indexes, zones and rules.

An :class:`Agreement` is built by :func:`linewatch.agreement.parse_agreement` from a validated
file. It answers columnar questions about located points: :meth:`Agreement.place` measures
them against the line and each party's reference line (a :class:`Placement`), and
:meth:`Agreement.side_probability` and :meth:`Agreement.zone_probabilities` turn that into
probabilities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Generic, TypeVar

import numpy as np
import shapely
from pydantic import BaseModel

from linewatch.agreement import schema as schema
from linewatch.agreement.zones import CompiledZone, compile_zone
from linewatch.geo import LineIndex, WorkingFrame, densify_geodesic, normal_sd_m, prob_in_band

__all__ = ["Agreement", "CompiledRule", "Placement"]

P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True)
class Placement:
    """Where a batch of points lies relative to an agreement, columnar."""

    lon: np.ndarray
    lat: np.ndarray
    x: np.ndarray
    y: np.ndarray
    cov_en: np.ndarray
    cov_grid: np.ndarray
    k: np.ndarray
    #: per party id: signed distance (m) to its reference line, positive on its own side
    own_side_m: dict[str, np.ndarray] = field(default_factory=dict)
    own_side_sd_m: dict[str, np.ndarray] = field(default_factory=dict)
    line_signed_m: np.ndarray | None = None
    line_sd_m: np.ndarray | None = None
    chainage_m: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.lon)


@dataclass(frozen=True)
class CompiledRule(Generic[P]):
    """A rule of the agreement: its kind's validated params and when it is in force
    (the rule's validity within the agreement's)."""

    id: str
    kind: str
    text: str
    source: str | None
    start: datetime | None
    end: datetime | None
    params: P


def _line_parts(line: schema.Line) -> list[np.ndarray]:
    g = line.geometry
    raw = [g.coordinates] if g.type == "LineString" else g.coordinates
    parts = []
    for i, coords in enumerate(raw):
        arr = np.asarray(coords, dtype=float)
        if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) < 2:
            raise ValueError(f"line part {i}: expected at least two [lon, lat] pairs")
        if np.any(np.abs(arr[:, 0]) > 180) or np.any(np.abs(arr[:, 1]) > 90):
            raise ValueError(f"line part {i}: coordinates outside lon/lat range")
        if line.densify_km:
            arr = densify_geodesic(arr, line.densify_km * 1000.0)
        parts.append(arr)
    return parts


def _frame_for(spec: schema.AgreementFile, line_parts: list[np.ndarray] | None,
               reference_parts: dict[str, list[np.ndarray]]) -> WorkingFrame:
    """The frame centred on the line (so that mirroring about it is exact), or on the zones
    and sites of an agreement that has none."""
    lons = [parts[:, 0] for parts in (line_parts or [])]
    lons += [c[:, 0] for parts in reference_parts.values() for c in parts]
    for z in ([] if lons else spec.zones):
        if isinstance(z, schema.Site) and z.point is not None:
            lons.append(np.array([z.point[0]]))
        elif not isinstance(z, schema.BufferZone) and z.geometry is not None:
            lons.append(np.asarray(shapely.get_coordinates(
                shapely.geometry.shape(z.geometry.model_dump())))[:, 0])
    return WorkingFrame.for_lonlat(np.concatenate(lons) if lons else np.array([0.0]))


class Agreement:
    """A validated, compiled agreement. Build it with :func:`parse_agreement`."""

    def __init__(self, spec: schema.AgreementFile, rule_params: dict[str, BaseModel], *,
                 name: str = "<agreement>") -> None:
        self.spec = spec
        self.name = name
        self.id = spec.id
        self.title = spec.title
        self.version = spec.version
        self.parties = spec.parties
        self.party_ids = [p.id for p in spec.parties]
        self.side_of = {p.id: p.side for p in spec.parties}
        self.policy = spec.policy
        self.line_parts = _line_parts(spec.line) if spec.line else None
        self.reference_parts = {p: _line_parts(line) for p, line in spec.reference_lines.items()}
        self.frame = _frame_for(spec, self.line_parts, self.reference_parts)
        self.line_index = LineIndex(self.frame, self.line_parts) if self.line_parts else None
        self._ref_index = {p: LineIndex(self.frame, parts) for p, parts in self.reference_parts.items()}
        self.sectors = spec.sectors
        self.zones: dict[str, CompiledZone] = {z.id: compile_zone(z, self) for z in spec.zones}
        self.weapon_classes = {w.id: w for w in spec.weapon_classes}
        valid = spec.valid or schema.Validity()
        self.start, self.end = valid.start, valid.end
        self.rules: list[CompiledRule[Any]] = [
            CompiledRule(r.id, r.kind, r.text, r.source,
                         _later(self.start, r.valid.start if r.valid else None),
                         _earlier(self.end, r.valid.end if r.valid else None),
                         rule_params[r.id]) for r in spec.rules]

    def reference_index(self, party: str) -> LineIndex:
        idx = self._ref_index.get(party, self.line_index)
        if idx is None:
            raise ValueError("this agreement has no line")
        return idx

    @cached_property
    def line_length_km(self) -> float | None:
        return self.line_index.length_m / 1000.0 if self.line_index else None

    def other_party(self, party: str) -> str:
        return self.party_ids[1] if party == self.party_ids[0] else self.party_ids[0]

    def weapon_class_of(self, name: str | None) -> str | None:
        """The weapon class id a sighting's class or system name belongs to."""
        if not name:
            return None
        if name in self.weapon_classes:
            return name
        low = name.strip().lower()
        for wid, w in self.weapon_classes.items():
            if low == wid.lower() or low in (e.lower() for e in w.examples):
                return wid
        return None

    def sector_of(self, chainage_m: np.ndarray) -> np.ndarray:
        """The id of the sector each chainage (m along the line) falls in, or None."""
        out = np.full(len(chainage_m), None, dtype=object)
        for s in self.sectors:
            sel = (chainage_m >= s.from_km * 1000.0) & (chainage_m < s.to_km * 1000.0)
            out[sel & (out == None)] = s.id  # noqa: E711 - elementwise
        return out

    def place(self, lon: np.ndarray, lat: np.ndarray, cov_en: np.ndarray) -> Placement:
        """Project points and measure them against the line and each reference line."""
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        x, y = self.frame.to_xy(lon, lat)
        k = self.frame.scale_factor(x, lat)
        cov_grid = self.frame.covariance_to_grid(cov_en, lon, lat, x)
        if self.line_index is None:
            return Placement(lon, lat, x, y, cov_en, cov_grid, k)
        own, own_sd = {}, {}
        near = self.line_index.nearest(x, y, lat)
        line_sd = normal_sd_m(cov_grid, near.normal_x, near.normal_y, k)
        for p in self.party_ids:
            if p in self._ref_index:
                rn = self._ref_index[p].nearest(x, y, lat)
                s, sd = rn.signed_m, normal_sd_m(cov_grid, rn.normal_x, rn.normal_y, k)
            else:
                s, sd = near.signed_m, line_sd
            own[p] = s if self.side_of[p] == "left" else -s
            own_sd[p] = sd
        return Placement(lon, lat, x, y, cov_en, cov_grid, k, own, own_sd, near.signed_m, line_sd,
                         near.chainage_m)

    def side_probability(self, pl: Placement) -> dict[str, np.ndarray]:
        """P(true point on each party's side of the demarcation line)."""
        if pl.line_signed_m is None or pl.line_sd_m is None:
            return {}
        left = prob_in_band(pl.line_signed_m, pl.line_sd_m, 0.0, math.inf)
        # a point known to lie exactly on the line is on neither side
        left = np.where((pl.line_sd_m == 0) & (pl.line_signed_m == 0), 0.5, left)
        return {p: (left if self.side_of[p] == "left" else 1.0 - left) for p in self.party_ids}

    def zone_probabilities(self, pl: Placement) -> dict[str, np.ndarray]:
        return {zid: z.probability(pl) for zid, z in self.zones.items()}

    def summary(self) -> dict[str, Any]:
        """Plain data for ``linewatch agreement check``."""
        return {
            "id": self.id, "title": self.title, "version": self.version,
            "notional": self.spec.notional,
            "parties": [{"id": p.id, "name": p.name, "side": p.side} for p in self.parties],
            "line_length_km": self.line_length_km,
            "line_vertices": (sum(len(c) for c in self.line_parts) if self.line_parts else 0),
            "reference_lines": {p: round(LineIndex(self.frame, parts).length_m / 1000, 1)
                                for p, parts in self.reference_parts.items()},
            "valid": {"start": _local(self.start), "end": _local(self.end)},
            "sectors": [{"id": s.id, "name": s.name, "from_km": s.from_km, "to_km": s.to_km}
                        for s in self.sectors],
            "zones": [{"id": z.id, "name": z.name, "kind": z.kind, "category": z.category,
                       "area_km2": round(z.area_km2(), 1)} for z in self.zones.values()],
            "weapon_classes": [{"id": w.id, "name": w.name, "banned_from": w.banned_from}
                               for w in self.weapon_classes.values()],
            "rules": [{"id": r.id, "kind": r.kind, "text": r.text,
                       "valid": {"start": _local(r.start), "end": _local(r.end)}} for r in self.rules],
        }


def _local(t: datetime | None) -> str | None:
    """A validity bound as the agreement wrote it, in its own UTC offset (a summary for people)."""
    return t.isoformat() if t else None


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(a, b) if a and b else (a or b)


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    return min(a, b) if a and b else (a or b)
