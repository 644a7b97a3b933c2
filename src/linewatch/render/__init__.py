"""Rendering: the pictures and pages people read — maps, charts and the daily report.

Shell. It may import the core packages and :mod:`linewatch.formats`, nothing else of the shell
(``services``, ``cli`` and ``web`` call it, never the other way round). It draws and writes
what the core computed; it decides nothing.

The rooms:

- :mod:`~linewatch.render.maps` — the map of an agreement (:func:`agreement_figure`) and
  :func:`save_figure`; built from :mod:`~linewatch.render.basemap` (axes, countries,
  graticule, places, scale bar, north arrow), :mod:`~linewatch.render.layers` (zones, lines,
  the parties' names, point layers), :mod:`~linewatch.render.labels` (label placement),
  :mod:`~linewatch.render.shapes` (shapely to matplotlib paths) and
  :mod:`~linewatch.render.style` (palette and drawing order);
- :mod:`~linewatch.render.coverage_map` — the sensor network's coverage map and the share of
  the line covered each hour;
- :mod:`~linewatch.render.plots` — the daily report's trend chart;
- :mod:`~linewatch.render.report` — the daily report as JSON, HTML, PDF and images (its
  templates are in ``templates/``);
- :mod:`~linewatch.render.plan` — the sensor plan's maps, chart and page.

The names below are importable from the package, but each is loaded from its module on first
use, so that ``import linewatch.render`` does not load matplotlib, jinja2 or WeasyPrint.
matplotlib is used through its object API only (never ``pyplot``).
"""

from __future__ import annotations

from importlib import import_module as _import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from linewatch.render.coverage_map import (
        coverage_figure,
        draw_coverage_layer,
        hourly_line_shares,
        hourly_share_figure,
    )
    from linewatch.render.maps import PointLayer, agreement_figure, draw_base, map_axes, save_figure
    from linewatch.render.plan import plan_html, plan_map, sweep_figure
    from linewatch.render.plots import trend_figure
    from linewatch.render.report import map_layers, render_html, write_report

__all__ = [
    "PointLayer", "agreement_figure", "coverage_figure", "draw_base", "draw_coverage_layer",
    "hourly_line_shares", "hourly_share_figure", "map_axes", "map_layers", "plan_html", "plan_map",
    "render_html", "save_figure", "sweep_figure", "trend_figure", "write_report",
]

#: The module each public name is loaded from.
_HOME = {
    "PointLayer": "maps", "agreement_figure": "maps", "draw_base": "maps", "map_axes": "maps",
    "save_figure": "maps",
    "coverage_figure": "coverage_map", "draw_coverage_layer": "coverage_map",
    "hourly_line_shares": "coverage_map", "hourly_share_figure": "coverage_map",
    "plan_html": "plan", "plan_map": "plan", "sweep_figure": "plan",
    "trend_figure": "plots",
    "map_layers": "report", "render_html": "report", "write_report": "report",
}


def __getattr__(name: str) -> object:
    """Load a public name from its module on first use."""
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_import_module(f"{__name__}.{_HOME[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
