"""The dependencies every router shares: the service's state, and who is asking with what
their role allows (docs/api.md, "Authentication" and "Roles").

A route names the callers it admits by its principal's type: ``Who`` (any valid token),
``Reader`` (records: staff, or a monitor its own), ``Staff``, ``Analyst``, ``Commenter`` (a
reviewer, or a monitor on its own records), ``AllegationReader``,
``AllegationSubmitter``, ``RecordSubmitter``, ``ReportReader``, ``AuditReader``, ``Admin``. A
missing or unknown token is 401, a role without the capability 403."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from linewatch.web.auth import CSRF_HEADER, Principal, credentials_from, lookup
from linewatch.web.state import ServiceState


def get_state(request: Request) -> ServiceState:
    """The state of the app serving the request (``create_app`` puts it there)."""
    state: ServiceState = request.app.state.linewatch
    return state


State = Annotated[ServiceState, Depends(get_state)]


def principal(request: Request, state: State) -> Principal:
    """The caller, by bearer token or session cookie, looked up in the store at each request (in
    the thread pool: a blocking read); a write with the cookie needs the CSRF header."""
    secret, by_cookie = credentials_from(request.headers.get("authorization", ""), request.cookies)
    if not secret:
        raise HTTPException(401, "authentication required: Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
    who = lookup(state.store(), secret, by_cookie)
    if who is None:
        raise HTTPException(401, "unknown, expired or revoked session" if by_cookie else "unknown or revoked token",
                            headers={"WWW-Authenticate": "Bearer"})
    if by_cookie and request.method not in ("GET", "HEAD") and CSRF_HEADER not in request.headers:
        raise HTTPException(403, f"a write with the session cookie needs the {CSRF_HEADER} header")
    return who


def needs(*capabilities: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency: the caller, who must have one of ``capabilities`` (else 403)."""
    async def check(p: Annotated[Principal, Depends(principal)]) -> Principal:
        if not any(p.can(c) for c in capabilities):
            raise HTTPException(403, f"role {p.role!r} may not do this")
        return p
    return check


def own_records_of(p: Principal) -> str | None:
    """Whose submissions the caller reads: everyone's for staff (None), a monitor its own."""
    return None if p.can("read_all") else p.name


Who = Annotated[Principal, Depends(principal)]
Reader = Annotated[Principal, Depends(needs("read_all", "read_own_records"))]
Staff = Annotated[Principal, Depends(needs("read_all"))]
Analyst = Annotated[Principal, Depends(needs("analyse"))]
#: who comments in a review thread: a reviewer, or a monitor (on their own records: the route checks)
Commenter = Annotated[Principal, Depends(needs("analyse", "read_own_records"))]
RecordSubmitter = Annotated[Principal, Depends(needs("submit_records"))]
AllegationReader = Annotated[Principal, Depends(needs("read_allegations"))]
AllegationSubmitter = Annotated[Principal, Depends(needs("submit_allegations"))]
ReportReader = Annotated[Principal, Depends(needs("read_reports"))]
AuditReader = Annotated[Principal, Depends(needs("read_audit"))]
Admin = Annotated[Principal, Depends(needs("manage_users"))]

__all__ = ["Admin", "AllegationReader", "AllegationSubmitter", "Analyst", "AuditReader", "Commenter", "Reader",
           "RecordSubmitter", "ReportReader", "Staff", "State", "Who", "get_state", "needs", "own_records_of",
           "principal"]
