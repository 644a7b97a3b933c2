"""Liveness and the dashboard's session: ``/health`` (no token), ``/session`` (log in and out
with the HttpOnly cookie), ``/me`` (who the token is)."""

from fastapi import APIRouter, HTTPException, Response

from linewatch import __version__
from linewatch.web.auth import COOKIE, Principal, token_sha256
from linewatch.web.deps import State, Who
from linewatch.web.schemas import Me, SessionIn

router = APIRouter(tags=["session"])


@router.get("/health", summary="Liveness, with no authentication")
async def health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.post("/session", response_model=Me, summary="Log the dashboard in: sets an HttpOnly session cookie",
             responses={401: {"description": "unknown or revoked token"}})
def login(body: SessionIn, response: Response, state: State) -> Me:
    user = state.store().user_by_token(token_sha256(body.token))
    if user is None:
        raise HTTPException(401, "unknown or revoked token")
    response.set_cookie(COOKIE, body.token, httponly=True, samesite="strict", path="/")
    return Me(**Principal.of(user).as_dict())


@router.delete("/session", status_code=204, summary="Log out")
def logout() -> Response:
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/me", response_model=Me)
def me(p: Who) -> Me:
    return Me(**p.as_dict())
