"""Record files in any of the four record formats: tell the format, read, write, open a path.

Readers are generators over text streams (any iterable of lines): a good record comes out as
:class:`~linewatch.formats.records.Parsed`, a bad one as
:class:`~linewatch.formats.records.Rejected` (for the quarantine), and only a file that cannot
be read as a whole raises :class:`~linewatch.errors.InputError`.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import TextIO

from linewatch.errors import InputError
from linewatch.formats.acled import read_acled, write_acled
from linewatch.formats.csvfmt import read_csv, write_csv
from linewatch.formats.fields import open_text
from linewatch.formats.geojson import read_geojson, write_geojson
from linewatch.formats.jsonl import read_jsonl, write_jsonl
from linewatch.formats.lines import not_utf8
from linewatch.formats.records import Parsed, Rejected
from linewatch.model import Report

__all__ = ["FORMATS", "detect_format", "open_records", "read_records", "write_records"]

#: The format names, as ``fmt`` takes them.
FORMATS = ("jsonl", "csv", "geojson", "acled")

_READERS: dict[str, Callable[..., Iterator[Parsed | Rejected]]] = {
    "jsonl": read_jsonl, "csv": read_csv, "geojson": read_geojson, "acled": read_acled,
}
_WRITERS: dict[str, Callable[[Iterable[Report], TextIO], int]] = {
    "jsonl": write_jsonl, "csv": write_csv, "geojson": write_geojson, "acled": write_acled,
}
_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".jsonlines": "jsonl",
               ".geojson": "geojson", ".csv": "csv", ".json": None, ".txt": None, "": None}
_HEAD_CHARS = 8192


def _csv_kind(head: str) -> str | None:
    first = next((line for line in head.splitlines() if line.strip()), "")
    try:
        cells = {c.strip().lower() for c in next(csv.reader([first]), [])}
    except csv.Error:
        return None
    if {"event_id_cnty", "sub_event_type"} <= cells:
        return "acled"
    if {"kind", "time"} <= cells:
        return "csv"
    return None


def _json_kind(head: str) -> str | None:
    text = head.lstrip()
    if not text.startswith(("{", "[")):
        return None
    try:
        first = json.loads(text.split("\n", 1)[0])
    except (json.JSONDecodeError, RecursionError):
        first = None
    if isinstance(first, dict):
        return "geojson" if first.get("type") == "FeatureCollection" else "jsonl"
    return "geojson" if '"FeatureCollection"' in text else None


def detect_format(name: str, head: str) -> str:
    """The format of a file from its name's extension and its first characters.

    ``.jsonl``/``.ndjson`` are JSON Lines and ``.geojson`` is GeoJSON. A ``.csv`` is ACLED if its
    header has ``event_id_cnty`` and ``sub_event_type``, else the flat CSV. Any other name (or
    ``.json``) is sniffed from ``head``. Raises InputError if the format cannot be told.
    """
    head = head.lstrip("\ufeff")
    ext = os.path.splitext(name)[1].lower()
    if ext not in _EXTENSIONS:
        raise InputError(f"{name}: unknown file extension {ext!r}; use .jsonl, .csv or .geojson "
                         "(or name the format)")
    fmt = _EXTENSIONS[ext]
    if fmt == "csv":
        return _csv_kind(head) or "csv"
    if fmt is not None:
        return fmt
    fmt = _json_kind(head) or _csv_kind(head)
    if fmt is None:
        what = "empty" if not head.strip() else f"starts with {head.strip()[:40]!r}"
        raise InputError(f"{name}: cannot tell the record format (the file is {what}); expected "
                         "JSON Lines, GeoJSON, a CSV with kind and time columns, or an ACLED CSV")
    return fmt


def read_records(stream: TextIO | Iterable[str], *, name: str,
                 fmt: str | None = None) -> Iterator[Parsed | Rejected]:
    """Parsed and rejected records from a text stream, in file order.

    Streams in constant memory for JSON Lines and CSV, reading no line longer than the limit
    whole (:mod:`~linewatch.formats.lines`). ``fmt`` is one of :data:`FORMATS`; when None it is
    detected from ``name`` and the first characters (a stream that cannot seek back is read
    from its lines). Raises InputError (lazily, on the first ``next``) when the file as a whole
    cannot be read.
    """
    lines: TextIO | Iterable[str] = stream
    if fmt is None:
        fmt, lines = _sniff(stream, name)
    if fmt not in _READERS:
        raise InputError(f"{name}: unknown record format {fmt!r} (expected one of "
                         f"{', '.join(FORMATS)})")
    yield from _READERS[fmt](lines, name=name)


def _sniff(stream: TextIO | Iterable[str], name: str) -> tuple[str, TextIO | Iterable[str]]:
    """The format of a stream from its first characters, and the stream to read it all from."""
    seekable = getattr(stream, "seekable", None)
    if seekable is not None and seekable():
        text = stream   # a file or a StringIO: read the head, then go back to the start
        assert isinstance(text, io.TextIOBase)
        try:
            head = text.read(_HEAD_CHARS)
        except UnicodeDecodeError as exc:
            raise not_utf8(name, 0, exc) from exc
        text.seek(0)
        return detect_format(name, head), text
    lines = iter(stream)     # lines in memory already
    taken: list[str] = []
    size = 0
    try:
        for line in lines:
            taken.append(line)
            size += len(line)
            if size >= _HEAD_CHARS:
                break
    except UnicodeDecodeError as exc:
        raise not_utf8(name, len(taken), exc) from exc
    return detect_format(name, "".join(line[:_HEAD_CHARS] for line in taken)), chain(taken, lines)


def write_records(reports: Iterable[Report], stream: TextIO, *, fmt: str) -> int:
    """Write reports in ``fmt`` (one of :data:`FORMATS`); returns how many were written.

    ACLED has no type for some kinds; those reports are skipped, so the count may be smaller.
    """
    if fmt not in _WRITERS:
        raise InputError(f"unknown record format {fmt!r} (expected one of {', '.join(FORMATS)})")
    return _WRITERS[fmt](reports, stream)


def open_records(path: str | os.PathLike[str], *, fmt: str | None = None
                 ) -> Iterator[Parsed | Rejected]:
    """Read records from a file path (UTF-8, BOM allowed); InputError if it cannot be opened."""
    name = os.fspath(path)
    with open_text(name) as stream:
        yield from read_records(stream, name=name, fmt=fmt)
