"""Stores: where records, detections, quarantine rows, verdicts, agreements and the audit log live.

Shell: imports the core and ``linewatch.formats`` (the canonical forms), never services, the CLI
or the web service. A store takes and returns domain objects.

``open_store(url)`` takes ``sqlite:///path`` or a plain path (the embedded default), or
``postgresql://user@host:port/db`` (PostgreSQL with PostGIS, for a multi-user mission). Both
have the same interface (:class:`~linewatch.store.base.Store`) and the same migrations.
"""

from __future__ import annotations

from pathlib import Path

from linewatch.errors import StoreError
from linewatch.store.base import AddResult, AllegationRun, QuarantineRow, Store, VerificationRun
from linewatch.store.sqlite import SQLiteStore

SCHEMES = ("sqlite", "postgresql", "postgres")


def open_store(url: str | Path) -> Store:
    """Open (create, migrate) the store at ``url``."""
    text = str(url)
    if text.startswith("sqlite:///"):
        return SQLiteStore(text[len("sqlite:///"):])
    if text.startswith(("postgresql://", "postgres://")):
        from linewatch.store.postgres import PostgresStore
        return PostgresStore(text)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise StoreError(f"store URL {text!r}: unsupported scheme {scheme!r} (use sqlite:///PATH "
                         "or postgresql://USER@HOST:PORT/DB)")
    return SQLiteStore(text)


__all__ = ["AddResult", "AllegationRun", "QuarantineRow", "SQLiteStore", "Store", "VerificationRun", "open_store"]
