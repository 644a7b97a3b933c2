"""Maps of an agreement: its line, zones and sites, with located points on top.

:func:`agreement_figure` draws the map; :func:`save_figure` writes any figure. The pieces live
in their own modules: the base (axes, countries, graticule, places, scale bar, north arrow) in
:mod:`linewatch.render.basemap`, the agreement's layers in :mod:`linewatch.render.layers`, the
palette in :mod:`linewatch.render.style`. The names other code draws with are re-exported here.

Everything is drawn in the agreement's working frame (a transverse Mercator centred on the
line, :class:`linewatch.geo.WorkingFrame`), so distances and shapes on the map are true to
well under 0.1 % and a buffer zone of 15 km looks 15 km wide everywhere.

This is a shell module: it uses matplotlib's object API (:class:`matplotlib.figure.Figure`
with the Agg canvas), never ``pyplot``, so no global figure state is created or leaked.
"""

from __future__ import annotations

import textwrap
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from linewatch.agreement import Agreement
from linewatch.geo import Gazetteer
from linewatch.render.basemap import (
    draw_base,
    draw_country_labels,
    draw_credits,
    draw_places,
    map_axes,
    north_arrow,
    scale_bar,
)
from linewatch.render.labels import LabelBoxes, Lims
from linewatch.render.layers import PointLayer, draw_lines, draw_points, draw_zones, side_labels
from linewatch.render.style import LINE, PARTY_COLORS, Z_DECOR

__all__ = ["LINE", "PARTY_COLORS", "PointLayer", "agreement_figure", "draw_base", "map_axes",
           "save_figure"]


# -- extent ----------------------------------------------------------------------------------

def _content_xy_bounds(agreement: Agreement, layers: Sequence[PointLayer]
                       ) -> tuple[float, float, float, float] | None:
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


def _extent_xy(agreement: Agreement, extent: tuple[float, float, float, float] | None,
               layers: Sequence[PointLayer], aspect: float) -> Lims:
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


# -- layout ----------------------------------------------------------------------------------

_LEFT_IN, _RIGHT_IN, _BOTTOM_IN = 0.75, 0.2, 0.5


@dataclass(frozen=True)
class _Layout:
    """The heading as drawn, its size (pt), the top margin (in) and where the legend goes."""

    heading: str
    title_size: float
    top_in: float
    side_legend: bool


def _layout(agreement: Agreement, layers: Sequence[PointLayer], title: str | None,
            width_in: float) -> _Layout:
    """The heading on one line, shrunk down to 10 pt if need be, else on two lines; the legend
    beside the map when there is room for it."""
    has_legend = bool(agreement.zones or agreement.line_parts or agreement.reference_parts
                      or layers)
    side_legend = has_legend and width_in >= 7.0
    heading = title if title is not None else agreement.title
    title_pt = (width_in - _LEFT_IN - _RIGHT_IN) * 72.0
    title_size = min(13.0, max(10.0, title_pt / (0.64 * max(len(heading), 1))))
    if 0.64 * title_size * len(heading) > title_pt:
        heading = textwrap.fill(heading, int(title_pt / (0.64 * title_size)), max_lines=2,
                                placeholder=" …")
    title_lines = heading.count("\n") + 1
    top_in = 0.95 + (title_lines - 1) * title_size * 1.25 / 72.0
    return _Layout(heading, title_size, top_in, side_legend)


def _legend(ax: Any, handles: list[Any], side_legend: bool, map_w: float) -> None:
    for h in handles:
        h.set_label(textwrap.fill(h.get_label(), 38 if side_legend else 60))
    where: dict[str, Any] = (dict(loc="upper left", bbox_to_anchor=(1.0 + 0.15 / map_w, 1.0),
                                  borderaxespad=0.0) if side_legend else dict(loc="upper left"))
    leg = ax.legend(handles=handles, fontsize=7.5 if len(handles) <= 14 else 6.5, framealpha=0.95,
                    edgecolor="#bbbbbb", fancybox=False, borderpad=0.7, labelspacing=0.7,
                    handlelength=2.0, title="Legend",
                    title_fontproperties={"size": 8.5, "weight": "bold"}, alignment="left", **where)
    leg.set_zorder(Z_DECOR + 1)


def _captions(fig: Figure, agreement: Agreement, layout: _Layout, height_in: float, left: float,
              placed: bool) -> None:
    """The heading, the agreement and version under it, and the credits at the foot."""
    fig.text(left, 1.0 - 0.22 / height_in, layout.heading, ha="left", va="top",
             fontsize=layout.title_size, fontweight="bold", color="#1b1b1b", linespacing=1.1)
    spec = agreement.spec
    sub = f"Agreement {agreement.id}, version {agreement.version}"
    if spec.notional or (spec.line is not None and spec.line.notional):
        sub += " · NOTIONAL: not a real line or agreement"
    fig.text(left, 1.0 - (layout.top_in - 0.4) / height_in, sub, ha="left", va="top", fontsize=8.5,
             color="#555555")
    draw_credits(fig, left, height_in, placed=placed, lon_0=agreement.frame.lon_0)


# -- public API ------------------------------------------------------------------------------

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
    layout = _layout(agreement, layers, title, width_in)
    legend_in = 2.75 if layout.side_legend else 0.0
    map_w = width_in - _LEFT_IN - _RIGHT_IN - legend_in
    map_h = height_in - layout.top_in - _BOTTOM_IN
    if map_w <= 1.0 or map_h <= 1.0:
        raise ValueError(f"figsize {figsize!r} is too small for a map")

    lims = _extent_xy(agreement, extent, layers, map_h / map_w)
    fig, ax = map_axes(figsize, (_LEFT_IN, _BOTTOM_IN, map_w, map_h), lims)
    labels = LabelBoxes(lims, map_w)
    shown = draw_base(ax, agreement, boundaries, lims)
    handles: list[Any] = []
    draw_zones(ax, agreement, handles, labels)
    draw_lines(ax, agreement, handles)
    scale_bar(ax, agreement.frame, lims, labels)
    north_arrow(ax, agreement.frame, lims, labels)
    placed = (draw_places(ax, agreement.frame, gazetteer, lims, max_places, labels)
              if gazetteer is not None else False)
    side_labels(ax, agreement, labels)
    draw_country_labels(ax, shown, lims, labels)
    draw_points(ax, agreement, layers, handles)
    if handles:
        _legend(ax, handles, layout.side_legend, map_w)
    _captions(fig, agreement, layout, height_in, _LEFT_IN / width_in, placed)
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
