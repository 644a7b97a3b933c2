"""Where things are: geodesy, the working frame, lines, error regions, settlements and terrain.

The room for every spatial computation that does not depend on an agreement's rules:

* ``frame``: geodesic distances (pyproj) and the transverse Mercator working frame;
* ``line_index``: nearest-segment queries against a line (side, signed distance, chainage);
* ``probability``: normal position errors and the probability of a band, polygon or circle;
* ``places``: the gazetteer ("4 km south-west of Horlivka");
* ``terrain``: elevations and line of sight over a digital elevation model.

Core: imports ``model`` and ``errors`` only, and does no I/O. Coordinates are (lon, lat) WGS84
at the edges and the working frame's metres inside; distances are geodesic metres.
"""

from __future__ import annotations

from linewatch.geo.frame import (
    GEOD,
    WorkingFrame,
    densify_geodesic,
    geodesic_distance_m,
    geodesic_length_m,
    offsets_en,
)
from linewatch.geo.line_index import LineIndex, Nearest
from linewatch.geo.places import COMPASS_8, IN_SETTLEMENT_M, Gazetteer, compass_8, fold_name
from linewatch.geo.probability import (
    STD_NORMAL_SAMPLES,
    covariances_en,
    location_from_observer,
    normal_sd_m,
    prob_in_band,
    prob_in_polygon,
    prob_within_radius,
    sqrtm2,
)
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
