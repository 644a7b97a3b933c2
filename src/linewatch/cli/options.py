"""Options and helpers every command group shares: the store, the agreement, a signing key, times.

One definition each, so ``--db`` reads the same everywhere (a path or URL, ``LINEWATCH_DB``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from linewatch.errors import InputError

__all__ = ["DEFAULT_DB", "AgreementOpt", "DbOpt", "SignOpt", "active_user", "cells", "err", "input_file",
           "load_key", "open_db", "optional_input", "out", "parse_time", "say"]

#: data lines are not broken when piped
out = Console(soft_wrap=True)
err = Console(stderr=True)

DEFAULT_DB = "linewatch.sqlite"
DbOpt = Annotated[str, typer.Option(
    "--db", envvar="LINEWATCH_DB",
    help="The store: a SQLite path, sqlite:///PATH or postgresql://USER@HOST:PORT/DB (env LINEWATCH_DB).")]
AgreementOpt = Annotated[Path | None, typer.Option(
    "--agreement", "-a", help="Agreement file (default: the one the store used last).")]
SignOpt = Annotated[Path | None, typer.Option(
    "--sign-with", help="Ed25519 private key (linewatch keys generate) to sign with.")]


def say(console: Console, text: str) -> None:
    """Print ``text`` as it is: a message that holds a file's, a record's or a user's text is
    never read as rich markup (``[lon, lat]`` stays on the line) nor coloured."""
    console.print(text, markup=False, highlight=False)


def cells(*values: object) -> list[Text]:
    """A rich Table row of plain text (a table reads a ``str`` cell as markup)."""
    return [Text("" if v is None else str(v)) for v in values]


def input_file(path: Path, name: str | None = None) -> Path:
    """``path`` if it is a file to read; else InputError (exit 4) naming it (and the option
    ``name`` that gave it): a directory as a directory, a missing path as missing."""
    where = f" ({name})" if name else ""
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a file{where}")
    if not path.exists():   # a pipe (<(...), /dev/stdin) is read as it is
        raise InputError(f"{path}: no such file{where}")
    return path


def optional_input(path: Path | None, name: str) -> Path | None:
    """:func:`input_file` for an option that may be left out."""
    return None if path is None else input_file(path, name)


def open_db(db: str) -> Any:
    """The store at ``db`` (opened, migrated)."""
    from linewatch.store import open_store
    return open_store(db)


def active_user(store: Any, name: str, option: str = "--by") -> Any:
    """The active user ``name`` (given by ``option``); NotFound (exit 6) for a name that is no
    user or was removed."""
    from linewatch.errors import NotFound
    user = next((u for u in store.users() if u.name == name), None)
    if user is None or user.revoked_at is not None:
        exc = NotFound("user", name)
        exc.args = (f"{option}: user {name!r} not found" + (" (removed)" if user is not None else "")
                    + ": add users with linewatch user add NAME --role ROLE",)
        raise exc
    return user


def load_key(path: Path | None) -> Any:
    """The Ed25519 private key at ``path``, or None."""
    if path is None:
        return None
    from linewatch.services.audit import load_private_key
    return load_private_key(path)


def parse_time(value: str | None, name: str) -> datetime | None:
    """An option's ISO 8601 time or date (a date is midnight UTC); a time needs its zone."""
    if value is None:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint=name) from exc
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC) if len(value) <= 10 else t
        if t.tzinfo is None:
            raise typer.BadParameter(f"{value!r} has no time zone (add Z or +00:00)", param_hint=name)
    return t.astimezone(UTC)


def parse_day(value: str, name: str) -> date:
    """An option's day, ``YYYY-MM-DD`` (UTC), in the window of record times (docs/record-formats.md,
    "Limits"): a usage error (exit 2) otherwise, before anything is opened."""
    from linewatch.model import EARLIEST_TIME, LATEST_TIME
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value[:40]!r} is not a date YYYY-MM-DD", param_hint=name) from exc
    first, last = EARLIEST_TIME.date(), LATEST_TIME.date() - timedelta(days=1)
    if not first <= day <= last:
        raise typer.BadParameter(f"{value} is outside the window of record times, {first.isoformat()} to "
                                 f"{last.isoformat()} (docs/record-formats.md, \"Limits\")", param_hint=name)
    return day
