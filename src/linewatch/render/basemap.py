"""The base of every map: the axes, sea and land, borders, graticule, places, scale and north.

Everything is drawn in a working frame (a transverse Mercator, :class:`linewatch.geo.WorkingFrame`),
so distances and shapes on the map are true to well under 0.1 %. The axes are labelled in
longitude and latitude through a graticule of projected meridians and parallels. Country
borders come from :func:`linewatch.formats.resources.load_boundaries` (background only).

matplotlib's object API (:class:`matplotlib.figure.Figure` with the Agg canvas), never
``pyplot``, so no global figure state is created or leaked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import shapely
import shapely.ops
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch, Rectangle

from linewatch.geo import Gazetteer, WorkingFrame
from linewatch.render.labels import PLACE_LABEL_SPOTS, LabelBoxes, Lims
from linewatch.render.shapes import line_path, polygon_path, polygons
from linewatch.render.style import (
    BORDER,
    GRATICULE,
    HALO,
    LAND,
    LINE,
    NO_DATA,
    SEA,
    TEXT,
    Z_BORDER,
    Z_DECOR,
    Z_GRID,
    Z_LABEL,
    Z_LAND,
    Z_PLACE,
)

__all__ = ["HasFrame", "draw_base", "draw_country_labels", "draw_credits", "draw_places", "map_axes",
           "nice", "north_arrow", "scale_bar", "view_lonlat_box"]


class HasFrame(Protocol):
    """Whatever has a working frame: an agreement, a sensor network."""

    @property
    def frame(self) -> WorkingFrame: ...


def map_axes(figsize: tuple[float, float], box_in: tuple[float, float, float, float],
             lims: Lims) -> tuple[Figure, Any]:
    """A white figure and its map axes: ``box_in`` = (left, bottom, width, height) in inches,
    the frame's ``lims`` = (x0, x1, y0, y1) in metres at equal scale, grey spines."""
    width_in, height_in = figsize
    left_in, bottom_in, map_w, map_h = box_in
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    fig.patch.set_facecolor("white")
    ax = fig.add_axes((left_in / width_in, bottom_in / height_in, map_w / width_in,
                       map_h / height_in))
    x0, x1, y0, y1 = lims
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="box")
    ax.set_autoscale_on(False)
    for spine in ax.spines.values():
        spine.set_edgecolor("#777777")
        spine.set_linewidth(0.8)
    return fig, ax


def draw_base(ax: Any, agreement: HasFrame, boundaries: Any, lims: Lims) -> list[tuple[str, Any]]:
    """Countries (sea, or "no data" where the boundaries do not reach) and the graticule;
    ``agreement`` needs only its ``frame``. Returns the countries drawn (for their labels)."""
    frame = agreement.frame
    shown = _draw_countries(ax, frame, boundaries, lims)
    has_coverage = getattr(boundaries, "coverage", None) is not None
    ax.set_facecolor(NO_DATA if has_coverage or not shown else SEA)
    _draw_graticule(ax, frame, lims)
    return shown


def draw_credits(fig: Figure, left: float, height_in: float, *, placed: bool, lon_0: float) -> None:
    """The sources of the base map and its projection, at the foot of the figure."""
    credits = ["Country borders: Natural Earth (public domain); they are not the line of contact"]
    if placed:
        credits.append("Places: GeoNames (CC BY 4.0)")
    credits.append(f"Transverse Mercator, central meridian {lon_0:g}°")
    fig.text(left, 0.08 / height_in, " · ".join(credits), ha="left", va="bottom", fontsize=6.5,
             color="#777777")


def nice(value: float, steps: Sequence[float] = (1, 2, 2.5, 5, 10)) -> float:
    """The largest 'nice' number (1, 2, 2.5, 5 × 10^k) not above ``value``."""
    if value <= 0:
        return 1.0
    exp = 10.0 ** math.floor(math.log10(value))
    return max(s * exp for s in steps if s * exp <= value * (1 + 1e-9))


def view_lonlat_box(frame: WorkingFrame, lims: Lims, margin: float = 0.15
                    ) -> tuple[float, float, float, float]:
    """(lon_min, lat_min, lon_max, lat_max) around the view widened by ``margin`` each side."""
    x0, x1, y0, y1 = lims
    mx, my = (x1 - x0) * margin, (y1 - y0) * margin
    t = np.linspace(0.0, 1.0, 9)
    xs = np.concatenate([x0 - mx + (x1 - x0 + 2 * mx) * t, np.full(9, x1 + mx),
                         x1 + mx - (x1 - x0 + 2 * mx) * t, np.full(9, x0 - mx)])
    ys = np.concatenate([np.full(9, y0 - my), y0 - my + (y1 - y0 + 2 * my) * t,
                         np.full(9, y1 + my), y1 + my - (y1 - y0 + 2 * my) * t])
    lon, lat = frame.to_lonlat(xs, ys)
    return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())


# -- countries -------------------------------------------------------------------------------

def _draw_countries(ax: Any, frame: WorkingFrame, boundaries: Any, lims: Lims) -> list[tuple[str, Any]]:
    """Sea, land and borders; returns ``(name, visible projected part)`` of each country shown.

    If the boundaries know their ``coverage``, the view outside it is shown as "no data"
    (not as sea), and the edges of the coverage are not drawn as coastlines.
    """
    box = shapely.box(*view_lonlat_box(frame, lims))
    x0, x1, y0, y1 = lims
    view = shapely.box(x0, y0, x1, y1)
    coverage = getattr(boundaries, "coverage", None)
    cut = None
    if coverage is not None:
        covered = shapely.intersection(coverage, box)
        path = polygon_path(frame.project_geometry(shapely.segmentize(covered, 0.05)))
        if path is not None:
            ax.add_patch(PathPatch(path, facecolor=SEA, edgecolor="none", zorder=Z_LAND - 0.5))
        # hide the extract's straight cut lines (they are not borders or coasts)
        cut = shapely.buffer(shapely.boundary(coverage), 1e-6)
    shown = []
    for name, _iso, geom in boundaries or ():
        if not shapely.intersects(geom, box):
            continue
        part = shapely.clip_by_rect(geom, *box.bounds)
        if part.is_empty:
            continue
        xy = frame.project_geometry(part)
        path = polygon_path(xy)
        if path is None:
            continue
        ax.add_patch(PathPatch(path, facecolor=LAND, edgecolor="none", zorder=Z_LAND))
        edges = shapely.boundary(part)
        if cut is not None:
            edges = shapely.difference(edges, cut)
        edge_path = line_path(frame.project_geometry(edges)) if not edges.is_empty else None
        if edge_path is not None:
            ax.add_patch(PathPatch(edge_path, facecolor="none", edgecolor=BORDER, linewidth=0.7,
                                   zorder=Z_BORDER))
        shown.append((name, shapely.intersection(xy, view)))
    return shown


def draw_country_labels(ax: Any, shown: list[tuple[str, Any]], lims: Lims, labels: LabelBoxes,
                        max_labels: int = 6) -> None:
    """Names of the countries that fill a good part of the view, where there is room.

    The preferred spot is the pole of inaccessibility of the visible part; if other labels
    are there, the nearest free spot on a grid over the part is used, or none.
    """
    x0, x1, y0, y1 = lims
    view_area = (x1 - x0) * (y1 - y0)
    big = sorted(((v.area, name, v) for name, v in shown if v.area > 0.04 * view_area),
                 key=lambda t: -t[0])[:max_labels]
    for _, name, visible in big:
        biggest = max(polygons(visible), key=lambda p: p.area)
        best = shapely.ops.polylabel(biggest, tolerance=max(biggest.area ** 0.5 / 50.0, 1.0))
        bx0, by0, bx1, by1 = biggest.bounds
        gx, gy = np.meshgrid(np.linspace(bx0, bx1, 9)[1:-1], np.linspace(by0, by1, 9)[1:-1])
        spots = np.column_stack([np.r_[best.x, gx.ravel()], np.r_[best.y, gy.ravel()]])
        spots = spots[np.argsort(np.hypot(spots[:, 0] - best.x, spots[:, 1] - best.y),
                                 kind="stable")]
        text = name.upper()
        for x, y in spots:
            box = labels.box(x, y, text, 9, 0, 0, ha="center", va="center")
            if shapely.contains_xy(biggest, x, y) and labels.fits(box):
                labels.take(box)
                ax.text(x, y, text, ha="center", va="center", fontsize=9, color="#8a8a8a",
                        fontweight="bold", alpha=0.9, zorder=Z_LABEL, path_effects=HALO,
                        clip_on=True)
                break


# -- graticule -------------------------------------------------------------------------------

def _fmt_deg(value: float, step: float, pos: str, neg: str) -> str:
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step < 1 else 0
    if step < 1 and abs(round(step * 10 ** decimals) - step * 10 ** decimals) > 1e-6:
        decimals += 1
    text = f"{abs(value):.{decimals}f}°"
    return text + (pos if value >= 0 else neg)


def _draw_graticule(ax: Any, frame: WorkingFrame, lims: Lims) -> None:
    x0, x1, y0, y1 = lims
    lon_min, lat_min, lon_max, lat_max = view_lonlat_box(frame, lims, margin=0.02)
    target = 5.0
    lon_step = nice(max((lon_max - lon_min) / target, 1e-3), (1, 2, 2.5, 5, 10))
    lat_step = nice(max((lat_max - lat_min) / target, 1e-3), (1, 2, 2.5, 5, 10))
    step = max(lon_step, lat_step) if abs(math.log10(lon_step / lat_step)) < 0.35 else None
    lon_step = step or lon_step
    lat_step = step or lat_step
    lats_dense = np.linspace(lat_min - 1.0, lat_max + 1.0, 200)
    lons_dense = np.linspace(lon_min - 1.0, lon_max + 1.0, 200)
    xticks, xlabels, yticks, ylabels = [], [], [], []
    for lon in np.arange(math.ceil(lon_min / lon_step) * lon_step, lon_max + 1e-9, lon_step):
        x, y = frame.to_xy(np.full_like(lats_dense, lon), lats_dense)
        ax.plot(x, y, color=GRATICULE, linewidth=0.5, zorder=Z_GRID)
        xb = float(np.interp(y0, y, x))
        if x0 <= xb <= x1:
            xticks.append(xb)
            xlabels.append(_fmt_deg(round(lon, 6), lon_step, "E", "W"))
    for lat in np.arange(math.ceil(lat_min / lat_step) * lat_step, lat_max + 1e-9, lat_step):
        x, y = frame.to_xy(lons_dense, np.full_like(lons_dense, lat))
        ax.plot(x, y, color=GRATICULE, linewidth=0.5, zorder=Z_GRID)
        yb = float(np.interp(x0, x, y))
        if y0 <= yb <= y1:
            yticks.append(yb)
            ylabels.append(_fmt_deg(round(lat, 6), lat_step, "N", "S"))
    ax.set_xticks(xticks, xlabels)
    ax.set_yticks(yticks, ylabels)
    ax.tick_params(labelsize=8, colors=TEXT, length=3)


# -- places ----------------------------------------------------------------------------------

def draw_places(ax: Any, frame: WorkingFrame, gazetteer: Gazetteer, lims: Lims, max_places: int,
                labels: LabelBoxes) -> bool:
    """The most populous settlements in view whose labels fit; returns whether any was drawn."""
    if max_places <= 0:
        return False
    lon_min, lat_min, lon_max, lat_max = view_lonlat_box(frame, lims, margin=0.0)
    sel = np.flatnonzero((gazetteer.lon >= lon_min) & (gazetteer.lon <= lon_max)
                         & (gazetteer.lat >= lat_min) & (gazetteer.lat <= lat_max))
    if len(sel) == 0:
        return False
    sel = sel[np.argsort(-gazetteer.population[sel], kind="stable")][:40 * max_places]
    x, y = frame.to_xy(gazetteer.lon[sel], gazetteer.lat[sel])
    chosen = 0
    for k in range(len(sel)):
        name = str(gazetteer.names[sel[k]])
        dot = labels.symbol(x[k], y[k], 5)
        if not labels.fits(dot):
            continue
        for dx, dy, ha, va in PLACE_LABEL_SPOTS:
            text = labels.box(x[k], y[k], name, 7.5, dx, dy, ha=ha, va=va)
            if labels.fits(text):
                break
        else:
            continue
        labels.take(dot)
        labels.take(text)
        ax.plot([x[k]], [y[k]], marker="o", markersize=3.5, color="#555555",
                markeredgecolor="white", markeredgewidth=0.5, linestyle="none", zorder=Z_PLACE)
        ax.annotate(name, (x[k], y[k]), xytext=(dx, dy), textcoords="offset points",
                    fontsize=7.5, color="#444444", ha=ha, va=va, zorder=Z_LABEL,
                    path_effects=HALO, annotation_clip=True)
        chosen += 1
        if chosen >= max_places:
            break
    return chosen > 0


# -- scale bar and north arrow ---------------------------------------------------------------

def scale_bar(ax: Any, frame: WorkingFrame, lims: Lims, labels: LabelBoxes) -> None:
    """A scale bar in kilometres at the bottom right, true at its latitude."""
    x0, x1, y0, y1 = lims
    w, h = x1 - x0, y1 - y0
    bx, by = x1 - 0.04 * w, y0 + 0.045 * h  # right end of the bar
    lat = float(frame.to_lonlat(bx, by)[1])
    k = float(frame.scale_factor(np.array([bx]), np.array([lat]))[0])
    length_km = nice(0.22 * w / 1000.0 / k, (1, 2, 5, 10))
    length = length_km * 1000.0 * k
    n = 4 if length_km >= 4 and (length_km / 4) == int(length_km / 4) else 2
    seg = length / n
    bar_h = 0.012 * h
    left = bx - length
    frame_box = (left - 0.015 * w, by - 0.025 * h, length + 0.03 * w, 0.075 * h)
    ax.add_patch(Rectangle(frame_box[:2], *frame_box[2:], facecolor="white", edgecolor="#bbbbbb",
                           linewidth=0.5, alpha=0.85, zorder=Z_DECOR))
    labels.take((frame_box[0], frame_box[1], frame_box[0] + frame_box[2],
                 frame_box[1] + frame_box[3]))
    for i in range(n):
        ax.add_patch(Rectangle((left + i * seg, by), seg, bar_h,
                               facecolor=LINE if i % 2 == 0 else "white", edgecolor=LINE,
                               linewidth=0.6, zorder=Z_DECOR))
    for i, pos in ((0, left), (n // 2, left + length / 2.0), (n, bx)):
        value = length_km * i / n
        label = f"{value:g}" + (" km" if i == n else "")
        ax.text(pos, by + bar_h + 0.006 * h, label, ha="center", va="bottom", fontsize=7,
                color=TEXT, zorder=Z_DECOR)


def north_arrow(ax: Any, frame: WorkingFrame, lims: Lims, labels: LabelBoxes) -> None:
    """An arrow to true north (grid north differs by the meridian convergence)."""
    x0, x1, y0, y1 = lims
    w, h = x1 - x0, y1 - y0
    ax_x, ax_y = x1 - 0.05 * w, y1 - 0.13 * h
    lon, lat = frame.to_lonlat(ax_x, ax_y)
    nx, ny = frame.to_xy(float(lon), float(lat) + 0.01)
    ang = math.atan2(float(nx) - ax_x, float(ny) - ax_y)
    length = 0.06 * h
    tip = (ax_x + length * math.sin(ang), ax_y + length * math.cos(ang))
    ax.annotate("", xy=tip, xytext=(ax_x, ax_y),
                arrowprops=dict(arrowstyle="-|>,head_width=0.35,head_length=0.7", color=LINE,
                                linewidth=1.2), zorder=Z_DECOR)
    labels.take((ax_x - 0.03 * w, ax_y - 0.01 * h, ax_x + 0.03 * w, tip[1] + 0.05 * h))
    ax.text(tip[0], tip[1] + 0.008 * h, "N", ha="center", va="bottom", fontsize=9,
            fontweight="bold", color=LINE, zorder=Z_DECOR, path_effects=HALO)
