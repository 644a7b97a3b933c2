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

MIGRATIONS: list[tuple[str, str]] = [
    ("0001_initial", """
        CREATE TABLE ingest_batches (
            id INTEGER PRIMARY KEY,
            file TEXT NOT NULL,
            file_sha256 TEXT NOT NULL,
            format TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            n_added INTEGER NOT NULL DEFAULT 0,
            n_duplicate INTEGER NOT NULL DEFAULT 0,
            n_quarantined INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE records (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            time TEXT NOT NULL,
            time_s REAL NOT NULL,
            lon REAL NOT NULL,
            lat REAL NOT NULL,
            geom BLOB NOT NULL,
            source_kind TEXT NOT NULL,
            source_id TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            data TEXT NOT NULL,
            file TEXT,
            line INTEGER,
            batch_id INTEGER REFERENCES ingest_batches(id),
            ingested_at TEXT NOT NULL
        );
        CREATE INDEX records_time ON records(time_s);
        CREATE INDEX records_kind_time ON records(kind, time_s);
        CREATE VIRTUAL TABLE records_rtree USING rtree(id, min_lon, max_lon, min_lat, max_lat);
        CREATE TABLE quarantine (
            id INTEGER PRIMARY KEY,
            file TEXT NOT NULL,
            file_sha256 TEXT NOT NULL,
            line INTEGER,
            field TEXT,
            reason TEXT NOT NULL,
            raw TEXT NOT NULL,
            batch_id INTEGER REFERENCES ingest_batches(id),
            quarantined_at TEXT NOT NULL,
            UNIQUE (file_sha256, line, reason)
        );
        CREATE TABLE agreements (
            sha256 TEXT PRIMARY KEY,
            id TEXT NOT NULL,
            version TEXT NOT NULL,
            name TEXT NOT NULL,
            text TEXT NOT NULL,
            stored_at TEXT NOT NULL
        );
        CREATE TABLE verification_runs (
            id INTEGER PRIMARY KEY,
            agreement_sha256 TEXT NOT NULL REFERENCES agreements(sha256),
            agreement_id TEXT NOT NULL,
            agreement_version TEXT NOT NULL,
            engine TEXT NOT NULL,
            window_start TEXT,
            window_end TEXT,
            created_at TEXT NOT NULL,
            n_records INTEGER NOT NULL,
            n_findings INTEGER NOT NULL
        );
        CREATE TABLE findings (
            run_id INTEGER NOT NULL REFERENCES verification_runs(id) ON DELETE CASCADE,
            subject TEXT NOT NULL,
            rule_id TEXT NOT NULL,
            rule_kind TEXT NOT NULL,
            rule_text TEXT NOT NULL,
            verdict TEXT NOT NULL,
            probability REAL NOT NULL,
            party TEXT,
            evidence TEXT NOT NULL,
            explanation TEXT NOT NULL,
            PRIMARY KEY (run_id, subject, rule_id)
        );
        CREATE INDEX findings_verdict ON findings(run_id, verdict);
        CREATE TABLE placements (
            run_id INTEGER NOT NULL REFERENCES verification_runs(id) ON DELETE CASCADE,
            record_id TEXT NOT NULL,
            side TEXT,
            distance_to_line_m REAL,
            sector TEXT,
            data TEXT NOT NULL,
            PRIMARY KEY (run_id, record_id)
        );
    """),
    ("0002_allegations", """
        CREATE TABLE allegations (
            id TEXT PRIMARY KEY,
            alleging_party TEXT NOT NULL,
            accused_party TEXT,
            kind TEXT NOT NULL,
            start_s REAL NOT NULL,
            end_s REAL NOT NULL,
            lon REAL NOT NULL,
            lat REAL NOT NULL,
            supersedes TEXT,
            content_hash TEXT NOT NULL,
            data TEXT NOT NULL,
            file TEXT,
            line INTEGER,
            batch_id INTEGER REFERENCES ingest_batches(id),
            ingested_at TEXT NOT NULL
        );
        CREATE INDEX allegations_time ON allegations(start_s, end_s);
        CREATE TABLE allegation_runs (
            id INTEGER PRIMARY KEY,
            agreement_sha256 TEXT NOT NULL REFERENCES agreements(sha256),
            agreement_id TEXT NOT NULL,
            agreement_version TEXT NOT NULL,
            engine TEXT NOT NULL,
            coverage TEXT NOT NULL,
            window_start TEXT,
            window_end TEXT,
            created_at TEXT NOT NULL,
            n_allegations INTEGER NOT NULL
        );
        CREATE TABLE allegation_verdicts (
            run_id INTEGER NOT NULL REFERENCES allegation_runs(id) ON DELETE CASCADE,
            allegation_id TEXT NOT NULL,
            verdict TEXT NOT NULL,
            probability REAL NOT NULL,
            detection_probability REAL,
            data TEXT NOT NULL,
            PRIMARY KEY (run_id, allegation_id)
        );
    """),
    # The tamper-evident log (linewatch.services.audit, docs/audit.md): entry ``idx`` is leaf ``idx`` of an
    # RFC 6962 Merkle tree. Rows are only ever inserted; the triggers refuse UPDATE and DELETE.
    ("0003_audit_log", """
        CREATE TABLE audit_log (
            idx INTEGER PRIMARY KEY,
            entry_type TEXT NOT NULL,
            subject_id TEXT NOT NULL,
            payload BLOB NOT NULL,
            supersedes INTEGER REFERENCES audit_log(idx),
            appended_at TEXT NOT NULL,
            key_id TEXT,
            signature TEXT,
            leaf_hash BLOB NOT NULL
        );
        CREATE INDEX audit_log_subject ON audit_log(subject_id, idx);
        CREATE INDEX audit_log_type ON audit_log(entry_type, idx);
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN
            SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused');
        END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN
            SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused');
        END;
    """),
    # The web service (linewatch.web, docs/api.md): API users with hashed tokens, who submitted
    # each ingest batch, the daily reports built and released, and the sensor networks used.
    ("0004_service", """
        CREATE TABLE users (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            token_sha256 TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        );
        ALTER TABLE ingest_batches ADD COLUMN submitted_by TEXT;
        CREATE INDEX ingest_batches_submitter ON ingest_batches(submitted_by);
        CREATE INDEX records_batch ON records(batch_id);
        CREATE INDEX allegations_batch ON allegations(batch_id);
        CREATE INDEX findings_subject ON findings(subject, run_id);
        CREATE INDEX placements_record ON placements(record_id, run_id);
        CREATE TABLE daily_reports (
            day TEXT PRIMARY KEY,
            built_at TEXT NOT NULL,
            built_by TEXT,
            agreement_sha256 TEXT,
            released_at TEXT,
            released_by TEXT,
            report_json TEXT NOT NULL
        );
        CREATE TABLE daily_report_files (
            day TEXT NOT NULL REFERENCES daily_reports(day) ON DELETE CASCADE,
            name TEXT NOT NULL,
            media_type TEXT NOT NULL,
            content BLOB NOT NULL,
            PRIMARY KEY (day, name)
        );
        CREATE TRIGGER daily_reports_released_fixed BEFORE UPDATE ON daily_reports
        WHEN OLD.released_at IS NOT NULL
        BEGIN
            SELECT RAISE(ABORT, 'a released daily report is never changed');
        END;
        CREATE TRIGGER daily_reports_released_kept BEFORE DELETE ON daily_reports
        WHEN OLD.released_at IS NOT NULL
        BEGIN
            SELECT RAISE(ABORT, 'a released daily report is never deleted');
        END;
        CREATE TABLE networks (
            sha256 TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            text TEXT NOT NULL,
            stored_at TEXT NOT NULL
        );
    """),
    # Raw detections kept for reprocessing (linewatch.fusion.reprocess), the queue that feeds fusion
    # as they arrive (linewatch.services.streaming), and the fusion runs: a run over [start_s, end_s)
    # supersedes the records of earlier fusion batches in that window (they stay, unread).
    ("0005_detections", """
        CREATE TABLE detections (
            id TEXT PRIMARY KEY,
            sensor_id TEXT NOT NULL,
            time_s REAL NOT NULL,
            time_sd_s REAL NOT NULL,
            bearing_deg REAL,
            bearing_sd_deg REAL,
            range_m REAL,
            range_sd_m REAL,
            lon REAL,
            lat REAL,
            position_sd_m REAL,
            kind TEXT NOT NULL,
            temperature_c REAL,
            batch_id INTEGER REFERENCES ingest_batches(id),
            ingested_at TEXT NOT NULL
        );
        CREATE INDEX detections_time ON detections(time_s);
        CREATE TABLE fusion_queue (
            seq INTEGER PRIMARY KEY,
            detection_id TEXT NOT NULL REFERENCES detections(id),
            enqueued_s REAL NOT NULL
        );
        CREATE TABLE fusion_runs (
            id INTEGER PRIMARY KEY,
            engine TEXT NOT NULL,
            params TEXT NOT NULL,
            start_s REAL NOT NULL,
            end_s REAL NOT NULL,
            batch_id INTEGER NOT NULL REFERENCES ingest_batches(id),
            created_at TEXT NOT NULL,
            finished_at TEXT,
            n_detections INTEGER,
            n_incidents INTEGER
        );
        CREATE TABLE superseded (
            batch_id INTEGER NOT NULL REFERENCES ingest_batches(id),
            start_s REAL NOT NULL,
            end_s REAL NOT NULL,
            by_run INTEGER NOT NULL REFERENCES fusion_runs(id),
            PRIMARY KEY (batch_id, by_run)
        );
    """),
    ("0006_stream", """
        CREATE TABLE stream_progress (
            name TEXT PRIMARY KEY,
            owner TEXT,
            fence INTEGER NOT NULL DEFAULT 0,
            lease_until_s REAL,
            committed_s REAL,
            floor_s REAL,
            batch_id INTEGER REFERENCES ingest_batches(id),
            engine TEXT,
            params TEXT,
            n_detections INTEGER NOT NULL DEFAULT 0,
            n_incidents INTEGER NOT NULL DEFAULT 0,
            updated_s REAL
        );
        CREATE TABLE stream_claims (
            stream TEXT NOT NULL,
            detection_id TEXT NOT NULL REFERENCES detections(id),
            time_s REAL NOT NULL,
            enqueued_s REAL NOT NULL,
            claimed_s REAL NOT NULL,
            PRIMARY KEY (stream, detection_id)
        );
        CREATE INDEX stream_claims_time ON stream_claims(stream, time_s);
        CREATE TABLE stream_latency (
            record_id TEXT PRIMARY KEY,
            stream TEXT NOT NULL,
            last_detection_s REAL NOT NULL,
            last_enqueued_s REAL NOT NULL,
            stream_time_s REAL NOT NULL,
            trigger_enqueued_s REAL NOT NULL,
            committed_s REAL NOT NULL
        );
        CREATE INDEX stream_latency_committed ON stream_latency(stream, committed_s);
    """),
]

PG_MIGRATIONS: dict[str, str] = {
    "0001_initial": """
        CREATE EXTENSION IF NOT EXISTS postgis;
        CREATE TABLE ingest_batches (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            file TEXT NOT NULL,
            file_sha256 TEXT NOT NULL,
            format TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            n_added BIGINT NOT NULL DEFAULT 0,
            n_duplicate BIGINT NOT NULL DEFAULT 0,
            n_quarantined BIGINT NOT NULL DEFAULT 0
        );
        CREATE TABLE records (
            rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            time TEXT NOT NULL,
            time_s DOUBLE PRECISION NOT NULL,
            lon DOUBLE PRECISION NOT NULL,
            lat DOUBLE PRECISION NOT NULL,
            geom geometry(Point, 4326) NOT NULL,
            extent geometry(Polygon, 4326) NOT NULL,
            source_kind TEXT NOT NULL,
            source_id TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            data TEXT NOT NULL,
            file TEXT,
            line BIGINT,
            batch_id BIGINT REFERENCES ingest_batches(id),
            ingested_at TEXT NOT NULL
        );
        CREATE INDEX records_time ON records(time_s);
        CREATE INDEX records_kind_time ON records(kind, time_s);
        CREATE INDEX records_extent ON records USING gist (extent);
        CREATE TABLE quarantine (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            file TEXT NOT NULL,
            file_sha256 TEXT NOT NULL,
            line BIGINT,
            field TEXT,
            reason TEXT NOT NULL,
            raw TEXT NOT NULL,
            batch_id BIGINT REFERENCES ingest_batches(id),
            quarantined_at TEXT NOT NULL,
            UNIQUE NULLS NOT DISTINCT (file_sha256, line, reason)
        );
        CREATE TABLE agreements (
            sha256 TEXT PRIMARY KEY,
            id TEXT NOT NULL,
            version TEXT NOT NULL,
            name TEXT NOT NULL,
            text TEXT NOT NULL,
            stored_at TEXT NOT NULL
        );
        CREATE TABLE verification_runs (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            agreement_sha256 TEXT NOT NULL REFERENCES agreements(sha256),
            agreement_id TEXT NOT NULL,
            agreement_version TEXT NOT NULL,
            engine TEXT NOT NULL,
            window_start TEXT,
            window_end TEXT,
            created_at TEXT NOT NULL,
            n_records BIGINT NOT NULL,
            n_findings BIGINT NOT NULL
        );
        CREATE TABLE findings (
            run_id BIGINT NOT NULL REFERENCES verification_runs(id) ON DELETE CASCADE,
            subject TEXT NOT NULL,
            rule_id TEXT NOT NULL,
            rule_kind TEXT NOT NULL,
            rule_text TEXT NOT NULL,
            verdict TEXT NOT NULL,
            probability DOUBLE PRECISION NOT NULL,
            party TEXT,
            evidence TEXT NOT NULL,
            explanation TEXT NOT NULL,
            PRIMARY KEY (run_id, subject, rule_id)
        );
        CREATE INDEX findings_verdict ON findings(run_id, verdict);
        CREATE TABLE placements (
            run_id BIGINT NOT NULL REFERENCES verification_runs(id) ON DELETE CASCADE,
            record_id TEXT NOT NULL,
            side TEXT,
            distance_to_line_m DOUBLE PRECISION,
            sector TEXT,
            data TEXT NOT NULL,
            PRIMARY KEY (run_id, record_id)
        );
    """,
    "0002_allegations": """
        CREATE TABLE allegations (
            rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
            id TEXT PRIMARY KEY,
            alleging_party TEXT NOT NULL,
            accused_party TEXT,
            kind TEXT NOT NULL,
            start_s DOUBLE PRECISION NOT NULL,
            end_s DOUBLE PRECISION NOT NULL,
            lon DOUBLE PRECISION NOT NULL,
            lat DOUBLE PRECISION NOT NULL,
            supersedes TEXT,
            content_hash TEXT NOT NULL,
            data TEXT NOT NULL,
            file TEXT,
            line BIGINT,
            batch_id BIGINT REFERENCES ingest_batches(id),
            ingested_at TEXT NOT NULL
        );
        CREATE INDEX allegations_time ON allegations(start_s, end_s);
        CREATE TABLE allegation_runs (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            agreement_sha256 TEXT NOT NULL REFERENCES agreements(sha256),
            agreement_id TEXT NOT NULL,
            agreement_version TEXT NOT NULL,
            engine TEXT NOT NULL,
            coverage TEXT NOT NULL,
            window_start TEXT,
            window_end TEXT,
            created_at TEXT NOT NULL,
            n_allegations BIGINT NOT NULL
        );
        CREATE TABLE allegation_verdicts (
            run_id BIGINT NOT NULL REFERENCES allegation_runs(id) ON DELETE CASCADE,
            allegation_id TEXT NOT NULL,
            verdict TEXT NOT NULL,
            probability DOUBLE PRECISION NOT NULL,
            detection_probability DOUBLE PRECISION,
            data TEXT NOT NULL,
            PRIMARY KEY (run_id, allegation_id)
        );
    """,
    "0003_audit_log": """
        CREATE TABLE audit_log (
            idx BIGINT PRIMARY KEY,
            entry_type TEXT NOT NULL,
            subject_id TEXT NOT NULL,
            payload BYTEA NOT NULL,
            supersedes BIGINT REFERENCES audit_log(idx),
            appended_at TEXT NOT NULL,
            key_id TEXT,
            signature TEXT,
            leaf_hash BYTEA NOT NULL
        );
        CREATE INDEX audit_log_subject ON audit_log(subject_id, idx);
        CREATE INDEX audit_log_type ON audit_log(entry_type, idx);
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $body$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
                USING ERRCODE = 'integrity_constraint_violation';
        END $body$;
        CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
    """,
    "0004_service": """
        CREATE TABLE users (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            token_sha256 TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        );
        ALTER TABLE ingest_batches ADD COLUMN submitted_by TEXT;
        CREATE INDEX ingest_batches_submitter ON ingest_batches(submitted_by);
        CREATE INDEX records_batch ON records(batch_id);
        CREATE INDEX allegations_batch ON allegations(batch_id);
        CREATE INDEX findings_subject ON findings(subject, run_id);
        CREATE INDEX placements_record ON placements(record_id, run_id);
        CREATE TABLE daily_reports (
            day TEXT PRIMARY KEY,
            built_at TEXT NOT NULL,
            built_by TEXT,
            agreement_sha256 TEXT,
            released_at TEXT,
            released_by TEXT,
            report_json TEXT NOT NULL
        );
        CREATE TABLE daily_report_files (
            day TEXT NOT NULL REFERENCES daily_reports(day) ON DELETE CASCADE,
            name TEXT NOT NULL,
            media_type TEXT NOT NULL,
            content BYTEA NOT NULL,
            PRIMARY KEY (day, name)
        );
        CREATE FUNCTION daily_reports_released_kept() RETURNS trigger LANGUAGE plpgsql AS $body$
        BEGIN
            IF OLD.released_at IS NOT NULL THEN
                IF TG_OP = 'UPDATE' THEN
                    RAISE EXCEPTION 'a released daily report is never changed'
                        USING ERRCODE = 'integrity_constraint_violation';
                END IF;
                RAISE EXCEPTION 'a released daily report is never deleted'
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        END $body$;
        CREATE TRIGGER daily_reports_released BEFORE UPDATE OR DELETE ON daily_reports
            FOR EACH ROW EXECUTE FUNCTION daily_reports_released_kept();
        CREATE TABLE networks (
            rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
            sha256 TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            text TEXT NOT NULL,
            stored_at TEXT NOT NULL
        );
    """,
    "0005_detections": """
        CREATE TABLE detections (
            id TEXT PRIMARY KEY,
            sensor_id TEXT NOT NULL,
            time_s DOUBLE PRECISION NOT NULL,
            time_sd_s DOUBLE PRECISION NOT NULL,
            bearing_deg DOUBLE PRECISION,
            bearing_sd_deg DOUBLE PRECISION,
            range_m DOUBLE PRECISION,
            range_sd_m DOUBLE PRECISION,
            lon DOUBLE PRECISION,
            lat DOUBLE PRECISION,
            position_sd_m DOUBLE PRECISION,
            kind TEXT NOT NULL,
            temperature_c DOUBLE PRECISION,
            batch_id BIGINT REFERENCES ingest_batches(id),
            ingested_at TEXT NOT NULL
        );
        CREATE INDEX detections_time ON detections(time_s);
        CREATE TABLE fusion_queue (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            detection_id TEXT NOT NULL REFERENCES detections(id),
            enqueued_s DOUBLE PRECISION NOT NULL
        );
        CREATE TABLE fusion_runs (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            engine TEXT NOT NULL,
            params TEXT NOT NULL,
            start_s DOUBLE PRECISION NOT NULL,
            end_s DOUBLE PRECISION NOT NULL,
            batch_id BIGINT NOT NULL REFERENCES ingest_batches(id),
            created_at TEXT NOT NULL,
            finished_at TEXT,
            n_detections BIGINT,
            n_incidents BIGINT
        );
        CREATE TABLE superseded (
            batch_id BIGINT NOT NULL REFERENCES ingest_batches(id),
            start_s DOUBLE PRECISION NOT NULL,
            end_s DOUBLE PRECISION NOT NULL,
            by_run BIGINT NOT NULL REFERENCES fusion_runs(id),
            PRIMARY KEY (batch_id, by_run)
        );
    """,
    "0006_stream": """
        CREATE TABLE stream_progress (
            name TEXT PRIMARY KEY,
            owner TEXT,
            fence BIGINT NOT NULL DEFAULT 0,
            lease_until_s DOUBLE PRECISION,
            committed_s DOUBLE PRECISION,
            floor_s DOUBLE PRECISION,
            batch_id BIGINT REFERENCES ingest_batches(id),
            engine TEXT,
            params TEXT,
            n_detections BIGINT NOT NULL DEFAULT 0,
            n_incidents BIGINT NOT NULL DEFAULT 0,
            updated_s DOUBLE PRECISION
        );
        CREATE TABLE stream_claims (
            stream TEXT NOT NULL,
            detection_id TEXT NOT NULL REFERENCES detections(id),
            time_s DOUBLE PRECISION NOT NULL,
            enqueued_s DOUBLE PRECISION NOT NULL,
            claimed_s DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (stream, detection_id)
        );
        CREATE INDEX stream_claims_time ON stream_claims(stream, time_s);
        CREATE TABLE stream_latency (
            record_id TEXT PRIMARY KEY,
            stream TEXT NOT NULL,
            last_detection_s DOUBLE PRECISION NOT NULL,
            last_enqueued_s DOUBLE PRECISION NOT NULL,
            stream_time_s DOUBLE PRECISION NOT NULL,
            trigger_enqueued_s DOUBLE PRECISION NOT NULL,
            committed_s DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX stream_latency_committed ON stream_latency(stream, committed_s);
    """,
}


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
            if dialect == "sqlite":
                conn.execute("BEGIN IMMEDIATE")
            else:
                conn.execute("BEGIN")
                conn.execute("SELECT pg_advisory_xact_lock(?)", (0x4C57_0000_0001,))
            if name in {r[0] for r in conn.execute("SELECT name FROM _migrations")}:
                conn.execute("ROLLBACK")  # another process applied it meanwhile
                continue
            if dialect == "sqlite":
                for statement in _statements(sqlite_sql):
                    conn.execute(statement)
            else:
                conn.execute(PG_MIGRATIONS[name])
            conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                         (name, datetime.now(UTC).isoformat()))
            conn.execute("COMMIT")
        except errors as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise MigrationError(f"migration {name!r} failed: {exc}") from exc
        ran.append(name)
    return ran


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
