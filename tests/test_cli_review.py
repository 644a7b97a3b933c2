"""``linewatch review`` and ``linewatch ingest`` end to end on both stores: a report's life from a
monitor's file to its approval (a return with a question, a correction, four eyes), bulk moves
by filter and fused incidents by rule, every bad input with its exit code, and the three exit
statuses of ingest (0 all stored, 7 some quarantined, 12 nothing stored)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from linewatch.cli import options
from linewatch.cli.main import app
from linewatch.errors import LinewatchError

EXIT_USAGE, EXIT_NOT_FOUND, EXIT_QUARANTINED, EXIT_CONFLICT, EXIT_NOTHING_STORED = 2, 6, 7, 9, 12


class Run:
    """A command's output and the exit code ``linewatch`` gives (``main`` maps our errors)."""

    def __init__(self, args: tuple[object, ...], stdin: str | None = None) -> None:
        r = CliRunner().invoke(app, [str(a) for a in args], input=stdin)
        self.output = r.output
        self.exception = r.exception
        self.code = r.exception.exit_code if isinstance(r.exception, LinewatchError) else r.exit_code
        # the output and our error's message, with the usage box and its line breaks taken out
        raw = self.output + (str(r.exception) if isinstance(r.exception, LinewatchError) else "")
        self.text = " ".join(re.sub("[│╭╮╰╯─]", " ", raw).split())


def cli(*args: object, code: int | None = 0, stdin: str | None = None) -> Run:
    r = Run(args, stdin)
    if code is not None:
        assert r.code == code, (r.code, r.text, r.exception)
    return r


@pytest.fixture(autouse=True)
def _wide(monkeypatch):
    """Tables on a wide console: no id or name is wrapped."""
    monkeypatch.setattr(options.out, "_width", 250)


def rec(rid: str, **kw: object) -> dict[str, object]:
    base: dict[str, object] = {"id": rid, "kind": "weapon_sighting", "time": "2025-06-01T10:00:00Z",
                               "lon": 35.8, "lat": 48.0, "radius_m": 200, "weapon_class": "D-30", "count": 2,
                               "source_kind": "patrol", "source_id": "PATROL-1"}
    base.update(kw)
    return base


def write(path: Path, *rows: object) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def db(store_url):
    """A store with a monitor and two analysts."""
    for name, role in (("mon", "monitor"), ("ana", "analyst"), ("bo", "analyst"), ("pub", "public")):
        cli("user", "add", name, "--role", role, "--db", store_url)
    return store_url


# -- the life cycle ---------------------------------------------------------------------------------

def test_a_report_is_returned_corrected_and_approved_by_another_analyst(tmp_path, db):
    cli("ingest", write(tmp_path / "report.jsonl", rec("r1")), "--by", "mon", "--db", db)
    listed = cli("review", "list", "--db", db).output
    assert "r1" in listed and "mon" in listed and "submitted" in listed and "35.800, 48.000" in listed
    r = cli("review", "return", "r1", "--by", "ana", "--note", "Which way did the [guns] face?", "--db", db)
    assert "r1: moved to returned" in r.output
    assert "returned" in cli("review", "list", "--state", "returned", "--db", db).output
    fix = rec("r1-v2", supersedes="r1", correction="three guns, facing south-west", count=3,
              description="3 D-30 facing SW")
    cli("ingest", write(tmp_path / "fix.jsonl", fix), "--by", "mon", "--db", db)
    # the first version is history: only the current one is reviewed
    r = cli("review", "approve", "r1", "--by", "bo", "--db", db, code=EXIT_CONFLICT)
    assert "r1: refused: record 'r1' was corrected by 'r1-v2'" in r.output
    r = cli("review", "approve", "r1-v2", "--by", "bo", "--db", db)
    assert "r1-v2: moved to approved" in r.output
    cli("review", "comment", "r1-v2", "Checked against the post's log", "--by", "ana", "--db", db)
    shown = cli("review", "show", "r1", "--db", db).output
    assert "2 versions, current r1-v2 (approved)" in shown
    assert "version 1: r1, stored" in shown and "by mon; returned" in shown
    assert "ana: submitted → returned: Which way did the [guns] face?" in shown
    assert "correction: three guns, facing south-west" in shown
    assert "count: 2 → 3" in shown and "description: (none) → 3 D-30 facing SW" in shown
    assert "bo: submitted → approved" in shown
    assert "comment by ana: Checked against the post's log" in shown
    assert shown.index("version 1") < shown.index("version 2") < shown.index("comment by ana")
    listed = cli("review", "list", "--db", db).output
    assert "r1-v2" in listed and "bo" in listed and "r1 " not in listed     # the current version only


def test_four_eyes_nobody_approves_their_own_report(tmp_path, db):
    cli("ingest", write(tmp_path / "own.jsonl", rec("a1")), "--by", "ana", "--db", db)
    r = cli("review", "approve", "a1", "--by", "ana", "--db", db, code=EXIT_CONFLICT)
    assert "a1: refused: four eyes: 'ana' authored or last changed this version" in r.output
    assert "0 moved to approved, 1 refused" in r.output
    cli("review", "approve", "a1", "--by", "bo", "--db", db)
    # a monitor does not review, whoever wrote the report
    cli("ingest", write(tmp_path / "m.jsonl", rec("m1")), "--by", "mon", "--db", db)
    r = cli("review", "approve", "m1", "--by", "mon", "--db", db, code=EXIT_CONFLICT)
    assert "only an analyst or an admin reviews" in r.text


def test_bulk_moves_by_filter_need_all_matching(tmp_path, db):
    rows = [rec(f"p{i}", time=f"2025-06-01T1{i}:00:00Z") for i in range(4)]
    rows.append(rec("o1", source_kind="observation_post", source_id="OP-7"))
    cli("ingest", write(tmp_path / "day.jsonl", *rows), "--by", "mon", "--db", db)
    r = cli("review", "approve", "--source-kind", "patrol", "--by", "ana", "--db", db, code=EXIT_USAGE)
    assert "a move by filter needs --all-matching" in r.text
    cli("review", "approve", "p0", "--source-kind", "patrol", "--all-matching", "--by", "ana", "--db", db,
        code=EXIT_USAGE)       # IDs or a filter, not both
    cli("review", "take", "p0", "--by", "bo", "--db", db)
    r = cli("review", "approve", "--source-kind", "patrol", "--from", "2025-06-01T11:00:00Z", "--all-matching",
            "--by", "ana", "--db", db)
    assert [line for line in r.output.splitlines() if line.endswith(": moved to approved")] == [
        "p1: moved to approved", "p2: moved to approved", "p3: moved to approved"]
    assert "3 moved to approved, 0 refused" in r.output
    listed = cli("review", "list", "--state", "submitted", "--state", "in_review", "--db", db).output
    assert "p0" in listed and "o1" in listed and "p1" not in listed
    # the filter selects what can move: the approved ones are left alone, nothing more matches
    r = cli("review", "approve", "--source-kind", "patrol", "--from", "2025-06-01T11:00:00Z", "--all-matching",
            "--by", "ana", "--db", db)
    assert "no record matches the filter" in r.output
    # asked for by state, a final one is refused with the reason
    r = cli("review", "reject", "--state", "approved", "--all-matching", "--note", "duplicate", "--by", "bo",
            "--db", db, code=EXIT_CONFLICT)
    assert "p1: refused: a version approved cannot be moved to rejected" in r.output


def test_fused_incidents_are_approved_by_rule(tmp_path, db):
    fused = [rec(f"f{n}", kind="explosion", explosion_type="impact", weapon_class=None, count=None,
                 source_kind="sensor_fusion", source_id="FUSION", extra={"n_sensors": str(n)})
             for n in (3, 7, 9)]
    fused = [{k: v for k, v in f.items() if v is not None} for f in fused]
    cli("ingest", write(tmp_path / "fused.jsonl", *fused), "--db", db)
    assert "detected" in cli("review", "list", "--source-kind", "sensor_fusion", "--db", db).output
    r = cli("review", "approve", "--source-kind", "sensor_fusion", "--min-sensors", "7", "--all-matching",
            "--by", "ana", "--db", db)
    assert "f7: moved to approved" in r.output and "f9: moved to approved" in r.output and "f3" not in r.output
    listed = cli("review", "list", "--state", "detected", "--db", db).output
    assert "f3" in listed and "f7" not in listed and "Review queue: 1 record" in listed


def test_an_allegation_is_reviewed_by_id(tmp_path, db):
    claim = {"id": "al1", "alleging_party": "b", "accused_party": "a", "kind": "shelling",
             "start": "2025-06-01T10:00:00Z", "end": "2025-06-01T11:00:00Z", "lon": 36.07, "lat": 48.0,
             "radius_m": 1500, "source_kind": "statement", "source_reference": "MoD statement 41",
             "received_time": "2025-06-01T15:00:00Z"}
    cli("ingest", write(tmp_path / "claims.jsonl", claim), "--db", db)
    cli("review", "reject", "al1", "--kind-of", "allegation", "--by", "ana", "--db", db, code=EXIT_USAGE)
    r = cli("review", "reject", "al1", "--kind-of", "allegation", "--note", "no such shelling", "--by", "ana",
            "--db", db)
    assert "al1: moved to rejected" in r.output
    cli("review", "approve", "--kind-of", "allegation", "--all-matching", "--by", "ana", "--db", db,
        code=EXIT_USAGE)       # filters select records
    shown = cli("review", "show", "al1", "--kind-of", "allegation", "--db", db).output
    assert "allegation al1: rejected" in shown and "received → rejected: no such shelling" in shown
    cli("review", "approve", "al1", "--by", "ana", "--db", db, code=EXIT_NOT_FOUND)   # not a record


# -- bad input -------------------------------------------------------------------------------------

def test_bad_review_input_exits_with_its_code(tmp_path, db):
    cli("ingest", write(tmp_path / "r.jsonl", rec("r1")), "--by", "mon", "--db", db)
    r = cli("review", "list", "--state", "bogus", "--db", db, code=EXIT_USAGE)
    assert "unknown review state 'bogus'" in r.text
    cli("review", "approve", "--state", "finished", "--all-matching", "--by", "ana", "--db", db, code=EXIT_USAGE)
    cli("review", "list", "--kind", "banana", "--db", db, code=EXIT_USAGE)
    cli("review", "list", "--from", "2025-06-01T00:00:00", "--db", db, code=EXIT_USAGE)     # no time zone
    cli("review", "approve", "r1", "--kind-of", "report", "--by", "ana", "--db", db, code=EXIT_USAGE)
    cli("review", "approve", "--by", "ana", "--db", db, code=EXIT_USAGE)                      # nothing named
    r = cli("review", "return", "r1", "--by", "ana", "--db", db, code=EXIT_USAGE)
    assert "review return needs --note: the question to the author" in r.text
    r = cli("review", "reject", "r1", "--by", "ana", "--note", "  ", "--db", db, code=EXIT_USAGE)
    assert "review reject needs --note: the reason" in r.text
    r = cli("review", "approve", "nope", "--by", "ana", "--db", db, code=EXIT_NOT_FOUND)
    assert "record 'nope' not found" in r.text
    cli("review", "approve", "r1", "nope", "--by", "ana", "--db", db, code=EXIT_NOT_FOUND)
    assert "submitted" in cli("review", "list", "--db", db).output        # nothing moved
    r = cli("review", "approve", "r1", "--by", "nobody", "--db", db, code=EXIT_NOT_FOUND)
    assert "user 'nobody' not found" in r.text
    cli("review", "approve", "r1", "--by", "pub", "--db", db, code=EXIT_CONFLICT)
    cli("review", "show", "nope", "--db", db, code=EXIT_NOT_FOUND)
    cli("review", "comment", "nope", "text", "--by", "ana", "--db", db, code=EXIT_NOT_FOUND)
    assert "submitted" in cli("review", "list", "--db", db).output


def test_a_comment_of_a_megabyte_is_refused(tmp_path, db):
    cli("ingest", write(tmp_path / "r.jsonl", rec("r1")), "--by", "mon", "--db", db)
    huge = "x" * (1 << 20)
    r = cli("review", "comment", "r1", huge, "--by", "ana", "--db", db, code=EXIT_USAGE)
    assert "a comment has at most 10,000 characters, got 1,048,576" in r.text
    r = cli("review", "comment", "r1", "-", "--by", "ana", "--db", db, stdin=huge, code=EXIT_USAGE)
    assert "a comment has at most 10,000 characters" in r.text
    r = cli("review", "return", "r1", "--note", huge, "--by", "ana", "--db", db, code=EXIT_USAGE)
    assert "a note has at most 10,000 characters" in r.text
    cli("review", "comment", "r1", "", "--by", "ana", "--db", db, code=EXIT_USAGE)
    # the author may comment; another monitor may not; nothing of the refused ones was stored
    cli("review", "comment", "r1", "-", "--by", "mon", "--db", db, stdin="facing south-west")
    cli("user", "add", "mon2", "--role", "monitor", "--db", db)
    cli("review", "comment", "r1", "mine", "--by", "mon2", "--db", db, code=EXIT_CONFLICT)
    shown = cli("review", "show", "r1", "--db", db).output
    assert "comment by mon: facing south-west" in shown and shown.count("comment by") == 1


def test_corrections_that_cannot_be_stored_are_quarantined_whole(tmp_path, db):
    cli("ingest", write(tmp_path / "r.jsonl", rec("r1")), "--by", "mon", "--db", db)
    ghost = write(tmp_path / "ghost.jsonl", rec("g2", supersedes="ghost", correction="moved"))
    r = cli("ingest", ghost, "--by", "mon", "--db", db, code=EXIT_NOTHING_STORED)
    assert "0 added, 0 already stored, 1 quarantined" in r.output and "'ghost'" in r.output
    cli("ingest", write(tmp_path / "v2.jsonl", rec("r1-v2", supersedes="r1", count=3)), "--by", "mon", "--db", db)
    fork = write(tmp_path / "fork.jsonl", rec("r1-v3", supersedes="r1", count=4))
    r = cli("ingest", fork, "--by", "mon", "--db", db, code=EXIT_NOTHING_STORED)
    assert "(a fork)" in r.output and "correct the current version 'r1-v2' instead" in r.output
    changed = write(tmp_path / "changed.jsonl", rec("r1", count=5))
    r = cli("ingest", changed, "--db", db, code=EXIT_NOTHING_STORED)
    assert ("record id 'r1' is already stored with different content; a correction needs a new id and "
            "'supersedes' naming the version it replaces") in r.output


# -- ingest's exit statuses --------------------------------------------------------------------------

def test_ingest_tells_all_stored_from_some_quarantined_from_nothing_stored(tmp_path, db):
    good = write(tmp_path / "good.jsonl", rec("g1"), rec("g2"))
    bad = write(tmp_path / "bad.jsonl", "{not json", rec("b1", time="2025-06-01T10:00:00"))
    mixed = write(tmp_path / "mixed.jsonl", rec("m1"), "{not json")
    empty = write(tmp_path / "empty.jsonl")
    assert "2 added" in cli("ingest", good, "--db", db).output
    cli("ingest", good, "--db", db)                                  # stored already: still all stored
    cli("ingest", empty, "--db", db)                                 # nothing to store, nothing quarantined
    r = cli("ingest", mixed, "--db", db, code=EXIT_QUARANTINED)
    assert "1 added, 0 already stored, 1 quarantined" in r.output
    cli("ingest", mixed, "--db", db, "--strict", code=EXIT_QUARANTINED)   # --strict changes nothing
    r = cli("ingest", bad, "--db", db, code=EXIT_NOTHING_STORED)
    assert "nothing stored" in r.output
    cli("ingest", bad, empty, "--db", db, code=EXIT_NOTHING_STORED)
    cli("ingest", bad, good, "--db", db, code=EXIT_QUARANTINED)      # one file's rows were (already) stored
    r = cli("ingest", good, "--by", "ghost", "--db", db, code=EXIT_NOT_FOUND)
    assert "user 'ghost' not found" in r.text


def test_ingest_by_attributes_the_records(tmp_path, db):
    cli("ingest", write(tmp_path / "a.jsonl", rec("a1")), "--by", "mon", "--db", db)
    cli("ingest", write(tmp_path / "b.jsonl", rec("b1")), "--db", db)
    listed = cli("review", "list", "--author", "mon", "--db", db).output
    assert "a1" in listed and "b1" not in listed


# -- report ------------------------------------------------------------------------------------------

def test_report_passes_include_unreviewed(tmp_path, store_url, monkeypatch):
    import linewatch.services as services
    seen: list[bool] = []

    def fake(store, loaded, day, out_dir, **kw):
        seen.append(kw["include_unreviewed"])
        return {}
    monkeypatch.setattr(services, "daily_report", fake)
    ag = Path(__file__).resolve().parents[1] / "examples" / "agreements" / "line-of-contact.yaml"
    for extra in ((), ("--include-unreviewed",)):
        cli("report", "--date", "2025-06-01", "--agreement", ag, "--db", store_url, "--out", tmp_path, *extra)
    assert seen == [False, True]
