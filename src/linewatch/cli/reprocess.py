"""``linewatch reprocess``: fuse the stored detections of a time range again, on a Dask
cluster or in this process, and store the result as a new engine version (docs/reprocess.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from linewatch.cli.options import DEFAULT_DB, DbOpt, err, input_file, optional_input, out, say
from linewatch.errors import InputError

if TYPE_CHECKING:
    from linewatch.model import Sensors

__all__ = ["parse_instant", "reprocess"]

FromOpt = Annotated[str, typer.Option("--from", help="Start of the range (ISO 8601, UTC).")]
ToOpt = Annotated[str, typer.Option("--to", help="End of the range, exclusive.")]
SensorsOpt = Annotated[Path, typer.Option("--sensors", help="Sensors CSV or JSONL.")]
LineAgreementOpt = Annotated[Path | None, typer.Option(
    "--agreement", "-a", help="Agreement whose line the regions follow (and the side of origin).")]
SchedulerOpt = Annotated[str | None, typer.Option("--scheduler", help="A Dask scheduler, tcp://HOST:PORT.")]
WorkersOpt = Annotated[int | None, typer.Option(
    "--workers", min=1, help="Start a local Dask cluster of N single-threaded worker processes.")]
RegionKmOpt = Annotated[float, typer.Option("--region-km", min=1.0, help="Length of line per region.")]
WindowHoursOpt = Annotated[int, typer.Option("--window-hours", min=1, help="Time window per partition.")]
WarmupHoursOpt = Annotated[int, typer.Option(
    "--warmup-hours", min=0, help="Speculative warm-up before each window.")]
TemperatureOpt = Annotated[float | None, typer.Option(
    "--temperature-c", help="Air temperature (°C) for the speed of sound.")]


def parse_instant(value: str, name: str) -> float:
    """An ISO 8601 time (a bare date is midnight UTC) as epoch seconds; InputError if not."""
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"{name} {value!r}: not an ISO 8601 time") from exc
    if t.tzinfo is None:
        if len(value.strip()) > 10:
            raise InputError(f"{name} {value!r}: no time zone (add Z or +00:00)")
        t = t.replace(tzinfo=UTC)
    return t.timestamp()


def reprocess(start: FromOpt, end: ToOpt, sensors: SensorsOpt, agreement: LineAgreementOpt = None,
              scheduler: SchedulerOpt = None, workers: WorkersOpt = None, region_km: RegionKmOpt = 200.0,
              window_hours: WindowHoursOpt = 24, warmup_hours: WarmupHoursOpt = 1,
              temperature_c: TemperatureOpt = None, db: DbOpt = DEFAULT_DB) -> None:
    """Fuse the stored detections of [--from, --to) again and store the incidents as a new
    fusion run (the earlier runs' records in the range are superseded)."""
    from linewatch.fusion import FusionParams
    from linewatch.services import load_agreement_file
    from linewatch.services.distributed import reprocess as run_reprocess
    from linewatch.services.distributed import write_run
    from linewatch.store import open_store

    start_s, end_s = parse_instant(start, "--from"), parse_instant(end, "--to")
    if not end_s > start_s:
        raise InputError(f"--from {start} is not before --to {end}")
    if scheduler is not None and workers is not None:
        raise InputError("give --scheduler or --workers, not both")
    net = _read_network(input_file(sensors, "--sensors"))
    agreement = optional_input(agreement, "--agreement")
    loaded = load_agreement_file(agreement) if agreement else None
    params = FusionParams(temperature_c=temperature_c, region_m=region_km * 1000.0)
    with open_store(db) as store, Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal) as bar:
        n_in = store.count_detections(start_s=start_s, end_s=end_s)
        if n_in == 0:   # a run of nothing would supersede the fused records of the range
            raise InputError(f"no stored detections in [{start}, {end}): nothing to reprocess "
                             "(linewatch fuse and linewatch stream feed store them)")
        tasks: dict[str, TaskID] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total or (n_in if phase == "fuse" else None))
            bar.update(tasks[phase], completed=done)

        run = run_reprocess(store, net, start_s=start_s, end_s=end_s,
                            agreement=loaded.agreement if loaded else None, params=params,
                            window_s=window_hours * 3600.0, warmup_s=warmup_hours * 3600.0,
                            scheduler=scheduler, workers=workers, progress=progress)
        run_id, added = write_run(store, run, params=params, start_s=start_s, end_s=end_s)
        if loaded is not None:
            loaded.record(store)
    pairs = sum(1 for i in run.incidents if i.pair_id and i.kind == "launch")
    seams = (f"; {run.n_partitions} partitions, {run.n_rerun} of {run.n_seams} time seams re-run"
             if run.n_partitions else "")
    say(out, f"fusion run {run_id} ({run.engine}, {run.mode}): {run.n_detections:,} detections "
             f"-> {len(run.incidents):,} incidents ({pairs} launch-impact pairs, {added:,} "
             f"stored){seams}; {run.seconds['total']:.1f} s")


def _read_network(path: Path) -> Sensors:
    """The sensors file, whole: a bad row is an input error (InputError)."""
    from linewatch.formats.sensors import read_sensors
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            net, bad = read_sensors(fh, name=str(path))
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    if bad:
        raise InputError(f"{path}: {len(bad)} bad sensor rows (first: line {bad[0].line}: "
                         f"{bad[0].reason})")
    return net
