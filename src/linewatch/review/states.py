"""The review states of a record's version and of an allegation, and who may move them.

A monitor's report (patrol, observation post, open source) enters as ``submitted``; an analyst
takes it ``in_review`` and approves it, returns it to its author with a question (the author
answers with a new version, which enters as ``submitted`` again), or rejects it with a reason.
What sensors produced (cameras, drones, acoustic sensors, imagery, fused incidents) enters as
``detected``, a party's allegation as ``received``: both can be approved (in bulk by a rule,
e.g. every fused incident heard by at least N sensors) or rejected. ``approved`` and
``rejected`` are final: a change after them is a new version. docs/review.md has the diagram.

>>> entry_state("patrol"), entry_state("sensor_fusion"), entry_state("party_allegation")
(<State.SUBMITTED: 'submitted'>, <State.DETECTED: 'detected'>, <State.RECEIVED: 'received'>)
>>> check_move(State.SUBMITTED, State.APPROVED, actor="ana", authors={"mon"}, note=None)
>>> check_move(State.SUBMITTED, State.APPROVED, actor="mon", authors={"mon"}, note=None)
Traceback (most recent call last):
...
linewatch.errors.Conflict: four eyes: 'mon' authored or last changed this version and cannot approve it
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum

from linewatch.errors import Conflict, InputError

__all__ = ["FINAL", "HUMAN_SOURCES", "MOVES", "NEEDS_NOTE", "PENDING", "State", "check_move", "entry_state",
           "parse_state", "release_problem"]


class State(StrEnum):
    """Where a version stands in review."""

    SUBMITTED = "submitted"
    DETECTED = "detected"
    RECEIVED = "received"
    IN_REVIEW = "in_review"
    RETURNED = "returned"
    APPROVED = "approved"
    REJECTED = "rejected"


#: the source kinds whose records people wrote (monitors, posts, open sources)
HUMAN_SOURCES = frozenset({"patrol", "observation_post", "open_source"})

#: the states that wait for a reviewer (a report counts them as "unreviewed")
PENDING = frozenset({State.SUBMITTED, State.DETECTED, State.RECEIVED, State.IN_REVIEW, State.RETURNED})
#: no move leaves these
FINAL = frozenset({State.APPROVED, State.REJECTED})

#: the moves a reviewer can make from each state
MOVES: dict[State, frozenset[State]] = {
    State.SUBMITTED: frozenset({State.IN_REVIEW, State.APPROVED, State.RETURNED, State.REJECTED}),
    State.IN_REVIEW: frozenset({State.SUBMITTED, State.APPROVED, State.RETURNED, State.REJECTED}),
    State.DETECTED: frozenset({State.IN_REVIEW, State.APPROVED, State.REJECTED}),
    State.RECEIVED: frozenset({State.IN_REVIEW, State.APPROVED, State.REJECTED}),
    State.RETURNED: frozenset({State.REJECTED}),     # the author answers with a new version
    State.APPROVED: frozenset(),
    State.REJECTED: frozenset(),
}
#: moves that must say why: the question of a return, the reason of a rejection
NEEDS_NOTE = frozenset({State.RETURNED, State.REJECTED})


def entry_state(source_kind: str, *, allegation: bool = False) -> State:
    """The state a version enters in, by where it came from."""
    if allegation or source_kind == "party_allegation":
        return State.RECEIVED
    return State.SUBMITTED if source_kind in HUMAN_SOURCES else State.DETECTED


def parse_state(text: str) -> State:
    """A state by its name; InputError listing the names otherwise.

    >>> parse_state("in_review")
    <State.IN_REVIEW: 'in_review'>
    """
    try:
        return State(text)
    except ValueError:
        raise InputError(f"unknown review state {text!r:.60}: use one of "
                         f"{', '.join(s.value for s in State)}") from None


def check_move(current: State, to: State, *, actor: str, authors: Collection[str], note: str | None) -> None:
    """Conflict unless ``actor`` may move a version from ``current`` to ``to``: the move is one
    of :data:`MOVES`, a return or a rejection says why, and (four eyes) nobody approves a version
    they authored or last changed (``authors``: every author of the record's versions)."""
    if to not in MOVES[current]:
        allowed = ", ".join(sorted(s.value for s in MOVES[current])) or "none: it is final"
        raise Conflict(f"a version {current.value} cannot be moved to {to.value} (moves from "
                       f"{current.value}: {allowed})")
    if to in NEEDS_NOTE and not (note and note.strip()):
        what = "the question to the author" if to is State.RETURNED else "the reason"
        raise InputError(f"moving to {to.value} needs a note: {what}")
    if to is State.APPROVED and actor in authors:
        raise Conflict(f"four eyes: {actor!r} authored or last changed this version and cannot approve it")


def release_problem(releaser: str, approvers: Collection[str]) -> str | None:
    """Why ``releaser`` may not release a report whose counted records ``approvers`` approved
    (one name per record; None: they may). The releasing analyst must not be the only reviewer
    of the report's records: somebody else approved at least one of them (docs/review.md).

    >>> release_problem("ana", ["ana", "bo"]) is None
    True
    >>> release_problem("ana", ["ana", "ana"])
    "four eyes: 'ana' approved every record the report counts, so another analyst releases it"
    >>> release_problem("ana", []) is None     # a report that counts no record
    True
    """
    if approvers and set(approvers) == {releaser}:
        return f"four eyes: {releaser!r} approved every record the report counts, so another analyst releases it"
    return None
