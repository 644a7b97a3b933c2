"""Users (admin only): the list, a new user with its token (shown once), and revoking one
(at once, in this service: its token cache is cleared)."""

from typing import Any

from fastapi import APIRouter, Response

from linewatch.web.auth import new_token, token_sha256
from linewatch.web.deps import Admin, State
from linewatch.web.schemas import UserIn, UserOut

router = APIRouter(tags=["users"])


@router.get("/users", response_model=list[UserOut])
def users(p: Admin, state: State) -> list[dict[str, Any]]:
    return [dict(name=u.name, role=u.role, created_at=u.created_at, revoked_at=u.revoked_at)
            for u in state.store().users()]


@router.post("/users", response_model=UserOut, status_code=201,
             summary="Create a user; the token is in the answer, once")
def add_user(body: UserIn, p: Admin, state: State) -> dict[str, Any]:
    token = new_token()
    with state.write_lock:
        u = state.store().add_user(body.name, body.role, token_sha256(token))
    return dict(name=u.name, role=u.role, created_at=u.created_at, token=token)


@router.delete("/users/{name}", status_code=204, summary="Revoke a user's token")
def revoke_user(name: str, p: Admin, state: State) -> Response:
    with state.write_lock:
        state.store().revoke_user(name)
    state.tokens.clear()
    return Response(status_code=204)
