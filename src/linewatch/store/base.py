"""What every store does, in SQL that SQLite and PostgreSQL both speak.

Records are stored as their canonical JSON plus indexed columns: time, kind, a point and a
spatial index over the bounding box of each record's 95 % ellipse (an R*Tree in SQLite, a GiST
index on a PostGIS box in PostgreSQL). Every write runs in a transaction; ingest commits in
chunks, and inserts are keyed by record id (``ON CONFLICT DO NOTHING``), so a process killed
mid-ingest leaves a consistent database, a re-run completes it exactly once, and several
processes writing at once neither lose nor duplicate a record.

The store takes and returns domain objects (a :class:`~linewatch.model.Report`, a
:class:`~linewatch.formats.records.Rejected`, a :class:`~linewatch.verification.Verification`);
the tables are grouped by what they hold (:mod:`~linewatch.store.record_tables`,
:mod:`~linewatch.store.run_tables`, :mod:`~linewatch.store.detection_tables`,
:mod:`~linewatch.store.queue_tables`, :mod:`~linewatch.store.service_tables`).

A dialect (:class:`~linewatch.store.sqlite.SQLiteStore`,
:class:`~linewatch.store.postgres.PostgresStore`) supplies the connection, ``transaction()``,
the migrations and the few statements that differ (see ``_insert_record`` and ``_lock``).
Statements use ``?`` placeholders; the PostgreSQL connection translates them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from linewatch.errors import StoreError
from linewatch.model import Location
from linewatch.store.detection_tables import DetectionTables
from linewatch.store.queue_tables import QueueTables
from linewatch.store.record_tables import AddResult, QuarantineRow, RecordTables, ellipse_box
from linewatch.store.review_tables import ReviewTables
from linewatch.store.run_tables import AllegationRun, RunTables, VerificationRun
from linewatch.store.service_tables import ServiceTables

__all__ = ["AddResult", "AllegationRun", "QuarantineRow", "Store", "VerificationRun", "ellipse_box"]


class Store(RecordTables, RunTables, ServiceTables, ReviewTables, DetectionTables, QueueTables, ABC):
    """The store interface. Open one with :func:`linewatch.store.open_store`."""

    #: ``"sqlite"`` or ``"postgresql"``
    dialect: str = ""
    #: where it is, for messages (a path, or a URL without its password)
    where: str = ""
    conn: Any

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    #: how a write transaction starts
    _BEGIN = "BEGIN"

    @abstractmethod
    def _errors(self) -> tuple[type[BaseException], ...]:
        """The database driver's error classes."""

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A write transaction (``COMMIT`` at the end, ``ROLLBACK`` on an exception). Inside an
        open transaction it joins that one: the outermost commits, or rolls everything back."""
        if self.conn.in_transaction:
            yield self.conn
            return
        try:
            self.conn.execute(self._BEGIN)
        except self._errors() as exc:
            raise StoreError(f"{self.where}: cannot start a write: {exc}") from exc
        try:
            yield self.conn
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    def _lock(self, c, name: str, *, shared: bool = False) -> None:
        """Hold the named lock until the transaction ends (SQLite's single writer already does)."""

    def serialize_writes(self, c) -> None:
        """For a transaction that writes records and then logs them in the audit log: take the
        records lock exclusively now, before any write takes it shared (PostgreSQL)."""
        self._lock(c, "records")

    @abstractmethod
    def _insert_record(self, c, row: tuple, loc) -> int | None:
        """Insert one record row unless its id is stored; its new row id, else None."""

    def _insert_records(self, c, items: Sequence[tuple[tuple, Location]]) -> list[bool]:
        """Insert ``(row, location)`` items in order; whether each was new."""
        return [self._insert_record(c, row, loc) is not None for row, loc in items]

    def _insert_many(self, c, sql: str, rows: Sequence[Sequence[Any]]) -> list[bool]:
        """Run ``INSERT ... ON CONFLICT DO NOTHING RETURNING ...`` for each row, in order;
        whether each inserted a row."""
        return [c.execute(sql, row).fetchone() is not None for row in rows]
