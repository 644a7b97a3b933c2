"""The store's tables for the web service: users and their sessions, submitters, daily reports,
networks, and the paged, filtered reads the API serves (migrations ``0004_service``,
``0008_sessions``).

:class:`ServiceTables` is mixed into :class:`~linewatch.store.base.Store`; it uses
``self.conn``, ``self.transaction()``, ``self._lock()`` and ``self.dialect``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from linewatch.errors import Conflict, InputError, NotFound
from linewatch.model import utc_iso
from linewatch.store.tables import Tables

ROLES = ("admin", "analyst", "monitor", "public")   # and "party:<id>"


def _now() -> str:
    return utc_iso(datetime.now(UTC))


@dataclass(frozen=True)
class User:
    name: str
    role: str
    created_at: str
    revoked_at: str | None = None

    @property
    def party(self) -> str | None:
        return self.role.split(":", 1)[1] if self.role.startswith("party:") else None


@dataclass(frozen=True)
class RecordRow:
    """A stored record as the API pages through them: the canonical dict and its position."""

    rowid: int
    time_s: float
    id: str
    data: dict
    submitted_by: str | None
    lon: float
    lat: float


def in_parts(values: Sequence, size: int = 500) -> Iterator[tuple[str, list]]:
    """``(placeholders, part)`` for ``IN (...)`` over ``values`` in parts of ``size`` (bound
    parameters per statement stay few, in both stores)."""
    values = list(values)
    for k in range(0, len(values), size):
        part = values[k:k + size]
        yield ", ".join("?" * len(part)), part


PARTY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}")   # an agreement's id (agreement.schema)


def check_role(role: str) -> str:
    """``role`` if it is one of :data:`ROLES` or ``party:<id>`` with an id an agreement could
    hold (whether the agreement in use has that party is ``linewatch.services.accounts``'s check)."""
    if role in ROLES:
        return role
    if role.startswith("party:"):
        if PARTY_ID.fullmatch(role[len("party:"):]):
            return role
        raise InputError(f"role {role!r}: {role[len('party:'):]!r} is not a party id (letters, digits "
                         "and _.:- , starting with a letter or digit, at most 80)")
    raise InputError(f"role {role!r}: use one of {', '.join(ROLES)} or party:<party id>")


def record_filter(*, start: datetime | None = None, end: datetime | None = None,
                  bbox: tuple[float, float, float, float] | None = None,
                  within: Sequence[tuple[str, Sequence[str] | None]] = (),
                  dialect: str = "sqlite", current: bool = True) -> tuple[str, list[str], list]:
    """The JOIN, WHERE terms and arguments that select records (alias ``r``) by time window
    ``[start, end)``, by the box of their ellipse meeting ``bbox`` (SQLite's R*Tree, or the
    GiST index on PostGIS's ``extent``), by ``column IN values`` for each non-empty ``within``
    pair, and (``current``) leaving out fusion records a later fusion run superseded and the
    versions a correction superseded."""
    join, where = "", []
    args: list[Any] = []
    if bbox is not None:
        if dialect == "postgresql":
            where.append("r.extent && ST_MakeEnvelope(?, ?, ?, ?, 4326)")
            args += [bbox[0], bbox[1], bbox[2], bbox[3]]
        else:
            join = " JOIN records_rtree t ON t.id = r.rowid"
            where += ["t.max_lon >= ?", "t.min_lon <= ?", "t.max_lat >= ?", "t.min_lat <= ?"]
            args += [bbox[0], bbox[2], bbox[1], bbox[3]]
    if start is not None:
        where.append("r.time_s >= ?")
        args.append(start.timestamp())
    if end is not None:
        where.append("r.time_s < ?")
        args.append(end.timestamp())
    for column, values in within:
        if values:
            where.append(f"{column} IN ({','.join('?' * len(values))})")
            args.extend(values)
    if current:
        where.append("NOT EXISTS (SELECT 1 FROM superseded s WHERE s.batch_id = r.batch_id "
                     "AND r.time_s >= s.start_s AND r.time_s < s.end_s)")
        where.append("NOT EXISTS (SELECT 1 FROM records v WHERE v.supersedes = r.id)")
    return join, where, args


class ServiceTables(Tables):
    # -- users --------------------------------------------------------------------------------
    def add_user(self, name: str, role: str, token_sha256: str) -> User:
        """A new user. A name is used once: a removed user's name stays removed, so that what
        it did (ingest batches, releases, the audit log) stays tied to that one account."""
        check_role(role)
        if not name or len(name) > 100 or any(c.isspace() for c in name):
            raise InputError(f"user name {name!r}: 1 to 100 characters, no spaces")
        with self.transaction() as c:
            self._lock(c, "users")
            row = c.execute("SELECT revoked_at FROM users WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] is None:
                raise Conflict(f"user {name!r} exists; remove it first to issue a new token")
            if row is not None:
                raise Conflict(f"user {name!r} was removed at {row[0]}; a removed name stays removed "
                               "(its history stays tied to it): choose another name")
            now = _now()
            c.execute("INSERT INTO users (name, role, token_sha256, created_at, revoked_at) "
                      "VALUES (?, ?, ?, ?, NULL)", (name, role, token_sha256, now))
        return User(name, role, now)

    def user_by_token(self, token_sha256: str) -> User | None:
        row = self.conn.execute("SELECT name, role, created_at, revoked_at FROM users "
                                "WHERE token_sha256 = ? AND revoked_at IS NULL",
                                (token_sha256,)).fetchone()
        return User(*row) if row else None

    def users(self) -> list[User]:
        return [User(*r) for r in self.conn.execute(
            "SELECT name, role, created_at, revoked_at FROM users ORDER BY name")]

    def revoke_user(self, name: str) -> None:
        """Revoke the user's token and end its sessions, in one transaction."""
        with self.transaction() as c:
            cur = c.execute("UPDATE users SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                            (_now(), name))
            if cur.rowcount == 0:
                raise NotFound("user", name)
            c.execute("DELETE FROM sessions WHERE user_name = ?", (name,))

    # -- the dashboard's sessions (migration 0008_sessions) ------------------------------------
    def add_session(self, id_sha256: str, user_name: str, expires_s: float) -> None:
        """A session of a current user, by the SHA-256 of its id, until ``expires_s`` (epoch
        seconds); expired sessions are deleted on the way."""
        now = datetime.now(UTC)
        with self.transaction() as c:
            c.execute("DELETE FROM sessions WHERE expires_s <= ?", (now.timestamp(),))
            row = c.execute("SELECT 1 FROM users WHERE name = ? AND revoked_at IS NULL",
                            (user_name,)).fetchone()
            if row is None:
                raise NotFound("user", user_name)
            c.execute("INSERT INTO sessions (id_sha256, user_name, created_at, expires_s) "
                      "VALUES (?, ?, ?, ?)", (id_sha256, user_name, utc_iso(now), float(expires_s)))

    def user_by_session(self, id_sha256: str) -> User | None:
        """The session's user, while the session has not expired or ended and the user is current."""
        row = self.conn.execute(
            "SELECT u.name, u.role, u.created_at, u.revoked_at FROM sessions s JOIN users u "
            "ON u.name = s.user_name WHERE s.id_sha256 = ? AND s.expires_s > ? AND u.revoked_at IS NULL",
            (id_sha256, datetime.now(UTC).timestamp())).fetchone()
        return User(*row) if row else None

    def end_session(self, id_sha256: str) -> bool:
        """End a session (log out); False if there was none."""
        with self.transaction() as c:
            cur = c.execute("DELETE FROM sessions WHERE id_sha256 = ?", (id_sha256,))
            return cur.rowcount > 0

    # -- paged reads --------------------------------------------------------------------------
    def page_records(self, *, start: datetime | None = None, end: datetime | None = None,
                     kinds: Sequence[str] | None = None, source_kinds: Sequence[str] | None = None,
                     bbox: tuple[float, float, float, float] | None = None,
                     submitted_by: str | None = None, after: tuple[float, str] | None = None,
                     after_rowid: int | None = None, limit: int = 1000) -> list[RecordRow]:
        """Records ordered by (time, id) after the keyset ``after`` (or, for a live feed, by
        rowid after ``after_rowid``), at most ``limit``."""
        join, where, args = record_filter(start=start, end=end, bbox=bbox, dialect=self.dialect,
                                          within=(("r.kind", kinds), ("r.source_kind", source_kinds)))
        sql = ("SELECT r.rowid, r.time_s, r.id, r.data, b.submitted_by, r.lon, r.lat FROM records r "
               "LEFT JOIN ingest_batches b ON b.id = r.batch_id" + join)
        if submitted_by is not None:
            where.append("b.submitted_by = ?")
            args.append(submitted_by)
        if after is not None:
            where.append("(r.time_s > ? OR (r.time_s = ? AND r.id > ?))")
            args += [after[0], after[0], after[1]]
        if after_rowid is not None:
            where.append("r.rowid > ?")
            args.append(after_rowid)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY r.rowid" if after_rowid is not None else " ORDER BY r.time_s, r.id"
        sql += " LIMIT ?"
        args.append(int(limit))
        if after_rowid is None or self.dialect == "sqlite":
            rows = self.conn.execute(sql, args).fetchall()
        else:
            # in row-id order: no writer may be between taking a row id and committing it,
            # or a row could appear behind the reader (PostgreSQL; SQLite has one writer)
            with self.transaction() as c:
                self._lock(c, "records")
                rows = c.execute(sql, args).fetchall()
        return [RecordRow(rowid, t, rid, json.loads(data), who, lon, lat)
                for rowid, t, rid, data, who, lon, lat in rows]

    def record_row(self, record_id: str) -> RecordRow:
        row = self.conn.execute(
            "SELECT r.rowid, r.time_s, r.id, r.data, b.submitted_by, r.lon, r.lat FROM records r "
            "LEFT JOIN ingest_batches b ON b.id = r.batch_id WHERE r.id = ?", (record_id,)).fetchone()
        if row is None:
            raise NotFound("record", record_id)
        return RecordRow(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6])

    def submitted_time_range(self, submitted_by: str) -> tuple[float, float] | None:
        """The first and last time of the records a user submitted (epoch seconds)."""
        row = self.conn.execute(
            "SELECT min(r.time_s), max(r.time_s) FROM records r JOIN ingest_batches b "
            "ON b.id = r.batch_id WHERE b.submitted_by = ?", (submitted_by,)).fetchone()
        return None if row[0] is None else (float(row[0]), float(row[1]))

    def max_record_rowid(self) -> int:
        return int(self.conn.execute("SELECT coalesce(max(rowid), 0) FROM records").fetchone()[0])

    def allegation_rows_by(self, *, submitted_by: str | None = None,
                           alleging_party: str | None = None) -> Iterator[tuple[dict, str | None]]:
        """Stored allegations with their submitter, by start time then id."""
        sql = ("SELECT a.data, b.submitted_by FROM allegations a "
               "LEFT JOIN ingest_batches b ON b.id = a.batch_id")
        where, args = [], []
        if submitted_by is not None:
            where.append("b.submitted_by = ?")
            args.append(submitted_by)
        if alleging_party is not None:
            where.append("a.alleging_party = ?")
            args.append(alleging_party)
        if where:
            sql += " WHERE " + " AND ".join(where)
        for data, who in self.conn.execute(sql + " ORDER BY a.start_s, a.id", args):
            yield json.loads(data), who

    def placement(self, record_id: str) -> dict | None:
        """Where the latest verification run that saw the record placed it."""
        row = self.conn.execute("SELECT run_id, side, distance_to_line_m, sector, data FROM placements "
                                "WHERE record_id = ? ORDER BY run_id DESC LIMIT 1",
                                (record_id,)).fetchone()
        if row is None:
            return None
        return {"run": row[0], "side": row[1], "distance_to_line_m": row[2], "sector": row[3],
                **json.loads(row[4])}

    _FINDING = ("subject", "rule_id", "rule_kind", "rule_text", "verdict", "probability", "party",
                "evidence", "explanation")

    def findings_for(self, subject: str) -> list[dict]:
        """The findings about ``subject`` of the latest verification run that judged it."""
        cols = ", ".join(f"f.{c}" for c in self._FINDING)
        out = []
        for row in self.conn.execute(
                f"SELECT {cols}, f.run_id FROM findings f WHERE f.subject = ? AND f.run_id = "
                "(SELECT max(run_id) FROM findings g WHERE g.subject = f.subject) ORDER BY f.rule_id",
                (subject,)):
            d = dict(zip(self._FINDING, row))
            d["evidence"] = json.loads(d["evidence"])
            d["run"] = row[-1]
            out.append(d)
        return out

    def page_findings(self, *, verdicts: Sequence[str], start: datetime | None = None,
                      end: datetime | None = None, rule_kinds: Sequence[str] | None = None,
                      parties: Sequence[str] | None = None,
                      bbox: tuple[float, float, float, float] | None = None,
                      after: tuple[float, str, str] | None = None, limit: int = 1000
                      ) -> list[tuple[float, dict, tuple[float, float]]]:
        """``(time_s, finding, (lon, lat) of the record)`` of each record's latest verification run, by
        (time, record id, rule id) after the keyset ``after``, at most ``limit``."""
        cols = ", ".join(f"f.{c}" for c in self._FINDING)
        join, where, args = record_filter(start=start, end=end, bbox=bbox, dialect=self.dialect, within=(
            ("f.verdict", verdicts), ("f.rule_kind", rule_kinds), ("f.party", parties)))
        sql = (f"SELECT r.time_s, {cols}, r.lon, r.lat FROM findings f "
               "JOIN records r ON r.id = f.subject" + join)
        where.append("f.run_id = (SELECT max(run_id) FROM findings g WHERE g.subject = f.subject)")
        if after is not None:
            where.append("(r.time_s > ? OR (r.time_s = ? AND (f.subject > ? OR "
                         "(f.subject = ? AND f.rule_id > ?))))")
            args += [after[0], after[0], after[1], after[1], after[2]]
        sql += " WHERE " + " AND ".join(where) + " ORDER BY r.time_s, f.subject, f.rule_id LIMIT ?"
        args.append(int(limit))
        out = []
        for row in self.conn.execute(sql, args):
            d = dict(zip(self._FINDING, row[1:-2]))
            d["evidence"] = json.loads(d["evidence"])
            out.append((float(row[0]), d, (float(row[-2]), float(row[-1]))))
        return out

    def latest_verdicts(self) -> dict[str, dict]:
        """Each allegation's verdict from the latest run that judged it, by allegation id."""
        out: dict[str, dict] = {}
        for (data,) in self.conn.execute(
                "SELECT v.data FROM allegation_verdicts v WHERE v.run_id = (SELECT max(run_id) "
                "FROM allegation_verdicts w WHERE w.allegation_id = v.allegation_id)"):
            d = json.loads(data)
            out[d["allegation_id"]] = d
        return out

    # -- daily reports ------------------------------------------------------------------------
    def put_daily_report(self, day: str, *, report_json: str, files: Sequence[tuple[str, str, bytes]],
                         built_by: str | None, agreement_sha256: str | None) -> None:
        """Store (or replace, while unreleased) the day's report and its files
        ``(name, media type, content)``, in one transaction."""
        with self.transaction() as c:
            self._lock(c, f"daily_report:{day}")
            row = c.execute("SELECT released_at FROM daily_reports WHERE day = ?", (day,)).fetchone()
            if row is not None and row[0] is not None:
                raise Conflict(f"the daily report of {day} was released at {row[0]}; a released "
                                 "report is never rebuilt")
            c.execute("DELETE FROM daily_report_files WHERE day = ?", (day,))
            c.execute("DELETE FROM daily_reports WHERE day = ?", (day,))
            c.execute("INSERT INTO daily_reports (day, built_at, built_by, agreement_sha256, "
                      "report_json) VALUES (?, ?, ?, ?, ?)",
                      (day, _now(), built_by, agreement_sha256, report_json))
            c.executemany("INSERT INTO daily_report_files (day, name, media_type, content) "
                          "VALUES (?, ?, ?, ?)",
                          [(day, name, media, content) for name, media, content in files])

    def release_daily_report(self, day: str, *, released_by: str) -> str:
        with self.transaction() as c:
            self._lock(c, f"daily_report:{day}")
            row = c.execute("SELECT released_at FROM daily_reports WHERE day = ?", (day,)).fetchone()
            if row is None:
                raise NotFound("daily report", day)
            if row[0] is not None:
                return str(row[0])
            now = _now()
            c.execute("UPDATE daily_reports SET released_at = ?, released_by = ? WHERE day = ?",
                      (now, released_by, day))
        return now

    def daily_reports(self, *, released_only: bool = False) -> list[dict]:
        cols = ["day", "built_at", "built_by", "agreement_sha256", "released_at", "released_by"]
        sql = f"SELECT {', '.join(cols)} FROM daily_reports"
        if released_only:
            sql += " WHERE released_at IS NOT NULL"
        out = []
        for row in self.conn.execute(sql + " ORDER BY day"):
            d = dict(zip(cols, row))
            d["released"] = d["released_at"] is not None
            out.append(d)
        return out

    def daily_report_file(self, day: str, name: str) -> tuple[str, bytes]:
        row = self.conn.execute("SELECT media_type, content FROM daily_report_files "
                                "WHERE day = ? AND name = ?", (day, name)).fetchone()
        if row is None:
            raise NotFound("daily report file", f"{day}/{name}")
        return row[0], bytes(row[1])

    def daily_report_digests(self, day: str) -> dict[str, str]:
        """The SHA-256 of each of the day's report files, by name."""
        return {name: hashlib.sha256(bytes(content)).hexdigest() for name, content in self.conn.execute(
            "SELECT name, content FROM daily_report_files WHERE day = ? ORDER BY name", (day,))}

    def daily_report_json(self, day: str) -> str:
        row = self.conn.execute("SELECT report_json FROM daily_reports WHERE day = ?", (day,)).fetchone()
        if row is None:
            raise NotFound("daily report", day)
        return str(row[0])

    # -- networks -----------------------------------------------------------------------------
    def put_network(self, sha256: str, name: str, text: str) -> None:
        with self.transaction() as c:
            c.execute("INSERT INTO networks (sha256, name, text, stored_at) VALUES (?, ?, ?, ?) "
                      "ON CONFLICT DO NOTHING", (sha256, name, text, _now()))

    def latest_network(self) -> tuple[str, str] | None:
        row = self.conn.execute("SELECT name, sha256 FROM networks ORDER BY stored_at DESC, rowid DESC "
                                "LIMIT 1").fetchone()
        return (row[0], row[1]) if row else None
