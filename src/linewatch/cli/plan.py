"""``linewatch plan``: choose where to put the mission's assets (docs/planning.md).

Parses the options, calls :func:`linewatch.services.plan.run_plan` (read the inputs, solve,
sweep, check by simulation, write the plan) and prints what it made. ``linewatch.cli.main``
registers :func:`plan`; errors reach its handler, which maps them to the exit codes of
docs/cli.md (an invalid input file exits 4, targets that cannot be met exit 10).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from linewatch.cli.options import input_file, optional_input, say

__all__ = ["plan"]

out = Console(soft_wrap=True)
err = Console(stderr=True)


def plan(
    agreement: Annotated[Path, typer.Option("--agreement", "-a", help="The agreement file (its line).")],
    assets: Annotated[Path, typer.Option("--assets", help="Asset types (YAML or JSON).")],
    targets: Annotated[Path, typer.Option("--targets", help="Targets and settings (YAML or JSON).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the plan to.")] = Path("plan"),
    dem: Annotated[Path | None, typer.Option(
        "--dem", help="A DEM GeoTIFF: optical assets need line of sight.")] = None,
    candidates: Annotated[Path | None, typer.Option(
        "--candidates", help="Candidate sites (CSV lon,lat[,id]) instead of the generated rows.")] = None,
    no_check: Annotated[bool, typer.Option("--no-check", help="Skip the check by simulation.")] = False,
    no_sweep: Annotated[bool, typer.Option("--no-sweep", help="Skip the sweep of cost against coverage.")] = False,
) -> None:
    """Plan the mission's assets to meet coverage targets at minimum cost (HiGHS), and check it."""
    from linewatch.services.plan import run_plan
    t = time.perf_counter()
    p = run_plan(input_file(agreement, "--agreement"), input_file(assets, "--assets"),
                 input_file(targets, "--targets"), out_dir, dem=optional_input(dem, "--dem"),
                 candidates=optional_input(candidates, "--candidates"), check=not no_check,
                 sweep=not no_sweep, say=lambda text: say(err, text))
    s = p["summary"]
    say(out, f"{s['sites']} assets, cost {s['cost']:,.0f}, monitors {s['crew_per_shift']} per shift "
             f"({s['crew_total']} in total); {p['solver']['gap_to_lp'] * 100:.2f} % above the LP bound")
    say(out, f"plan: {out_dir / 'plan.html'} and {out_dir / 'plan.json'} ({time.perf_counter() - t:.0f} s)")
