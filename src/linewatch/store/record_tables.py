"""Records and the quarantine: what goes in as a :class:`Report` comes back out as one.

The store keeps each record as its canonical JSON (``linewatch.formats.records.record_to_dict``)
plus the columns its queries filter on (time, kind, point, the box of the 95 % ellipse). A
record is validated once, when it is read at the edge; the store rebuilds it from its trusted
canonical form (:func:`linewatch.formats.canonical.record_from_canonical`) without validating
it again. A bad input row never reaches a table of records: it is quarantined as a
:class:`~linewatch.formats.records.Rejected`, with its file, line, field and reason.

:class:`RecordTables` is mixed into :class:`~linewatch.store.base.Store`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from linewatch.errors import StoreError
from linewatch.formats.canonical import content_hash, record_from_canonical, stored_json
from linewatch.formats.lines import MAX_EXCERPT_CHARS
from linewatch.formats.records import Rejected, record_to_dict
from linewatch.model import Report
from linewatch.store.service_tables import _now, record_filter
from linewatch.store.tables import Tables

__all__ = ["AddResult", "QuarantineRow", "RecordTables", "ellipse_box"]

_M_PER_DEG_LAT = 111_320.0


@dataclass(frozen=True)
class QuarantineRow:
    """One quarantined row. ``raw`` is an excerpt (the first 1,000 characters and "…");
    ``raw_sha256`` and ``raw_size`` (UTF-8 bytes) are of the whole raw text (None for rows
    quarantined before migration 0009, which kept all of it)."""

    id: int
    file: str
    line: int | None
    field: str | None
    reason: str
    raw: str
    quarantined_at: str
    raw_sha256: str | None = None
    raw_size: int | None = None


@dataclass(frozen=True)
class AddResult:
    """What a write did: rows added, duplicates skipped, and conflicts: an id stored before
    with other content (quarantined, as these rows)."""

    added: int = 0
    duplicate: int = 0
    conflicts: tuple[Rejected, ...] = ()


def ellipse_box(lon: float, lat: float, semi_major_m: float) -> tuple[float, float, float, float]:
    """(min lon, max lon, min lat, max lat) of a box holding the 95 % ellipse."""
    dlat = semi_major_m / _M_PER_DEG_LAT
    dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
    return lon - dlon, lon + dlon, lat - dlat, lat + dlat


def _nul(v: Any) -> Any:
    """A NUL character (which PostgreSQL's text cannot hold) kept as U+2400 ␀ in both stores."""
    return v.replace("\x00", "\u2400") if isinstance(v, str) else v


class RecordTables(Tables):
    # -- ingest -------------------------------------------------------------------------------
    def begin_batch(self, file: str, file_sha256: str, fmt: str, *,
                    submitted_by: str | None = None) -> int:
        with self.transaction() as c:
            cur = c.execute("INSERT INTO ingest_batches (file, file_sha256, format, started_at, "
                            "submitted_by) VALUES (?, ?, ?, ?, ?) RETURNING id",
                            (file, file_sha256, fmt, _now(), submitted_by))
            return int(cur.fetchone()[0])

    def finish_batch(self, batch_id: int, *, file_sha256: str | None = None) -> None:
        """Close a batch: its counts, and the file's SHA-256 when it was known only at the end."""
        with self.transaction() as c:
            c.execute("""UPDATE ingest_batches SET finished_at = ?,
                         n_added = (SELECT count(*) FROM records WHERE batch_id = ?),
                         n_quarantined = (SELECT count(*) FROM quarantine WHERE batch_id = ?),
                         file_sha256 = coalesce(?, file_sha256)
                         WHERE id = ?""", (_now(), batch_id, batch_id, file_sha256, batch_id))

    def add_records(self, reports: Sequence[Report], rejected: Sequence[Rejected] = (), *,
                    batch_id: int | None, file_sha256: str | None,
                    source: str | None = None) -> AddResult:
        """Insert records and quarantine rows in one transaction (joining an open one).

        A record whose id is already stored with the same content is a duplicate (skipped);
        with different content it is a conflict, returned, and quarantined with the rejected
        rows under ``file_sha256`` (None: the caller quarantines them later, when it knows the
        file's hash). A correction (``supersedes``) must name a stored version that no other
        version supersedes yet (no forks); otherwise it is a conflict too. Each new version
        enters review in its entry state (:func:`linewatch.review.entry_state`). Each record
        keeps the file and line of its provenance (``source`` for records linewatch made itself).
        """
        now = _now()
        with self.transaction() as c:
            self._lock(c, "records", shared=True)
            firsts = [r for r in reports if r.supersedes is None]
            added, dup, bad = self._insert_versions(c, firsts, batch_id, source, now)
            for r in (r for r in reports if r.supersedes is not None):   # in order: v2 before v3
                problem = self._correction_problem(c, r)
                if problem is None:
                    a, d, b = self._insert_versions(c, [r], batch_id, source, now)
                    added, dup, bad = added + a, dup + d, bad + b
                elif self._stored_hash(c, r.id) == content_hash(record_to_dict(r)):
                    dup += 1       # this very correction was stored before: a re-run
                else:
                    bad.append(Rejected(r.provenance.file or source or "", r.provenance.line, "supersedes",
                                        problem, json.dumps(record_to_dict(r))))
            if file_sha256 is not None:
                self.quarantine(c, [*rejected, *bad], file_sha256=file_sha256, batch_id=batch_id, now=now)
            elif rejected:
                raise ValueError("rejected rows need the file's SHA-256")
        return AddResult(added, dup, tuple(bad))

    @staticmethod
    def _stored_hash(c: Any, record_id: str) -> str | None:
        got = c.execute("SELECT content_hash FROM records WHERE id = ?", (record_id,)).fetchone()
        return None if got is None else str(got[0])

    @staticmethod
    def _correction_problem(c: Any, r: Report) -> str | None:
        """Why ``r`` cannot be stored as a correction now (None: it can)."""
        target = r.supersedes
        if c.execute("SELECT 1 FROM records WHERE id = ?", (target,)).fetchone() is None:
            return f"record {r.id!r} corrects {target!r}, which is not stored"
        by = c.execute("SELECT id FROM records WHERE supersedes = ?", (target,)).fetchone()
        if by is not None and by[0] != r.id:
            return (f"record {r.id!r} corrects {target!r}, which {by[0]!r} already corrects (a fork): "
                    f"correct the current version {by[0]!r} instead")
        return None

    def _insert_versions(self, c: Any, reports: Sequence[Report], batch_id: int | None, source: str | None,
                         now: str) -> tuple[int, int, list[Rejected]]:
        """Insert versions, each with its review row; (added, duplicates, conflicts)."""
        from linewatch.review import entry_state
        data = [record_to_dict(r) for r in reports]
        hashes = [content_hash(d) for d in data]
        items = [((r.id, r.kind.value, r.time.isoformat(), r.time.timestamp(), r.location.lon,
                   r.location.lat, r.provenance.source_kind.value, r.provenance.source_id, h,
                   stored_json(d), r.provenance.file or source, r.provenance.line, batch_id, now, r.supersedes),
                  r.location) for r, d, h in zip(reports, data, hashes)]
        added = dup = 0
        bad: list[Rejected] = []
        entered: list[tuple[str, str, str, str]] = []
        for r, d, h, inserted in zip(reports, data, hashes, self._insert_records(c, items)):
            if inserted:
                added += 1
                entered.append(("record", r.id, entry_state(r.provenance.source_kind.value).value, now))
            elif self._stored_hash(c, r.id) == h:
                dup += 1
            else:
                bad.append(Rejected(r.provenance.file or source or "", r.provenance.line, "id",
                                    f"record id {r.id!r} is already stored with different content; a "
                                    "correction needs a new id and 'supersedes' naming the version it "
                                    "replaces", json.dumps(d)))
        for k in range(0, len(entered), 500):     # one statement per 500 rows: one round trip, one parse
            part = entered[k:k + 500]
            c.execute("INSERT INTO review (subject_kind, subject_id, state, updated_at) VALUES "
                      + ", ".join(["(?, ?, ?, ?)"] * len(part)) + " ON CONFLICT DO NOTHING",
                      [v for row in part for v in row])
        return added, dup, bad

    def quarantine(self, c: Any, rows: Iterable[Rejected], *, file_sha256: str, batch_id: int | None,
                   now: str) -> None:
        """Quarantine rows, each once, inside the transaction ``c``: each with its bounded excerpt
        and reason, and the SHA-256 and size of its whole raw text (:class:`Rejected` bounds them)."""
        c.executemany(
            "INSERT INTO quarantine (file, file_sha256, line, field, reason, raw, raw_sha256, raw_size, "
            "batch_id, quarantined_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(_nul(r.file), file_sha256, r.line, _nul(r.field), _nul(r.reason), _nul(r.raw), r.raw_sha256,
              r.raw_size, batch_id, now) for r in rows])

    def add_rejected(self, rejected: Sequence[Rejected], *, file_sha256: str,
                     batch_id: int | None = None) -> None:
        """Quarantine rows in a transaction of their own (rows of a sensors or detections file)."""
        if rejected:
            with self.transaction() as c:
                self.quarantine(c, rejected, file_sha256=file_sha256, batch_id=batch_id, now=_now())

    # -- reading ------------------------------------------------------------------------------
    def count_records(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM records").fetchone()[0])

    def count_quarantine(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM quarantine").fetchone()[0])

    def record_rows(self, *, start: datetime | None = None, end: datetime | None = None,
                    kinds: Iterable[str] | None = None,
                    bbox: tuple[float, float, float, float] | None = None) -> Iterator[dict]:
        """Canonical record dicts in ``[start, end)``, ordered by time then id."""
        for (data,) in self._select("r.data", start=start, end=end, kinds=kinds, bbox=bbox):
            yield json.loads(data)

    def reports(self, *, start: datetime | None = None, end: datetime | None = None,
                kinds: Iterable[str] | None = None,
                bbox: tuple[float, float, float, float] | None = None) -> list[Report]:
        """The records in ``[start, end)`` (of ``kinds``, meeting ``bbox``), by time then id."""
        return [self._read_back(d) for d in self.record_rows(start=start, end=end, kinds=kinds, bbox=bbox)]

    def _read_back(self, data: dict) -> Report:
        """A stored record as a Report; :class:`StoreError` naming it if it cannot be (a record
        stored before its values were bounded, e.g. a count of 2**63): never a crash mid-run."""
        try:
            return record_from_canonical(data)
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise StoreError(f"{self.where}: records row {data.get('id')!r} cannot be read back ({exc}); it "
                             "was stored before its values were bounded (docs/record-formats.md#limits): "
                             "store a corrected version of it") from exc

    def records_digest(self, *, start: datetime | None = None, end: datetime | None = None) -> str:
        """SHA-256 over the ids and content hashes of the records in ``[start, end)``: it changes
        when a record there is added, corrected (superseded) or altered."""
        h = hashlib.sha256()
        for record_id, digest in sorted(self._select("r.id, r.content_hash", start=start, end=end)):
            h.update(f"{record_id}\t{digest}\n".encode())
        return h.hexdigest()

    def _select(self, columns: str, *, start: datetime | None = None, end: datetime | None = None,
                kinds: Iterable[str] | None = None,
                bbox: tuple[float, float, float, float] | None = None) -> Iterator[tuple]:
        kind_list = list(kinds) if kinds is not None else None
        if kind_list is not None and not kind_list:
            return
        join, where, args = record_filter(start=start, end=end, bbox=bbox, dialect=self.dialect,
                                          within=(("r.kind", kind_list),))
        sql = f"SELECT {columns} FROM records r" + join
        if where:
            sql += " WHERE " + " AND ".join(where)
        yield from self.conn.execute(sql + " ORDER BY r.time_s, r.id", args)

    def time_range(self) -> tuple[datetime, datetime] | None:
        row = self.conn.execute("SELECT min(time_s), max(time_s) FROM records").fetchone()
        if row[0] is None:
            return None
        return (datetime.fromtimestamp(row[0], tz=UTC),
                datetime.fromtimestamp(row[1], tz=UTC))

    def quarantine_rows(self, *, limit: int | None = None) -> list[QuarantineRow]:
        """The quarantined rows by file and line; the raw text of a row quarantined before 0009
        is read only as far as an excerpt."""
        sql = (f"SELECT id, file, line, field, reason, substr(raw, 1, {MAX_EXCERPT_CHARS + 1}), quarantined_at, "
               "raw_sha256, raw_size FROM quarantine ORDER BY file, line, id")
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [QuarantineRow(*row) for row in self.conn.execute(sql)]
