"""Agreements, verification runs and allegations: stored as rows, handed back as domain objects.

An agreement is stored once per version (keyed by the SHA-256 of its text). A verification run
keeps its findings and placements, and a digest of the records it judged
(``inputs_sha256``), so a reader can tell a stale run from a current one; likewise an
allegation run. :class:`RunTables` is mixed into :class:`~linewatch.store.base.Store`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from linewatch.formats.allegations import allegation_from_stored, allegation_to_dict
from linewatch.formats.canonical import content_hash
from linewatch.formats.records import Rejected
from linewatch.model import Finding, Verdict, utc_iso
from linewatch.store.record_tables import AddResult
from linewatch.store.service_tables import _now
from linewatch.store.tables import Tables
from linewatch.verification import (
    Allegation,
    AllegationFinding,
    AllegationVerdict,
    Match,
    PlaceFacts,
    Verification,
)

__all__ = ["AllegationRun", "RunTables", "VerificationRun"]


@dataclass(frozen=True)
class VerificationRun:
    """One stored run of ``linewatch verify``: what it judged with, over which window."""

    id: int
    agreement_sha256: str
    agreement_id: str
    agreement_version: str
    engine: str
    window_start: datetime | None
    window_end: datetime | None
    created_at: str
    n_records: int
    n_findings: int
    inputs_sha256: str | None

    def covers(self, start: datetime, end: datetime) -> bool:
        """Whether the run's window holds ``[start, end)``."""
        return ((self.window_start is None or self.window_start <= start)
                and (self.window_end is None or self.window_end >= end))


@dataclass(frozen=True)
class AllegationRun:
    """One stored run of allegation verdicts, with the coverage it used."""

    id: int
    agreement_sha256: str
    agreement_id: str
    agreement_version: str
    engine: str
    coverage: str
    window_start: datetime | None
    window_end: datetime | None
    created_at: str
    n_allegations: int
    inputs_sha256: str | None

    def covers(self, start: datetime, end: datetime) -> bool:
        return ((self.window_start is None or self.window_start <= start)
                and (self.window_end is None or self.window_end >= end))


def _parsed(t: str | None) -> datetime | None:
    return None if t is None else datetime.fromisoformat(t)


def _match(d: dict[str, Any]) -> Match:
    return Match(d["record_id"], d["kind"], d["source_kind"], d["distance_m"], d["offset_s"],
                 d["space_probability"], d["party"])


def allegation_finding_from_stored(d: dict[str, Any]) -> AllegationFinding:
    """A verdict back from its stored form (``AllegationFinding.as_dict``)."""
    return AllegationFinding(
        allegation_id=d["allegation_id"], alleging_party=d["alleging_party"], accused_party=d["accused_party"],
        kind=d["kind"], verdict=AllegationVerdict(d["verdict"]), probability=d["probability"],
        detection_probability=d["detection_probability"], perpetrator=d["perpetrator"],
        matches=tuple(_match(m) for m in d["matches"]), elsewhere=tuple(_match(m) for m in d["elsewhere"]),
        coverage_sources=tuple(d["coverage_sources"]), explanation=d["explanation"],
        agreement_id=d["agreement_id"], agreement_version=d["agreement_version"], engine=d["engine"])


_VRUN = ("id, agreement_sha256, agreement_id, agreement_version, engine, window_start, window_end, "
         "created_at, n_records, n_findings, inputs_sha256")
_ARUN = ("id, agreement_sha256, agreement_id, agreement_version, engine, coverage, window_start, "
         "window_end, created_at, n_allegations, inputs_sha256")


class RunTables(Tables):
    # -- agreements ---------------------------------------------------------------------------
    def put_agreement(self, sha256: str, agreement_id: str, version: str, name: str, text: str) -> None:
        """Record an agreement's text once (a second put of the same text changes nothing)."""
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

    def count_agreements(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM agreements").fetchone()[0])

    # -- verification -------------------------------------------------------------------------
    def save_verification(self, *, agreement_sha256: str, verification: Verification,
                          window_start: datetime | None, window_end: datetime | None,
                          inputs_sha256: str | None = None) -> int:
        v = verification
        with self.transaction() as c:
            run = int(c.execute(
                "INSERT INTO verification_runs (agreement_sha256, agreement_id, agreement_version, "
                "engine, window_start, window_end, created_at, n_records, n_findings, inputs_sha256) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (agreement_sha256, v.agreement_id, v.agreement_version, v.engine, utc_iso(window_start),
                 utc_iso(window_end), _now(), len(v.places), len(v.findings), inputs_sha256)).fetchone()[0])
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

    def verification_runs(self) -> list[VerificationRun]:
        return [VerificationRun(id=r[0], agreement_sha256=r[1], agreement_id=r[2], agreement_version=r[3],
                                engine=r[4], window_start=_parsed(r[5]), window_end=_parsed(r[6]), created_at=r[7],
                                n_records=r[8], n_findings=r[9], inputs_sha256=r[10])
                for r in self.conn.execute(f"SELECT {_VRUN} FROM verification_runs ORDER BY id")]

    def findings(self, run_id: int, *, verdicts: Sequence[str] | None = None) -> list[Finding]:
        """A run's findings, by subject then rule."""
        sql = ("SELECT subject, rule_id, rule_kind, rule_text, verdict, probability, evidence, party, "
               "explanation FROM findings WHERE run_id = ?")
        args: list[Any] = [run_id]
        if verdicts:
            sql += f" AND verdict IN ({','.join('?' * len(verdicts))})"
            args += list(verdicts)
        return [Finding(s, r, k, t, Verdict(v), p, tuple(json.loads(e)), party, x)
                for s, r, k, t, v, p, e, party, x in self.conn.execute(sql + " ORDER BY subject, rule_id", args)]

    def verification(self, run: VerificationRun) -> Verification:
        """The stored run as the :class:`Verification` that ``verify`` returned."""
        places = []
        for record_id, side, distance, sector, data in self.conn.execute(
                "SELECT record_id, side, distance_to_line_m, sector, data FROM placements WHERE run_id = ?",
                (run.id,)):
            d = json.loads(data)
            places.append(PlaceFacts(record_id, side, d["side_probability"], distance,
                                     d["distance_to_reference_m"], sector, d["zones"],
                                     tuple(d["rules_in_force"])))
        # in verify()'s order, whatever the database's collation
        places.sort(key=lambda p: p.record_id)
        findings = sorted(self.findings(run.id), key=lambda f: (f.record_id, f.rule_id))
        return Verification(run.agreement_id, run.agreement_version, run.engine, tuple(places),
                            tuple(findings))

    # -- allegations ---------------------------------------------------------------------------
    def add_allegations(self, allegations: Sequence[tuple[Allegation, str, int | None]],
                        rejected: Sequence[Rejected] = (), *, batch_id: int | None,
                        file_sha256: str) -> AddResult:
        """Insert allegations (with the file and line each came from) and quarantine rows in one
        transaction; the same id with the same content is a duplicate, with other content a
        conflict (quarantined: a correction is a new allegation that ``supersedes`` the old)."""
        added = dup = 0
        bad: list[Rejected] = []
        now = _now()
        with self.transaction() as c:
            self._lock(c, "records", shared=True)
            for allegation, file, line in allegations:
                data = allegation_to_dict(allegation)
                digest = content_hash(data)
                cur = c.execute(
                    "INSERT INTO allegations (id, alleging_party, accused_party, kind, start_s, "
                    "end_s, lon, lat, supersedes, content_hash, data, file, line, batch_id, "
                    "ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO NOTHING RETURNING id",
                    (data["id"], data["alleging_party"], data.get("accused_party"), data["kind"],
                     allegation.start.timestamp(), allegation.end.timestamp(), data["lon"], data["lat"],
                     data.get("supersedes"), digest, json.dumps(data, sort_keys=True, separators=(",", ":")),
                     file, line, batch_id, now))
                if cur.fetchone() is not None:
                    added += 1
                    c.execute("INSERT INTO review (subject_kind, subject_id, state, updated_at) "
                              "VALUES ('allegation', ?, 'received', ?) ON CONFLICT DO NOTHING", (data["id"], now))
                elif c.execute("SELECT content_hash FROM allegations WHERE id = ?",
                               (data["id"],)).fetchone()[0] == digest:
                    dup += 1
                else:
                    bad.append(Rejected(file or "", line, "id", f"allegation id {data['id']!r} is already "
                                        "stored with different content; a correction needs a new id and "
                                        "'supersedes'", json.dumps(data, sort_keys=True)))
            self.quarantine(c, [*rejected, *bad], file_sha256=file_sha256, batch_id=batch_id, now=now)
        return AddResult(added, dup, tuple(bad))

    def allegation_rows(self, *, start: datetime | None = None,
                        end: datetime | None = None) -> list[dict]:
        """Stored allegations (canonical dicts) whose window meets ``[start, end)``, by start then id."""
        sql, args, where = "SELECT data FROM allegations", [], []
        if start is not None:
            where.append("end_s >= ?")
            args.append(start.timestamp())
        if end is not None:
            where.append("start_s < ?")
            args.append(end.timestamp())
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [json.loads(d) for (d,) in self.conn.execute(sql + " ORDER BY start_s, id", args)]

    def allegations(self, *, start: datetime | None = None, end: datetime | None = None) -> list[Allegation]:
        """The stored allegations whose window meets ``[start, end)``."""
        return [allegation_from_stored(d) for d in self.allegation_rows(start=start, end=end)]

    def count_allegations(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM allegations").fetchone()[0])

    def save_allegation_run(self, *, agreement_sha256: str, agreement_id: str,
                            agreement_version: str, engine: str, coverage: str,
                            findings: Sequence[AllegationFinding], window_start: datetime | None,
                            window_end: datetime | None, inputs_sha256: str | None = None) -> int:
        """Store one run of allegation verdicts with what it used (agreement, engine, coverage)."""
        with self.transaction() as c:
            run = int(c.execute(
                "INSERT INTO allegation_runs (agreement_sha256, agreement_id, agreement_version, "
                "engine, coverage, window_start, window_end, created_at, n_allegations, inputs_sha256) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (agreement_sha256, agreement_id, agreement_version, engine, coverage, utc_iso(window_start),
                 utc_iso(window_end), _now(), len(findings), inputs_sha256)).fetchone()[0])
            c.executemany(
                "INSERT INTO allegation_verdicts (run_id, allegation_id, verdict, probability, "
                "detection_probability, data) VALUES (?, ?, ?, ?, ?, ?)",
                [(run, f.allegation_id, str(f.verdict), f.probability, f.detection_probability,
                  json.dumps(f.as_dict(), sort_keys=True, separators=(",", ":")))
                 for f in findings])
        return run

    def allegation_runs(self) -> list[AllegationRun]:
        return [AllegationRun(id=r[0], agreement_sha256=r[1], agreement_id=r[2], agreement_version=r[3],
                              engine=r[4], coverage=r[5], window_start=_parsed(r[6]), window_end=_parsed(r[7]),
                              created_at=r[8], n_allegations=r[9], inputs_sha256=r[10])
                for r in self.conn.execute(f"SELECT {_ARUN} FROM allegation_runs ORDER BY id")]

    def allegation_verdicts(self, run_id: int) -> list[AllegationFinding]:
        return [allegation_finding_from_stored(json.loads(d)) for (d,) in self.conn.execute(
            "SELECT data FROM allegation_verdicts WHERE run_id = ? ORDER BY allegation_id", (run_id,))]
