"""How a request proves who it is: the bearer token, or the dashboard's session cookie and CSRF header.

A request carries its token as ``Authorization: Bearer TOKEN`` or, from the dashboard, the
HttpOnly cookie set by ``POST /api/v1/session``. The cookie holds a random session id, not the
token: the store keeps its SHA-256 with an expiry, and a logout (``DELETE /api/v1/session``) or
the user's removal deletes it. A write made with the cookie, the logout included, must also
carry the header ``X-Linewatch-CSRF`` (a cross-site form cannot set it).

Nothing is cached: each request looks its token or session up in the store (an indexed
read), so that a revocation, by this service or by ``linewatch user remove`` in another
process, holds from the very next request. Tokens, sessions and roles are
``linewatch.services.accounts``; the dependencies that check them are ``linewatch.web.deps``.
"""

from __future__ import annotations

from typing import Any

from linewatch.services.accounts import CAPABILITIES, SESSION_TTL_S, TOKEN_PREFIX, Principal, new_token, token_sha256

COOKIE = "linewatch_session"
CSRF_HEADER = "x-linewatch-csrf"


def credentials_from(authorization: str, cookies: dict[str, str]) -> tuple[str | None, bool]:
    """The request's token, or its session id and True when it came in the session cookie
    (the header wins)."""
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip(), False
    if COOKIE in cookies:
        return cookies[COOKIE], True
    return None, False


def lookup(store: Any, secret: str, by_cookie: bool) -> Principal | None:
    """Who holds the token (or, ``by_cookie``, the session), read from the store now."""
    digest = token_sha256(secret)
    user = store.user_by_session(digest) if by_cookie else store.user_by_token(digest)
    return None if user is None else Principal.of(user)


def session_cookie(secure: bool) -> dict[str, Any]:
    """The session cookie's attributes: HttpOnly, SameSite=Strict, for the session's lifetime,
    ``Secure`` when the request came over TLS."""
    return {"httponly": True, "samesite": "strict", "path": "/", "max_age": int(SESSION_TTL_S),
            "secure": secure}


__all__ = ["CAPABILITIES", "COOKIE", "CSRF_HEADER", "TOKEN_PREFIX", "Principal", "credentials_from", "lookup",
           "new_token", "session_cookie", "token_sha256"]
