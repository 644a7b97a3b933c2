"""The mission web service: the REST API (``/api/v1``) and the dashboard, over the same store
and use cases as the CLI (docs/api.md). Build it with :func:`create_app`; ``linewatch serve``
runs it under uvicorn. The routes are ``linewatch.web.routes``, one router per API area."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from linewatch import __version__
from linewatch.errors import Conflict, InputError, LinewatchError, NotFound, OutOfDate, StoreError
from linewatch.formats.lines import MAX_QUOTE_CHARS, excerpt, quote
from linewatch.web.batches import body_limit
from linewatch.web.routes import API_ROUTERS, dashboard
from linewatch.web.state import ServiceConfig, ServiceState

API = "/api/v1"
TAGS = ("session", "records", "verification", "allegations", "agreement", "reports", "review", "audit", "users",
        "live")
DESCRIPTION = ("Ceasefire monitoring: records, fused incidents, verdicts, allegations, coverage, daily reports "
               "and the audit log. Authenticate with `Authorization: Bearer <token>` (tokens from `linewatch "
               "user add`). See docs/api.md.")
_STATUS = {NotFound: 404, Conflict: 409, OutOfDate: 409, InputError: 400, StoreError: 503}


def create_app(config: ServiceConfig | str) -> FastAPI:
    """The service over a store (``config`` or just its URL)."""
    state = ServiceState(ServiceConfig(config) if isinstance(config, str) else config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        state.close()

    app = FastAPI(title="linewatch", lifespan=lifespan, version=__version__, description=DESCRIPTION,
                  openapi_tags=[{"name": t} for t in TAGS])
    app.state.linewatch = state
    app.add_exception_handler(LinewatchError, linewatch_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_middleware(BodyLimit)     # inside the NUL guard: the route reads the body through it
    app.middleware("http")(no_nul_characters)
    for router in API_ROUTERS:
        app.include_router(router, prefix=API)
    app.mount("/static", dashboard.static_app(), name="static")
    app.include_router(dashboard.router)
    return app


async def linewatch_error(request: Request, exc: Exception) -> JSONResponse:
    """A use case's error as its status: not found 404, conflict or stored results out of date 409,
    bad input 400, the store unusable 503."""
    status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 400)
    return JSONResponse({"detail": str(exc)}, status_code=status)


#: a 422 lists at most this many errors
MAX_ERRORS = 20


def _bounded_error(err: dict[str, Any]) -> dict[str, Any]:
    """One validation error with its location, message and input cut short (a 422 never echoes
    a large input back)."""
    out: dict[str, Any] = {"loc": [p if isinstance(p, int) else excerpt(str(p), MAX_QUOTE_CHARS)
                                   for p in err.get("loc", ())][:10],
                           "msg": excerpt(str(err.get("msg", "")), 500), "type": err.get("type", "")}
    if "input" in err:
        value = err["input"]
        small = value is None or isinstance(value, (bool, int, float)) or (
            isinstance(value, str) and len(value) <= MAX_QUOTE_CHARS)
        out["input"] = jsonable_encoder(value) if small else quote(value)
    return out


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422, as FastAPI's own, but bounded: at most MAX_ERRORS errors, each input quoted in at
    most about a hundred characters."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse({"detail": [_bounded_error(dict(e)) for e in errors[:MAX_ERRORS]]}, status_code=422)


def _too_large(limit: int, method: str, path: str, size: int | None = None) -> str:
    what = f"{size:,} bytes" if size is not None else "more bytes than that"
    return (f"the request body is over the limit of {limit:,} bytes for {method} {excerpt(path, 100)} "
            f"(it has {what}; docs/api.md, \"Limits\")")


class BodyLimit:
    """Refuses a request body over its route's limit (``linewatch.web.batches.body_limit``) with
    413: at once when its Content-Length says so, else as soon as the bytes received pass the
    limit, before the body is read whole."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        limit = body_limit(method, path)
        declared = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), None)
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            response = JSONResponse({"detail": _too_large(limit, method, path, int(declared))}, status_code=413,
                                    headers={"Connection": "close"})
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, detail=_too_large(limit, method, path),
                                        headers={"Connection": "close"})
            return message
        await self.app(scope, counted, send)


async def no_nul_characters(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """A NUL character in the path or the query names nothing the store holds (no id, kind or
    name may contain one, and PostgreSQL's text cannot): 422, on either store."""
    where = ["path"] if "\x00" in request.url.path else next(
        (["query", k] for k, v in request.query_params.multi_items() if "\x00" in k or "\x00" in v), None)
    if where is not None:
        return JSONResponse({"detail": [{"loc": where, "msg": "a NUL character is not allowed",
                                         "type": "value_error"}]}, status_code=422)
    return await call_next(request)


__all__ = ["API", "ServiceConfig", "create_app"]
