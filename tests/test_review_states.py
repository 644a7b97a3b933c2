"""The review states as a state machine (issue 16): monitors submit and correct records, analysts
and monitors try every move, with and without a note, and comment; some corrections are forks or
name a record that does not exist. A model kept beside the store says what each step must do.

After every step: no unapproved version counts as approved (the store's states and counts agree
with the model, and a daily report counts the approved current versions and no other); four
eyes hold (no approval by an author of the approved version or of one it corrects); every move
and comment is logged exactly once and the audit log verifies; every version keeps what was
submitted, its chain lists every version in order, only the last is current; a fork or an
unknown target is never stored. SQLite for the machine, and a scripted life cycle on
both stores.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from linewatch import reporting
from linewatch.errors import Conflict, InputError, NotFound
from linewatch.formats.records import Parsed, parse_record, record_to_dict
from linewatch.review import FINAL, MOVES, NEEDS_NOTE, State, entry_state
from linewatch.services import review
from linewatch.services.accounts import token_sha256
from linewatch.services.audit import AuditLog
from linewatch.services.submissions import submit_records
from linewatch.store import Store, open_store

MONITORS = ("mon-a", "mon-b", "mon-c")
ANALYSTS = ("ana", "bo")
SOURCES = ("observation_post", "patrol", "uav")
NOTES = (None, "", "   ", "Which crossing was it?")


def _record(rid: str, source: str, n: int) -> dict[str, Any]:
    """A record as a monitor's request carries it: an observation post's by bearing and distance,
    a patrol's or a UAV's by a point."""
    base = {"id": rid, "kind": "explosion", "explosion_type": "impact", "time": f"2026-06-15T{n % 24:02d}:10:00Z",
            "source_kind": source, "source_id": f"{source[:2].upper()}-{n % 5}", "count": 1 + n % 4}
    if source == "observation_post":
        return {**base, "observer_lon": 37.61, "observer_lat": 48.45, "bearing_deg": float(n * 37 % 360),
                "distance_min_m": 3000.0, "distance_max_m": 7000.0}
    return {**base, "lon": round(37.5 + n * 0.01, 5), "lat": 48.3, "radius_m": 300.0}


def _canonical(obj: dict[str, Any]) -> dict[str, Any]:
    got = parse_record(obj, name="test", line=1, raw=json.dumps(obj))
    assert isinstance(got, Parsed), got
    return record_to_dict(got.report)


@dataclass
class Model:
    """What the store must hold: each version's content, author and state, each chain in order,
    the moves and comments made, the ids refused."""

    data: dict[str, dict[str, Any]] = field(default_factory=dict)
    author: dict[str, str] = field(default_factory=dict)
    state: dict[str, State] = field(default_factory=dict)
    chains: list[list[str]] = field(default_factory=list)
    moves: int = 0
    comments: int = 0
    refused: list[str] = field(default_factory=list)

    def chain_of(self, vid: str) -> list[str]:
        return next(c for c in self.chains if vid in c)

    def current(self) -> set[str]:
        return {c[-1] for c in self.chains}

    def authors(self, vid: str) -> set[str]:
        return {self.author[v] for v in self.chain_of(vid)}

    def may_move(self, vid: str, to: State, actor: str, note: str | None) -> bool:
        return (vid in self.current() and to in MOVES[self.state[vid]]
                and (to not in NEEDS_NOTE or bool(note and note.strip()))
                and not (to is State.APPROVED and actor in self.authors(vid)))

    def add(self, obj: dict[str, Any], author: str, chain: list[str]) -> None:
        self.data[obj["id"]] = _canonical(obj)
        self.author[obj["id"]] = author
        self.state[obj["id"]] = entry_state(obj["source_kind"])
        chain.append(obj["id"])


def check_store(store: Store, m: Model) -> None:
    """Every invariant of the module docstring, the store against the model."""
    ids = list(m.data)
    # states: the store's agree with the model's, and so do the counts of current versions
    assert {k: State(r.state) for k, r in store.review_states("record", ids).items()} == m.state
    assert store.review_counts() == dict(Counter(m.state[v].value for v in m.current()))
    # four eyes: an approval's actor wrote none of the versions up to the one approved
    events = store.review_events("record", ids)
    for e in events:
        if e["to"] == State.APPROVED.value:
            chain = m.chain_of(e["subject"])
            upto = chain[:chain.index(e["subject"]) + 1]
            assert e["by"] not in {a for a in store.authors(upto).values() if a}, e
    approved = {v for v, s in m.state.items() if s is State.APPROVED}
    assert set(store.approvals(ids)) == approved
    # every move and comment logged once, and the log verifies
    log = AuditLog(store)
    logged = Counter(e.subject_id for e in log.entries(entry_type="review"))
    stored = [rid for rid, _ in store.iter_review_events()]
    assert len(events) == len(stored) == m.moves
    assert logged == Counter(stored) and set(logged.values()) <= {1}
    assert len(log.entries(entry_type="comment")) == m.comments
    # versions: each keeps what was submitted; chains complete and in order; only the last current
    for chain in m.chains:
        for vid in chain:
            assert store.record_row(vid).data == m.data[vid]
            assert store.version_chain(vid) == chain
    current = store.reports()
    assert sorted(r.id for r in current) == sorted(m.current())
    # what a daily report counts of them (by default): the approved current versions, no other
    states = {k: r.state for k, r in store.review_states("record", [r.id for r in current]).items()}
    counted = reporting.reviewed(current, states, include_unreviewed=False).counted
    assert {r.id for r in counted} == {v for v in m.current() if m.state[v] is State.APPROVED}
    # forks and unknown targets: never stored
    for rid in m.refused:
        with pytest.raises(NotFound):
            store.record_row(rid)


class ReviewMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.TemporaryDirectory(prefix="linewatch-review-sm-")
        self.store = open_store(Path(self.dir.name) / "s.sqlite")
        for i, name in enumerate(MONITORS + ANALYSTS):
            self.store.add_user(name, "monitor" if name in MONITORS else "analyst", token_sha256(f"t{i}"))
        self.m = Model()
        self.n = 0

    def teardown(self) -> None:
        try:
            assert AuditLog(self.store).verify().ok
        finally:
            self.store.close()
            self.dir.cleanup()

    def _new_id(self) -> str:
        self.n += 1
        return f"r{self.n}"

    @initialize(first=st.lists(st.tuples(st.sampled_from(MONITORS), st.sampled_from(SOURCES)), min_size=2, max_size=4))
    def start(self, first: list[tuple[str, str]]) -> None:
        """A few records to review from the first step."""
        for monitor, source in first:
            self.submit(monitor, source)

    @rule(monitor=st.sampled_from(MONITORS), source=st.sampled_from(SOURCES))
    def submit(self, monitor: str, source: str) -> None:
        obj = _record(self._new_id(), source, self.n)
        got = submit_records(self.store, [obj], submitted_by=monitor, source=f"api:{monitor}")
        assert (got.added, got.quarantined) == (1, 0), got
        chain: list[str] = []
        self.m.chains.append(chain)
        self.m.add(obj, monitor, chain)

    @precondition(lambda self: self.m.chains)
    @rule(data=st.data(), actor=st.sampled_from(MONITORS + ANALYSTS))
    def correct(self, data: st.DataObject, actor: str) -> None:
        """A correction of a chain's current version, as the API checks it (a monitor corrects
        only their own, and only until it is approved or rejected)."""
        chain = data.draw(st.sampled_from(self.m.chains))
        target = chain[-1]
        allowed = actor in ANALYSTS or (actor in self.m.authors(target) and self.m.state[target] not in FINAL)
        try:
            review.check_correction(self.store, target, author=actor, monitor=actor in MONITORS)
        except Conflict:
            assert not allowed
            return
        assert allowed
        old = self.m.data[chain[0]]
        obj = {**_record(self._new_id(), old["source_kind"], self.n), "supersedes": target,
               "correction": f"count corrected by {actor}"}
        got = submit_records(self.store, [obj], submitted_by=actor, source=f"api:{actor}")
        assert (got.added, got.quarantined) == (1, 0), got
        self.m.add(obj, actor, chain)

    @precondition(lambda self: self.m.chains)
    @rule(data=st.data(), actor=st.sampled_from(MONITORS + ANALYSTS), unknown=st.booleans())
    def bad_correction(self, data: st.DataObject, actor: str, unknown: bool) -> None:
        """A correction of a version already corrected (a fork) or of a record never stored, as
        a file would carry it: quarantined, never stored."""
        forkable = [v for c in self.m.chains for v in c[:-1]]
        if unknown or not forkable:
            target, source = f"nope-{self.n}", "patrol"
        else:
            target = data.draw(st.sampled_from(forkable))
            source = self.m.data[target]["source_kind"]
        obj = {**_record(self._new_id(), source, self.n), "supersedes": target, "correction": "again"}
        got = submit_records(self.store, [obj], submitted_by=actor, source=f"api:{actor}")
        assert (got.added, got.quarantined) == (0, 1), got
        self.m.refused.append(obj["id"])

    @precondition(lambda self: self.m.chains)
    @rule(data=st.data(), actor=st.sampled_from(MONITORS + ANALYSTS + ANALYSTS), note=st.sampled_from(NOTES),
          current=st.booleans(), allowed=st.booleans())
    def move(self, data: st.DataObject, actor: str, note: str | None, current: bool, allowed: bool) -> None:
        """Any version (current or corrected), any actor, any state (half the time one that
        :data:`MOVES` allows from where it is): the model says whether it moves."""
        vid = data.draw(st.sampled_from(sorted(self.m.current() if current else self.m.data)))
        moves = sorted(MOVES[self.m.state[vid]]) if allowed else []
        to = data.draw(st.sampled_from(moves or list(State)))
        ok = self.m.may_move(vid, to, actor, note)
        try:
            event = review.move(self.store, "record", vid, to, actor=actor, note=note)
        except (Conflict, InputError) as exc:
            assert not ok, f"{actor} could not move {vid} {self.m.state[vid]} -> {to}: {exc}"
            return
        assert ok, f"{actor} moved {vid} {self.m.state[vid]} -> {to}"
        assert (event["from"], event["to"], event["by"]) == (self.m.state[vid].value, to.value, actor)
        self.m.state[vid] = to
        self.m.moves += 1

    @precondition(lambda self: self.m.chains)
    @rule(data=st.data(), actor=st.sampled_from(MONITORS + ANALYSTS))
    def approve_many(self, data: st.DataObject, actor: str) -> None:
        """A bulk approval by a filter's ids: each moves or is refused as alone."""
        ids = data.draw(st.lists(st.sampled_from(sorted(self.m.data)), max_size=5, unique=True))
        expect = [v for v in ids if self.m.may_move(v, State.APPROVED, actor, None)]
        bulk, events = review.move_many(self.store, "record", ids, State.APPROVED, actor=actor)
        assert bulk.moved == expect and len(events) == len(expect)
        assert [i for i, _ in bulk.refused] == [v for v in ids if v not in expect]
        for v in expect:
            self.m.state[v] = State.APPROVED
        self.m.moves += len(expect)

    @precondition(lambda self: self.m.chains)
    @rule(data=st.data(), author=st.sampled_from(MONITORS + ANALYSTS), text=st.sampled_from(["", "  ", "ok?"]))
    def comment(self, data: st.DataObject, author: str, text: str) -> None:
        vid = data.draw(st.sampled_from(sorted(self.m.data)))
        try:
            review.comment(self.store, "record", vid, author=author, text=text)
        except InputError:
            assert not text.strip()
            return
        assert text.strip()
        self.m.comments += 1

    @rule(actor=st.sampled_from(MONITORS + ANALYSTS))
    def reviewer_check(self, actor: str) -> None:
        """Only analysts review (the role check the API and the CLI make before a move)."""
        if actor in ANALYSTS:
            assert review.check_reviewer(self.store, actor) == actor
        else:
            with pytest.raises(Conflict, match="only an analyst"):
                review.check_reviewer(self.store, actor)

    @invariant()
    def store_agrees_with_the_model(self) -> None:
        check_store(self.store, self.m)


ReviewMachine.TestCase.settings = settings(
    max_examples=30, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_review_state_machine = ReviewMachine.TestCase


# -- the same life cycle, scripted, on both stores ------------------------------------------------

def test_a_report_returned_corrected_and_approved_by_another_analyst(store_url):
    m = Model()
    with open_store(store_url) as store:
        first = _record("r1", "patrol", 1)
        submit_records(store, [first, _record("r2", "uav", 2)], submitted_by="mon-a", source="api:mon-a")
        m.chains += [[], []]
        m.add(first, "mon-a", m.chains[0])
        m.add(_record("r2", "uav", 2), "mon-a", m.chains[1])
        assert m.state == {"r1": State.SUBMITTED, "r2": State.DETECTED}
        with pytest.raises(InputError, match="needs a note"):
            review.move(store, "record", "r1", "returned", actor="ana", note="  ")
        review.move(store, "record", "r1", "returned", actor="ana", note="Which crossing was it?")
        review.comment(store, "record", "r1", author="mon-a", text="Crossing 4; corrected.")
        m.state["r1"], m.moves, m.comments = State.RETURNED, 1, 1
        review.check_correction(store, "r1", author="mon-a", monitor=True)
        fix = {**first, "id": "r1.2", "supersedes": "r1", "correction": "crossing 4", "count": 3}
        fork = {**first, "id": "r1.3", "supersedes": "r1", "correction": "again"}
        unknown = {**first, "id": "r9.2", "supersedes": "r9", "correction": "nothing to correct"}
        got = submit_records(store, [fix, fork, unknown], submitted_by="mon-a", source="api:mon-a")
        assert (got.added, got.quarantined) == (1, 2)
        m.add(fix, "mon-a", m.chains[0])
        m.refused += ["r1.3", "r9.2"]
        with pytest.raises(Conflict, match="four eyes"):
            review.move(store, "record", "r1.2", "approved", actor="mon-a")
        with pytest.raises(Conflict, match="corrected by"):
            review.move(store, "record", "r1", "rejected", actor="bo", note="late")
        review.move(store, "record", "r1.2", "approved", actor="bo")
        bulk, _ = review.move_many(store, "record", ["r1.2", "r2"], "approved", actor="ana")
        assert bulk.moved == ["r2"] and [i for i, _ in bulk.refused] == ["r1.2"]
        m.state.update({"r1.2": State.APPROVED, "r2": State.APPROVED})
        m.moves += 2
        check_store(store, m)
        assert store.review_counts() == {"approved": 2}
        assert AuditLog(store).verify().ok
