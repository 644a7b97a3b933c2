"""How a request proves who it is: the bearer token, or the dashboard's cookie and CSRF header.

A request carries its token as ``Authorization: Bearer TOKEN`` or, from the dashboard, in the
HttpOnly cookie set by ``POST /api/v1/session``; a write made with the cookie must also carry the
header ``X-Linewatch-CSRF`` (a cross-site form cannot set it). Tokens and roles are
``linewatch.services.accounts``.
"""

from __future__ import annotations

from linewatch.services.accounts import CAPABILITIES, TOKEN_PREFIX, Principal, new_token, token_sha256

COOKIE = "linewatch_token"
CSRF_HEADER = "x-linewatch-csrf"

__all__ = ["CAPABILITIES", "COOKIE", "CSRF_HEADER", "TOKEN_PREFIX", "Principal", "new_token", "token_sha256"]
