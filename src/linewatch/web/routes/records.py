"""Records: the stored reports and the fused incidents by time, place, zone, kind, party, side
and source (keyset pages), one report with its evidence chain, the time range, and the
submission of records (docs/api.md, "Queries" and "Ingest")."""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Body, Request

from linewatch.errors import Conflict, NotFound
from linewatch.model import utc_iso
from linewatch.services import LoadedAgreement
from linewatch.store import Store
from linewatch.web.batches import answer, objects_of
from linewatch.web.deps import Reader, RecordSubmitter, State, own_records_of
from linewatch.web.features import record_feature, sides_of
from linewatch.web.query import (
    BBox,
    Box,
    Cursor,
    End,
    Fmt,
    Inside,
    Limit,
    Multi,
    Start,
    decode_cursor,
    encode_cursor,
    next_url,
    parse_bbox,
    zone_filter,
)
from linewatch.web.schemas import Page, SubmissionOut, TimeRange
from linewatch.web.state import ServiceState

router = APIRouter(tags=["records"])


@dataclass(frozen=True)
class RecordQuery:
    """What a page of records asks for: the store's filters, then the service's (zone, party, side)."""

    start: datetime | None
    end: datetime | None
    box: Box | None
    kinds: list[str] | None
    source_kinds: list[str] | None
    submitted_by: str | None
    inside: Inside | None
    parties: list[str] | None
    sides: list[str] | None


def _kept(rows: list[Any], loaded: LoadedAgreement | None, q: RecordQuery) -> list[tuple[Any, str | None]]:
    """The rows (with the side of the line each lies on) that pass the zone, party and side filters."""
    lon = np.array([r.lon for r in rows], float)
    lat = np.array([r.lat for r in rows], float)
    sides = sides_of(loaded.agreement, lon, lat) if loaded else [None] * len(rows)
    keep = q.inside(lon, lat) if q.inside else np.ones(len(rows), bool)
    return [(row, s) for i, (row, s) in enumerate(zip(rows, sides))
            if keep[i] and not (q.parties and row.data.get("party") not in q.parties)
            and not (q.sides and s not in q.sides)]


def _collect(store: Store, loaded: LoadedAgreement | None, q: RecordQuery, after: tuple[Any, ...] | None,
             limit: int) -> list[tuple[Any, str | None]]:
    """Up to ``limit`` matching rows after the key ``after``, read from the store in chunks."""
    out: list[tuple[Any, str | None]] = []
    chunk = min(max(limit * 2, 200), 5000)
    while len(out) < limit:
        rows = store.page_records(start=q.start, end=q.end, kinds=q.kinds, source_kinds=q.source_kinds,
                                  bbox=q.box, submitted_by=q.submitted_by, after=after, limit=chunk)
        if not rows:
            break
        out += _kept(rows, loaded, q)[:limit - len(out)]
        if len(rows) < chunk:
            break
        after = (rows[-1].time_s, rows[-1].id)
    return out


def _records_page(request: Request, state: ServiceState, q: RecordQuery, cursor: str | None, limit: int,
                  fmt: str, ellipses: bool) -> dict[str, Any]:
    """A page of the records ``q`` selects, as JSON (``items``) or GeoJSON."""
    out = _collect(state.store(), state.agreement(), q, decode_cursor(cursor, 2), limit)
    # a full page: there may be more (the next page says)
    nxt = next_url(request, encode_cursor([out[-1][0].time_s, out[-1][0].id])) if len(out) == limit else None
    if fmt == "json":
        return {"items": [dict(r.data, side=s, located=[r.lon, r.lat]) for r, s in out],
                "count": len(out), "next": nxt}
    return {"type": "FeatureCollection", "count": len(out), "next": nxt,
            "features": [record_feature(r.data, side=s, ellipses=ellipses) for r, s in out]}


@router.get("/reports", response_model=Page, response_model_exclude_unset=True,
            summary="Stored reports (records) by time, place, zone, kind, party, side and source; "
            "a monitor sees what it submitted")
def reports(request: Request, p: Reader, state: State, start: Start = None, end: End = None,
            bbox: BBox = None, kind: Multi = None, party: Multi = None, side: Multi = None,
            source_kind: Multi = None, zone: str | None = None, limit: Limit = 500,
            cursor: Cursor = None, fmt: Fmt = "geojson", ellipses: bool = False) -> dict[str, Any]:
    q = RecordQuery(start=start, end=end, box=parse_bbox(bbox), kinds=kind, source_kinds=source_kind,
                    submitted_by=own_records_of(p), inside=zone_filter(state, zone), parties=party, sides=side)
    return _records_page(request, state, q, cursor, limit, fmt, ellipses)


@router.get("/incidents", response_model=Page, response_model_exclude_unset=True,
            summary="Incidents fused from raw sensor detections (source_kind sensor_fusion) by time, "
            "place, zone, kind, party and side")
def incidents(request: Request, p: Reader, state: State, start: Start = None, end: End = None,
              bbox: BBox = None, kind: Multi = None, party: Multi = None, side: Multi = None,
              zone: str | None = None, limit: Limit = 500, cursor: Cursor = None, fmt: Fmt = "geojson",
              ellipses: bool = False) -> dict[str, Any]:
    q = RecordQuery(start=start, end=end, box=parse_bbox(bbox), kinds=kind, source_kinds=["sensor_fusion"],
                    submitted_by=own_records_of(p), inside=zone_filter(state, zone), parties=party, sides=side)
    return _records_page(request, state, q, cursor, limit, fmt, ellipses)


def _audit_entry(store: Store, record_id: str) -> dict[str, Any] | None:
    """The record's latest audit-log entry: its index and leaf hash (None if it has none)."""
    from linewatch.services.audit import AuditLog
    try:
        entry = AuditLog(store).latest(record_id, "record")
    except NotFound:
        return None
    return {"index": entry.index, "leaf_hash": entry.leaf_hash.hex()}


@router.get("/reports/{record_id}", summary="One report with its evidence chain: placement, findings, "
            "detections, the allegations it matched, its audit-log entry")
def report_detail(record_id: str, p: Reader, state: State) -> dict[str, Any]:
    store = state.store()
    row = store.record_row(record_id)
    if not p.can("read_all") and row.submitted_by != p.name:
        raise NotFound("record", record_id)
    data = row.data
    loaded = state.agreement()
    side = sides_of(loaded.agreement, np.array([row.lon]), np.array([row.lat]))[0] if loaded else None
    extra = data.get("extra") or {}
    detections = [d for d in str(extra.get("detections", "")).split(",") if d]
    origin = data.get("origin") if isinstance(data.get("origin"), dict) else None
    verdicts = [v for v in store.latest_verdicts().values()
                if any(m.get("record_id") == record_id for m in v.get("matches", []) + v.get("elsewhere", []))]
    return {"record": data, "feature": record_feature(data, side=side, ellipses=True),
            "placement": store.placement(record_id), "findings": store.findings_for(record_id),
            "detections": detections, "origin": origin, "allegations": verdicts,
            "submitted_by": row.submitted_by if p.can("read_all") else None,
            "audit": _audit_entry(store, record_id), **_review_of(store, record_id)}


#: what the evidence chain gives of each version (``GET /reports/{id}/versions`` gives it all)
VERSION_SUMMARY = ("version", "id", "author", "stored_at", "state", "current", "correction", "changes")


def _review_of(store: Store, record_id: str) -> dict[str, Any]:
    """The record's versions (a summary of each) and where this version stands in review."""
    from linewatch.services.review import versions
    try:
        review = store.review_of("record", record_id)
    except NotFound:
        state = None
    else:
        state = {"state": review.state, "updated_at": review.updated_at, "updated_by": review.updated_by}
    return {"versions": [{k: v[k] for k in VERSION_SUMMARY} for v in versions(store, record_id)],
            "review": state}


@router.get("/time-range", response_model=TimeRange)
def time_range(p: Reader, state: State) -> TimeRange:
    if not p.can("read_all"):
        own = state.store().submitted_time_range(p.name)
        return TimeRange(start=utc_iso(own[0]) if own else None, end=utc_iso(own[1]) if own else None)
    tr = state.store().time_range()
    return TimeRange(start=tr[0].isoformat() if tr else None, end=tr[1].isoformat() if tr else None)


@router.post("/reports", response_model=SubmissionOut,
             summary="Submit one record or a batch (idempotent by id); bad ones are quarantined",
             responses={422: {"description": "a single record that is not valid (quarantined); "
                              "the detail gives the field path"}})
def submit_reports(p: RecordSubmitter,
                   body: Annotated[dict[str, Any] | list[Any], Body(
                       description="a record object (docs/record-formats.md) or a list of them")],
                   state: State) -> Any:
    from linewatch.services.submissions import submit_records
    objects = objects_of(body, "records")
    with state.write_lock:
        if not p.can("analyse"):
            _check_corrections(state.store(), objects, p.name)
        res = submit_records(state.store(), objects, submitted_by=p.name, source=f"api:{p.name}")
    return answer(body, res)


def _check_corrections(store: Store, objects: list[Any], author: str) -> None:
    """409 (nothing stored) when a monitor's object corrects a version that is not theirs, or
    one already approved or rejected. A target that is not stored is left to the submission,
    which quarantines the object with its reason (as any bad row)."""
    from linewatch.services.review import check_correction
    for i, obj in enumerate(objects):
        target = obj.get("supersedes") if isinstance(obj, dict) else None
        if not isinstance(target, str) or not 0 < len(target) <= 200 or "\x00" in target:
            continue    # not a correction, or one the parser refuses
        try:
            check_correction(store, target, author=author, monitor=True)
        except NotFound:
            continue
        except Conflict as exc:
            raise Conflict(f"object {i}: {exc}" if len(objects) > 1 else str(exc)) from None
