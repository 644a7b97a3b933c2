"""Review: the queue of current versions waiting for (or done with) review, a record's versions
with their history, a move of one version or allegation, a bulk move by ids or by filter, and
the comment thread (docs/api.md, "Review"). The use cases are ``linewatch.services.review``.

Analysts and admins review everything; a monitor sees the queue of what they authored (their
returned reports with ``state=returned``), the versions of their records, and answers on them
in the comment thread. Parties and the public see none of it: only released material."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request

from linewatch.errors import NotFound
from linewatch.model import EARLIEST_TIME, LATEST_TIME
from linewatch.review import State as ReviewState
from linewatch.services.review import QueueFilter, comment, move, move_many, queue, queue_ids, versions
from linewatch.store import Store
from linewatch.store.review_tables import QueueRow
from linewatch.web.auth import Principal
from linewatch.web.deps import Analyst, Commenter, Reader, State
from linewatch.web.features import record_location
from linewatch.web.query import Cursor, End, Multi, Start, decode_cursor, encode_cursor, next_url, page_of
from linewatch.web.schemas import (
    MAX_QUERY_CHARS,
    BulkIn,
    BulkOut,
    CommentIn,
    CommentOut,
    MoveIn,
    Page,
    QueueFilterIn,
    ReviewEvent,
    VersionsOut,
)

router = APIRouter(tags=["review"])

#: the largest page of the review queue
MAX_QUEUE_LIMIT = 1000
#: the times a record can have, in seconds (a cursor outside them bounds nothing)
EARLIEST_S, LATEST_S = EARLIEST_TIME.timestamp(), LATEST_TIME.timestamp()

#: what a move or a comment names: a version of a record, or an allegation
Subject = Annotated[Literal["record", "allegation"], Path(description="record (a version) or allegation")]
SubjectId = Annotated[str, Path(min_length=1, max_length=200, description="the version's or allegation's id")]
States = Annotated[list[ReviewState] | None, Query(description="review state (repeat for several)")]


def _located(data: dict[str, Any]) -> list[float]:
    """The record's located point (an observer's bearing and distance band resolved)."""
    if "lon" in data and "lat" in data:
        return [data["lon"], data["lat"]]
    loc = record_location(data)
    return [loc.lon, loc.lat]


def queue_item(row: QueueRow) -> dict[str, Any]:
    """One row of the queue as the API gives it."""
    d = row.data
    return {"id": row.id, "time": d.get("time"), "kind": d.get("kind"), "source_kind": d.get("source_kind"),
            "state": row.state, "updated_at": row.updated_at, "updated_by": row.updated_by,
            "author": row.author, "sector": row.sector, "record": d, "located": _located(d)}


def queue_filter(f: QueueFilterIn) -> QueueFilter:
    """The use case's filter from a bulk move's."""
    return QueueFilter(states=[s.value for s in f.state] if f.state else None, kinds=f.kind,
                       source_kinds=f.source_kind, start=f.start, end=f.end, text=f.q or None,
                       author=f.author, sectors=f.sector, min_sensors=f.min_sensors)


@router.get("/review", response_model=Page, response_model_exclude_unset=True,
            summary="The review queue: current versions by state, kind, source, sector, time, text, author "
            "and sensors; a monitor sees what they authored")
def review_queue(request: Request, p: Reader, state: State, kind: Multi = None, source_kind: Multi = None,
                 sector: Multi = None, start: Start = None, end: End = None,
                 q: Annotated[str | None, Query(max_length=MAX_QUERY_CHARS,
                                                description="text the record holds (any case)")] = None,
                 author: Annotated[str | None, Query(max_length=100)] = None,
                 min_sensors: Annotated[int | None, Query(ge=0, le=100_000, description=(
                     "fused incidents heard by at least this many sensors"))] = None,
                 limit: Annotated[int, Query(ge=1, le=MAX_QUEUE_LIMIT, description="page size")] = 100,
                 cursor: Cursor = None,
                 state_: Annotated[States, Query(alias="state")] = None) -> dict[str, Any]:
    own = None if p.can("read_all") else p.name     # a monitor: what they authored
    after = decode_cursor(cursor, 2)
    key = (float(after[0]), str(after[1])) if after else None
    f = QueueFilter(states=[s.value for s in state_] if state_ else None, kinds=kind, source_kinds=source_kind,
                    start=_from_key(start, key), end=end, text=q or None,
                    author=own if own is not None else author, sectors=sector, min_sensors=min_sensors)
    rows = queue(state.store(), f, after=key, limit=limit)
    nxt = next_url(request, encode_cursor([rows[-1].time_s, rows[-1].id])) if len(rows) == limit else None
    return page_of([queue_item(r) for r in rows], nxt)


def _from_key(start: datetime | None, key: tuple[float, str] | None) -> datetime | None:
    """The page's lower time bound: ``start``, or the cursor's time when that is later. The
    keyset alone selects the same rows; the bound lets the store seek its time index to the
    page instead of reading every earlier record (PostgreSQL, a page half-way through 100,000
    records: p50 142 -> 23 ms; docs/benchmarks.md, "Review queue")."""
    if key is None or not math.isfinite(key[0]) or not EARLIEST_S <= key[0] <= LATEST_S:
        return start
    at = datetime.fromtimestamp(math.floor(key[0]) - 1, UTC)     # a second early: no rounding at the edge
    return at if start is None or at > start else start


def _authored(store: Store, p: Principal, record_id: str) -> None:
    """404 unless the caller reads every record, or authored a version of ``record_id``."""
    if p.can("read_all"):
        return
    if p.name not in store.authors(store.version_chain(record_id)).values():
        raise NotFound("record", record_id)


@router.get("/reports/{record_id}/versions", response_model=VersionsOut,
            summary="Every version of a record, oldest first: content, author, review state and moves, "
            "comments, and what each changed")
def record_versions(record_id: str, p: Reader, state: State) -> dict[str, Any]:
    items = versions(state.store(), record_id)
    if not p.can("read_all") and p.name not in {v["author"] for v in items}:
        raise NotFound("record", record_id)
    return {"record_id": record_id, "current": items[-1]["id"], "versions": items}


@router.post("/review/bulk", response_model=BulkOut,
             summary="Move many versions (by ids, or every current version a filter selects) or allegations "
             "(by ids); those that may not move are refused with the reason")
def review_bulk(body: BulkIn, p: Analyst, state: State) -> dict[str, Any]:
    store = state.store()
    with state.write_lock:
        ids = body.ids if body.filter is None else list(queue_ids(store, queue_filter(body.filter)))
        done, _ = move_many(store, body.kind, ids or [], body.to, actor=p.name, note=body.note)
    return done.as_dict()


@router.post("/review/{kind}/{subject_id}", response_model=ReviewEvent, response_model_exclude_unset=True,
             summary="Move a version or an allegation to another review state (four eyes: nobody approves "
             "what they authored or last changed)",
             responses={404: {"description": "no such version or allegation"},
                        409: {"description": "a move not allowed from its state, four eyes, or a superseded "
                              "version"},
                        422: {"description": "an unknown state, or a return or rejection without a note"}})
def review_move(kind: Subject, subject_id: SubjectId, body: MoveIn, p: Analyst, state: State) -> dict[str, Any]:
    with state.write_lock:
        return move(state.store(), kind, subject_id, body.to, actor=p.name, note=body.note)


@router.post("/review/{kind}/{subject_id}/comments", status_code=201, response_model=CommentOut,
             summary="Comment on a version or an allegation (a monitor: on their own records, e.g. to answer "
             "a question)")
def review_comment(kind: Subject, subject_id: SubjectId, body: CommentIn, p: Commenter,
                   state: State) -> dict[str, Any]:
    store = state.store()
    if not p.can("analyse"):
        if kind != "record":
            raise HTTPException(403, f"role {p.role!r} comments on their own records only")
        _authored(store, p, subject_id)
    with state.write_lock:
        return comment(store, kind, subject_id, author=p.name, text=body.text)


__all__ = ["MAX_QUEUE_LIMIT", "queue_filter", "queue_item", "router"]
