"""Write the daily report: JSON, HTML, PDF, and the map and trend images they show.

A shell module. :func:`write_report` takes the data :func:`linewatch.reporting.daily.build_daily_report`
built and writes ``report-YYYY-MM-DD.{json,html,pdf}``, ``map-YYYY-MM-DD.png`` and
``trend-YYYY-MM-DD.png`` into ``out_dir``. Everything is first written into a temporary
directory inside ``out_dir`` and then renamed into place, so a failure leaves no half-written
report behind (a previous report of the same day stays as it was).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from linewatch.agreement import Agreement
from linewatch.model import Kind, Report
from linewatch.render.plots import KIND_COLORS, trend_figure

TEMPLATE = "daily_report.html.j2"
STYLESHEET = "daily_report.css"

#: The map's point layers: the fire kinds, then weapons in violation and protected-site strikes.
WEAPON_COLOR = "#0b3d91"
STRIKE_COLOR = "#7f0000"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("linewatch.render", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["hm"] = lambda iso: iso[11:16] if iso else ""
    env.filters["long_date"] = _long_date
    env.filters["dt"] = lambda iso: f"{_long_date(iso)} {iso[11:16]}"
    env.filters["ids"] = lambda fig: " ".join(fig.get("records", []))
    env.filters["pct"] = lambda p: f"{100 * p:.0f}\u202f%" if p is not None else ""
    env.filters["words"] = lambda s: (s or "").replace("_", " ")
    return env


def _long_date(iso: str) -> str:
    d = date.fromisoformat(iso[:10])
    return f"{d.day} {d.strftime('%B %Y')}"


def render_html(report: dict[str, Any], *, map_file: str | None, trend_file: str | None,
                coverage_files: dict[str, str] | None = None) -> str:
    """The report as a self-contained HTML page (the CSS inline, the images as relative links)."""
    css = resources.files("linewatch.render").joinpath("templates", STYLESHEET).read_text(encoding="utf-8")
    parties = {p["id"]: p["name"] for p in report["header"]["parties"]}
    return _environment().get_template(TEMPLATE).render(
        r=report, css=css, map_file=map_file, trend_file=trend_file,
        coverage_files=coverage_files or {}, parties=parties,
        party=lambda pid: parties.get(pid, "not attributed") if pid else "not attributed")


def _points(report: dict[str, Any], reports: Sequence[Report] | None) -> dict[str, tuple[str, float, float]]:
    """``id -> (kind, lon, lat)`` of the day's records, from ``reports`` or the report's table."""
    if reports is not None:
        return {r.id: (r.kind.value, r.location.lon, r.location.lat) for r in reports}
    return {d["id"]: (d["kind"], d["lon"], d["lat"]) for d in report.get("records", [])}


def map_layers(report: dict[str, Any], reports: Sequence[Report] | None = None) -> list:
    """One :class:`~linewatch.render.maps.PointLayer` per violation kind seen that day."""
    from linewatch.render.maps import PointLayer

    pts = _points(report, reports)
    labels = report["ceasefire_violations"]["kind_labels"]
    layers = []

    def layer(label: str, ids: Sequence[str], color: str, marker: str, size: float) -> None:
        ids = [i for i in sorted(ids) if i in pts]
        if ids:
            layers.append(PointLayer(label,
                                     np.array([pts[i][1] for i in ids], dtype=float),
                                     np.array([pts[i][2] for i in ids], dtype=float), color, marker, size))

    for kind, color in KIND_COLORS.items():
        ids = [i for i, (k, _, _) in pts.items() if k == kind]
        layer(labels.get(kind, kind).capitalize(), ids, color, "o", 18)
    layer("Weapons in violation of withdrawal lines", report["weapons"]["in_violation"]["records"],
          WEAPON_COLOR, "^", 28)
    strikes = [i for i, (k, _, _) in pts.items() if k == Kind.INFRASTRUCTURE_STRIKE.value]
    layer("Strikes on infrastructure", strikes, STRIKE_COLOR, "X", 40)
    return layers


def _write_json(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def write_report(report: dict[str, Any], agreement: Agreement, out_dir: Path, *,
                 boundaries=None, reports: Sequence[Report] | None = None,
                 gazetteer=None, network=None) -> dict[str, Path]:
    """Write the report's JSON, HTML, PDF and PNGs into ``out_dir``; returns them by name
    (``json``, ``html``, ``pdf``, ``map``, ``trend``; with the sensor ``network``, also
    ``coverage_map`` at noon and ``coverage_hours``, the share of the line covered each hour)."""
    from weasyprint import HTML

    from linewatch.render.maps import agreement_figure, save_figure

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    day = report["header"]["date"]
    names = {"json": f"report-{day}.json", "html": f"report-{day}.html",
             "pdf": f"report-{day}.pdf", "map": f"map-{day}.png", "trend": f"trend-{day}.png"}
    tmp = Path(tempfile.mkdtemp(prefix=f".report-{day}-", dir=out_dir))
    try:
        title = f"Ceasefire violations and findings, {_long_date(day)} (UTC)"
        fig = agreement_figure(agreement, boundaries, layers=map_layers(report, reports), title=title,
                               figsize=(10, 7.2), gazetteer=gazetteer)
        save_figure(fig, tmp / names["map"], dpi=150)
        fig = trend_figure(report)
        save_figure(fig, tmp / names["trend"], dpi=150)
        keys = ["map", "trend", "json", "html", "pdf"]
        hours = report["coverage"].get("line_share_by_hour")
        if network is not None and hours:
            from datetime import datetime

            from linewatch.render.coverage_map import coverage_figure, hourly_share_figure
            names["coverage_map"], names["coverage_hours"] = (f"coverage-map-{day}.png",
                                                              f"coverage-hours-{day}.png")
            noon = datetime.fromisoformat(f"{day}T12:00:00+00:00").timestamp()
            fig = coverage_figure(network, noon, "explosion", agreement=agreement,
                                  boundaries=boundaries, gazetteer=gazetteer,
                                  title=f"What the sensor network could detect (explosions), "
                                        f"{_long_date(day)} 12:00 UTC")
            save_figure(fig, tmp / names["coverage_map"], dpi=120)
            save_figure(hourly_share_figure(hours), tmp / names["coverage_hours"], dpi=150)
            keys += ["coverage_map", "coverage_hours"]
        _write_json(report, tmp / names["json"])
        html = render_html(report, map_file=names["map"], trend_file=names["trend"],
                           coverage_files={k: names[k] for k in ("coverage_map", "coverage_hours")
                                           if k in names})
        (tmp / names["html"]).write_text(html, encoding="utf-8")
        HTML(string=html, base_url=str(tmp)).write_pdf(tmp / names["pdf"])
        out = {}
        for key in keys:
            os.replace(tmp / names[key], out_dir / names[key])
            out[key] = out_dir / names[key]
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


__all__ = ["map_layers", "render_html", "write_report"]
