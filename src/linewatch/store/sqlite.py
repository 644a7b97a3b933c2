"""The embedded store: one SQLite file in WAL mode, foreign keys on, one writer at a time.

Every write runs inside ``BEGIN IMMEDIATE``, so writers take turns and the store's named locks
(:meth:`~linewatch.store.base.Store._lock`) need nothing more. The spatial index is an R*Tree
over the bounding box of each record's 95 % ellipse.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import shapely

from linewatch.errors import StoreError
from linewatch.store import migrations
from linewatch.store.base import Store, ellipse_box

__all__ = ["SQLiteStore"]


class SQLiteStore(Store):
    """The default store. ``SQLiteStore(path)`` creates or opens and migrates the database."""

    dialect = "sqlite"

    def __init__(self, path: str | Path, *, timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.where = str(self.path)
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None,
                                        check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            migrations.migrate(self.conn, "sqlite")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from exc

    _BEGIN = "BEGIN IMMEDIATE"   # take the write lock now: writers take turns

    def _errors(self) -> tuple[type[BaseException], ...]:
        return (sqlite3.Error,)

    def _insert_record(self, c, row: tuple, loc) -> int | None:
        got = c.execute(
            "INSERT INTO records (id, kind, time, time_s, lon, lat, source_kind, source_id, "
            "content_hash, data, file, line, batch_id, ingested_at, supersedes, geom) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO NOTHING RETURNING rowid",
            (*row, shapely.to_wkb(shapely.Point(loc.lon, loc.lat)))).fetchone()
        if got is None:
            return None
        c.execute("INSERT INTO records_rtree VALUES (?, ?, ?, ?, ?)",
                  (got[0], *ellipse_box(loc.lon, loc.lat, loc.semi_major_m)))
        return int(got[0])
