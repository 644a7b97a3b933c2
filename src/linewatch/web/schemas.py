"""The request and response bodies of the API: what the OpenAPI document shows (docs/api.md)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

from linewatch.formats.record_schema import MAX_ID_CHARS, MAX_TEXT_CHARS
from linewatch.review import State


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


# -- review (docs/api.md, "Review") --------------------------------------------------------------

#: the most ids one bulk move names
MAX_BULK_IDS = 10_000
#: the longest free-text filter of the review queue
MAX_QUERY_CHARS = 200


def _storable(text: str) -> str:
    """A text the store can hold: no NUL character (PostgreSQL's text cannot), valid UTF-8."""
    if "\x00" in text:
        raise ValueError("a NUL character is not allowed")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("not valid Unicode text (a lone surrogate)") from None
    return text


Id = Annotated[StrictStr, Field(min_length=1, max_length=MAX_ID_CHARS), AfterValidator(_storable)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=100), AfterValidator(_storable)]
Note = Annotated[StrictStr, Field(max_length=MAX_TEXT_CHARS), AfterValidator(_storable)]
Text = Annotated[StrictStr, Field(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(_storable)]
FreeText = Annotated[StrictStr, Field(max_length=MAX_QUERY_CHARS), AfterValidator(_storable)]
#: the states a reviewer moves a version or an allegation to
Target = Literal["in_review", "approved", "returned", "rejected", "submitted"]


class Strict(BaseModel):
    """A request body: unknown keys are refused (422)."""

    model_config = ConfigDict(extra="forbid")


def _note_given(to: str, note: str | None) -> None:
    if to in ("returned", "rejected") and not (note and note.strip()):
        what = "the question to the author" if to == "returned" else "the reason"
        raise ValueError(f"moving to {to} needs a note: {what}")


class MoveIn(Strict):
    to: Target = Field(description="the state to move to")
    note: Note | None = Field(None, description="why: needed to return (the question) or reject (the reason)")

    @model_validator(mode="after")
    def _needs_note(self) -> MoveIn:
        _note_given(self.to, self.note)
        return self


class QueueFilterIn(Strict):
    """What a bulk move selects: the filters of ``GET /review``."""

    state: list[State] | None = Field(None, max_length=len(State))
    kind: list[Name] | None = Field(None, max_length=100)
    source_kind: list[Name] | None = Field(None, max_length=100)
    sector: list[Name] | None = Field(None, max_length=1000)
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    q: FreeText | None = None
    author: Name | None = None
    min_sensors: StrictInt | None = Field(None, ge=0, le=100_000)


class BulkIn(MoveIn):
    kind: Literal["record", "allegation"] = Field(description="what the ids name (a filter selects records)")
    ids: list[Id] | None = Field(None, max_length=MAX_BULK_IDS)
    filter: QueueFilterIn | None = None

    @model_validator(mode="after")
    def _one_selection(self) -> BulkIn:
        if (self.ids is None) == (self.filter is None):
            raise ValueError("give exactly one of 'ids' and 'filter'")
        if self.filter is not None and self.kind != "record":
            raise ValueError("a filter selects records: kind 'record'")
        return self


class CommentIn(Strict):
    text: Text = Field(description="the comment, question or answer")


class RefusedItem(BaseModel):
    id: str
    reason: str


class BulkOut(BaseModel):
    moved: list[str]
    refused: list[RefusedItem]


class ReviewEvent(BaseModel):
    """A move, as logged: ``from``, ``to``, ``by``, ``at``, and the ``note`` where one was given."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    kind: str
    subject: str
    from_: str = Field(alias="from")
    to: str
    by: str
    at: str
    n: int
    note: str | None = None


class CommentOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    kind: str
    subject: str
    by: str
    at: str
    n: int
    text: str


class VersionsOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    record_id: str
    current: str = Field(description="the id of the current version")
    versions: list[dict[str, Any]] = Field(description="oldest first (docs/api.md, \"Review\")")


__all__ = ["MAX_BULK_IDS", "MAX_QUERY_CHARS", "BulkIn", "BulkOut", "CommentIn", "CommentOut", "DailyReportInfo",
           "FeatureCollection", "Me", "MoveIn", "Page", "QueueFilterIn", "RefusedItem", "RejectedItem",
           "ReviewEvent", "SessionIn", "SubmissionOut", "Target", "TimeRange", "UserIn", "UserOut",
           "VersionsOut"]
