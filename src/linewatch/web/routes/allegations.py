"""Allegations: the parties' claims with their verdicts (filtered by time, claimed place,
parties, kind and verdict; a party sees its own and the released ones), one allegation, the
latest verdicts, the submission of allegations and a verdict run (docs/api.md)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request

from linewatch.errors import NotFound
from linewatch.verification import AllegationVerdict
from linewatch.web.auth import Principal
from linewatch.web.batches import answer, objects_of
from linewatch.web.deps import AllegationReader, AllegationSubmitter, Analyst, State
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
    in_box,
    next_url,
    page_of,
    parse_bbox,
    zone_filter,
)
from linewatch.web.schemas import Page, SubmissionOut
from linewatch.web.visibility import Visible, visible_allegations

router = APIRouter(tags=["allegations"])

#: the verdicts an allegation can have (``linewatch.verification.AllegationVerdict``)
AllegationVerdicts = Annotated[list[AllegationVerdict] | None, Query()]


@dataclass(frozen=True)
class AllegationFilter:
    """Which allegations a query keeps: ``box`` and ``inside`` test the claimed point."""

    box: Box | None
    inside: Inside | None
    alleging_party: str | None
    accused_party: str | None
    kinds: list[str] | None
    verdicts: list[str] | None

    def keeps(self, d: dict[str, Any], v: dict[str, Any] | None) -> bool:
        return ((self.alleging_party is None or d["alleging_party"] == self.alleging_party)
                and (self.accused_party is None or d.get("accused_party") == self.accused_party)
                and (not self.kinds or d["kind"] in self.kinds)
                and (not self.verdicts or (v is not None and v["verdict"] in self.verdicts))
                and in_box(self.box, d["lon"], d["lat"])
                and (self.inside is None or bool(self.inside(d["lon"], d["lat"]))))


def _start_key(d: dict[str, Any]) -> tuple[float, str]:
    """The page key of an allegation: its start time, then its id."""
    return datetime.fromisoformat(d["start"]).timestamp(), d["id"]


def _features(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Allegations as GeoJSON: the claimed area, or the claimed point, with the verdict's probability."""
    feats = []
    for r in rows:
        geom = r.get("area") or {"type": "Point", "coordinates": [r["lon"], r["lat"]]}
        props = {k: v for k, v in r.items() if k not in ("area", "verdict_detail")}
        props["probability"] = r["verdict_detail"]["probability"] if r["verdict_detail"] else None
        feats.append({"type": "Feature", "id": r["id"], "geometry": geom, "properties": props})
    return feats


def _page(request: Request, items: list[Visible], after: tuple[Any, ...] | None, limit: int,
          fmt: str) -> dict[str, Any]:
    """The page of ``items`` (in start order) after the key ``after``."""
    if after is not None:
        items = [(d, v) for d, v in items if _start_key(d) > after]
    more = len(items) > limit
    items = items[:limit]
    nxt = next_url(request, encode_cursor(list(_start_key(items[-1][0])))) if more else None
    rows = [dict(d, verdict=v["verdict"] if v else None, verdict_detail=v) for d, v in items]
    return page_of(rows, nxt) if fmt == "json" else page_of(rows, nxt, _features(rows))


@router.get("/allegations", response_model=Page, response_model_exclude_unset=True,
            summary="Allegations with their verdicts by time, place (bbox, zone: the claimed point), "
            "parties, kind and verdict; a party sees its own and the released ones")
def allegations(request: Request, p: AllegationReader, state: State, start: Start = None, end: End = None,
                bbox: BBox = None, zone: str | None = None, alleging_party: str | None = None,
                accused_party: str | None = None, kind: Multi = None, verdict: AllegationVerdicts = None,
                limit: Limit = 500, cursor: Cursor = None, fmt: Fmt = "geojson") -> dict[str, Any]:
    keep = AllegationFilter(box=parse_bbox(bbox), inside=zone_filter(state, zone), alleging_party=alleging_party,
                            accused_party=accused_party, kinds=kind,
                            verdicts=[AllegationVerdict(v).value for v in verdict] if verdict else None)
    items = [(d, v) for d, v in visible_allegations(state.store(), p, start, end) if keep.keeps(d, v)]
    return _page(request, items, decode_cursor(cursor, 2), limit, fmt)


@router.get("/allegations/{allegation_id}")
def allegation(allegation_id: str, p: AllegationReader, state: State) -> dict[str, Any]:
    for d, v in visible_allegations(state.store(), p, None, None):
        if d["id"] == allegation_id:
            return {"allegation": d, "verdict": v}
    raise NotFound("allegation", allegation_id)


@router.get("/verdicts", summary="The latest verdict on each allegation the caller may see")
def verdicts(p: AllegationReader, state: State, start: Start = None, end: End = None,
             verdict: Multi = None) -> dict[str, Any]:
    items = [v for _, v in visible_allegations(state.store(), p, start, end) if v is not None
             and (not verdict or v["verdict"] in verdict)]
    counts: dict[str, int] = {}
    for v in items:
        counts[v["verdict"]] = counts.get(v["verdict"], 0) + 1
    return {"items": items, "count": len(items), "by_verdict": counts}


def _in_own_name(p: Principal, objects: list[Any]) -> list[Any]:
    """A party's allegations, in its name (403 for one that names another alleging party)."""
    if p.party is None:
        return objects
    for i, obj in enumerate(objects):
        if isinstance(obj, dict) and obj.get("alleging_party") not in (None, p.party):
            raise HTTPException(403, f"object {i}: role {p.role} submits allegations of "
                                f"{p.party!r} only, not of {obj.get('alleging_party')!r}")
    return [dict(o, alleging_party=p.party) if isinstance(o, dict) else o for o in objects]


@router.post("/allegations", response_model=SubmissionOut,
             summary="Submit one allegation or a batch; a party submits in its own name only",
             responses={422: {"description": "a single allegation that is not valid (quarantined)"}})
def submit_allegations_(p: AllegationSubmitter, state: State,
                        body: Annotated[dict[str, Any] | list[Any], Body(
                            description="an allegation (docs/allegation-formats.md) or a list")]) -> Any:
    from linewatch.services.submissions import submit_allegations
    objects = _in_own_name(p, objects_of(body, "allegations"))
    with state.write_lock:
        res = submit_allegations(state.store(), objects, submitted_by=p.name, source=f"api:{p.name}")
    return answer(body, res)


@router.post("/allegations/verify",
             summary="Judge the stored allegations of a window (with the network's coverage)")
def verify_allegations_(p: Analyst, state: State, start: Start = None, end: End = None) -> dict[str, Any]:
    from linewatch.services import coverage_from_network, verify_allegations
    coverage, name = None, "none"
    path = state.network_path()
    if path is not None:
        coverage, name, _ = coverage_from_network(path)
    with state.write_lock:
        run, findings = verify_allegations(state.store(), state.require_agreement(), coverage=coverage,
                                           coverage_name=name, start=start, end=end, key=state.signing_key())
    counts: dict[str, int] = {}
    for f in findings:
        counts[str(f.verdict)] = counts.get(str(f.verdict), 0) + 1
    return {"run": run, "allegations": len(findings), "verdicts": counts, "coverage": name}
