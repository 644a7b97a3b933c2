"""Charts for the daily report: the trend of ceasefire violations by kind.

A shell module using matplotlib's object API (:class:`matplotlib.figure.Figure` on the Agg
canvas), never ``pyplot``, so no global figure state is created or leaked.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

#: One colour per ceasefire-violation kind (Okabe-Ito palette, colour-blind safe), in the
#: SMM's order; chosen to be distinct from the two party colours of the map.
KIND_COLORS = {
    "explosion": "#d55e00",
    "projectile_in_flight": "#cc79a7",
    "muzzle_flash": "#009e73",
    "illumination_flare": "#f0e442",
    "bursts_and_shots": "#56b4e9",
}
RATE_COLOR = "#1b1b1b"


def trend_figure(report: dict[str, Any], *, days: int = 14, figsize: tuple[float, float] = (9.0, 3.6)
                 ) -> Figure:
    """Daily ceasefire violations by kind (stacked bars) for the last ``days`` days of the
    report's trend, with violations per active source-hour as a line on a second axis."""
    trend = list(report.get("trend", []))[-days:]
    labels = report.get("ceasefire_violations", {}).get("kind_labels") or {k: k.replace("_", " ")
                                                                             for k in KIND_COLORS}
    kinds = [k for k in KIND_COLORS if k in labels] or list(KIND_COLORS)
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.075, 0.3, 0.85, 0.6))
    x = np.arange(len(trend))
    bottom = np.zeros(len(trend))
    for k in kinds:
        values = np.array([d["by_kind"].get(k, {}).get("count", 0) for d in trend], dtype=float)
        ax.bar(x, values, bottom=bottom, width=0.72, color=KIND_COLORS.get(k, "#999999"),
               edgecolor="white", linewidth=0.4, label=labels.get(k, k))
        bottom += values
    if len(trend):
        ax.bar(x[-1:], bottom[-1:], width=0.72, fill=False, edgecolor="#1b1b1b", linewidth=1.2)
    ax.set_xticks(x)
    ax.set_xticklabels([_day_label(d["date"]) for d in trend], fontsize=7.5)
    ax.set_xlim(-0.6, max(len(trend), 1) - 0.4)
    ax.set_ylabel("ceasefire violations", fontsize=8.5)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(axis="y", labelsize=7.5)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_ylim(0, max(float(bottom.max()) if len(bottom) else 0.0, 1.0) * 1.12)

    rates = [d.get("per_source_hour") for d in trend]
    handles, names = ax.get_legend_handles_labels()
    if any(r is not None for r in rates):
        ax2 = ax.twinx()
        y = np.array([np.nan if r is None else r for r in rates], dtype=float)
        (line,) = ax2.plot(x, y, color=RATE_COLOR, marker="o", markersize=3, linewidth=1.2,
                           label="per active source-hour (right)")
        ax2.set_ylim(0, max(np.nanmax(y), 1e-9) * 1.25)
        ax2.tick_params(axis="y", labelsize=7.5)
        ax2.set_ylabel("per active source-hour", fontsize=8.5)
        ax2.spines["top"].set_visible(False)
        handles.append(line)
        names.append(line.get_label())
    fig.legend(handles, names, loc="lower center", bbox_to_anchor=(0.5, 0.075), ncol=len(handles),
               fontsize=7.5, frameon=False, handlelength=1.4, columnspacing=1.4)
    period = f"{trend[0]['date']} to {trend[-1]['date']}" if trend else "no data"
    fig.text(0.075, 0.97, f"Ceasefire violations per day by kind, {period} (UTC days)",
             fontsize=9.5, fontweight="bold", va="top", color="#1b1b1b")
    fig.text(0.075, 0.02, "Outlined bar: the reporting period. Counts depend on coverage; "
             "compare the rate per active source-hour.", fontsize=6.8, color="#666666")
    return fig


def _day_label(iso: str) -> str:
    d = date.fromisoformat(iso)
    return f"{d.day} {d.strftime('%b')}"
