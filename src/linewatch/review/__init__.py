"""Review: the states a record's version and an allegation pass through before they count.

The room for the mission's four-eyes rule as values and pure functions: :class:`State`, the
entry state of what arrives (:func:`entry_state`), the moves a reviewer may make and who may
make them (:func:`check_move`), and what a release needs (:func:`release_problem`). The store
keeps the states and their history; ``linewatch.services.review`` runs the moves.

Core: imports ``errors`` only, and does no I/O.
"""

from __future__ import annotations

from linewatch.review.states import (
    FINAL,
    HUMAN_SOURCES,
    MOVES,
    NEEDS_NOTE,
    PENDING,
    State,
    check_move,
    entry_state,
    parse_state,
    release_problem,
)

__all__ = ["FINAL", "HUMAN_SOURCES", "MOVES", "NEEDS_NOTE", "PENDING", "State", "check_move", "entry_state",
           "parse_state", "release_problem"]
