"""Accounts: API tokens, roles and what each role may do.

A token is 32 random bytes (``lw_`` + URL-safe base64), shown once by ``linewatch user add``;
the store keeps only its SHA-256 (a fast hash is right for a secret of 256 random bits: nothing
to guess). A request carries it as ``Authorization: Bearer TOKEN`` or, from the dashboard, in
the HttpOnly cookie set by ``POST /api/v1/session`` (``linewatch.web.auth``). That cookie holds
not the token but a random session id, its SHA-256 stored with an expiry (table ``sessions``);
a logout or the user's removal ends the session at once.

A user's name is used once: a removed user's name stays removed (``Conflict``), so that the
history it left (ingest batches, releases, the audit log) stays tied to one account. A role
``party:<id>`` names one of the parties of the agreement in use (the one the store used last).

Roles (docs/api.md): ``admin`` and ``analyst`` see and do everything (only ``admin`` manages
users); ``monitor`` submits records and reads what it submitted; ``party:<id>`` reads released
daily reports and released verdicts, its own allegations and their verdicts, and submits
allegations in its own name; ``public`` reads released daily reports.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from linewatch.errors import InputError
from linewatch.store import Store
from linewatch.store.service_tables import User, check_role

TOKEN_PREFIX = "lw_"
SESSION_TTL_S = 12 * 3600.0     # a dashboard session lasts a working shift at most

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


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def agreement_parties(store: Store) -> tuple[str, list[str]] | None:
    """The name and party ids of the agreement the store used last, or None if it has none."""
    from linewatch.agreement import parse_agreement
    latest = store.latest_agreement()
    if latest is None:
        return None
    name, text = latest
    return name, list(parse_agreement(text, name=name).party_ids)


def check_user_role(role: str, agreement: tuple[str, Collection[str]] | None) -> str:
    """``role``, checked: one of the fixed roles, or ``party:<id>`` with ``<id>`` one of the
    parties of ``agreement`` (its name and party ids; None: no agreement, so no party role)."""
    check_role(role)
    if not role.startswith("party:"):
        return role
    party = role.split(":", 1)[1]
    if agreement is None:
        raise InputError(f"role {role!r}: the store holds no agreement to check party {party!r} "
                         "against (verify or ingest with --agreement first)")
    name, parties = agreement
    if party not in parties:
        raise InputError(f"role {role!r}: the agreement in use ({name}) has no party {party!r}; "
                         f"its parties: {', '.join(sorted(parties))}")
    return role


def add_user(store: Store, name: str, role: str, *,
             agreement: tuple[str, Collection[str]] | None = None) -> tuple[User, str]:
    """Create a user with a new token: ``(user, token)``; the token is shown once, the store keeps
    its SHA-256. The role is checked against ``agreement`` (name, party ids; by default the
    agreement the store used last). A name that exists or was removed is a ``Conflict``."""
    if agreement is None and role.startswith("party:"):
        agreement = agreement_parties(store)
    check_user_role(role, agreement)
    token = new_token()
    return store.add_user(name, role, token_sha256(token)), token


def start_session(store: Store, user: User, ttl_s: float = SESSION_TTL_S) -> str:
    """A new session of ``user`` for ``ttl_s`` seconds: its id (the cookie's value; the store
    keeps its SHA-256)."""
    sid = new_session_id()
    store.add_session(token_sha256(sid), user.name, datetime.now(UTC).timestamp() + ttl_s)
    return sid


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
