"""Ingest: report and allegation files into the store, each read once, each row once.

A file is streamed once: its bytes are hashed as the parser reads them, and its format is told
from the first block. Good records go to the store chunk by chunk, each chunk in one
transaction together with its audit-log entries, so a process killed at any point leaves every
stored record in the log. Bad rows wait (spooled to disk past a few MB) until the file's SHA-256
is known, and go to the quarantine with it at the end; a re-run of a killed ingest stores each
record and quarantines each bad row exactly once.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from linewatch.errors import InputError
from linewatch.formats import Parsed, Rejected, detect_format, read_records
from linewatch.model import Report
from linewatch.services.agreements import site_resolver
from linewatch.services.audit import AuditLog
from linewatch.store import Store

__all__ = ["IngestSummary", "Progress", "ingest_file", "store_reports"]

Progress = Callable[[int], None]
_HEAD_BYTES = 4096


class _HashingReader(io.RawIOBase):
    """A binary stream that hashes what passes through it and reports the bytes read."""

    def __init__(self, raw: IO[bytes], progress: Progress | None) -> None:
        self._raw, self._progress = raw, progress
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        if n:
            self.sha256.update(data)
            if self._progress is not None:
                self._progress(n)
        return n


class _Spool:
    """Rejected rows kept until the file's hash is known: in memory, then on disk."""

    def __init__(self, fh: IO[str]) -> None:
        self._fh = fh
        self.count = 0

    def add(self, r: Rejected) -> None:
        self._fh.write(json.dumps([r.file, r.line, r.field, r.reason, r.raw, r.raw_sha256, r.raw_size]) + "\n")
        self.count += 1

    def rows(self) -> Iterator[Rejected]:
        self._fh.seek(0)
        for line in self._fh:
            yield Rejected(*json.loads(line))


#: the distinct reasons a summary counts one by one (the rest are counted together)
MAX_REASONS = 1000
#: the reasons a summary's lines name (the most frequent first)
SHOWN_REASONS = 10


@dataclass
class IngestSummary:
    """What one file's ingest did. ``reasons`` counts the quarantined rows by their whole
    reason (a reason is never cut: ``time: '2026-06-15T10:00' has no time zone`` stays one);
    past MAX_REASONS distinct reasons, ``other_reasons`` counts the rows of the rest."""

    file: str
    format: str
    added: int = 0
    duplicate: int = 0
    quarantined: int = 0
    batch_id: int | None = None
    reasons: dict[str, int] = field(default_factory=dict)
    other_reasons: int = 0

    def count(self, reasons: Iterator[str] | list[str]) -> None:
        for reason in reasons:
            if reason in self.reasons or len(self.reasons) < MAX_REASONS:
                self.reasons[reason] = self.reasons.get(reason, 0) + 1
            else:
                self.other_reasons += 1

    def reason_lines(self, shown: int = SHOWN_REASONS) -> list[str]:
        """``quarantined N: REASON`` for the ``shown`` most frequent reasons (then by text),
        and a line that counts the rows of the others."""
        ranked = sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        lines = [f"quarantined {n}: {reason}" for reason, n in ranked[:shown]]
        rest = sum(n for _, n in ranked[shown:]) + self.other_reasons
        if rest:
            lines.append(f"quarantined {rest} more, for other reasons (linewatch quarantine list)")
        return lines


def _open(path: Path) -> IO[bytes]:
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a file")
    try:
        return path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc


def ingest_file(store: Store, path: str | Path, *, fmt: str | None = None,
                chunk_size: int = 500, progress: Progress | None = None,
                submitted_by: str | None = None) -> IngestSummary:
    """Read one file into the store. Good records are stored once; bad ones are quarantined.
    ``submitted_by`` is the user the file's records are attributed to (their author in review)."""
    path = Path(path)
    with _open(path) as raw:
        reader = _HashingReader(raw, progress)
        buffered = io.BufferedReader(reader, buffer_size=1 << 16)
        head = buffered.peek(_HEAD_BYTES)[:_HEAD_BYTES].decode("utf-8-sig", errors="replace")
        fmt = fmt or detect_format(path.name, head)
        text = io.TextIOWrapper(buffered, encoding="utf-8-sig", newline="")
        try:
            if fmt in ("jsonl", "csv") and _holds_allegations(head, fmt):
                return _ingest_allegations(store, path, text, reader, fmt=fmt, submitted_by=submitted_by)
            return _ingest_records(store, path, text, reader, fmt=fmt, chunk_size=chunk_size,
                                   submitted_by=submitted_by)
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not UTF-8 text (byte {exc.start}): {exc.reason}") from exc


def _ingest_records(store: Store, path: Path, text: IO[str], reader: _HashingReader, *, fmt: str,
                    chunk_size: int, submitted_by: str | None = None) -> IngestSummary:
    summary = IngestSummary(str(path), fmt)
    summary.batch_id = batch = store.begin_batch(str(path), "", fmt, submitted_by=submitted_by)
    reports: list[Report] = []
    with tempfile.SpooledTemporaryFile(max_size=8 << 20, mode="w+", encoding="utf-8") as fh:
        spool = _Spool(fh)

        def flush() -> None:
            with store.transaction() as c:   # one commit: the chunk's records and their log entries
                store.serialize_writes(c)
                res = store.add_records(reports, batch_id=batch, file_sha256=None)
                AuditLog(store).log_new_records()
            summary.added += res.added
            summary.duplicate += res.duplicate
            for r in res.conflicts:
                spool.add(r)
            reports.clear()

        for item in read_records(text, name=str(path), fmt=fmt):
            if isinstance(item, Parsed):
                reports.append(item.report)
                if len(reports) >= chunk_size:
                    flush()
            else:
                spool.add(item)
        flush()
        _finish(store, batch, reader.sha256.hexdigest(), spool)
        summary.quarantined = spool.count
        summary.count([r.reason for r in spool.rows()])
    return summary


def _finish(store: Store, batch: int, sha: str, spool: _Spool) -> None:
    """Quarantine the file's bad rows under its hash and close the batch, in one transaction."""
    with store.transaction():
        store.add_rejected(list(spool.rows()), file_sha256=sha, batch_id=batch)
        store.finish_batch(batch, file_sha256=sha)


def _holds_allegations(head: str, fmt: str) -> bool:
    from linewatch.formats.allegations import is_allegation_header, is_allegation_object
    first = next((line for line in head.lstrip("\ufeff").splitlines() if line.strip()), "")
    if fmt == "csv":
        return is_allegation_header(next(csv.reader([first]), []))
    try:
        obj = json.loads(first)
    except json.JSONDecodeError:
        return False
    return isinstance(obj, dict) and is_allegation_object(obj)


def _ingest_allegations(store: Store, path: Path, text: IO[str], reader: _HashingReader, *,
                        fmt: str, submitted_by: str | None = None) -> IngestSummary:
    """A file of allegations (JSONL or CSV); bad ones are quarantined. Settlement names resolve
    through the bundled settlements list, site ids through the agreement the store used last."""
    from linewatch.formats.allegations import ParsedAllegation, read_allegations
    from linewatch.formats.resources import load_gazetteer
    summary = IngestSummary(str(path), f"allegations-{fmt}")
    summary.batch_id = batch = store.begin_batch(str(path), "", summary.format, submitted_by=submitted_by)
    gazetteer = None

    def settlements(name: str, country: str | None) -> tuple[float, float]:
        nonlocal gazetteer
        gazetteer = gazetteer or load_gazetteer()
        return gazetteer.resolve(name, country=country)
    rows, rejected = [], []
    for item in read_allegations(text, name=str(path), fmt=fmt, settlements=settlements,
                                 sites=site_resolver(store)):
        if isinstance(item, ParsedAllegation):
            rows.append((item.allegation, str(path), item.line))
        else:
            rejected.append(item)
    sha = reader.sha256.hexdigest()
    with store.transaction() as c:   # the allegations, their quarantine and log entries at once
        store.serialize_writes(c)
        res = store.add_allegations(rows, rejected, batch_id=batch, file_sha256=sha)
        store.finish_batch(batch, file_sha256=sha)
        AuditLog(store).log_new_records()
    summary.added, summary.duplicate = res.added, res.duplicate
    summary.quarantined = len(rejected) + len(res.conflicts)
    summary.count([r.reason for r in rejected] + [r.reason for r in res.conflicts])
    return summary


def store_reports(store: Store, reports: list[Report], *, source: str) -> int:
    """Store records produced by linewatch itself (no source file), with their log entries;
    returns the number added."""
    sha = hashlib.sha256(source.encode()).hexdigest()
    with store.transaction() as c:
        store.serialize_writes(c)
        batch = store.begin_batch(source, sha, "fusion")
        res = store.add_records(reports, batch_id=batch, file_sha256=sha, source=source)
        store.finish_batch(batch)
        AuditLog(store).log_new_records()
    return res.added
