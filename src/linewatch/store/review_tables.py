"""The review of records and allegations: each version's state now, the moves that led there,
the comment thread, and the versions of a record (docs/review.md).

``review`` holds one row per version (and per allegation): its state now, derived from
``review_events``; each event and each comment is a row of its own, never changed, and logged
in the audit log as its ``review`` or ``comment`` entry (``linewatch.services.audit`` syncs
them like records). A version's author is the user who submitted its ingest batch.

:class:`ReviewTables` is mixed into :class:`~linewatch.store.base.Store`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from linewatch.errors import NotFound
from linewatch.formats.canonical import stored_json
from linewatch.store.service_tables import in_parts, record_filter
from linewatch.store.tables import Tables

__all__ = ["QueueRow", "ReviewRow", "ReviewTables"]


@dataclass(frozen=True)
class ReviewRow:
    """Where one version (or allegation) stands: its state, when and by whom it last moved
    (None: it has not moved since it entered), how many moves it made."""

    kind: str
    id: str
    state: str
    updated_at: str
    updated_by: str | None
    n_events: int


@dataclass(frozen=True)
class QueueRow:
    """A current version in the review queue: the record, its state, its author, and the sector
    its latest verification placed it in."""

    time_s: float
    id: str
    data: dict
    state: str
    updated_at: str
    updated_by: str | None
    author: str | None
    sector: str | None = None


class ReviewTables(Tables):
    # -- states -------------------------------------------------------------------------------
    def review_of(self, kind: str, subject_id: str) -> ReviewRow:
        row = self.conn.execute("SELECT subject_kind, subject_id, state, updated_at, updated_by, n_events "
                                "FROM review WHERE subject_kind = ? AND subject_id = ?", (kind, subject_id)).fetchone()
        if row is None:
            raise NotFound(kind, subject_id)
        return ReviewRow(*row)

    def review_states(self, kind: str, ids: Sequence[str]) -> dict[str, ReviewRow]:
        """The review rows of ``ids`` (those that have one)."""
        rows = self._by_ids("SELECT subject_kind, subject_id, state, updated_at, updated_by, n_events FROM review "
                            "WHERE subject_kind = ? AND subject_id IN ({marks})", ids, first=[kind])
        return {row[1]: ReviewRow(*row) for row in rows}

    def move_review(self, c: Any, kind: str, subject_id: str, *, was: str, to: str, actor: str,
                    note: str | None, at: str, authors: Sequence[str] | None = None) -> dict[str, Any]:
        """Record the move of a version from ``was`` to ``to`` inside the transaction ``c``: a new
        event row (its id ``KIND:ID@N``) and the state now; the event as logged. An approval
        names the ``authors`` it was checked against (four eyes), so the log shows it."""
        row = c.execute("SELECT state, n_events FROM review WHERE subject_kind = ? AND subject_id = ?",
                        (kind, subject_id)).fetchone()
        if row is None:
            raise NotFound(kind, subject_id)
        if row[0] != was:    # another reviewer moved it since it was read
            raise ValueError(f"{kind} {subject_id!r} is {row[0]} now, not {was}")
        n = int(row[1]) + 1
        event = {"kind": kind, "subject": subject_id, "from": was, "to": to, "by": actor, "at": at,
                 "n": n, **({"note": note} if note else {}),
                 **({"authors": sorted(authors)} if authors is not None else {})}
        c.execute("INSERT INTO review_events (id, subject_kind, subject_id, state, actor, at, data) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?)", (f"{kind}:{subject_id}@{n}", kind, subject_id, to, actor, at,
                                                   stored_json(event)))
        c.execute("UPDATE review SET state = ?, updated_at = ?, updated_by = ?, n_events = ? "
                  "WHERE subject_kind = ? AND subject_id = ?", (to, at, actor, n, kind, subject_id))
        return event

    def _by_ids(self, sql: str, ids: Sequence[str], *, first: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of ``sql`` (``{marks}`` where the ids go, after the arguments ``first``) for
        ``ids``, read in parts."""
        out: list[tuple[Any, ...]] = []
        for marks, part in in_parts(list(ids)):
            out += self.conn.execute(sql.format(marks=marks), [*first, *part]).fetchall()
        return out

    def _pairs(self, sql: str, ids: Sequence[str]) -> dict[str, Any]:
        """``first column -> second`` of the rows of ``sql`` for ``ids``."""
        return {str(a): (None if b is None else str(b)) for a, b in self._by_ids(sql, ids)}

    def _thread(self, table: str, kind: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        rows = self._by_ids(f"SELECT rowid, data FROM {table} WHERE subject_kind = ? AND subject_id IN ({{marks}})",
                            ids, first=[kind])
        return [json.loads(data) for _, data in sorted(rows, key=lambda r: r[0])]

    def review_events(self, kind: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The moves of ``ids``, oldest first."""
        return self._thread("review_events", kind, ids)

    # -- comments -----------------------------------------------------------------------------
    def add_comment(self, c: Any, kind: str, subject_id: str, *, author: str, text: str, at: str) -> dict[str, Any]:
        """A comment on a version, inside the transaction ``c``; as logged."""
        n = int(c.execute("SELECT count(*) FROM review_comments WHERE subject_kind = ? AND subject_id = ?",
                          (kind, subject_id)).fetchone()[0]) + 1
        comment = {"kind": kind, "subject": subject_id, "by": author, "at": at, "n": n, "text": text}
        c.execute("INSERT INTO review_comments (id, subject_kind, subject_id, author, at, data) "
                  "VALUES (?, ?, ?, ?, ?, ?)", (f"{kind}:{subject_id}#{n}", kind, subject_id, author, at,
                                                stored_json(comment)))
        return comment

    def comments(self, kind: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The comments on ``ids``, oldest first."""
        return self._thread("review_comments", kind, ids)

    # -- versions -----------------------------------------------------------------------------
    def version_chain(self, record_id: str) -> list[str]:
        """The ids of every version of the record ``record_id`` is a version of, oldest first."""
        if self.conn.execute("SELECT 1 FROM records WHERE id = ?", (record_id,)).fetchone() is None:
            raise NotFound("record", record_id)
        chain = [record_id]
        while True:     # back to the first version
            got = self.conn.execute("SELECT supersedes FROM records WHERE id = ?", (chain[0],)).fetchone()
            if got is None or got[0] is None or got[0] in chain:
                break
            chain.insert(0, str(got[0]))
        while True:     # on to the current one
            got = self.conn.execute("SELECT id FROM records WHERE supersedes = ?", (chain[-1],)).fetchone()
            if got is None or got[0] in chain:
                break
            chain.append(str(got[0]))
        return chain

    def superseded_by(self, ids: Sequence[str]) -> dict[str, str]:
        """``old id -> id of the version that corrects it`` for those of ``ids`` a version corrects."""
        return self._pairs("SELECT supersedes, id FROM records WHERE supersedes IN ({marks})", ids)

    def allegations_superseded_by(self, ids: Sequence[str]) -> dict[str, str]:
        """``old id -> id of the allegation that corrects it`` for those of ``ids`` one corrects."""
        return self._pairs("SELECT supersedes, id FROM allegations WHERE supersedes IN ({marks})", ids)

    def authors(self, ids: Sequence[str]) -> dict[str, str | None]:
        """Who submitted each version (None: a file ingested without a user)."""
        return self._pairs("SELECT r.id, b.submitted_by FROM records r LEFT JOIN ingest_batches b "
                           "ON b.id = r.batch_id WHERE r.id IN ({marks})", ids)

    def allegation_authors(self, ids: Sequence[str]) -> dict[str, str | None]:
        """Who submitted each allegation (None: a file ingested without a user)."""
        return self._pairs("SELECT a.id, b.submitted_by FROM allegations a LEFT JOIN ingest_batches b "
                           "ON b.id = a.batch_id WHERE a.id IN ({marks})", ids)

    def record_ingested_at(self, record_id: str) -> str:
        row = self.conn.execute("SELECT ingested_at FROM records WHERE id = ?", (record_id,)).fetchone()
        if row is None:
            raise NotFound("record", record_id)
        return str(row[0])

    # -- the queue ----------------------------------------------------------------------------
    def review_queue(self, *, states: Sequence[str] | None = None, kinds: Sequence[str] | None = None,
                     source_kinds: Sequence[str] | None = None, start: datetime | None = None,
                     end: datetime | None = None, text: str | None = None, author: str | None = None,
                     sectors: Sequence[str] | None = None, after: tuple[float, str] | None = None,
                     limit: int = 100) -> list[QueueRow]:
        """Current versions by (time, id) after the keyset ``after``: in ``states``, of ``kinds``
        and ``source_kinds``, in ``[start, end)``, whose content holds ``text`` (any case), by
        ``author``, placed in ``sectors`` by their latest verification."""
        join, where, args = record_filter(start=start, end=end, dialect=self.dialect, within=(
            ("r.kind", kinds), ("r.source_kind", source_kinds), ("v.state", states)))
        # SQLite keeps the join order it is given with CROSS JOIN: from the records in page order
        # when the states asked for are common (a page is found at once), from the review rows
        # when they are rare (a few to sort, not every record read to find them)
        pair = ("CROSS JOIN" if self.dialect == "sqlite" and self._common_states(states) else "JOIN")
        sector = ("(SELECT p.sector FROM placements p WHERE p.record_id = r.id ORDER BY p.run_id DESC LIMIT 1)")
        sql = (f"SELECT r.time_s, r.id, r.data, v.state, v.updated_at, v.updated_by, b.submitted_by, {sector} "
               f"FROM records r {pair} review v ON v.subject_kind = 'record' AND v.subject_id = r.id "
               "LEFT JOIN ingest_batches b ON b.id = r.batch_id" + join)
        if text:
            where.append("lower(r.data) LIKE ?")
            args.append("%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
            where[-1] += " ESCAPE '\\'"
        if author is not None:
            where.append("b.submitted_by = ?")
            args.append(author)
        if sectors:
            where.append("EXISTS (SELECT 1 FROM placements p WHERE p.record_id = r.id AND p.run_id = "
                         "(SELECT max(q.run_id) FROM placements q WHERE q.record_id = r.id) "
                         f"AND p.sector IN ({','.join('?' * len(sectors))}))")
            args += list(sectors)
        if after is not None:
            where.append("(r.time_s > ? OR (r.time_s = ? AND r.id > ?))")
            args += [after[0], after[0], after[1]]
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY r.time_s, r.id LIMIT ?"
        args.append(int(limit))
        return [QueueRow(t, rid, json.loads(data), state, at, by, who, sec)
                for t, rid, data, state, at, by, who, sec in self.conn.execute(sql, args).fetchall()]

    #: a state filter that selects more than this share of the versions is "common"
    _COMMON_SHARE = 0.02

    def _common_states(self, states: Sequence[str] | None) -> bool:
        """Whether the versions in ``states`` (None: any) are more than a small share of the
        records (the last row id, a bound on their number): counted over the ``review_state``
        index only as far as that share, so the answer costs little either way."""
        if not states:
            return True
        total = self.conn.execute("SELECT coalesce(max(rowid), 0) FROM records").fetchone()[0]
        enough = int(self._COMMON_SHARE * total) + 1
        marks = ",".join("?" * len(states))
        n = self.conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM review WHERE subject_kind = 'record' "
                              f"AND state IN ({marks}) LIMIT ?)", [*states, enough]).fetchone()[0]
        return bool(n >= enough)

    def review_counts(self, *, start: datetime | None = None, end: datetime | None = None) -> dict[str, int]:
        """How many current versions in ``[start, end)`` are in each state."""
        join, where, args = record_filter(start=start, end=end, dialect=self.dialect)
        sql = ("SELECT v.state, count(*) FROM records r JOIN review v ON v.subject_kind = 'record' "
               "AND v.subject_id = r.id" + join + (" WHERE " + " AND ".join(where) if where else "")
               + " GROUP BY v.state")
        return {str(s): int(n) for s, n in self.conn.execute(sql, args)}

    def approvals(self, ids: Sequence[str]) -> dict[str, str]:
        """``id -> who approved it`` for the versions of ``ids`` that were approved."""
        return self._pairs("SELECT subject_id, actor FROM review_events WHERE subject_kind = 'record' "
                           "AND state = 'approved' AND subject_id IN ({marks})", ids)

    def iter_review_events(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every event (its id and content), in the order they were made."""
        for rid, data in self.conn.execute("SELECT id, data FROM review_events ORDER BY rowid"):
            yield str(rid), json.loads(data)
