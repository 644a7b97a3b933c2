"""The daily report as a use case: read what ``verify`` stored, build, render, sign.

The report never judges anything itself. It reads the verification run that covers its days
(the report day and the two weeks of history before it) and the allegation verdicts that cover
the day, after checking that they still match the store: a run whose records, allegations or
agreement changed since is stale. Missing or stale results stop the report with
:class:`~linewatch.errors.OutOfDate` naming the command that brings them up to date, unless the
caller asks for that command to run first (``verify_first``). The report names the runs it used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from linewatch import reporting
from linewatch.errors import InputError, NotFound, OutOfDate
from linewatch.model import EARLIEST_TIME, LATEST_TIME, Report
from linewatch.services.agreements import LoadedAgreement
from linewatch.services.verify import (
    allegation_inputs,
    day_window,
    stored_allegations,
    verification_inputs,
    verify_allegations,
    verify_store,
)
from linewatch.store import AllegationRun, Store, VerificationRun
from linewatch.verification import ENGINE_VERSION as VERIFY_ENGINE
from linewatch.verification import AllegationFinding, Verification

__all__ = ["HISTORY_DAYS", "StoredResults", "check_report_day", "daily_report", "publish_report", "stored_results"]

#: days of history before the report day that the trend and the previous period need
HISTORY_DAYS = 14


@dataclass(frozen=True)
class StoredResults:
    """What the report reads: for each of its days that holds records, the stored verification
    run that covers it (and that day's part of the run's result), and the day's allegation
    verdicts."""

    days: dict[date, tuple[list[Report], Verification, VerificationRun | None]]
    allegation_run: AllegationRun | None
    allegations: list[AllegationFinding]

    def sources(self, day: date) -> dict[str, Any]:
        """The runs, as the report names them."""
        def run(r: VerificationRun | AllegationRun | None) -> dict[str, Any] | None:
            return None if r is None else {"id": r.id, "created_at": r.created_at, "engine": r.engine,
                                           "agreement_sha256": r.agreement_sha256}
        used = sorted({r.id for _, _, r in self.days.values() if r is not None})
        out: dict[str, Any] = {"verification_run": run(self.days[day][2]), "verification_runs": used,
                               "allegation_run": run(self.allegation_run)}
        if self.allegation_run is not None:
            out["allegation_run"]["coverage"] = self.allegation_run.coverage
        return out


def _span(days: list[date]) -> str:
    return f"--from {min(days):%Y-%m-%d} --to {max(days) + timedelta(days=1):%Y-%m-%d}"


class _Runs:
    """The stored verification runs against one agreement, each checked once for staleness."""

    def __init__(self, store: Store, loaded: LoadedAgreement) -> None:
        self.store, self.loaded = store, loaded
        self.runs = [r for r in reversed(store.verification_runs()) if r.agreement_sha256 == loaded.sha256]
        self._fresh: dict[int, bool] = {}
        self._results: dict[int, Verification] = {}

    def fresh(self, run: VerificationRun) -> bool:
        if run.id not in self._fresh:
            self._fresh[run.id] = run.inputs_sha256 == verification_inputs(
                self.store, self.loaded, run.window_start, run.window_end)
        return self._fresh[run.id]

    def covering(self, d: date) -> tuple[VerificationRun | None, list[VerificationRun]]:
        """The latest current run that covers the day, and the stale ones that would have."""
        stale: list[VerificationRun] = []
        for run in self.runs:
            if run.covers(*day_window(d)):
                if self.fresh(run):
                    return run, stale
                stale.append(run)
        return None, stale

    def result(self, run: VerificationRun) -> Verification:
        if run.id not in self._results:
            self._results[run.id] = self.store.verification(run)
        return self._results[run.id]


def _verified_days(store: Store, loaded: LoadedAgreement, days: list[date]
                   ) -> dict[date, tuple[list[Report], Verification, VerificationRun | None]]:
    runs = _Runs(store, loaded)
    out: dict[date, tuple[list[Report], Verification, VerificationRun | None]] = {}
    missing: list[date] = []
    stale: set[int] = set()
    for d in days:
        reports = store.reports(start=day_window(d)[0], end=day_window(d)[1])
        run, old = runs.covering(d) if reports else (None, [])
        if reports and run is None:
            missing.append(d)
            stale |= {r.id for r in old}
            continue
        v = _of_day(runs.result(run), reports) if run is not None else Verification(
            loaded.agreement.id, loaded.agreement.version, VERIFY_ENGINE, (), ())   # nothing to judge
        out[d] = (reports, v, run)
    if missing:
        command = f"linewatch verify --agreement {loaded.name} {_span(missing)}"
        what = (f"verification run{'s' if len(stale) > 1 else ''} {', '.join(map(str, sorted(stale)))} "
                f"{'are' if len(stale) > 1 else 'is'} stale: records were added or changed since"
                if stale else f"no verification run against {loaded.agreement.id} v{loaded.agreement.version} "
                "covers them")
        raise OutOfDate(f"the report needs the verdicts on the records of {len(missing)} day(s) from "
                        f"{min(missing):%Y-%m-%d} to {max(missing):%Y-%m-%d}, and {what}: run `{command}`, "
                        "or report with --verify-first")
    return out


def _allegation_run(store: Store, loaded: LoadedAgreement, start: datetime,
                    end: datetime) -> tuple[AllegationRun | None, list[AllegationFinding]]:
    runs = [r for r in store.allegation_runs()
            if r.agreement_sha256 == loaded.sha256 and r.covers(start, end)]
    command = (f"linewatch allegations verify --agreement {loaded.name} [--network FILE] "
               f"{_span([start.date()])}")
    if not runs:
        if stored_allegations(store, start=start, end=end):
            raise OutOfDate(f"the allegations of {start:%Y-%m-%d} have no verdicts against "
                            f"{loaded.agreement.id} v{loaded.agreement.version}: run `{command}`, "
                            "or report with --verify-first")
        return None, []
    run = runs[-1]
    if run.inputs_sha256 != allegation_inputs(store, loaded, run.coverage, run.window_start, run.window_end):
        raise OutOfDate(f"allegation run {run.id} ({run.created_at}) is stale: allegations or records it "
                        f"judged were added or changed since: run `{command}`, or report with --verify-first")
    ids = {a.id for a in stored_allegations(store, start=start, end=end)}
    return run, [f for f in store.allegation_verdicts(run.id) if f.allegation_id in ids]


def stored_results(store: Store, loaded: LoadedAgreement, day: date, *,
                   history_days: int = HISTORY_DAYS) -> StoredResults:
    """The stored results a report of ``day`` rests on, checked against the store."""
    days = [day - timedelta(days=back) for back in range(history_days, -1, -1)]
    verified = _verified_days(store, loaded, days)
    allegation_run, allegations = _allegation_run(store, loaded, *day_window(day))
    return StoredResults(verified, allegation_run, allegations)


def _of_day(v: Verification, reports: list[Report]) -> Verification:
    """The part of a run's result that concerns the given records (a day's)."""
    ids = {r.id for r in reports}
    return Verification(v.agreement_id, v.agreement_version, v.engine,
                        tuple(p for p in v.places if p.record_id in ids),
                        tuple(f for f in v.findings
                              if f.record_id in ids or (f.evidence and f.evidence[0] in ids)))


def _verify_first(store: Store, loaded: LoadedAgreement, day: date, history_days: int, *,
                  coverage: Any, coverage_name: str, key: Any) -> None:
    start, end = day_window(day - timedelta(days=history_days))[0], day_window(day)[1]
    verify_store(store, loaded, start=start, end=end)
    verify_allegations(store, loaded, coverage=coverage, coverage_name=coverage_name,
                       start=day_window(day)[0], end=end, key=key)


def _counted(store: Store, results: StoredResults, include_unreviewed: bool
             ) -> dict[date, tuple[list[Report], Verification, dict[str, Any]]]:
    """Each day's records as the report counts them (approved, and pending ones with
    ``include_unreviewed``), their part of the verification, and the day's review block."""
    ids = [r.id for reports, _, _ in results.days.values() for r in reports]
    states = {k: row.state for k, row in store.review_states("record", ids).items()}
    out = {}
    for d, (reports, v, _) in results.days.items():
        got = reporting.reviewed(reports, states, include_unreviewed=include_unreviewed)
        out[d] = (got.counted, _of_day(v, got.counted), got.block)
    return out


def daily_report(store: Store, loaded: LoadedAgreement, day: date, out_dir: Path, *,
                 history_days: int = HISTORY_DAYS, network: Any = None, key: Any = None,
                 verify_first: bool = False, coverage: Any = None,
                 coverage_name: str = "none", include_unreviewed: bool = False) -> dict[str, Path]:
    """Write the report of ``day`` in every format from the stored results; with ``key`` (an
    Ed25519 private key) also the signed bundle a party can check. ``verify_first`` runs
    ``verify`` and ``allegations verify`` (with ``coverage``) before reading.

    The report counts the approved current versions of each day's records; with
    ``include_unreviewed`` also those still under review, marked as unreviewed. It carries the
    corrections of earlier released reports (:mod:`linewatch.services.report_corrections`)."""
    from linewatch.formats.resources import load_boundaries, load_gazetteer
    from linewatch.render.report import write_report
    from linewatch.services.report_corrections import released_corrections

    check_report_day(day)
    if verify_first:
        _verify_first(store, loaded, day, history_days, coverage=coverage, coverage_name=coverage_name, key=key)
    if store.count_records() == 0:
        raise NotFound("records", f"for {day.isoformat()} (the store is empty)")
    results = stored_results(store, loaded, day, history_days=history_days)
    counted = _counted(store, results, include_unreviewed)
    ag = loaded.agreement
    reports, verification, review = counted[day]
    prev_reports, prev_verification, prev_review = counted[day - timedelta(days=1)]
    history = [{**reporting.count_day(ag, d, r, v), "review": reporting.trend_review(b)}
               for d, (r, v, b) in counted.items() if d < day]
    report = reporting.build_daily_report(
        ag, day, reports=reports, verification=verification, previous_reports=prev_reports,
        previous_verification=prev_verification, history=history, gazetteer=load_gazetteer(),
        generated_at=datetime.now(UTC).replace(microsecond=0),
        engine=verification.engine, allegations=results.allegations,
        line_coverage=_line_coverage(network, ag, day_window(day)[0]) if network is not None else None,
        review=review, previous_review=prev_review,
        corrections=released_corrections(store, loaded, day, verify_first=verify_first))
    report["sources"] = results.sources(day)
    paths = write_report(report, ag, Path(out_dir), boundaries=load_boundaries(), reports=reports,
                         gazetteer=load_gazetteer(), network=network)
    if key is not None:
        paths["bundle"] = publish_report(store, paths, key, report_id=f"daily-{day.isoformat()}")
    return paths


def check_report_day(day: date) -> None:
    """InputError unless a report of ``day`` stays in the window of record times (its history
    days included), ``[EARLIEST_TIME, LATEST_TIME)``: docs/record-formats.md, "Limits"."""
    first, last = EARLIEST_TIME.date(), LATEST_TIME.date() - timedelta(days=1)
    if not first <= day <= last:
        raise InputError(f"no daily report of {day.isoformat()}: a report's day is from {first.isoformat()} "
                         f"to {last.isoformat()}, the window of record times (docs/record-formats.md, \"Limits\")")


def _line_coverage(network: Any, agreement: Any, day_start: datetime) -> list[dict] | None:
    """The share of the line the network covered (explosions, P >= 0.5) each hour of the day."""
    if agreement.line_parts is None:
        return None
    from linewatch.render.coverage_map import hourly_line_shares
    return hourly_line_shares(network, agreement.line_parts, day_start.timestamp(), "explosion")


def publish_report(store: Store, paths: dict[str, Path], key: Any, *, report_id: str) -> Path:
    """Log the report's files, sign them and a new tree head, and write the bundle a party can
    check with the public key alone (docs/audit.md); returns its path."""
    from linewatch.services.audit import AuditLog, make_bundle
    files = {p.name: p.read_bytes() for kind, p in sorted(paths.items()) if kind != "bundle"}
    bundle = make_bundle(files, AuditLog(store, key=key), key, report_id=report_id)
    out = next(iter(paths.values())).parent / f"{report_id}.lwbundle.json"
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(bundle)
    tmp.replace(out)
    return out
