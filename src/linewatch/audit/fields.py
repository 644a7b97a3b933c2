"""Reading the JSON that others hand us (tree heads, proofs, bundles), strictly.

Every value has exactly one accepted spelling (lower-case hex, canonical base64, the log's own
UTC time format), so no byte of a file can change unnoticed; and every error is an
:class:`~linewatch.errors.InputError` that names the field, e.g. ``proof.audit_path[0]: ...``.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Any, TypeVar

from linewatch.errors import InputError
from linewatch.model import utc_iso

T = TypeVar("T")

_HEX_RE = re.compile(r"[0-9a-f]*")

__all__ = ["b64_bytes", "check_format", "get_field", "get_optional", "hex_bytes", "log_time"]


def _value(d: Any, name: str, where: str) -> Any:
    if not isinstance(d, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(d).__name__}")
    if name not in d:
        raise InputError(f"{where}: field {name!r} is missing")
    return d[name]


def _checked(value: Any, name: str, kind: type[T], where: str) -> T:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise InputError(f"{where}.{name}: expected {kind.__name__}, got {value!r:.60}")
    return value


def get_field(d: Any, name: str, kind: type[T], where: str) -> T:
    """``d[name]``, which must be there and of type ``kind`` (a JSON ``true`` is not an int).

    >>> get_field({"tree_size": 3}, "tree_size", int, "head")
    3
    >>> get_field({"tree_size": True}, "tree_size", int, "head")
    Traceback (most recent call last):
    ...
    linewatch.errors.InputError: head.tree_size: expected int, got True
    """
    return _checked(_value(d, name, where), name, kind, where)


def get_optional(d: Any, name: str, kind: type[T], where: str) -> T | None:
    """Like :func:`get_field`, but the field may be ``null``."""
    value = _value(d, name, where)
    return None if value is None else _checked(value, name, kind, where)


def hex_bytes(value: Any, where: str, nbytes: int | None = None) -> bytes:
    """Lower-case hex only: one value has one spelling, so no byte of a file can change unnoticed.

    >>> hex_bytes("00ff", "x")
    b'\\x00\\xff'
    >>> hex_bytes("00FF", "proof.audit_path[0]")
    Traceback (most recent call last):
    ...
    linewatch.errors.InputError: proof.audit_path[0]: '00FF' is not lower-case hexadecimal
    """
    if not isinstance(value, str) or not _HEX_RE.fullmatch(value) or len(value) % 2:
        raise InputError(f"{where}: {value!r:.80} is not lower-case hexadecimal")
    if nbytes is not None and len(value) != 2 * nbytes:
        raise InputError(f"{where}: expected {nbytes} bytes ({2 * nbytes} hex digits), got {len(value)} digits")
    return bytes.fromhex(value)


def log_time(value: Any, where: str) -> datetime:
    """A UTC time spelt exactly as the log writes it (``YYYY-MM-DDTHH:MM:SS.ffffffZ``)."""
    if not isinstance(value, str):
        raise InputError(f"{where}: expected an ISO 8601 time, got {value!r:.60}")
    try:
        t = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"{where}: {value!r} is not an ISO 8601 time") from exc
    if t.tzinfo is None or utc_iso(t, timespec="microseconds") != value:
        raise InputError(f"{where}: {value!r} is not a UTC time as the log writes it "
                         "(YYYY-MM-DDTHH:MM:SS.ffffffZ)")
    return t


def b64_bytes(text: str, where: str) -> bytes:
    """Canonical base64 (with padding, no line breaks) only."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError(f"{where}: not base64 ({exc})") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise InputError(f"{where}: not in canonical base64")
    return raw


def check_format(d: Any, fmt: str, where: str) -> None:
    """``d`` is a JSON object of ``format`` ``fmt``, version 1."""
    got = get_field(d, "format", str, where)
    if got != fmt:
        raise InputError(f"{where}.format: expected {fmt!r}, got {got!r}")
    version = get_field(d, "version", int, where)
    if version != 1:
        raise InputError(f"{where}.version: this linewatch reads version 1, got {version}")
