"""Maps of an agreement: its line, zones and sites, with located points on top.

Everything is drawn in the agreement's working frame (a transverse Mercator centred on the
line, :class:`linewatch.geo.geodesy.WorkingFrame`), so distances and shapes on the map are true to
well under 0.1 % and a buffer zone of 15 km looks 15 km wide everywhere. The axes are
labelled in longitude and latitude through a graticule of projected meridians and parallels.

This is a shell module: it uses matplotlib's object API (:class:`matplotlib.figure.Figure`
with the Agg canvas), never ``pyplot``, so no global figure state is created or leaked.
"""

from __future__ import annotations

import math
import textwrap
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.patheffects as path_effects
import numpy as np
import shapely
import shapely.ops
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path as MplPath

from linewatch.agreement import Agreement
from linewatch.geo import Gazetteer

# -- styling -------------------------------------------------------------------------------

SEA = "#dbe7ef"
LAND = "#f5f3ee"
NO_DATA = "#ebebeb"
BORDER = "#9a9a9a"
GRATICULE = "#c8ccd0"
LINE = "#1b1b1b"
TEXT = "#333333"
#: The two parties' colours: neutral hues with no political connotation, far apart for
#: colour-blind readers (blue / orange of the Okabe-Ito palette).
PARTY_COLORS = ("#0072b2", "#e69f00")
#: Colours for protected-site categories, assigned in order of the sorted category names
#: (Okabe-Ito and Tol's muted palette, skipping the party colours).
SITE_COLORS = ("#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#882255", "#117733", "#999933",
               "#44aa99")
POLYGON_ZONE_COLORS = ("#5a5a8a", "#7a4f2a", "#2f6b5e", "#8a3b5a")

_Z_LAND, _Z_GRID, _Z_BORDER, _Z_BUFFER, _Z_POLY, _Z_SITE = 1, 2, 3, 4, 5, 6
_Z_REF, _Z_LINE, _Z_PLACE, _Z_POINTS, _Z_LABEL, _Z_DECOR = 7, 8, 9, 10, 11, 12
_HALO = [path_effects.withStroke(linewidth=2.5, foreground="white", alpha=0.85)]


@dataclass(frozen=True)
class PointLayer:
    """Located points to draw on a map, with their legend label."""

    label: str
    lon: np.ndarray
    lat: np.ndarray
    color: str
    marker: str = "o"
    size: float = 12


# -- geometry helpers ----------------------------------------------------------------------

def _polygons(geom) -> list:
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
            out.extend(_polygons(part))
    return out


def _path(geom_xy) -> MplPath | None:
    """A compound matplotlib path (holes included) of the polygons of a projected geometry."""
    verts, codes = [], []
    for poly in _polygons(geom_xy):
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


def _nice(value: float, steps: Sequence[float] = (1, 2, 2.5, 5, 10)) -> float:
    """The largest 'nice' number (1, 2, 2.5, 5 × 10^k) not above ``value``."""
    if value <= 0:
        return 1.0
    exp = 10.0 ** math.floor(math.log10(value))
    return max(s * exp for s in steps if s * exp <= value * (1 + 1e-9))


def _fmt_deg(value: float, step: float, pos: str, neg: str) -> str:
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step < 1 else 0
    if step < 1 and abs(round(step * 10 ** decimals) - step * 10 ** decimals) > 1e-6:
        decimals += 1
    text = f"{abs(value):.{decimals}f}°"
    return text + (pos if value >= 0 else neg)


# -- extent --------------------------------------------------------------------------------

def _content_xy_bounds(agreement: Agreement, layers: Sequence[PointLayer]) -> tuple | None:
    """Bounds (x0, y0, x1, y1) of the line, else of the zones and sites, else of the points."""
    frame = agreement.frame
    parts = list(agreement.line_parts or [])
    if parts:
        xy = [np.column_stack(frame.to_xy(p[:, 0], p[:, 1])) for p in parts]
        xy += [np.column_stack(frame.to_xy(p[:, 0], p[:, 1]))
               for ps in agreement.reference_parts.values() for p in ps]
        allxy = np.vstack(xy)
        return (*allxy.min(axis=0), *allxy.max(axis=0))
    geoms = [g for z in agreement.zones.values() for g in z.polygons_lonlat().values()
             if g is not None and not g.is_empty]
    if geoms:
        return frame.project_geometry(shapely.union_all(geoms)).bounds
    pts = [np.column_stack(frame.to_xy(np.asarray(la.lon, float), np.asarray(la.lat, float)))
           for la in layers if len(np.atleast_1d(la.lon))]
    if pts:
        allxy = np.vstack(pts)
        return (*allxy.min(axis=0), *allxy.max(axis=0))
    return None


def _extent_xy(agreement: Agreement, extent, layers, aspect: float) -> tuple[float, float, float, float]:
    """View limits (x0, x1, y0, y1) in frame metres, widened to the axes' aspect (h / w)."""
    frame = agreement.frame
    if extent is not None:
        lon0, lon1, lat0, lat1 = map(float, extent)
        if not (lon0 < lon1 and lat0 < lat1):
            raise ValueError(f"extent must be (lon_min, lon_max, lat_min, lat_max) with min < max, "
                             f"got {extent!r}")
        t = np.linspace(0.0, 1.0, 25)
        lon = np.concatenate([lon0 + (lon1 - lon0) * t, np.full(25, lon1),
                              lon1 - (lon1 - lon0) * t, np.full(25, lon0)])
        lat = np.concatenate([np.full(25, lat0), lat0 + (lat1 - lat0) * t, np.full(25, lat1),
                              lat1 - (lat1 - lat0) * t])
        x, y = frame.to_xy(lon, lat)
        x0, y0, x1, y1 = x.min(), y.min(), x.max(), y.max()
    else:
        bounds = _content_xy_bounds(agreement, layers)
        if bounds is None:
            raise ValueError(f"agreement {agreement.id!r} has no line, zones or sites, and no "
                             "points were given: pass an extent")
        x0, y0, x1, y1 = bounds
        pad = 0.10 * max(x1 - x0, y1 - y0, 5000.0)
        x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    if h / w < aspect:
        h = w * aspect
    else:
        w = h / aspect
    return cx - w / 2.0, cx + w / 2.0, cy - h / 2.0, cy + h / 2.0


# -- labels --------------------------------------------------------------------------------

class _Labels:
    """Boxes already taken by text or symbols in data units, so that labels do not collide.

    Label sizes are estimated from the font size (DejaVu Sans averages about 0.6 em a
    character), which is close enough to keep labels apart without a draw pass.
    """

    def __init__(self, lims, axes_width_in: float) -> None:
        self.lims = lims
        self.pt = (lims[1] - lims[0]) / (axes_width_in * 72.0)  # data units per point
        self.boxes: list[tuple[float, float, float, float]] = []

    def box(self, x: float, y: float, text: str, fontsize: float, dx_pt: float, dy_pt: float,
            ha: str = "left", va: str = "bottom") -> tuple[float, float, float, float]:
        w = (0.6 * fontsize * len(text) + 2) * self.pt
        h = 1.25 * fontsize * self.pt
        x0 = x + dx_pt * self.pt - {"left": 0.0, "center": w / 2.0, "right": w}[ha]
        y0 = y + dy_pt * self.pt - {"bottom": 0.0, "center": h / 2.0, "top": h}[va]
        return (x0, y0, x0 + w, y0 + h)

    def symbol(self, x: float, y: float, size_pt: float) -> tuple[float, float, float, float]:
        """The box of a marker ``size_pt`` across, centred on ``(x, y)``."""
        r = size_pt / 2.0 * self.pt
        return (x - r, y - r, x + r, y + r)

    def fits(self, b) -> bool:
        x0, x1, y0, y1 = self.lims
        if b[0] < x0 or b[2] > x1 or b[1] < y0 or b[3] > y1:
            return False
        return not any(b[0] < o[2] and o[0] < b[2] and b[1] < o[3] and o[1] < b[3]
                       for o in self.boxes)

    def take(self, b) -> None:
        self.boxes.append(b)


#: Where a protected site's name may go relative to its marker, in order.
_SITE_LABEL_SPOTS = ((6, 3, "left", "bottom"), (6, -3, "left", "top"),
                     (-6, 3, "right", "bottom"), (-6, -3, "right", "top"))
#: Where a settlement's name may go relative to its dot: (dx pt, dy pt, ha, va), in order.
_PLACE_LABEL_SPOTS = ((4, -2, "left", "top"), (4, 2, "left", "bottom"),
                      (-4, -2, "right", "top"), (-4, 2, "right", "bottom"))


# -- layers --------------------------------------------------------------------------------

def _view_lonlat_box(agreement: Agreement, lims, margin: float = 0.15):
    x0, x1, y0, y1 = lims
    mx, my = (x1 - x0) * margin, (y1 - y0) * margin
    t = np.linspace(0.0, 1.0, 9)
    xs = np.concatenate([x0 - mx + (x1 - x0 + 2 * mx) * t, np.full(9, x1 + mx),
                         x1 + mx - (x1 - x0 + 2 * mx) * t, np.full(9, x0 - mx)])
    ys = np.concatenate([np.full(9, y0 - my), y0 - my + (y1 - y0 + 2 * my) * t,
                         np.full(9, y1 + my), y1 + my - (y1 - y0 + 2 * my) * t])
    lon, lat = agreement.frame.to_lonlat(xs, ys)
    return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())


def _lines_path(geom_xy) -> MplPath | None:
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


def _draw_countries(ax, agreement: Agreement, boundaries, lims) -> list[tuple[str, Any]]:
    """Sea, land and borders; returns ``(name, visible projected part)`` of each country shown.

    If the boundaries know their ``coverage``, the view outside it is shown as "no data"
    (not as sea), and the edges of the coverage are not drawn as coastlines.
    """
    box = shapely.box(*_view_lonlat_box(agreement, lims))
    x0, x1, y0, y1 = lims
    view = shapely.box(x0, y0, x1, y1)
    frame = agreement.frame
    coverage = getattr(boundaries, "coverage", None)
    cut = None
    if coverage is not None:
        covered = shapely.intersection(coverage, box)
        path = _path(frame.project_geometry(shapely.segmentize(covered, 0.05)))
        if path is not None:
            ax.add_patch(PathPatch(path, facecolor=SEA, edgecolor="none", zorder=_Z_LAND - 0.5))
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
        path = _path(xy)
        if path is None:
            continue
        ax.add_patch(PathPatch(path, facecolor=LAND, edgecolor="none", zorder=_Z_LAND))
        edges = shapely.boundary(part)
        if cut is not None:
            edges = shapely.difference(edges, cut)
        edge_path = _lines_path(frame.project_geometry(edges)) if not edges.is_empty else None
        if edge_path is not None:
            ax.add_patch(PathPatch(edge_path, facecolor="none", edgecolor=BORDER, linewidth=0.7,
                                   zorder=_Z_BORDER))
        shown.append((name, shapely.intersection(xy, view)))
    return shown


def _draw_country_labels(ax, shown, lims, labels: _Labels, max_labels: int = 6) -> None:
    """Names of the countries that fill a good part of the view, where there is room.

    The preferred spot is the pole of inaccessibility of the visible part; if other labels
    are there, the nearest free spot on a grid over the part is used, or none.
    """
    x0, x1, y0, y1 = lims
    view_area = (x1 - x0) * (y1 - y0)
    big = sorted(((v.area, name, v) for name, v in shown if v.area > 0.04 * view_area),
                 key=lambda t: -t[0])[:max_labels]
    for _, name, visible in big:
        biggest = max(_polygons(visible), key=lambda p: p.area)
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
                        fontweight="bold", alpha=0.9, zorder=_Z_LABEL, path_effects=_HALO,
                        clip_on=True)
                break


def _draw_graticule(ax, agreement: Agreement, lims) -> None:
    frame = agreement.frame
    x0, x1, y0, y1 = lims
    lon_min, lat_min, lon_max, lat_max = _view_lonlat_box(agreement, lims, margin=0.02)
    target = 5.0
    lon_step = _nice(max((lon_max - lon_min) / target, 1e-3), (1, 2, 2.5, 5, 10))
    lat_step = _nice(max((lat_max - lat_min) / target, 1e-3), (1, 2, 2.5, 5, 10))
    step = max(lon_step, lat_step) if abs(math.log10(lon_step / lat_step)) < 0.35 else None
    lon_step = step or lon_step
    lat_step = step or lat_step
    lats_dense = np.linspace(lat_min - 1.0, lat_max + 1.0, 200)
    lons_dense = np.linspace(lon_min - 1.0, lon_max + 1.0, 200)
    xticks, xlabels, yticks, ylabels = [], [], [], []
    for lon in np.arange(math.ceil(lon_min / lon_step) * lon_step, lon_max + 1e-9, lon_step):
        x, y = frame.to_xy(np.full_like(lats_dense, lon), lats_dense)
        ax.plot(x, y, color=GRATICULE, linewidth=0.5, zorder=_Z_GRID)
        xb = float(np.interp(y0, y, x))
        if x0 <= xb <= x1:
            xticks.append(xb)
            xlabels.append(_fmt_deg(round(lon, 6), lon_step, "E", "W"))
    for lat in np.arange(math.ceil(lat_min / lat_step) * lat_step, lat_max + 1e-9, lat_step):
        x, y = frame.to_xy(lons_dense, np.full_like(lons_dense, lat))
        ax.plot(x, y, color=GRATICULE, linewidth=0.5, zorder=_Z_GRID)
        yb = float(np.interp(x0, x, y))
        if y0 <= yb <= y1:
            yticks.append(yb)
            ylabels.append(_fmt_deg(round(lat, 6), lat_step, "N", "S"))
    ax.set_xticks(xticks, xlabels)
    ax.set_yticks(yticks, ylabels)
    ax.tick_params(labelsize=8, colors=TEXT, length=3)


def _party_color(agreement: Agreement, party: str | None) -> str:
    if party in agreement.party_ids:
        return PARTY_COLORS[agreement.party_ids.index(party)]
    return "#666666"


def _party_name(agreement: Agreement, party: str) -> str:
    return next((p.name for p in agreement.parties if p.id == party), party)


def _draw_zones(ax, agreement: Agreement, handles: list, labels: _Labels) -> None:
    frame = agreement.frame
    zones = list(agreement.zones.values())
    buffers = sorted((z for z in zones if z.kind == "buffer"), key=lambda z: -z.area_km2())
    n_buf = max(len(buffers), 1)
    for rank, z in enumerate(buffers):
        for party, geom in z.polygons_lonlat().items():
            path = _path(frame.project_geometry(geom))
            if path is None:
                continue
            color = _party_color(agreement, party)
            alpha = 0.12 + 0.10 * rank / max(n_buf - 1, 1)
            ax.add_patch(PathPatch(path, facecolor=color, alpha=alpha, edgecolor="none",
                                   zorder=_Z_BUFFER))
            ax.add_patch(PathPatch(path, facecolor="none", edgecolor=color, linewidth=0.6,
                                   alpha=0.8, zorder=_Z_BUFFER))
            width = getattr(z, "width_m", {}).get(party, 0.0) / 1000.0
            label = f"{z.name}: {_party_name(agreement, party)} side"
            label += f", {width:g} km" if width else ""
            handles.append(Patch(facecolor=color, alpha=alpha + 0.1, edgecolor=color,
                                 linewidth=0.6, label=label))
    polys = [z for z in zones if z.kind == "polygon"]
    for i, z in enumerate(polys):
        color = (POLYGON_ZONE_COLORS[i % len(POLYGON_ZONE_COLORS)] if z.party is None
                 else _party_color(agreement, z.party))
        for geom in z.polygons_lonlat().values():
            path = _path(frame.project_geometry(geom))
            if path is None:
                continue
            ax.add_patch(PathPatch(path, facecolor=color, alpha=0.08, edgecolor="none",
                                   zorder=_Z_POLY))
            ax.add_patch(PathPatch(path, facecolor="none", edgecolor=color, hatch="////",
                                   linewidth=1.2, zorder=_Z_POLY))
        handles.append(Patch(facecolor="none", edgecolor=color, hatch="////", linewidth=1.2,
                             label=f"{z.name} ({z.category.replace('_', ' ')})"))
    sites = [z for z in zones if z.kind == "site"]
    categories = sorted({z.category for z in sites})
    site_color = {c: SITE_COLORS[i % len(SITE_COLORS)] for i, c in enumerate(categories)}
    centres: list[tuple[float, float, str]] = []
    for z in sites:
        color = site_color[z.category]
        for geom in z.polygons_lonlat().values():
            path = _path(frame.project_geometry(geom))
            if path is not None:
                ax.add_patch(PathPatch(path, facecolor=color, alpha=0.22, edgecolor=color,
                                       linewidth=0.9, zorder=_Z_SITE))
        centre = z.geometry.centroid if getattr(z, "point", None) is None else None
        clon, clat = (z.point if centre is None else (centre.x, centre.y))
        cx, cy = frame.to_xy(clon, clat)
        ax.plot([float(cx)], [float(cy)], marker="P", markersize=7, color=color,
                markeredgecolor="white", markeredgewidth=0.7, linestyle="none", zorder=_Z_SITE)
        labels.take(labels.symbol(float(cx), float(cy), 8))
        centres.append((float(cx), float(cy), z.name))
    # names where they fit without covering another label (the legend gives the category)
    for cx, cy, name in centres if len(centres) <= 30 else ():
        for dx, dy, ha, va in _SITE_LABEL_SPOTS:
            box = labels.box(cx, cy, name, 7, dx, dy, ha=ha, va=va)
            if labels.fits(box):
                labels.take(box)
                ax.annotate(name, (cx, cy), xytext=(dx, dy), textcoords="offset points",
                            fontsize=7, color=TEXT, ha=ha, va=va, zorder=_Z_LABEL,
                            path_effects=_HALO, annotation_clip=True)
                break
    for c in categories:
        handles.append(Line2D([], [], marker="P", markersize=7, color=site_color[c],
                              markeredgecolor="white", linestyle="none",
                              label=f"Protected site: {c.replace('_', ' ')}"))


def _draw_lines(ax, agreement: Agreement, handles: list) -> None:
    frame = agreement.frame
    for party, parts in agreement.reference_parts.items():
        color = _party_color(agreement, party)
        for p in parts:
            x, y = frame.to_xy(p[:, 0], p[:, 1])
            ax.plot(x, y, color=color, linewidth=1.4, linestyle=(0, (5, 3)), zorder=_Z_REF)
        handles.append(Line2D([], [], color=color, linewidth=1.4, linestyle=(0, (5, 3)),
                              label=f"{_party_name(agreement, party)} reference line"))
    if agreement.line_parts:
        for p in agreement.line_parts:
            x, y = frame.to_xy(p[:, 0], p[:, 1])
            ax.plot(x, y, color="white", linewidth=4.2, solid_capstyle="round", zorder=_Z_LINE)
            ax.plot(x, y, color=LINE, linewidth=2.4, solid_capstyle="round", zorder=_Z_LINE)
        label = "Demarcation line" + (" (notional)" if agreement.spec.line.notional else "")
        handles.insert(0, Line2D([], [], color=LINE, linewidth=2.4, label=label))


def _side_labels(ax, agreement: Agreement, labels: _Labels) -> None:
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
        name = _party_name(agreement, p)
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
                        color=_party_color(agreement, p), fontweight="bold", zorder=_Z_LABEL,
                        path_effects=_HALO, clip_on=True)
                break


def _draw_places(ax, agreement: Agreement, gazetteer: Gazetteer, lims, max_places: int,
                 labels: _Labels) -> bool:
    """The most populous settlements in view whose labels fit; returns whether any was drawn."""
    if max_places <= 0:
        return False
    x0, x1, y0, y1 = lims
    lon_min, lat_min, lon_max, lat_max = _view_lonlat_box(agreement, lims, margin=0.0)
    sel = np.flatnonzero((gazetteer.lon >= lon_min) & (gazetteer.lon <= lon_max)
                         & (gazetteer.lat >= lat_min) & (gazetteer.lat <= lat_max))
    if len(sel) == 0:
        return False
    sel = sel[np.argsort(-gazetteer.population[sel], kind="stable")][:40 * max_places]
    x, y = agreement.frame.to_xy(gazetteer.lon[sel], gazetteer.lat[sel])
    chosen = 0
    for k in range(len(sel)):
        name = str(gazetteer.names[sel[k]])
        dot = labels.symbol(x[k], y[k], 5)
        if not labels.fits(dot):
            continue
        for dx, dy, ha, va in _PLACE_LABEL_SPOTS:
            text = labels.box(x[k], y[k], name, 7.5, dx, dy, ha=ha, va=va)
            if labels.fits(text):
                break
        else:
            continue
        labels.take(dot)
        labels.take(text)
        ax.plot([x[k]], [y[k]], marker="o", markersize=3.5, color="#555555",
                markeredgecolor="white", markeredgewidth=0.5, linestyle="none", zorder=_Z_PLACE)
        ax.annotate(name, (x[k], y[k]), xytext=(dx, dy), textcoords="offset points",
                    fontsize=7.5, color="#444444", ha=ha, va=va, zorder=_Z_LABEL,
                    path_effects=_HALO, annotation_clip=True)
        chosen += 1
        if chosen >= max_places:
            break
    return chosen > 0


def _draw_points(ax, agreement: Agreement, layers: Iterable[PointLayer], handles: list) -> None:
    for layer in layers:
        lon = np.atleast_1d(np.asarray(layer.lon, dtype=float))
        lat = np.atleast_1d(np.asarray(layer.lat, dtype=float))
        if lon.shape != lat.shape:
            raise ValueError(f"point layer {layer.label!r}: lon and lat differ in length "
                             f"({len(lon)} and {len(lat)})")
        x, y = agreement.frame.to_xy(lon, lat)
        ax.scatter(x, y, s=layer.size, c=layer.color, marker=layer.marker, edgecolors="white",
                   linewidths=0.4, zorder=_Z_POINTS)
        handles.append(Line2D([], [], marker=layer.marker, color=layer.color, linestyle="none",
                              markeredgecolor="white", markersize=math.sqrt(layer.size) + 1,
                              label=f"{layer.label} ({len(lon)})"))


def _scale_bar(ax, agreement: Agreement, lims, labels: _Labels) -> None:
    x0, x1, y0, y1 = lims
    w, h = x1 - x0, y1 - y0
    bx, by = x1 - 0.04 * w, y0 + 0.045 * h  # right end of the bar
    lat = float(agreement.frame.to_lonlat(bx, by)[1])
    k = float(agreement.frame.scale_factor(np.array([bx]), np.array([lat]))[0])
    length_km = _nice(0.22 * w / 1000.0 / k, (1, 2, 5, 10))
    length = length_km * 1000.0 * k
    n = 4 if length_km >= 4 and (length_km / 4) == int(length_km / 4) else 2
    seg = length / n
    bar_h = 0.012 * h
    left = bx - length
    frame_box = (left - 0.015 * w, by - 0.025 * h, length + 0.03 * w, 0.075 * h)
    ax.add_patch(Rectangle(frame_box[:2], *frame_box[2:], facecolor="white", edgecolor="#bbbbbb",
                           linewidth=0.5, alpha=0.85, zorder=_Z_DECOR))
    labels.take((frame_box[0], frame_box[1], frame_box[0] + frame_box[2],
                 frame_box[1] + frame_box[3]))
    for i in range(n):
        ax.add_patch(Rectangle((left + i * seg, by), seg, bar_h,
                               facecolor=LINE if i % 2 == 0 else "white", edgecolor=LINE,
                               linewidth=0.6, zorder=_Z_DECOR))
    for i, pos in ((0, left), (n // 2, left + length / 2.0), (n, bx)):
        value = length_km * i / n
        label = f"{value:g}" + (" km" if i == n else "")
        ax.text(pos, by + bar_h + 0.006 * h, label, ha="center", va="bottom", fontsize=7,
                color=TEXT, zorder=_Z_DECOR)


def _north_arrow(ax, agreement: Agreement, lims, labels: _Labels) -> None:
    """An arrow to true north (grid north differs by the meridian convergence)."""
    x0, x1, y0, y1 = lims
    w, h = x1 - x0, y1 - y0
    ax_x, ax_y = x1 - 0.05 * w, y1 - 0.13 * h
    lon, lat = agreement.frame.to_lonlat(ax_x, ax_y)
    nx, ny = agreement.frame.to_xy(float(lon), float(lat) + 0.01)
    ang = math.atan2(float(nx) - ax_x, float(ny) - ax_y)
    length = 0.06 * h
    tip = (ax_x + length * math.sin(ang), ax_y + length * math.cos(ang))
    ax.annotate("", xy=tip, xytext=(ax_x, ax_y),
                arrowprops=dict(arrowstyle="-|>,head_width=0.35,head_length=0.7", color=LINE,
                                linewidth=1.2), zorder=_Z_DECOR)
    labels.take((ax_x - 0.03 * w, ax_y - 0.01 * h, ax_x + 0.03 * w, tip[1] + 0.05 * h))
    ax.text(tip[0], tip[1] + 0.008 * h, "N", ha="center", va="bottom", fontsize=9,
            fontweight="bold", color=LINE, zorder=_Z_DECOR, path_effects=_HALO)


# -- public API ----------------------------------------------------------------------------

def map_axes(figsize: tuple[float, float], box_in: tuple[float, float, float, float],
             lims: tuple[float, float, float, float]):
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


def draw_base(ax, agreement, boundaries, lims):
    """Countries (sea, or "no data" where the boundaries do not reach) and the graticule;
    ``agreement`` needs only its ``frame``. Returns the countries drawn (for their labels)."""
    shown = _draw_countries(ax, agreement, boundaries, lims)
    has_coverage = getattr(boundaries, "coverage", None) is not None
    ax.set_facecolor(NO_DATA if has_coverage or not shown else SEA)
    _draw_graticule(ax, agreement, lims)
    return shown


def agreement_figure(agreement: Agreement, boundaries: Sequence[tuple[str, str, Any]] | None, *,
                     layers: Sequence[PointLayer] = (),
                     extent: tuple[float, float, float, float] | None = None,
                     title: str | None = None, figsize: tuple[float, float] = (10, 8),
                     gazetteer: Gazetteer | None = None, max_places: int = 12) -> Figure:
    """A map of an agreement in its working frame.

    ``boundaries`` are ``(name, iso_a3, lon/lat geometry)`` as
    :func:`linewatch.formats.resources.load_boundaries` returns them (background only; ``None`` or
    empty for none). ``extent`` is ``(lon_min, lon_max, lat_min, lat_max)``; by default the
    line (or, with no line, the zones and sites; with neither, the points) padded by 10 %,
    widened to the map's aspect. With a ``gazetteer``, up to ``max_places`` of the most
    populous settlements in view are labelled.
    """
    width_in, height_in = figsize
    has_legend = bool(agreement.zones or agreement.line_parts or agreement.reference_parts
                      or layers)
    side_legend = has_legend and width_in >= 7.0
    left_in, right_in, bottom_in = 0.75, 0.2, 0.5
    heading = title if title is not None else agreement.title
    # the title on one line, shrunk down to 10 pt if need be, else on two lines
    title_pt = (width_in - left_in - right_in) * 72.0
    title_size = min(13.0, max(10.0, title_pt / (0.64 * max(len(heading), 1))))
    if 0.64 * title_size * len(heading) > title_pt:
        heading = textwrap.fill(heading, int(title_pt / (0.64 * title_size)), max_lines=2,
                                placeholder=" …")
    title_lines = heading.count("\n") + 1
    top_in = 0.95 + (title_lines - 1) * title_size * 1.25 / 72.0
    legend_in = 2.75 if side_legend else 0.0
    map_w = width_in - left_in - right_in - legend_in
    map_h = height_in - top_in - bottom_in
    if map_w <= 1.0 or map_h <= 1.0:
        raise ValueError(f"figsize {figsize!r} is too small for a map")

    lims = _extent_xy(agreement, extent, layers, map_h / map_w)
    fig, ax = map_axes(figsize, (left_in, bottom_in, map_w, map_h), lims)
    labels = _Labels(lims, map_w)
    shown = draw_base(ax, agreement, boundaries, lims)
    handles: list = []
    _draw_zones(ax, agreement, handles, labels)
    _draw_lines(ax, agreement, handles)
    _scale_bar(ax, agreement, lims, labels)
    _north_arrow(ax, agreement, lims, labels)
    placed = (_draw_places(ax, agreement, gazetteer, lims, max_places, labels)
              if gazetteer is not None else False)
    _side_labels(ax, agreement, labels)
    _draw_country_labels(ax, shown, lims, labels)
    _draw_points(ax, agreement, layers, handles)
    if handles:
        for h in handles:
            h.set_label(textwrap.fill(h.get_label(), 38 if side_legend else 60))
        where = (dict(loc="upper left", bbox_to_anchor=(1.0 + 0.15 / map_w, 1.0),
                      borderaxespad=0.0) if side_legend else dict(loc="upper left"))
        leg = ax.legend(handles=handles, fontsize=7.5 if len(handles) <= 14 else 6.5, framealpha=0.95, edgecolor="#bbbbbb",
                        fancybox=False, borderpad=0.7, labelspacing=0.7, handlelength=2.0,
                        title="Legend", title_fontproperties={"size": 8.5, "weight": "bold"},
                        alignment="left", **where)
        leg.set_zorder(_Z_DECOR + 1)

    left = left_in / width_in
    fig.text(left, 1.0 - 0.22 / height_in, heading, ha="left", va="top", fontsize=title_size,
             fontweight="bold", color="#1b1b1b", linespacing=1.1)
    spec = agreement.spec
    sub = f"Agreement {agreement.id}, version {agreement.version}"
    if spec.notional or (spec.line is not None and spec.line.notional):
        sub += " · NOTIONAL: not a real line or agreement"
    fig.text(left, 1.0 - (top_in - 0.4) / height_in, sub, ha="left", va="top", fontsize=8.5,
             color="#555555")
    credits = ["Country borders: Natural Earth (public domain); they are not the line of contact"]
    if placed:
        credits.append("Places: GeoNames (CC BY 4.0)")
    credits.append(f"Transverse Mercator, central meridian {agreement.frame.lon_0:g}°")
    fig.text(left, 0.08 / height_in, " · ".join(credits), ha="left", va="bottom", fontsize=6.5,
             color="#777777")
    return fig


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 150) -> Path:
    """Write a figure (format from the suffix: .png, .pdf, .svg); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    with warnings.catch_warnings():
        # names in scripts the bundled DejaVu fonts lack (e.g. Hangul) render as boxes
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
        fig.savefig(path, dpi=dpi, facecolor=fig.get_facecolor())
    return path
