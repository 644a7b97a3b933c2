"""``linewatch review``: the review queue, a record's versions, comments, and the moves.

``list`` shows the queue with filters; ``show`` a record's versions, what each changed, its
moves and comments; ``approve``, ``return``, ``reject`` and ``take`` move versions (or
allegations, ``--kind-of allegation``) named by id, or every record a filter selects
(``--all-matching``); ``comment`` adds to a version's thread. The moves and their rules
(four eyes, a note for a return or a rejection) are :mod:`linewatch.services.review`'s;
``linewatch.cli.main`` mounts :data:`review_app`. Exit codes (docs/cli.md): 0 all moved, 9 any
refused (each named with its reason), 6 an unknown id or reviewer, 2 a bad option value.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.table import Table

from linewatch.cli.options import DEFAULT_DB, DbOpt, active_user, cells, err, open_db, out, parse_time, say
from linewatch.errors import Conflict, InputError, NotFound

__all__ = ["review_app"]

review_app = typer.Typer(rich_markup_mode=None,
                         help="Review records and allegations: the queue, versions, approve, "
                              "return, reject, comments (docs/cli.md).", no_args_is_help=True)

#: moved per transaction in a bulk move
_CHUNK = 1000

StateOpt = Annotated[list[str] | None, typer.Option(
    "--state", help="Review state (repeat for several): submitted, detected, received, in_review, returned, "
    "approved, rejected.")]
KindOpt = Annotated[list[str] | None, typer.Option("--kind", help="Record kind (repeatable).")]
SourceOpt = Annotated[list[str] | None, typer.Option(
    "--source-kind", help="Source kind (repeatable): patrol, observation_post, sensor_fusion, ...")]
SectorOpt = Annotated[list[str] | None, typer.Option(
    "--sector", help="Sector of the agreement, as the latest verification placed the record (repeatable).")]
FromOpt = Annotated[str | None, typer.Option("--from", help="ISO time or date, inclusive.")]
ToOpt = Annotated[str | None, typer.Option("--to", help="ISO time or date, exclusive.")]
TextOpt = Annotated[str | None, typer.Option("--text", help="Text the record holds (any case).")]
AuthorOpt = Annotated[str | None, typer.Option("--author", help="The user who submitted the version.")]
SensorsOpt = Annotated[int | None, typer.Option(
    "--min-sensors", min=1, help="Fused incidents heard by at least this many sensors.")]
ByOpt = Annotated[str, typer.Option("--by", help="The reviewer: an active analyst or admin.")]
KindOfOpt = Annotated[str, typer.Option("--kind-of", help="record (a version of a record) or allegation.")]


def _usage(message: str, hint: str) -> typer.BadParameter:
    return typer.BadParameter(message, param_hint=hint)


def _choices(values: Sequence[str] | None, allowed: Sequence[str], hint: str) -> list[str] | None:
    for v in values or ():
        if v not in allowed:
            raise _usage(f"unknown value {v[:60]!r}: use one of {', '.join(allowed)}", hint)
    return list(values) if values else None


def _filter(states: list[str] | None, kinds: list[str] | None, source_kinds: list[str] | None,
            sectors: list[str] | None, start: str | None, end: str | None, text: str | None,
            author: str | None, min_sensors: int | None) -> Any:
    """The queue filter of the options; a bad value is a usage error (exit 2)."""
    from linewatch.model import Kind, SourceKind
    from linewatch.review import parse_state
    from linewatch.services.review import QueueFilter
    for s in states or ():
        try:
            parse_state(s)
        except InputError as exc:
            raise _usage(str(exc), "--state") from None
    if text is not None and len(text) > 200:
        raise _usage(f"a text filter has at most 200 characters, got {len(text):,}", "--text")
    t0, t1 = parse_time(start, "--from"), parse_time(end, "--to")
    if t0 is not None and t1 is not None and t0 >= t1:
        raise _usage(f"{start} is not before --to {end}", "--from")
    return QueueFilter(states=states or None, kinds=_choices(kinds, [k.value for k in Kind], "--kind"),
                       source_kinds=_choices(source_kinds, [k.value for k in SourceKind], "--source-kind"),
                       start=t0, end=t1, text=text, author=author, sectors=sectors or None,
                       min_sensors=min_sensors)


def _place(data: dict[str, Any]) -> str:
    lon, lat = data.get("lon"), data.get("lat")
    if isinstance(lon, int | float) and isinstance(lat, int | float):
        return f"{lon:.3f}, {lat:.3f}"
    return data.get("place_name") or "-"


def _at(text: str | None) -> str:
    """An ISO time for people: to the minute, UTC."""
    return (text[:16].replace("T", " ") + "Z") if text else "-"


@review_app.command("list")
def review_list(state: StateOpt = None, kind: KindOpt = None, source_kind: SourceOpt = None,
                sector: SectorOpt = None, start: FromOpt = None, end: ToOpt = None, text: TextOpt = None,
                author: AuthorOpt = None, min_sensors: SensorsOpt = None,
                limit: Annotated[int, typer.Option("--limit", min=1, max=10_000,
                                                   help="At most this many rows (oldest first).")] = 100,
                db: DbOpt = DEFAULT_DB) -> None:
    """The review queue: the current versions the filters select, oldest first."""
    from linewatch.services.review import queue
    f = _filter(state, kind, source_kind, sector, start, end, text, author, min_sensors)
    with open_db(db) as store:
        rows = queue(store, f, limit=limit)
    if not rows:
        say(out, "No record in the review queue matches the filter.")
        return
    title = (f"Review queue: {len(rows)} record{'' if len(rows) == 1 else 's'}"
             + (f" (the first {limit}: --limit for more)" if len(rows) == limit else ""))
    table = Table("id", "time", "kind", "place (lon, lat)", "source", "author", "state", "updated by",
                  "updated at", title=title)
    for r in rows:
        d = r.data
        source = " ".join(str(d[k]) for k in ("source_kind", "source_id") if d.get(k))
        table.add_row(*cells(r.id, _at(d.get("time")), d.get("kind"), _place(d), source or "-",
                             r.author or "-", r.state, r.updated_by or "-",
                             _at(r.updated_at) if r.updated_by else "-"))
    out.print(table)


def _value(v: Any) -> str:
    """A field's value for people (no JSON): nested values as ``key=value`` lists."""
    if v is None:
        return "(none)"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, dict):
        return "; ".join(f"{k}={_value(x)}" for k, x in sorted(v.items())) or "(empty)"
    if isinstance(v, list | tuple):
        return ", ".join(_value(x) for x in v) or "(empty)"
    return str(v)


def _history(events: list[dict[str, Any]], notes: list[dict[str, Any]]) -> None:
    """The moves (who, when, from and to, why) and the comments, in the order they were made."""
    lines = [(str(e.get("at")), f"{e.get('by')}: {e.get('from')} → {e.get('to')}"
              + (f": {e['note']}" if e.get("note") else "")) for e in events]
    lines += [(str(c.get("at")), f"comment by {c.get('by')}: {c.get('text')}") for c in notes]
    for at, text in sorted(lines, key=lambda x: x[0]):
        say(out, f"  {_at(at)} {text}")


@review_app.command("show")
def review_show(subject_id: Annotated[str, typer.Argument(metavar="ID", help="A record (any version's id) "
                                                          "or, with --kind-of allegation, an allegation.")],
                kind_of: KindOfOpt = "record", db: DbOpt = DEFAULT_DB) -> None:
    """A record's versions, oldest first: who stored each and when, what it changed, its review
    moves (who, when, why) and its comments."""
    from linewatch.services.review import versions
    _kind_of(kind_of)
    with open_db(db) as store:
        if kind_of == "allegation":
            row = store.review_of("allegation", subject_id)
            events = store.review_events("allegation", [subject_id])
            notes = store.comments("allegation", [subject_id])
            say(out, f"allegation {subject_id}: {row.state}")
            _history(events, notes)
            return
        chain = versions(store, subject_id)
    say(out, f"record {subject_id}: {len(chain)} version{'s' if len(chain) != 1 else ''}, "
             f"current {chain[-1]['id']} ({chain[-1]['state'] or 'no review state'})")
    for v in chain:
        say(out, f"\nversion {v['version']}: {v['id']}, stored {_at(v['stored_at'])} by "
                 f"{v['author'] or '(no user)'}; {v['state'] or 'no review state'}"
                 + (" (current)" if v["current"] else ""))
        if v["correction"]:
            say(out, f"  correction: {v['correction']}")
        for c in v["changes"]:
            say(out, f"  {c['field']}: {_value(c['old'])} → {_value(c['new'])}")
        _history(v["events"], v["comments"])


def _kind_of(kind_of: str) -> None:
    if kind_of not in ("record", "allegation"):
        raise _usage(f"{kind_of[:60]!r}: use record or allegation", "--kind-of")


def _note(note: str | None, what: str, hint: str) -> str | None:
    """The note checked as the service checks it, a bad one a usage error (exit 2)."""
    from linewatch.services.review import check_note
    try:
        return check_note(note, what)
    except InputError as exc:
        raise _usage(str(exc), hint) from None


def _selected(store: Any, kind_of: str, ids: list[str], f: Any) -> list[str]:
    """The ids to move: those given (every one must exist: NotFound, nothing moved), or every
    current record the filter selects."""
    from linewatch.services.review import queue_ids
    if not ids:
        return list(queue_ids(store, f))
    known = store.review_states(kind_of, ids)
    missing = [i for i in dict.fromkeys(ids) if i not in known]
    if missing:
        raise NotFound(kind_of, missing[0] if len(missing) == 1 else ", ".join(missing[:20]))
    return list(dict.fromkeys(ids))


def _check_move(name: str, to: str, ids: list[str] | None, note: str | None, kind_of: str,
                all_matching: bool, f: Any, filtered: bool) -> tuple[Any, str | None, Any]:
    """The options of ``review NAME`` checked before the store is opened (a usage error, exit 2,
    otherwise): the target state, the note, and the filter (without ``--state``, it selects the
    states the move can leave from)."""
    from linewatch.review import MOVES, NEEDS_NOTE, State
    target = State(to)
    _kind_of(kind_of)
    if ids and (filtered or all_matching):
        raise _usage("give either IDs or a filter with --all-matching, not both", "ID")
    if not ids and not all_matching:
        raise _usage("give IDs, or a filter and --all-matching to move every record it selects"
                     if not filtered else "a move by filter needs --all-matching (it moves every "
                     "record the filter selects)", "--all-matching")
    if not ids and kind_of == "allegation":
        raise _usage("allegations are moved by id (filters select records)", "--kind-of")
    note = _note(note, "note", "--note")
    if target in NEEDS_NOTE and not note:
        what = "the question to the author" if target is State.RETURNED else "the reason"
        raise _usage(f"review {name} needs --note: {what}", "--note")
    if not ids and not f.states:     # a filter selects what can make this move
        from dataclasses import replace
        f = replace(f, states=sorted(s.value for s, moves in MOVES.items() if target in moves))
    return target, note, f


def _move(name: str, to: str, ids: list[str] | None, by: str, note: str | None, kind_of: str,
          all_matching: bool, f: Any, filtered: bool, db: str) -> None:
    """Move the versions named or selected, a thousand per transaction; print each one moved or
    refused (with the reason); exit 9 if any was refused."""
    from linewatch.services.review import Bulk, check_reviewer, move_many
    target, note, f = _check_move(name, to, ids, note, kind_of, all_matching, f, filtered)
    result = Bulk()
    with open_db(db) as store:
        active_user(store, by)          # an unknown or removed user: exit 6
        check_reviewer(store, by)       # another role than analyst or admin: exit 9
        chosen = _selected(store, kind_of, list(ids or ()), f)
        for i in range(0, len(chosen), _CHUNK):
            got, _ = move_many(store, kind_of, chosen[i:i + _CHUNK], target, actor=by, note=note)
            result.moved += got.moved
            result.refused += got.refused
    refused = dict(result.refused)
    for sid in dict.fromkeys(chosen):
        say(out, f"{sid}: refused: {refused[sid]}" if sid in refused else f"{sid}: moved to {target.value}")
    if not chosen:
        say(err, "no record matches the filter: nothing moved")
        return
    say(err, f"{len(result.moved)} moved to {target.value}, {len(result.refused)} refused")
    if result.refused:
        raise typer.Exit(Conflict.exit_code)


def _mover(to: str, name: str, doc: str) -> None:
    """Register ``review NAME``: move to the state ``to``."""
    def command(by: ByOpt,
                ids: Annotated[list[str] | None, typer.Argument(
                    metavar="ID", help="Versions (or allegations) to move; or a filter and "
                    "--all-matching.")] = None,
                note: Annotated[str | None, typer.Option(
                    "--note", help="Why: needed for return (the question to the author) and reject (the "
                    "reason).")] = None,
                kind_of: KindOfOpt = "record",
                all_matching: Annotated[bool, typer.Option(
                    "--all-matching", help="Move every record the filter selects.")] = False,
                state: StateOpt = None, kind: KindOpt = None, source_kind: SourceOpt = None,
                sector: SectorOpt = None, start: FromOpt = None, end: ToOpt = None, text: TextOpt = None,
                author: AuthorOpt = None, min_sensors: SensorsOpt = None, db: DbOpt = DEFAULT_DB) -> None:
        f = _filter(state, kind, source_kind, sector, start, end, text, author, min_sensors)
        filtered = any(v not in (None, []) for v in (state, kind, source_kind, sector, start, end, text, author,
                                                     min_sensors))
        _move(name, to, ids, by, note, kind_of, all_matching, f, filtered, db)
    command.__doc__ = doc
    review_app.command(name)(command)


_mover("approved", "approve", "Approve versions (four eyes: nobody approves what they authored or last "
       "changed). Exit 9 if any was refused.")
_mover("returned", "return", "Return versions to their author with a question (--note). Exit 9 if any "
       "was refused.")
_mover("rejected", "reject", "Reject versions, with the reason (--note). Exit 9 if any was refused.")
_mover("in_review", "take", "Take versions into review (in_review). Exit 9 if any was refused.")


@review_app.command("comment")
def review_comment(subject_id: Annotated[str, typer.Argument(metavar="ID", help="A version or an allegation.")],
                   text: Annotated[str, typer.Argument(metavar="TEXT", help="The comment; - reads it from "
                                                       "standard input.")],
                   by: Annotated[str, typer.Option("--by", help="Who comments: a reviewer (analyst, admin) or "
                                                   "the version's author.")],
                   kind_of: KindOfOpt = "record", db: DbOpt = DEFAULT_DB) -> None:
    """Add a comment to the thread of a version (or an allegation), by a reviewer or the
    version's author."""
    from linewatch.services.review import MAX_NOTE_CHARS, check_reviewer, comment
    _kind_of(kind_of)
    if text == "-":
        text = sys.stdin.read(max(MAX_NOTE_CHARS * 100, 1 << 24))
    body = _note(text, "comment", "TEXT")
    if not body:
        raise _usage("a comment needs text", "TEXT")
    with open_db(db) as store:
        user = active_user(store, by)
        store.review_of(kind_of, subject_id)      # NotFound (exit 6) first
        try:
            check_reviewer(store, by)
        except Conflict:
            authors = (store.allegation_authors([subject_id]) if kind_of == "allegation"
                       else store.authors(store.version_chain(subject_id)))
            if by not in set(authors.values()):
                raise Conflict(f"user {by!r} is a {user.role}: a comment comes from a reviewer (analyst, "
                               f"admin) or the author of the {kind_of}") from None
        got = comment(store, kind_of, subject_id, author=by, text=body)
    say(out, f"{kind_of} {subject_id}: comment {got['n']} by {by} added")
