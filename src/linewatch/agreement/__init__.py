"""Agreement as code: the file's schema, its parsing with located errors, the compiled geometry and the rule kinds.

Core: imports ``geo``, ``model`` and ``errors``. An :class:`Agreement` answers columnar
questions about located points (side, distances, zones, rules in force).
"""

from __future__ import annotations

from linewatch.agreement.compiled import (
    Agreement,
    BufferZoneC,
    CompiledRule,
    CompiledZone,
    Placement,
    PolygonZoneC,
    SiteC,
    parse_agreement,
)
from linewatch.agreement.rules import (
    REGISTRY,
    Assessed,
    CapParams,
    NoFireAcrossLineParams,
    NoFireParams,
    NoOverflightParams,
    OverflightLimit,
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
