"""Use cases behind the web service's writes: records and allegations submitted as JSON
objects, and daily reports built into the store and released.

They go through the same parsers, store calls and audit log as the file-based ingest in
:mod:`linewatch.services.ingest`: a bad object is quarantined with its position and field, an id stored
with the same content is a duplicate, with other content a conflict (quarantined).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from linewatch.errors import Conflict
from linewatch.formats.records import Parsed, Rejected, parse_record
from linewatch.model import Report
from linewatch.services.agreements import LoadedAgreement, site_resolver
from linewatch.services.audit import AuditLog
from linewatch.services.report import daily_report
from linewatch.store import Store


@dataclass
class Submission:
    """What happened to one request's objects; ``rejected`` holds ``(index, field, reason)``."""

    added: int = 0
    duplicate: int = 0
    quarantined: int = 0
    ids: list[str | None] = field(default_factory=list)
    rejected: list[tuple[int, str | None, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "duplicate": self.duplicate, "quarantined": self.quarantined,
                "ids": self.ids,
                "rejected": [{"index": i, "field": f, "reason": r} for i, f, r in self.rejected]}


def _raw(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)


def _not_object(source: str, i: int, obj: Any) -> Rejected:
    return Rejected(source, i + 1, None, f"expected a JSON object, got {type(obj).__name__}", _raw(obj))


def submit_records(store: Store, objects: list[Any], *, submitted_by: str,
                   source: str) -> Submission:
    """Store record objects (docs/record-formats.md) submitted by ``submitted_by``.

    The quarantine names the request ``source`` and the object's 1-based position as its line."""
    body = _raw(objects).encode("utf-8")
    sha = hashlib.sha256(body).hexdigest()
    out = Submission()
    records: list[Report] = []
    rejected: list[Rejected] = []
    for i, obj in enumerate(objects):
        item = (parse_record(obj, name=source, line=i + 1, raw=_raw(obj)) if isinstance(obj, dict)
                else _not_object(source, i, obj))
        if isinstance(item, Parsed):
            records.append(item.report)
            out.ids.append(item.report.id)
        else:
            rejected.append(item)
            out.rejected.append((i, item.field, item.reason))
            out.ids.append(None)
    with store.transaction() as c:  # one commit: the batch, its records, their audit entries
        store.serialize_writes(c)
        batch = store.begin_batch(source, sha, "api", submitted_by=submitted_by)
        res = store.add_records(records, rejected, batch_id=batch, file_sha256=sha)
        store.finish_batch(batch)
        AuditLog(store).log_new_records()
    for conflict in res.conflicts:
        line = int(conflict.line or 1)
        out.rejected.append((line - 1, conflict.field, conflict.reason))
        out.ids[line - 1] = None
    out.rejected.sort()
    out.added, out.duplicate = res.added, res.duplicate
    out.quarantined = len(rejected) + len(res.conflicts)
    return out


def submit_allegations(store: Store, objects: list[Any], *, submitted_by: str,
                       source: str) -> Submission:
    """Store allegation objects (docs/allegation-formats.md) submitted by ``submitted_by``."""
    from linewatch.formats.allegations import parse_allegation
    from linewatch.formats.resources import load_gazetteer
    body = _raw(objects).encode("utf-8")
    sha = hashlib.sha256(body).hexdigest()
    gazetteer = None

    def settlements(name: str, country: str | None) -> tuple[float, float]:
        nonlocal gazetteer
        gazetteer = gazetteer or load_gazetteer()
        return gazetteer.resolve(name, country=country)
    sites = site_resolver(store)
    out = Submission()
    rows: list[tuple] = []
    rejected: list[Rejected] = []
    for i, obj in enumerate(objects):
        item = (parse_allegation(obj, name=source, line=i + 1, raw=_raw(obj), settlements=settlements,
                       sites=sites) if isinstance(obj, dict) else _not_object(source, i, obj))
        if isinstance(item, Rejected):
            rejected.append(item)
            out.rejected.append((i, item.field, item.reason))
            out.ids.append(None)
        else:
            rows.append((item.allegation, source, i + 1))
            out.ids.append(item.allegation.id)
    with store.transaction() as c:
        store.serialize_writes(c)
        batch = store.begin_batch(source, sha, "api-allegations", submitted_by=submitted_by)
        res = store.add_allegations(rows, rejected, batch_id=batch, file_sha256=sha)
        store.finish_batch(batch)
        AuditLog(store).log_new_records()
    for conflict in res.conflicts:
        line = int(conflict.line or 1)
        out.rejected.append((line - 1, conflict.field, conflict.reason))
        out.ids[line - 1] = None
    out.rejected.sort()
    out.added, out.duplicate = res.added, res.duplicate
    out.quarantined = len(rejected) + len(res.conflicts)
    return out


_MEDIA = {".html": "text/html; charset=utf-8", ".json": "application/json", ".pdf": "application/pdf",
          ".png": "image/png", ".css": "text/css"}


def build_daily_report(store: Store, loaded: LoadedAgreement, day: date, *, built_by: str,
                       network_path: str | Path | None = None, key: Any = None,
                       verify_first: bool = False, include_unreviewed: bool = False) -> dict[str, Any]:
    """Build the day's report (as ``linewatch report`` does, from the stored runs, or after
    running them with ``verify_first``) and keep it in the store, with its HTML, PDF, JSON and
    figures; returns the report's JSON. It counts approved records, and with
    ``include_unreviewed`` also those still under review, marked as such (such a report is never
    released). A released day is refused (Conflict) before anything is built: a released report
    is final, and its build would take seconds only to be refused."""
    from linewatch.services.verify import coverage_from_network
    refuse_released(store, day)
    coverage = name = network = None
    if network_path is not None:
        coverage, name, network = coverage_from_network(network_path)
    with tempfile.TemporaryDirectory(prefix="linewatch-report-") as tmp:
        kwargs: dict[str, Any] = {"key": key, "verify_first": verify_first}
        if include_unreviewed:
            kwargs["include_unreviewed"] = True
        if coverage is not None:
            kwargs.update(coverage=coverage, coverage_name=name, network=network)
        paths = daily_report(store, loaded, day, Path(tmp), **kwargs)
        return keep_daily_report(store, loaded, day, paths, built_by=built_by)


def refuse_released(store: Store, day: date) -> None:
    """Conflict when the day's daily report is released (it is never rebuilt); the store
    refuses it again when a report is put."""
    day_s = day.isoformat()
    for r in store.daily_reports(released_only=True):
        if r["day"] == day_s:
            raise Conflict(f"the daily report of {day_s} was released at {r['released_at']} by "
                           f"{r['released_by']}; a released report is never rebuilt")


def keep_daily_report(store: Store, loaded: LoadedAgreement, day: date,
                      paths: dict[str, Path], *, built_by: str) -> dict[str, Any]:
    """Keep a report written by :func:`linewatch.services.report.daily_report` (every file of its
    directory) in the store; returns the report's JSON."""
    folder = Path(paths["json"]).parent
    files = [(p.relative_to(folder).as_posix(), _MEDIA[p.suffix], p.read_bytes())
             for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix in _MEDIA]
    report_json = Path(paths["json"]).read_text(encoding="utf-8")
    store.put_daily_report(day.isoformat(), report_json=report_json, files=files,
                           built_by=built_by, agreement_sha256=loaded.sha256)
    return json.loads(report_json)


def release_problem(store: Store, day: date, released_by: str) -> str | None:
    """Why ``released_by`` may not release the day's built report (None: they may): it counts
    records still under review, or (four eyes, :func:`linewatch.review.release_problem`) they
    approved every record it counts. NotFound if no report of the day is built."""
    from linewatch.review import release_problem as four_eyes
    day_s = day.isoformat()
    report = json.loads(store.daily_report_json(day_s))
    rows = report.get("records") or []
    unreviewed = sum(1 for row in rows if row.get("unreviewed"))
    if unreviewed:
        return (f"the daily report of {day_s} counts {unreviewed} record{'s' if unreviewed != 1 else ''} "
                "still under review (built with unreviewed records included): build it again from approved "
                "records before it is released")
    approvals = store.approvals([row["id"] for row in rows])
    problem = four_eyes(released_by, list(approvals.values()))
    return None if problem is None else f"the daily report of {day_s} cannot be released: {problem}"


def release_daily_report(store: Store, day: date, *, released_by: str) -> str:
    """Release the day's report to the parties and the public; the release is logged in the
    audit log with the SHA-256 of every file. Returns when it was released. Conflict when
    :func:`release_problem` says why not (a released report is released again as it was)."""
    from linewatch.services.audit import AuditLog
    from linewatch.store.integrity import Integrity
    day_s = day.isoformat()
    with store.transaction():       # the check, the release and its log entry commit together
        if not any(r["day"] == day_s for r in store.daily_reports(released_only=True)):
            problem = release_problem(store, day, released_by)
            if problem is not None:
                raise Conflict(problem)
        released = store.release_daily_report(day_s, released_by=released_by)
        log = AuditLog(store)
        try:
            log.latest(f"daily-report:{day_s}", "release")
        except LookupError:
            log.append("release", f"daily-report:{day_s}", Integrity(store).released_reports()[day_s])
    return released
