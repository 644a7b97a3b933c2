"""A gazetteer of settlements: where a point is, in words, and where a named place is.

Monitors locate events relative to settlements: the OSCE SMM wrote "4 km south-west of
Horlivka" or "in Zolote". :meth:`Gazetteer.describe` produces that phrasing for located
points, and :meth:`Gazetteer.resolve` turns a settlement's name back into coordinates.

The gazetteer is built from columns; :func:`linewatch.formats.resources.load_gazetteer` builds the one
packaged with linewatch (GeoNames, see ``linewatch/data/PROVENANCE.md``). This module is
pure: it reads no files.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from linewatch.errors import NotFound
from linewatch.geo.frame import GEOD

__all__ = ["COMPASS_8", "IN_SETTLEMENT_M", "Gazetteer", "compass_8", "fold_name"]

#: A point closer than this to a settlement's centre point is described as "in" it. GeoNames
#: gives one centre point per place, not its built-up area; 1 km is about the radius of the
#: villages along the line of contact, and the SMM itself wrote "in" for events inside them.
IN_SETTLEMENT_M = 1000.0

#: 8-point compass words, clockwise from north, for azimuth sectors of 45° centred on each.
COMPASS_8 = ("north", "north-east", "east", "south-east", "south", "south-west", "west",
             "north-west")

#: Candidates taken from the unit-sphere k-d tree before the exact geodesic comparison. The
#: sphere's chord ranks distances within about 0.5 % of the ellipsoid's, so the true nearest
#: settlement is always among the first few.
_CANDIDATES = 8

# letters that Unicode decomposition leaves non-ASCII, and apostrophe look-alikes
_FOLD = str.maketrans({
    "ł": "l", "ß": "ss", "ø": "o", "đ": "d", "ı": "i", "æ": "ae", "œ": "oe", "þ": "th",
    "ʼ": "'", "’": "'", "‘": "'", "`": "'", "ʹ": "'", "´": "'", "–": "-", "—": "-", "‐": "-",
})


def fold_name(name: str) -> str:
    """A settlement name reduced for matching: case- and diacritic-insensitive.

    ``fold_name("Łódź") == fold_name("LODZ") == "lodz"``; hyphens count as spaces, runs of
    spaces as one, and the apostrophe look-alikes GeoNames uses (``’ ʼ ‘``) become ``'``.

    >>> fold_name("Stanytsya-Luhanska"), fold_name("Łódź")
    ('stanytsya luhanska', 'lodz')
    """
    text = unicodedata.normalize("NFKD", name.casefold().translate(_FOLD))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.replace("-", " ").split())


def compass_8(azimuth_deg: npt.ArrayLike) -> np.ndarray:
    """The 8-point compass word for each azimuth (degrees clockwise from north).

    Each word covers 45°, centred on its direction:

    >>> compass_8([0, 22.4, 22.5, 90, 225, 350]).tolist()
    ['north', 'north', 'north-east', 'east', 'south-west', 'north']
    """
    az = np.mod(np.asarray(azimuth_deg, dtype=float), 360.0)
    sector = np.floor((az + 22.5) / 45.0).astype(np.int64) % 8
    words: np.ndarray = np.asarray(COMPASS_8, dtype=object)[sector]
    return words


def _unit_xyz(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lam, phi = np.radians(lon), np.radians(lat)
    c = np.cos(phi)
    return np.column_stack([c * np.cos(lam), c * np.sin(lam), np.sin(phi)])


class Gazetteer:
    """Settlements as columns, answering "nearest", "describe" and "resolve" questions.

    ``names``, ``lon`` and ``lat`` are required; ``population`` defaults to 0, ``country``
    (ISO 3166 alpha-2) and ``admin1`` to ``""``, and ``asciinames`` to the names. Row order
    is kept: :meth:`nearest` returns indexes into these columns.
    """

    def __init__(self, names: Sequence[str], lon: npt.ArrayLike, lat: npt.ArrayLike,
                 population: npt.ArrayLike | None = None,
                 country: Sequence[str] | None = None, admin1: Sequence[str] | None = None,
                 *, asciinames: Sequence[str] | None = None) -> None:
        self.names = np.asarray(list(names), dtype=object)
        n = len(self.names)
        self.lon = np.asarray(lon, dtype=float).reshape(-1)
        self.lat = np.asarray(lat, dtype=float).reshape(-1)
        self.population = (np.zeros(n, dtype=np.int64) if population is None
                           else np.asarray(population, dtype=np.int64).reshape(-1))
        self.country = np.asarray(list(country) if country is not None else [""] * n, dtype=object)
        self.admin1 = np.asarray(list(admin1) if admin1 is not None else [""] * n, dtype=object)
        self.asciinames = (self.names if asciinames is None
                           else np.asarray(list(asciinames), dtype=object))
        for col, values in (("lon", self.lon), ("lat", self.lat), ("population", self.population),
                            ("country", self.country), ("admin1", self.admin1),
                            ("asciinames", self.asciinames)):
            if len(values) != n:
                raise ValueError(f"gazetteer column {col!r} has {len(values)} rows, names has {n}")
        if n and (np.any(np.abs(self.lon) > 180) or np.any(np.abs(self.lat) > 90)
                  or not np.all(np.isfinite(self.lon + self.lat))):
            raise ValueError("gazetteer coordinates must be finite lon/lat degrees")
        self._trees: dict[int, tuple[np.ndarray, cKDTree]] = {}
        self._by_name: dict[str, list[int]] | None = None

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return f"Gazetteer({len(self)} settlements)"

    # -- nearest -----------------------------------------------------------------------
    def _tree(self, min_population: int) -> tuple[np.ndarray, cKDTree]:
        key = int(min_population)
        if key not in self._trees:
            rows = np.flatnonzero(self.population >= key)
            if len(rows) == 0:
                raise NotFound("settlement with population >=", key)
            self._trees[key] = (rows, cKDTree(_unit_xyz(self.lon[rows], self.lat[rows])))
        return self._trees[key]

    def nearest(self, lon: npt.ArrayLike, lat: npt.ArrayLike, *, min_population: int = 0
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The nearest settlement of at least ``min_population`` inhabitants to each point.

        Returns ``(index, distance_m, azimuth_deg)``: the settlement's row, the geodesic
        distance (WGS84) and the azimuth *from the settlement to the point*, degrees clockwise
        from north in ``[0, 360)``. Each point's answer depends on that point alone. Raises
        :class:`NotFound` if no settlement is that populous.
        """
        lon = np.atleast_1d(np.asarray(lon, dtype=float))
        lat = np.atleast_1d(np.asarray(lat, dtype=float))
        if lon.shape != lat.shape or lon.ndim != 1:
            raise ValueError(f"lon and lat must be 1-D arrays of one length, got shapes "
                             f"{lon.shape} and {lat.shape}")
        rows, tree = self._tree(min_population)
        n = len(lon)
        if n == 0:
            return np.empty(0, dtype=np.int64), np.empty(0), np.empty(0)
        k = min(_CANDIDATES, len(rows))
        _, cand = tree.query(_unit_xyz(lon, lat), k=k)
        cand = np.asarray(cand).reshape(n, k)
        settle = rows[cand]  # (n, k) gazetteer rows
        pl = np.repeat(lon, k)
        pt = np.repeat(lat, k)
        az, _, dist = GEOD.inv(self.lon[settle].ravel(), self.lat[settle].ravel(), pl, pt)
        dist = np.asarray(dist).reshape(n, k)
        az = np.asarray(az).reshape(n, k)
        # the geodesically nearest candidate; ties go to the lowest row, whatever the tree said
        order = np.lexsort((settle, dist), axis=-1)[:, 0]
        pick = np.arange(n)
        best = settle[pick, order]
        best_dist = dist[pick, order]
        best_az = np.where(best_dist > 0, np.mod(az[pick, order], 360.0), 0.0)
        return best.astype(np.int64), best_dist, best_az

    def describe(self, lon: npt.ArrayLike, lat: npt.ArrayLike, *, min_population: int = 0) -> list[str]:
        """Each point in the OSCE SMM's words, relative to its nearest settlement.

        "in Horlivka" within :data:`IN_SETTLEMENT_M` (1 km) of the settlement's centre point,
        else "4 km south-west of Horlivka": the distance rounded to whole kilometres (half
        up; at least 1 km) and the 8-point compass direction from the settlement to the point.

        >>> g = Gazetteer(["Horlivka", "Zolote"], [38.05, 38.52], [48.33, 48.70])
        >>> g.describe([38.05, 38.0], [48.33, 48.30])
        ['in Horlivka', '5 km south-west of Horlivka']
        """
        idx, dist, az = self.nearest(lon, lat, min_population=min_population)
        words = compass_8(az)
        out = []
        for i, d, w in zip(idx, dist, words):
            name = self.names[i]
            if d < IN_SETTLEMENT_M:
                out.append(f"in {name}")
            else:
                km = max(1, math.floor(d / 1000.0 + 0.5))
                out.append(f"{km} km {w} of {name}")
        return out

    # -- resolve -----------------------------------------------------------------------
    def _name_index(self) -> dict[str, list[int]]:
        if self._by_name is None:
            index: dict[str, list[int]] = {}
            for i, (name, ascii_) in enumerate(zip(self.names, self.asciinames)):
                for key in {fold_name(name), fold_name(ascii_)}:
                    index.setdefault(key, []).append(i)
            self._by_name = index
        return self._by_name

    def lookup(self, name: str, *, country: str | None = None) -> int:
        """The row of the settlement called ``name`` (see :meth:`resolve`)."""
        rows = self._name_index().get(fold_name(name), [])
        if country is not None:
            cc = country.upper()
            rows = [i for i in rows if str(self.country[i]).upper() == cc]
        if not rows:
            raise NotFound("settlement", name)
        # the most populous; among equals, the first row
        return max(rows, key=lambda i: (int(self.population[i]), -i))

    def resolve(self, name: str, *, country: str | None = None) -> tuple[float, float]:
        """``(lon, lat)`` of the settlement called ``name``.

        The match is exact on the name or its ASCII form, ignoring case, diacritics and
        hyphens (:func:`fold_name`: "Chișinău" = "chisinau", "Stanytsya-Luhanska" =
        "stanytsya luhanska"). If several settlements match, the most populous wins, among those
        in ``country`` (ISO alpha-2) if given. Raises :class:`NotFound` if none matches.
        """
        i = self.lookup(name, country=country)
        return float(self.lon[i]), float(self.lat[i])
