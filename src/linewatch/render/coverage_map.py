"""Coverage maps and the share of the line covered each hour (``linewatch.coverage``).

:func:`coverage_figure` draws, for one event kind at one time, the probability that the
network would have detected an event at each place (a raster), the threshold's contour, the
line and zones of an agreement, every sensor by kind (those down crossed out), the cameras'
fields of view, the UAVs' footprints (while airborne) and the patrols where they are.
:func:`draw_coverage_layer` draws the raster on any map in a working frame (the daily report's
map); :func:`hourly_line_shares` and :func:`hourly_share_figure` give the daily report's
"share of the line covered each hour".

The base map (Natural Earth land and borders, graticule, scale bar, north arrow, line, zones
and places) comes from :mod:`linewatch.render.basemap` and
:mod:`linewatch.render.layers`. A shell module: matplotlib's object API
on the Agg canvas, never ``pyplot``.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LinearSegmentedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch, Wedge

from linewatch.agreement import Agreement
from linewatch.coverage import Network, detection_probability, hourly_line_coverage
from linewatch.geo import Gazetteer, WorkingFrame
from linewatch.model import utc_iso, utc_minute
from linewatch.render.basemap import draw_base, draw_credits, draw_places, map_axes, north_arrow, scale_bar
from linewatch.render.labels import LabelBoxes, Lims
from linewatch.render.layers import draw_lines, draw_zones

__all__ = ["COVERAGE_CMAP", "SENSOR_STYLE", "coverage_figure", "draw_coverage_layer",
           "hourly_line_shares", "hourly_share_figure"]

#: White (nothing) to deep green (certain): a sequential, colour-blind-safe ramp that stays
#: clear of the parties' blue and orange.
COVERAGE_CMAP = LinearSegmentedColormap.from_list(
    "coverage", ["#f7fcf5", "#c7e9c0", "#74c476", "#238b45", "#00441b"])
THRESHOLD_COLOR = "#7b3294"
_Z_RASTER = 6.5            # above land, zones and sites; below the lines, places and assets
_Z_ASSETS = 9.5
#: The coverage map's margins and legend column, in inches.
_LEFT_IN, _RIGHT_IN, _BOTTOM_IN, _TOP_IN, _LEGEND_IN = 0.75, 0.2, 0.5, 1.0, 2.9

#: How each asset kind is drawn: (label, marker, colour, size in points²).
SENSOR_STYLE: dict[str, tuple[str, str, str, float]] = {
    "microphone": ("Microphone", "o", "#4d4d4d", 9.0),
    "array": ("Microphone array", "^", "#1b1b1b", 16.0),
    "observer": ("Observation post", "s", "#8c510a", 22.0),
    "camera": ("Camera", "D", "#01665e", 18.0),
    "uav": ("UAV (orbit centre)", "P", "#5e3c99", 40.0),
    "patrol": ("Patrol", "*", "#b2182b", 70.0),
}


# -- the raster -----------------------------------------------------------------------------

def draw_coverage_layer(ax: Any, frame: WorkingFrame, network: Network, time_s: float, kind: str,
                        lims: Lims, *, pixels: int = 360,
                        threshold: float | None = 0.5, alpha: float = 0.8) -> list:
    """The detection probability on ``ax`` (in ``frame`` metres over ``lims`` = x0, x1, y0, y1)
    with the ``threshold`` contour; returns legend handles. Probabilities under 1 % are not
    drawn, so the base map shows through."""
    x0, x1, y0, y1 = lims
    nx = max(int(pixels), 8)
    ny = max(int(round(nx * (y1 - y0) / (x1 - x0))), 8)
    xs = x0 + (np.arange(nx) + 0.5) * (x1 - x0) / nx
    ys = y0 + (np.arange(ny) + 0.5) * (y1 - y0) / ny
    gx, gy = np.meshgrid(xs, ys)
    lon, lat = frame.to_lonlat(gx.ravel(), gy.ravel())
    prob = detection_probability(network, lon, lat, time_s, kind).reshape(ny, nx)
    ax.imshow(np.ma.masked_less(prob, 0.01), extent=(x0, x1, y0, y1), origin="lower",
              cmap=COVERAGE_CMAP, vmin=0.0, vmax=1.0, alpha=alpha, interpolation="bilinear",
              zorder=_Z_RASTER, aspect="auto")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    handles: list = [Patch(facecolor=COVERAGE_CMAP(0.75), alpha=alpha,
                           label=f"P(detect) for {kind.replace('_', ' ')}")]
    if threshold is not None and float(prob.min()) < threshold < float(prob.max()):
        ax.contour(gx, gy, prob, levels=[threshold], colors=THRESHOLD_COLOR, linewidths=1.0,
                   zorder=_Z_RASTER + 0.1)
        handles.append(Line2D([], [], color=THRESHOLD_COLOR, linewidth=1.0,
                              label=f"P = {threshold:g}"))
    return handles


# -- the assets -----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Assets:
    """The network's sensors at one time, in the map's frame: where, in view, down."""

    frame: WorkingFrame
    network: Network
    time_s: float
    x: np.ndarray
    y: np.ndarray
    inside: np.ndarray
    down: np.ndarray
    down_ids: set[str]

    @classmethod
    def at(cls, frame: WorkingFrame, network: Network, time_s: float, lims: Lims) -> _Assets:
        s = network.sensors
        x, y = (np.atleast_1d(v) for v in frame.to_xy(s.lon, s.lat))
        x0, x1, y0, y1 = lims
        inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        down_ids = {o.sensor_id for o in network.outages if o.start_s <= time_s < o.end_s}
        down = np.array([str(i) in down_ids for i in s.ids], bool)
        return cls(frame, network, time_s, x, y, inside, down, down_ids)


def _scale_at(x: float, lat: float) -> float:
    """The projection's scale factor at easting ``x`` and latitude ``lat``."""
    return float(WorkingFrame.scale_factor(np.array([x]), np.array([lat]))[0])


def _draw_assets(ax: Any, frame: WorkingFrame, network: Network, time_s: float, kind: str,
                 lims: Lims) -> list:
    """Camera views, UAV footprints, the sensors by kind (those down crossed out) and the
    patrols; returns their legend handles."""
    a = _Assets.at(frame, network, time_s, lims)
    handles = _draw_camera_views(ax, a)
    footprints, airborne = _draw_uav_footprints(ax, a, kind)
    handles += footprints
    handles += _draw_sensors(ax, a, airborne)
    handles += _draw_patrols(ax, a)
    return handles


def _draw_camera_views(ax: Any, a: _Assets) -> list:
    s = a.network.sensors
    index = s.index()
    color = SENSOR_STYLE["camera"][2]
    wedges = 0
    for v in a.network.camera_views:
        i = index[v.sensor_id]
        if not a.inside[i] or a.down[i]:
            continue
        gamma = math.degrees(float(a.frame.convergence_rad(s.lon[i], s.lat[i])))
        az = v.azimuth_deg - gamma
        ax.add_patch(Wedge((a.x[i], a.y[i]), v.range_m * _scale_at(a.x[i], s.lat[i]),
                           90.0 - az - v.half_fov_deg, 90.0 - az + v.half_fov_deg,
                           facecolor=(*to_rgb(color), 0.15), edgecolor=color, linewidth=0.6,
                           zorder=_Z_ASSETS - 0.5))
        wedges += 1
    if not wedges:
        return []
    return [Patch(facecolor=color, alpha=0.25, edgecolor=color, label="Camera field of view")]


def _draw_uav_footprints(ax: Any, a: _Assets, kind: str) -> tuple[list, set[str]]:
    """The footprints of the UAVs airborne (and up) at the time; returns the legend handles
    and the UAVs' ids."""
    s = a.network.sensors
    index = s.index()
    color = SENSOR_STYLE["uav"][2]
    airborne: set[str] = set()
    for f in a.network.flights:
        if not f.start_s <= a.time_s < f.end_s or f.sensor_id in a.down_ids:
            continue
        i = index[f.sensor_id]
        if f.track:
            tr = np.asarray(f.track)
            lon_t, lat_t = np.interp(a.time_s, tr[:, 2], tr[:, 0]), np.interp(a.time_s, tr[:, 2], tr[:, 1])
        else:
            lon_t, lat_t = s.lon[i], s.lat[i]
        cx, cy = (float(v) for v in a.frame.to_xy(lon_t, lat_t))
        default = a.network.table.get(("uav", kind))
        radius = f.radius_m if f.radius_m is not None else (default.r50_m if default else 0.0)
        ax.add_patch(Circle((cx, cy), radius * _scale_at(cx, lat_t), facecolor="none",
                            edgecolor=color, linestyle=(0, (4, 2)), linewidth=0.9,
                            zorder=_Z_ASSETS - 0.5))
        airborne.add(f.sensor_id)
    if not airborne:
        return [], airborne
    return [Line2D([], [], color=color, linestyle=(0, (4, 2)),
                   label=f"UAV footprint, airborne ({len(airborne)})")], airborne


def _draw_sensors(ax: Any, a: _Assets, airborne: set[str]) -> list:
    """The sensors in view by kind (smaller where there are many), then those down."""
    s = a.network.sensors
    shrink = float(np.clip(math.sqrt(150.0 / max(int(a.inside.sum()), 1)), 0.35, 1.0))
    handles: list = []
    for kind, (label, marker, color, size) in SENSOR_STYLE.items():
        if kind == "patrol":
            continue
        size = size * shrink * shrink
        sel = a.inside & (s.kind == kind)
        if not sel.any():
            continue
        note = _scatter_kind(ax, a, kind, sel, (marker, color, size), airborne)
        handles.append(Line2D([], [], marker=marker, color=color, linestyle="none",
                              markeredgecolor="white", markersize=math.sqrt(size) + 1,
                              label=f"{label} ({int(sel.sum())}{note})"))
    dsel = a.inside & a.down
    if dsel.any():
        ax.scatter(a.x[dsel], a.y[dsel], s=22, marker="x", c="#b2182b", linewidths=1.0, zorder=_Z_ASSETS)
        handles.append(Line2D([], [], marker="x", color="#b2182b", linestyle="none",
                              label=f"Sensor down ({int(dsel.sum())})"))
    return handles


def _scatter_kind(ax: Any, a: _Assets, kind: str, sel: np.ndarray, style: tuple[str, str, float],
                  airborne: set[str]) -> str:
    """One kind's markers: UAVs filled while airborne, cameras filled when they have a view,
    others filled while up. Returns the note for the legend label."""
    marker, color, size = style
    s, x, y = a.network.sensors, a.x, a.y
    up = sel & ~a.down
    if kind == "uav":
        flying = np.array([str(i) in airborne for i in s.ids], bool)
        ax.scatter(x[sel & flying], y[sel & flying], s=size, marker=marker, c=color,
                   edgecolors="white", linewidths=0.5, zorder=_Z_ASSETS)
        ax.scatter(x[sel & ~flying], y[sel & ~flying], s=size, marker=marker, facecolors="none",
                   edgecolors=color, linewidths=0.8, zorder=_Z_ASSETS)
        return f", {int((sel & ~flying).sum())} grounded (hollow)"
    if kind == "camera":
        viewed = np.isin(s.ids.astype(str), [v.sensor_id for v in a.network.camera_views])
        ax.scatter(x[up & viewed], y[up & viewed], s=size, marker=marker, c=color,
                   edgecolors="white", linewidths=0.4, zorder=_Z_ASSETS)
        ax.scatter(x[up & ~viewed], y[up & ~viewed], s=size, marker=marker, facecolors="none",
                   edgecolors=color, linewidths=0.8, zorder=_Z_ASSETS)
        blind = int((up & ~viewed).sum())
        return f", {blind} without a view: not counted (hollow)" if blind else ""
    ax.scatter(x[up], y[up], s=size, marker=marker, c=color, edgecolors="white",
               linewidths=0.4, zorder=_Z_ASSETS)
    return ""


def _draw_patrols(ax: Any, a: _Assets) -> list:
    """Each patrol's track, and where it is at the time."""
    n_here = 0
    label, marker, color, size = SENSOR_STYLE["patrol"]
    for p in a.network.patrols:
        tr = np.asarray(p.track)
        tx, ty = a.frame.to_xy(tr[:, 0], tr[:, 1])
        ax.plot(tx, ty, color=color, linewidth=0.8, alpha=0.5, zorder=_Z_ASSETS - 0.5)
        if tr[0, 2] <= a.time_s <= tr[-1, 2]:
            px, py = a.frame.to_xy(np.interp(a.time_s, tr[:, 2], tr[:, 0]),
                                   np.interp(a.time_s, tr[:, 2], tr[:, 1]))
            ax.scatter([float(px)], [float(py)], s=size, marker=marker, c=color,
                       edgecolors="white", linewidths=0.5, zorder=_Z_ASSETS + 0.1)
            n_here += 1
    if not a.network.patrols:
        return []
    return [Line2D([], [], marker=marker, color=color, markeredgecolor="white",
                   markersize=math.sqrt(size) + 1, linewidth=0.8,
                   label=f"{label}: track, position ({n_here} out)")]


# -- the map --------------------------------------------------------------------------------

def _lims(frame: WorkingFrame, network: Network, extent: Sequence[float] | None,
          aspect: float, pad_m: float) -> Lims:
    if extent is not None:
        lon0, lon1, lat0, lat1 = map(float, extent)
        if not (lon0 < lon1 and lat0 < lat1):
            raise ValueError(f"extent must be (lon_min, lon_max, lat_min, lat_max) with min < max, "
                             f"got {tuple(extent)!r}")
        t = np.linspace(0.0, 1.0, 25)
        lon = np.concatenate([lon0 + (lon1 - lon0) * t, np.full(25, lon1), lon0 + (lon1 - lon0) * t,
                              np.full(25, lon0)])
        lat = np.concatenate([np.full(25, lat0), lat0 + (lat1 - lat0) * t, np.full(25, lat1),
                              lat0 + (lat1 - lat0) * t])
        x, y = frame.to_xy(lon, lat)
        x0, y0, x1, y1 = x.min(), y.min(), x.max(), y.max()
    else:
        lons = [network.sensors.lon] + [np.asarray(p.track)[:, 0] for p in network.patrols]
        lats = [network.sensors.lat] + [np.asarray(p.track)[:, 1] for p in network.patrols]
        x, y = frame.to_xy(np.concatenate(lons), np.concatenate(lats))
        x0, y0 = float(np.min(x)) - pad_m, float(np.min(y)) - pad_m
        x1, y1 = float(np.max(x)) + pad_m, float(np.max(y)) + pad_m
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    if h / w < aspect:
        h = w * aspect
    else:
        w = h / aspect
    return cx - w / 2.0, cx + w / 2.0, cy - h / 2.0, cy + h / 2.0


def coverage_figure(network: Network, time_s: float, kind: str, *,
                    agreement: Agreement | None = None,
                    boundaries: Sequence[tuple[str, str, Any]] | None = None,
                    gazetteer: Gazetteer | None = None,
                    extent: Sequence[float] | None = None, threshold: float = 0.5,
                    pixels: int = 360, pad_m: float = 20_000.0, title: str | None = None,
                    figsize: tuple[float, float] = (11.0, 8.0)) -> Figure:
    """A coverage map for one event ``kind`` at ``time_s``.

    Drawn in the agreement's working frame (or the network's, without one). ``extent`` is
    ``(lon_min, lon_max, lat_min, lat_max)``; by default the network's assets padded by
    ``pad_m``. ``boundaries`` as :func:`linewatch.formats.resources.load_boundaries` returns them.
    """
    width_in, height_in = figsize
    map_w = width_in - _LEFT_IN - _RIGHT_IN - _LEGEND_IN
    map_h = height_in - _TOP_IN - _BOTTOM_IN
    if map_w <= 1.0 or map_h <= 1.0:
        raise ValueError(f"figsize {figsize!r} is too small for a map")
    base = agreement if agreement is not None else network
    frame = base.frame
    lims = _lims(frame, network, extent, map_h / map_w, pad_m)
    fig, ax = map_axes(figsize, (_LEFT_IN, _BOTTOM_IN, map_w, map_h), lims)
    labels = LabelBoxes(lims, map_w)
    draw_base(ax, base, boundaries, lims)
    handles = draw_coverage_layer(ax, frame, network, time_s, kind, lims, pixels=pixels,
                                  threshold=threshold)
    if agreement is not None:
        draw_zones(ax, agreement, handles, labels)
        draw_lines(ax, agreement, handles)
    scale_bar(ax, frame, lims, labels)
    north_arrow(ax, frame, lims, labels)
    placed = (draw_places(ax, frame, gazetteer, lims, 10, labels)
              if gazetteer is not None else False)
    handles += _draw_assets(ax, frame, network, time_s, kind, lims)
    _legend_and_colorbar(fig, ax, handles, figsize, (map_w, map_h))
    left = _LEFT_IN / width_in
    heading = title or f"Coverage: {kind.replace('_', ' ')} at {utc_minute(time_s)}"
    fig.text(left, 1.0 - 0.22 / height_in, heading, ha="left", va="top", fontsize=13,
             fontweight="bold", color="#1b1b1b")
    fig.text(left, 1.0 - 0.55 / height_in, _subtitle(network, time_s, agreement, width_in),
             ha="left", va="top", fontsize=8.5, color="#555555", linespacing=1.15)
    draw_credits(fig, left, height_in, placed=placed, lon_0=frame.lon_0)
    return fig


def _legend_and_colorbar(fig: Figure, ax: Any, handles: list, figsize: tuple[float, float],
                         map_size: tuple[float, float]) -> None:
    """The colour bar at the top of the right-hand column, the legend under it."""
    width_in, height_in = figsize
    map_w, map_h = map_size
    for h in handles:
        h.set_label(textwrap.fill(h.get_label(), 40))
    cax = fig.add_axes(((_LEFT_IN + map_w + 0.3) / width_in, (_BOTTOM_IN + map_h - 0.14) / height_in,
                        (_LEGEND_IN - 0.5) / width_in, 0.14 / height_in))
    leg = ax.legend(handles=handles, fontsize=7.5 if len(handles) <= 14 else 6.5, framealpha=0.95,
                    edgecolor="#bbbbbb", fancybox=False, borderpad=0.7,
                    labelspacing=0.7 if len(handles) <= 14 else 0.45,
                    title="Legend", title_fontproperties={"size": 8.5, "weight": "bold"},
                    alignment="left", loc="upper left",
                    bbox_to_anchor=(1.0 + 0.15 / map_w, 1.0 - 0.75 / map_h), borderaxespad=0.0)
    leg.set_zorder(20)
    sm = cax.figure.colorbar(ax.images[0], cax=cax, orientation="horizontal")
    sm.set_label("P(at least one asset detects)", fontsize=7.5)
    sm.ax.tick_params(labelsize=7)
    if sm.solids is not None:
        sm.solids.set_alpha(1.0)


def _subtitle(network: Network, time_s: float, agreement: Agreement | None, width_in: float) -> str:
    """What the map shows, on at most two lines."""
    n_down = sum(1 for o in network.outages if o.start_s <= time_s < o.end_s)
    sub = (f"Probability that at least one of {len(network.sensors)} sensors ({n_down} down) "
           f"and {len(network.patrols)} patrols would have detected an event of this kind there "
           "and then (assets independent)")
    if agreement is not None:
        sub += f" · agreement {agreement.id}, version {agreement.version}"
    return textwrap.fill(sub, int((width_in - _LEFT_IN - _RIGHT_IN) * 72 / (0.55 * 8.5)), max_lines=2,
                         placeholder=" …")


# -- the daily report's hourly shares -------------------------------------------------------

def hourly_line_shares(network: Network, line: Any, day_start_s: float, kind: str = "explosion",
                       *, threshold: float = 0.5, spacing_m: float = 1000.0) -> list[dict[str, Any]]:
    """For each hour of the day from ``day_start_s``: its start (ISO 8601 UTC) and the share
    of the line where P(detect) ≥ ``threshold`` (``line``: an agreement's ``line_parts`` or a
    shapely line)."""
    shares = hourly_line_coverage(network, line, day_start_s, kind, threshold=threshold,
                                  spacing_m=spacing_m)
    return [{"start": utc_iso(day_start_s + 3600.0 * h, timespec="seconds"),
             "share": round(float(v), 4)} for h, v in enumerate(shares)]


def hourly_share_figure(hours: Sequence[dict[str, Any]], *, kind: str = "explosion",
                        threshold: float = 0.5, figsize: tuple[float, float] = (9.0, 2.8)) -> Figure:
    """Bars of :func:`hourly_line_shares`: the share of the line covered each hour."""
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.075, 0.2, 0.9, 0.63))
    share = np.array([h["share"] for h in hours], dtype=float) * 100.0
    x = np.arange(len(share))
    ax.bar(x, share, width=0.8, color=COVERAGE_CMAP(0.7), edgecolor="white", linewidth=0.4)
    ax.set_xticks(x)
    ax.set_xticklabels([str(h["start"])[11:13] for h in hours], fontsize=7)
    ax.set_xlim(-0.6, max(len(share), 1) - 0.4)
    ax.set_ylim(0, 100)
    ax.set_ylabel("% of the line", fontsize=8.5)
    ax.set_xlabel("hour (UTC)", fontsize=8)
    ax.tick_params(axis="y", labelsize=7.5)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    day = str(hours[0]["start"])[:10] if hours else "no data"
    mean = f"; mean {share.mean():.1f} %" if len(share) else ""
    fig.text(0.075, 0.96, f"Share of the line covered, {day} (P ≥ {threshold:g} for "
             f"{kind.replace('_', ' ')}{mean})", fontsize=9.5, fontweight="bold", va="top",
             color="#1b1b1b")
    return fig
