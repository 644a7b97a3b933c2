"""Digital elevation models: read a GeoTIFF (or any raster GDAL reads) into a Terrain.

``read_dem`` takes the first band of a georeferenced raster as elevations in metres, with its
geotransform, CRS (geographic such as EPSG:4326, or projected such as UTM 36N/37N) and nodata
value; ``docs/terrain.md`` says how to prepare one. ``write_synthetic_dem`` writes a GeoTIFF
of flat ground with ridges and hills over a lon/lat box, for tests and the docs.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable

import numpy as np
import rasterio
from pyproj import CRS, Transformer
from rasterio.errors import NotGeoreferencedWarning, RasterioError, RasterioIOError

from linewatch.errors import InputError
from linewatch.geo import Terrain

__all__ = ["read_dem", "synthetic_elevation", "write_synthetic_dem"]

_R = 6_371_000.0
_M_PER_DEG = math.pi * _R / 180.0


def read_dem(path: str | os.PathLike[str]) -> Terrain:
    """The terrain in a raster file: band 1 as elevations in metres above the datum.

    A raster with more than one band is read from band 1 only (the others are ignored).
    Raises :class:`~linewatch.errors.InputError` naming the file when it does not exist, is
    not a raster GDAL can read, has no CRS or no geotransform, or its band is not numeric.
    """
    name = os.fspath(path)
    if not name.startswith("/vsi") and not os.path.exists(name):
        raise InputError(f"{name}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(name) as src:
                if src.crs is None:
                    raise InputError(f"{name}: the raster has no CRS; a DEM must be "
                                     "georeferenced (e.g. EPSG:4326 or a UTM zone)")
                if src.transform.is_identity:
                    raise InputError(f"{name}: the raster has no geotransform (pixel "
                                     "coordinates only); a DEM must be georeferenced")
                if not np.issubdtype(np.dtype(src.dtypes[0]), np.number) or \
                        np.issubdtype(np.dtype(src.dtypes[0]), np.complexfloating):
                    raise InputError(f"{name}: band 1 has type {src.dtypes[0]}, not elevations")
                elevation = src.read(1)
                epsg = src.crs.to_epsg()
                crs: int | str = epsg if epsg is not None else src.crs.to_wkt()
                transform = tuple(src.transform)[:6]
                nodata = src.nodata
    except RasterioIOError as exc:
        raise InputError(f"{name}: not a raster file GDAL can read ({exc})") from exc
    except RasterioError as exc:
        raise InputError(f"{name}: cannot read the raster ({exc})") from exc
    try:
        return Terrain(elevation, transform, crs, nodata)
    except ValueError as exc:
        raise InputError(f"{name}: {exc}") from exc


def synthetic_elevation(lon, lat, *, base_m: float = 100.0,
                        ridges: Iterable[tuple[float, float, float, float, float, float]] = (),
                        hills: Iterable[tuple[float, float, float, float]] = ()) -> np.ndarray:
    """Elevations (m) of flat ground at ``base_m`` with ridges and hills added, at (lon, lat).

    A ridge ``(lon1, lat1, lon2, lat2, height_m, half_width_m)`` rises along the segment
    between its ends to ``height_m`` above the base, falling as cos² of the distance from the
    segment to nothing at ``half_width_m``. A hill ``(lon, lat, height_m, radius_m)`` has the
    same profile around a point. Distances are on a sphere, locally flat (fine for synthetic
    terrain); the surface depends on (lon, lat) only, so it is the same terrain in any CRS.
    """
    lon, lat = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    z = np.full(lon.shape, float(base_m))
    for lon1, lat1, lon2, lat2, height, half_width in ridges:
        kx = _M_PER_DEG * math.cos(math.radians((lat1 + lat2) / 2))
        px, py = (lon - lon1) * kx, (lat - lat1) * _M_PER_DEG
        sx, sy = (lon2 - lon1) * kx, (lat2 - lat1) * _M_PER_DEG
        f = np.clip((px * sx + py * sy) / max(sx * sx + sy * sy, 1e-12), 0.0, 1.0)
        z += _bell(np.hypot(px - f * sx, py - f * sy), height, half_width)
    for lon0, lat0, height, radius in hills:
        kx = _M_PER_DEG * math.cos(math.radians(lat0))
        z += _bell(np.hypot((lon - lon0) * kx, (lat - lat0) * _M_PER_DEG), height, radius)
    return z


def _bell(dist: np.ndarray, height: float, half_width: float) -> np.ndarray:
    inside = dist < half_width
    return np.where(inside, height * np.cos(np.pi / 2 * np.minimum(dist / half_width, 1.0)) ** 2,
                    0.0)


def write_synthetic_dem(path: str | os.PathLike[str],
                        bounds: tuple[float, float, float, float], *, crs: int | str = 4326,
                        cell_m: float = 30.0, base_m: float = 100.0,
                        ridges: Iterable[tuple[float, float, float, float, float, float]] = (),
                        hills: Iterable[tuple[float, float, float, float]] = ()) -> Terrain:
    """Write a float32 GeoTIFF of :func:`synthetic_elevation` covering a lon/lat box.

    ``bounds`` is ``(lon_min, lat_min, lon_max, lat_max)``. In a geographic ``crs`` the cells
    are about ``cell_m`` on a side at the box's middle latitude; in a projected one (e.g.
    32637, UTM 37N) they are ``cell_m`` grid metres and the grid covers the box's envelope.
    Returns the terrain as written.
    """
    lon_min, lat_min, lon_max, lat_max = map(float, bounds)
    if not (lon_min < lon_max and lat_min < lat_max):
        raise ValueError(f"bounds {bounds!r} must be (lon_min, lat_min, lon_max, lat_max)")
    target = CRS.from_user_input(crs)
    if target.is_geographic:
        dy = cell_m / _M_PER_DEG
        dx = dy / math.cos(math.radians((lat_min + lat_max) / 2))
        x0, y0 = lon_min, lat_max
        cols, rows = math.ceil((lon_max - lon_min) / dx), math.ceil((lat_max - lat_min) / dy)
        to_lonlat = None
    else:
        edge = np.linspace(0.0, 1.0, 101)
        lon = np.concatenate([lon_min + edge * (lon_max - lon_min), np.full(101, lon_max),
                              lon_max - edge * (lon_max - lon_min), np.full(101, lon_min)])
        lat = np.concatenate([np.full(101, lat_min), lat_min + edge * (lat_max - lat_min),
                              np.full(101, lat_max), lat_max - edge * (lat_max - lat_min)])
        x, y = Transformer.from_crs(4326, target, always_xy=True).transform(lon, lat)
        dx = dy = float(cell_m)
        x0, y0 = math.floor(np.min(x) / dx) * dx, math.ceil(np.max(y) / dy) * dy
        cols = math.ceil((np.max(x) - x0) / dx)
        rows = math.ceil((y0 - np.min(y)) / dy)
        to_lonlat = Transformer.from_crs(target, 4326, always_xy=True)
    col, row = np.meshgrid(np.arange(cols) + 0.5, np.arange(rows) + 0.5)
    x, y = x0 + col * dx, y0 - row * dy
    if to_lonlat is not None:
        x, y = to_lonlat.transform(x, y)
    z = synthetic_elevation(x, y, base_m=base_m, ridges=ridges, hills=hills).astype(np.float32)
    transform = (dx, 0.0, x0, 0.0, -dy, y0)
    epsg = target.to_epsg()
    terrain = Terrain(z, transform, epsg if epsg is not None else target.to_wkt())
    with rasterio.open(os.fspath(path), "w", driver="GTiff", width=cols, height=rows, count=1,
                       dtype="float32", crs=f"EPSG:{epsg}" if epsg else target.to_wkt(),
                       transform=rasterio.Affine(*transform), compress="deflate") as dst:
        dst.write(z, 1)
    return terrain
