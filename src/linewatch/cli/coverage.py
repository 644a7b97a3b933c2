"""``linewatch coverage``: draw what the network could have detected at a time.

:func:`coverage` is a typer command body; ``linewatch.cli.main`` registers it with
``app.command("coverage")(coverage)``. It parses, calls ``linewatch.coverage`` and the
renderer, and prints one line of results. Errors are :class:`~linewatch.errors.LinewatchError`
(the CLI's exit codes) or typer usage errors (exit 2).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from linewatch.cli.options import input_file, optional_input, say

__all__ = ["coverage"]

out = Console(soft_wrap=True)
err = Console(stderr=True)


def _parse_at(value: str) -> float:
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint="--at") from exc
    if t.tzinfo is None:
        raise typer.BadParameter(f"{value!r} has no time zone (add Z or +00:00)", param_hint="--at")
    return t.astimezone(UTC).timestamp()


def _parse_extent(value: str | None) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    try:
        parts = tuple(float(v) for v in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4 or not (parts[0] < parts[1] and parts[2] < parts[3]):
        raise typer.BadParameter(f"{value!r}: expected LON_MIN,LON_MAX,LAT_MIN,LAT_MAX with "
                                 "min < max", param_hint="--extent")
    return parts[0], parts[1], parts[2], parts[3]


def coverage(
    at: Annotated[str, typer.Option("--at", help="The time, ISO 8601 with a zone (2025-06-15T14:00Z).")],
    kind: Annotated[str, typer.Option("--kind", "-k", help="Event kind: explosion, launch, impact, "
                                      "bursts_and_shots, weapon_sighting, ...")] = "explosion",
    network: Annotated[Path | None, typer.Option("--network", help="Network file (JSON): sensors, "
                                                    "outages, camera views, flights, patrols.")] = None,
    sensors: Annotated[Path | None, typer.Option("--sensors", help="Sensors CSV or JSONL alone "
                                                    "(no outages; cameras and UAVs not counted).")] = None,
    agreement: Annotated[Path | None, typer.Option("--agreement", "-a", help="Agreement: its line, "
                                                      "zones and frame.")] = None,
    out_path: Annotated[Path, typer.Option(
        "--out", "-o", help="Map to write (.png, .pdf, .svg).")] = Path("coverage.png"),
    threshold: Annotated[float, typer.Option("--threshold", help="P(detect) that counts as "
                                             "covered, in (0, 1].")] = 0.5,
    extent: Annotated[str | None, typer.Option("--extent", help="LON_MIN,LON_MAX,LAT_MIN,LAT_MAX "
                                                  "(default: the network, padded 20 km).")] = None,
) -> None:
    """Draw the probability that the network would have detected an event of a kind at a time."""
    from linewatch.coverage import COVERAGE_KINDS, Network, line_coverage
    from linewatch.formats.network import read_network
    from linewatch.formats.resources import load_boundaries, load_gazetteer
    from linewatch.formats.sensors import open_text, read_sensors
    from linewatch.render.coverage_map import coverage_figure
    from linewatch.render.maps import save_figure
    from linewatch.services import load_agreement_file

    time_s = _parse_at(at)
    if kind not in COVERAGE_KINDS:
        raise typer.BadParameter(f"{kind!r}: expected one of {', '.join(COVERAGE_KINDS)}",
                                 param_hint="--kind")
    if (network is None) == (sensors is None):
        raise typer.BadParameter("give exactly one of --network and --sensors",
                                 param_hint="--network/--sensors")
    if not 0.0 < threshold <= 1.0:
        raise typer.BadParameter(f"{threshold!r} is not in (0, 1]", param_hint="--threshold")
    box = _parse_extent(extent)
    source = network if network is not None else sensors
    assert source is not None   # exactly one of them was given
    input_file(source, "--network" if network is not None else "--sensors")
    agreement = optional_input(agreement, "--agreement")
    if network is not None:
        net, rejected = read_network(network)
    else:
        with open_text(source) as f:
            found, rejected = read_sensors(f, name=str(sensors))
        net = Network(found)
    if rejected:
        first = rejected[0]
        err.print("[yellow]warning:[/] " + escape(f"{len(rejected)} sensor row(s) rejected; first: "
                                                  f"{first.file}: line {first.line}: {first.reason}"),
                  highlight=False)
    ag = load_agreement_file(agreement).agreement if agreement else None
    fig = coverage_figure(net, time_s, kind, agreement=ag, boundaries=load_boundaries(),
                          gazetteer=load_gazetteer(), extent=box, threshold=threshold)
    path = save_figure(fig, out_path)
    summary = f"wrote {path}"
    if ag is not None and ag.line_parts:
        share = line_coverage(net, ag.line_parts, time_s, kind, threshold=threshold, duration_s=0.0)
        summary += (f"; {share:.1%} of the line ({ag.line_length_km:,.1f} km) covered "
                    f"(P >= {threshold:g} for {kind}) at {at}")
    say(out, summary)
