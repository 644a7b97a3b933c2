"""Reading text one line at a time with a size cap, and keeping bounded excerpts of bad input.

A line of a record file is read with ``readline(limit)``: a line longer than
:data:`MAX_LINE_CHARS` is never held whole. The rest of it is read in pieces, hashed and
counted, and the line comes out as a :class:`LongLine`: a string holding only its first
:data:`MAX_EXCERPT_CHARS` characters, with the SHA-256 and the size of the whole line. The
readers turn it into a quarantined row. ``docs/record-formats.md`` ("Limits") documents every
bound.
"""

from __future__ import annotations

import hashlib
import reprlib
from collections.abc import Iterable, Iterator
from typing import Any

from linewatch.errors import InputError

__all__ = ["MAX_EXCERPT_CHARS", "MAX_LINE_CHARS", "MAX_QUOTE_CHARS", "MAX_REASON_CHARS", "LongLine",
           "bounded", "csv_safe", "excerpt", "long_line_reason", "not_utf8", "quote", "read_capped",
           "text_lines"]

#: The longest line of a record or allegation file, in characters (a record at every text
#: bound fits; a longer line is quarantined unread).
MAX_LINE_CHARS = 1 << 20
#: How much of a bad row's raw text the quarantine keeps (with the SHA-256 and size of all of it).
MAX_EXCERPT_CHARS = 1_000
#: How much of a bad value a reason quotes.
MAX_QUOTE_CHARS = 100
#: The longest reason kept for a bad row.
MAX_REASON_CHARS = 2_000

_ELLIPSIS = "\u2026"
_QUOTE = reprlib.Repr()
_QUOTE.maxlevel, _QUOTE.maxdict, _QUOTE.maxlist, _QUOTE.maxtuple, _QUOTE.maxset = 2, 4, 4, 4, 4
_QUOTE.maxstring = _QUOTE.maxlong = _QUOTE.maxother = MAX_QUOTE_CHARS


def excerpt(text: str, limit: int = MAX_EXCERPT_CHARS) -> str:
    """``text`` itself, or its first ``limit`` characters and "…"."""
    return text if len(text) <= limit else text[:limit] + _ELLIPSIS


def quote(value: Any) -> str:
    """``repr(value)`` for a message, quoting at most about :data:`MAX_QUOTE_CHARS` characters
    of it (a long string shows its start and its length)."""
    if isinstance(value, str):
        if len(value) <= MAX_QUOTE_CHARS:
            return repr(value)
        return f"{value[:MAX_QUOTE_CHARS]!r}{_ELLIPSIS} ({len(value):,} characters)"
    try:
        return excerpt(_QUOTE.repr(value), MAX_QUOTE_CHARS)
    except ValueError:        # an integer too long to print
        return f"<{type(value).__name__} too long to show>"


class LongLine(str):
    """A line over :data:`MAX_LINE_CHARS`: the string is its excerpt; ``sha256`` and ``size``
    (UTF-8 bytes) are of the whole line without its line break, ``chars`` its length, ``odd_quotes``
    whether it holds an odd number of ``"`` (a CSV reader's quoting state after it), ``end`` its
    line break."""

    sha256: str
    size: int
    chars: int
    odd_quotes: bool
    end: str

    @classmethod
    def of(cls, text: str, *, sha256: str, size: int, chars: int, odd_quotes: bool, end: str) -> LongLine:
        line = cls(excerpt(text))
        line.sha256, line.size, line.chars, line.odd_quotes, line.end = sha256, size, chars, odd_quotes, end
        return line

    @classmethod
    def whole(cls, line: str) -> LongLine:
        """A LongLine of a line already in memory (an iterable of lines, not a stream)."""
        body = line.rstrip("\r\n")
        data = body.encode("utf-8", "surrogatepass")
        return cls.of(body, sha256=hashlib.sha256(data).hexdigest(), size=len(data), chars=len(body),
                      odd_quotes=body.count('"') % 2 == 1, end=line[len(body):])


def long_line_reason(line: LongLine) -> str:
    """Why an over-long line is quarantined."""
    return (f"the line is {line.chars:,} characters long, over the limit of {MAX_LINE_CHARS:,} "
            "(docs/record-formats.md, \"Limits\"); it was not read")


def _rest_of_line(stream: Any, first: str, limit: int) -> LongLine:
    """Read the rest of a line whose first ``first`` characters were read, hashing it piece by
    piece; at most ``limit`` characters are held at a time."""
    h = hashlib.sha256()
    size = chars = quotes = 0
    held = ""        # a trailing "\r" that may be the first half of "\r\n"
    piece, end = first, ""
    while True:
        text = held + piece
        held = ""
        if text.endswith("\n"):
            end = "\r\n" if text.endswith("\r\n") else "\n"
            text = text[:-len(end)]
        elif text.endswith("\r"):
            text, held = text[:-1], "\r"
        data = text.encode("utf-8", "surrogatepass")
        h.update(data)
        size, chars, quotes = size + len(data), chars + len(text), quotes + text.count('"')
        if end or len(piece) < limit:   # a short read ends at a line break or at the end
            break
        piece = stream.readline(limit)
    if held and not end:
        end = held
    return LongLine.of(first.rstrip("\r\n"), sha256=h.hexdigest(), size=size, chars=chars,
                       odd_quotes=quotes % 2 == 1, end=end)


def bounded(stream: Iterable[str], limit: int = MAX_LINE_CHARS) -> Iterator[str]:
    """The lines of a text stream, an over-long one as a :class:`LongLine`.

    A stream with ``readline`` is read ``limit`` characters at most at a time; an iterable of
    lines (already in memory) only has its over-long lines replaced.
    """
    readline = getattr(stream, "readline", None)
    if readline is None:
        for line in stream:
            yield line if isinstance(line, LongLine) or len(line) <= limit + 2 else LongLine.whole(line)
        return
    while True:
        line = readline(limit + 2)     # room for the line break
        if not line:
            return
        if len(line.rstrip("\r\n")) <= limit:
            yield line
        elif len(line) < limit + 2 or line.endswith("\n"):   # the whole line was read
            yield LongLine.whole(line)
        else:
            yield _rest_of_line(stream, line, limit + 2)


def text_lines(stream: Iterable[str], name: str) -> Iterator[tuple[int, str]]:
    """``(line_number, line)`` from a text stream, each line bounded (see :func:`bounded`):
    BOM removed, decoding errors as InputError."""
    number = 0
    it = bounded(stream)
    while True:
        try:
            line = next(it)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            raise not_utf8(name, number, exc) from exc
        number += 1
        if number == 1 and line.startswith("\ufeff"):
            if isinstance(line, LongLine):
                rest = LongLine(line[1:])
                rest.__dict__.update(line.__dict__)
                line = rest
            else:
                line = line[1:]
        yield number, line


def csv_safe(line: str) -> str:
    """What a CSV reader is fed for a line: the line, or for a :class:`LongLine` a stand-in that
    leaves the reader in the quoting state the whole line would have (the row is refused)."""
    if not isinstance(line, LongLine):
        return line
    return ('"' if line.odd_quotes else "") + "\u2026" + line.end


def read_capped(stream: Iterable[str], name: str, limit: int, what: str) -> str:
    """The whole text of a stream (BOM removed) of at most ``limit`` characters; InputError,
    before reading more, when it is longer."""
    read = getattr(stream, "read", None)
    try:
        if read is not None:
            text = read(limit + 1)
        else:
            parts, size = [], 0
            for line in stream:
                parts.append(line)
                size += len(line)
                if size > limit:
                    break
            text = "".join(parts)
    except UnicodeDecodeError as exc:
        raise not_utf8(name, 0, exc) from exc
    if len(text) > limit:
        raise InputError(f"{name}: {what} is over the limit of {limit:,} characters "
                         "(docs/record-formats.md, \"Limits\"); split it, or use JSON Lines")
    return text[1:] if text.startswith("\ufeff") else text


def not_utf8(name: str, lines_read: int, exc: UnicodeDecodeError) -> InputError:
    """The InputError for a file that is not UTF-8 (decoding runs ahead of lines, so "after")."""
    where = f" after line {lines_read}" if lines_read else ""
    return InputError(f"{name}: not UTF-8 text{where} ({exc.reason}); save it as UTF-8")
