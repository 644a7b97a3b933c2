"""Named, ordered schema migrations, each applied once in its own transaction.

Each migration has a text for SQLite (:data:`MIGRATIONS`) and one for PostgreSQL + PostGIS
(:data:`PG_MIGRATIONS`), under the same name: the two stores hold the same tables and columns,
with each engine's types, spatial index and triggers. Applied migrations are recorded in
``_migrations``; :func:`pending` lists the rest without changing anything. A migration is never
edited once released: add a new one.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from linewatch.errors import MigrationError
from linewatch.store.schema_postgres import PG_MIGRATIONS
from linewatch.store.schema_sqlite import MIGRATIONS

__all__ = ["MIGRATIONS", "PG_MIGRATIONS", "applied", "migrate", "pending"]


def _ensure_table(conn: Any) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")


def applied(conn: Any) -> list[str]:
    _ensure_table(conn)
    return [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY name")]


def pending(conn: Any) -> list[str]:
    done = set(applied(conn))
    return [name for name, _ in MIGRATIONS if name not in done]


def migrate(conn: Any, dialect: str = "sqlite") -> list[str]:
    """Apply every pending migration, each in its own transaction; return their names.

    ``conn`` is a :mod:`sqlite3` connection (``dialect="sqlite"``) or a
    :class:`~linewatch.store.postgres.PgConnection` (``"postgresql"``). Several processes may
    open a new store at once: each migration re-checks, under the write lock, that no other
    applied it meanwhile."""
    if dialect not in ("sqlite", "postgresql"):
        raise MigrationError(f"no migrations for the store dialect {dialect!r}")
    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
    if dialect == "postgresql":
        import psycopg
        errors = (psycopg.Error,)
    try:
        done = set(applied(conn))
    except errors as exc:
        raise MigrationError(f"cannot read the applied migrations: {exc}") from exc
    ran = []
    for name, sqlite_sql in MIGRATIONS:
        if name in done:
            continue
        try:
            fresh = _apply(conn, dialect, name, sqlite_sql)
        except errors as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise MigrationError(f"migration {name!r} failed: {exc}") from exc
        if fresh:
            ran.append(name)
    return ran


def _apply(conn: Any, dialect: str, name: str, sqlite_sql: str) -> bool:
    """Apply one migration in its own transaction, under the write lock; False (and nothing
    done) when another process applied it meanwhile."""
    if dialect == "sqlite":
        conn.execute("BEGIN IMMEDIATE")
    else:
        conn.execute("BEGIN")
        conn.execute("SELECT pg_advisory_xact_lock(?)", (0x4C57_0000_0001,))
    if name in {r[0] for r in conn.execute("SELECT name FROM _migrations")}:
        conn.execute("ROLLBACK")  # another process applied it meanwhile
        return False
    if dialect == "sqlite":
        for statement in _statements(sqlite_sql):
            conn.execute(statement)
    else:
        conn.execute(PG_MIGRATIONS[name])
    conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                 (name, datetime.now(UTC).isoformat()))
    conn.execute("COMMIT")
    return True


def _statements(sql: str) -> list[str]:
    """Split a script into statements; a trigger's ``BEGIN ... END`` body stays whole."""
    out, buf = [], ""
    for piece in sql.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n\t;"):
                out.append(buf.strip()[:-1].strip())
            buf = ""
    if buf.strip(" \n\t;"):
        out.append(buf.strip().rstrip(";").strip())
    return out
