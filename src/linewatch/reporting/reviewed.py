"""What a daily report counts of a day's records: the approved ones, and the pending ones only
when asked (``include_unreviewed``), marked as unreviewed; a rejected record never counts.

:func:`reviewed` splits a day's current records by their review state into what the report
counts and the day's ``review`` block; :func:`review_sentences` says it in words for the summary
(docs/report-formats.md, "Review"). Pure: the states are passed in (``linewatch.review``).

>>> from datetime import UTC, datetime
>>> from linewatch.model import Kind, Location, Provenance, SourceKind
>>> def rec(rid):
...     return Report(rid, Kind.EXPLOSION, datetime(2026, 6, 15, tzinfo=UTC), Location.point(36.0, 48.0),
...                   Provenance(SourceKind.PATROL, "P-1"))
>>> day = [rec("a"), rec("b"), rec("c"), rec("d")]
>>> states = {"a": "approved", "b": "in_review", "c": "rejected"}     # "d": no row yet, submitted
>>> got = reviewed(day, states, include_unreviewed=False)
>>> [r.id for r in got.counted], got.block["unreviewed"]
(['a'], {'count': 2, 'records': ['b', 'd']})
>>> for s in review_sentences(got.block):
...     print(s)
2 reports of the day were still under review and are not counted.
1 report of the day was rejected on review and is not counted.
>>> [r.id for r in reviewed(day, states, include_unreviewed=True).counted]
['a', 'b', 'd']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from linewatch.model import Report
from linewatch.reporting.counts import Fig
from linewatch.review import PENDING, State

__all__ = ["Reviewed", "none_approved", "review_sentences", "reviewed", "trend_review"]


@dataclass(frozen=True)
class Reviewed:
    """A day's records as a report counts them: ``counted`` (by id) and the ``review`` block."""

    counted: list[Report]
    block: Fig

    @property
    def unreviewed(self) -> frozenset[str]:
        """The ids counted although still unreviewed (only with ``include_unreviewed``)."""
        return frozenset(self.block["unreviewed"]["records"]) if self.block["unreviewed_included"] else frozenset()


def _state(states: Mapping[str, str], record_id: str) -> State:
    """A record's state; one without a review row waits for a reviewer."""
    try:
        return State(states.get(record_id, State.SUBMITTED.value))
    except ValueError:
        return State.SUBMITTED


def reviewed(reports: Sequence[Report], states: Mapping[str, str], *, include_unreviewed: bool) -> Reviewed:
    """Split the day's current records by ``states`` (``id -> state``): the approved ones count,
    the pending ones (:data:`linewatch.review.PENDING`) too with ``include_unreviewed``."""
    by_state: dict[str, list[str]] = {"approved": [], "unreviewed": [], "rejected": []}
    counted = []
    for r in sorted(reports, key=lambda r: r.id):
        state = _state(states, r.id)
        key = "approved" if state is State.APPROVED else "rejected" if state is State.REJECTED else "unreviewed"
        by_state[key].append(r.id)
        if key == "approved" or (key == "unreviewed" and include_unreviewed and state in PENDING):
            counted.append(r)
    block = {k: {"count": len(v), "records": v} for k, v in by_state.items()}
    return Reviewed(counted, {**block, "unreviewed_included": bool(include_unreviewed)})


def trend_review(block: Fig) -> Fig:
    """The review block as a trend day carries it: the counts alone."""
    return {"approved": block["approved"]["count"], "unreviewed": block["unreviewed"]["count"],
            "rejected": block["rejected"]["count"], "unreviewed_included": block["unreviewed_included"]}


def _reports(n: int) -> str:
    return f"{n} report{'s' if n != 1 else ''} of the day {'was' if n == 1 else 'were'}"


def review_sentences(block: Fig) -> list[str]:
    """What the summary says of the day's review: how many reports were still unreviewed (and
    whether they are counted), and how many were rejected.

    >>> b = {"approved": {"count": 3}, "unreviewed": {"count": 12}, "rejected": {"count": 0},
    ...      "unreviewed_included": True}
    >>> review_sentences(b)
    ['12 reports of the day were still under review and are counted, marked as unreviewed.']
    """
    out = []
    n, m = block["unreviewed"]["count"], block["rejected"]["count"]
    if n:
        out.append(f"{_reports(n)} still under review and "
                   + (f"{'is' if n == 1 else 'are'} counted, marked as unreviewed."
                      if block["unreviewed_included"] else f"{'is' if n == 1 else 'are'} not counted."))
    if m:
        out.append(f"{_reports(m)} rejected on review and {'is' if m == 1 else 'are'} not counted.")
    return out


def none_approved(block: Fig) -> str:
    """The summary of a day whose reports were received but none counts: never "0 violations".

    >>> none_approved({"approved": {"count": 0}, "unreviewed": {"count": 4}, "rejected": {"count": 1},
    ...                "unreviewed_included": False})  # doctest: +NORMALIZE_WHITESPACE
    'Reports were received for this day (5), but none is approved yet: 4 are still under review and
    1 was rejected. The mission cannot yet say whether the ceasefire held, and the empty figures
    below are not a count of zero violations.'
    """
    n, m = block["unreviewed"]["count"], block["rejected"]["count"]
    parts = ([f"{n} {'is' if n == 1 else 'are'} still under review"] if n else []) + \
        ([f"{m} {'was' if m == 1 else 'were'} rejected"] if m else [])
    lead = (f"Reports were received for this day ({n + m}), but none is approved yet: "
            if n else f"Reports were received for this day ({m}), but none was approved: ")
    cannot = "cannot yet say" if n else "cannot say"
    return (lead + " and ".join(parts) + f". The mission {cannot} whether the ceasefire held, and the empty "
            "figures below are not a count of zero violations.")
