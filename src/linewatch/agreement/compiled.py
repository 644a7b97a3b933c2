"""Agreement as code: validate an agreement's text and compile it into geometry and rules.

:func:`parse_agreement` turns YAML text into an :class:`Agreement`; every problem is reported
at once, each with the file, line and field path. The compiled agreement holds the working
frame, the line indexes and the zones, and answers columnar questions about located points.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import numpy as np
import shapely
import yaml
from pydantic import ValidationError

from linewatch.agreement import schema as schema
from linewatch.errors import AgreementError
from linewatch.geo import (
    GEOD,
    LineIndex,
    WorkingFrame,
    densify_geodesic,
    normal_sd_m,
    offsets_en,
    prob_in_band,
    prob_in_polygon,
    prob_within_radius,
)

__all__ = ['Agreement', 'BufferZoneC', 'CompiledRule', 'CompiledZone', 'Placement', 'PolygonZoneC', 'SiteC', 'parse_agreement']

# -- loading ------------------------------------------------------------------------------

def _key_lines(text: str) -> dict[tuple, int]:
    """Map every field path in a YAML document to the line it starts on (1-based)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    lines: dict[tuple, int] = {}

    def walk(node: Any, path: tuple) -> None:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                lines[path + (k.value,)] = k.start_mark.line + 1
                walk(v, path + (k.value,))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                lines[path + (i,)] = v.start_mark.line + 1
                walk(v, path + (i,))

    if root is not None:
        lines[()] = root.start_mark.line + 1  # problems of the whole document (a missing key)
        walk(root, ())
    return lines


def _first_line(text: str) -> int:
    """The line the YAML document's content starts on (1 for an empty document)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        root = None
    return root.start_mark.line + 1 if root is not None else 1


def _where(name: str, lines: dict[tuple, int], loc: tuple) -> str:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return f"{name}:{lines[loc[:n]]}"
    return name


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _pydantic_problems(exc: ValidationError, prefix: tuple = ()) -> list[tuple[tuple, str]]:
    out = []
    for err in exc.errors():
        # drop the discriminator tags pydantic inserts for unions
        loc = tuple(p for p in err["loc"] if p not in ("buffer", "polygon", "site"))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "union_tag_invalid":
            msg = f"unknown zone kind {err.get('input', {}).get('kind')!r}; expected buffer, polygon or site"
        out.append((prefix + loc, msg))
    return out


def parse_agreement(text: str, *, name: str = "<agreement>") -> Agreement:
    """Validate an agreement's YAML text and compile it. Raises :class:`AgreementError`."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        raise AgreementError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict):
        raise AgreementError(f"{name}:{_first_line(text)}: (top level): an agreement is a YAML "
                             f"mapping, got {type(data).__name__}")
    lines = _key_lines(text)
    problems: list[tuple[tuple, str]] = []
    try:
        spec = schema.AgreementFile.model_validate(data)
    except ValidationError as exc:
        problems = _pydantic_problems(exc)
        spec = None
    rule_params: dict[str, Any] = {}
    if spec is not None:
        problems += _check_references(spec)
        problems += _check_geometry(spec)
        rules = list(enumerate(spec.rules))
    else:
        # the file has other problems: still check each rule that validates on its own, so
        # that every problem is reported at once
        raw = data.get("rules")
        rules = []
        for i, item in enumerate(raw if isinstance(raw, list) else []):
            try:
                rules.append((i, schema.RuleCommon.model_validate(item)))
            except ValidationError:
                pass  # already reported by the whole file's validation
    from linewatch.agreement import rules as rules_mod  # registry; imported here to avoid a cycle
    for i, rule in rules:
        kind = rules_mod.REGISTRY.get(rule.kind)
        if kind is None:
            known = ", ".join(sorted(rules_mod.REGISTRY))
            problems.append((("rules", i, "kind"), f"unknown rule kind {rule.kind!r}; known: {known}"))
            continue
        try:
            params = kind.params.model_validate(rule.model_extra or {})
        except ValidationError as exc:
            problems += _pydantic_problems(exc, ("rules", i))
            continue
        if spec is not None:
            problems += [(("rules", i) + loc, msg) for loc, msg in kind.check(params, spec)]
        rule_params[rule.id] = params
    if problems:
        details = "\n".join(f"  {_where(name, lines, loc)}: {_path(loc)}: {msg}"
                            for loc, msg in problems)
        raise AgreementError(f"{name}: {len(problems)} problem(s) in the agreement:\n{details}")
    assert spec is not None
    try:
        return Agreement(spec, rule_params, name=name)
    except ValueError as exc:
        raise AgreementError(f"{name}: {exc}") from exc


def _check_references(spec: schema.AgreementFile) -> list[tuple[tuple, str]]:
    out: list[tuple[tuple, str]] = []
    parties = {p.id for p in spec.parties}
    if spec.line is not None:
        for i, p in enumerate(spec.parties):
            if p.side is None:
                out.append((("parties", i, "side"), "a party must say which side of the line it holds"))
    for key in spec.reference_lines:
        if key not in parties:
            out.append((("reference_lines", key), f"unknown party {key!r}"))
    seen: dict[str, tuple] = {}
    for group, items in (("zones", spec.zones), ("rules", spec.rules),
                         ("weapon_classes", spec.weapon_classes), ("sectors", spec.sectors)):
        for i, item in enumerate(items):
            if item.id in seen:
                out.append(((group, i, "id"), f"id {item.id!r} is already used at {_path(seen[item.id])}"))
            seen.setdefault(item.id, (group, i))
    zone_ids = {z.id for z in spec.zones}
    for i, z in enumerate(spec.zones):
        if isinstance(z, schema.BufferZone):
            if spec.line is None:
                out.append((("zones", i), "a buffer zone needs a line"))
            for key in (z.per_side_km or {}):
                if key not in parties:
                    out.append((("zones", i, "per_side_km", key), f"unknown party {key!r}"))
        elif z.party is not None and z.party not in parties:
            out.append((("zones", i, "party"), f"unknown party {z.party!r}"))
    for i, w in enumerate(spec.weapon_classes):
        for j, zid in enumerate(w.banned_from):
            if zid not in zone_ids:
                out.append((("weapon_classes", i, "banned_from", j), f"unknown zone {zid!r}"))
    if spec.sectors and spec.line is None:
        out.append((("sectors",), "sectors are stretches of the line; this agreement has none"))
    return out


def _check_geometry(spec: schema.AgreementFile) -> list[tuple[tuple, str]]:
    """Lines and polygons that validate as data but not as geometry."""
    out: list[tuple[tuple, str]] = []
    lines = [(("line",), spec.line)] if spec.line is not None else []
    lines += [(("reference_lines", k), line) for k, line in spec.reference_lines.items()]
    for loc, line in lines:
        g = line.geometry
        raw = [g.coordinates] if g.type == "LineString" else g.coordinates
        for j, coords in enumerate(raw):
            where = loc + ("geometry", "coordinates") + ((j,) if g.type == "MultiLineString" else ())
            try:
                arr = np.asarray(coords, dtype=float)
            except (TypeError, ValueError):
                out.append((where, "expected a list of [lon, lat] pairs"))
                continue
            if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) < 2:
                out.append((where, "a line needs at least two [lon, lat] pairs"))
            elif np.any(np.abs(arr[:, 0]) > 180) or np.any(np.abs(arr[:, 1]) > 90):
                out.append((where, "coordinates outside lon/lat range"))
            elif np.any(np.all(np.diff(arr, axis=0) == 0, axis=1)):
                k = int(np.flatnonzero(np.all(np.diff(arr, axis=0) == 0, axis=1))[0])
                out.append((where + (k + 1,), "repeats the vertex before it"))
    for i, z in enumerate(spec.zones):
        g = getattr(z, "geometry", None)
        if g is None:
            continue
        try:
            geom = shapely.geometry.shape(g.model_dump())
        except Exception as exc:
            out.append((("zones", i, "geometry"), f"not a valid {g.type}: {exc}"))
            continue
        if not geom.is_valid:
            out.append((("zones", i, "geometry"),
                        f"polygon is not valid ({shapely.is_valid_reason(geom)})"))
    return out


# -- compiled zones -----------------------------------------------------------------------

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


class CompiledZone(abc.ABC):
    """A zone compiled for columnar queries."""

    id: str
    name: str
    kind: str
    category: str
    party: str | None
    source: str | None

    @abc.abstractmethod
    def probability(self, pl: Placement) -> np.ndarray:
        """P(true point inside the zone) for each point of the placement."""

    @abc.abstractmethod
    def polygons_lonlat(self) -> dict[str | None, Any]:
        """The zone's area as lon/lat polygons, keyed by the party whose part it is (or None)."""

    def area_km2(self) -> float:
        total = 0.0
        for geom in self.polygons_lonlat().values():
            area, _ = GEOD.geometry_area_perimeter(geom)
            total += abs(area)
        return total / 1e6


class BufferZoneC(CompiledZone):
    """Each party's one-sided buffer of its own reference line, on its own side."""

    def __init__(self, spec: schema.BufferZone, agreement: Agreement) -> None:
        self.id, self.name, self.kind = spec.id, spec.name, "buffer"
        self.category, self.party, self.source = spec.category, None, spec.source
        self._agreement = agreement
        if spec.width_km is not None:
            half = spec.width_km * 1000.0 / 2.0
            self.width_m = {p: half for p in agreement.party_ids}
        else:
            self.width_m = {p: (spec.per_side_km or {}).get(p, 0.0) * 1000.0
                            for p in agreement.party_ids}

    def party_probability(self, pl: Placement) -> dict[str, np.ndarray]:
        """P(inside each party's part): closer than its distance to its own reference line, on
        its own side of that line, or anywhere between that line and the demarcation line on
        the party's side (forces there stand even closer to the other party than allowed).
        Along the normal, party p's part is ``min(s - d, 0) <= s <= w``, with ``s`` the signed
        distance to p's reference line and ``d`` to the demarcation line (both positive on p's
        side); without a separate reference line ``s == d`` and it is ``0 <= s <= w``."""
        out = {}
        for p, w in self.width_m.items():
            if w <= 0:
                continue
            s = pl.own_side_m[p]
            d = pl.line_signed_m if self._agreement.side_of[p] == "left" else -pl.line_signed_m
            out[p] = prob_in_band(s, pl.own_side_sd_m[p], np.minimum(s - d, 0.0), w)
        return out

    def probability(self, pl: Placement) -> np.ndarray:
        parts = list(self.party_probability(pl).values())
        return np.minimum(np.sum(parts, axis=0), 1.0) if parts else np.zeros(len(pl))

    def polygons_lonlat(self) -> dict[str | None, Any]:
        ag = self._agreement
        out = {}
        for p, w in self.width_m.items():
            if w <= 0:
                continue
            index = ag.reference_index(p)
            lat = ag.frame.to_lonlat(index.ax, index.ay)[1]
            k = float(np.mean(ag.frame.scale_factor(index.ax, lat)))
            poly = _one_sided_buffer(index, w * k, left=ag.side_of[p] == "left")
            out[p] = shapely.make_valid(ag.frame.unproject_geometry(poly))
        return out


def _one_sided_buffer(index: LineIndex, d: float, *, left: bool) -> Any:
    """The part of the line's buffer on one side, the side judged as :meth:`LineIndex.nearest`
    judges it. (GEOS's single-sided buffer drops area at a jagged line's sharp bends and can
    come out invalid once unprojected.) The buffer is cut by the line, extended beyond its
    ends, and each piece goes to the side its interior point lies on."""
    line = index.geometry_xy
    whole = shapely.buffer(line, d, quad_segs=4)
    cutters = []
    for part in shapely.get_parts(line):
        c = shapely.get_coordinates(part)
        ends = [c[0] + (c[0] - c[1]) / np.hypot(*(c[0] - c[1])) * 2.0 * d,
                c[-1] + (c[-1] - c[-2]) / np.hypot(*(c[-1] - c[-2])) * 2.0 * d]
        cutters.append(shapely.linestrings(np.vstack([ends[0], c, ends[1]])))
    pieces = shapely.get_parts(shapely.polygonize(shapely.get_parts(
        shapely.union_all([shapely.boundary(whole), *cutters]))))
    x, y = shapely.get_coordinates(shapely.point_on_surface(pieces)).T
    _, lat = index.frame.to_lonlat(x, y)
    signed = index.nearest(x, y, lat).signed_m
    keep = shapely.contains_xy(whole, x, y) & ((signed > 0) if left else (signed < 0))
    return shapely.union_all(pieces[keep])


class PolygonZoneC(CompiledZone):
    def __init__(self, spec: schema.PolygonZone, agreement: Agreement) -> None:
        self.id, self.name, self.kind = spec.id, spec.name, "polygon"
        self.category, self.party, self.source = spec.category, spec.party, spec.source
        self.geometry = shapely.geometry.shape(spec.geometry.model_dump())
        if not self.geometry.is_valid:
            raise ValueError(f"zone {spec.id!r}: polygon is not valid "
                             f"({shapely.is_valid_reason(self.geometry)})")
        self._xy = agreement.frame.project_geometry(self.geometry)
        shapely.prepare(self._xy)

    def probability(self, pl: Placement) -> np.ndarray:
        return prob_in_polygon(self._xy, pl.x, pl.y, pl.cov_grid)

    def polygons_lonlat(self) -> dict[str | None, Any]:
        return {self.party: self.geometry}


class SiteC(CompiledZone):
    def __init__(self, spec: schema.Site, agreement: Agreement) -> None:
        self.id, self.name, self.kind = spec.id, spec.name, "site"
        self.category, self.party, self.source = spec.category, spec.party, spec.source
        self.radius_m = spec.radius_km * 1000.0
        self.point = spec.point
        self._frame = agreement.frame
        if spec.geometry is not None:
            self.geometry = shapely.geometry.shape(spec.geometry.model_dump())
            xy = agreement.frame.project_geometry(self.geometry)
            self._xy = shapely.buffer(xy, self.radius_m, quad_segs=8) if self.radius_m else xy
            shapely.prepare(self._xy)
        else:
            self.geometry = shapely.Point(*spec.point)

    def probability(self, pl: Placement) -> np.ndarray:
        if self.point is None:
            return prob_in_polygon(self._xy, pl.x, pl.y, pl.cov_grid)
        e, n, _ = offsets_en(self.point[0], self.point[1], pl.lon, pl.lat)
        return prob_within_radius(e, n, pl.cov_en, self.radius_m)

    def distance_m(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        if self.point is None:
            x, y = self._frame.to_xy(lon, lat)
            return shapely.distance(self._xy, shapely.points(x, y))
        return offsets_en(self.point[0], self.point[1], lon, lat)[2]

    def polygons_lonlat(self) -> dict[str | None, Any]:
        if self.point is None:
            return {self.party: self._frame.unproject_geometry(self._xy)}
        az = np.linspace(0, 360, 73)[:-1]
        lon, lat, _ = GEOD.fwd(np.full(72, self.point[0]), np.full(72, self.point[1]), az,
                               np.full(72, max(self.radius_m, 1.0)))
        return {self.party: shapely.Polygon(np.column_stack([lon, lat]))}


_ZONE_TYPES = {schema.BufferZone: BufferZoneC, schema.PolygonZone: PolygonZoneC, schema.Site: SiteC}


# -- the compiled agreement ---------------------------------------------------------------

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


@dataclass(frozen=True)
class CompiledRule:
    id: str
    kind: str
    text: str
    source: str | None
    start: datetime | None
    end: datetime | None
    params: Any


class Agreement:
    """A validated, compiled agreement. Build it with :func:`parse_agreement`."""

    def __init__(self, spec: schema.AgreementFile, rule_params: dict[str, Any], *,
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
        # the frame is centred on the line (so that mirroring about it is exact), or on the
        # zones and sites of an agreement that has none
        lons = [parts[:, 0] for parts in (self.line_parts or [])]
        lons += [c[:, 0] for parts in self.reference_parts.values() for c in parts]
        for z in ([] if lons else spec.zones):
            if isinstance(z, schema.Site) and z.point is not None:
                lons.append(np.array([z.point[0]]))
            elif getattr(z, "geometry", None) is not None:
                lons.append(np.asarray(shapely.get_coordinates(
                    shapely.geometry.shape(z.geometry.model_dump())))[:, 0])
        self.frame = WorkingFrame.for_lonlat(np.concatenate(lons) if lons else np.array([0.0]))
        self.line_index = LineIndex(self.frame, self.line_parts) if self.line_parts else None
        self._ref_index = {p: LineIndex(self.frame, parts) for p, parts in self.reference_parts.items()}
        self.sectors = spec.sectors
        self.zones: dict[str, CompiledZone] = {z.id: _ZONE_TYPES[type(z)](z, self) for z in spec.zones}
        self.weapon_classes = {w.id: w for w in spec.weapon_classes}
        valid = spec.valid or schema.Validity()
        self.start, self.end = valid.start, valid.end
        self.rules = [CompiledRule(r.id, r.kind, r.text, r.source,
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
        own, own_sd = {}, {}
        line_signed = line_sd = chain = None
        if self.line_index is not None:
            near = self.line_index.nearest(x, y, lat)
            line_signed = near.signed_m
            line_sd = normal_sd_m(cov_grid, near.normal_x, near.normal_y, k)
            chain = near.chainage_m
            for p in self.party_ids:
                if p in self._ref_index:
                    rn = self._ref_index[p].nearest(x, y, lat)
                    s, sd = rn.signed_m, normal_sd_m(cov_grid, rn.normal_x, rn.normal_y, k)
                else:
                    s, sd = near.signed_m, line_sd
                own[p] = s if self.side_of[p] == "left" else -s
                own_sd[p] = sd
        return Placement(lon, lat, x, y, cov_en, cov_grid, k, own, own_sd, line_signed, line_sd, chain)

    def side_probability(self, pl: Placement) -> dict[str, np.ndarray]:
        """P(true point on each party's side of the demarcation line)."""
        if pl.line_signed_m is None:
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
