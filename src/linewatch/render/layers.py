"""An agreement's layers on a map: zones and sites, the lines, the parties' names, points on top.

Each function draws on map axes in the agreement's working frame (see
:mod:`linewatch.render.basemap`) and appends its legend handles to ``handles``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch

from linewatch.agreement import Agreement, BufferZoneC, CompiledZone, SiteC
from linewatch.render.labels import SITE_LABEL_SPOTS, LabelBoxes
from linewatch.render.shapes import polygon_path
from linewatch.render.style import (
    HALO,
    LINE,
    PARTY_COLORS,
    POLYGON_ZONE_COLORS,
    SITE_COLORS,
    TEXT,
    Z_BUFFER,
    Z_LABEL,
    Z_LINE,
    Z_POINTS,
    Z_POLY,
    Z_REF,
    Z_SITE,
)

__all__ = ["PointLayer", "draw_lines", "draw_points", "draw_zones", "party_color", "party_name",
           "side_labels"]


@dataclass(frozen=True)
class PointLayer:
    """Located points to draw on a map, with their legend label."""

    label: str
    lon: np.ndarray
    lat: np.ndarray
    color: str
    marker: str = "o"
    size: float = 12


def party_color(agreement: Agreement, party: str | None) -> str:
    """The party's colour (grey for none or an unknown party)."""
    if party in agreement.party_ids:
        return PARTY_COLORS[agreement.party_ids.index(party)]
    return "#666666"


def party_name(agreement: Agreement, party: str | None) -> str:
    """The party's name (its id if the agreement does not name it)."""
    return next((p.name for p in agreement.parties if p.id == party), party or "")


# -- zones -----------------------------------------------------------------------------------

def draw_zones(ax: Any, agreement: Agreement, handles: list[Any], labels: LabelBoxes) -> None:
    """Buffer zones (each party's part in its colour), polygon zones (hatched) and protected
    sites (a marker each, named where the name fits)."""
    zones = list(agreement.zones.values())
    _draw_buffers(ax, agreement, [z for z in zones if isinstance(z, BufferZoneC)], handles)
    _draw_polygon_zones(ax, agreement, [z for z in zones if z.kind == "polygon"], handles)
    _draw_sites(ax, agreement, [z for z in zones if isinstance(z, SiteC)], handles, labels)


def _draw_buffers(ax: Any, agreement: Agreement, zones: list[BufferZoneC], handles: list[Any]) -> None:
    frame = agreement.frame
    buffers = sorted(zones, key=lambda z: -z.area_km2())
    n_buf = max(len(buffers), 1)
    for rank, z in enumerate(buffers):
        for party, geom in z.polygons_lonlat().items():
            path = polygon_path(frame.project_geometry(geom))
            if path is None:
                continue
            color = party_color(agreement, party)
            alpha = 0.12 + 0.10 * rank / max(n_buf - 1, 1)
            ax.add_patch(PathPatch(path, facecolor=color, alpha=alpha, edgecolor="none",
                                   zorder=Z_BUFFER))
            ax.add_patch(PathPatch(path, facecolor="none", edgecolor=color, linewidth=0.6,
                                   alpha=0.8, zorder=Z_BUFFER))
            width = z.width_m.get(party or "", 0.0) / 1000.0
            label = f"{z.name}: {party_name(agreement, party)} side"
            label += f", {width:g} km" if width else ""
            handles.append(Patch(facecolor=color, alpha=alpha + 0.1, edgecolor=color,
                                 linewidth=0.6, label=label))


def _draw_polygon_zones(ax: Any, agreement: Agreement, zones: list[CompiledZone],
                        handles: list[Any]) -> None:
    frame = agreement.frame
    for i, z in enumerate(zones):
        color = (POLYGON_ZONE_COLORS[i % len(POLYGON_ZONE_COLORS)] if z.party is None
                 else party_color(agreement, z.party))
        for geom in z.polygons_lonlat().values():
            path = polygon_path(frame.project_geometry(geom))
            if path is None:
                continue
            ax.add_patch(PathPatch(path, facecolor=color, alpha=0.08, edgecolor="none",
                                   zorder=Z_POLY))
            ax.add_patch(PathPatch(path, facecolor="none", edgecolor=color, hatch="////",
                                   linewidth=1.2, zorder=Z_POLY))
        handles.append(Patch(facecolor="none", edgecolor=color, hatch="////", linewidth=1.2,
                             label=f"{z.name} ({z.category.replace('_', ' ')})"))


def _draw_sites(ax: Any, agreement: Agreement, sites: list[SiteC], handles: list[Any],
                labels: LabelBoxes) -> None:
    frame = agreement.frame
    categories = sorted({z.category for z in sites})
    site_color = {c: SITE_COLORS[i % len(SITE_COLORS)] for i, c in enumerate(categories)}
    centres: list[tuple[float, float, str]] = []
    for z in sites:
        color = site_color[z.category]
        for geom in z.polygons_lonlat().values():
            path = polygon_path(frame.project_geometry(geom))
            if path is not None:
                ax.add_patch(PathPatch(path, facecolor=color, alpha=0.22, edgecolor=color,
                                       linewidth=0.9, zorder=Z_SITE))
        if z.point is None:
            centre = z.geometry.centroid
            clon, clat = centre.x, centre.y
        else:
            clon, clat = z.point
        px, py = frame.to_xy(clon, clat)
        cx, cy = float(px), float(py)
        ax.plot([cx], [cy], marker="P", markersize=7, color=color,
                markeredgecolor="white", markeredgewidth=0.7, linestyle="none", zorder=Z_SITE)
        labels.take(labels.symbol(cx, cy, 8))
        centres.append((cx, cy, z.name))
    # names where they fit without covering another label (the legend gives the category)
    for cx, cy, name in centres if len(centres) <= 30 else ():
        for dx, dy, ha, va in SITE_LABEL_SPOTS:
            box = labels.box(cx, cy, name, 7, dx, dy, ha=ha, va=va)
            if labels.fits(box):
                labels.take(box)
                ax.annotate(name, (cx, cy), xytext=(dx, dy), textcoords="offset points",
                            fontsize=7, color=TEXT, ha=ha, va=va, zorder=Z_LABEL,
                            path_effects=HALO, annotation_clip=True)
                break
    for c in categories:
        handles.append(Line2D([], [], marker="P", markersize=7, color=site_color[c],
                              markeredgecolor="white", linestyle="none",
                              label=f"Protected site: {c.replace('_', ' ')}"))


# -- lines, the parties' names and points ----------------------------------------------------

def draw_lines(ax: Any, agreement: Agreement, handles: list[Any]) -> None:
    """The parties' reference lines (dashed, in their colours) and the demarcation line."""
    frame = agreement.frame
    for party, parts in agreement.reference_parts.items():
        color = party_color(agreement, party)
        for p in parts:
            x, y = frame.to_xy(p[:, 0], p[:, 1])
            ax.plot(x, y, color=color, linewidth=1.4, linestyle=(0, (5, 3)), zorder=Z_REF)
        handles.append(Line2D([], [], color=color, linewidth=1.4, linestyle=(0, (5, 3)),
                              label=f"{party_name(agreement, party)} reference line"))
    if agreement.line_parts:
        for p in agreement.line_parts:
            x, y = frame.to_xy(p[:, 0], p[:, 1])
            ax.plot(x, y, color="white", linewidth=4.2, solid_capstyle="round", zorder=Z_LINE)
            ax.plot(x, y, color=LINE, linewidth=2.4, solid_capstyle="round", zorder=Z_LINE)
        line = agreement.spec.line
        label = "Demarcation line" + (" (notional)" if line is not None and line.notional else "")
        handles.insert(0, Line2D([], [], color=LINE, linewidth=2.4, label=label))


def side_labels(ax: Any, agreement: Agreement, labels: LabelBoxes) -> None:
    """Each party's name on its own side of the line, where there is room.

    Tried at the line's middle first, then at other points along it; a label is left out
    (the legend still names the sides' colours) if there is no room anywhere.
    """
    index = agreement.line_index
    if index is None or not all(agreement.side_of.get(p) for p in agreement.party_ids):
        return
    x0, x1, y0, y1 = labels.lims
    off = 0.06 * (x1 - x0)
    for p in agreement.party_ids:
        sign = 1.0 if agreement.side_of[p] == "left" else -1.0
        name = party_name(agreement, p)
        for frac in (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8):
            seg = int(np.searchsorted(index.chain0, frac * index.length_m, side="right") - 1)
            seg = min(max(seg, 0), len(index.ax) - 1)
            mx = (index.ax[seg] + index.bx[seg]) / 2.0
            my = (index.ay[seg] + index.by[seg]) / 2.0
            seg_len = math.hypot(index.dx[seg], index.dy[seg]) or 1.0
            nx, ny = -index.dy[seg] / seg_len, index.dx[seg] / seg_len  # left-hand normal
            tx, ty = mx + sign * nx * off, my + sign * ny * off
            box = labels.box(tx, ty, name, 9, 0, 0, ha="center", va="center")
            if labels.fits(box):
                labels.take(box)
                ax.text(tx, ty, name, ha="center", va="center", fontsize=9, fontstyle="italic",
                        color=party_color(agreement, p), fontweight="bold", zorder=Z_LABEL,
                        path_effects=HALO, clip_on=True)
                break


def draw_points(ax: Any, agreement: Agreement, layers: Iterable[PointLayer], handles: list[Any]) -> None:
    """Each point layer (a scatter with its count in the legend)."""
    for layer in layers:
        lon = np.atleast_1d(np.asarray(layer.lon, dtype=float))
        lat = np.atleast_1d(np.asarray(layer.lat, dtype=float))
        if lon.shape != lat.shape:
            raise ValueError(f"point layer {layer.label!r}: lon and lat differ in length "
                             f"({len(lon)} and {len(lat)})")
        x, y = agreement.frame.to_xy(lon, lat)
        ax.scatter(x, y, s=layer.size, c=layer.color, marker=layer.marker, edgecolors="white",
                   linewidths=0.4, zorder=Z_POINTS)
        handles.append(Line2D([], [], marker=layer.marker, color=layer.color, linestyle="none",
                              markeredgecolor="white", markersize=math.sqrt(layer.size) + 1,
                              label=f"{layer.label} ({len(lon)})"))
