"""The CLI's messages come out whole: a record's, a file's or an agreement's text is never read
as rich markup (``[lon, lat]`` stays on the line), the ingest summary gives each reason whole
(a ``:`` inside it included), and a directory given for an input file is named as one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from linewatch.services.ingest import IngestSummary

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "agreements"
ONE_COORDINATE = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [37.5]},
     "properties": {"kind": "explosion", "time": "2026-06-15T10:00:00Z", "source_kind": "patrol",
                    "source_id": "PATROL-1"}}]}
ONE_POINT_LINE = """
id: one-point
title: One point
parties:
  - {id: a, name: Party A, side: left}
  - {id: b, name: Party B, side: right}
line:
  geometry: {type: LineString, coordinates: [[36.0, 47.0]]}
rules:
  - {id: fire, kind: no_fire, text: No fire}
"""


def run(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The command in a process of its own, on a wide terminal (no line of a table wraps)."""
    env = dict(os.environ, COLUMNS="250", NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "linewatch", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_record_reason_with_brackets_is_printed_whole(tmp_path, store_url):
    """The GeoJSON reader's reason names the form it expects, "[lon, lat]": the ingest summary
    and the quarantine table show it, brackets and all."""
    path = tmp_path / "one.geojson"
    path.write_text(json.dumps(ONE_COORDINATE), encoding="utf-8")
    ingest = run("ingest", path, "--db", store_url)
    assert ingest.returncode == 12, ingest.stderr       # its one row quarantined: nothing stored
    assert "Point coordinates must be [lon, lat], got [37.5]" in ingest.stdout, ingest.stdout
    listed = run("quarantine", "list", "--db", store_url)
    assert listed.returncode == 0, listed.stderr
    assert "Point coordinates must be [lon, lat], got [37.5]" in listed.stdout, listed.stdout


def test_an_agreement_error_with_brackets_is_printed_whole(tmp_path):
    path = tmp_path / "one-point.yaml"
    path.write_text(ONE_POINT_LINE, encoding="utf-8")
    proc = run("agreement", "check", path)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert "[lon, lat]" in proc.stderr, proc.stderr


def test_a_value_that_looks_like_markup_is_printed_as_given(tmp_path):
    """An error that quotes a value the user gave (``--format [red]x``) quotes it as given."""
    path = tmp_path / "one.geojson"
    path.write_text(json.dumps(ONE_COORDINATE), encoding="utf-8")
    proc = run("ingest", "--format", "[red]x", path, "--db", tmp_path / "s.sqlite")
    assert proc.returncode == 4, (proc.stdout, proc.stderr)
    assert "'[red]x'" in proc.stderr, proc.stderr


def test_agreement_text_with_brackets_is_printed_whole(tmp_path):
    """The summary of ``agreement check`` prints the agreement's own text (title, rule texts)."""
    text = (EXAMPLES / "line-of-contact.yaml").read_text(encoding="utf-8")
    title = next(line for line in text.splitlines() if line.startswith("title:"))
    path = tmp_path / "ag.yaml"
    path.write_text(text.replace(title, "title: Line [lon, lat] of [bold]contact"), encoding="utf-8")
    proc = run("agreement", "check", path)
    assert proc.returncode == 0, proc.stderr
    assert "Line [lon, lat] of [bold]contact" in proc.stdout, proc.stdout


# -- the ingest summary ---------------------------------------------------------------------------

def test_the_summary_counts_each_reason_whole():
    s = IngestSummary("f.jsonl", "jsonl")
    s.count(["time: '2026-06-15T10:00' has no time zone", "time: '2026-06-15T11:00' has no time zone",
             "time: '2026-06-15T10:00' has no time zone", "lat: 123 is outside [-90, 90]"])
    assert s.reasons == {"time: '2026-06-15T10:00' has no time zone": 2,
                         "time: '2026-06-15T11:00' has no time zone": 1,
                         "lat: 123 is outside [-90, 90]": 1}
    assert s.reason_lines() == ["quarantined 2: time: '2026-06-15T10:00' has no time zone",
                                "quarantined 1: lat: 123 is outside [-90, 90]",
                                "quarantined 1: time: '2026-06-15T11:00' has no time zone"]


def test_the_summary_names_the_most_frequent_reasons_and_counts_the_rest():
    s = IngestSummary("f.jsonl", "jsonl")
    s.count([f"field {i}: bad" for i in range(15)] + ["field 3: bad"] * 4)
    lines = s.reason_lines(shown=3)
    assert lines[0] == "quarantined 5: field 3: bad"
    assert lines[-1] == "quarantined 12 more, for other reasons (linewatch quarantine list)"
    assert len(lines) == 4


def test_the_cli_prints_a_reason_with_a_colon_whole(tmp_path, store_url):
    """A reason with ':' inside (the JSON parser's, naming where the text breaks) is printed to
    its end, as the quarantine keeps it."""
    path = tmp_path / "bad.jsonl"
    path.write_text('{"kind": "explosion", "time": \n', encoding="utf-8")
    proc = run("ingest", path, "--db", store_url)
    assert proc.returncode == 12, proc.stderr           # nothing stored
    listed = json.loads(run("quarantine", "list", "--json", "--db", store_url).stdout)
    reasons = [r["reason"] for r in listed]
    assert len(reasons) == 1 and ":" in reasons[0], reasons
    assert f"quarantined 1: {reasons[0]}" in proc.stdout, proc.stdout


# -- a directory for a file -----------------------------------------------------------------------

def cli(capsys, *args: object) -> tuple[int, str]:
    """The command run in this process as ``linewatch`` runs it: (exit code, standard error)."""
    from linewatch.cli.main import main
    argv = sys.argv
    sys.argv = ["linewatch", *map(str, args)]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = argv
    return code, capsys.readouterr().err


@pytest.mark.parametrize("args", [
    ("ingest", "{dir}"),
    ("ingest", "{file}", "{dir}"),
    ("agreement", "check", "{dir}"),
    ("agreement", "show", "{dir}"),
    ("verify", "--agreement", "{dir}"),
    ("report", "--date", "2026-06-15", "--network", "{dir}"),
    ("report", "--date", "2026-06-15", "--sign-with", "{dir}"),
    ("allegations", "verify", "--network", "{dir}"),
    ("fuse", "--sensors", "{dir}", "--detections", "{file}"),
    ("fuse", "--sensors", "{file}", "--detections", "{dir}"),
    ("coverage", "--at", "2026-06-15T00:00:00Z", "--network", "{dir}"),
    ("coverage", "--at", "2026-06-15T00:00:00Z", "--sensors", "{dir}"),
    ("plan", "--agreement", "{ag}", "--assets", "{dir}", "--targets", "{file}"),
    ("reprocess", "--from", "2026-06-15", "--to", "2026-06-16", "--sensors", "{dir}"),
    ("stream", "feed", "--sensors", "{dir}", "--detections", "{file}"),
    ("stream", "fuse", "--sensors", "{dir}", "--until-idle", "0"),
    ("sim", "--agreement", "{dir}"),
    ("demo", "--agreement", "{dir}"),
], ids=lambda a: " ".join(a).replace("{", "").replace("}", ""))
def test_a_directory_is_named_as_a_directory(tmp_path, capsys, args):
    folder = tmp_path / "inputs"
    folder.mkdir()
    (tmp_path / "f.jsonl").write_text("", encoding="utf-8")
    values = {"dir": folder, "file": tmp_path / "f.jsonl", "ag": EXAMPLES / "line-of-contact.yaml"}
    db = ("--db", tmp_path / "s.sqlite") if args[0] not in ("agreement", "coverage", "plan", "sim", "demo") else ()
    code, err = cli(capsys, *(a.format(**values) for a in args), *db)
    assert code == 4, err
    assert f"{folder}: is a directory, expected a file" in err, err
    assert "no such file" not in err


def test_a_missing_file_is_named_as_missing(tmp_path, capsys):
    code, err = cli(capsys, "fuse", "--sensors", tmp_path / "nope.csv", "--detections", tmp_path / "nope.jsonl",
                    "--db", tmp_path / "s.sqlite")
    assert code == 4 and f"{tmp_path / 'nope.csv'}: no such file (--sensors)" in err, err


def test_a_usage_error_quotes_the_value_as_given():
    """typer's error panel shows a bad option value with its brackets."""
    proc = run("report", "--date", "[lon, lat]")
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "'[lon, lat]' is not a date YYYY-MM-DD" in proc.stderr, proc.stderr
