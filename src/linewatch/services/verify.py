"""Verification as a use case: judge the stored records and allegations, store the runs.

``linewatch verify`` and ``linewatch allegations verify`` call these. Each run is stored with a
digest of what it judged (``inputs_sha256``: the agreement, and the ids and content hashes of
the records and allegations in its window), so that the daily report can tell whether the run
still speaks for the store (:mod:`linewatch.services.report`).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from linewatch.errors import InputError, NotFound
from linewatch.formats.canonical import content_hash
from linewatch.services.agreements import LoadedAgreement
from linewatch.services.audit import AuditLog
from linewatch.store import Store
from linewatch.verification import Allegation, AllegationFinding, Verification, verify

__all__ = ["ALLEGATION_MARGIN_S", "allegation_inputs", "coverage_from_network", "day_window",
           "remember_network", "stored_allegations", "verification_inputs", "verify_allegations",
           "verify_store"]

#: records this long before an allegation's window and after it may bear on it
ALLEGATION_MARGIN_S = 3 * 3600.0


def day_window(day: date) -> tuple[datetime, datetime]:
    """``[00:00, 24:00)`` UTC of a day."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def verification_inputs(store: Store, loaded: LoadedAgreement, start: datetime | None,
                        end: datetime | None) -> str:
    """The digest a verification run of ``[start, end)`` keeps of what it judged."""
    return hashlib.sha256(f"{loaded.sha256}\n{store.records_digest(start=start, end=end)}".encode()).hexdigest()


def verify_store(store: Store, loaded: LoadedAgreement, *, start: datetime | None = None,
                 end: datetime | None = None) -> tuple[int, Verification]:
    """Verify the stored records of ``[start, end)`` and store the run; ``(run id, result)``."""
    # the digest first: a record stored meanwhile by another writer makes the run stale, never
    # silently part of a digest whose verdicts do not cover it
    inputs = verification_inputs(store, loaded, start, end)
    reports = store.reports(start=start, end=end)
    verification = verify(loaded.agreement, reports)
    loaded.record(store)
    with store.transaction():       # the run and its log entry commit together
        run = store.save_verification(agreement_sha256=loaded.sha256, verification=verification,
                                      window_start=start, window_end=end, inputs_sha256=inputs)
        AuditLog(store).log_run("verification", run)
    return run, verification


def stored_allegations(store: Store, *, start: datetime | None = None,
                       end: datetime | None = None) -> list[Allegation]:
    """The stored allegations in a window, without those a later allegation supersedes and those
    a reviewer rejected (docs/review.md: a duplicate, or not an allegation at all)."""
    items = store.allegations(start=start, end=end)
    superseded = {a.supersedes for a in items if a.supersedes}
    states = store.review_states("allegation", [a.id for a in items])
    return [a for a in items if a.id not in superseded
            and (a.id not in states or states[a.id].state != "rejected")]


def _reach(allegations: list[Allegation]) -> tuple[datetime, datetime] | None:
    if not allegations:
        return None
    margin = timedelta(seconds=ALLEGATION_MARGIN_S)
    return min(a.start for a in allegations) - margin, max(a.end for a in allegations) + margin


def allegation_inputs(store: Store, loaded: LoadedAgreement, coverage_name: str,
                      start: datetime | None, end: datetime | None) -> str:
    """The digest an allegation run of ``[start, end)`` keeps of what it judged."""
    from linewatch.formats.allegations import allegation_to_dict
    allegations = stored_allegations(store, start=start, end=end)
    h = hashlib.sha256(f"{loaded.sha256}\n{coverage_name}\n{ALLEGATION_MARGIN_S}\n".encode())
    for a in sorted(allegations, key=lambda a: a.id):
        h.update(f"{a.id}\t{content_hash(allegation_to_dict(a))}\n".encode())
    reach = _reach(allegations)
    if reach is not None:
        h.update(store.records_digest(start=reach[0], end=reach[1]).encode())
    return h.hexdigest()


def verify_allegations(store: Store, loaded: LoadedAgreement, *, coverage: Any = None,
                       coverage_name: str = "none", start: datetime | None = None,
                       end: datetime | None = None, key: Any = None
                       ) -> tuple[int, list[AllegationFinding]]:
    """Adjudicate the stored allegations of a window against the stored records (and what the
    network could have seen: ``coverage``); store the run, append every verdict to the audit
    log (signed with ``key``, an Ed25519 private key, if given) and return
    ``(run id, findings)``."""
    from linewatch.verification import ALLEGATION_ENGINE, adjudicate
    inputs = allegation_inputs(store, loaded, coverage_name, start, end)   # first, as in verify_store
    allegations = stored_allegations(store, start=start, end=end)
    reach = _reach(allegations)
    records = store.reports(start=reach[0], end=reach[1]) if reach else []
    findings = list(adjudicate(allegations, records, loaded.agreement, coverage))
    loaded.record(store)
    log = AuditLog(store, key=key)

    def earlier(subject: str) -> int | None:     # a verdict given again corrects the last one
        try:
            return log.latest(subject, "verdict").index
        except NotFound:
            return None
    with store.transaction():       # the run, its verdicts and their log entries commit together
        run = store.save_allegation_run(
            agreement_sha256=loaded.sha256, agreement_id=loaded.agreement.id,
            agreement_version=loaded.agreement.version, engine=ALLEGATION_ENGINE,
            coverage=coverage_name, findings=findings, window_start=start, window_end=end,
            inputs_sha256=inputs)
        log.append_many([("verdict", f.allegation_id,
                          {**f.as_dict(), "run": run, "coverage": coverage_name,
                           "agreement_sha256": loaded.sha256}, earlier(f.allegation_id))
                         for f in findings])
        log.log_run("allegations", run)
    return run, findings


def coverage_from_network(path: str | Path) -> tuple[Any, str, Any]:
    """``(coverage function, name, network)`` for allegation verdicts from a network file
    (docs/coverage.md): the name records the file and its SHA-256 with each verdict run.
    Rows of the sensors file that cannot be read make the network unusable (InputError)."""
    from linewatch.formats.network import read_network
    from linewatch.verification import network_coverage
    path = Path(path)
    network, rejected = read_network(path)
    if rejected:
        first = rejected[0]
        raise InputError(f"{first.file}: line {first.line}: {first.reason} (the network's sensors "
                         f"file has {len(rejected)} bad row(s); fix it before judging coverage)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return network_coverage(network), f"{path.name} sha256:{digest[:16]}", network


def remember_network(store: Store, path: str | Path) -> None:
    """Record the network file (its absolute path, SHA-256 and text) in the store, so that
    ``linewatch serve`` finds the network the store's verdicts used."""
    path = Path(path).resolve()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the network file: {exc.strerror}") from exc
    store.put_network(hashlib.sha256(raw).hexdigest(), str(path), raw.decode("utf-8", errors="replace"))
