"""Flat CSV: one canonical record per row, columns named as the JSON keys.

The origin is flattened to ``origin_lon``, ``origin_lat``, ``origin_radius_m`` (or
``origin_semi_major_m``, ``origin_semi_minor_m``, ``origin_azimuth_deg``); ``extra`` holds a
JSON object. An empty cell means "not given". Open files with ``newline=""`` so that line breaks
inside quoted cells survive.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from linewatch.errors import InputError
from linewatch.formats.lines import MAX_LINE_CHARS, LongLine, csv_safe, long_line_reason, quote, text_lines
from linewatch.formats.record_schema import RecordIn, cells_to_values
from linewatch.formats.records import Parsed, Rejected, parse_record, record_to_dict
from linewatch.model import Report

_ORIGIN_KEYS = ("lon", "lat", "radius_m", "semi_major_m", "semi_minor_m", "azimuth_deg")

#: Every column, in the order :func:`write_csv` writes them.
COLUMNS = (
    "id", "kind", "time", "time_precision",
    "lon", "lat", "radius_m", "semi_major_m", "semi_minor_m", "azimuth_deg",
    "observer_lon", "observer_lat", "bearing_deg", "bearing_spread_deg",
    "distance_min_m", "distance_max_m",
    "source_kind", "source_id", "received_time",
    "explosion_type", "weapon_class", "count", "in_storage", "category", "aircraft_type",
    "party", *(f"origin_{k}" for k in _ORIGIN_KEYS), "killed", "injured", "corroborated",
    "restriction", "delay_min", "live_fire_exercise", "purpose", "description",
    "geo_precision", "engine", "extra", "supersedes", "correction",
)
#: Columns a file may have besides :data:`COLUMNS` (read, never written).
INPUT_ONLY = ("direction",)
REQUIRED = ("kind", "time", "source_kind", "source_id")
_FIELD_NAMES = {f"origin.{k}": f"origin_{k}" for k in _ORIGIN_KEYS}


@dataclass(frozen=True)
class Row:
    """One CSV data row: its first line, its cells and the raw text it was read from."""

    line: int
    cells: list[str]
    raw: str


def read_rows(stream: Iterable[str], *, name: str) -> tuple[list[str], int, Iterator[Row | Rejected]]:
    """The header, its line number, and the data rows after it (blank lines skipped).

    Raises InputError if the file has no header. Rows that the csv module cannot parse are
    :class:`Rejected`.
    """
    lines = _RowLines(stream, name)
    header: list[str] | None = None
    header_line = 0
    try:
        for cells in lines.reader:
            line, _, long = lines.take()
            if long is not None:
                raise InputError(f"{name}: line {line}: cannot read the CSV header: "
                                 f"{long_line_reason(long)}")
            if cells and any(c.strip() for c in cells):
                header, header_line = [c.strip() for c in cells], line
                break
    except csv.Error as exc:
        raise InputError(f"{name}: line {lines.take()[0]}: cannot parse the CSV header: {exc}") from exc
    if header is None:
        raise InputError(f"{name}: the file is empty: a CSV file needs a header row")
    return header, header_line, _data_rows(lines, name, header, header_line)


class _RowLines:
    """A csv reader over a text stream that remembers the lines of the row it read last
    (a quoted cell may span lines), for the row's line number and raw text. It keeps the first
    characters of the row's text and hashes all of it; an over-long line is never read whole
    (the reader is fed a stand-in: :func:`~linewatch.formats.lines.csv_safe`)."""

    def __init__(self, stream: Iterable[str], name: str) -> None:
        self._reset()
        self.reader = csv.reader(self._feed(stream, name), strict=False)

    def _reset(self) -> None:
        self.first = 0
        self.parts: list[str] = []
        self.chars = 0
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.long: tuple[int, LongLine] | None = None
        self.pending = ""      # the line break of the last line: part of the raw text unless it ends it

    def _feed(self, stream: Iterable[str], name: str) -> Iterator[str]:
        for number, line in text_lines(stream, name):
            self._add(number, line)
            yield csv_safe(line)

    def _add(self, number: int, line: str) -> None:
        self.first = self.first or number
        if isinstance(line, LongLine):
            self.long = self.long or (number, line)
            body, end = str(line), line.end
        else:
            body = line.rstrip("\r\n")
            end = line[len(body):]
        text = self.pending + body
        data = text.encode("utf-8", "surrogatepass")
        self.sha256.update(data)
        self.size += len(data)
        if self.chars <= MAX_LINE_CHARS:
            self.parts.append(text)
        self.chars += len(text)
        self.pending = end

    def take(self) -> tuple[int, str, LongLine | None]:
        """The first line number and the raw text of the row read last, and its first over-long
        line; forgets them. A row with an over-long line is that line (its number, and the line
        as its raw text); a raw text over the line limit is a :class:`LongLine` too."""
        if self.long is not None:
            number, raw = self.long
            taken: tuple[int, str, LongLine | None] = (number, raw, raw)
        elif self.chars > MAX_LINE_CHARS:
            raw = LongLine.of("".join(self.parts), sha256=self.sha256.hexdigest(), size=self.size,
                              chars=self.chars, odd_quotes=False, end="")
            taken = (self.first, raw, None)
        else:
            taken = (self.first, "".join(self.parts), None)
        self._reset()
        return taken


def _data_rows(lines: _RowLines, name: str, header: list[str], header_line: int
               ) -> Iterator[Row | Rejected]:
    while True:
        try:
            cells = next(lines.reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line, raw, long = lines.take()
            yield Rejected(name, line, None, long_line_reason(long) if long else f"cannot parse CSV row: {exc}",
                           raw)
            continue
        line, raw, long = lines.take()
        if long is not None:
            yield Rejected(name, line, None, long_line_reason(long), raw)
            continue
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # a blank line
        if len(cells) != len(header):
            yield Rejected(name, line, None, f"row has {len(cells)} "
                           f"cell{'s' if len(cells) != 1 else ''}, the header "
                           f"(line {header_line}) has {len(header)}", raw)
            continue
        yield Row(line, cells, raw)


def check_header(header: list[str], *, name: str, line: int, known: Iterable[str],
                 required: Iterable[str], allow_unknown: bool = False) -> None:
    """InputError for empty, duplicate, unknown or missing column names."""
    known = set(known)
    seen: set[str] = set()
    for i, col in enumerate(header, 1):
        if not col:
            raise InputError(f"{name}: line {line}: header column {i} has no name")
        if col in seen:
            raise InputError(f"{name}: line {line}: header column {quote(col)} appears twice")
        seen.add(col)
        if not allow_unknown and col not in known:
            raise InputError(f"{name}: line {line}: unknown column {quote(col)} in the header (is the "
                             f"header missing, or is this another format?)")
    missing = [c for c in required if c not in seen]
    if missing:
        raise InputError(f"{name}: line {line}: the header lacks the required column"
                         f"{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}")


def read_csv(stream: Iterable[str], *, name: str) -> Iterator[Parsed | Rejected]:
    """Records from a flat CSV file with a header row, streaming."""
    header, header_line, rows = read_rows(stream, name=name)
    check_header(header, name=name, line=header_line, known=(*COLUMNS, *INPUT_ONLY),
                 required=REQUIRED)
    for row in rows:
        if isinstance(row, Rejected):
            yield row
            continue
        data: dict[str, Any] = {}
        origin: dict[str, str] = {}
        bad_extra: str | None = None
        for col, cell in zip(header, row.cells):
            if cell == "":
                continue
            if col.startswith("origin_"):
                origin[col[len("origin_"):]] = cell
            elif col == "extra":
                try:
                    data["extra"] = json.loads(cell)
                except json.JSONDecodeError as exc:
                    bad_extra = f"extra is not a JSON object: {exc.msg} at column {exc.colno}"
                except (ValueError, RecursionError):     # too many digits, or nested too deeply
                    bad_extra = "extra is not a JSON object of strings"
            else:
                data[col] = cell
        if bad_extra:
            yield Rejected(name, row.line, "extra", bad_extra, row.raw)
            continue
        if origin:
            data["origin"] = origin
        yield parse_record(cells_to_values(RecordIn, data), name=name, line=row.line, raw=row.raw,
                           field_names=_FIELD_NAMES)


def cell(value: Any) -> str:
    """A CSV cell: empty for None, ``true``/``false``, shortest exact float text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def write_csv(reports: Iterable[Report], stream: TextIO) -> int:
    """Write a header and one row per report (RFC 4180, CRLF line ends); returns the count."""
    writer = csv.writer(stream)
    writer.writerow(COLUMNS)
    n = 0
    for report in reports:
        data = record_to_dict(report)
        for k, v in data.pop("origin", {}).items():
            data[f"origin_{k}"] = v
        writer.writerow([cell(data.get(col)) for col in COLUMNS])
        n += 1
    return n
