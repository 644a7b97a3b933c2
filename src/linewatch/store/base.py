"""What every store does, in SQL that SQLite and PostgreSQL both speak.

Records are stored as their canonical JSON plus indexed columns: time, kind, a point and a
spatial index over the bounding box of each record's 95 % ellipse (an R*Tree in SQLite, a GiST
index on a PostGIS box in PostgreSQL). Every write runs in a transaction; ingest commits in
chunks, and inserts are keyed by record id (``ON CONFLICT DO NOTHING``), so a process killed
mid-ingest leaves a consistent database, a re-run completes it exactly once, and several
processes writing at once neither lose nor duplicate a record.

A dialect (:class:`~linewatch.store.sqlite.SQLiteStore`,
:class:`~linewatch.store.postgres.PostgresStore`) supplies the connection, ``transaction()``,
the migrations and the few statements that differ (see ``_insert_record`` and ``_lock``).
Statements use ``?`` placeholders; the PostgreSQL connection translates them.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from linewatch.errors import StoreError
from linewatch.model import Report
from linewatch.store.detection_tables import DetectionTables
from linewatch.store.queue_tables import QueueTables
from linewatch.store.service_tables import ServiceTables, _now, record_filter

_M_PER_DEG_LAT = 111_320.0


@dataclass(frozen=True)
class StoredRecord:
    """A record as it goes into the store, with where it came from."""

    report: Report
    data: dict
    content_hash: str
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class QuarantineRow:
    id: int
    file: str
    line: int | None
    field: str | None
    reason: str
    raw: str
    quarantined_at: str


@dataclass(frozen=True)
class AddResult:
    added: int = 0
    duplicate: int = 0
    conflicts: tuple[tuple[StoredRecord, str], ...] = ()


def ellipse_box(lon: float, lat: float, semi_major_m: float) -> tuple[float, float, float, float]:
    """(min lon, max lon, min lat, max lat) of a box holding the 95 % ellipse."""
    dlat = semi_major_m / _M_PER_DEG_LAT
    dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
    return lon - dlon, lon + dlon, lat - dlat, lat + dlat


class Store(ServiceTables, DetectionTables, QueueTables, ABC):
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

    def _insert_records(self, c, items: Sequence[tuple[tuple, Any]]) -> list[bool]:
        """Insert ``(row, location)`` items in order; whether each was new."""
        return [self._insert_record(c, row, loc) is not None for row, loc in items]

    def _insert_many(self, c, sql: str, rows: Sequence[Sequence[Any]]) -> list[bool]:
        """Run ``INSERT ... ON CONFLICT DO NOTHING RETURNING ...`` for each row, in order;
        whether each inserted a row."""
        return [c.execute(sql, row).fetchone() is not None for row in rows]

    # -- ingest -------------------------------------------------------------------------------
    def begin_batch(self, file: str, file_sha256: str, fmt: str, *,
                    submitted_by: str | None = None) -> int:
        with self.transaction() as c:
            cur = c.execute("INSERT INTO ingest_batches (file, file_sha256, format, started_at, "
                            "submitted_by) VALUES (?, ?, ?, ?, ?) RETURNING id",
                            (file, file_sha256, fmt, _now(), submitted_by))
            return int(cur.fetchone()[0])

    def finish_batch(self, batch_id: int) -> None:
        with self.transaction() as c:
            c.execute("""UPDATE ingest_batches SET finished_at = ?,
                         n_added = (SELECT count(*) FROM records WHERE batch_id = ?),
                         n_quarantined = (SELECT count(*) FROM quarantine WHERE batch_id = ?)
                         WHERE id = ?""", (_now(), batch_id, batch_id, batch_id))

    def add_chunk(self, records: Sequence[StoredRecord], rejected: Sequence[tuple], *,
                  batch_id: int | None, file_sha256: str) -> AddResult:
        """Insert records and quarantine rows in one transaction.

        A record whose id is already stored with the same content is a duplicate (skipped);
        with different content it is a conflict, returned for the caller to quarantine.
        ``rejected`` rows are ``(file, line, field, reason, raw)``.
        """
        added = dup = 0
        conflicts = []
        now = _now()
        with self.transaction() as c:
            self._lock(c, "records", shared=True)
            items = []
            for rec in records:
                r = rec.report
                loc = r.location
                items.append(((r.id, r.kind.value, r.time.isoformat(), r.time.timestamp(), loc.lon,
                               loc.lat, r.provenance.source_kind.value, r.provenance.source_id,
                               rec.content_hash,
                               json.dumps(rec.data, sort_keys=True, separators=(",", ":")),
                               rec.file, rec.line, batch_id, now), loc))
            for rec, inserted in zip(records, self._insert_records(c, items)):
                if inserted:
                    added += 1
                    continue
                got = c.execute("SELECT content_hash FROM records WHERE id = ?",
                                (rec.report.id,)).fetchone()
                if got[0] == rec.content_hash:
                    dup += 1
                else:
                    conflicts.append((rec, f"record id {rec.report.id!r} is already stored with "
                                           "different content"))
            self._quarantine(c, list(rejected) + [(rec.file, rec.line, "id", why, json.dumps(rec.data))
                                                  for rec, why in conflicts],
                             file_sha256=file_sha256, batch_id=batch_id, now=now)
        return AddResult(added, dup, tuple(conflicts))

    @staticmethod
    def _quarantine(c, rows: Iterable[tuple], *, file_sha256: str, batch_id: int | None,
                    now: str) -> None:
        """Quarantine rows ``(file, line, field, reason, raw)``, each once. A NUL character in
        the text read (which PostgreSQL's text cannot hold) is kept as U+2400 ␀ in both stores."""
        nul = lambda v: v.replace("\x00", "\u2400") if isinstance(v, str) else v  # noqa: E731
        for file, line, field, reason, raw in rows:
            c.execute("INSERT INTO quarantine (file, file_sha256, line, field, reason, raw, batch_id, "
                      "quarantined_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                      (nul(file), file_sha256, line, nul(field), nul(reason), nul(raw), batch_id, now))

    # -- reading ------------------------------------------------------------------------------
    def count_records(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM records").fetchone()[0])

    def count_quarantine(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM quarantine").fetchone()[0])

    def record_rows(self, *, start: datetime | None = None, end: datetime | None = None,
                    kinds: Iterable[str] | None = None,
                    bbox: tuple[float, float, float, float] | None = None) -> Iterator[dict]:
        """Canonical record dicts in ``[start, end)``, ordered by time then id."""
        kinds = list(kinds) if kinds is not None else None
        if kinds is not None and not kinds:
            return
        join, where, args = record_filter(start=start, end=end, bbox=bbox, dialect=self.dialect,
                                          within=(("r.kind", kinds),))
        sql = "SELECT r.data FROM records r" + join
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY r.time_s, r.id"
        for (data,) in self.conn.execute(sql, args):
            yield json.loads(data)

    def time_range(self) -> tuple[datetime, datetime] | None:
        row = self.conn.execute("SELECT min(time_s), max(time_s) FROM records").fetchone()
        if row[0] is None:
            return None
        return (datetime.fromtimestamp(row[0], tz=UTC),
                datetime.fromtimestamp(row[1], tz=UTC))

    def quarantine_rows(self, *, limit: int | None = None) -> list[QuarantineRow]:
        sql = ("SELECT id, file, line, field, reason, raw, quarantined_at FROM quarantine "
               "ORDER BY file, line, id")
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [QuarantineRow(*row) for row in self.conn.execute(sql)]

    # -- agreements and verification ----------------------------------------------------------
    def put_agreement(self, sha256: str, agreement_id: str, version: str, name: str, text: str) -> None:
        with self.transaction() as c:
            c.execute("INSERT INTO agreements (sha256, id, version, name, text, stored_at) "
                      "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                      (sha256, agreement_id, version, name, text, _now()))

    def latest_agreement(self) -> tuple[str, str] | None:
        """(name, text) of the agreement used most recently (by verification, else stored)."""
        row = self.conn.execute(
            "SELECT a.name, a.text FROM agreements a LEFT JOIN verification_runs v "
            "ON v.agreement_sha256 = a.sha256 ORDER BY coalesce(v.id, 0) DESC, a.stored_at DESC "
            "LIMIT 1").fetchone()
        return (row[0], row[1]) if row else None

    def save_verification(self, *, agreement_sha256: str, verification, window_start: datetime | None,
                          window_end: datetime | None) -> int:
        v = verification
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO verification_runs (agreement_sha256, agreement_id, agreement_version, "
                "engine, window_start, window_end, created_at, n_records, n_findings) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (agreement_sha256, v.agreement_id, v.agreement_version, v.engine,
                 window_start.isoformat() if window_start else None,
                 window_end.isoformat() if window_end else None, _now(), len(v.places),
                 len(v.findings)))
            run = int(cur.fetchone()[0])
            c.executemany(
                "INSERT INTO findings (run_id, subject, rule_id, rule_kind, rule_text, verdict, probability, "
                "party, evidence, explanation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(run, f.record_id, f.rule_id, f.rule_kind, f.rule_text, f.verdict.value,
                  f.probability, f.party, json.dumps(list(f.evidence)), f.explanation)
                 for f in v.findings])
            c.executemany(
                "INSERT INTO placements (run_id, record_id, side, distance_to_line_m, sector, data) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(run, p.record_id, p.side, p.distance_to_line_m, p.sector,
                  json.dumps({"side_probability": p.side_probability,
                              "distance_to_reference_m": p.distance_to_reference_m,
                              "zones": p.zones, "rules_in_force": list(p.rules_in_force)},
                             sort_keys=True))
                 for p in v.places])
        return run

    def verification_runs(self) -> list[dict]:
        cols = ["id", "agreement_id", "agreement_version", "engine", "window_start", "window_end",
                "created_at", "n_records", "n_findings"]
        return [dict(zip(cols, row)) for row in self.conn.execute(
            f"SELECT {', '.join(cols)} FROM verification_runs ORDER BY id")]

    def findings(self, run_id: int, *, verdicts: Sequence[str] | None = None) -> list[dict]:
        cols = ["subject", "rule_id", "rule_kind", "rule_text", "verdict", "probability", "party",
                "evidence", "explanation"]
        sql = f"SELECT {', '.join(cols)} FROM findings WHERE run_id = ?"
        args: list = [run_id]
        if verdicts:
            sql += f" AND verdict IN ({','.join('?' * len(verdicts))})"
            args += list(verdicts)
        out = []
        for row in self.conn.execute(sql + " ORDER BY subject, rule_id", args):
            d = dict(zip(cols, row))
            d["evidence"] = json.loads(d["evidence"])
            out.append(d)
        return out

    # -- allegations ---------------------------------------------------------------------------
    def add_allegations(self, rows: Sequence[tuple[dict, str, str | None, int | None]],
                        rejected: Sequence[tuple], *, batch_id: int | None,
                        file_sha256: str) -> AddResult:
        """Insert allegations (canonical dict, content hash, file, line) and quarantine rows in
        one transaction; the same id with the same content is a duplicate, with other content a
        conflict (quarantined: a correction is a new allegation that ``supersedes`` the old)."""
        added = dup = 0
        conflicts: list = []
        now = _now()
        with self.transaction() as c:
            self._lock(c, "records", shared=True)
            for data, digest, file, line in rows:
                cur = c.execute(
                    "INSERT INTO allegations (id, alleging_party, accused_party, kind, start_s, "
                    "end_s, lon, lat, supersedes, content_hash, data, file, line, batch_id, "
                    "ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO NOTHING RETURNING id",
                    (data["id"], data["alleging_party"], data.get("accused_party"), data["kind"],
                     datetime.fromisoformat(data["start"]).timestamp(),
                     datetime.fromisoformat(data["end"]).timestamp(), data["lon"], data["lat"],
                     data.get("supersedes"), digest,
                     json.dumps(data, sort_keys=True, separators=(",", ":")), file, line,
                     batch_id, now))
                if cur.fetchone() is not None:
                    added += 1
                    continue
                row = c.execute("SELECT content_hash FROM allegations WHERE id = ?",
                                (data["id"],)).fetchone()
                if row[0] == digest:
                    dup += 1
                else:
                    conflicts.append(((file, line, "id", f"allegation id {data['id']!r} is "
                                       "already stored with different content; a correction "
                                       "needs a new id and 'supersedes'",
                                       json.dumps(data, sort_keys=True)), None))
            self._quarantine(c, list(rejected) + [q for q, _ in conflicts],
                             file_sha256=file_sha256, batch_id=batch_id, now=now)
        return AddResult(added, dup, tuple(conflicts))

    def allegation_rows(self, *, start: datetime | None = None,
                        end: datetime | None = None) -> list[dict]:
        """Stored allegations whose window meets ``[start, end)``, by start time then id."""
        sql, args = "SELECT data FROM allegations", []
        where = []
        if start is not None:
            where.append("end_s >= ?")
            args.append(start.timestamp())
        if end is not None:
            where.append("start_s < ?")
            args.append(end.timestamp())
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [json.loads(d) for (d,) in self.conn.execute(sql + " ORDER BY start_s, id", args)]

    def count_allegations(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM allegations").fetchone()[0])

    def save_allegation_run(self, *, agreement_sha256: str, agreement_id: str,
                            agreement_version: str, engine: str, coverage: str,
                            findings: Sequence, window_start: datetime | None,
                            window_end: datetime | None) -> int:
        """Store one run of allegation verdicts with what it used (agreement, engine, coverage)."""
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO allegation_runs (agreement_sha256, agreement_id, agreement_version, "
                "engine, coverage, window_start, window_end, created_at, n_allegations) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (agreement_sha256, agreement_id, agreement_version, engine, coverage,
                 window_start.isoformat() if window_start else None,
                 window_end.isoformat() if window_end else None, _now(), len(findings)))
            run = int(cur.fetchone()[0])
            c.executemany(
                "INSERT INTO allegation_verdicts (run_id, allegation_id, verdict, probability, "
                "detection_probability, data) VALUES (?, ?, ?, ?, ?, ?)",
                [(run, f.allegation_id, str(f.verdict), f.probability, f.detection_probability,
                  json.dumps(f.as_dict(), sort_keys=True, separators=(",", ":")))
                 for f in findings])
        return run

    def allegation_runs(self) -> list[dict]:
        cols = ["id", "agreement_id", "agreement_version", "engine", "coverage", "window_start",
                "window_end", "created_at", "n_allegations"]
        return [dict(zip(cols, row)) for row in self.conn.execute(
            f"SELECT {', '.join(cols)} FROM allegation_runs ORDER BY id")]

    def allegation_verdicts(self, run_id: int) -> list[dict]:
        return [json.loads(d) for (d,) in self.conn.execute(
            "SELECT data FROM allegation_verdicts WHERE run_id = ? ORDER BY allegation_id",
            (run_id,))]
