"""The audit log's table (migration ``0003_audit_log``): its SQL, per dialect, and its rows.

Entry ``idx`` of ``audit_log`` is leaf ``idx`` of the log's Merkle tree; rows are only ever
inserted (the migration's triggers refuse ``UPDATE`` and ``DELETE``). Rows come back as
:class:`~linewatch.audit.StoredEntry` values, their text columns read as the bytes stored, so
that a byte changed into invalid UTF-8 is reported by the check, not raised.

``AuditTables(store)`` works on any :class:`~linewatch.store.base.Store` (``conn``,
``dialect``, ``where``, ``transaction()`` and its named locks); the log as a service is
:class:`linewatch.services.audit.AuditLog`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from linewatch.audit import HASH_SIZE, AuditEntry, StoredEntry
from linewatch.errors import StoreError
from linewatch.model import utc_iso

if TYPE_CHECKING:
    from linewatch.store.base import Store

#: entry type -> the table (with columns ``id`` and ``data``) whose rows the log holds
SYNCED_TABLES = {"record": "records", "allegation": "allegations", "review": "review_events",
                 "comment": "review_comments"}
COLUMNS = "idx, entry_type, subject_id, payload, supersedes, appended_at, key_id, signature, leaf_hash"
_TEXT_COLUMNS = {1: "entry_type", 2: "subject_id", 5: "appended_at", 6: "key_id", 7: "signature"}

__all__ = ["COLUMNS", "SYNCED_TABLES", "AuditTables", "blob", "decode_row", "stored_entry"]


def blob(value: Any) -> bytes:
    """A BLOB column as bytes, even if someone stored text or a number in it."""
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def stored_entry(row: Sequence[Any]) -> StoredEntry:
    """A row of :data:`COLUMNS` (text columns as text) as a value."""
    idx, etype, subject, payload, supersedes, at, kid, sig, leaf = row
    return StoredEntry(idx, etype, subject, blob(payload), supersedes, at, kid, sig, blob(leaf))


def decode_row(raw: Sequence[Any]) -> tuple[StoredEntry, str | None]:
    """A row with its text columns read as bytes, decoded; and the name of the first text
    column that is not UTF-8 (decoded with replacement characters, to name the entry)."""
    row, bad = list(raw), None
    for i, name in _TEXT_COLUMNS.items():
        if isinstance(row[i], bytes):
            try:
                row[i] = row[i].decode("utf-8")
            except UnicodeDecodeError:
                row[i] = row[i].decode("utf-8", errors="replace")
                bad = bad or name
    return stored_entry(row), bad


def _as_bytes(dialect: str, expr: str) -> str:
    """A text column as its stored bytes. SQLite keeps whatever bytes were written (even text
    that is not UTF-8, which the check must see); PostgreSQL's text is always valid UTF-8."""
    return f"CAST({expr} AS BLOB)" if dialect == "sqlite" else expr


class AuditTables:
    """The SQL of the audit log on one store. ``c`` is the connection of an open transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def conn(self) -> Any:
        return self.store.conn

    @property
    def dialect(self) -> str:
        return self.store.dialect

    def lock(self, c: Any, name: str) -> None:
        """Hold the store's named lock (``audit_log``, ``records``) until the transaction ends."""
        self.store._lock(c, name)

    # -- writing ----------------------------------------------------------------------------
    def next_index(self, c: Any = None) -> int:
        """The index the next entry gets (the log's size)."""
        conn = self.conn if c is None else c
        return int(conn.execute("SELECT coalesce(max(idx) + 1, 0) FROM audit_log").fetchone()[0])

    def insert(self, c: Any, entries: Sequence[tuple[AuditEntry, bytes]]) -> None:
        """Insert ``(entry, payload)`` rows; the caller holds the ``audit_log`` lock."""
        rows = [(e.index, e.entry_type, e.subject_id, payload, e.supersedes,
                 utc_iso(e.appended_at, timespec="microseconds"), e.key_id,
                 e.signature.hex() if e.signature is not None else None, e.leaf_hash)
                for e, payload in entries]
        c.executemany(f"INSERT INTO audit_log ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    @staticmethod
    def type_of(c: Any, idx: int) -> str | None:
        """The type of entry ``idx``, or ``None`` if there is none."""
        row = c.execute("SELECT entry_type FROM audit_log WHERE idx = ?", (idx,)).fetchone()
        return None if row is None else str(row[0])

    # -- the tables the log holds ------------------------------------------------------------
    def synced_tables(self) -> list[tuple[str, str, bool]]:
        """(entry type, table, has a supersedes column) for the synced tables that exist."""
        out = []
        for etype, table in SYNCED_TABLES.items():
            cols = {d[0] for d in self.conn.execute(f"SELECT * FROM {table} LIMIT 0").description}
            if {"id", "data"} <= cols:
                out.append((etype, table, "supersedes" in cols))
        return out

    @staticmethod
    def last_logged_rowid(c: Any, etype: str, table: str) -> int:
        """The row id in ``table`` of the last row logged (rows are logged in row id order), or 0."""
        got = c.execute(f"SELECT r.rowid FROM {table} r WHERE r.id = (SELECT subject_id FROM audit_log "
                        f"WHERE entry_type = ? ORDER BY idx DESC LIMIT 1)", (etype,)).fetchone()
        return int(got[0]) if got else 0

    def unlogged_rows(self, c: Any, etype: str, table: str, has_supersedes: bool,
                      after: int) -> list[tuple[Any, Any, Any]]:
        """``(id, data, id it supersedes)`` of the rows after row id ``after`` not yet logged, in order."""
        sup = "r.supersedes" if has_supersedes else "NULL"
        by_type = "+a.entry_type" if self.dialect == "sqlite" else "a.entry_type"  # by subject, not type
        return list(c.execute(
            f"SELECT r.id, r.data, {sup} FROM {table} r WHERE r.rowid > ? AND NOT EXISTS "
            f"(SELECT 1 FROM audit_log a WHERE a.subject_id = r.id AND {by_type} = ?) "
            f"ORDER BY r.rowid", (after, etype)).fetchall())

    @staticmethod
    def logged_subjects(c: Any, etype: str) -> set[str]:
        """The subject ids logged as ``etype``."""
        return {str(r[0]) for r in c.execute("SELECT DISTINCT subject_id FROM audit_log WHERE entry_type = ?",
                                             (etype,))}

    def latest_by_subject(self, etype: str, *, payloads: bool = True) -> dict[str, tuple[int, bytes | None]]:
        """``subject id -> (index, payload)`` of the newest ``etype`` entry about each subject
        (``payload`` None unless ``payloads``), ids decoded with replacement characters."""
        sel = "a.payload" if payloads else "NULL"
        rows = self.conn.execute(
            f"SELECT {self._bytes('m.subject_id')}, m.idx, {sel} FROM (SELECT subject_id, max(idx) AS idx "
            f"FROM audit_log WHERE entry_type = ? GROUP BY subject_id) m JOIN audit_log a ON a.idx = m.idx",
            (etype,))
        return {blob(s).decode("utf-8", errors="replace"): (int(i), None if p is None else blob(p))
                for s, i, p in rows}

    @staticmethod
    def latest_index(c: Any, etype: str, subject_id: str) -> int | None:
        """The index of the newest entry of ``etype`` about ``subject_id``."""
        got = c.execute("SELECT max(idx) FROM audit_log WHERE entry_type = ? AND subject_id = ?",
                        (etype, subject_id)).fetchone()[0]
        return None if got is None else int(got)

    # -- reading ----------------------------------------------------------------------------
    def entry(self, index: int) -> StoredEntry | None:
        row = self.conn.execute(f"SELECT {COLUMNS} FROM audit_log WHERE idx = ?", (index,)).fetchone()
        return None if row is None else stored_entry(row)

    def payload(self, index: int) -> bytes | None:
        row = self.conn.execute("SELECT payload FROM audit_log WHERE idx = ?", (index,)).fetchone()
        return None if row is None else bytes(row[0])

    def latest(self, subject_id: str, entry_type: str | None = None) -> StoredEntry | None:
        """The newest entry about ``subject_id`` (of ``entry_type``), or ``None``."""
        sql, args = f"SELECT {COLUMNS} FROM audit_log WHERE subject_id = ?", [subject_id]
        if entry_type is not None:
            sql += " AND entry_type = ?"
            args.append(entry_type)
        row = self.conn.execute(sql + " ORDER BY idx DESC LIMIT 1", args).fetchone()
        return None if row is None else stored_entry(row)

    def entries(self, *, subject_id: str | None = None, entry_type: str | None = None) -> list[StoredEntry]:
        where, args = [], []
        for col, value in (("subject_id", subject_id), ("entry_type", entry_type)):
            if value is not None:
                where.append(f"{col} = ?")
                args.append(value)
        sql = f"SELECT {COLUMNS} FROM audit_log" + (" WHERE " + " AND ".join(where) if where else "")
        return [stored_entry(r) for r in self.conn.execute(sql + " ORDER BY idx", args)]

    def leaves(self, n: int) -> bytes:
        """The stored leaf hashes of entries ``0 .. n-1``, packed; :class:`StoreError` if any is missing."""
        packed = b"".join(r[0] for r in self.conn.execute(
            "SELECT leaf_hash FROM audit_log WHERE idx < ? ORDER BY idx", (n,)))
        if len(packed) != n * HASH_SIZE:
            raise StoreError(f"{self.store.where}: audit_log has {len(packed) // HASH_SIZE} leaves "
                             f"below index {n}, expected {n} (run linewatch audit verify)")
        return packed

    def tree_head_payloads(self) -> list[tuple[int, bytes]]:
        """``(index, payload)`` of every ``tree_head`` entry, in order."""
        rows = self.conn.execute("SELECT idx, payload FROM audit_log WHERE entry_type = 'tree_head' ORDER BY idx")
        return [(int(i), blob(p)) for i, p in rows]

    def scan(self) -> Iterator[tuple[StoredEntry, str | None]]:
        """Every row in index order, text columns as stored (see :func:`decode_row`)."""
        b = self._bytes
        sql = (f"SELECT idx, {b('entry_type')}, {b('subject_id')}, payload, supersedes, "
               f"{b('appended_at')}, {b('key_id')}, {b('signature')}, leaf_hash FROM audit_log ORDER BY idx")
        for raw in self.conn.execute(sql):
            yield decode_row(raw)

    def _bytes(self, expr: str) -> str:
        return _as_bytes(self.dialect, expr)

    def table_vs_log(self, etype: str, table: str) -> Iterator[tuple[str, bytes, int | None, bytes | None]]:
        """``(id, data, index, payload)`` for every row of ``table``: its newest logged entry's
        index and payload (``None`` if not logged), ids decoded with replacement characters."""
        b = self._bytes
        rows = self.conn.execute(
            f"SELECT {b('r.id')}, {b('r.data')}, m.idx, a.payload FROM {table} r "
            f"LEFT JOIN (SELECT subject_id, max(idx) AS idx FROM audit_log WHERE entry_type = ? "
            f"GROUP BY subject_id) m ON m.subject_id = r.id LEFT JOIN audit_log a ON a.idx = m.idx "
            f"ORDER BY m.idx", (etype,))
        for rid, data, idx, payload in rows:
            yield (blob(rid).decode("utf-8", errors="replace"), blob(data), idx,
                   None if payload is None else blob(payload))

    def logged_not_in_table(self, etype: str, table: str) -> Iterator[tuple[str, int]]:
        """``(id, newest index)`` of the subjects logged as ``etype`` that are missing from ``table``."""
        for rid, idx in self.conn.execute(
                f"SELECT {self._bytes('subject_id')}, max(idx) FROM audit_log WHERE entry_type = ? AND "
                f"subject_id NOT IN (SELECT id FROM {table}) GROUP BY subject_id", (etype,)):
            yield blob(rid).decode("utf-8", errors="replace"), int(idx)
