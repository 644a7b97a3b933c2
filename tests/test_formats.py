"""Record formats: reading good and bad input, round trips, content ids, format detection."""

from __future__ import annotations

import io
import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linewatch.errors import InputError, RecordError
from linewatch.formats import (
    FORMATS,
    Parsed,
    Rejected,
    content_id,
    detect_format,
    open_records,
    parse_direction,
    read_records,
    record_from_dict,
    record_to_dict,
    write_records,
)
from linewatch.formats.acled import GEO_PRECISION_RADIUS_M, SUB_EVENT_KINDS
from linewatch.geo import location_from_observer
from linewatch.model import (
    MAX_COUNT,
    MAX_DELAY_MIN,
    ExplosionType,
    Kind,
    Location,
    ObserverFix,
    Provenance,
    Report,
    SourceKind,
    TimePrecision,
)

DATA = Path(__file__).parent / "data" / "formats"
UTC = UTC

BASE = {"kind": "explosion", "time": "2021-06-23T08:05:00Z", "lon": 37.95, "lat": 48.05,
        "source_kind": "patrol", "source_id": "p1"}


def read(text: str, fmt: str, name: str = "input") -> list[Parsed | Rejected]:
    return list(read_records(io.StringIO(text, newline=""), name=name, fmt=fmt))


def jsonl(*records: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def rejected(text: str, fmt: str = "jsonl") -> Rejected:
    (out,) = read(text, fmt)
    assert isinstance(out, Rejected), out
    return out


def without_file(report: Report) -> Report:
    return replace(report, provenance=replace(report.provenance, file=None, line=None))


# -- the canonical record -------------------------------------------------------------------

def test_minimal_record_gets_defaults_and_content_id():
    r = record_from_dict(dict(BASE))
    assert r.id.startswith("h-") and len(r.id) == 22
    assert r.kind is Kind.EXPLOSION
    assert r.explosion_type is ExplosionType.UNDETERMINED  # explosions default to undetermined
    assert r.time == datetime(2021, 6, 23, 8, 5, tzinfo=UTC)
    assert r.time_precision is TimePrecision.EXACT
    assert r.location == Location.point(37.95, 48.05, 0.0)
    assert r.provenance == Provenance(SourceKind.PATROL, "p1")
    assert (r.count, r.live_fire_exercise, r.description) == (1, False, "")


def test_time_is_converted_to_utc():
    r = record_from_dict({**BASE, "time": "2021-06-23T11:05:00+03:00",
                          "received_time": "2021-06-23T12:00:00-01:00"})
    assert r.time == datetime(2021, 6, 23, 8, 5, tzinfo=UTC)
    assert r.time.utcoffset() == timedelta(0)
    assert r.provenance.received_time == datetime(2021, 6, 23, 13, 0, tzinfo=UTC)


def test_ellipse_form_and_origin():
    r = record_from_dict({**BASE, "semi_major_m": 800, "semi_minor_m": 300, "azimuth_deg": 45,
                          "origin": {"lon": 37.9, "lat": 48.0, "radius_m": 1500}})
    assert r.location == Location(37.95, 48.05, 800.0, 300.0, 45.0)
    assert r.origin == Location.point(37.9, 48.0, 1500.0)


def test_observer_form_uses_geo_and_keeps_the_fix():
    data = {k: v for k, v in BASE.items() if k not in ("lon", "lat")}
    r = record_from_dict({**data, "observer_lon": 38.0, "observer_lat": 48.3, "direction": "SW",
                          "distance_min_m": 3000, "distance_max_m": 7000})
    fix = ObserverFix(38.0, 48.3, 225.0, 45.0, 3000.0, 7000.0)
    assert r.location == location_from_observer(fix)
    assert r.location.observer == fix
    assert r.location.lon < 38.0 and r.location.lat < 48.3  # south-west of the observer


@pytest.mark.parametrize("text, bearing, spread", [
    ("N", 0.0, 45.0), ("south-west", 225.0, 45.0), ("SW", 225.0, 45.0), ("southwest", 225.0, 45.0),
    ("NNE", 22.5, 22.5), ("north-north-east", 22.5, 22.5), ("West North West", 292.5, 22.5),
    ("south-west, west and north-west", 270.0, 135.0), ("NW, N and NE", 0.0, 135.0),
    ("E", 90.0, 45.0),
])
def test_parse_direction(text, bearing, spread):
    assert parse_direction(text) == (pytest.approx(bearing), pytest.approx(spread))


def test_explicit_spread_overrides_the_compass_word():
    data = {k: v for k, v in BASE.items() if k not in ("lon", "lat")}
    r = record_from_dict({**data, "observer_lon": 38.0, "observer_lat": 48.3, "direction": "NNE",
                          "bearing_spread_deg": 10, "distance_min_m": 0, "distance_max_m": 100})
    assert r.location.observer == ObserverFix(38.0, 48.3, 22.5, 10.0, 0.0, 100.0)


OBS = {"observer_lon": 38.0, "observer_lat": 48.3, "distance_min_m": 3000, "distance_max_m": 7000}
NO_POINT = {k: v for k, v in BASE.items() if k not in ("lon", "lat")}


@pytest.mark.parametrize("data, field, words", [
    ({**BASE, "colour": "red"}, "colour", "unknown field 'colour'"),
    ({**BASE, "kind": "rocket"}, "kind", "unknown kind 'rocket'"),
    ({k: v for k, v in BASE.items() if k != "kind"}, "kind", "missing required field 'kind'"),
    ({k: v for k, v in BASE.items() if k != "source_id"}, "source_id", "missing required field"),
    ({k: v for k, v in BASE.items() if k != "lat"}, "lat", "missing required field 'lat'"),
    (NO_POINT, "lon", "missing required field 'lon'"),
    ({**BASE, "lon": 181}, "lon", "lon 181"),
    ({**BASE, "lat": -90.5}, "lat", "lat -90.5"),
    ({**BASE, "time": "2021-06-23T08:05:00"}, "time", "time has no time zone"),
    ({**BASE, "time": "2021-06-23"}, "time", "time has no time zone"),
    ({**BASE, "time": "yesterday"}, "time", "not an ISO 8601"),
    ({**BASE, "time": 1624435500}, "time", "must be an ISO 8601 string"),
    ({**BASE, "received_time": "2021-06-23T08:05"}, "received_time", "received_time has no time zone"),
    ({**BASE, "count": -1}, "count", "count -1"),
    ({**BASE, "killed": -2}, "killed", "killed -2"),
    ({**BASE, "count": 2.5}, "count", "count 2.5"),
    ({**BASE, "radius_m": -5}, "radius_m", "radius_m -5"),
    ({**BASE, "radius_m": float("nan")}, "radius_m", "radius_m"),
    ({**BASE, "semi_major_m": 100, "semi_minor_m": 200, "azimuth_deg": 0}, "semi_minor_m",
     "larger than semi_major_m"),
    ({**BASE, "semi_major_m": 100, "semi_minor_m": 50}, "azimuth_deg", "azimuth_deg is missing"),
    ({**BASE, "radius_m": 10, "semi_major_m": 100, "semi_minor_m": 50, "azimuth_deg": 3},
     "radius_m", "not both"),
    ({**BASE, "azimuth_deg": 360, "semi_major_m": 1, "semi_minor_m": 1}, "azimuth_deg", "azimuth_deg 360"),
    ({**BASE, **OBS, "direction": "SW"}, "observer_lon", "not both"),
    ({**NO_POINT, **OBS}, "bearing_deg", "needs bearing_deg or direction"),
    ({**NO_POINT, **OBS, "direction": "up"}, "direction", "'up' is not a compass point"),
    ({**NO_POINT, **OBS, "direction": "SW", "bearing_deg": 200}, "direction", "not both"),
    ({**NO_POINT, **OBS, "bearing_deg": 400}, "bearing_deg", "bearing_deg 400"),
    ({**NO_POINT, **OBS, "bearing_deg": 10, "distance_min_m": 8000}, "distance_min_m",
     "larger than distance_max_m"),
    ({**NO_POINT, "observer_lon": 38.0, "bearing_deg": 10, "distance_min_m": 0, "distance_max_m": 9},
     "observer_lat", "observer_lat is missing"),
    ({**BASE, "kind": "weapon_sighting", "explosion_type": "impact"}, "explosion_type",
     "applies only to kind 'explosion'"),
    ({**BASE, "explosion_type": "kaboom"}, "explosion_type", "unknown explosion_type 'kaboom'"),
    ({**BASE, "origin": {"lon": 37.9}}, "origin.lat", "missing required field 'origin.lat'"),
    ({**BASE, "origin": {"lon": 37.9, "lat": 48, "x": 1}}, "origin.x", "unknown field 'origin.x'"),
    ({**BASE, "origin": [37.9, 48]}, "origin", "expected an object"),
    ({**BASE, "geo_precision": 4}, "geo_precision", "geo_precision 4"),
    ({**BASE, "in_storage": "maybe"}, "in_storage", "in_storage 'maybe'"),
    ({**BASE, "id": " padded"}, "id", "id ' padded'"),
    ({**BASE, "extra": {"a": 1}}, "extra.a", "extra.a 1"),
])
def test_bad_records_name_the_field(data, field, words):
    with pytest.raises(RecordError) as info:
        record_from_dict(data, name="f.jsonl", line=7)
    err = info.value
    assert err.field == field
    assert words in err.reason
    assert (err.file, err.line) == ("f.jsonl", 7)
    assert str(err).startswith(f"f.jsonl, line 7, field {field!r}: ")


def test_several_problems_are_counted():
    with pytest.raises(RecordError, match=r"\(and 2 more problems\)"):
        record_from_dict({**BASE, "lon": 500, "lat": 500, "count": -1})


def test_null_and_empty_mean_not_given():
    r = record_from_dict({**BASE, "weapon_class": "", "party": None, "id": ""})
    assert r.weapon_class is None and r.party is None and r.id.startswith("h-")


# -- JSON Lines -----------------------------------------------------------------------------

def test_jsonl_sample_file():
    out = list(open_records(DATA / "good.jsonl"))
    assert all(isinstance(o, Parsed) for o in out)
    assert [o.line for o in out] == [1, 3, 4, 5, 6]  # line 2 is blank
    smm = out[0].report
    assert smm.location.observer.bearing_spread_deg == 135.0
    assert smm.count == 50 and smm.time_precision is TimePrecision.HOUR
    assert smm.provenance.file == str(DATA / "good.jsonl") and smm.provenance.line == 1
    assert out[3].report.origin == Location.point(37.9, 48.0, 1500.0)
    assert out[4].report.delay_min == 115.0 and out[4].report.corroborated is True
    assert json.loads(out[2].raw)["id"] == "uav-0042"


def test_jsonl_bad_sample_file_rejects_each_bad_line():
    out = list(open_records(DATA / "bad.jsonl"))
    assert isinstance(out[0], Parsed)
    rejects = out[1:]
    assert all(isinstance(r, Rejected) for r in rejects)
    assert [(r.line, r.field) for r in rejects] == [
        (2, None), (3, None), (4, "kind"), (5, "time"), (6, "lat"), (7, "time"), (8, "time"),
        (9, "colour"), (10, "distance_min_m"), (11, "count")]
    assert rejects[0].reason.startswith("invalid JSON")
    assert rejects[1].reason == "expected a JSON object, got an array"
    assert all(r.file == str(DATA / "bad.jsonl") and r.raw for r in rejects)


@pytest.mark.parametrize("line, reason", [
    ("{not json}", "invalid JSON"), ('"a string"', "got a string"), ("42", "got a number"),
    ("null", "got null"), ("[]", "got an array"), ('{"a": NaN}', "unknown field 'a'"),
])
def test_jsonl_values_that_are_not_records(line, reason):
    assert reason in rejected(line + "\n").reason


def test_jsonl_bom_and_blank_lines_and_crlf():
    text = "\ufeff" + jsonl(BASE).replace("\n", "\r\n") + "\r\n   \n" + jsonl({**BASE, "id": "b"})
    out = read(text, "jsonl")
    assert [type(o) for o in out] == [Parsed, Parsed]
    assert [o.line for o in out] == [1, 4]
    assert not out[0].raw.endswith("\r")


def test_jsonl_multiline_document_is_a_whole_file_error():
    with pytest.raises(InputError, match=r"doc.json: line 1: .*not JSON Lines"):
        read('{\n  "kind": "explosion"\n}\n', "jsonl", name="doc.json")


def test_jsonl_not_utf8_is_a_whole_file_error(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(jsonl(BASE).encode() + '{"description": "caf\xe9"}\n'.encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1.jsonl: not UTF-8 text"):
        list(open_records(path))
    with pytest.raises(InputError, match=r"latin1.jsonl: not UTF-8 text"):
        list(open_records(path, fmt="jsonl"))


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot open"):
        list(open_records(tmp_path / "nope.jsonl"))


def test_jsonl_streams_50k_lines_lazily():
    consumed = 0

    def lines(n):
        nonlocal consumed
        for i in range(n):
            consumed += 1
            yield json.dumps({**BASE, "id": f"r{i}", "lon": 37 + i * 1e-5}) + "\n"

    it = read_records(lines(50_000), name="big.jsonl", fmt="jsonl")
    first = next(it)
    assert isinstance(first, Parsed) and consumed == 1  # nothing read ahead
    count, last = 1, first
    for record in it:
        count, last = count + 1, record
    assert count == 50_000 and consumed == 50_000
    assert last.report.id == "r49999" and last.line == 50_000


# -- CSV ------------------------------------------------------------------------------------

def test_csv_sample_file():
    out = list(open_records(DATA / "good.csv"))
    assert all(isinstance(o, Parsed) for o in out), out
    w, e1, e2 = (o.report for o in out)
    assert w.in_storage is True and w.weapon_class == "mlrs_bm21"
    assert w.description == '4 x BM-21, seen "in the open"'
    assert e1.origin == Location.point(37.9, 48.0, 1500.0)
    assert e1.time == datetime(2021, 6, 23, 6, 0, tzinfo=UTC)
    assert e2.description == "two lines\nof text"
    assert [o.line for o in out] == [2, 3, 5]  # BOM stripped; blank line 4 skipped
    assert out[2].raw.count("\n") == 1


def test_csv_bad_rows():
    out = list(open_records(DATA / "bad.csv"))
    assert isinstance(out[0], Parsed)
    got = [(r.line, r.field, r.reason) for r in out[1:]]
    assert got[0] == (3, None, "row has 4 cells, the header (line 1) has 7")
    assert got[1] == (4, None, "row has 8 cells, the header (line 1) has 7")
    assert got[2][:2] == (5, "time") and "no time zone" in got[2][2]
    assert got[3][:2] == (6, "lat")
    assert got[4][:2] == (7, "kind")


@pytest.mark.parametrize("value, expected", [
    ("true", True), ("yes", True), ("1", True), ("FALSE", False), ("no", False), ("0", False),
])
def test_csv_booleans(value, expected):
    text = f"kind,time,lon,lat,source_kind,source_id,corroborated\nexplosion,{BASE['time']},1,2,uav,u,{value}\n"
    (out,) = read(text, "csv")
    assert out.report.corroborated is expected


def test_csv_origin_errors_name_the_column():
    text = ("kind,time,lon,lat,source_kind,source_id,origin_lon\n"
            f"explosion,{BASE['time']},1,2,uav,u,3\n")
    r = rejected(text, "csv")
    assert r.field == "origin_lat" and "missing required field 'origin.lat'" in r.reason


def test_csv_bad_extra_json():
    text = f"kind,time,lon,lat,source_kind,source_id,extra\nexplosion,{BASE['time']},1,2,uav,u,{{oops\n"
    r = rejected(text, "csv")
    assert r.field == "extra" and "not a JSON object" in r.reason


@pytest.mark.parametrize("text, message", [
    ("", "the file is empty"),
    ("\n\n", "the file is empty"),
    (DATA.joinpath("noheader.csv").read_text(), "unknown column 'explosion'"),
    ("kind,time,lon,lat,source_kind\n", "lacks the required column 'source_id'"),
    ("kind,time,kind,source_kind,source_id\n", "'kind' appears twice"),
    ("kind,,time,source_kind,source_id\n", "column 2 has no name"),
])
def test_csv_whole_file_errors(text, message):
    with pytest.raises(InputError, match=message):
        read(text, "csv", name="x.csv")


def test_csv_whitespace_lines_are_blank_and_one_cell_rows_are_rejected():
    text = f"kind,time,lon,lat,source_kind,source_id\n   \nexplosion\nexplosion,{BASE['time']},1,2,uav,u\n"
    out = read(text, "csv")
    assert [(type(o), o.line) for o in out] == [(Rejected, 3), (Parsed, 4)]
    assert out[0].reason == "row has 1 cell, the header (line 1) has 6"


def test_csv_direction_column_is_accepted():
    text = ("kind,time,observer_lon,observer_lat,direction,distance_min_m,distance_max_m,source_kind,source_id\n"
            f"explosion,{BASE['time']},38,48.3,SW,3000,7000,patrol,p\n")
    (out,) = read(text, "csv")
    assert out.report.location.observer.bearing_deg == 225.0


# -- GeoJSON --------------------------------------------------------------------------------

def test_geojson_sample_file():
    out = list(open_records(DATA / "mixed.geojson"))
    assert [type(o) for o in out] == [Parsed, Parsed, Rejected, Rejected, Rejected]
    assert out[0].report.id == "uav-0042" and out[0].report.location == Location.point(37.912, 48.101, 50.0)
    assert out[1].report.location.observer is not None
    assert [(o.line, o.field) for o in out[2:]] == [(3, "geometry"), (4, "time"), (5, "type")]
    assert "LineString" in out[2].reason
    assert json.loads(out[0].raw)["id"] == "uav-0042"


@pytest.mark.parametrize("path, message", [
    ("notcollection.geojson", "not a GeoJSON FeatureCollection"),
    ("truncated.geojson", r"line 3: not valid JSON"),
])
def test_geojson_whole_file_errors(path, message):
    with pytest.raises(InputError, match=message):
        list(open_records(DATA / path))


def test_geojson_feature_problems():
    def one(feature):
        doc = json.dumps({"type": "FeatureCollection", "features": [feature]})
        (out,) = read(doc, "geojson")
        return out

    props = {k: v for k, v in BASE.items() if k not in ("lon", "lat")}
    point = {"type": "Point", "coordinates": [1.0, 2.0]}
    assert one({"type": "Feature", "geometry": point, "properties": props}).report.location.lon == 1.0
    r = one({"type": "Feature", "geometry": point, "properties": {**props, "lon": 1}})
    assert r.field == "lon" and "both" in r.reason
    r = one({"type": "Feature", "geometry": {"type": "Point", "coordinates": [1]}, "properties": props})
    assert r.field == "geometry"
    r = one({"type": "Feature", "id": "a", "geometry": point, "properties": {**props, "id": "b"}})
    assert r.field == "id"
    r = one({"type": "Feature", "geometry": None, "properties": props})
    assert r.field == "lon"
    r = one({"type": "Feature", "geometry": point, "properties": props, "when": 1})
    assert r.field == "when"
    with pytest.raises(InputError, match="no 'features' array"):
        read('{"type": "FeatureCollection"}', "geojson")
    with pytest.raises(InputError, match="not valid JSON"):
        read("", "geojson")


# -- ACLED ----------------------------------------------------------------------------------

def test_acled_sample_file():
    out = {o.line: o for o in open_records(DATA / "acled.csv")}
    shell = out[2].report
    assert shell.id == "acled-UKR1001" and shell.kind is Kind.EXPLOSION
    assert shell.explosion_type is ExplosionType.IMPACT
    assert shell.time == datetime(2021, 6, 24, tzinfo=UTC) and shell.time_precision is TimePrecision.DAY
    assert shell.location == Location.point(38.0269, 48.3122, 2000.0) and shell.geo_precision == 1
    assert shell.provenance.source_kind is SourceKind.OPEN_SOURCE
    assert shell.provenance.source_id == "OSCE SMM"
    assert shell.provenance.received_time == datetime.fromtimestamp(1624900000, UTC)
    assert shell.description.startswith("On 24 June 2021")
    assert dict(shell.extra)["acled_actor1"] == "Military Forces of Russia (2000-)"
    assert shell.party is None and shell.killed is None
    drone = out[3].report
    assert drone.time == datetime(2021, 6, 1, tzinfo=UTC) and drone.time_precision is TimePrecision.MONTH
    assert drone.location.semi_major_m == 25_000.0 and drone.killed == 1
    assert out[4].report.kind is Kind.MINE_UXO and out[4].report.time == datetime(2021, 6, 17, tzinfo=UTC)
    assert out[4].report.time_precision is TimePrecision.WEEK
    assert out[5].report.kind is Kind.BURSTS_AND_SHOTS
    assert out[6].report.kind is Kind.CIVILIAN_CASUALTY and out[6].report.killed == 1
    assert out[10].report.explosion_type is ExplosionType.UNDETERMINED  # Grenade
    assert out[11].report.location.semi_major_m == 100_000.0  # geo_precision missing -> 3
    assert out[11].report.time == datetime(2021, 6, 24, tzinfo=UTC)  # "24 June 2021"
    rejects = {line: o for line, o in out.items() if isinstance(o, Rejected)}
    assert sorted(rejects) == [7, 8, 9, 12]
    assert rejects[7].field == "fatalities"
    assert rejects[8].field == "sub_event_type" and "'Peaceful protest'" in rejects[8].reason
    assert rejects[9].field == "sub_event_type" and "'Agreement'" in rejects[9].reason
    assert rejects[12].field == "event_date"


ACLED_HEAD = "event_id_cnty,event_date,event_type,sub_event_type,latitude,longitude"


@pytest.mark.parametrize("row, field, words", [
    ("X1,2021-06-24,Battles,Armed clash,91,38", "latitude", "lat 91"),
    ("X1,2021-06-24,Battles,Armed clash,48,abc", "longitude", "lon 'abc'"),
    (",2021-06-24,Battles,Armed clash,48,38", "event_id_cnty", "missing"),
    ("X1,,Battles,Armed clash,48,38", "event_date", "missing"),
    ("X1,2021-06-24,Riots,Mob violence,48,38", "sub_event_type", "'Mob violence' (event type 'Riots')"),
])
def test_acled_bad_rows(row, field, words):
    r = rejected(f"{ACLED_HEAD}\n{row}\n", "acled")
    assert r.field == field and words in r.reason


@pytest.mark.parametrize("extra_col, value, field", [
    ("time_precision", "4", "time_precision"), ("geo_precision", "x", "geo_precision"),
    ("fatalities", "-1", "fatalities"), ("timestamp", "99999999999999999", "timestamp"),
])
def test_acled_bad_codes(extra_col, value, field):
    r = rejected(f"{ACLED_HEAD},{extra_col}\nX1,2021-06-24,Battles,Armed clash,48,38,{value}\n", "acled")
    assert r.field == field


def test_acled_header_needs_its_columns_and_is_case_insensitive():
    with pytest.raises(InputError, match="lacks the required columns 'latitude', 'longitude'"):
        read("event_id_cnty,event_date,event_type,sub_event_type\n", "acled")
    (out,) = read(f"{ACLED_HEAD.upper()},SOMETHING_NEW\nX1,2021-06-24,Battles,Armed clash,48,38,z\n", "acled")
    assert out.report.id == "acled-X1"


def test_acled_export_skips_kinds_it_cannot_express():
    reports = [record_from_dict({**BASE, "id": "a"}),
               record_from_dict({**BASE, "id": "b", "kind": "muzzle_flash"}),
               record_from_dict({**BASE, "id": "c", "kind": "mine_uxo"})]
    buf = io.StringIO()
    assert write_records(reports, buf, fmt="acled") == 2
    back = read(buf.getvalue(), "acled")
    assert [o.report.id for o in back] == ["acled-a", "acled-c"]


# -- round trips ----------------------------------------------------------------------------

texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)
descriptions = st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n\r,\"'"),
                       max_size=40)
ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,20}", fullmatch=True)
times = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2099, 12, 31),
                     timezones=st.just(UTC))
lons = st.floats(-180, 180)
lats = st.floats(-90, 90)
metres = st.floats(0, 1e6)


@st.composite
def points(draw, lon=lons, lat=lats):
    return Location.point(draw(lon), draw(lat), draw(metres))


@st.composite
def ellipses(draw):
    a, b = sorted([draw(metres), draw(metres)], reverse=True)
    return Location(draw(lons), draw(lats), a, b, draw(st.floats(0, 360, exclude_max=True)))


@st.composite
def observed(draw):
    lo, hi = sorted([draw(st.floats(0, 50_000)), draw(st.floats(0, 50_000))])
    fix = ObserverFix(draw(st.floats(-179, 179)), draw(st.floats(-80, 80)),
                      draw(st.floats(0, 360, exclude_max=True)), draw(st.floats(0, 360)), lo, hi)
    return location_from_observer(fix)


def optional(strategy):
    return st.none() | strategy


@st.composite
def reports(draw):
    kind = draw(st.sampled_from(Kind))
    return Report(
        id=draw(ids), kind=kind, time=draw(times),
        location=draw(points() | ellipses() | observed()),
        provenance=Provenance(draw(st.sampled_from(SourceKind)), draw(texts), draw(optional(times))),
        time_precision=draw(st.sampled_from(TimePrecision)),
        explosion_type=draw(st.sampled_from(ExplosionType)) if kind is Kind.EXPLOSION else None,
        weapon_class=draw(optional(texts)), count=draw(st.integers(0, MAX_COUNT)),
        in_storage=draw(optional(st.booleans())), category=draw(optional(texts)),
        aircraft_type=draw(optional(texts)), party=draw(optional(texts)),
        origin=draw(optional(points() | ellipses())),
        killed=draw(optional(st.integers(0, 1000))), injured=draw(optional(st.integers(0, 1000))),
        corroborated=draw(optional(st.booleans())), restriction=draw(optional(texts)),
        delay_min=draw(optional(st.floats(0, MAX_DELAY_MIN))), live_fire_exercise=draw(st.booleans()),
        purpose=draw(optional(texts)), description=draw(descriptions),
        geo_precision=draw(optional(st.integers(1, 3))), engine=draw(optional(texts)),
        extra=tuple(sorted(draw(st.dictionaries(texts, st.text(max_size=8), max_size=3)).items())),
    )


def round_trip(reports_in: list[Report], fmt: str) -> list[Parsed | Rejected]:
    buf = io.StringIO(newline="")
    assert write_records(reports_in, buf, fmt=fmt) == len(reports_in)
    return read(buf.getvalue(), fmt, name=f"out.{fmt}")


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "geojson"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(reports(), max_size=4))
def test_round_trip(fmt, batch):
    out = round_trip(batch, fmt)
    assert [o for o in out if isinstance(o, Rejected)] == []
    assert [without_file(o.report) for o in out] == batch
    assert all(o.report.provenance.file == f"out.{fmt}" for o in out)


@settings(max_examples=60, deadline=None)
@given(report=reports())
def test_dict_round_trip_and_json_safe(report):
    data = record_to_dict(report)
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert record_from_dict(data) == report


@st.composite
def acled_reports(draw):
    sub = draw(st.sampled_from(sorted(SUB_EVENT_KINDS)))
    _, kind, explosion_type = SUB_EVENT_KINDS[sub]
    precision = draw(st.sampled_from([TimePrecision.DAY, TimePrecision.WEEK, TimePrecision.MONTH]))
    day = draw(st.dates(min_value=datetime(1990, 1, 1).date(), max_value=datetime(2090, 1, 1).date()))
    time = datetime(day.year, day.month, 1 if precision is TimePrecision.MONTH else day.day, tzinfo=UTC)
    geo = draw(st.integers(1, 3))
    stripped = texts.map(str.strip).filter(bool)
    extra = {f"acled_{k}": draw(stripped) for k in draw(st.sets(st.sampled_from(["actor1", "country", "location"])))}
    if sub in ("Air/drone strike", "Grenade"):
        extra["acled_sub_event_type"] = sub
    killed = draw(st.integers(1, 50)) if kind is Kind.CIVILIAN_CASUALTY else draw(optional(st.integers(1, 50)))
    received = draw(optional(st.integers(0, 4_000_000_000)))
    return Report(
        id="acled-" + draw(st.from_regex(r"[A-Z]{3}[0-9]{1,6}", fullmatch=True)), kind=kind, time=time,
        location=Location.point(draw(lons), draw(lats), GEO_PRECISION_RADIUS_M[geo]),
        provenance=Provenance(SourceKind.OPEN_SOURCE, draw(stripped),
                              datetime.fromtimestamp(received, UTC) if received is not None else None),
        time_precision=precision, explosion_type=explosion_type, killed=killed,
        description=draw(descriptions.map(str.strip)), geo_precision=geo,
        extra=tuple(sorted(extra.items())))


@settings(max_examples=80, deadline=None)
@given(batch=st.lists(acled_reports(), max_size=4))
def test_acled_round_trip(batch):
    out = round_trip(batch, "acled")
    assert [without_file(o.report) for o in out] == batch


@settings(max_examples=40, deadline=None)
@given(batch=st.lists(reports(), max_size=4))
def test_acled_export_keeps_what_it_can_express(batch):
    buf = io.StringIO(newline="")
    n = write_records(batch, buf, fmt="acled")
    expressible = [r for r in batch if r.kind in (Kind.EXPLOSION, Kind.MINE_UXO,
                                                  Kind.BURSTS_AND_SHOTS, Kind.CIVILIAN_CASUALTY)]
    assert n == len(expressible)
    out = read(buf.getvalue(), "acled")
    assert len(out) == n
    for before, after in zip(expressible, out):
        if isinstance(after, Rejected):  # only casualties without deaths are not read back
            assert before.kind is Kind.CIVILIAN_CASUALTY and not before.killed
            continue
        got = after.report
        assert got.kind is before.kind
        assert (got.location.lon, got.location.lat) == (before.location.lon, before.location.lat)
        # the true time lies in the record's window (a month precision is its calendar month)
        assert got.time <= before.time < got.time + timedelta(seconds=got.time_window_s)
        assert got.provenance.source_id == (before.provenance.source_id.strip() or "ACLED")
        assert got.killed == (before.killed or None)


# -- content ids ----------------------------------------------------------------------------

def test_content_id_is_pinned():
    # the same record must keep the same id across versions: ids are stored and cited
    assert record_from_dict(dict(BASE)).id == content_id(record_to_dict(record_from_dict(dict(BASE))))
    assert record_from_dict(dict(BASE)).id == "h-fba6db55613729f935f5"


@settings(max_examples=50, deadline=None)
@given(report=reports(), seed=st.integers(0, 2**32))
def test_content_id_ignores_key_order_and_id(report, seed):
    data = record_to_dict(report)
    keys = list(data)
    random.Random(seed).shuffle(keys)
    shuffled = {k: data[k] for k in keys}
    assert content_id(shuffled) == content_id(data)
    assert content_id({**data, "id": "other"}) == content_id(data)
    del shuffled["id"]
    assert record_from_dict(shuffled).id == content_id(data)


def test_content_id_is_the_same_from_every_format():
    text_csv = "kind,time,lon,lat,source_kind,source_id\nexplosion,2021-06-23T11:05:00+03:00,37.95,48.05,patrol,p1\n"
    text_jsonl = jsonl({"source_id": "p1", "lat": 48.05, "lon": 37.95, "kind": "explosion",
                        "time": "2021-06-23T08:05:00Z", "source_kind": "patrol"})
    ids_ = {read(text_csv, "csv")[0].report.id, read(text_jsonl, "jsonl")[0].report.id}
    assert ids_ == {"h-fba6db55613729f935f5"}


def test_content_id_changes_with_content():
    assert record_from_dict(dict(BASE)).id != record_from_dict({**BASE, "count": 2}).id


# -- format detection -----------------------------------------------------------------------

@pytest.mark.parametrize("name, head, fmt", [
    ("a.jsonl", "", "jsonl"),
    ("a.NDJSON", "", "jsonl"),
    ("a.geojson", "", "geojson"),
    ("a.csv", "id,kind,time,lon,lat\n", "csv"),
    ("a.csv", "\ufeffevent_id_cnty,event_date,event_type,sub_event_type,latitude\n", "acled"),
    ("a.csv", "EVENT_ID_CNTY,SUB_EVENT_TYPE\n", "acled"),
    ("a.json", '{"type": "FeatureCollection", "features": []}', "geojson"),
    ("a.json", '{\n  "type": "FeatureCollection",\n  "features": [', "geojson"),
    ("a.json", jsonl(BASE), "jsonl"),
    ("a.txt", jsonl(BASE), "jsonl"),
    ("records", "kind,time,lon\n", "csv"),
    ("acled-export", "event_id_cnty,sub_event_type\n", "acled"),
])
def test_detect_format(name, head, fmt):
    assert detect_format(name, head) == fmt


@pytest.mark.parametrize("name, head", [
    ("a.xml", "<xml/>"), ("a.xlsx", ""), ("a.json", "[1, 2]"), ("a.txt", "hello"), ("a", ""),
])
def test_detect_format_refuses(name, head):
    with pytest.raises(InputError, match=r"^a"):
        detect_format(name, head)


def test_read_records_detects_the_format_without_losing_lines():
    text = "\ufeff" + jsonl(*({**BASE, "id": f"r{i}"} for i in range(500)))
    out = list(read_records(io.StringIO(text), name="x.ndjson"))
    assert [o.report.id for o in out] == [f"r{i}" for i in range(500)]
    out = list(open_records(DATA / "acled.csv"))
    assert len(out) == 11


def test_unknown_format_names():
    with pytest.raises(InputError, match="unknown record format 'xml'"):
        list(read_records(io.StringIO(""), name="x", fmt="xml"))
    with pytest.raises(InputError, match="unknown record format 'xml'"):
        write_records([], io.StringIO(), fmt="xml")


@pytest.mark.parametrize("fmt", FORMATS)
def test_written_files_are_detected_as_their_format(fmt):
    buf = io.StringIO(newline="")
    write_records([record_from_dict(dict(BASE))], buf, fmt=fmt)
    ext = {"jsonl": "jsonl", "csv": "csv", "geojson": "geojson", "acled": "csv"}[fmt]
    assert detect_format(f"out.{ext}", buf.getvalue()) == fmt
    assert detect_format("out", buf.getvalue()) == fmt


def test_the_package_exports_what_its_all_says():
    import linewatch.formats as formats
    assert len(set(formats.__all__)) == len(formats.__all__)
    for name in formats.__all__:
        assert getattr(formats, name) is not None, name
    with pytest.raises(AttributeError):
        _ = formats.no_such_name
