"""Every input bounded and typed (issue 15, "Trust under attack"; docs/record-formats.md and
docs/api.md, "Limits").

Nothing a single record contains may make ingest, verify, the daily report or the API fail: every
field at its extreme allowed values goes through them on both stores, and every value just
outside its bounds is quarantined with a whole, bounded reason. The probe's cases (a count of
2**63, a time in 9999, a 50 MB line, a 100 MB body) each have a test.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import math
import subprocess
import sys
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linewatch import reporting
from linewatch.errors import InputError
from linewatch.formats import read_records
from linewatch.formats.allegations import read_allegations
from linewatch.formats.lines import MAX_EXCERPT_CHARS, MAX_LINE_CHARS, MAX_REASON_CHARS, LongLine, quote
from linewatch.formats.record_schema import (
    MAX_DESCRIPTION_CHARS,
    MAX_EXTRA_ITEMS,
    MAX_EXTRA_KEY_CHARS,
    MAX_EXTRA_VALUE_CHARS,
    MAX_ID_CHARS,
    MAX_TEXT_CHARS,
)
from linewatch.formats.records import Parsed, Rejected
from linewatch.model import (
    EARLIEST_TIME,
    LATEST_TIME,
    MAX_COUNT,
    MAX_DELAY_MIN,
    MAX_DISTANCE_M,
    Kind,
    Location,
    Provenance,
    Report,
    SourceKind,
)
from linewatch.services import ingest_file, load_agreement_file, verify_store
from linewatch.services.accounts import new_token, token_sha256
from linewatch.services.report import daily_report
from linewatch.services.verify import day_window
from linewatch.store import open_store
from linewatch.web import ServiceConfig, create_app
from linewatch.web.batches import MAX_BODY_BYTES, MAX_SUBMISSION_BYTES

ROOT = Path(__file__).resolve().parents[1]
AGREEMENT = ROOT / "examples" / "agreements" / "line-of-contact.yaml"
DAY = date(2026, 6, 15)
API = "/api/v1"
US = timedelta(microseconds=1)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def up(x: float) -> float:
    return math.nextafter(x, math.inf)


def down(x: float) -> float:
    return math.nextafter(x, -math.inf)


#: the three location forms, as a record gives them
FORMS: dict[str, dict[str, Any]] = {
    "point": {"lon": 37.9, "lat": 48.5, "radius_m": 300.0},
    "ellipse": {"lon": 37.9, "lat": 48.5, "semi_major_m": 500.0, "semi_minor_m": 200.0, "azimuth_deg": 45.0},
    "observer": {"observer_lon": 37.9, "observer_lat": 48.5, "bearing_deg": 200.0,
                 "bearing_spread_deg": 20.0, "distance_min_m": 1000.0, "distance_max_m": 3000.0},
}
BASE = {"kind": "explosion", "time": f"{DAY.isoformat()}T10:00:00Z", "source_kind": "observation_post",
        "source_id": "OP-1"}
ANY = ("point", "ellipse", "observer")

#: (forms it applies to, the fields it sets) at their extreme allowed values
OK: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (ANY, {"count": 0}), (ANY, {"count": MAX_COUNT}),
    (ANY, {"killed": MAX_COUNT, "injured": MAX_COUNT}), (ANY, {"killed": 0, "injured": 0}),
    (ANY, {"delay_min": 0.0}), (ANY, {"delay_min": MAX_DELAY_MIN}),
    (ANY, {"time": iso(EARLIEST_TIME)}), (ANY, {"time": iso(LATEST_TIME - US)}),
    (ANY, {"time": iso(LATEST_TIME - US), "time_precision": "month"}),
    (ANY, {"received_time": iso(EARLIEST_TIME)}), (ANY, {"received_time": iso(LATEST_TIME - US)}),
    (ANY, {"geo_precision": 1}), (ANY, {"geo_precision": 3}),
    (ANY, {"in_storage": True, "corroborated": False, "live_fire_exercise": True}),
    (ANY, {"source_id": "s" * MAX_TEXT_CHARS}), (ANY, {"party": "p" * MAX_TEXT_CHARS}),
    (ANY, {"description": "d" * MAX_DESCRIPTION_CHARS}),
    (ANY, {"extra": {f"k{i:0{MAX_EXTRA_KEY_CHARS - 1}d}": "v" * 100 for i in range(MAX_EXTRA_ITEMS)}}),
    (ANY, {"extra": {"k": "v" * MAX_EXTRA_VALUE_CHARS}}),
    (ANY, {"origin": {"lon": -180.0, "lat": -90.0, "radius_m": MAX_DISTANCE_M}}),
    (ANY, {"origin": {"lon": 180, "lat": 90, "semi_major_m": MAX_DISTANCE_M, "semi_minor_m": 0,
                      "azimuth_deg": down(360.0)}}),
    (("point", "ellipse"), {"lon": -180.0, "lat": -90.0}), (("point", "ellipse"), {"lon": 180, "lat": 90}),
    (("point",), {"radius_m": 0}), (("point",), {"radius_m": MAX_DISTANCE_M}),
    (("ellipse",), {"semi_major_m": MAX_DISTANCE_M, "semi_minor_m": MAX_DISTANCE_M}),
    (("ellipse",), {"semi_major_m": MAX_DISTANCE_M, "semi_minor_m": 0.0, "azimuth_deg": down(360.0)}),
    (("observer",), {"distance_min_m": 0.0, "distance_max_m": MAX_DISTANCE_M}),
    (("observer",), {"distance_min_m": MAX_DISTANCE_M, "distance_max_m": MAX_DISTANCE_M}),
    (("observer",), {"bearing_deg": down(360.0), "bearing_spread_deg": 360.0}),
    (("observer",), {"bearing_deg": 0, "bearing_spread_deg": 0}),
    (("observer",), {"observer_lon": 180.0, "observer_lat": 90.0}),
]

#: (forms, field, a value just outside its bounds or of the wrong type)
BAD: list[tuple[tuple[str, ...], str, Any]] = [
    (ANY, "count", -1), (ANY, "count", MAX_COUNT + 1), (ANY, "count", 2**63), (ANY, "count", 10**30),
    (ANY, "count", True), (ANY, "count", 1.5), (ANY, "count", "5"),
    (ANY, "killed", MAX_COUNT + 1), (ANY, "injured", True),
    (ANY, "delay_min", up(MAX_DELAY_MIN)), (ANY, "delay_min", False),
    (ANY, "time", iso(EARLIEST_TIME - US)), (ANY, "time", iso(LATEST_TIME)),
    (ANY, "time", "9999-12-31T00:00:00Z"), (ANY, "time", "0001-01-01T00:00:00+00:00"),
    (ANY, "time", "2026-06-15T10:00:00Z" + " " * 200), (ANY, "time", 1_750_000_000),
    (ANY, "received_time", iso(LATEST_TIME)), (ANY, "received_time", "9999-12-31T23:59:59Z"),
    (ANY, "geo_precision", 4), (ANY, "geo_precision", True),
    (ANY, "in_storage", 1), (ANY, "corroborated", "true"), (ANY, "live_fire_exercise", 0),
    (ANY, "source_id", "s" * (MAX_TEXT_CHARS + 1)), (ANY, "description", "d" * (MAX_DESCRIPTION_CHARS + 1)),
    (ANY, "id", "i" * (MAX_ID_CHARS + 1)),
    (ANY, "extra", {f"k{i}": "v" for i in range(MAX_EXTRA_ITEMS + 1)}),
    (ANY, "extra", {"k" * (MAX_EXTRA_KEY_CHARS + 1): "v"}), (ANY, "extra", {"k": "v" * (MAX_EXTRA_VALUE_CHARS + 1)}),
    (ANY, "extra", {"k": 5}),
    (ANY, "origin", {"lon": 37.9, "lat": 48.5, "radius_m": up(MAX_DISTANCE_M)}),
    (ANY, "origin", {"lon": up(180.0), "lat": 48.5}),
    (("point", "ellipse"), "lon", up(180.0)), (("point", "ellipse"), "lat", down(-90.0)),
    (("point", "ellipse"), "lat", True),
    (("point",), "radius_m", up(MAX_DISTANCE_M)), (("point",), "radius_m", 1e12),
    (("point",), "radius_m", -1e-300), (("point",), "radius_m", "300"),
    (("ellipse",), "semi_major_m", up(MAX_DISTANCE_M)), (("ellipse",), "azimuth_deg", 360.0),
    (("observer",), "distance_max_m", up(MAX_DISTANCE_M)), (("observer",), "bearing_deg", 360.0),
    (("observer",), "bearing_spread_deg", up(360.0)), (("observer",), "observer_lat", up(90.0)),
    (("observer",), "direction", "north" * 3000),
]


def bad_record(form: str, field: str, value: Any, ident: str) -> dict[str, Any]:
    rec = {**BASE, **FORMS[form], "id": ident, field: value}
    if field == "direction":
        del rec["bearing_deg"]
    return rec


_ids = itertools.count()


@pytest.fixture(scope="module")
def bounds_store(module_new_store_url):
    """A store (SQLite, then PostgreSQL) that knows the agreement."""
    url = module_new_store_url("bounds")
    loaded = load_agreement_file(AGREEMENT)
    with open_store(url) as store:
        loaded.record(store)
    return url, loaded


def _quarantined(store, path: Path) -> list:
    return [q for q in store.quarantine_rows() if q.file == str(path)]


def check_quarantine_row(q, field: str | None) -> None:
    """A quarantined row's reason is whole and bounded, its raw text an excerpt with the hash."""
    assert len(q.reason) < MAX_REASON_CHARS and not q.reason.endswith("\u2026"), q.reason
    assert len(q.raw) <= MAX_EXCERPT_CHARS + 1
    assert q.raw_sha256 is not None and len(q.raw_sha256) == 64 and q.raw_size >= len(q.raw.encode()) - 3
    if field is not None:
        assert (q.field or "").split(".")[0] == field, (q.field, field, q.reason)


@st.composite
def extreme_records(draw):
    """A record of one form with some fields at their extreme allowed values, and maybe one
    field just outside (then it must be quarantined)."""
    form = draw(st.sampled_from(sorted(FORMS)))
    oks = draw(st.lists(st.sampled_from([fields for forms, fields in OK if form in forms]), max_size=5))
    rec = {**BASE, **FORMS[form], "kind": draw(st.sampled_from([k.value for k in Kind]))}
    for fields in oks:
        rec.update(fields)
    rec["id"] = f"x{next(_ids)}"
    bad = draw(st.none() | st.sampled_from([(f, v) for forms, f, v in BAD if form in forms]))
    if bad is not None:
        rec[bad[0]] = bad[1]
        if bad[0] == "direction":
            del rec["bearing_deg"]
    return rec, bad


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
@given(case=extreme_records())
def test_extreme_records_through_ingest_verify_and_the_day_counts(bounds_store, tmp_path_factory, case):
    """Every field at its extremes: stored, verified, counted; just outside: quarantined."""
    rec, bad = case
    url, loaded = bounds_store
    path = tmp_path_factory.mktemp("x") / "one.jsonl"
    path.write_text(json.dumps(rec) + "\n", encoding="utf-8")
    with open_store(url) as store:
        summary = ingest_file(store, path)
        if bad is not None:
            assert (summary.added, summary.quarantined) == (0, 1), (bad, summary)
            # the same bad line may have come in an earlier example (another file of the same
            # content): the quarantine keeps it once, under the first file's name
            line_sha = hashlib.sha256(json.dumps(rec).encode()).hexdigest()
            (q,) = [q for q in store.quarantine_rows()
                    if q.file == str(path) or q.raw_sha256 == line_sha][:1]
            check_quarantine_row(q, bad[0])
            return
        assert (summary.added, summary.quarantined) == (1, 0), (rec, summary)
        (report,) = [r for r in store.reports() if r.id == rec["id"]]
        day = report.time.date()
        _, v = verify_store(store, loaded, start=day_window(day)[0], end=day_window(day)[1])
        day_reports = store.reports(start=day_window(day)[0], end=day_window(day)[1])
        figures = reporting.count_day(loaded.agreement, day, day_reports, v)
        assert isinstance(figures, dict)


def test_every_bad_value_is_quarantined_with_a_whole_bounded_reason(bounds_store, tmp_path):
    """One line per value just outside its bounds (or of the wrong type), with what it says."""
    url, _ = bounds_store
    path = tmp_path / "bad.jsonl"
    cases = [(form, field, value) for forms, field, value in BAD for form in forms[:1]]
    path.write_text("".join(json.dumps(bad_record(form, field, value, f"bad-{i}")) + "\n"
                            for i, (form, field, value) in enumerate(cases)), encoding="utf-8")
    with open_store(url) as store:
        summary = ingest_file(store, path)
        assert (summary.added, summary.quarantined) == (0, len(cases))
        rows = sorted(_quarantined(store, path), key=lambda q: q.line)
    assert len(rows) == len(cases)
    for q, (_, field, value) in zip(rows, cases):
        check_quarantine_row(q, field)
        assert field.split("_")[0] in q.reason or field in (q.field or ""), (field, q.reason)
        if isinstance(value, str) and len(value) > 1000:
            assert len(q.reason) < 400, q.reason   # the value is quoted in about 100 characters


def _extreme_reports() -> list[dict[str, Any]]:
    """One record per allowed extreme (each form), all on DAY; and one at each end of the time window."""
    out = []
    kinds = itertools.cycle([k.value for k in Kind])
    for i, (forms, fields) in enumerate(OK):
        for form in forms:
            out.append({**BASE, **FORMS[form], **fields, "id": f"ext-{i}-{form}", "kind": next(kinds)})
    everything = {**BASE, **FORMS["point"], "count": MAX_COUNT, "killed": MAX_COUNT,
                  "injured": MAX_COUNT, "radius_m": MAX_DISTANCE_M, "delay_min": MAX_DELAY_MIN,
                  "description": "d" * MAX_DESCRIPTION_CHARS,
                  **{k: k[0] * MAX_TEXT_CHARS for k in ("source_id", "weapon_class", "category",
                                                         "aircraft_type", "party", "restriction",
                                                         "purpose", "engine")},
                  "origin": {"lon": 180.0, "lat": 90.0, "radius_m": MAX_DISTANCE_M}}
    return [*out, *({**everything, "id": f"ext-all-{k.value}", "kind": k.value} for k in Kind)]


def test_a_record_at_each_extreme_goes_through_verify_and_full_daily_reports(new_store_url, tmp_path):
    """Every allowed extreme in one store: ingest, verify and a full daily report (HTML, PDF,
    JSON, map) of the mission day and of each end of the time window."""
    records = _extreme_reports()
    path = tmp_path / "extremes.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    loaded = load_agreement_file(AGREEMENT)
    with open_store(new_store_url("extremes")) as store:
        summary = ingest_file(store, path)
        assert (summary.added, summary.quarantined) == (len(records), 0), summary.reasons
        days = sorted({r.time.date() for r in store.reports()})
        assert {EARLIEST_TIME.date(), (LATEST_TIME - US).date(), DAY} <= set(days)
        for day in (DAY, EARLIEST_TIME.date(), (LATEST_TIME - US).date()):
            # counted though unreviewed, so that the extremes reach every figure and the renderers
            paths = daily_report(store, loaded, day, tmp_path / day.isoformat(), verify_first=True,
                                 include_unreviewed=True)
            assert {"html", "json", "pdf"} <= set(paths)
            report = json.loads(paths["json"].read_text(encoding="utf-8"))
            assert report["header"]["date"] == day.isoformat()
            assert report["header"]["records"]["count"] > 0


# -- the probe's cases ----------------------------------------------------------------------

def test_the_core_refuses_what_no_input_may_hold():
    loc, prov = Location.point(37.9, 48.5, 1.0), Provenance(SourceKind.PATROL, "P")
    t = datetime(2026, 6, 15, tzinfo=UTC)
    Report("ok", Kind.EXPLOSION, t, loc, prov, count=MAX_COUNT)
    for kwargs in ({"count": 2**63}, {"killed": MAX_COUNT + 1}, {"time": datetime(9999, 12, 31, tzinfo=UTC)},
                   {"time": EARLIEST_TIME - US}):
        with pytest.raises(ValueError):
            Report(**{"id": "x", "kind": Kind.EXPLOSION, "time": t, "location": loc, "provenance": prov,
                      **kwargs})


@pytest.mark.parametrize("text, fmt, field", [
    ('{"kind":"explosion","time":"2026-06-15T10:00:00Z","lon":37.9,"lat":48.5,"source_kind":"patrol",'
     '"source_id":"P","count":9223372036854775808}', "jsonl", "count"),
    ('{"kind":"explosion","time":"2026-06-15T10:00:00Z","lon":37.9,"lat":48.5,"source_kind":"patrol",'
     '"source_id":"P","count":true}', "jsonl", "count"),
    ('{"kind":"explosion","time":"9999-12-31T00:00:00Z","lon":37.9,"lat":48.5,"source_kind":"patrol",'
     '"source_id":"P"}', "jsonl", "time"),
    ('{"kind":"explosion","time":"2026-06-15T10:00:00Z","lon":37.9,"lat":48.5,"radius_m":1e12,'
     '"source_kind":"patrol","source_id":"P"}', "jsonl", "radius_m"),
    ('{"kind":"explosion","time":"2026-06-15T10:00:00Z","lon":37.9,"lat":48.5,"source_kind":"patrol",'
     '"source_id":"P","count":1' + "0" * 5000 + '}', "jsonl", None),
    ("kind,time,lon,lat,source_kind,source_id,count\r\n"
     "explosion,2026-06-15T10:00:00Z,37.9,48.5,patrol,P,true\r\n", "csv", "count"),
    ("kind,time,lon,lat,source_kind,source_id,count\r\n"
     "explosion,2026-06-15T10:00:00Z,37.9,48.5,patrol,P,9223372036854775808\r\n", "csv", "count"),
    ("kind,time,lon,lat,radius_m,source_kind,source_id\r\n"
     "explosion,2026-06-15T10:00:00Z,37.9,48.5,1e12,patrol,P\r\n", "csv", "radius_m"),
    ('{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":'
     '[37.9,48.5]},"properties":{"kind":"explosion","time":"2026-06-15T10:00:00Z","source_kind":"patrol",'
     '"source_id":"P","count":true}}]}', "geojson", "count"),
])
def test_the_probes_records_are_quarantined(text, fmt, field):
    (out,) = read_records(io.StringIO(text, newline=""), name="probe", fmt=fmt)
    assert isinstance(out, Rejected), out
    assert out.field == field and len(out.reason) < 300, out


def test_csv_cells_are_still_numbers_and_booleans():
    text = ("kind,time,lon,lat,radius_m,source_kind,source_id,count,in_storage,geo_precision,delay_min\r\n"
            "weapon_sighting,2026-06-15T10:00:00Z, 37.9 ,48.5,300,patrol,P,2.0,yes,3,15\r\n")
    (out,) = read_records(io.StringIO(text, newline=""), name="cells.csv", fmt="csv")
    assert isinstance(out, Parsed), out
    r = out.report
    assert (r.count, r.in_storage, r.geo_precision, r.delay_min, r.location.lon) == (2, True, 3, 15.0, 37.9)


def test_a_long_value_is_quoted_in_about_a_hundred_characters():
    assert len(quote("x" * 10_000_000)) < 150
    assert len(quote({"k": ["x" * 1000] * 1000})) < 150
    assert len(quote(10**4000)) < 150


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_50_mb_line_is_quarantined_unread_with_its_excerpt_and_hash(store_url, tmp_path, fmt):
    """The line is never held whole: ingest takes well under a second and a few MB; the row
    keeps 1,000 characters, and the SHA-256 and size of the whole line."""
    good = {**BASE, **FORMS["point"]}
    if fmt == "jsonl":
        lines = [json.dumps({**good, "id": "a"}), json.dumps({**good, "id": "big", "description": "x" * 50_000_000}),
                 json.dumps({**good, "id": "b"})]
        text = "".join(line + "\n" for line in lines)
        big = lines[1]
    else:
        head = "id,kind,time,lon,lat,radius_m,source_kind,source_id,description"
        row = "{},explosion,2026-06-15T10:00:00Z,37.9,48.5,300,patrol,P,{}"
        big = row.format("big", '"' + "x, " * 17_000_000 + '"')
        lines = [head, row.format("a", "fine"), big, row.format("b", "fine")]
        text = "".join(line + "\r\n" for line in lines)
    path = tmp_path / f"big.{fmt}"
    path.write_text(text, encoding="utf-8")
    del text, lines
    with open_store(store_url) as store:
        tracemalloc.start()
        start = time.perf_counter()
        summary = ingest_file(store, path)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert (summary.added, summary.quarantined) == (2, 1), summary
        start = time.perf_counter()
        (q,) = store.quarantine_rows()
        list_seconds = time.perf_counter() - start
    assert seconds < 10 and peak < 40e6 and list_seconds < 1, (seconds, peak, list_seconds)
    assert q.raw == big[:MAX_EXCERPT_CHARS] + "\u2026"
    assert q.raw_sha256 == hashlib.sha256(big.encode()).hexdigest() and q.raw_size == len(big.encode())
    assert f"{len(big):,} characters" in q.reason and q.line == (2 if fmt == "jsonl" else 3)
    listed = subprocess.run([sys.executable, "-m", "linewatch", "quarantine", "list", "--json", "--db", store_url],
                            capture_output=True, text=True, timeout=300)
    (row,) = json.loads(listed.stdout)
    assert (row["raw_sha256"], row["raw_size"], len(row["raw"])) == (q.raw_sha256, q.raw_size, MAX_EXCERPT_CHARS + 1)


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r", ""])
def test_over_long_lines_keep_the_lines_after_them(ending):
    """A line just over the limit, at the limit, and the rest: each line is what it was."""
    rec = json.dumps({**BASE, **FORMS["point"], "id": "r"})
    pad = json.dumps({**BASE, **FORMS["point"], "id": "p", "description": ""})
    at_limit = pad[:-2] + "z" * (MAX_LINE_CHARS - len(pad)) + pad[-2:]
    assert len(at_limit) == MAX_LINE_CHARS
    over = at_limit[:-2] + "zz" + at_limit[-2:]
    lines = [rec.replace('"r"', '"r1"'), at_limit, over, rec.replace('"r"', '"r2"'), "x" * (3 * MAX_LINE_CHARS)]
    text = ending.join(lines) + ending if ending else "\n".join(lines)
    out = list(read_records(io.StringIO(text, newline=""), name="x.jsonl", fmt="jsonl"))
    kinds = [(o.line, type(o).__name__) for o in out]
    assert kinds == [(1, "Parsed"), (2, "Rejected"), (3, "Rejected"), (4, "Parsed"), (5, "Rejected")], kinds
    assert "string should have at most" in out[1].reason          # read whole: within the line limit
    assert "over the limit" in out[2].reason and "over the limit" in out[4].reason
    assert out[4].raw_size == 3 * MAX_LINE_CHARS


def test_an_over_long_csv_line_leaves_the_rows_after_it_alone():
    head = "id,kind,time,lon,lat,radius_m,source_kind,source_id,description\n"
    row = "{},explosion,2026-06-15T10:00:00Z,37.9,48.5,300,patrol,P,{}\n"
    opened = row.format("open", '"' + "y" * (2 * MAX_LINE_CHARS)) + 'still quoted",\n'   # a quoted cell over 2 lines
    text = head + row.format("a", "x") + row.format("big", "x" * (2 * MAX_LINE_CHARS)) + opened + row.format("b", "x")
    out = list(read_records(io.StringIO(text, newline=""), name="x.csv", fmt="csv"))
    assert [(type(o).__name__, o.line) for o in out] == [("Parsed", 2), ("Rejected", 3), ("Rejected", 4),
                                                        ("Parsed", 6)], out
    assert out[-1].report.id == "b"


def test_allegation_and_geojson_readers_are_bounded_too(tmp_path):
    claim = {"alleging_party": "ua", "kind": "shelling", "time": "2026-06-15T10:00:00Z", "lon": 37.9,
             "lat": 48.5, "received_time": "2026-06-15T12:00:00Z"}
    lines = [json.dumps(claim), json.dumps({**claim, "description": "x" * (2 * MAX_LINE_CHARS)}),
             json.dumps({**claim, "start": "9999-01-01T00:00:00Z", "end": "9999-01-02T00:00:00Z", "time": None}),
             json.dumps({**claim, "radius_m": True})]
    out = list(read_allegations(io.StringIO("\n".join(lines) + "\n", newline=""), name="a.jsonl", fmt="jsonl"))
    assert [type(o).__name__ for o in out] == ["ParsedAllegation", "Rejected", "Rejected", "Rejected"], out
    assert "over the limit" in out[1].reason and out[2].field == "start" and out[3].field == "radius_m"
    csv_text = ("alleging_party,kind,time,lon,lat,radius_m,received_time\n"
                "ua,shelling,2026-06-15T10:00:00Z,37.9,48.5,2000,2026-06-15T12:00:00Z\n"
                "ua,shelling,2026-06-15T10:00:00Z,37.9,48.5," + "1" * (2 * MAX_LINE_CHARS) + ",x\n"
                "ua,shelling,2026-06-15T10:00:00Z,37.9,48.5,true,2026-06-15T12:00:00Z\n")
    out = list(read_allegations(io.StringIO(csv_text, newline=""), name="a.csv", fmt="csv"))
    assert [type(o).__name__ for o in out] == ["ParsedAllegation", "Rejected", "Rejected"], out
    assert out[1].line == 3 and "over the limit" in out[1].reason and out[2].field == "radius_m"
    from linewatch.formats.geojson import MAX_GEOJSON_CHARS
    huge = tmp_path / "huge.geojson"
    huge.write_text('{"type": "FeatureCollection", "features": [' + " " * MAX_GEOJSON_CHARS + "]}")
    with huge.open(encoding="utf-8", newline="") as fh, pytest.raises(InputError, match="over the limit"):
        list(read_records(fh, name=str(huge)))


def test_a_long_line_over_an_iterable_of_lines_is_a_long_line():
    line = "x" * (MAX_LINE_CHARS + 10) + "\n"
    (out,) = read_records([line], name="x.jsonl", fmt="jsonl")
    assert isinstance(out, Rejected) and out.raw_size == MAX_LINE_CHARS + 10
    assert isinstance(LongLine.whole(line), LongLine)


def test_report_date_outside_the_window_is_a_usage_error(store_url, tmp_path):
    for day in ("9999-12-31", "0001-01-01", "2100-01-01"):
        proc = subprocess.run([sys.executable, "-m", "linewatch", "report", "--date", day, "--db", store_url,
                               "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr and day in proc.stderr and "1950-01-01" in proc.stderr
    loaded = load_agreement_file(AGREEMENT)
    with open_store(store_url) as store, pytest.raises(InputError, match="window of record times"):
        daily_report(store, loaded, date(9999, 12, 31), tmp_path)


# -- the API --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def api(module_new_store_url):
    """The service over a store with the agreement and a monitor and an analyst (both stores)."""
    url = module_new_store_url("api-bounds")
    tokens = {}
    with open_store(url) as store:
        load_agreement_file(AGREEMENT).record(store)
        for role in ("monitor", "analyst"):
            tokens[role] = new_token()
            store.add_user(role, role, token_sha256(tokens[role]))
    with TestClient(create_app(ServiceConfig(url))) as client:
        yield client, {role: {"Authorization": f"Bearer {t}"} for role, t in tokens.items()}


def _record(**extra) -> dict[str, Any]:
    return {**BASE, **FORMS["point"], "id": f"api-{next(_ids)}", **extra}


@pytest.mark.parametrize("extra, field", [({"count": 10**30}, "count"), ({"count": 2**63}, "count"),
                                          ({"count": True}, "count"), ({"radius_m": 1e12}, "radius_m"),
                                          ({"time": "9999-12-31T00:00:00Z"}, "time")])
def test_the_api_refuses_out_of_bounds_records(api, extra, field):
    client, h = api
    r = client.post(f"{API}/reports", json=_record(**extra), headers=h["monitor"])
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", field] and len(r.content) < 2000
    ok = client.post(f"{API}/verify", headers=h["analyst"])
    assert ok.status_code == 200, ok.text


def test_a_body_over_the_limit_is_413_before_it_is_read(api):
    client, h = api
    for path, limit in ((f"{API}/reports", MAX_SUBMISSION_BYTES), (f"{API}/users", MAX_BODY_BYTES)):
        declared = client.post(path, content=b"[" + b" " * limit + b"]", headers={
            **h["analyst"], "Content-Type": "application/json"})
        assert declared.status_code == 413 and f"{limit:,} bytes" in declared.json()["detail"], declared.text
        def chunks(n: int):
            for _ in range(n // 65536 + 64):
                yield b" " * 65536
        chunked = client.post(path, content=chunks(limit), headers={**h["analyst"], "Content-Type": "application/json"})
        assert chunked.status_code == 413 and len(chunked.content) < 1000, chunked.text
    session = client.post(f"{API}/session", json={"token": "t" * (2 * MAX_BODY_BYTES)})
    assert session.status_code == 413


def test_a_huge_description_gets_a_small_answer(api):
    client, h = api
    big = client.post(f"{API}/reports", json=_record(description="d" * 20_000_000), headers=h["monitor"])
    assert big.status_code == 413 and len(big.content) < 1000
    under = client.post(f"{API}/reports", json=_record(description="d" * 10_000_000), headers=h["monitor"])
    assert under.status_code == 422 and len(under.content) < 2000, under.content[:2000]
    assert under.json()["detail"][0]["loc"] == ["body", "description"]
    body = client.post(f"{API}/reports", json="x" * 900_000, headers=h["monitor"])
    assert body.status_code == 422 and len(body.content) < 2000, body.content[:2000]
    token = client.post(f"{API}/session", json={"token": "t" * 900_000})
    assert token.status_code == 422 and len(token.content) < 2000, token.content[:2000]


def test_days_and_windows_at_the_ends_of_time_are_answered(api):
    client, h = api
    r = client.post(f"{API}/daily-reports/9999-12-31", headers=h["analyst"])
    assert r.status_code == 400 and "1950-01-01" in r.json()["detail"], r.text
    r = client.post(f"{API}/verify", params={"start": "0001-01-01T00:00:00Z", "end": "9999-12-31T23:59:59Z"},
                    headers=h["analyst"])
    assert r.status_code == 200, r.text
    for path in ("/daily-reports/9999-12-31.json", "/daily-reports/0001-01-01/report.json"):
        assert client.get(API + path, headers=h["analyst"]).status_code == 404


def test_the_api_and_the_dashboard_feed_serve_records_at_every_extreme(api):
    """The records at every allowed extreme, submitted as one batch: stored, verified, and served
    as GeoJSON with their ellipses (what the dashboard draws) and one by one."""
    client, h = api
    records = [{**r, "id": f"api-{r['id']}"} for r in _extreme_reports()]
    r = client.post(f"{API}/reports", json=records, headers=h["analyst"])
    assert r.status_code == 200 and r.json()["added"] == len(records), r.text[:2000]
    assert client.post(f"{API}/verify", headers=h["analyst"]).status_code == 200
    for start, end in (("1950-01-01T00:00:00Z", "1950-01-02T00:00:00Z"), ("2026-06-15T00:00:00Z", None),
                       ("2099-12-31T00:00:00Z", None)):
        page = client.get(f"{API}/reports", params={"start": start, **({"end": end} if end else {}),
                                                   "ellipses": "true", "limit": 5000}, headers=h["analyst"])
        assert page.status_code == 200 and page.json()["count"] > 0, page.text[:2000]
    for ident in ("api-ext-all-explosion", "api-ext-19-point", "api-ext-28-observer"):
        one = client.get(f"{API}/reports/{ident}", headers=h["analyst"])
        assert one.status_code == 200, one.text[:2000]
    assert client.get(f"{API}/violations", params={"limit": 5000}, headers=h["analyst"]).status_code == 200


def test_a_record_stored_before_the_bounds_is_named_not_a_crash(store_url, tmp_path):
    """A store written by an older linewatch may hold a count of 2**63: verify names the record."""
    from linewatch.errors import StoreError
    src = tmp_path / "r.jsonl"
    src.write_text(json.dumps({"id": "old-1", "kind": "explosion", "time": "2026-06-15T10:00:00Z",
                               "lon": 37.8, "lat": 48.5, "source_kind": "patrol", "source_id": "P1"}) + "\n",
                   encoding="utf-8")
    with open_store(store_url) as store:
        ingest_file(store, src)
        data = json.loads(store.conn.execute("SELECT data FROM records WHERE id = 'old-1'").fetchone()[0])
        with store.transaction() as c:
            c.execute("UPDATE records SET data = ? WHERE id = 'old-1'",
                      (json.dumps(dict(data, count=2 ** 63), sort_keys=True, separators=(",", ":")),))
        with pytest.raises(StoreError, match=r"records row 'old-1' cannot be read back .*count"):
            verify_store(store, load_agreement_file(AGREEMENT))


@pytest.mark.parametrize("day", ["0", "1781481600", "20260615", "2026-6-1", "2026-06-15T00:00:00Z"])
def test_a_report_day_is_written_as_a_day_not_a_number(tmp_path, day):
    """FastAPI's lax dates read ``0`` as 1970-01-01: the report routes take YYYY-MM-DD only."""
    db = tmp_path / "s.sqlite"
    with open_store(db) as store:
        token = new_token()
        store.add_user("lead", "analyst", token_sha256(token))
    client = TestClient(create_app(ServiceConfig(str(db))))
    headers = {"Authorization": f"Bearer {token}"}
    for method, path in (("POST", f"/api/v1/daily-reports/{day}"), ("POST", f"/api/v1/daily-reports/{day}/release"),
                         ("GET", f"/api/v1/daily-reports/{day}.json")):
        r = client.request(method, path, headers=headers)
        assert r.status_code == 422 and "YYYY-MM-DD" in r.text, (method, path, r.status_code, r.text[:200])
