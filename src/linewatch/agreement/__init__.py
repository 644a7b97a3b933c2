"""Agreement as code: the file's schema, its parsing with located problems, the compiled geometry and the rule kinds.

The room for what an agreement says and how it is read:

* ``schema``: the file's keys (pydantic models that reject unknown keys);
* ``parse``: :func:`parse_agreement`, YAML text to an :class:`Agreement`, every problem at once;
* ``compiled``: the :class:`Agreement` (frame, line indexes, rules in force) and its
  :class:`Placement` of located points;
* ``zones``: buffers, polygons and protected sites, each answering "how likely inside?";
* ``rules``: the rule kinds, each a registered function with its params schema.

Core: imports ``geo``, ``model`` and ``errors``, and does no I/O (the caller reads the file).
An :class:`Agreement` answers columnar questions about located points (side, distances, zones,
rules in force).
"""

from __future__ import annotations

from linewatch.agreement.compiled import Agreement, CompiledRule, Placement
from linewatch.agreement.parse import parse_agreement
from linewatch.agreement.rules import (
    REGISTRY,
    Assessed,
    CapParams,
    NoFireAcrossLineParams,
    NoFireParams,
    NoOverflightParams,
    OverflightLimit,
    RecordColumns,
    RuleContext,
    RuleKind,
    StrikeOnProtectedParams,
    WeaponExclusionParams,
    WindowOfSilenceParams,
    cap,
    in_force_probability,
    no_fire,
    no_fire_across_line,
    no_overflight,
    register,
    strike_on_protected,
    weapon_exclusion,
    window_of_silence,
)
from linewatch.agreement.zones import BufferZoneC, CompiledZone, PolygonZoneC, SiteC

__all__ = [
    "Agreement",
    "Assessed",
    "BufferZoneC",
    "CapParams",
    "CompiledRule",
    "CompiledZone",
    "NoFireAcrossLineParams",
    "NoFireParams",
    "NoOverflightParams",
    "OverflightLimit",
    "Placement",
    "PolygonZoneC",
    "REGISTRY",
    "RecordColumns",
    "RuleContext",
    "RuleKind",
    "SiteC",
    "StrikeOnProtectedParams",
    "WeaponExclusionParams",
    "WindowOfSilenceParams",
    "cap",
    "in_force_probability",
    "no_fire",
    "no_fire_across_line",
    "no_overflight",
    "parse_agreement",
    "register",
    "strike_on_protected",
    "weapon_exclusion",
    "window_of_silence",
]
