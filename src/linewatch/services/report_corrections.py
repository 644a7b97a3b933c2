"""What the next daily report corrects: the figures of earlier released reports that a later
approved correction (or a rejection) of a record they counted changed.

For each released daily report of an earlier day, :func:`released_corrections` reads the records
it counted (its JSON's records table), the changes since (a later version approved, or the
record rejected: the latest settled version after the released one; a correction still under
review changes nothing yet), recomputes the day's figures from the versions that stand now,
with the day's stored verification (the released run's facts for a released version whose
correction is still pending), and lets :func:`linewatch.reporting.corrections_of` compare them
with the figures as released. What an earlier released report's Corrections section announced
is not announced again (docs/report-formats.md, "Corrections").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from linewatch import reporting
from linewatch.errors import OutOfDate
from linewatch.formats.canonical import record_from_canonical
from linewatch.model import Report
from linewatch.review import State
from linewatch.services.agreements import LoadedAgreement
from linewatch.services.verify import day_window, verify_store
from linewatch.store import Store
from linewatch.verification import Verification

__all__ = ["record_changes", "released_corrections"]


def _reason_of_rejection(store: Store, version: str) -> str | None:
    moves = [e for e in store.review_events("record", [version]) if e.get("to") == State.REJECTED.value]
    return moves[-1].get("note") if moves else None


def record_changes(store: Store, ids: Sequence[str]) -> list[dict[str, Any]]:
    """The settled changes of the versions ``ids`` (a released report's records) since:
    ``{"old", "new", "change", "reason"}``, ``new`` the approved version that replaces ``old``
    (None: rejected), ``reason`` the correction's or the rejection's."""
    if not ids:
        return []
    later = store.superseded_by(ids)
    states = store.review_states("record", ids)
    out = []
    for old in ids:
        own = states.get(old)
        if old not in later and not (own is not None and own.state == State.REJECTED.value):
            continue
        chain = store.version_chain(old)
        after = chain[chain.index(old) + 1:]
        after_states = store.review_states("record", after)
        settled = next(((v, after_states[v].state) for v in reversed(after) if v in after_states
                        and after_states[v].state in (State.APPROVED.value, State.REJECTED.value)), None)
        if settled is None and own is not None and own.state == State.REJECTED.value:
            settled = (old, State.REJECTED.value)
        if settled is None:
            continue                      # the correction is still under review
        version, state = settled
        if state == State.APPROVED.value:
            out.append({"old": old, "new": version, "change": "corrected",
                        "reason": store.record_row(version).data.get("correction")})
        else:
            out.append({"old": old, "new": None, "change": "rejected",
                        "reason": _reason_of_rejection(store, version)})
    return out


def _released_facts(store: Store, report: dict[str, Any], reports: list[Report]) -> Verification | None:
    """The facts the released report's own verification run holds on ``reports``."""
    run_id = ((report.get("sources") or {}).get("verification_run") or {}).get("id")
    run = next((r for r in store.verification_runs() if r.id == run_id), None)
    if run is None or not reports:
        return None
    from linewatch.services.report import _of_day
    return _of_day(store.verification(run), reports)


def _recount(store: Store, loaded: LoadedAgreement, day: date, report: dict[str, Any],
             changes: list[dict[str, Any]], *, verify_first: bool) -> dict[str, Any]:
    """The day's figures from the versions that stand now of the records the report counted."""
    from linewatch.services.report import _of_day, _verified_days
    try:
        current, v, _ = _verified_days(store, loaded, [day])[day]
    except OutOfDate:
        if not verify_first:
            raise
        verify_store(store, loaded, start=day_window(day)[0], end=day_window(day)[1])
        current, v, _ = _verified_days(store, loaded, [day])[day]
    by_id = {r.id: r for r in current}
    replaced = {c["old"]: c["new"] for c in changes}
    ids = [row["id"] for row in report.get("records", [])]
    standing = [replaced.get(i, i) for i in ids]
    reports = [by_id[i] for i in standing if i is not None and i in by_id]
    held = [i for i in ids if i not in replaced and i not in by_id]   # a correction still pending
    old = [record_from_canonical(store.record_row(i).data) for i in held]
    facts = _of_day(v, reports)
    extra = _released_facts(store, report, old)
    if extra is not None:
        facts = Verification(facts.agreement_id, facts.agreement_version, facts.engine,
                             facts.places + extra.places, facts.findings + extra.findings)
    return reporting.count_day(loaded.agreement, day, reports + old, facts)


def released_corrections(store: Store, loaded: LoadedAgreement, day: date, *,
                         verify_first: bool = False) -> list[dict[str, Any]]:
    """The Corrections section of the report of ``day``: one entry per earlier released report
    that a settled change altered, oldest report first, each with when it was released."""
    released = [r for r in store.daily_reports(released_only=True) if r["day"] < day.isoformat()]
    reports = {r["day"]: json.loads(store.daily_report_json(r["day"])) for r in released}
    seen, values = reporting.announced(
        [e for d in sorted(reports) for e in (reports[d].get("corrections") or [])])
    out = []
    for r in released:
        report = reports[r["day"]]
        changes = record_changes(store, [row["id"] for row in report.get("records", [])])
        if not [c for c in changes if (r["day"], c["old"], c["new"]) not in seen]:
            continue
        recount = _recount(store, loaded, date.fromisoformat(r["day"]), report, changes, verify_first=verify_first)
        entry = reporting.corrections_of(r["day"], report, recount, changes, seen, values)
        if entry is not None:
            out.append({**entry, "released_at": r["released_at"]})
    return out
