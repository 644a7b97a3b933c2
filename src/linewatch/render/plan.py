"""The plan's figures and its HTML page (docs/planning.md)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from linewatch.agreement import Agreement
from linewatch.formats.resources import Boundaries
from linewatch.render.basemap import draw_base, map_axes

__all__ = ["KIND_STYLE", "plan_html", "plan_map", "save", "sweep_figure"]

KIND_STYLE = {"microphone": ("^", "#1f77b4"), "array": ("s", "#2ca02c"), "observer": ("o", "#d62728"),
              "camera": ("D", "#9467bd"), "uav": ("P", "#ff7f0e")}


def _lims(x: np.ndarray, y: np.ndarray, aspect: float) -> tuple[float, float, float, float]:
    """The map's extent around the points, padded, at the box's aspect ratio."""
    x0, x1, y0, y1 = float(x.min()), float(x.max()), float(y.min()), float(y.max())
    pad = 0.05 * max(x1 - x0, y1 - y0, 10_000.0)
    x0, x1, y0, y1 = x0 - pad, x1 + pad, y0 - pad, y1 + pad
    w, h = x1 - x0, y1 - y0
    if w / h < aspect:
        c = 0.5 * (x0 + x1)
        x0, x1 = c - 0.5 * h * aspect, c + 0.5 * h * aspect
    else:
        c = 0.5 * (y0 + y1)
        y0, y1 = c - 0.5 * w / aspect, c + 0.5 * w / aspect
    return x0, x1, y0, y1


def plan_map(agreement: Agreement, boundaries: Boundaries, demand_x: np.ndarray, demand_y: np.ndarray,
             value: np.ndarray, sites_x: np.ndarray, sites_y: np.ndarray, site_kind: np.ndarray, *,
             title: str, label: str, cmap: str, vmin: float, vmax: float) -> Figure:
    """Demand points coloured by ``value`` with the chosen sites on top, on the base map."""
    figsize, box = (10.0, 8.0), (0.6, 0.5, 7.6, 7.0)
    lims = _lims(np.concatenate([demand_x, sites_x]), np.concatenate([demand_y, sites_y]),
                 box[2] / box[3])
    fig, ax = map_axes(figsize, box, lims)
    draw_base(ax, agreement, boundaries, lims)
    for part in agreement.line_parts or []:
        x, y = agreement.frame.to_xy(part[:, 0], part[:, 1])
        ax.plot(x, y, color="black", lw=1.2, zorder=3)
    v = np.where(np.isfinite(value), value, vmax)
    sc = ax.scatter(demand_x, demand_y, c=v, s=6, cmap=cmap, vmin=vmin, vmax=vmax, zorder=4, lw=0)
    for kind, (marker, colour) in KIND_STYLE.items():
        sel = site_kind == kind
        if sel.any():
            ax.scatter(sites_x[sel], sites_y[sel], marker=marker, s=14, c=colour, edgecolors="black",
                       linewidths=0.3, zorder=5, label=f"{kind} ({int(sel.sum())})")
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    cax = fig.add_axes((8.5 / figsize[0], 0.15, 0.02, 0.7))
    fig.colorbar(sc, cax=cax, label=label)
    ax.set_title(title, fontsize=11)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def sweep_figure(rows: list[dict[str, Any]]) -> Figure:
    """Cost and crews against the detection target."""
    fig = Figure(figsize=(7.0, 4.0))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.12, 0.15, 0.75, 0.75))
    ok = [r for r in rows if r.get("cost") is not None]
    p = [r["detection_probability"] for r in ok]
    ax.plot(p, [r["cost"] / 1e6 for r in ok], "o-", color="#1f77b4", label="cost")
    ax.set_xlabel("target P(detect an artillery launch)")
    ax.set_ylabel("cost (millions)")
    ax2 = ax.twinx()
    ax2.plot(p, [r["sites"] for r in ok], "s--", color="#d62728", label="assets")
    ax2.set_ylabel("assets")
    for r in rows:
        if r.get("cost") is None:
            ax.axvline(r["detection_probability"], color="grey", ls=":")
    ax.set_title("Cost against coverage", fontsize=11)
    ax.grid(alpha=0.3)
    return fig


def save(fig: Figure, path: Path) -> Path:
    """Write the figure (PNG at 110 dpi); returns ``path``."""
    fig.savefig(path, dpi=110)
    return path


def _table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, dict):
        return ", ".join(f"{k} {_fmt(x)}" for k, x in v.items())
    return str(v)


def plan_html(plan: dict[str, Any], figures: dict[str, str]) -> str:
    """A self-contained page (figures by relative path) for the plan's JSON."""
    s = plan["summary"]
    t = plan["targets"]
    parts = [f"<h1>Mission plan: {html.escape(plan['agreement']['title'])}</h1>",
             f"<p>Line km {t['line_from_km']:g}–{_fmt(plan['line_to_km'])}; within {t['band_km']:g} km of the "
             f"line, P(detect a {html.escape(t['event_kind'])}) ≥ {t['detection_probability']:g}, "
             f"each point seen by ≥ {t['k_coverage']} sensors"
             + (f", CRLB ≤ {t['crlb_m']:g} m" if t.get("crlb_m") else "") + ".</p>",
             f"<p><b>{s['sites']:,} assets</b>, cost {s['cost']:,.0f}; monitors: "
             f"{s['crew_per_shift']:,} per shift, {s['crew_total']:,} in total. Solved by HiGHS: "
             f"{plan['solver']['gap_to_lp'] * 100:.2f} % above the linear relaxation's bound "
             f"({plan['solver']['lp_bound']:,.0f}; "
             f"HiGHS's bound {plan['solver'].get('dual_bound', plan['solver']['lp_bound']):,.0f}); "
             f"{plan['solver']['status']}.</p>",
             "<h2>Assets by type</h2>", _table(s["by_type"], ["asset", "kind", "count", "cost",
                                                              "crew_per_shift", "crew_total"]),
             "<h2>Achieved at the demand points</h2>", _table([plan["achieved"]], list(plan["achieved"])),
             "<h2>Weakest stretches</h2>", _table(plan["weakest"], list(plan["weakest"][0]) if plan["weakest"] else []),
             ]
    if plan.get("sectors"):
        parts += ["<h2>Sectors of the contributing nations</h2>",
                  _table(plan["sectors"], ["nation", "from_km", "to_km", "target_share", "cost_share",
                                           "cost", "crew", "assets"])]
    if plan.get("sweep"):
        parts += ["<h2>Cost against coverage</h2>",
                  _table(plan["sweep"], ["detection_probability", "sites", "cost", "crew_total", "gap_to_lp", "note"])]
    if plan.get("check"):
        c = plan["check"]
        parts += ["<h2>Independent check by simulation</h2>",
                  f"<p>{html.escape(c['scenario'])}, km {c['from_km']:g}–{c['to_km']:g}, seed {c['seed']}: "
                  f"{c['n_launches']} launches; heard {_fmt(c['heard_share'])}, heard by enough sensors "
                  f"to be located {_fmt(c.get('enough_share'))}, located by fusion "
                  f"{_fmt(c['detection_share'])}; RMSE {_fmt(c['rmse_m'])} m against a CRLB of "
                  f"{_fmt(c['crlb_m'])} m. The promises beside each stretch: <i>heard</i> is the plan's "
                  f"P(detect), <i>enough</i> its P(enough sensors detect), <i>crlb_m</i> its median "
                  f"bound; fusion in clutter locates fewer than have enough detections.</p>",
                  _table(c["stretches"], [k for k in c["stretches"][0]] if c["stretches"] else [])]
    for name, path in figures.items():
        parts.append(f'<figure><img src="{html.escape(path)}" alt="{html.escape(name)}" '
                     'style="max-width:100%"></figure>')
    style = ("body{font-family:DejaVu Sans,sans-serif;max-width:1000px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;"
             "padding:3px 8px;font-size:0.9em;text-align:right}th{background:#f2f2f2}")
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>linewatch plan</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}"
            f"<script type=application/json id=plan>{html.escape(json.dumps(plan['summary']))}</script>"
            "</body></html>")
