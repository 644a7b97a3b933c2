"""Allegation files: reading, errors with file/line/field, ingest, corrections, verify (the
commands that open a store run on both stores: conftest's ``store_url``)."""

from __future__ import annotations

import io
import json

import pytest
from typer.testing import CliRunner

from linewatch.cli.main import app
from linewatch.errors import NotFound
from linewatch.formats.allegations import ParsedAllegation, allegation_from_stored, allegation_to_dict, read_allegations
from linewatch.formats.records import Rejected
from linewatch.verification import AllegationKind

AGREEMENT = """
id: allegation-cli
title: Allegation CLI test
version: "2"
parties:
  - {id: a, name: Party A, side: left}
  - {id: b, name: Party B, side: right}
line:
  geometry: {type: LineString, coordinates: [[36.0, 47.0], [36.0, 49.0]]}
zones:
  - {kind: site, id: plant, name: Power plant, category: energy, point: [36.2, 48.3], radius_km: 2}
rules:
  - {id: fire, kind: no_fire, text: No fire}
"""


def claim(i, **kw):
    base = {"id": f"al{i}", "alleging_party": "b", "accused_party": "a", "kind": "shelling",
            "start": "2025-06-01T10:00:00Z", "end": "2025-06-01T11:00:00Z", "lon": 36.07,
            "lat": 48.0, "radius_m": 1500, "source_kind": "statement",
            "source_reference": "MoD statement 41", "received_time": "2025-06-01T15:00:00Z"}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


def read(lines, fmt="jsonl", **kw):
    return list(read_allegations(io.StringIO("\n".join(lines) + "\n"), name="al.jsonl", fmt=fmt, **kw))


def settlements(name, country):
    if name.lower() == "novotoshkivske":
        return 36.1, 48.2
    raise NotFound("settlement", name)


def sites(site_id):
    if site_id == "plant":
        return 36.2, 48.3, 2000.0, "energy"
    raise NotFound("site", site_id)


def test_points_settlements_sites_and_areas():
    ring = [[36.05, 47.99], [36.09, 47.99], [36.09, 48.01], [36.05, 48.01], [36.05, 47.99]]
    items = read([json.dumps(claim(1)),
                  json.dumps(claim(2, lon=None, lat=None, radius_m=None, settlement="Novotoshkivske")),
                  json.dumps(claim(3, lon=None, lat=None, radius_m=None, site="plant",
                                   kind="protected_site_strike")),
                  json.dumps(claim(4, lon=None, lat=None, radius_m=None,
                                   area={"type": "Polygon", "coordinates": [ring]})),
                  json.dumps(claim(5, start=None, end=None, time="2025-06-01T10:30:00+02:00"))],
                 settlements=settlements, sites=sites)
    assert all(isinstance(i, ParsedAllegation) for i in items), items
    a = [i.allegation for i in items]
    assert (a[0].place.lon, a[0].place.radius_m, a[0].source_reference) == (36.07, 1500, "MoD statement 41")
    assert (a[1].place.name, a[1].place.radius_m) == ("Novotoshkivske", 3000.0)
    assert (a[2].site_id, a[2].site_category, a[2].place.radius_m) == ("plant", "energy", 2000.0)
    assert a[2].kind is AllegationKind.PROTECTED_SITE_STRIKE
    assert a[3].place.area[0] == (36.05, 47.99) and a[3].place.lon == pytest.approx(36.07)
    assert a[4].start.isoformat() == "2025-06-01T08:00:00+00:00"   # 10:30+02:00 less 30 min
    for x in a:    # the stored form reads back to the same allegation
        assert allegation_from_stored(json.loads(json.dumps(allegation_to_dict(x)))) == x


@pytest.mark.parametrize("change, field, words", [
    ({"alleging_party": None}, "alleging_party", "missing"),
    ({"kind": "banana"}, "kind", "unknown kind"),
    ({"accused_party": "b"}, "accused_party", "accuses itself"),
    ({"end": "2025-06-01T09:00:00Z"}, "end", "before start"),
    ({"end": None}, "end", "both start and end"),
    ({"received_time": "2025-06-01T15:00:00"}, "received_time", "no time zone"),
    ({"lon": None, "lat": None}, "lon", "no place"),
    ({"settlement": "Novotoshkivske"}, "settlement", "one place"),
    ({"lon": None, "lat": None, "settlement": "Atlantis"}, "settlement", "unknown settlement"),
    ({"lon": None, "lat": None, "site": "dam"}, "site", "no site 'dam'"),
    ({"lat": 95.0}, "lat", "less than or equal"),
    ({"colour": "red"}, "colour", "unknown field"),
])
def test_bad_allegations_are_rejected_with_the_field(change, field, words):
    (item,) = read([json.dumps(claim(1, **change))], settlements=settlements, sites=sites)
    assert isinstance(item, Rejected)
    assert (item.file, item.line, item.field) == ("al.jsonl", 1, field)
    assert words in item.reason


def test_csv_with_a_quoted_area():
    ring = [[36.05, 47.99], [36.09, 47.99], [36.09, 48.01], [36.05, 47.99]]
    area = json.dumps({"type": "Polygon", "coordinates": [ring]}).replace('"', '""')
    lines = ["id,alleging_party,accused_party,kind,start,end,lon,lat,area,received_time",
             f'c1,a,b,overflight,2025-06-01T10:00:00Z,2025-06-01T10:30:00Z,,,"{area}",2025-06-01T12:00:00Z',
             "c2,a,b,overflight,2025-06-01T10:00:00Z,2025-06-01T10:30:00Z,35.9,48.0,,2025-06-01T12:00:00Z,extra"]
    first, second = read(lines, fmt="csv")
    assert isinstance(first, ParsedAllegation) and first.allegation.place.area is not None
    assert isinstance(second, Rejected) and second.line == 3 and "more than the header" in second.reason


@pytest.fixture()
def ws(tmp_path):
    (tmp_path / "ag.yaml").write_text(AGREEMENT)
    records = [{"id": "x1", "kind": "explosion", "explosion_type": "impact",
                "time": "2025-06-01T10:20:00Z", "lon": 36.075, "lat": 48.0, "radius_m": 300,
                "source_kind": "patrol", "source_id": "P1", "party": "a"}]
    (tmp_path / "records.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    (tmp_path / "allegations.jsonl").write_text("\n".join(json.dumps(c) for c in [
        claim(1), claim(2, lon=35.5, alleging_party="a", accused_party="b"),
        claim(3, lon=None, lat=None, radius_m=None, site="plant", kind="protected_site_strike"),
        claim(4, kind="overflight", lon=None)]) + "\n")
    return tmp_path


def invoke(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result


def test_ingest_recognises_allegations_and_verify_gives_verdicts(ws, store_url):
    db = store_url
    assert invoke("agreement", "check", ws / "ag.yaml").exit_code == 0
    r = invoke("verify", "--db", db, "--agreement", ws / "ag.yaml")      # stores the agreement
    assert r.exit_code == 0, r.output
    r = invoke("ingest", "--db", db, ws / "records.jsonl", ws / "allegations.jsonl")
    assert r.exit_code == 7, r.output        # stored, one allegation quarantined
    assert "(allegations-jsonl): 3 added, 0 already stored, 1 quarantined" in r.output
    r = invoke("quarantine", "list", "--db", db, "--json")
    assert "lat is given without lon" in r.output
    r = invoke("allegations", "verify", "--db", db, "--json")
    assert r.exit_code == 0, r.output
    verdicts = {v["allegation_id"]: v for v in json.loads(r.output)["verdicts"]}
    assert verdicts["al1"]["verdict"] == "corroborated"
    assert verdicts["al1"]["perpetrator"] == "confirmed"
    assert verdicts["al1"]["matches"][0]["record_id"] == "x1"
    assert verdicts["al1"]["agreement_version"] == "2" and verdicts["al1"]["engine"] == "allegations-1"
    # without a network, nothing says what could have been seen
    assert verdicts["al2"]["verdict"] == "unverifiable"
    assert verdicts["al3"]["verdict"] == "unverifiable"
    r = invoke("allegations", "list", "--db", db)
    assert r.exit_code == 0 and "3 allegations" in r.output


def test_a_correction_supersedes_and_a_changed_id_is_quarantined(ws, store_url):
    db = store_url
    invoke("verify", "--db", db, "--agreement", ws / "ag.yaml")
    invoke("ingest", "--db", db, ws / "records.jsonl", ws / "allegations.jsonl")
    fix = ws / "fix.jsonl"
    fix.write_text(json.dumps(claim(5, lon=36.3, supersedes="al1")) + "\n"
                   + json.dumps(claim(1, lon=36.5)) + "\n")
    r = invoke("ingest", "--db", db, fix)
    assert "1 added, 0 already stored, 1 quarantined" in r.output, r.output
    r = invoke("allegations", "verify", "--db", db, "--json")
    ids = [v["allegation_id"] for v in json.loads(r.output)["verdicts"]]
    assert "al5" in ids and "al1" not in ids


def test_signed_verdicts_and_a_published_report_verify_and_tampering_is_caught(ws, store_url):
    db, keys, out = store_url, ws / "keys", ws / "reports"
    assert invoke("keys", "generate", "--dir", keys).exit_code == 0
    private = next(p for p in keys.iterdir() if not p.name.endswith(".pub.pem"))
    public = next(p for p in keys.iterdir() if p.name.endswith(".pub.pem"))
    invoke("verify", "--db", db, "--agreement", ws / "ag.yaml")
    invoke("ingest", "--db", db, ws / "records.jsonl", ws / "allegations.jsonl")
    assert invoke("verify", "--db", db).exit_code == 0         # the report reads this run
    r = invoke("allegations", "verify", "--db", db, "--sign-with", private)
    assert r.exit_code == 0, r.output
    r = invoke("report", "--db", db, "--date", "2025-06-01", "--sign-with", private, "--out", out)
    assert r.exit_code == 0, r.output
    bundle = out / "daily-2025-06-01.lwbundle.json"
    assert "bundle:" in r.output and bundle.exists()
    report = json.loads((out / "report-2025-06-01.json").read_text())
    assert report["allegations"]["received"] == 3
    assert report["allegations"]["verdicts"]["corroborated"] == 1
    r = invoke("audit", "verify", "--db", db, "--public-key", public)
    assert r.exit_code == 0, r.output
    assert invoke("audit", "verify-report", bundle, "--public-key", public).exit_code == 0
    data = bytearray(bundle.read_bytes())
    i = data.index(b'"report-2025-06-01.json"')
    data[i + 30] ^= 0x01                            # one bit of the bundle, near a file entry
    bundle.write_bytes(bytes(data))
    r = invoke("audit", "verify-report", bundle, "--public-key", public)
    assert r.exit_code == 8, r.output
