"""JSON Lines: one canonical record (see :mod:`linewatch.formats.records`) per line."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TextIO

from linewatch.errors import InputError
from linewatch.formats.lines import LongLine, long_line_reason, text_lines
from linewatch.formats.records import Parsed, Rejected, parse_record, record_to_dict
from linewatch.model import Report


def json_objects(stream: Iterable[str], *, name: str, hint: str = ""
                 ) -> Iterator[tuple[int, str, dict | Rejected]]:
    """``(line number, raw line, object or Rejected)`` for each non-blank line of JSON Lines.

    A line that is not JSON, or not a JSON object, or over the line limit (never read whole:
    :mod:`~linewatch.formats.lines`) comes as :class:`Rejected`. A file that is one multi-line
    JSON document (its first line is just ``{`` or ``[``) raises InputError; ``hint`` is added
    to that message.
    """
    first = True
    for number, line in text_lines(stream, name):
        if isinstance(line, LongLine):
            first = False
            yield number, line, Rejected(name, number, None, long_line_reason(line), line)
            continue
        text = line.strip()
        if not text:
            continue
        raw = line.rstrip("\r\n")
        if first and text in ("{", "["):
            raise InputError(f"{name}: line {number}: this is a multi-line JSON document, not JSON "
                             f"Lines (one JSON object per line){hint}")
        first = False
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield number, raw, Rejected(name, number, None,
                                        f"invalid JSON: {exc.msg} at column {exc.colno}", raw)
            continue
        except ValueError:     # an integer of more digits than Python converts
            yield number, raw, Rejected(name, number, None, "invalid JSON: a number has more than "
                                        "4,300 digits", raw)
            continue
        except RecursionError:
            yield number, raw, Rejected(name, number, None, "invalid JSON: nested too deeply", raw)
            continue
        if not isinstance(data, dict):
            yield number, raw, Rejected(name, number, None,
                                        f"expected a JSON object, got {_json_type(data)}", raw)
            continue
        yield number, raw, data


def read_jsonl(stream: Iterable[str], *, name: str) -> Iterator[Parsed | Rejected]:
    """Records from JSON Lines, streaming; blank lines are skipped (see :func:`json_objects`)."""
    for number, raw, data in json_objects(stream, name=name,
                                          hint="; for GeoJSON use a .geojson name"):
        yield data if isinstance(data, Rejected) else parse_record(data, name=name, line=number, raw=raw)


def _json_type(value: object) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def write_jsonl(reports: Iterable[Report], stream: TextIO) -> int:
    """Write one canonical record per line; returns the count."""
    n = 0
    for report in reports:
        stream.write(json.dumps(record_to_dict(report), ensure_ascii=False, allow_nan=False))
        stream.write("\n")
        n += 1
    return n
