"""The audit log covers everything a verdict or a report rests on, not only the records' JSON.

What it logs beside records and allegations (entry types, docs/audit.md):

``run``
    A verification or allegation run: every column of the run and a hash of each of its rows
    (findings, placements, allegation verdicts), logged in the transaction that stores the run.
``supersession``
    A fusion run hiding the incidents of an earlier fusion batch in its window: the window and
    the ids of the records it hides.
``release``
    A released daily report: who released it when, and the SHA-256 of its JSON and of each file.
``review``, ``comment``
    A move of a version (or an allegation) in review, and a comment: each row logged whole; the
    state of each version now is derived from them when checked
    (:mod:`linewatch.store.review_integrity`).

:func:`coverage_problems` re-derives all of it from the tables and compares it with the newest
logged versions; together with the derived columns of records and allegations
(:class:`linewatch.store.integrity.Integrity`) every value a query filters on or a rule reads is
either part of the logged content or derived from it when checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from linewatch.audit import Problem, canonical_json
from linewatch.store.integrity import RUN_KINDS, CellMismatch, Integrity, run_subject
from linewatch.store.review_integrity import review_gaps, review_mismatches

if TYPE_CHECKING:
    from linewatch.store.audit_tables import AuditTables

__all__ = ["coverage_problems", "grown_supersessions", "pending_coverage"]

#: subject id -> (index, payload) of the newest logged entry of a type
Logged = dict[str, tuple[int, bytes | None]]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def pending_coverage(tables: AuditTables, c: Any) -> list[tuple[str, str, Any, int | None]]:
    """Items to log (``(type, subject, payload, supersedes)``) for the runs and supersessions that
    are not in the log yet; a changed one is not re-logged (it is a problem for the check)."""
    integrity = Integrity(tables.store)
    items: list[tuple[str, str, Any, int | None]] = []
    logged_runs = tables.logged_subjects(c, "run")
    for kind in RUN_KINDS:
        for run_id in integrity.run_ids(kind):
            subject = run_subject(kind, run_id)
            if subject not in logged_runs:
                digest = integrity.run_digest(kind, run_id)
                if digest is not None:
                    items.append(("run", subject, digest, None))
    logged = tables.logged_subjects(c, "supersession")
    items += [("supersession", s, d, None) for s, d in integrity.supersessions(skip=logged)]
    return items


def grown_supersessions(tables: AuditTables, c: Any, new_records: list[str]) -> list[tuple[str, str, Any, int | None]]:
    """New versions of the logged supersessions that ``new_records`` (just logged, in this
    transaction) legitimately extend: the records a supersession hides now are the logged ones
    plus some of these, and nothing else changed. Anything else stays a problem for the check."""
    superseded = {int(r[0]) for r in c.execute("SELECT DISTINCT batch_id FROM superseded")}
    if not new_records or not superseded:      # the usual ingest: nothing superseded, no more reads
        return []
    batches: set[int] = set()
    for k in range(0, len(new_records), 500):
        part = new_records[k:k + 500]
        batches |= {int(r[0]) for r in c.execute(
            f"SELECT DISTINCT batch_id FROM records WHERE batch_id IS NOT NULL AND id IN "
            f"({','.join('?' * len(part))})", part)}
    batches &= superseded
    if not batches:
        return []
    logged = tables.latest_by_subject("supersession")
    fresh = set(new_records)
    items: list[tuple[str, str, Any, int | None]] = []
    for subject, digest in Integrity(tables.store).supersessions(batches=batches):
        if subject not in logged:
            continue
        index, raw = logged[subject]
        was = _payload(raw)
        if not isinstance(was, dict) or was == json.loads(canonical_json(digest)):
            continue
        now_ids, was_ids = set(digest["records"]), set(was.get("records") or ())
        same_rule = all(was.get(k) == digest[k] for k in ("batch_id", "start_s", "end_s", "by_run"))
        if same_rule and was_ids <= now_ids and now_ids - was_ids <= fresh:
            items.append(("supersession", subject, digest, index))
    return items


def _cell_problem(m: CellMismatch) -> Problem:
    at = f" (entry {m.entry})" if m.entry is not None else ""
    return Problem(f"{m.table} row {m.row!r}", f"column {m.column} is {_short(m.stored)}, but its logged "
                   f"content{at} gives {_short(m.expected)}", m.entry, m.row)


def _payload(raw: bytes | None) -> Any:
    try:
        return json.loads(raw or b"")
    except ValueError:
        return None


def _compare_rows(table: str, run_where: str, got: dict[str, str], logged: dict[str, str],
                  index: int) -> Iterator[Problem]:
    for key in sorted(set(got) | set(logged)):
        where = f"{table} row ({run_where}, {key.replace(chr(9), ', ')})"
        if key not in logged:
            yield Problem(where, f"is not in the logged run (entry {index})", index, key)
        elif key not in got:
            yield Problem(where, f"is logged (entry {index}) but missing from the table", index, key)
        elif got[key] != logged[key]:
            yield Problem(where, f"differs from its logged version (entry {index})", index, key)


def _run_problems(integrity: Integrity, logged: Logged) -> Iterator[Problem]:
    seen = set()
    for kind, (table, _, parts) in RUN_KINDS.items():
        for run_id in integrity.run_ids(kind):
            subject = run_subject(kind, run_id)
            seen.add(subject)
            digest = integrity.run_digest(kind, run_id)
            if subject not in logged:
                yield Problem(f"{table} row {run_id}", "is not in the audit log (run linewatch audit sync "
                              "if the store predates run entries)", None, subject)
                continue
            index, raw = logged[subject]
            want = _payload(raw)
            if not isinstance(want, dict) or digest is None:
                yield Problem(f"{table} row {run_id}", f"its log entry {index} is not a run digest", index, subject)
                continue
            for col, value in digest["run"].items():
                if want.get("run", {}).get(col) != value or col not in want.get("run", {}):
                    yield Problem(f"{table} row {run_id}", f"column {col} is {_short(value)}, the log (entry "
                                  f"{index}) holds {_short(want.get('run', {}).get(col))}", index, subject)
            for part, _, _ in parts:
                yield from _compare_rows(part, f"run {run_id}", digest[part], want.get(part) or {}, index)
    for subject, (index, _) in logged.items():
        if subject not in seen:
            kind, _, number = subject.partition("-run:")
            table = RUN_KINDS[kind][0] if kind in RUN_KINDS else kind
            yield Problem(f"{table} row {number}", f"is logged (entry {index}) but missing from the table",
                          index, subject)


def _supersession_problems(integrity: Integrity, logged: Logged) -> Iterator[Problem]:
    seen = set()
    for subject, digest in integrity.supersessions():
        seen.add(subject)
        where = f"superseded row {subject.split(':', 1)[1]!r}"
        if subject not in logged:
            yield Problem(where, "is not in the audit log", None, subject)
        elif _payload(logged[subject][1]) != json.loads(canonical_json(digest)):
            index = logged[subject][0]
            want = _payload(logged[subject][1]) or {}
            hidden, was = set(digest["records"]), set(want.get("records") or ())
            diff = sorted(hidden ^ was)
            what = (f"hides records {', '.join(map(repr, diff[:3]))} differently from its logged version "
                    f"(entry {index})" if diff else f"differs from its logged version (entry {index})")
            yield Problem(where, what, index, subject)
    for subject, (index, _) in logged.items():
        if subject not in seen:
            yield Problem(f"superseded row {subject.split(':', 1)[1]!r}",
                          f"is logged (entry {index}) but missing from the table", index, subject)


def _release_problems(integrity: Integrity, logged: Logged) -> Iterator[Problem]:
    released = integrity.released_reports()
    for day, now in released.items():
        subject = f"daily-report:{day}"
        if subject not in logged:
            yield Problem(f"daily_reports row {day!r}", "is released but its release is not in the audit log",
                          None, subject)
            continue
        index, raw = logged[subject]
        want = _payload(raw) or {}
        for name in sorted(set(now["files"]) | set(want.get("files") or {})):
            got, was = now["files"].get(name), (want.get("files") or {}).get(name)
            if got != was:
                what = ("is missing" if got is None else "was added after the release" if was is None else
                        f"has SHA-256 {got}, the release (entry {index}) logged {was}")
                yield Problem(f"daily_report_files row ({day}, {name})", what, index, subject)
        for key, value in now.items():     # the keys the entry holds (older entries hold fewer)
            if key != "files" and key in want and want[key] != value:
                yield Problem(f"daily_reports row {day!r}", f"{key} is {_short(value)}, the release (entry "
                              f"{index}) logged {_short(want[key])}", index, subject)
    for subject, (index, _) in logged.items():
        day = subject.removeprefix("daily-report:")
        if day not in released:
            yield Problem(f"daily_reports row {day!r}", f"was released (entry {index}) but is no longer "
                          "stored as released", index, subject)


def coverage_problems(tables: AuditTables) -> list[Problem]:
    """Every stored value a verdict or a report rests on that is not what the log holds."""
    integrity = Integrity(tables.store)
    problems: list[Problem] = []
    problems += map(_cell_problem, integrity.record_mismatches())
    problems += map(_cell_problem, integrity.allegation_mismatches())
    problems += map(_cell_problem, integrity.agreement_mismatches())
    problems += map(_cell_problem, review_mismatches(tables.store))
    problems += [Problem(where, what, None, None) for where, what in review_gaps(tables.store)]
    problems += _run_problems(integrity, tables.latest_by_subject("run"))
    problems += _supersession_problems(integrity, tables.latest_by_subject("supersession"))
    problems += _release_problems(integrity, tables.latest_by_subject("release"))
    return problems
