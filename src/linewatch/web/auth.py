"""How a request proves who it is: the bearer token, or the dashboard's cookie and CSRF header.

A request carries its token as ``Authorization: Bearer TOKEN`` or, from the dashboard, in the
HttpOnly cookie set by ``POST /api/v1/session``; a write made with the cookie must also carry the
header ``X-Linewatch-CSRF`` (a cross-site form cannot set it). Tokens and roles are
``linewatch.services.accounts``; the dependencies that check them are ``linewatch.web.deps``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from linewatch.services.accounts import CAPABILITIES, TOKEN_PREFIX, Principal, new_token, token_sha256

COOKIE = "linewatch_token"
CSRF_HEADER = "x-linewatch-csrf"
TOKEN_CACHE_S = 5.0
TOKEN_CACHE_SIZE = 10_000


def token_from(authorization: str, cookies: dict[str, str]) -> tuple[str | None, bool]:
    """The request's token and whether it came in the session cookie (the header wins)."""
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip(), False
    if COOKIE in cookies:
        return cookies[COOKIE], True
    return None, False


class TokenCache:
    """Who holds each token (by its SHA-256), remembered for ``ttl_s``: a revocation made by
    another process (``linewatch user remove``) takes effect within that time, one made by this
    service at once (it calls :meth:`clear`)."""

    def __init__(self, ttl_s: float = TOKEN_CACHE_S, size: int = TOKEN_CACHE_SIZE) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self._hits: dict[str, tuple[Principal, float]] = {}   # token hash -> (who, valid until)
        self._lock = threading.Lock()

    def lookup(self, digest: str, user_by_token: Callable[[str], Any]) -> Principal | None:
        """The token's user: from the cache, else from ``user_by_token`` (the store)."""
        now = time.monotonic()
        hit = self._hits.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        user = user_by_token(digest)
        with self._lock:
            if user is None:
                self._hits.pop(digest, None)
                return None
            if len(self._hits) > self.size:
                self._hits.clear()
            who = Principal.of(user)
            self._hits[digest] = (who, now + self.ttl_s)
        return who

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()


__all__ = ["CAPABILITIES", "COOKIE", "CSRF_HEADER", "TOKEN_CACHE_S", "TOKEN_PREFIX", "Principal", "TokenCache",
           "new_token", "token_from", "token_sha256"]
