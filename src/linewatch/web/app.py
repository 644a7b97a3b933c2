"""The mission web service: the REST API (``/api/v1``) and the dashboard, over the same store
and use cases as the CLI (docs/api.md). Build it with :func:`create_app`; ``linewatch serve``
runs it under uvicorn."""


import asyncio
import base64
import json
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import AwareDatetime, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from linewatch import __version__
from linewatch.errors import Conflict, InputError, LinewatchError, NotFound, StoreError
from linewatch.model import utc_iso
from linewatch.web.auth import COOKIE, CSRF_HEADER, Principal, token_sha256
from linewatch.web.features import agreement_features, basemap, coverage_grid, ellipse_polygon, record_feature, sides_of
from linewatch.web.state import ServiceConfig, ServiceState

API = "/api/v1"
MAX_LIMIT = 5000
MAX_BATCH = 10_000
TOKEN_CACHE_S = 5.0
_STATUS = {NotFound: 404, Conflict: 409, InputError: 400, StoreError: 503}

# -- request and response models (what the OpenAPI document shows) ---------------------------


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


# -- helpers -----------------------------------------------------------------------------------

def _problem(status: int, loc: list[Any], msg: str) -> HTTPException:
    return HTTPException(status, detail=[{"loc": loc, "msg": msg, "type": "value_error"}])


def _parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    try:
        vals = tuple(float(v) for v in text.split(","))
    except ValueError:
        vals = ()
    if len(vals) != 4 or not all(v == v for v in vals):
        raise _problem(422, ["query", "bbox"], f"bbox {text!r}: give min_lon,min_lat,max_lon,max_lat")
    lo_x, lo_y, hi_x, hi_y = vals
    if not (-180 <= lo_x <= hi_x <= 180 and -90 <= lo_y <= hi_y <= 90):
        raise _problem(422, ["query", "bbox"], f"bbox {text!r}: out of range or min > max")
    return vals  # type: ignore[return-value]


def _encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decode_cursor(text: str | None, n: int) -> tuple | None:
    if text is None:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if isinstance(values, list) and len(values) == n and isinstance(values[0], (int, float)) \
                and all(isinstance(v, str) for v in values[1:]):
            return (float(values[0]), *values[1:])
    except (ValueError, TypeError):
        pass
    raise _problem(422, ["query", "cursor"], "cursor: not one this service gave (use the 'next' URL)")


def _next_url(request: Request, cursor: str) -> str:
    return f"{request.url.path}?{request.url.include_query_params(cursor=cursor).query}"


def _answer(body: Any, res: Any) -> Any:
    """A submission's answer: 422 with the field path when the one object sent was refused."""
    if isinstance(body, dict) and res.rejected:
        _, fld, reason = res.rejected[0]
        return JSONResponse({"detail": [{"loc": ["body"] + ([fld] if fld else []), "msg": reason,
                                         "type": "value_error"}], **res.as_dict()}, status_code=422)
    return res.as_dict()


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")]
Start = Annotated[AwareDatetime | None, Query(description="from this time (ISO 8601 with a zone), inclusive")]
End = Annotated[AwareDatetime | None, Query(description="to this time, exclusive")]
BBox = Annotated[str | None, Query(description="min_lon,min_lat,max_lon,max_lat", examples=["36,47,39,49"])]
Fmt = Annotated[Literal["geojson", "json"], Query(alias="format")]
Cursor = Annotated[str | None, Query(description="from a previous page's 'next'")]
Multi = Annotated[list[str] | None, Query()]


# -- the application ---------------------------------------------------------------------------

def create_app(config: ServiceConfig | str) -> FastAPI:
    """The service over a store (``config`` or just its URL)."""
    if isinstance(config, str):
        config = ServiceConfig(config)
    state = ServiceState(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        state.close()

    app = FastAPI(title="linewatch", lifespan=lifespan, version=__version__,
                  description="Ceasefire monitoring: records, fused incidents, verdicts, allegations, "
                  "coverage, daily reports and the audit log. Authenticate with `Authorization: "
                  "Bearer <token>` (tokens from `linewatch user add`). See docs/api.md.",
                  openapi_tags=[{"name": t} for t in ("session", "records", "verification",
                                                       "allegations", "agreement", "reports",
                                                       "audit", "users", "live")])
    app.state.linewatch = state

    @app.exception_handler(LinewatchError)
    async def _linewatch_error(request: Request, exc: LinewatchError) -> JSONResponse:
        status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 400)
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.middleware("http")
    async def _no_nul_characters(request: Request, call_next):
        """A NUL character in the path or the query names nothing the store holds (no id,
        kind or name may contain one, and PostgreSQL's text cannot): 422, on either store."""
        where = None
        if "\x00" in request.url.path:
            where = ["path"]
        else:
            where = next((["query", k] for k, v in request.query_params.multi_items()
                          if "\x00" in k or "\x00" in v), None)
        if where is not None:
            return JSONResponse({"detail": [{"loc": where, "msg": "a NUL character is not allowed",
                                             "type": "value_error"}]}, status_code=422)
        return await call_next(request)

    # -- who is asking -------------------------------------------------------------------------
    tokens: dict[str, tuple[Principal, float]] = {}   # token hash -> (who, valid until)

    def lookup(digest: str) -> Principal | None:
        """The token's user; cached for TOKEN_CACHE_S, so a revocation made by another process
        (``linewatch user remove``) takes effect within that time, one made here at once."""
        now = time.monotonic()
        hit = tokens.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        user = state.store().user_by_token(digest)
        if user is None:
            tokens.pop(digest, None)
            return None
        if len(tokens) > 10_000:
            tokens.clear()
        tokens[digest] = (Principal.of(user), now + TOKEN_CACHE_S)
        return tokens[digest][0]

    async def principal(request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        token, by_cookie = None, False
        if header.lower().startswith("bearer "):
            token = header[7:].strip()
        elif COOKIE in request.cookies:
            token, by_cookie = request.cookies[COOKIE], True
        if not token:
            raise HTTPException(401, "authentication required: Authorization: Bearer <token>",
                                headers={"WWW-Authenticate": "Bearer"})
        who = lookup(token_sha256(token))
        if who is None:
            raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
        if by_cookie and request.method not in ("GET", "HEAD") and CSRF_HEADER not in request.headers:
            raise HTTPException(403, f"a write with the session cookie needs the {CSRF_HEADER} header")
        return who

    def needs(*capabilities: str) -> Callable[..., Principal]:
        async def check(p: Annotated[Principal, Depends(principal)]) -> Principal:
            if not any(p.can(c) for c in capabilities):
                raise HTTPException(403, f"role {p.role!r} may not do this")
            return p
        return check

    Who = Annotated[Principal, Depends(principal)]

    # -- session and health --------------------------------------------------------------------
    @app.get(f"{API}/health", tags=["session"], summary="Liveness, with no authentication")
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.post(f"{API}/session", tags=["session"], response_model=Me,
              summary="Log the dashboard in: sets an HttpOnly session cookie",
              responses={401: {"description": "unknown or revoked token"}})
    def login(body: SessionIn, response: Response) -> Me:
        user = state.store().user_by_token(token_sha256(body.token))
        if user is None:
            raise HTTPException(401, "unknown or revoked token")
        response.set_cookie(COOKIE, body.token, httponly=True, samesite="strict", path="/")
        return Me(**Principal.of(user).as_dict())

    @app.delete(f"{API}/session", tags=["session"], status_code=204, summary="Log out")
    def logout(response: Response) -> Response:
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.get(f"{API}/me", tags=["session"], response_model=Me)
    def me(p: Who) -> Me:
        return Me(**p.as_dict())

    # -- records and incidents -----------------------------------------------------------------
    def zone_filter(zone: str | None) -> Callable | None:
        if zone is None:
            return None
        import shapely
        loaded = state.require_agreement()
        z = loaded.agreement.zones.get(zone)
        if z is None:
            raise _problem(422, ["query", "zone"], f"zone {zone!r} is not in agreement "
                           f"{loaded.agreement.id} (zones: {', '.join(loaded.agreement.zones)})")
        geom = shapely.union_all(list(z.polygons_lonlat().values()))
        shapely.prepare(geom)
        return lambda lon, lat: shapely.contains_xy(geom, lon, lat)

    def record_page(request: Request, p: Principal, *, fused_only: bool, start, end, bbox, kind,
                    party, side, source_kind, zone, limit, cursor, fmt, ellipses) -> dict[str, Any]:
        import numpy as np
        store = state.store()
        loaded = state.agreement()
        inside = zone_filter(zone)
        after = _decode_cursor(cursor, 2)
        box = _parse_bbox(bbox)
        sources = ["sensor_fusion"] if fused_only else source_kind
        mine = None if p.can("read_all") else p.name
        out: list[tuple[Any, str | None]] = []
        chunk = min(max(limit * 2, 200), 5000)
        more = False
        while len(out) < limit:
            rows = store.page_records(start=start, end=end, kinds=kind, source_kinds=sources,
                                      bbox=box, submitted_by=mine, after=after, limit=chunk)
            if not rows:
                break
            lon = np.array([r.lon for r in rows], float)
            lat = np.array([r.lat for r in rows], float)
            sides = sides_of(loaded.agreement, lon, lat) if loaded else [None] * len(rows)
            keep = inside(lon, lat) if inside else np.ones(len(rows), bool)
            for i, (row, s) in enumerate(zip(rows, sides)):
                if len(out) == limit:
                    more = True
                    break
                after = (row.time_s, row.id)
                if not keep[i] or (party and row.data.get("party") not in party) \
                        or (side and s not in side):
                    continue
                out.append((row, s))
            if more or len(rows) < chunk:
                break
        if len(out) == limit and not more:
            more = True  # a full page: there may be more (the next page says)
        nxt = _next_url(request, _encode_cursor([out[-1][0].time_s, out[-1][0].id])) if more and out else None
        if fmt == "json":
            return {"items": [dict(r.data, side=s, located=[r.lon, r.lat]) for r, s in out],
                    "count": len(out), "next": nxt}
        return {"type": "FeatureCollection", "count": len(out), "next": nxt,
                "features": [record_feature(r.data, side=s, ellipses=ellipses) for r, s in out]}

    def record_query(fused_only: bool):
        def handler(request: Request, p: Annotated[Principal, Depends(needs("read_all", "read_own_records"))],
                    start: Start = None, end: End = None, bbox: BBox = None, kind: Multi = None,
                    party: Multi = None, side: Multi = None, source_kind: Multi = None,
                    zone: str | None = None, limit: Limit = 500, cursor: Cursor = None,
                    fmt: Fmt = "geojson", ellipses: bool = False) -> dict[str, Any]:
            return record_page(request, p, fused_only=fused_only, start=start, end=end, bbox=bbox,
                               kind=kind, party=party, side=side, source_kind=source_kind, zone=zone,
                               limit=limit, cursor=cursor, fmt=fmt, ellipses=ellipses)
        return handler

    app.get(f"{API}/reports", tags=["records"], response_model=Page, response_model_exclude_unset=True,
            summary="Stored reports (records) by time, place, zone, kind, party, side and source; "
            "a monitor sees what it submitted")(record_query(False))
    app.get(f"{API}/incidents", tags=["records"], response_model=Page, response_model_exclude_unset=True,
            summary="Incidents fused from raw sensor detections")(record_query(True))

    @app.get(f"{API}/reports/{{record_id}}", tags=["records"],
             summary="One report with its evidence chain: placement, findings, detections, "
             "the allegations it matched, its audit-log entry")
    def report_detail(record_id: str, p: Annotated[Principal, Depends(needs("read_all", "read_own_records"))]
                      ) -> dict[str, Any]:
        store = state.store()
        row = store.record_row(record_id)
        if not p.can("read_all") and row.submitted_by != p.name:
            raise NotFound("record", record_id)
        data = row.data
        loaded = state.agreement()
        side = sides_of(loaded.agreement, [row.lon], [row.lat])[0] if loaded else None
        extra = data.get("extra") or {}
        detections = [d for d in str(extra.get("detections", "")).split(",") if d]
        origin = data.get("origin") if isinstance(data.get("origin"), dict) else None
        verdicts = [v for v in store.latest_verdicts().values()
                    if any(m.get("record_id") == record_id for m in v.get("matches", []) + v.get("elsewhere", []))]
        from linewatch.services.audit import AuditLog
        try:
            entry = AuditLog(store).latest(record_id, "record")
            audit = {"index": entry.index, "leaf_hash": entry.leaf_hash.hex()}
        except NotFound:
            audit = None
        return {"record": data, "feature": record_feature(data, side=side, ellipses=True),
                "placement": store.placement(record_id), "findings": store.findings_for(record_id),
                "detections": detections, "origin": origin, "allegations": verdicts,
                "submitted_by": row.submitted_by if p.can("read_all") else None, "audit": audit}

    @app.get(f"{API}/time-range", tags=["records"], response_model=TimeRange)
    def time_range(p: Annotated[Principal, Depends(needs("read_all", "read_own_records"))]) -> TimeRange:
        if not p.can("read_all"):
            own = state.store().submitted_time_range(p.name)
            return TimeRange(start=utc_iso(own[0]) if own else None, end=utc_iso(own[1]) if own else None)
        tr = state.store().time_range()
        return TimeRange(start=tr[0].isoformat() if tr else None, end=tr[1].isoformat() if tr else None)

    @app.post(f"{API}/reports", tags=["records"], response_model=SubmissionOut,
              summary="Submit one record or a batch (idempotent by id); bad ones are quarantined",
              responses={422: {"description": "a single record that is not valid (quarantined); "
                               "the detail gives the field path"}})
    def submit_reports(p: Annotated[Principal, Depends(needs("submit_records"))],
                       body: Annotated[dict[str, Any] | list[Any], Body(
                           description="a record object (docs/record-formats.md) or a list of them")],
                       request: Request) -> Any:
        from linewatch.services.submissions import submit_records
        objects = body if isinstance(body, list) else [body]
        if len(objects) > MAX_BATCH:
            raise _problem(413, ["body"], f"{len(objects)} records: at most {MAX_BATCH} per request")
        with state.write_lock:
            res = submit_records(state.store(), objects, submitted_by=p.name, source=f"api:{p.name}")
        return _answer(body, res)

    # -- verification --------------------------------------------------------------------------
    @app.get(f"{API}/violations", tags=["verification"], response_model=Page, response_model_exclude_unset=True,
             summary="Findings of the latest verification of each record (violations by default)")
    def violations(request: Request, p: Annotated[Principal, Depends(needs("read_all"))],
                   start: Start = None, end: End = None, bbox: BBox = None,
                   kind: Annotated[list[str] | None, Query(description="rule kind")] = None,
                   party: Multi = None,
                   verdict: Annotated[list[Literal["violation", "possible_violation", "compliant",
                                                   "unverifiable"]] | None, Query()] = None,
                   limit: Limit = 500, cursor: Cursor = None, fmt: Fmt = "geojson") -> dict[str, Any]:
        rows = state.store().page_findings(
            verdicts=verdict or ["violation"], start=start, end=end, rule_kinds=kind, parties=party,
            bbox=_parse_bbox(bbox), after=_decode_cursor(cursor, 3), limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = (_next_url(request, _encode_cursor([rows[-1][0], rows[-1][1]["subject"], rows[-1][1]["rule_id"]]))
               if more else None)
        items = [dict(f, time=utc_iso(t)) for t, f, _ in rows]
        if fmt == "json":
            return {"items": items, "count": len(items), "next": nxt}
        feats = [{"type": "Feature", "id": f"{f['subject']}/{f['rule_id']}",
                  "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": f}
                 for f, (_, _, (lon, lat)) in zip(items, rows)]
        return {"type": "FeatureCollection", "features": feats, "count": len(feats), "next": nxt}

    @app.post(f"{API}/verify", tags=["verification"],
              summary="Verify the stored records of a window against the agreement and store the verdicts")
    def verify_now(p: Annotated[Principal, Depends(needs("analyse"))], start: Start = None,
                   end: End = None) -> dict[str, Any]:
        from linewatch.services.pipeline import verify_store
        with state.write_lock:
            run, v = verify_store(state.store(), state.require_agreement(), start=start, end=end)
        counts: dict[str, int] = {}
        for f in v.findings:
            counts[f.verdict.value] = counts.get(f.verdict.value, 0) + 1
        return {"run": run, "records": len(v.places), "findings": len(v.findings), "verdicts": counts}

    # -- allegations ---------------------------------------------------------------------------
    def released_days() -> set[str]:
        return {r["day"] for r in state.store().daily_reports(released_only=True)}

    def released_verdicts() -> dict[str, dict]:
        """The verdicts as released in the daily reports, by allegation id (a later release wins)."""
        out: dict[str, dict] = {}
        store = state.store()
        for r in store.daily_reports(released_only=True):
            report = json.loads(store.daily_report_json(r["day"]))
            for item in (report.get("allegations") or {}).get("items", []):
                out[item["allegation_id"]] = item
        return out

    def visible_allegations(p: Principal, start, end) -> list[tuple[dict, dict | None]]:
        """Staff see every allegation with its latest verdict; a party sees its own (with their
        latest verdicts) and the others' that a released daily report holds, with the verdict
        as released."""
        store = state.store()
        latest = store.latest_verdicts()
        released = None if p.can("read_all") else released_verdicts()
        out = []
        for data, _who in store.allegation_rows_by():
            s, e = datetime.fromisoformat(data["start"]), datetime.fromisoformat(data["end"])
            if (start and e < start) or (end and s >= end):
                continue
            if released is None or (p.party is not None and data["alleging_party"] == p.party):
                out.append((data, latest.get(data["id"])))
            elif data["id"] in released:
                out.append((data, released[data["id"]]))
        return out

    @app.get(f"{API}/allegations", tags=["allegations"], response_model=Page, response_model_exclude_unset=True,
             summary="Allegations with their verdicts by time, place (bbox, zone: the claimed point), "
             "parties, kind and verdict; a party sees its own and the released ones")
    def allegations(request: Request, p: Annotated[Principal, Depends(needs("read_allegations"))],
                    start: Start = None, end: End = None, bbox: BBox = None, zone: str | None = None,
                    alleging_party: str | None = None, accused_party: str | None = None,
                    kind: Multi = None,
                    verdict: Annotated[list[Literal["corroborated", "not_corroborated", "contradicted",
                                                    "unverifiable"]] | None, Query()] = None,
                    limit: Limit = 500, cursor: Cursor = None, fmt: Fmt = "geojson") -> dict[str, Any]:
        box = _parse_bbox(bbox)
        inside = zone_filter(zone)
        items = [(d, v) for d, v in visible_allegations(p, start, end)
                 if (alleging_party is None or d["alleging_party"] == alleging_party)
                 and (accused_party is None or d.get("accused_party") == accused_party)
                 and (not kind or d["kind"] in kind)
                 and (not verdict or (v is not None and v["verdict"] in verdict))
                 and (box is None or (box[0] <= d["lon"] <= box[2] and box[1] <= d["lat"] <= box[3]))
                 and (inside is None or bool(inside(d["lon"], d["lat"])))]
        after = _decode_cursor(cursor, 2)
        if after is not None:
            items = [(d, v) for d, v in items
                     if (datetime.fromisoformat(d["start"]).timestamp(), d["id"]) > after]
        more = len(items) > limit
        items = items[:limit]
        nxt = (_next_url(request, _encode_cursor([datetime.fromisoformat(items[-1][0]["start"]).timestamp(),
                                                  items[-1][0]["id"]])) if more else None)
        rows = [dict(d, verdict=v["verdict"] if v else None, verdict_detail=v) for d, v in items]
        if fmt == "json":
            return {"items": rows, "count": len(rows), "next": nxt}
        feats = []
        for r in rows:
            geom = r.get("area") or {"type": "Point", "coordinates": [r["lon"], r["lat"]]}
            props = {k: v for k, v in r.items() if k not in ("area", "verdict_detail")}
            props["probability"] = r["verdict_detail"]["probability"] if r["verdict_detail"] else None
            feats.append({"type": "Feature", "id": r["id"], "geometry": geom, "properties": props})
        return {"type": "FeatureCollection", "features": feats, "count": len(feats), "next": nxt}

    @app.get(f"{API}/allegations/{{allegation_id}}", tags=["allegations"])
    def allegation(allegation_id: str, p: Annotated[Principal, Depends(needs("read_allegations"))]
                   ) -> dict[str, Any]:
        for d, v in visible_allegations(p, None, None):
            if d["id"] == allegation_id:
                return {"allegation": d, "verdict": v}
        raise NotFound("allegation", allegation_id)

    @app.get(f"{API}/verdicts", tags=["allegations"],
             summary="The latest verdict on each allegation the caller may see")
    def verdicts(p: Annotated[Principal, Depends(needs("read_allegations"))], start: Start = None,
                 end: End = None, verdict: Multi = None) -> dict[str, Any]:
        items = [v for _, v in visible_allegations(p, start, end) if v is not None
                 and (not verdict or v["verdict"] in verdict)]
        counts: dict[str, int] = {}
        for v in items:
            counts[v["verdict"]] = counts.get(v["verdict"], 0) + 1
        return {"items": items, "count": len(items), "by_verdict": counts}

    @app.post(f"{API}/allegations", tags=["allegations"], response_model=SubmissionOut,
              summary="Submit one allegation or a batch; a party submits in its own name only",
              responses={422: {"description": "a single allegation that is not valid (quarantined)"}})
    def submit_allegations_(p: Annotated[Principal, Depends(needs("submit_allegations"))],
                            body: Annotated[dict[str, Any] | list[Any], Body(
                                description="an allegation (docs/allegation-formats.md) or a list")]) -> Any:
        from linewatch.services.submissions import submit_allegations
        objects = body if isinstance(body, list) else [body]
        if len(objects) > MAX_BATCH:
            raise _problem(413, ["body"], f"{len(objects)} allegations: at most {MAX_BATCH} per request")
        if p.party is not None:
            for i, obj in enumerate(objects):
                if isinstance(obj, dict) and obj.get("alleging_party") not in (None, p.party):
                    raise HTTPException(403, f"object {i}: role {p.role} submits allegations of "
                                        f"{p.party!r} only, not of {obj.get('alleging_party')!r}")
            objects = [dict(o, alleging_party=p.party) if isinstance(o, dict) else o for o in objects]
        with state.write_lock:
            res = submit_allegations(state.store(), objects, submitted_by=p.name, source=f"api:{p.name}")
        return _answer(body, res)

    @app.post(f"{API}/allegations/verify", tags=["allegations"],
              summary="Judge the stored allegations of a window (with the network's coverage)")
    def verify_allegations_(p: Annotated[Principal, Depends(needs("analyse"))], start: Start = None,
                            end: End = None) -> dict[str, Any]:
        from linewatch.services.pipeline import coverage_from_network, verify_allegations
        coverage, name = None, "none"
        path = state.network_path()
        if path is not None:
            coverage, name, _ = coverage_from_network(path)
        with state.write_lock:
            run, findings = verify_allegations(state.store(), state.require_agreement(), coverage=coverage,
                                               coverage_name=name, start=start, end=end,
                                               key=state.signing_key())
        counts: dict[str, int] = {}
        for f in findings:
            counts[str(f.verdict)] = counts.get(str(f.verdict), 0) + 1
        return {"run": run, "allegations": len(findings), "verdicts": counts, "coverage": name}

    # -- agreement, base map, coverage ---------------------------------------------------------
    @app.get(f"{API}/agreement", tags=["agreement"], summary="The agreement in force: parties, zones, rules")
    def agreement(p: Who) -> dict[str, Any]:
        loaded = state.require_agreement()
        return {**loaded.agreement.summary(), "sha256": loaded.sha256}

    @app.get(f"{API}/agreement/geojson", tags=["agreement"], response_model=FeatureCollection,
             summary="The line, reference lines, zones and protected sites as GeoJSON")
    def agreement_geojson(p: Who) -> dict[str, Any]:
        return agreement_features(state.require_agreement().agreement)

    @app.get(f"{API}/basemap", tags=["agreement"], response_model=FeatureCollection,
             summary="Country boundaries (Natural Earth, committed extract) for the map")
    def basemap_(p: Who) -> dict[str, Any]:
        from linewatch.formats.resources import load_boundaries
        return _cached_basemap(load_boundaries)

    @app.get(f"{API}/coverage", tags=["agreement"],
             summary="What the sensor network could detect at a time: a grid of detection probability",
             responses={200: {"content": {"application/json": {}, "image/png": {}}}})
    def coverage(p: Annotated[Principal, Depends(needs("read_all"))], at: Annotated[AwareDatetime, Query()],
                 kind: Annotated[Literal["explosion", "launch", "small_arms", "movement", "weapon_sighting",
                                         "overflight"], Query()] = "explosion",
                 fmt: Annotated[Literal["geojson", "png"], Query(alias="format")] = "geojson") -> Any:
        net = state.network()
        if net is None:
            raise HTTPException(404, "no sensor network for this store: run linewatch serve with "
                                "--network FILE, or report/allegations verify with --network")
        if fmt == "png":
            import io

            from linewatch.render.coverage_map import coverage_figure
            fig = coverage_figure(net, at.timestamp(), kind)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=110)
            import matplotlib.pyplot as plt
            plt.close(fig)
            return Response(buf.getvalue(), media_type="image/png")
        return coverage_grid(net, state.require_agreement().agreement, at, kind)

    # -- daily reports -------------------------------------------------------------------------
    def report_visible(p: Principal, day: str) -> None:
        if p.can("read_all"):
            return
        if day not in released_days():
            raise NotFound("daily report", day)

    @app.get(f"{API}/daily-reports", tags=["reports"], response_model=list[DailyReportInfo],
             summary="The daily reports built (released ones only, for the parties and the public)")
    def daily_reports(p: Annotated[Principal, Depends(needs("read_reports"))]) -> list[dict[str, Any]]:
        return state.store().daily_reports(released_only=not p.can("read_all"))

    @app.get(f"{API}/daily-reports/{{day}}.{{fmt}}", tags=["reports"],
             summary="A daily report as HTML, PDF or JSON",
             responses={200: {"content": {"text/html": {}, "application/pdf": {}, "application/json": {}}}})
    def daily_report_file(day: date, fmt: Literal["html", "pdf", "json"],
                          p: Annotated[Principal, Depends(needs("read_reports"))]) -> Any:
        report_visible(p, day.isoformat())
        name = f"report-{day.isoformat()}.{fmt}"
        state.store().daily_report_file(day.isoformat(), name)   # 404 if absent
        return RedirectResponse(f"{API}/daily-reports/{day.isoformat()}/{name}", status_code=307)

    @app.get(f"{API}/daily-reports/{{day}}/{{name}}", tags=["reports"],
             summary="One file of a daily report (the HTML's figures resolve here)")
    def daily_report_part(day: date, name: Annotated[str, Field(pattern=r"^[\w.-]+$")],
                          p: Annotated[Principal, Depends(needs("read_reports"))]) -> Response:
        report_visible(p, day.isoformat())
        media, content = state.store().daily_report_file(day.isoformat(), name)
        return Response(content, media_type=media,
                        headers={"Content-Security-Policy": "default-src 'none'; img-src 'self'; "
                                 "style-src 'unsafe-inline'"} if media.startswith("text/html") else None)

    @app.post(f"{API}/daily-reports/{{day}}", tags=["reports"], status_code=201,
              summary="Build (or rebuild, until released) the daily report of a day")
    def build_report(day: date, p: Annotated[Principal, Depends(needs("analyse"))]) -> dict[str, Any]:
        from linewatch.services.submissions import build_daily_report
        with state.write_lock:
            report = build_daily_report(state.store(), state.require_agreement(), day, built_by=p.name,
                                        network_path=state.network_path(), key=state.signing_key())
        return {"day": day.isoformat(), "summary": report.get("summary"),
                "files": sorted(state.store().daily_report_digests(day.isoformat()))}

    @app.post(f"{API}/daily-reports/{{day}}/release", tags=["reports"],
              summary="Release a built daily report to the parties and the public (logged; final)")
    def release_report(day: date, p: Annotated[Principal, Depends(needs("analyse"))]) -> dict[str, Any]:
        from linewatch.services.submissions import release_daily_report
        with state.write_lock:
            when = release_daily_report(state.store(), day, released_by=p.name)
        return {"day": day.isoformat(), "released_at": when, "released_by": p.name}

    # -- audit ---------------------------------------------------------------------------------
    @app.get(f"{API}/audit/head", tags=["audit"], summary="The audit log's current tree head")
    def audit_head(p: Annotated[Principal, Depends(needs("read_audit"))]) -> dict[str, Any]:
        from linewatch.services.audit import AuditLog
        log = AuditLog(state.store())
        key = state.signing_key()
        return (log.signed_tree_head(key) if key is not None else log.tree_head()).to_dict()

    @app.get(f"{API}/audit/verify", tags=["audit"],
             summary="Check the whole log (and, with a key, every signature); names the first mismatch")
    def audit_verify(p: Annotated[Principal, Depends(needs("read_audit"))]) -> dict[str, Any]:
        from linewatch.services.audit import AuditLog
        key = state.signing_key()
        res = AuditLog(state.store()).verify(key.public_key() if key is not None else None)
        return {"ok": res.ok, "first": str(res.first) if res.first else None,
                "entries": AuditLog(state.store()).size()}

    @app.get(f"{API}/audit/proof/{{subject_id}}", tags=["audit"],
             summary="An RFC 6962 inclusion proof of a record, allegation or verdict in the log")
    def audit_proof(subject_id: str, p: Annotated[Principal, Depends(needs("read_all"))]) -> dict[str, Any]:
        from linewatch.services.audit import AuditLog
        return AuditLog(state.store()).prove(subject_id).to_dict()

    # -- users ---------------------------------------------------------------------------------
    @app.get(f"{API}/users", tags=["users"], response_model=list[UserOut])
    def users(p: Annotated[Principal, Depends(needs("manage_users"))]) -> list[dict[str, Any]]:
        return [dict(name=u.name, role=u.role, created_at=u.created_at, revoked_at=u.revoked_at)
                for u in state.store().users()]

    @app.post(f"{API}/users", tags=["users"], response_model=UserOut, status_code=201,
              summary="Create a user; the token is in the answer, once")
    def add_user(body: UserIn, p: Annotated[Principal, Depends(needs("manage_users"))]) -> dict[str, Any]:
        from linewatch.web.auth import new_token
        token = new_token()
        with state.write_lock:
            u = state.store().add_user(body.name, body.role, token_sha256(token))
        return dict(name=u.name, role=u.role, created_at=u.created_at, token=token)

    @app.delete(f"{API}/users/{{name}}", tags=["users"], status_code=204, summary="Revoke a user's token")
    def revoke_user(name: str, p: Annotated[Principal, Depends(needs("manage_users"))]) -> Response:
        with state.write_lock:
            state.store().revoke_user(name)
        tokens.clear()
        return Response(status_code=204)

    # -- live feed -----------------------------------------------------------------------------
    @app.get(f"{API}/events", tags=["live"], summary="Server-sent events: each new report as it is stored",
             responses={200: {"content": {"text/event-stream": {}}}})
    async def events(request: Request, p: Annotated[Principal, Depends(needs("read_all", "read_own_records"))],
                     ellipses: bool = True,
                     until_s: Annotated[float | None, Query(gt=0, le=86400, description=(
                         "close the stream after this many seconds (the client reconnects with "
                         "Last-Event-ID); default: keep it open"))] = None) -> StreamingResponse:
        last = request.headers.get("last-event-id")
        start = int(last) if last and last.isdigit() else await run_in_threadpool(
            lambda: state.store().max_record_rowid())
        mine = None if p.can("read_all") else p.name

        def fetch(after: int) -> list[tuple[int, dict]]:
            rows = state.store().page_records(after_rowid=after, submitted_by=mine, limit=500)
            loaded = state.agreement()
            sides = sides_of(loaded.agreement, [r.lon for r in rows],
                             [r.lat for r in rows]) if loaded and rows else [None] * len(rows)
            return [(r.rowid, record_feature(r.data, side=s, ellipses=ellipses)) for r, s in zip(rows, sides)]

        async def stream():
            after = start
            yield "retry: 2000\n\n"
            idle = 0.0
            deadline = None if until_s is None else asyncio.get_running_loop().time() + until_s
            while not await request.is_disconnected():
                if deadline is not None and asyncio.get_running_loop().time() >= deadline:
                    return
                got = await run_in_threadpool(fetch, after)
                for rowid, feat in got:
                    after = max(after, rowid)
                    yield f"id: {rowid}\nevent: report\ndata: {json.dumps(feat)}\n\n"
                if got:
                    idle = 0.0
                    continue
                await asyncio.sleep(state.config.poll_s)
                idle += state.config.poll_s
                if idle >= 15.0:
                    idle = 0.0
                    yield ": keep-alive\n\n"
        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    # -- the dashboard -------------------------------------------------------------------------
    static = Path(str(resources.files("linewatch.web").joinpath("static")))
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(static / "index.html", headers={"Cache-Control": "no-cache"})

    return app


_BASEMAP: dict[str, Any] = {}


def _cached_basemap(load: Callable[[], Any]) -> dict[str, Any]:
    if not _BASEMAP:
        _BASEMAP.update(basemap(load()))
    return _BASEMAP


__all__ = ["create_app", "ServiceConfig", "ellipse_polygon"]
