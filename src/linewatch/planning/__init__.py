"""Mission planning: where to put sensors and observers to meet coverage targets along an
agreement's line at least cost, and the independent check of a layout by simulation.

Core: imports ``agreement``, ``coverage``, ``fusion``, ``sim``, ``geo``, ``model`` and ``errors``;
never the shell. The programme is solved by HiGHS (``scipy.optimize.milp``). Pure: no files, no
clock, no printing (``linewatch.services.plan`` reads the files, times the solve and writes the plan).

Modules, in the order a plan is made:

- ``inputs``: asset types, targets, and places along the line (candidate sites, demand points,
  points in the agreement's zones);
- ``pairs``: which asset type at which site detects at which demand point, and how likely;
- ``information``: the Fisher information and Cramér–Rao bound of a layout, its weakest direction;
- ``problem``: the problem as data (what each point needs), and whether the candidates can meet it;
- ``chainage``: one-dimensional helpers along the line (runs, blocks, nearness);
- ``milp``: the programme's rows, the CRLB cuts, and the solve (whole or in rolling blocks);
- ``results``: what a layout achieves, its weakest stretches, the nations' sectors, the summary;
- ``check``: the layout simulated, fused and measured against the truth.
"""

from __future__ import annotations

from linewatch.planning.chainage import within
from linewatch.planning.check import LaunchTable, LayoutCheck, Promise, StretchTable, check_layout, stretch_bins_km
from linewatch.planning.information import SOUND_SPEED_M_S, crlb_of_layout, fisher_terms, weak_direction
from linewatch.planning.inputs import (
    ASSET_KINDS,
    BEARING_KINDS,
    OPTICAL,
    TOA_KINDS,
    AssetType,
    Points,
    Targets,
    along_line,
    candidate_sites,
    demand_points,
    zone_points,
)
from linewatch.planning.milp import Solution, covering_rows, solve, solve_best
from linewatch.planning.pairs import Pairs, make_pairs
from linewatch.planning.problem import Problem, build_problem, check_feasible, covering_level, with_probability
from linewatch.planning.results import LOCATE_MIN, achieved, allocate_sectors, at_least, summary, weakest_stretches

__all__ = [
    "ASSET_KINDS",
    "AssetType",
    "BEARING_KINDS",
    "LOCATE_MIN",
    "LaunchTable",
    "LayoutCheck",
    "OPTICAL",
    "Pairs",
    "Points",
    "Problem",
    "Promise",
    "SOUND_SPEED_M_S",
    "Solution",
    "StretchTable",
    "TOA_KINDS",
    "Targets",
    "achieved",
    "allocate_sectors",
    "along_line",
    "at_least",
    "build_problem",
    "candidate_sites",
    "check_feasible",
    "check_layout",
    "covering_level",
    "covering_rows",
    "crlb_of_layout",
    "demand_points",
    "fisher_terms",
    "make_pairs",
    "solve",
    "solve_best",
    "stretch_bins_km",
    "summary",
    "weak_direction",
    "weakest_stretches",
    "with_probability",
    "within",
    "zone_points",
]
