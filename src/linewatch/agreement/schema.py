"""The agreement file's schema: pydantic models that reject unknown keys.

``docs/agreement-format.md`` documents every key; ``tests/test_docs_agreement.py`` checks that it
does. Rule kinds add their own keys through :func:`linewatch.agreement.rules.register`. A problem
in a file is located by its field path (:data:`Loc`, e.g. ``("zones", 0, "width_km")``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["AgreementFile", "BufferZone", "Line", "LineGeometry", "Loc", "Party", "Policy", "PolygonGeometry",
           "PolygonZone", "Problem", "RuleCommon", "Sector", "Site", "Strict", "Validity", "WeaponClass", "Zone"]

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$", max_length=80)]
LonLat = tuple[Annotated[float, Field(ge=-180, le=180)], Annotated[float, Field(ge=-90, le=90)]]

#: Where a problem is in the file: the path of keys and list indexes to it.
Loc = tuple[str | int, ...]
#: A problem found in an agreement file: where, and what.
Problem = tuple[Loc, str]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Validity(Strict):
    """A period ``[start, end)``; either end may be open."""

    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    timezone: str | None = Field(None, description="the local time zone the text used, for the record")
    source: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Validity:
        if self.start and self.end and self.end <= self.start:
            raise ValueError(f"end {self.end.isoformat()} is not after start {self.start.isoformat()}")
        return self


class Party(Strict):
    id: Id
    name: str
    side: Literal["left", "right"] | None = Field(
        None, description="the side of the line it holds, looking along the line's direction")
    source: str | None = None


class LineGeometry(Strict):
    type: Literal["LineString", "MultiLineString"]
    coordinates: list[Any]


class PolygonGeometry(Strict):
    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list[Any]


class Line(Strict):
    geometry: LineGeometry
    densify_km: Annotated[float, Field(gt=0)] | None = None
    notional: bool = False
    description: str = ""
    source: str | None = None


class Sector(Strict):
    id: Id
    name: str
    from_km: Annotated[float, Field(ge=0)]
    to_km: Annotated[float, Field(gt=0)]
    source: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Sector:
        if self.to_km <= self.from_km:
            raise ValueError(f"to_km {self.to_km} is not greater than from_km {self.from_km}")
        return self


class BufferZone(Strict):
    """One-sided buffers of each party's reference line, on that party's own side."""

    kind: Literal["buffer"]
    id: Id
    name: str
    width_km: Annotated[float, Field(gt=0)] | None = Field(
        None, description="total width, split equally between the parties")
    per_side_km: dict[str, Annotated[float, Field(gt=0)]] | None = None
    category: str = "security_zone"
    source: str | None = None

    @model_validator(mode="after")
    def _one_width(self) -> BufferZone:
        if (self.width_km is None) == (self.per_side_km is None):
            raise ValueError("give exactly one of width_km (total) or per_side_km")
        return self


class PolygonZone(Strict):
    kind: Literal["polygon"]
    id: Id
    name: str
    geometry: PolygonGeometry
    category: str = "zone"
    party: str | None = None
    source: str | None = None


class Site(Strict):
    """A protected site: a point or polygon and a radius around it."""

    kind: Literal["site"]
    id: Id
    name: str
    category: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    point: LonLat | None = None
    geometry: PolygonGeometry | None = None
    radius_km: Annotated[float, Field(ge=0)] = 1.0
    party: str | None = None
    source: str | None = None

    @model_validator(mode="after")
    def _one_place(self) -> Site:
        if (self.point is None) == (self.geometry is None):
            raise ValueError("give exactly one of point or geometry")
        return self


Zone = Annotated[BufferZone | PolygonZone | Site, Field(discriminator="kind")]


class WeaponClass(Strict):
    id: Id
    name: str
    examples: list[str] = Field(default_factory=list, description="system names that belong to it")
    banned_from: list[Id] = Field(default_factory=list)
    source: str | None = None


class RuleCommon(Strict):
    """Keys every rule has; the rest belong to its kind's schema."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: Id
    kind: str
    text: str = Field(description="the provision as the agreement states it, cited in verdicts")
    source: str | None = None
    valid: Validity | None = None


class Policy(Strict):
    violation_probability: Annotated[float, Field(gt=0.5, le=1)] = 0.9
    compliant_probability: Annotated[float, Field(ge=0, lt=0.5)] = 0.1


class AgreementFile(Strict):
    id: Id
    title: str
    version: str = "1"
    description: str = ""
    notional: bool = False
    source: str | None = None
    parties: list[Party] = Field(min_length=2, max_length=2)
    line: Line | None = None
    reference_lines: dict[str, Line] = Field(default_factory=dict)
    sectors: list[Sector] = Field(default_factory=list)
    zones: list[Zone] = Field(default_factory=list)
    weapon_classes: list[WeaponClass] = Field(default_factory=list)
    rules: list[RuleCommon] = Field(min_length=1)
    valid: Validity | None = None
    policy: Policy = Field(default_factory=Policy)

    @field_validator("parties")
    @classmethod
    def _distinct_parties(cls, v: list[Party]) -> list[Party]:
        if v[0].id == v[1].id:
            raise ValueError(f"the two parties have the same id {v[0].id!r}")
        if v[0].side is not None and v[0].side == v[1].side:
            raise ValueError(f"both parties hold the {v[0].side!r} side")
        return v
