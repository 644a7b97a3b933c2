"""The SQLite text of each named migration (the runner is :mod:`linewatch.store.migrations`).

A migration is never edited once released: add a new one, here and in
:mod:`linewatch.store.schema_postgres` under the same name.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

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
    ("0007_run_inputs", """
        ALTER TABLE verification_runs ADD COLUMN inputs_sha256 TEXT;
        ALTER TABLE allegation_runs ADD COLUMN inputs_sha256 TEXT;
    """),
    ("0008_sessions", """
        -- the dashboard's sessions: the SHA-256 of a random session id (the cookie), whose
        -- user, until when (epoch seconds); a logout or the user's removal deletes the row
        CREATE TABLE sessions (
            id_sha256 TEXT PRIMARY KEY,
            user_name TEXT NOT NULL REFERENCES users(name),
            created_at TEXT NOT NULL,
            expires_s REAL NOT NULL
        );
        CREATE INDEX sessions_user ON sessions(user_name);
        CREATE INDEX sessions_expiry ON sessions(expires_s);
    """),
    ("0009_quarantine_excerpt", """
        -- a quarantined row keeps an excerpt of its raw text (docs/record-formats.md, "Limits"),
        -- with the SHA-256 and the size in UTF-8 bytes of all of it; null for older rows, whose
        -- raw text is whole
        ALTER TABLE quarantine ADD COLUMN raw_sha256 TEXT;
        ALTER TABLE quarantine ADD COLUMN raw_size INTEGER;
    """),
    ("0010_audit_coverage", """
        SELECT 1; -- changes no table: the audit coverage (issue 15) is checked from the tables as they are
    """),
    ("0011_review", """
        -- record versions and their review (docs/review.md): a correction is a new row of
        -- records naming the version it replaces; no version is superseded twice (no forks)
        ALTER TABLE records ADD COLUMN supersedes TEXT;
        CREATE UNIQUE INDEX records_supersedes ON records(supersedes) WHERE supersedes IS NOT NULL;
        -- the review state of each version and allegation now (derived from review_events,
        -- which are logged in the audit log like records); comments are logged too
        CREATE TABLE review (
            subject_kind TEXT NOT NULL,
            subject_id TEXT NOT NULL,
            state TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            updated_by TEXT,
            n_events INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (subject_kind, subject_id)
        );
        CREATE INDEX review_state ON review(subject_kind, state);
        CREATE TABLE review_events (
            id TEXT PRIMARY KEY,
            subject_kind TEXT NOT NULL,
            subject_id TEXT NOT NULL,
            state TEXT NOT NULL,
            actor TEXT NOT NULL,
            at TEXT NOT NULL,
            data TEXT NOT NULL
        );
        CREATE INDEX review_events_subject ON review_events(subject_kind, subject_id);
        CREATE TABLE review_comments (
            id TEXT PRIMARY KEY,
            subject_kind TEXT NOT NULL,
            subject_id TEXT NOT NULL,
            author TEXT NOT NULL,
            at TEXT NOT NULL,
            data TEXT NOT NULL
        );
        CREATE INDEX review_comments_subject ON review_comments(subject_kind, subject_id);
        INSERT INTO review (subject_kind, subject_id, state, updated_at)
            SELECT 'record', r.id, CASE WHEN r.source_kind IN ('patrol', 'observation_post', 'open_source')
                THEN 'submitted' WHEN r.source_kind = 'party_allegation' THEN 'received' ELSE 'detected' END,
                r.ingested_at FROM records r;
        INSERT INTO review (subject_kind, subject_id, state, updated_at)
            SELECT 'allegation', a.id, 'received', a.ingested_at FROM allegations a;
    """),
    ("0012_stream_snapshot", """
        -- the watermark engine's state at the last hour it closed (docs/streaming.md): a
        -- restarted worker resumes from it, replaying the claims from its floor on
        ALTER TABLE stream_progress ADD COLUMN snapshot TEXT;
    """),
]
