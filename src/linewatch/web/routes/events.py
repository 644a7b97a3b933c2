"""The live feed: server-sent events, one ``report`` event per record stored after the
connection opened that the caller may see; ``Last-Event-ID`` resumes (docs/api.md, "Live feed")."""

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from linewatch.web.auth import credentials_from, lookup
from linewatch.web.deps import Reader, State, own_records_of
from linewatch.web.features import record_feature, sides_of
from linewatch.web.state import ServiceState

router = APIRouter(tags=["live"])

KEEP_ALIVE_S = 15.0
UntilS = Annotated[float | None, Query(gt=0, le=86400, description=(
    "close the stream after this many seconds (the client reconnects with Last-Event-ID); "
    "default: keep it open"))]

#: the features stored after a row id, with their row ids
Fetch = Callable[[int], list[tuple[int, dict[str, Any]]]]


def _fetcher(state: ServiceState, submitted_by: str | None, ellipses: bool) -> Fetch:
    def fetch(after: int) -> list[tuple[int, dict[str, Any]]]:
        rows = state.store().page_records(after_rowid=after, submitted_by=submitted_by, limit=500)
        loaded = state.agreement()
        sides = sides_of(loaded.agreement, np.array([r.lon for r in rows], float),
                         np.array([r.lat for r in rows], float)) if loaded and rows else [None] * len(rows)
        return [(r.rowid, record_feature(r.data, side=s, ellipses=ellipses)) for r, s in zip(rows, sides)]
    return fetch


async def _stream(request: Request, fetch: Fetch, after: int, poll_s: float,
                  until_s: float | None, still_allowed: Callable[[], bool]) -> AsyncIterator[str]:
    """The events: what ``fetch`` finds after row ``after``, polled every ``poll_s``, with a
    comment line when idle for KEEP_ALIVE_S; until the client leaves, ``until_s`` is up, or
    ``still_allowed`` says the caller's session or token has ended (logout, removal: at once)."""
    loop = asyncio.get_running_loop()
    yield "retry: 2000\n\n"
    idle = 0.0
    deadline = None if until_s is None else loop.time() + until_s
    while not await request.is_disconnected():
        if deadline is not None and loop.time() >= deadline:
            return
        if not await run_in_threadpool(still_allowed):
            yield "event: ended\ndata: the session or token has ended\n\n"
            return
        got = await run_in_threadpool(fetch, after)
        for rowid, feat in got:
            after = max(after, rowid)
            yield f"id: {rowid}\nevent: report\ndata: {json.dumps(feat)}\n\n"
        if got:
            idle = 0.0
            continue
        await asyncio.sleep(poll_s)
        idle += poll_s
        if idle >= KEEP_ALIVE_S:
            idle = 0.0
            yield ": keep-alive\n\n"


@router.get("/events", summary="Server-sent events: each new report as it is stored",
            responses={200: {"content": {"text/event-stream": {}}}})
async def events(request: Request, p: Reader, state: State, ellipses: bool = True,
                 until_s: UntilS = None) -> StreamingResponse:
    last = request.headers.get("last-event-id")
    start = int(last) if last and last.isdigit() else await run_in_threadpool(
        lambda: state.store().max_record_rowid())
    fetch = _fetcher(state, own_records_of(p), ellipses)
    secret, by_cookie = credentials_from(request.headers.get("authorization", ""), request.cookies)

    def still_allowed() -> bool:
        who = lookup(state.store(), secret, by_cookie) if secret else None
        return who is not None and who.name == p.name and who.role == p.role
    return StreamingResponse(_stream(request, fetch, start, state.config.poll_s, until_s, still_allowed),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
