"""The review tables checked against their events: what ``audit verify`` reads of them.

Each row of ``review_events`` and ``review_comments`` is logged whole (its ``data``, entry types
``review`` and ``comment``), like a record. Their other columns, and the whole ``review`` table
(each version's state now), are *derived* from those logged events; :func:`review_mismatches`
derives them again and names every cell that differs; :func:`review_gaps` names every version or
allegation without a review row, and every review row without its subject. A state edited in place (a rejected
report made ``approved`` without a move) is found this way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from linewatch.review import entry_state
from linewatch.store.integrity import CellMismatch

if TYPE_CHECKING:
    from linewatch.store.base import Store

__all__ = ["review_gaps", "review_mismatches"]


def _events(store: Store) -> Iterator[CellMismatch | tuple[tuple[str, str], dict[str, Any]]]:
    """Mismatches of the events' own columns, and each parsed event keyed by its subject."""
    for eid, kind, subject, state, actor, at, data in store.conn.execute(
            "SELECT id, subject_kind, subject_id, state, actor, at, data FROM review_events ORDER BY rowid"):
        try:
            event = json.loads(data)
            want = {"id": f"{event['kind']}:{event['subject']}@{event['n']}", "subject_kind": event["kind"],
                    "subject_id": event["subject"], "state": event["to"], "actor": event["by"], "at": event["at"]}
        except (ValueError, TypeError, KeyError):
            continue    # not an event: the log check names the row
        got = {"id": eid, "subject_kind": kind, "subject_id": subject, "state": state, "actor": actor, "at": at}
        for col, value in want.items():
            if got[col] != value:
                yield CellMismatch("review_events", str(eid), col, got[col], value)
        yield (str(event["kind"]), str(event["subject"])), event


def review_mismatches(store: Store) -> Iterator[CellMismatch]:
    """Every cell of the review tables that the logged events (and the records' sources) do not give."""
    last: dict[tuple[str, str], dict[str, Any]] = {}
    counts: dict[tuple[str, str], int] = {}
    for item in _events(store):
        if isinstance(item, CellMismatch):
            yield item
        else:
            key, event = item
            last[key] = event
            counts[key] = counts.get(key, 0) + 1
    subjects = store.conn.execute(
        "SELECT 'record', r.id, r.source_kind, v.state, v.updated_at, v.updated_by, v.n_events FROM records r "
        "LEFT JOIN review v ON v.subject_kind = 'record' AND v.subject_id = r.id UNION ALL "
        "SELECT 'allegation', a.id, 'party_allegation', v.state, v.updated_at, v.updated_by, v.n_events "
        "FROM allegations a LEFT JOIN review v ON v.subject_kind = 'allegation' AND v.subject_id = a.id")
    for kind, sid, source, state, _at, by, n in subjects:
        if state is None:
            continue        # no review row at all: review_gaps names it
        moved = last.get((kind, sid))
        want = ({"state": moved["to"], "updated_by": moved["by"], "n_events": counts[(kind, sid)]} if moved else
                {"state": entry_state(source, allegation=kind == "allegation").value, "updated_by": None,
                 "n_events": 0})
        got = {"state": state, "updated_by": by, "n_events": n}
        for col, value in want.items():
            if got[col] != value:
                yield CellMismatch("review", f"{kind} {sid}", col, got[col], value)


def review_gaps(store: Store) -> Iterator[tuple[str, str]]:
    """``(where, what)`` for every version or allegation without a review row, and every review
    row whose version or allegation is gone."""
    for kind, table in (("record", "records"), ("allegation", "allegations")):
        for (sid,) in store.conn.execute(
                f"SELECT t.id FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM review v WHERE "
                f"v.subject_kind = '{kind}' AND v.subject_id = t.id)"):
            yield f"{table} row {sid!r}", "has no review state (table review)"
    for kind, sid in store.conn.execute(
            "SELECT v.subject_kind, v.subject_id FROM review v WHERE NOT EXISTS (SELECT 1 FROM records r WHERE "
            "v.subject_kind = 'record' AND r.id = v.subject_id) AND NOT EXISTS (SELECT 1 FROM allegations a "
            "WHERE v.subject_kind = 'allegation' AND a.id = v.subject_id)"):
        yield f"review row '{kind} {sid}'", f"is the review state of a {kind} that is not stored"
