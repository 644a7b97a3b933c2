"""Verification: the findings of the latest verification of each record (``/violations``:
violations by default, any of the verdicts a finding has on request; by time, place, zone,
rule kind, party and side), and a verification run over a window (docs/api.md, "Queries")."""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request

from linewatch.model import Verdict, utc_iso
from linewatch.services import LoadedAgreement
from linewatch.store import Store
from linewatch.web.deps import Analyst, Staff, State
from linewatch.web.features import sides_of
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
    page_of,
    parse_bbox,
    zone_filter,
)
from linewatch.web.schemas import Page

router = APIRouter(tags=["verification"])

#: the verdicts a finding can have (``linewatch.model.Verdict``), repeated for several
Verdicts = Annotated[list[Verdict] | None, Query()]
#: a finding as the store gives it: (time_s, finding, (lon, lat) of its record's located point)
FindingRow = tuple[float, dict[str, Any], tuple[float, float]]


@dataclass(frozen=True)
class FindingQuery:
    """What a page of findings asks for: the store's filters, then the service's (zone, side)."""

    verdicts: list[str]
    start: datetime | None
    end: datetime | None
    rule_kinds: list[str] | None
    parties: list[str] | None
    box: Box | None
    inside: Inside | None
    sides: list[str] | None


def _kept(rows: list[FindingRow], loaded: LoadedAgreement | None,
          q: FindingQuery) -> list[tuple[FindingRow, str | None]]:
    """The rows (with the side of the line each record lies on) that pass the zone and side filters."""
    lon = np.array([r[2][0] for r in rows], float)
    lat = np.array([r[2][1] for r in rows], float)
    sides = sides_of(loaded.agreement, lon, lat) if loaded else [None] * len(rows)
    keep = q.inside(lon, lat) if q.inside else np.ones(len(rows), bool)
    return [(row, s) for i, (row, s) in enumerate(zip(rows, sides))
            if keep[i] and not (q.sides and s not in q.sides)]


def _collect(store: Store, loaded: LoadedAgreement | None, q: FindingQuery,
             after: tuple[Any, ...] | None, limit: int) -> list[tuple[FindingRow, str | None]]:
    """Up to ``limit`` matching findings after the key ``after``, read from the store in chunks
    (one read when no filter of the service's own narrows them)."""
    out: list[tuple[FindingRow, str | None]] = []
    chunk = limit if q.inside is None and not q.sides else min(max(limit * 2, 200), 5001)
    while len(out) < limit:
        rows = store.page_findings(verdicts=q.verdicts, start=q.start, end=q.end, rule_kinds=q.rule_kinds,
                                   parties=q.parties, bbox=q.box, after=after, limit=chunk)
        if not rows:
            break
        out += _kept(rows, loaded, q)[:limit - len(out)]
        if len(rows) < chunk:
            break
        after = (rows[-1][0], rows[-1][1]["subject"], rows[-1][1]["rule_id"])
    return out


@router.get("/violations", response_model=Page, response_model_exclude_unset=True,
            summary="Findings of the latest verification of each record (violations by default), "
            "by time, place, zone, rule kind, party and side")
def violations(request: Request, p: Staff, state: State, start: Start = None, end: End = None,
               bbox: BBox = None, zone: str | None = None,
               kind: Annotated[list[str] | None, Query(description="rule kind")] = None,
               party: Multi = None, side: Multi = None, verdict: Verdicts = None, limit: Limit = 500,
               cursor: Cursor = None, fmt: Fmt = "geojson") -> dict[str, Any]:
    q = FindingQuery(verdicts=[Verdict(v).value for v in verdict] if verdict else [Verdict.VIOLATION.value],
                     start=start, end=end, rule_kinds=kind, parties=party, box=parse_bbox(bbox),
                     inside=zone_filter(state, zone), sides=side)
    got = _collect(state.store(), state.agreement(), q, decode_cursor(cursor, 3), limit + 1)
    more = len(got) > limit
    got = got[:limit]
    nxt = next_url(request, encode_cursor([got[-1][0][0], got[-1][0][1]["subject"], got[-1][0][1]["rule_id"]])) \
        if more else None
    items = [dict(f, time=utc_iso(t), side=s) for (t, f, _), s in got]
    if fmt == "json":
        return page_of(items, nxt)
    return page_of(items, nxt, [{"type": "Feature", "id": f"{f['subject']}/{f['rule_id']}",
                                 "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": f}
                                for f, ((_, _, (lon, lat)), _) in zip(items, got)])


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
