"""The multi-user store: PostgreSQL with PostGIS (``postgresql://user@host:port/db``).

The same interface and migrations as the SQLite store (:mod:`linewatch.store.base`), with
what differs in PostgreSQL:

* statements are written with ``?`` placeholders; :class:`PgConnection` turns them into
  psycopg's ``%s``;
* many processes write at once. Inserts are keyed (``ON CONFLICT DO NOTHING``), so two writers
  of the same record neither fail nor duplicate it. Where a write reads first (the audit
  log's next index, a user, a daily report) it takes a named lock, a transaction-scoped
  advisory lock (``pg_advisory_xact_lock``). Record writers hold the ``records`` lock shared;
  readers that walk records in insertion order (the audit log, the live feed) take it
  exclusively, so no row can commit behind them with a lower row id;
* each record's point and the box of its 95 % ellipse are PostGIS geometries (SRID 4326), the
  box under a GiST index.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from linewatch.errors import StoreError
from linewatch.store import migrations
from linewatch.store.base import Store, ellipse_box

__all__ = ["PgConnection", "PostgresStore"]


@lru_cache(maxsize=1024)
def _pg_sql(sql: str) -> str:
    """``?`` placeholders as ``%s`` (and a literal ``%`` as ``%%``)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgConnection:
    """A psycopg connection that takes the ``?`` placeholders the store's statements use, in
    autocommit mode with explicit ``BEGIN``/``COMMIT`` (as the SQLite connection is used)."""

    def __init__(self, raw) -> None:
        self.raw = raw

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus
        return (not self.raw.closed
                and self.raw.info.transaction_status != TransactionStatus.IDLE)

    def execute(self, sql: str, args: Sequence[Any] | None = None):
        import psycopg
        cur = self.raw.cursor()
        try:
            if args:
                cur.execute(_pg_sql(sql), list(args))
            else:
                cur.execute(sql)
        except psycopg.DataError as exc:   # a value the column cannot hold: say which statement
            raise StoreError(f"PostgreSQL refused a value: {str(exc).strip()} (in: "
                             f"{sql.split('(')[0].strip()[:60]})") from exc
        return cur

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]):
        cur = self.raw.cursor()
        rows = [list(r) for r in rows]
        if rows:
            cur.executemany(_pg_sql(sql), rows)
        return cur

    def close(self) -> None:
        self.raw.close()


def _redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def _lock_key(name: str) -> int:
    # a stable signed 64-bit key per lock name, in linewatch's own range
    return (0x4C57 << 32) | zlib.crc32(name.encode())


class PostgresStore(Store):
    """``PostgresStore(url)`` connects, and creates or migrates the schema (PostGIS must be
    installable in the database: ``scripts/postgres.sh`` starts a server that has it)."""

    dialect = "postgresql"

    def __init__(self, url: str, *, connect_timeout_s: float = 10.0) -> None:
        import psycopg
        self.url = url
        self.where = _redact(url)
        try:
            raw = psycopg.connect(url, autocommit=True, connect_timeout=int(connect_timeout_s))
        except psycopg.Error as exc:
            raise StoreError(f"{self.where}: cannot connect to the store: "
                             f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc}") from exc
        self.conn = PgConnection(raw)
        try:
            migrations.migrate(self.conn, "postgresql")
        except BaseException:
            raw.close()
            raise

    def _errors(self) -> tuple[type[BaseException], ...]:
        import psycopg
        return (psycopg.Error,)

    def _lock(self, c, name: str, *, shared: bool = False) -> None:
        fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        c.execute(f"SELECT {fn}(?)", (_lock_key(name),))

    _INSERT_RECORD = (
        "INSERT INTO records (id, kind, time, time_s, lon, lat, source_kind, source_id, "
        "content_hash, data, file, line, batch_id, ingested_at, supersedes, geom, extent) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ST_SetSRID(ST_MakePoint(?, ?), 4326), "
        "ST_MakeEnvelope(?, ?, ?, ?, 4326)) ON CONFLICT (id) DO NOTHING RETURNING rowid")

    def _insert_record(self, c, row: tuple, loc) -> int | None:
        got = c.execute(self._INSERT_RECORD, (*row, loc.lon, loc.lat, *_envelope(loc))).fetchone()
        return None if got is None else int(got[0])

    def _insert_records(self, c, items) -> list[bool]:
        return self._insert_many(c, self._INSERT_RECORD,
                                 [[*row, loc.lon, loc.lat, *_envelope(loc)] for row, loc in items])

    def _insert_many(self, c, sql: str, rows) -> list[bool]:
        """All in one pipelined ``executemany``, in order (a second copy of a key in the same
        call finds the first)."""
        if not rows:
            return []
        cur = c.raw.cursor()
        cur.executemany(_pg_sql(sql), [list(r) for r in rows], returning=True)
        out = []
        while True:
            out.append(cur.fetchone() is not None)
            if not cur.nextset():
                break
        return out


def _envelope(loc) -> tuple[float, float, float, float]:
    lo_lon, hi_lon, lo_lat, hi_lat = ellipse_box(loc.lon, loc.lat, loc.semi_major_m)
    return lo_lon, lo_lat, hi_lon, hi_lat
