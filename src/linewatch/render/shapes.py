"""Shapely geometries (in a working frame's metres) as matplotlib paths."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from matplotlib.path import Path as MplPath

__all__ = ["line_path", "polygon_path", "polygons"]


def polygons(geom: Any) -> list[Any]:
    """The polygons of any geometry (collections flattened; lines and points dropped)."""
    if geom is None or geom.is_empty:
        return []
    if geom.geom_type == "Polygon":
        return [geom]
    out = []
    for part in shapely.get_parts(geom):
        if part.geom_type == "Polygon":
            out.append(part)
        elif part.geom_type in ("MultiPolygon", "GeometryCollection"):
            out.extend(polygons(part))
    return out


def polygon_path(geom_xy: Any) -> MplPath | None:
    """A compound matplotlib path (holes included) of the polygons of a projected geometry."""
    verts, codes = [], []
    for poly in polygons(geom_xy):
        for ring in (poly.exterior, *poly.interiors):
            c = np.asarray(ring.coords)[:, :2]
            if len(c) < 4:
                continue
            verts.append(c)
            codes.append(np.r_[MplPath.MOVETO, np.full(len(c) - 2, MplPath.LINETO),
                               MplPath.CLOSEPOLY])
    if not verts:
        return None
    return MplPath(np.concatenate(verts), np.concatenate(codes).astype(np.uint8))


def line_path(geom_xy: Any) -> MplPath | None:
    """A matplotlib path of the line work of a projected geometry."""
    verts, codes = [], []
    for line in shapely.get_parts(shapely.line_merge(geom_xy)
                                  if geom_xy.geom_type == "MultiLineString" else geom_xy):
        if line.geom_type != "LineString" or line.is_empty:
            continue
        c = np.asarray(line.coords)[:, :2]
        verts.append(c)
        codes.append(np.r_[MplPath.MOVETO, np.full(len(c) - 1, MplPath.LINETO)])
    if not verts:
        return None
    return MplPath(np.concatenate(verts), np.concatenate(codes).astype(np.uint8))
