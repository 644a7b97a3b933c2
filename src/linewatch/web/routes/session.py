"""Liveness and the dashboard's session: ``/health`` (no token), ``/session`` (log in with a
token, which sets an HttpOnly cookie holding a new session id; log out, which ends that session
in the store), ``/me`` (who the token is)."""

from fastapi import APIRouter, HTTPException, Request, Response

from linewatch import __version__
from linewatch.services.accounts import start_session
from linewatch.web.auth import COOKIE, CSRF_HEADER, Principal, session_cookie, token_sha256
from linewatch.web.deps import State, Who
from linewatch.web.schemas import Me, SessionIn

router = APIRouter(tags=["session"])


@router.get("/health", summary="Liveness, with no authentication")
async def health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.post("/session", response_model=Me, summary="Log the dashboard in: sets an HttpOnly session cookie",
             responses={401: {"description": "unknown or revoked token"}})
def login(body: SessionIn, request: Request, response: Response, state: State) -> Me:
    store = state.store()
    user = store.user_by_token(token_sha256(body.token))
    if user is None:
        raise HTTPException(401, "unknown or revoked token")
    with state.write_lock:
        sid = start_session(store, user)
    response.set_cookie(COOKIE, sid, **session_cookie(request.url.scheme == "https"))
    return Me(**Principal.of(user).as_dict())


@router.delete("/session", status_code=204, summary="Log out: ends the cookie's session at once",
               responses={403: {"description": f"the session cookie without the {CSRF_HEADER} header"}})
def logout(request: Request, state: State) -> Response:
    sid = request.cookies.get(COOKIE)
    if sid is not None:
        if CSRF_HEADER not in request.headers:
            raise HTTPException(403, f"a logout with the session cookie needs the {CSRF_HEADER} header")
        with state.write_lock:
            state.store().end_session(token_sha256(sid))
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")
    return response


@router.get("/me", response_model=Me)
def me(p: Who) -> Me:
    return Me(**p.as_dict())
