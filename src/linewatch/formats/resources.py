"""Reference data packaged with linewatch: country boundaries and the settlement gazetteer.

The files live in ``linewatch/data/`` (see ``PROVENANCE.md`` there for their sources and
licences) and are read with :mod:`importlib.resources`, so they work from a wheel, a zip or
an editable install. Each is read once per process.
"""

from __future__ import annotations

import csv
import io
import json
from functools import lru_cache
from importlib import resources

import shapely
from shapely.geometry.base import BaseGeometry

from linewatch.errors import InputError
from linewatch.geo import Gazetteer

_PACKAGE = "linewatch.data"
BOUNDARIES_FILE = "boundaries.geojson"
SETTLEMENTS_FILE = "settlements.csv"
SETTLEMENT_COLUMNS = ("geonameid", "name", "asciiname", "lon", "lat", "country", "admin1",
                      "population")


def _read_text(name: str) -> str:
    try:
        return resources.files(_PACKAGE).joinpath(name).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError) as exc:
        raise InputError(f"packaged data file linewatch/data/{name} is missing: {exc}") from exc


class Boundaries(list):
    """A list of ``(name, iso_a3, geometry)`` that also knows where its data end.

    ``coverage`` is the lon/lat area the data cover (``None`` if unknown): outside it there
    may be land the list does not hold, so a map must not show it as sea.
    """

    coverage: BaseGeometry | None = None


@lru_cache(maxsize=1)
def load_boundaries() -> Boundaries:
    """Country polygons ``(name, iso_a3, geometry)`` in lon/lat, sorted by ISO code.

    Natural Earth 1:10m borders (German point of view) clipped to Eastern Europe
    (lon 20–50, lat 40–58) and Korea (lon 123–133, lat 32–44); ``.coverage`` is the union
    of those boxes. They are background context only, not the line of contact. The list is
    shared between callers: do not modify it.
    """
    data = json.loads(_read_text(BOUNDARIES_FILE))
    out = Boundaries()
    boxes = [shapely.box(*region["bbox"]) for region in data.get("linewatch:coverage", [])]
    out.coverage = shapely.union_all(boxes) if boxes else None
    for i, feature in enumerate(data.get("features", [])):
        props = feature.get("properties") or {}
        try:
            geom = shapely.geometry.shape(feature["geometry"])
        except (KeyError, TypeError, ValueError, shapely.errors.ShapelyError) as exc:
            raise InputError(f"linewatch/data/{BOUNDARIES_FILE}: feature {i}: bad geometry: {exc}"
                             ) from exc
        shapely.prepare(geom)
        out.append((str(props.get("name", "")), str(props.get("iso_a3", "")), geom))
    return out


@lru_cache(maxsize=1)
def load_gazetteer() -> Gazetteer:
    """The packaged GeoNames settlements (places of >= 500 inhabitants) as a :class:`Gazetteer`.

    Covers Ukraine, Belarus, Moldova and the nearby parts of Russia, Poland and Romania, and
    both Koreas. Data: GeoNames (https://www.geonames.org/), CC BY 4.0.
    """
    reader = csv.DictReader(io.StringIO(_read_text(SETTLEMENTS_FILE)))
    missing = set(SETTLEMENT_COLUMNS) - set(reader.fieldnames or ())
    if missing:
        raise InputError(f"linewatch/data/{SETTLEMENTS_FILE}: missing column(s) {sorted(missing)}")
    cols: dict[str, list] = {c: [] for c in SETTLEMENT_COLUMNS}
    for row in reader:
        for c in SETTLEMENT_COLUMNS:
            cols[c].append(row[c])
    return Gazetteer(cols["name"], [float(v) for v in cols["lon"]],
                     [float(v) for v in cols["lat"]], [int(v or 0) for v in cols["population"]],
                     cols["country"], cols["admin1"], asciinames=cols["asciiname"])
