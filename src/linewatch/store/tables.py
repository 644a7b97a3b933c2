"""What every group of tables may use of the store it is mixed into.

Each group (:mod:`~linewatch.store.record_tables`, :mod:`~linewatch.store.run_tables`, ...) is a
mixin of :class:`~linewatch.store.base.Store`; :class:`Tables` declares the connection and the
store's methods a group calls, so that each group reads (and type-checks) on its own. The real
methods come first in the store's method resolution order; these only say what exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from linewatch.formats.records import Rejected
    from linewatch.model import Location

__all__ = ["Tables"]


class Tables:
    #: the database connection (sqlite3, or the PostgreSQL wrapper that speaks ``?``)
    conn: Any
    #: ``"sqlite"`` or ``"postgresql"``
    dialect: str
    #: where the store is, for messages
    where: str

    if TYPE_CHECKING:
        def transaction(self) -> AbstractContextManager[Any]: ...
        def _lock(self, c: Any, name: str, *, shared: bool = False) -> None: ...
        def _insert_records(self, c: Any, items: Sequence[tuple[tuple[Any, ...], Location]]) -> list[bool]: ...
        def _insert_many(self, c: Any, sql: str, rows: Sequence[Sequence[Any]]) -> list[bool]: ...
        def begin_batch(self, file: str, file_sha256: str, fmt: str, *,
                        submitted_by: str | None = None) -> int: ...
        def finish_batch(self, batch_id: int, *, file_sha256: str | None = None) -> None: ...
        def quarantine(self, c: Any, rows: Iterable[Rejected], *, file_sha256: str, batch_id: int | None,
                       now: str) -> None: ...
