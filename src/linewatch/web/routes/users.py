"""Users (admin only): the list, a new user with its token (shown once), and revoking one (its
token and sessions stop working from the next request: the service caches neither). A removed
user's name stays removed: adding it again is 409."""

from typing import Any

from fastapi import APIRouter, Response
from fastapi.exceptions import RequestValidationError

from linewatch.errors import InputError
from linewatch.services.accounts import add_user as create_user
from linewatch.services.accounts import check_user_role
from linewatch.web.deps import Admin, State
from linewatch.web.schemas import UserIn, UserOut

router = APIRouter(tags=["users"])


@router.get("/users", response_model=list[UserOut])
def users(p: Admin, state: State) -> list[dict[str, Any]]:
    return [dict(name=u.name, role=u.role, created_at=u.created_at, revoked_at=u.revoked_at)
            for u in state.store().users()]


@router.post("/users", response_model=UserOut, status_code=201,
             summary="Create a user; the token is in the answer, once",
             responses={409: {"description": "the name exists, or was removed (a removed name stays removed)"}})
def add_user(body: UserIn, p: Admin, state: State) -> dict[str, Any]:
    loaded = state.agreement()
    agreement = None if loaded is None else (loaded.name, loaded.agreement.party_ids)
    try:
        check_user_role(body.role, agreement)
    except InputError as exc:   # a role the agreement in use does not have: the body's field is invalid
        raise RequestValidationError([{"loc": ("body", "role"), "msg": str(exc), "type": "value_error",
                                       "input": body.role}]) from exc
    with state.write_lock:
        u, token = create_user(state.store(), body.name, body.role, agreement=agreement)
    return dict(name=u.name, role=u.role, created_at=u.created_at, token=token)


@router.delete("/users/{name}", status_code=204, summary="Revoke a user's token and end its sessions")
def revoke_user(name: str, p: Admin, state: State) -> Response:
    with state.write_lock:
        state.store().revoke_user(name)
    return Response(status_code=204)
