"""Reading an agreement: YAML text in, a compiled :class:`Agreement` or every problem at once out.

:func:`parse_agreement` validates the text against the schema and each rule kind's params, then
checks what a schema cannot: references between parts (parties, zones, weapon classes,
sectors), unique ids, and geometry. Every problem is reported together, each with the file,
line and field path, in one :class:`~linewatch.errors.AgreementError`.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import shapely
import yaml
from pydantic import BaseModel, ValidationError

from linewatch.agreement import schema as schema
from linewatch.agreement.compiled import Agreement
from linewatch.agreement.rules import REGISTRY
from linewatch.agreement.schema import Loc, Problem
from linewatch.errors import AgreementError

__all__ = ["parse_agreement"]


def parse_agreement(text: str, *, name: str = "<agreement>") -> Agreement:
    """Validate an agreement's YAML text and compile it. Raises :class:`AgreementError`.

    >>> text = '''
    ... id: demo
    ... title: A demo agreement
    ... parties: [{id: a, name: A, side: left}, {id: b, name: B, side: right}]
    ... line: {geometry: {type: LineString, coordinates: [[36.0, 48.0], [36.0, 49.0]]}}
    ... rules: [{id: fire, kind: no_fire, text: All fire shall cease.}]
    ... '''
    >>> ag = parse_agreement(text, name="demo.yaml")
    >>> round(ag.line_length_km, 1), ag.party_ids, [r.id for r in ag.rules]
    (111.2, ['a', 'b'], ['fire'])

    Every problem is reported at once, located in the file:

    >>> bad = text.replace("49.0", "48.0").replace("no_fire,", "no_fire, zones: [dmz],")
    >>> parse_agreement(bad, name="bad.yaml")
    Traceback (most recent call last):
    linewatch.errors.AgreementError: bad.yaml: 2 problem(s) in the agreement:
      bad.yaml:5: line.geometry.coordinates[1]: repeats the vertex before it
      bad.yaml:6: rules[0]: unknown zone 'dmz'
    """
    data = _load_yaml(text, name)
    problems: list[Problem] = []
    spec: schema.AgreementFile | None
    try:
        spec = schema.AgreementFile.model_validate(data)
    except ValidationError as exc:
        problems, spec = _pydantic_problems(exc), None
    if spec is not None:
        problems += _check_references(spec)
        problems += _check_geometry(spec)
        rules = list(enumerate(spec.rules))
    else:
        # the file has other problems: still check each rule that validates on its own, so
        # that every problem is reported at once
        rules = _rules_alone(data)
    rule_params, rule_problems = _rule_params(rules, spec)
    problems += rule_problems
    if problems:
        lines = _key_lines(text)
        details = "\n".join(f"  {_where(name, lines, loc)}: {_path(loc)}: {msg}"
                            for loc, msg in problems)
        raise AgreementError(f"{name}: {len(problems)} problem(s) in the agreement:\n{details}")
    assert spec is not None  # a file that does not validate has problems
    try:
        return Agreement(spec, rule_params, name=name)
    except ValueError as exc:
        raise AgreementError(f"{name}: {exc}") from exc


def _load_yaml(text: str, name: str) -> dict[str, Any]:
    """The YAML mapping of the text; anything else is an :class:`AgreementError`."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        raise AgreementError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict):
        raise AgreementError(f"{name}:{_first_line(text)}: (top level): an agreement is a YAML "
                             f"mapping, got {type(data).__name__}")
    return data


def _rules_alone(data: dict[str, Any]) -> list[tuple[int, schema.RuleCommon]]:
    """The rules of a file that does not validate as a whole, those that validate on their own."""
    raw = data.get("rules")
    rules = []
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        with contextlib.suppress(ValidationError):  # already reported by the whole file's validation
            rules.append((i, schema.RuleCommon.model_validate(item)))
    return rules


def _rule_params(rules: list[tuple[int, schema.RuleCommon]], spec: schema.AgreementFile | None
                 ) -> tuple[dict[str, BaseModel], list[Problem]]:
    """Each rule's params, validated by its kind's schema and checked against the file."""
    params_of: dict[str, BaseModel] = {}
    problems: list[Problem] = []
    for i, rule in rules:
        kind = REGISTRY.get(rule.kind)
        if kind is None:
            known = ", ".join(sorted(REGISTRY))
            problems.append((("rules", i, "kind"), f"unknown rule kind {rule.kind!r}; known: {known}"))
            continue
        try:
            params = kind.params.model_validate(rule.model_extra or {})
        except ValidationError as exc:
            problems += _pydantic_problems(exc, ("rules", i))
            continue
        if spec is not None:
            problems += [(("rules", i, *loc), msg) for loc, msg in kind.check(params, spec)]
        params_of[rule.id] = params
    return params_of, problems


# -- where a problem is -------------------------------------------------------------------

def _key_lines(text: str) -> dict[Loc, int]:
    """Map every field path in a YAML document to the line it starts on (1-based)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    lines: dict[Loc, int] = {}

    def walk(node: yaml.Node, path: Loc) -> None:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                lines[(*path, k.value)] = k.start_mark.line + 1
                walk(v, (*path, k.value))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                lines[(*path, i)] = v.start_mark.line + 1
                walk(v, (*path, i))

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


def _where(name: str, lines: dict[Loc, int], loc: Loc) -> str:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return f"{name}:{lines[loc[:n]]}"
    return name


def _path(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _pydantic_problems(exc: ValidationError, prefix: Loc = ()) -> list[Problem]:
    out: list[Problem] = []
    for err in exc.errors():
        # drop the discriminator tags pydantic inserts for unions
        loc = tuple(p for p in err["loc"] if p not in ("buffer", "polygon", "site"))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "union_tag_invalid":
            msg = f"unknown zone kind {err.get('input', {}).get('kind')!r}; expected buffer, polygon or site"
        out.append(((*prefix, *loc), msg))
    return out


# -- what the schema cannot check -----------------------------------------------------------

def _check_references(spec: schema.AgreementFile) -> list[Problem]:
    """Parties, ids, zones, weapon classes and sectors that other parts name must exist."""
    return _check_parties(spec) + _check_ids(spec) + _check_zones(spec) + _check_classes_and_sectors(spec)


def _check_parties(spec: schema.AgreementFile) -> list[Problem]:
    out: list[Problem] = []
    parties = {p.id for p in spec.parties}
    if spec.line is not None:
        for i, p in enumerate(spec.parties):
            if p.side is None:
                out.append((("parties", i, "side"), "a party must say which side of the line it holds"))
    for key in spec.reference_lines:
        if key not in parties:
            out.append((("reference_lines", key), f"unknown party {key!r}"))
    return out


def _check_ids(spec: schema.AgreementFile) -> list[Problem]:
    """Ids are unique across zones, rules, weapon classes and sectors together."""
    out: list[Problem] = []
    seen: dict[str, Loc] = {}
    groups: list[tuple[str, list[Any]]] = [("zones", spec.zones), ("rules", spec.rules),
                                           ("weapon_classes", spec.weapon_classes),
                                           ("sectors", spec.sectors)]
    for group, items in groups:
        for i, item in enumerate(items):
            if item.id in seen:
                out.append(((group, i, "id"), f"id {item.id!r} is already used at {_path(seen[item.id])}"))
            seen.setdefault(item.id, (group, i))
    return out


def _check_zones(spec: schema.AgreementFile) -> list[Problem]:
    out: list[Problem] = []
    parties = {p.id for p in spec.parties}
    for i, z in enumerate(spec.zones):
        if isinstance(z, schema.BufferZone):
            if spec.line is None:
                out.append((("zones", i), "a buffer zone needs a line"))
            for key in (z.per_side_km or {}):
                if key not in parties:
                    out.append((("zones", i, "per_side_km", key), f"unknown party {key!r}"))
        elif z.party is not None and z.party not in parties:
            out.append((("zones", i, "party"), f"unknown party {z.party!r}"))
    return out


def _check_classes_and_sectors(spec: schema.AgreementFile) -> list[Problem]:
    out: list[Problem] = []
    zone_ids = {z.id for z in spec.zones}
    for i, w in enumerate(spec.weapon_classes):
        for j, zid in enumerate(w.banned_from):
            if zid not in zone_ids:
                out.append((("weapon_classes", i, "banned_from", j), f"unknown zone {zid!r}"))
    if spec.sectors and spec.line is None:
        out.append((("sectors",), "sectors are stretches of the line; this agreement has none"))
    return out


def _check_geometry(spec: schema.AgreementFile) -> list[Problem]:
    """Lines and polygons that validate as data but not as geometry."""
    return _check_lines(spec) + _check_polygons(spec)


def _check_lines(spec: schema.AgreementFile) -> list[Problem]:
    out: list[Problem] = []
    lines: list[tuple[Loc, schema.Line]] = [(("line",), spec.line)] if spec.line is not None else []
    lines += [(("reference_lines", k), line) for k, line in spec.reference_lines.items()]
    for loc, line in lines:
        g = line.geometry
        raw = [g.coordinates] if g.type == "LineString" else g.coordinates
        for j, coords in enumerate(raw):
            where: Loc = (*loc, "geometry", "coordinates", *((j,) if g.type == "MultiLineString" else ()))
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
                out.append(((*where, k + 1), "repeats the vertex before it"))
    return out


def _check_polygons(spec: schema.AgreementFile) -> list[Problem]:
    out: list[Problem] = []
    for i, z in enumerate(spec.zones):
        g = None if isinstance(z, schema.BufferZone) else z.geometry
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
