"""Accounts: API tokens, roles and what each role may do.

A token is 32 random bytes (``lw_`` + URL-safe base64), shown once by ``linewatch user add``;
the store keeps only its SHA-256 (a fast hash is right for a secret of 256 random bits: nothing
to guess). A request carries it as ``Authorization: Bearer TOKEN`` or, from the dashboard, in
the HttpOnly cookie set by ``POST /api/v1/session`` (``linewatch.web.auth``).

Roles (docs/api.md): ``admin`` and ``analyst`` see and do everything (only ``admin`` manages
users); ``monitor`` submits records and reads what it submitted; ``party:<id>`` reads released
daily reports and released verdicts, its own allegations and their verdicts, and submits
allegations in its own name; ``public`` reads released daily reports.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from linewatch.store.service_tables import User

TOKEN_PREFIX = "lw_"

# what each role may do; a party's reads are further limited to what is released or its own
CAPABILITIES: dict[str, frozenset[str]] = {
    "admin": frozenset({"read_all", "submit_records", "submit_allegations", "analyse",
                        "read_reports", "read_allegations", "read_audit", "manage_users"}),
    "analyst": frozenset({"read_all", "submit_records", "submit_allegations", "analyse",
                          "read_reports", "read_allegations", "read_audit"}),
    "monitor": frozenset({"submit_records", "read_own_records"}),
    "party": frozenset({"submit_allegations", "read_reports", "read_allegations", "read_audit"}),
    "public": frozenset({"read_reports"}),
}


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is asking: the user and what the role allows."""

    name: str
    role: str

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(user.name, user.role)

    @property
    def party(self) -> str | None:
        return self.role.split(":", 1)[1] if self.role.startswith("party:") else None

    @property
    def capabilities(self) -> frozenset[str]:
        return CAPABILITIES["party" if self.party else self.role]

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "party": self.party,
                "capabilities": sorted(self.capabilities)}
