"""Geodesy and places: the working frame, the line index, probabilities of regions, settlements and terrain.

Core: imports ``model`` and ``errors`` only. Distances are geodesic metres (pyproj),
coordinates (lon, lat) WGS84 at the edges and a transverse Mercator working frame inside.
"""

from __future__ import annotations

from linewatch.geo.geodesy import (
    GEOD,
    STD_NORMAL_SAMPLES,
    LineIndex,
    Nearest,
    WorkingFrame,
    covariances_en,
    densify_geodesic,
    geodesic_distance_m,
    geodesic_length_m,
    location_from_observer,
    normal_sd_m,
    offsets_en,
    prob_in_band,
    prob_in_polygon,
    prob_within_radius,
    sqrtm2,
)
from linewatch.geo.places import COMPASS_8, IN_SETTLEMENT_M, Gazetteer, compass_8, fold_name
from linewatch.geo.terrain import EARTH_RADIUS_M, REFRACTION_K, Terrain

__all__ = [
    "COMPASS_8",
    "EARTH_RADIUS_M",
    "GEOD",
    "Gazetteer",
    "IN_SETTLEMENT_M",
    "LineIndex",
    "Nearest",
    "REFRACTION_K",
    "STD_NORMAL_SAMPLES",
    "Terrain",
    "WorkingFrame",
    "compass_8",
    "covariances_en",
    "densify_geodesic",
    "fold_name",
    "geodesic_distance_m",
    "geodesic_length_m",
    "location_from_observer",
    "normal_sd_m",
    "offsets_en",
    "prob_in_band",
    "prob_in_polygon",
    "prob_within_radius",
    "sqrtm2",
]
