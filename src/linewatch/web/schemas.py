"""The request and response bodies of the API: what the OpenAPI document shows (docs/api.md)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field


class SessionIn(BaseModel):
    token: str = Field(min_length=1, max_length=200, description="An API token from `linewatch user add`.")


class Me(BaseModel):
    name: str
    role: str
    party: str | None
    capabilities: list[str]


class RejectedItem(BaseModel):
    index: int = Field(description="0-based position of the object in the request")
    field: str | None
    reason: str


class SubmissionOut(BaseModel):
    added: int
    duplicate: int
    quarantined: int
    ids: list[str | None] = Field(description="the stored id of each object, null if it was quarantined")
    rejected: list[RejectedItem]


class DailyReportInfo(BaseModel):
    day: date
    built_at: str
    built_by: str | None = None
    released: bool
    released_at: str | None = None
    released_by: str | None = None


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\s\x00-\x1f]+$")
    role: str = Field(max_length=200, pattern=r"^[^\x00-\x1f]+$",
                      description="admin, analyst, monitor, public or party:<party id>")


class UserOut(BaseModel):
    name: str
    role: str
    created_at: str
    revoked_at: str | None = None
    token: str | None = Field(None, description="shown once, when the user is created")


class TimeRange(BaseModel):
    start: str | None
    end: str | None


class FeatureCollection(BaseModel):
    model_config = {"extra": "allow"}
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[dict[str, Any]]


class Page(BaseModel):
    """A page of results: GeoJSON (``features``) or JSON (``items``), and the next page."""

    model_config = {"extra": "allow"}
    type: str | None = None
    features: list[dict[str, Any]] | None = None
    items: list[dict[str, Any]] | None = None
    count: int
    next: str | None = Field(description="the URL of the next page, null on the last")


__all__ = ["DailyReportInfo", "FeatureCollection", "Me", "Page", "RejectedItem", "SessionIn",
           "SubmissionOut", "TimeRange", "UserIn", "UserOut"]
