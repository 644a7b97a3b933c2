"""The ``linewatch`` command. Each command parses, calls :mod:`linewatch.services`, formats.

Exit codes (docs/cli.md): 0 success (``ingest``: every row stored, or stored already); 1
unexpected error; 2 usage error (a bad option value: an unknown review state, a return or
rejection without ``--note``); 3 invalid agreement; 4 unreadable input; 5 store error; 6 not
found (an unknown record, allegation or user); 7 ``ingest`` stored rows but quarantined some;
8 an audit or a report bundle does not verify; 9 the request contradicts what is stored (a user
added twice, a released report rebuilt, a review move refused: four eyes, a move the state does
not allow); 10 planning targets cannot be met; 11 stored results a command reads are missing or
stale (run the command it names); 12 ``ingest`` stored nothing: every row was quarantined.
"""

from __future__ import annotations

import json
import logging
import sys
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from linewatch import __version__
from linewatch.cli.options import (
    DEFAULT_DB,
    AgreementOpt,
    DbOpt,
    SignOpt,
    active_user,
    cells,
    err,
    input_file,
    load_key,
    open_db,
    optional_input,
    out,
    parse_time,
    say,
)
from linewatch.errors import LinewatchError

app = typer.Typer(rich_markup_mode=None, help="Monitor and verify a ceasefire along a demarcation line.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
agreement_app = typer.Typer(rich_markup_mode=None, help="Validate and draw agreement files.", no_args_is_help=True)
quarantine_app = typer.Typer(rich_markup_mode=None, help="Records that could not be ingested.", no_args_is_help=True)
allegations_app = typer.Typer(rich_markup_mode=None, help="The parties' allegations and their verdicts.",
                              no_args_is_help=True)
app.add_typer(agreement_app, name="agreement")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(allegations_app, name="allegations")


def _mount_shell_commands() -> None:
    """The commands that live in modules of their own (audit log and keys, coverage, the
    web service and its users)."""
    from linewatch.cli.audit import audit_app, keys_app
    from linewatch.cli.coverage import coverage
    from linewatch.cli.plan import plan
    from linewatch.cli.reprocess import reprocess
    from linewatch.cli.review import review_app
    app.add_typer(review_app, name="review")
    app.command("reprocess")(reprocess)
    from linewatch.cli.stream import stream_app
    from linewatch.cli.web import serve, user_app
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")
    app.command("coverage")(coverage)
    app.command("serve")(serve)
    app.command("plan")(plan)
    app.add_typer(user_app, name="user")
    app.add_typer(stream_app, name="stream")


_mount_shell_commands()

#: ``ingest``: rows stored, but some quarantined (the default since issue 16; ``--strict`` is the same)
EXIT_QUARANTINED = 7
#: ``ingest``: nothing stored, every row of every file quarantined
EXIT_NOTHING_STORED = 12
_store = open_db
_key = load_key
_parse_time = parse_time


def _print_version(value: bool) -> None:
    if value:
        out.print(f"linewatch {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                help="Print the version and exit.")] = False,
          verbose: Annotated[int, typer.Option("-v", count=True, help="More log output.")] = 0) -> None:
    logging.basicConfig(level=logging.WARNING - 10 * verbose, format="%(levelname)s %(name)s: %(message)s")
    # WeasyPrint and fontTools narrate font subsetting at WARNING; keep them for -v
    for noisy in ("weasyprint", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)


# -- agreement ------------------------------------------------------------------------------

@agreement_app.command("check")
def agreement_check(file: Path,
                    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Validate an agreement file and print a summary."""
    from linewatch.services import load_agreement_file
    summary = load_agreement_file(input_file(file)).agreement.summary()
    if as_json:
        out.print_json(json.dumps(summary))
        return
    out.print(f"[bold]{escape(summary['title'])}[/] ({escape(summary['id'])} v{escape(str(summary['version']))})"
              + (" [yellow]NOTIONAL[/]" if summary["notional"] else ""))
    say(out, "Parties: " + ", ".join(f"{p['name']} ({p['id']}, {p['side'] or 'no side'})"
                                     for p in summary["parties"]))
    if summary["line_length_km"]:
        say(out, f"Line: {summary['line_length_km']:.1f} km, {summary['line_vertices']} vertices")
    for party, km in summary["reference_lines"].items():
        say(out, f"Reference line of {party}: {km} km")
    valid = summary["valid"]
    say(out, f"Valid: {valid['start'] or 'open'} to {valid['end'] or 'open'}")
    if summary["sectors"]:
        say(out, "Sectors: " + ", ".join(f"{s['name']} ({s['from_km']:g}-{s['to_km']:g} km)"
                                         for s in summary["sectors"]))
    table = Table("zone", "kind", "category", "area km²", title="Zones")
    for z in summary["zones"]:
        table.add_row(*cells(z["id"], z["kind"], z["category"], f"{z['area_km2']:,.1f}"))
    out.print(table)
    table = Table("rule", "kind", "valid from", "valid to", "text", title="Rules")
    for r in summary["rules"]:
        table.add_row(*cells(r["id"], r["kind"], r["valid"]["start"] or "-", r["valid"]["end"] or "-",
                             r["text"][:70] + ("…" if len(r["text"]) > 70 else "")))
    out.print(table)


@agreement_app.command("show")
def agreement_show(file: Path,
                   out_path: Annotated[Path, typer.Option(
                       "--out", "-o", help="PNG to write.")] = Path("agreement.png")) -> None:
    """Draw the line, zones and protected sites over country boundaries."""
    from linewatch.formats.resources import load_boundaries
    from linewatch.render.maps import agreement_figure, save_figure
    from linewatch.services import load_agreement_file
    ag = load_agreement_file(input_file(file)).agreement
    path = save_figure(agreement_figure(ag, load_boundaries(), title=ag.title), out_path)
    say(out, f"wrote {path}")


# -- ingest / export / quarantine -------------------------------------------------------------

@app.command()
def ingest(files: Annotated[list[Path], typer.Argument(help="JSONL, CSV, GeoJSON or ACLED CSV files.")],
           db: DbOpt = DEFAULT_DB,
           fmt: Annotated[str | None, typer.Option("--format", help="Force a format.")] = None,
           by: Annotated[str | None, typer.Option(
               "--by", help="The user the records are attributed to (their author in review): an "
               "active user (linewatch user add).")] = None,
           strict: Annotated[bool, typer.Option(
               "--strict", help="Kept for scripts: exit 7 when rows were quarantined is now the "
               "default.")] = False) -> None:
    """Read report files into the store; bad rows go to the quarantine with the reason. Exits 0
    when every row was stored (or was stored already), 7 when some rows were quarantined, 12 when
    nothing was stored."""
    from linewatch.services import ingest_file
    stored = quarantined = 0
    files = [input_file(f) for f in files]   # every file is there before any is read
    with _store(db) as store:
        if by is not None:
            active_user(store, by, "--by")
        for f in files:
            with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                          TimeRemainingColumn(), console=err, transient=True,
                          disable=not err.is_terminal) as bar:
                task = bar.add_task(escape(f"ingest {f.name}"), total=f.stat().st_size)
                s = ingest_file(store, f, fmt=fmt, progress=partial(bar.advance, task), submitted_by=by)
            stored += s.added + s.duplicate
            quarantined += s.quarantined
            say(out, f"{s.file} ({s.format}): {s.added} added, {s.duplicate} already stored, "
                     f"{s.quarantined} quarantined")
            for line in s.reason_lines():
                say(out, f"  {line}")
    del strict   # the default now: quarantined rows always make the exit status 7 (or 12)
    if quarantined:
        say(err, f"{quarantined} row{'' if quarantined == 1 else 's'} quarantined"
                 + ("" if stored else ", nothing stored")
                 + ": linewatch quarantine list shows them")
        raise typer.Exit(EXIT_QUARANTINED if stored else EXIT_NOTHING_STORED)


@app.command()
def export(fmt: Annotated[str, typer.Option("--format", help="acled, geojson, csv or jsonl.")] = "jsonl",
           out_path: Annotated[Path | None, typer.Option("--out", "-o", help="File (default stdout).")] = None,
           start: Annotated[str | None, typer.Option("--from", help="ISO time, inclusive.")] = None,
           end: Annotated[str | None, typer.Option("--to", help="ISO time, exclusive.")] = None,
           db: DbOpt = DEFAULT_DB) -> None:
    """Write the stored records in a format."""
    from linewatch.formats import write_records
    if fmt not in ("acled", "geojson", "csv", "jsonl"):
        raise typer.BadParameter(f"{fmt!r}: expected acled, geojson, csv or jsonl", param_hint="--format")
    with _store(db) as store:
        reports = store.reports(start=_parse_time(start, "--from"), end=_parse_time(end, "--to"))
    if out_path is None:
        write_records(reports, sys.stdout, fmt=fmt)
        return
    tmp = out_path.with_name(out_path.name + ".part")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        n = write_records(reports, fh, fmt=fmt)
    tmp.replace(out_path)
    say(err, f"wrote {n} records to {out_path}")


@quarantine_app.command("list")
def quarantine_list(db: DbOpt = DEFAULT_DB,
                    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 200,
                    as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show quarantined rows: file, line, field, reason, and the size and SHA-256 of the raw row
    (the store keeps its first 1,000 characters: --json)."""
    with _store(db) as store:
        rows = store.quarantine_rows(limit=limit)
        total = store.count_quarantine()
    if as_json:
        out.print_json(json.dumps([r.__dict__ for r in rows]))
        return
    table = Table("file", "line", "field", "reason", "raw (bytes, sha256)", title=f"Quarantine ({total} rows)")
    for r in rows:
        raw = f"{r.raw_size:,}, {r.raw_sha256[:12]}…" if r.raw_sha256 and r.raw_size is not None else ""
        table.add_row(*cells(Path(r.file).name, r.line or "", r.field, r.reason, raw))
    out.print(table)


# -- verify / report / demo ---------------------------------------------------------------

@app.command("verify")
def verify_cmd(agreement: AgreementOpt = None, db: DbOpt = DEFAULT_DB,
               start: Annotated[str | None, typer.Option("--from", help="ISO time or date.")] = None,
               end: Annotated[str | None, typer.Option("--to", help="ISO time or date, exclusive.")] = None,
               as_json: Annotated[bool, typer.Option("--json", help="Print every finding as JSON.")] = False) -> None:
    """Verify stored records against the agreement and store the verdicts."""
    from linewatch.services import agreement_for, verify_store
    from linewatch.verification import finding_to_dict
    with _store(db) as store:
        loaded = agreement_for(store, optional_input(agreement, "--agreement"))
        run, v = verify_store(store, loaded, start=_parse_time(start, "--from"), end=_parse_time(end, "--to"))
    if as_json:
        out.print_json(json.dumps({"run": run, "engine": v.engine, "agreement": v.agreement_id,
                                   "findings": [finding_to_dict(f) for f in v.findings]}))
        return
    counts: dict[tuple[str, str], int] = {}
    for f in v.findings:
        counts[(f.rule_id, f.verdict.value)] = counts.get((f.rule_id, f.verdict.value), 0) + 1
    table = Table("rule", "violation", "indeterminate", "compliant",
                  title=f"Verification run {run}: {len(v.places)} records, {escape(v.agreement_id)}")
    for rule in loaded.agreement.rules:
        table.add_row(*cells(rule.id, *(counts.get((rule.id, k), 0)
                                        for k in ("violation", "indeterminate", "compliant"))))
    out.print(table)


@allegations_app.command("verify")
def allegations_verify(
        agreement: AgreementOpt = None, db: DbOpt = DEFAULT_DB,
        network: Annotated[Path | None, typer.Option(
            "--network", help="The sensor network (docs/coverage.md): what could have been "
            "observed. Without it, an allegation nothing matches is unverifiable.")] = None,
        start: Annotated[str | None, typer.Option("--from", help="ISO time or date.")] = None,
        end: Annotated[str | None, typer.Option("--to", help="ISO time or date, exclusive.")] = None,
        sign_with: SignOpt = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print every verdict as JSON.")] = False) -> None:
    """A verdict for every stored allegation in the window, with its evidence; stored with the
    agreement, engine and network it used."""
    from linewatch.services import agreement_for, coverage_from_network, remember_network, verify_allegations
    from linewatch.verification import verdict_counts
    coverage, name, _ = (coverage_from_network(input_file(network, "--network")) if network is not None
                         else (None, "none", None))
    with _store(db) as store:
        if network is not None:
            remember_network(store, network)
        loaded = agreement_for(store, optional_input(agreement, "--agreement"))
        run, findings = verify_allegations(store, loaded, coverage=coverage, coverage_name=name,
                                           start=_parse_time(start, "--from"),
                                           end=_parse_time(end, "--to"), key=_key(sign_with))
    if as_json:
        out.print_json(json.dumps({"run": run, "verdicts": [f.as_dict() for f in findings]}))
        return
    counts = verdict_counts(findings)
    table = Table("allegation", "by", "against", "kind", "verdict", "p", "evidence",
                  title=f"Allegations run {run}: {len(findings)} allegations, "
                        + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items()))
    for f in findings:
        table.add_row(*cells(f.allegation_id, f.alleging_party, f.accused_party, f.kind,
                             f.verdict.value, f"{f.probability:.2f}", ", ".join(f.evidence[:3])))
    out.print(table)


@allegations_app.command("list")
def allegations_list(db: DbOpt = DEFAULT_DB,
                     as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The stored allegations (corrected ones included, with what they supersede)."""
    with _store(db) as store:
        rows = store.allegation_rows()
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table("id", "by", "against", "kind", "start", "end", "place", "supersedes",
                  title=f"{len(rows)} allegations")
    for r in rows:
        table.add_row(*cells(r["id"], r["alleging_party"], r.get("accused_party"), r["kind"],
                             r["start"], r["end"], r.get("place_name") or f"{r['lon']:.4f}, {r['lat']:.4f}",
                             r.get("supersedes")))
    out.print(table)


@app.command()
def report(day: Annotated[str, typer.Option("--date", help="The day, YYYY-MM-DD (UTC).")],
           agreement: AgreementOpt = None, db: DbOpt = DEFAULT_DB,
           network: Annotated[Path | None, typer.Option(
               "--network", help="The sensor network: the hourly coverage of the line, and the "
               "coverage allegations are judged by with --verify-first.")] = None,
           verify_first: Annotated[bool, typer.Option(
               "--verify-first", help="Run verify and allegations verify for the report's days "
               "first (else the stored runs must be current).")] = False,
           sign_with: SignOpt = None,
           include_unreviewed: Annotated[bool, typer.Option(
               "--include-unreviewed", help="Count the records still waiting for review too, marked "
               "as unreviewed (by default the report counts approved records).")] = False,
           out_dir: Annotated[Path, typer.Option(
               "--out", "-o", help="Directory to write to.")] = Path("reports")) -> None:
    """Write the daily report (HTML, JSON, PDF, map and trend plot) from the stored verification."""
    from linewatch.cli.options import parse_day
    from linewatch.services import agreement_for, coverage_from_network, daily_report, remember_network
    d = parse_day(day, "--date")
    coverage, name, net = (coverage_from_network(input_file(network, "--network")) if network is not None
                           else (None, "none", None))
    key = _key(optional_input(sign_with, "--sign-with"))
    with _store(db) as store:
        if network is not None:
            remember_network(store, network)
        paths = daily_report(store, agreement_for(store, optional_input(agreement, "--agreement")),
                             d, out_dir, network=net, key=key, verify_first=verify_first, coverage=coverage,
                             coverage_name=name, include_unreviewed=include_unreviewed)
    for kind, path in sorted(paths.items()):
        say(out, f"{kind}: {path}")


@app.command()
def fuse(sensors: Annotated[Path, typer.Option("--sensors", help="Sensors CSV or JSONL.")],
         detections: Annotated[Path, typer.Option("--detections", help="Detections JSONL, in time order.")],
         out_path: Annotated[Path, typer.Option(
             "--out", "-o", help="Incidents GeoJSON to write.")] = Path("incidents.geojson"),
         agreement: AgreementOpt = None,
         temperature_c: Annotated[float | None, typer.Option(
             "--temperature-c", help="Air temperature (°C) for the speed of sound.")] = None,
         workers: Annotated[int, typer.Option("--workers", min=1, help="Processes to spread the tiles over.")] = 1,
         db: DbOpt = DEFAULT_DB) -> None:
    """Fuse raw detections into located incidents; store them and write GeoJSON."""
    from linewatch.services import fuse_files, load_agreement_file
    input_file(sensors, "--sensors")
    input_file(detections, "--detections")
    agreement = optional_input(agreement, "--agreement")
    loaded = load_agreement_file(agreement) if agreement else None
    with _store(db) as store, Progress(TextColumn("{task.description}"), BarColumn(),
                                       TextColumn("{task.completed:,} detections"), console=err,
                                       transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("fuse", total=None)
        s = fuse_files(store, sensors, detections, out_path, loaded=loaded,
                       temperature_c=temperature_c, workers=workers,
                       progress=lambda n: bar.advance(task, n))
    say(out, f"{s.n_detections:,} detections -> {s.n_incidents:,} incidents "
             f"({s.n_used:,} detections used, {s.n_pairs} launch-impact pairs, {s.n_quarantined} rows "
             f"quarantined, {s.n_stored} stored); wrote {out_path}")


@app.command()
def sim(scenario: Annotated[str, typer.Option("--scenario", help="quiet, active, barrage or day-1200km.")] = "active",
        seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
        out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory to write to.")] = Path("sim-out"),
        agreement: Annotated[Path | None, typer.Option(
            "--agreement", "-a", help="Agreement whose line is used.")] = None) -> None:
    """Simulate a sensor network and its raw detections, with the ground truth."""
    from linewatch.formats.network import write_sim_network
    from linewatch.formats.sensors import write_scenario
    from linewatch.services import load_agreement_file
    from linewatch.services.demo import EXAMPLES
    from linewatch.sim import SCENARIOS, simulate_chunks
    if scenario not in SCENARIOS:
        raise typer.BadParameter(f"{scenario!r}: expected one of {', '.join(SCENARIOS)}", param_hint="--scenario")
    ag = load_agreement_file(input_file(agreement, "--agreement") if agreement
                             else EXAMPLES / "line-of-contact.yaml").agreement
    params = SCENARIOS[scenario]
    manifest = write_scenario(simulate_chunks(ag, params, seed=seed), out_dir, params, seed)
    write_sim_network(ag, params, seed, out_dir)
    counts = manifest.get("counts", {}) if isinstance(manifest, dict) else {}
    say(out, f"scenario {scenario} (seed {seed}): " + ", ".join(f"{v:,} {k}" for k, v in counts.items())
             + f"; written to {out_dir}/ (" + ", ".join(manifest.get("files", []))
             + ", scenario.json, network.json)")


@app.command()
def demo(out_dir: Annotated[Path, typer.Option(
             "--out", "-o", help="Where to put the store and report.")] = Path("demo-out"),
         seed: Annotated[int, typer.Option(help="Random seed.")] = 20251,
         agreement: Annotated[Path | None, typer.Option("--agreement", "-a")] = None) -> None:
    """Generate a seeded day of reports, ingest, verify and write the daily report."""
    from linewatch.services.demo import run_demo
    result = run_demo(out_dir, seed=seed, agreement_path=optional_input(agreement, "--agreement"),
                      console=out)
    out.print(f"\n[bold green]Daily report[/]: {escape(str(result['html']))}")
    say(out, f"PDF: {result['pdf']}\nJSON: {result['json']}\nStore: {result['db']}")


def main() -> None:
    """Entry point: typer handles usage errors (exit 2); our errors become a message and a code."""
    try:
        app()
    except LinewatchError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
