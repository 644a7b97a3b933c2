"""The mission web service: the REST API (``/api/v1``) and the dashboard, over the same store
and use cases as the CLI (docs/api.md). Build it with :func:`create_app`; ``linewatch serve``
runs it under uvicorn. The routes are ``linewatch.web.routes``, one router per API area."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from linewatch import __version__
from linewatch.errors import Conflict, InputError, LinewatchError, NotFound, OutOfDate, StoreError
from linewatch.web.routes import API_ROUTERS, dashboard
from linewatch.web.state import ServiceConfig, ServiceState

API = "/api/v1"
TAGS = ("session", "records", "verification", "allegations", "agreement", "reports", "audit", "users", "live")
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
