"""Geodesic distances and the working frame that everything spatial is computed in.

Everything spatial is computed in a *working frame*: a transverse Mercator projection on the
WGS84 ellipsoid whose central meridian runs through the middle of the agreement's line.
Projected distances are turned back into geodesic metres with the projection's point scale
factor (Simpson's rule along the path), and east/north vectors are rotated by the meridian
convergence, so results agree with ``pyproj.Geod`` to well under 0.1 % for distances of up to
a few hundred kilometres within ±4° of the central meridian (``tests/test_geo.py`` checks it
across UTM zones 36 and 37).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS, Geod, Transformer

__all__ = ["GEOD", "WorkingFrame", "densify_geodesic", "geodesic_distance_m", "geodesic_length_m",
           "offsets_en"]

GEOD = Geod(ellps="WGS84")
_A = 6378137.0
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)


def geodesic_distance_m(lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike,
                        lat2: npt.ArrayLike) -> np.ndarray:
    """Geodesic distance in metres between point arrays (broadcast).

    >>> round(float(geodesic_distance_m(36.0, 48.0, 36.0, 49.0)))  # one degree of latitude
    111200
    >>> geodesic_distance_m([36.0, 36.0], 48.0, [37.0, 36.0], 48.0).round().tolist()
    [74625.0, 0.0]
    """
    lon1, lat1, lon2, lat2 = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (lon1, lat1, lon2, lat2)))
    _, _, dist = GEOD.inv(lon1.ravel(), lat1.ravel(), lon2.ravel(), lat2.ravel())
    return np.asarray(dist).reshape(lon1.shape)


def geodesic_length_m(lon: npt.ArrayLike, lat: npt.ArrayLike) -> float:
    """Geodesic length of a polyline in metres."""
    return float(GEOD.line_length(lon, lat))


def densify_geodesic(coords: np.ndarray, max_segment_m: float) -> np.ndarray:
    """Insert points along each geodesic so that no segment is longer than ``max_segment_m``."""
    out = [coords[:1]]
    for (lon1, lat1), (lon2, lat2) in zip(coords[:-1], coords[1:]):
        _, _, dist = GEOD.inv(lon1, lat1, lon2, lat2)
        n_inner = int(math.ceil(dist / max_segment_m)) - 1
        if n_inner > 0:
            inner = np.asarray(GEOD.npts(lon1, lat1, lon2, lat2, n_inner))
            out.append(inner)
        out.append(np.array([[lon2, lat2]]))
    return np.vstack(out)


def offsets_en(lon0: npt.ArrayLike, lat0: npt.ArrayLike, lon: npt.ArrayLike, lat: npt.ArrayLike
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """East/north offsets (m) and geodesic distance from ``(lon0, lat0)`` to each point."""
    lon0, lat0, lon, lat = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (lon0, lat0, lon, lat)))
    az, _, dist = GEOD.inv(lon0.ravel(), lat0.ravel(), lon.ravel(), lat.ravel())
    az = np.radians(np.asarray(az))
    dist = np.asarray(dist)
    return dist * np.sin(az), dist * np.cos(az), dist


class WorkingFrame:
    """Transverse Mercator on WGS84 centred on ``lon_0``; the frame for one agreement.

    >>> frame = WorkingFrame(36.0)
    >>> x, y = frame.to_xy(36.0, 48.0)
    >>> float(x), round(float(y))  # on the central meridian: no easting
    (0.0, 5318428)
    """

    def __init__(self, lon_0: float) -> None:
        self.lon_0 = float(lon_0)
        self.crs = CRS.from_proj4(
            f"+proj=tmerc +lat_0=0 +lon_0={self.lon_0:.6f} +k=1 +x_0=0 +y_0=0 "
            "+ellps=WGS84 +units=m +no_defs")
        self._fwd = Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)
        self._inv = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)

    @classmethod
    def for_lonlat(cls, lon: npt.ArrayLike) -> WorkingFrame:
        """The frame centred on the middle of the longitudes' range (to 0.001°)."""
        lon = np.asarray(lon, dtype=float)
        return cls(round(float((lon.min() + lon.max()) / 2.0), 3))

    def to_xy(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        x, y = self._fwd.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return np.asarray(x), np.asarray(y)

    def to_lonlat(self, x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = self._inv.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        return np.asarray(lon), np.asarray(lat)

    def project_geometry(self, geom: shapely.Geometry) -> shapely.Geometry:
        """A lon/lat shapely geometry in the frame's metres."""
        return shapely.transform(geom, lambda c: np.column_stack(self.to_xy(c[:, 0], c[:, 1])))

    def unproject_geometry(self, geom: shapely.Geometry) -> shapely.Geometry:
        """A shapely geometry in the frame's metres back in lon/lat."""
        return shapely.transform(geom, lambda c: np.column_stack(self.to_lonlat(c[:, 0], c[:, 1])))

    @staticmethod
    def scale_factor(x: np.ndarray, lat: npt.ArrayLike) -> np.ndarray:
        """Point scale factor of the projection at easting ``x`` (m) near latitude ``lat``."""
        s = np.sin(np.radians(lat))
        w = 1.0 - _E2 * s * s
        r2 = _A * _A * (1.0 - _E2) / (w * w)  # rho * nu
        q = x * x / r2
        k: np.ndarray = 1.0 + q / 2.0 + q * q / 24.0
        return k

    def geodesic_from_projected(self, d_proj: np.ndarray, x1: np.ndarray, x2: np.ndarray,
                                lat: np.ndarray) -> np.ndarray:
        """Geodesic length of a short straight path of projected length ``d_proj``."""
        inv = (1.0 / self.scale_factor(x1, lat) + 4.0 / self.scale_factor((x1 + x2) / 2.0, lat)
               + 1.0 / self.scale_factor(x2, lat)) / 6.0
        out: np.ndarray = d_proj * inv
        return out

    def convergence_rad(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> np.ndarray:
        """Angle from true north to grid north, counter-clockwise positive east of ``lon_0``."""
        dl = np.radians(np.asarray(lon, dtype=float) - self.lon_0)
        g: np.ndarray = np.arctan(np.tan(dl) * np.sin(np.radians(lat)))
        return g

    def covariance_to_grid(self, cov_en: np.ndarray, lon: npt.ArrayLike, lat: npt.ArrayLike,
                           x: np.ndarray) -> np.ndarray:
        """Rotate and scale (n, 2, 2) east/north covariances (m²) into grid metres²."""
        g = self.convergence_rad(lon, lat)
        k2 = self.scale_factor(x, lat) ** 2
        c, s = np.cos(g), np.sin(g)
        a, b, d = cov_en[:, 0, 0], cov_en[:, 0, 1], cov_en[:, 1, 1]
        # R C R^T for the rotation R = [[c, -s], [s, c]], written out
        out = np.empty_like(cov_en)
        out[:, 0, 0] = (c * c * a - 2 * c * s * b + s * s * d) * k2
        out[:, 1, 1] = (s * s * a + 2 * c * s * b + c * c * d) * k2
        out[:, 0, 1] = out[:, 1, 0] = (c * s * (a - d) + (c * c - s * s) * b) * k2
        return out
