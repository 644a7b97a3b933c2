"""Every exception linewatch raises on purpose.

The tree, grouped by who must act::

    LinewatchError                      root: ``except LinewatchError`` catches all of ours
    ├── AgreementError (ValueError)     the agreement file is invalid          exit code 3
    ├── InputError (ValueError)         an input file cannot be read at all    exit code 4
    │   └── RecordError                 one record is invalid (quarantined, never raised to the user)
    ├── StoreError                      the database cannot be used            exit code 5
    │   └── MigrationError              a schema migration failed
    ├── NotFound (LookupError)          a named thing does not exist           exit code 6
    ├── TamperedLog                     the audit log contradicts its witness  exit code 8
    ├── Conflict                        the request contradicts what is stored exit code 9
    ├── Infeasible                      planning targets cannot be met         exit code 10
    └── OutOfDate                       stored results are missing or stale    exit code 11

A message says what is wrong, with which value, and where (file, line, field).
Programming mistakes stay builtin ``TypeError``/``ValueError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class LinewatchError(Exception):
    """Root of every error linewatch raises on purpose."""

    exit_code = 1


class AgreementError(LinewatchError, ValueError):
    """The agreement file does not validate; the message names the file and field path."""

    exit_code = 3


class InputError(LinewatchError, ValueError):
    """An input file cannot be read as a whole (missing, unknown format, broken header)."""

    exit_code = 4


class RecordError(InputError):
    """One record is invalid; carries where it came from so it can be quarantined."""

    def __init__(self, reason: str, *, field: str | None = None, line: int | None = None,
                 file: str | None = None) -> None:
        self.reason = reason
        self.field = field
        self.line = line
        self.file = file
        where = ", ".join(
            part for part in (
                file,
                f"line {line}" if line is not None else None,
                f"field {field!r}" if field else None,
            ) if part
        )
        super().__init__(f"{where}: {reason}" if where else reason)


class StoreError(LinewatchError):
    """The store cannot be opened, read or written."""

    exit_code = 5


class MigrationError(StoreError):
    """A named schema migration failed; the database is left at the previous migration."""


class NotFound(LinewatchError, LookupError):
    """A named thing (record, rule, zone, date) does not exist."""

    exit_code = 6

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} not found")


class TamperedLog(LinewatchError):
    """The audit log does not match what was checked before (its witness): exit 8, as a failed
    ``audit verify``."""

    exit_code = 8


class Conflict(LinewatchError):
    """The request contradicts what is stored (a released report rebuilt, a user added twice)."""

    exit_code = 9


class Infeasible(LinewatchError):
    """Planning targets cannot be met with the candidate sites and asset types; the message
    names the stretches of the line (chainage km) that cannot be covered and what they reach."""

    exit_code = 10

    def __init__(self, message: str, stretches: Iterable[Mapping[str, Any]] = ()) -> None:
        super().__init__(message)
        self.stretches = list(stretches)


class OutOfDate(LinewatchError):
    """Results a command reads (a verification run, allegation verdicts) are missing from the
    store or no longer match it; the message names the command that brings them up to date."""

    exit_code = 11
