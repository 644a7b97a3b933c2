"""Review as use cases: move a version or an allegation to another state, in bulk by a filter,
approve fused incidents by a rule, comment, and read a record's versions with their history.

Every move is checked by :func:`linewatch.review.check_move` (the moves allowed, a note where
one is needed, four eyes), stored with who, when and why, and logged in the audit log in the
same transaction (docs/review.md). Only the current version of a record can be reviewed: a
corrected one is history.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from linewatch.errors import Conflict, InputError, NotFound
from linewatch.formats.record_schema import MAX_TEXT_CHARS
from linewatch.model import utc_iso
from linewatch.review import FINAL, State, check_move, parse_state
from linewatch.services.audit import AuditLog
from linewatch.store import Store
from linewatch.store.review_tables import QueueRow

__all__ = ["REVIEWER_ROLES", "Bulk", "QueueFilter", "changes", "check_correction", "check_reviewer", "comment",
           "move", "move_many", "queue", "queue_ids", "versions"]

#: the roles that review (a monitor submits, a party alleges)
REVIEWER_ROLES = ("analyst", "admin")
#: the longest comment, question or reason (docs/review.md)
MAX_NOTE_CHARS = MAX_TEXT_CHARS


@dataclass
class Bulk:
    """What a bulk move did: the ids moved and, for each refused one, why."""

    moved: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"moved": self.moved, "refused": [{"id": i, "reason": r} for i, r in self.refused]}


@dataclass(frozen=True)
class QueueFilter:
    """What a review queue shows (docs/review.md, "Filters"); ``min_sensors`` keeps fused
    incidents heard by at least that many sensors."""

    states: Sequence[str] | None = None
    kinds: Sequence[str] | None = None
    source_kinds: Sequence[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    text: str | None = None
    author: str | None = None
    sectors: Sequence[str] | None = None
    min_sensors: int | None = None

    def __post_init__(self) -> None:
        for s in self.states or ():
            parse_state(s)
        if self.text is not None and len(self.text) > 200:
            raise InputError(f"a text filter has at most 200 characters, got {len(self.text)}")


def _now() -> str:
    return utc_iso(datetime.now(UTC))


def check_note(note: str | None, what: str = "note") -> str | None:
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise InputError(f"a {what} has at most {MAX_NOTE_CHARS:,} characters, got {len(note):,}")
    if note is not None and "\x00" in note:
        raise InputError(f"a {what} cannot hold a NUL character")
    return note.strip() or None if note is not None else None


def check_reviewer(store: Store, name: str) -> str:
    """``name`` if it is an active user who reviews (analyst or admin); else why not."""
    user = next((u for u in store.users() if u.name == name), None)
    if user is None or user.revoked_at is not None:
        raise NotFound("reviewer", name)       # linewatch user add NAME --role analyst
    if user.role not in REVIEWER_ROLES:
        raise Conflict(f"user {name!r} is a {user.role}: only an analyst or an admin reviews")
    return name


def _authors(store: Store, kind: str, subject_id: str) -> set[str]:
    """Everybody who wrote a version of the record (or submitted the allegation)."""
    if kind == "allegation":
        return {w for w in store.allegation_authors([subject_id]).values() if w}
    return {a for a in store.authors(store.version_chain(subject_id)).values() if a}


def _current(store: Store, kind: str, subject_id: str) -> None:
    """Conflict when a later version (or allegation) corrects ``subject_id``: only the current
    one is reviewed."""
    by = (store.superseded_by([subject_id]) if kind == "record"
          else store.allegations_superseded_by([subject_id])).get(subject_id)
    if by is not None:
        raise Conflict(f"{kind} {subject_id!r} was corrected by {by!r}: review the current version")


def move(store: Store, kind: str, subject_id: str, to: str | State, *, actor: str,
         note: str | None = None) -> dict[str, Any]:
    """Move one version (``kind="record"``) or allegation to ``to``; the event as logged."""
    result = move_many(store, kind, [subject_id], to, actor=actor, note=note, strict=True)
    return result[1][0]


def move_many(store: Store, kind: str, ids: Sequence[str], to: str | State, *, actor: str,
              note: str | None = None, strict: bool = False) -> tuple[Bulk, list[dict[str, Any]]]:
    """Move each of ``ids`` to ``to`` in one transaction; one that may not move is refused with
    the reason (``strict``: the error is raised and nothing moves)."""
    target = parse_state(to) if isinstance(to, str) else to
    note = check_note(note)
    if kind not in ("record", "allegation"):
        raise InputError(f"unknown review subject {kind!r}: record or allegation")
    out, events = Bulk(), []
    at = _now()
    with store.transaction() as c:
        store.serialize_writes(c)
        for sid in dict.fromkeys(ids):
            try:
                row = store.review_of(kind, sid)
                _current(store, kind, sid)
                authors = _authors(store, kind, sid)
                check_move(State(row.state), target, actor=actor, authors=authors, note=note)
            except (Conflict, NotFound, InputError) as exc:
                if strict:
                    raise
                out.refused.append((sid, str(exc)))
                continue
            events.append(store.move_review(c, kind, sid, was=row.state, to=target.value, actor=actor,
                                            note=note, at=at,
                                            authors=sorted(authors) if target is State.APPROVED else None))
            out.moved.append(sid)
        AuditLog(store).log_new_records()
    return out, events


def comment(store: Store, kind: str, subject_id: str, *, author: str, text: str) -> dict[str, Any]:
    """Add a comment to the thread of a version or an allegation; as logged."""
    body = check_note(text, "comment")
    if not body:
        raise InputError("a comment needs text")
    with store.transaction() as c:
        store.serialize_writes(c)
        store.review_of(kind, subject_id)
        got = store.add_comment(c, kind, subject_id, author=author, text=body, at=_now())
        AuditLog(store).log_new_records()
    return got


def check_correction(store: Store, supersedes: str, *, author: str, monitor: bool) -> None:
    """Conflict unless ``author`` may correct the version ``supersedes``: a monitor corrects
    only what they wrote, and only until it is approved or rejected (NotFound if not stored)."""
    if not monitor:
        return
    state = store.review_of("record", supersedes).state
    if author not in _authors(store, "record", supersedes):
        raise Conflict(f"record {supersedes!r} is not yours to correct: a monitor corrects their own reports")
    if State(state) in FINAL:
        raise Conflict(f"record {supersedes!r} is {state}: ask an analyst to correct it")


def queue(store: Store, f: QueueFilter, *, after: tuple[float, str] | None = None, limit: int = 100) -> list[QueueRow]:
    """A page of the review queue (current versions, by time then id)."""
    out: list[QueueRow] = []
    while len(out) < limit:
        rows = store.review_queue(states=f.states, kinds=f.kinds, source_kinds=f.source_kinds, start=f.start,
                                  end=f.end, text=f.text, author=f.author, sectors=f.sectors, after=after,
                                  limit=limit if f.min_sensors is None else max(limit * 2, 500))
        if not rows:
            break
        out += [r for r in rows if f.min_sensors is None or _n_sensors(r.data) >= f.min_sensors][:limit - len(out)]
        if f.min_sensors is None or len(rows) < max(limit * 2, 500):
            break
        after = (rows[-1].time_s, rows[-1].id)
    return out


def _n_sensors(data: dict[str, Any]) -> int:
    try:
        return int((data.get("extra") or {}).get("n_sensors", 0))
    except (TypeError, ValueError):
        return 0


def queue_ids(store: Store, f: QueueFilter, *, page: int = 2000) -> Iterator[str]:
    """Every id the filter selects (for a bulk move)."""
    after = None
    while True:
        rows = queue(store, f, after=after, limit=page)
        yield from (r.id for r in rows)
        if len(rows) < page:
            return
        after = (rows[-1].time_s, rows[-1].id)


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """The fields a version changed: ``{"field", "old", "new"}`` (None where absent), by field name;
    the id and the correction's own fields are not content.

    >>> changes({"id": "a", "count": 3, "party": "x"}, {"id": "b", "count": 2, "supersedes": "a"})
    [{'field': 'count', 'old': 3, 'new': 2}, {'field': 'party', 'old': 'x', 'new': None}]
    """
    skip = {"id", "supersedes", "correction"}
    keys = sorted((set(old) | set(new)) - skip)
    return [{"field": k, "old": old.get(k), "new": new.get(k)} for k in keys if old.get(k) != new.get(k)]


def versions(store: Store, record_id: str) -> list[dict[str, Any]]:
    """Every version of the record ``record_id`` belongs to, oldest first: its content, author,
    when it was stored, its review state and moves, its comments, and what it changed."""
    chain = store.version_chain(record_id)
    authors = store.authors(chain)
    states = store.review_states("record", chain)
    events = store.review_events("record", chain)
    notes = store.comments("record", chain)
    out: list[dict[str, Any]] = []
    prev: dict[str, Any] | None = None
    for n, vid in enumerate(chain, start=1):
        row = store.record_row(vid)
        state = states.get(vid)
        out.append({"version": n, "id": vid, "record": row.data, "author": authors.get(vid),
                    "stored_at": store.record_ingested_at(vid),
                    "state": state.state if state else None, "current": n == len(chain),
                    "correction": row.data.get("correction"),
                    "changes": changes(prev, row.data) if prev is not None else [],
                    "events": [e for e in events if e["subject"] == vid],
                    "comments": [c for c in notes if c["subject"] == vid]})
        prev = row.data
    return out
