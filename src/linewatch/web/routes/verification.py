"""Verification: the findings of the latest verification of each record (``/violations``:
violations by default, any of the verdicts a finding has on request), and a verification run
over a window (docs/api.md, "Queries")."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from linewatch.model import Verdict, utc_iso
from linewatch.web.deps import Analyst, Staff, State
from linewatch.web.query import (
    BBox,
    Cursor,
    End,
    Fmt,
    Limit,
    Multi,
    Start,
    decode_cursor,
    encode_cursor,
    next_url,
    page_of,
    parse_bbox,
)
from linewatch.web.schemas import Page

router = APIRouter(tags=["verification"])

#: the verdicts a finding can have (``linewatch.model.Verdict``), repeated for several
Verdicts = Annotated[list[Verdict] | None, Query()]


@router.get("/violations", response_model=Page, response_model_exclude_unset=True,
            summary="Findings of the latest verification of each record (violations by default)")
def violations(request: Request, p: Staff, state: State, start: Start = None, end: End = None,
               bbox: BBox = None, kind: Annotated[list[str] | None, Query(description="rule kind")] = None,
               party: Multi = None, verdict: Verdicts = None, limit: Limit = 500, cursor: Cursor = None,
               fmt: Fmt = "geojson") -> dict[str, Any]:
    wanted = [Verdict(v).value for v in verdict] if verdict else [Verdict.VIOLATION.value]
    rows = state.store().page_findings(
        verdicts=wanted, start=start, end=end, rule_kinds=kind, parties=party,
        bbox=parse_bbox(bbox), after=decode_cursor(cursor, 3), limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = (next_url(request, encode_cursor([rows[-1][0], rows[-1][1]["subject"], rows[-1][1]["rule_id"]]))
           if more else None)
    items = [dict(f, time=utc_iso(t)) for t, f, _ in rows]
    if fmt == "json":
        return page_of(items, nxt)
    return page_of(items, nxt, [{"type": "Feature", "id": f"{f['subject']}/{f['rule_id']}",
                                 "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": f}
                                for f, (_, _, (lon, lat)) in zip(items, rows)])


@router.post("/verify",
             summary="Verify the stored records of a window against the agreement and store the verdicts")
def verify_now(p: Analyst, state: State, start: Start = None, end: End = None) -> dict[str, Any]:
    from linewatch.services import verify_store
    with state.write_lock:
        run, v = verify_store(state.store(), state.require_agreement(), start=start, end=end)
    counts: dict[str, int] = {}
    for f in v.findings:
        counts[f.verdict.value] = counts.get(f.verdict.value, 0) + 1
    return {"run": run, "records": len(v.places), "findings": len(v.findings), "verdicts": counts}
