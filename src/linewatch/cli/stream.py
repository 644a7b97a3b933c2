"""``linewatch stream``: feed the store's fusion queue, fuse it continuously, show its state
(docs/streaming.md). ``linewatch.cli.main`` registers :data:`stream_app`.

Exit codes as everywhere (docs/cli.md): 0 success, including a worker or feeder stopped by
SIGINT/SIGTERM; 2 usage; 4 unreadable sensors or detections file; 5 store error; 9 the
stream was taken over by another consumer, or was fused with other parameters.
"""

from __future__ import annotations

import hashlib
import json
import math
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from linewatch.cli.options import DEFAULT_DB, DbOpt, err, input_file, optional_input, out, say
from linewatch.errors import InputError

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from rich.status import Status

    from linewatch.model import Sensors
    from linewatch.services.streaming import StreamStatus, StreamSummary
    from linewatch.store import Store

__all__ = ["stream_app"]

stream_app = typer.Typer(rich_markup_mode=None, help="Continuous fusion from the store's queue (docs/streaming.md).",
                         no_args_is_help=True)

NameOpt = Annotated[str, typer.Option("--name", help="The stream (one active consumer each).")]
SensorsOpt = Annotated[Path, typer.Option("--sensors", help="Sensors CSV or JSONL.")]
# the options of `stream fuse`
LineAgreementOpt = Annotated[Path | None, typer.Option(
    "--agreement", "-a", help="Agreement file (its line cuts the tiles and gives the "
    "side of origin); without it, the sensors' main axis and no side.")]
UntilIdleOpt = Annotated[float | None, typer.Option(
    "--until-idle", min=0.0, help="Drain and stop after this many seconds with nothing "
    "queued (the open hours are fused); default: run until SIGINT/SIGTERM.")]
WorkersOpt = Annotated[int, typer.Option("--workers", min=1, help="Processes to spread the tiles over.")]
HourOpt = Annotated[float | None, typer.Option(
    "--hour-s", help="The engine's hour (FusionParams.wind_block_s, a multiple of "
    "600 s): shorter holds incidents less long (docs/streaming.md).")]
TemperatureOpt = Annotated[float | None, typer.Option(
    "--temperature-c", help="Air temperature (°C) for the speed of sound.")]
LeaseOpt = Annotated[float, typer.Option(
    "--lease-s", min=0.1, help="A silent consumer's lease runs out after this.")]
ReplayOpt = Annotated[float, typer.Option(
    "--replay-hours", min=0.0, help="Engine hours replayed before the last committed one on a restart.")]
BatchOpt = Annotated[int, typer.Option("--batch", min=1, help="Detections claimed at most per poll.")]
PollOpt = Annotated[float, typer.Option(
    "--poll-s", min=0.01, help="Seconds between polls of an empty queue.")]
ReleaseOpt = Annotated[str, typer.Option(
    "--release", help="watermark: each incident out within two minutes of its last detection, "
    "revised (a new version) when its pair or the hour's wind is known; hour: each engine hour "
    "once the detections have come past it.")]
HeartbeatOpt = Annotated[float | None, typer.Option(
    "--heartbeat-lag-s", min=0.0, help="With --release watermark: while the queue is quiet, take "
    "every detection older than this many seconds (by this machine's UTC clock) to have come, "
    "and release what it holds; default: wait for the next detection.")]
SummaryJsonOpt = Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")]


def _time_or_dash(t: float | None) -> str:
    """A status line's time: UTC to the second, or "-" when there is none yet."""
    from linewatch.model import utc_iso
    return "-" if t is None or not math.isfinite(t) else utc_iso(t, timespec="seconds")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _read_sensors(store: Store, path: Path) -> tuple[Sensors, int]:
    from linewatch.formats.sensors import read_sensors
    input_file(path, "--sensors")
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            sensors, bad = read_sensors(fh, name=str(path))
    except OSError as exc:
        raise InputError(f"{exc.filename}: cannot read: {exc.strerror}") from exc
    if bad:
        store.add_rejected(bad, file_sha256=hashlib.sha256(str(path).encode()).hexdigest())
    return sensors, len(bad)


@stream_app.command("feed")
def feed(sensors: SensorsOpt,
         detections: Annotated[Path, typer.Option("--detections", help="Detections JSONL, in time order.")],
         rate: Annotated[float | None, typer.Option(
             "--rate", min=0.0, help="Pace at this many times real time by the detections' own "
             "clock (1: real time); default: as fast as they are read.")] = None,
         db: DbOpt = DEFAULT_DB) -> None:
    """Store detections and put them on the fusion queue (bad rows to the quarantine)."""
    from linewatch.formats.sensors import iter_detection_chunks
    from linewatch.services.streaming import feed_detections
    from linewatch.store import open_store
    if rate is not None and rate <= 0:
        raise typer.BadParameter("must be positive", param_hint="--rate")
    input_file(detections, "--detections")
    stop = _stop_on_signals()
    with open_store(db) as store:
        sens, n_bad = _read_sensors(store, sensors)
        sha = hashlib.sha256(str(detections).encode()).hexdigest()
        counts = {"read": 0}

        def chunks(fh):
            nonlocal n_bad
            for det, rejected in iter_detection_chunks(fh, sens, name=str(detections), chunk_size=50_000):
                if rejected:
                    n_bad += len(rejected)
                    store.add_rejected(rejected, file_sha256=sha)
                counts["read"] += len(det)
                yield det
                if stop.is_set():
                    return
        try:
            with detections.open(encoding="utf-8-sig", newline="") as fh:
                n = feed_detections(store, sens, chunks(fh), rate=rate, stop=stop)
        except OSError as exc:
            raise InputError(f"{exc.filename}: cannot read: {exc.strerror}") from exc
    stopped = " (stopped early)" if stop.is_set() else ""
    say(out, f"{n:,} detections queued ({counts['read'] - n:,} already stored, {n_bad} rows "
             f"quarantined){stopped}")


@stream_app.command("fuse")
def fuse(sensors: SensorsOpt, agreement: LineAgreementOpt = None, until_idle: UntilIdleOpt = None,
         name: NameOpt = "default", workers: WorkersOpt = 1, hour_s: HourOpt = None,
         temperature_c: TemperatureOpt = None, lease_s: LeaseOpt = 30.0, replay_hours: ReplayOpt = 3.0,
         batch: BatchOpt = 20_000, poll_s: PollOpt = 0.2, release: ReleaseOpt = "watermark",
         heartbeat_lag_s: HeartbeatOpt = None, as_json: SummaryJsonOpt = False,
         db: DbOpt = DEFAULT_DB) -> None:
    """Run the continuous fusion worker (a hot standby while another consumer holds the stream)."""
    from linewatch.fusion import FusionParams
    from linewatch.services import load_agreement_file
    from linewatch.services.streaming import StreamWorker, with_params
    from linewatch.store import open_store
    try:
        params = with_params(FusionParams(), wind_block_s=hour_s, temperature_c=temperature_c,
                             release=release)
    except ValueError as exc:      # FusionParams names the field it refused
        hint = "--release" if str(exc).startswith("release") else "--hour-s"
        raise typer.BadParameter(str(exc), param_hint=hint) from exc
    agreement = optional_input(agreement, "--agreement")
    loaded = load_agreement_file(agreement) if agreement else None
    with open_store(db) as store:
        sens, _ = _read_sensors(store, sensors)
        if loaded is not None:
            store.put_agreement(loaded.sha256, loaded.agreement.id, loaded.agreement.version,
                                loaded.name, loaded.text)
        where = store.where
    stop = _stop_on_signals()
    live = err.status("starting", spinner="dots") if err.is_terminal else None
    pool = _tile_pool(workers)
    try:
        if live is not None:
            live.start()
        try:
            worker = StreamWorker(db, sens, name=name, agreement=loaded.agreement if loaded else None,
                                  params=params, batch=batch, poll_s=poll_s, lease_s=lease_s,
                                  replay_hours=replay_hours, map_fn=pool.map if pool else map,
                                  heartbeat_lag_s=heartbeat_lag_s,
                                  stop=stop, status=_status_printer(where, live, as_json))
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--heartbeat-lag-s") from exc
        summary = worker.run(until_idle_s=until_idle)
    finally:
        if live is not None:
            live.stop()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    _print_summary(name, summary, as_json)


def _tile_pool(workers: int) -> ProcessPoolExecutor | None:
    """Processes for the tiles (None: one worker, this process). They leave SIGINT to this
    one (a Ctrl-C reaches the whole process group)."""
    from concurrent.futures import ProcessPoolExecutor
    return (ProcessPoolExecutor(workers, initializer=signal.signal,
                                initargs=(signal.SIGINT, signal.SIG_IGN)) if workers > 1 else None)


def _status_printer(where: str, live: Status | None, as_json: bool) -> Callable[[StreamStatus], None]:
    """The worker's status callback: the live status line, a line on stderr when the worker
    stands by, streams or drains, and one on stdout per engine hour committed."""
    seen: dict[str, object] = {"hours": 0, "state": None}

    def status(s: StreamStatus) -> None:
        last = "-" if s.last_latency_s != s.last_latency_s else f"{s.last_latency_s:.2f} s"
        text = (f"[{s.state}] stream {s.name}: claimed {s.claimed:,}, stream time "
                f"{_time_or_dash(s.stream_time_s)}, engine hour {_time_or_dash(s.committed_s)} done, "
                f"{s.incidents:,} incidents, last latency {last}")
        if s.state == "standby":
            text = f"[standby] stream {s.name} is held by {s.holder}; waiting"
        if live is not None:
            live.update(Text(text))   # "[streaming]" is text, not a rich tag
        if s.state != seen["state"] and s.state in ("standby", "streaming", "draining"):
            say(err, f"{s.state}: stream {s.name!r} on {where} ({s.owner})")
        if s.hours != seen["hours"] and not as_json:
            say(out, f"engine hour from {_time_or_dash(s.committed_s)} fused: {s.incidents:,} incidents "
                     f"stored so far, last latency {last}")
        seen.update(hours=s.hours, state=s.state)
    return status


def _print_summary(name: str, summary: StreamSummary, as_json: bool) -> None:
    lat = summary.latency()
    if as_json:
        doc = {"stream": name, "owner": summary.owner, "acquired": summary.acquired,
               "drained": summary.drained, "claimed": summary.n_claimed, "replayed": summary.n_replayed,
               "hours": summary.n_hours, "incidents": summary.n_incidents, "stored": summary.n_stored,
               "late": summary.n_late,
               "latency": {k: {q: (None if v != v else round(v, 3)) for q, v in s.items()}
                           for k, s in lat.items()}}
        out.print_json(json.dumps(doc))
        return
    how = "drained" if summary.drained else "stopped" if summary.acquired else "stopped as a standby"
    p50, p99 = lat["latency_s"]["p50"], lat["latency_s"]["p99"]
    say(out, f"{how}: {summary.n_claimed:,} detections claimed ({summary.n_replayed:,} replayed), "
             f"{summary.n_hours} hours, {summary.n_incidents:,} incidents ({summary.n_stored:,} "
             f"stored), {summary.n_late} late; latency p50 {p50:.2f} s, p99 {p99:.2f} s")


@stream_app.command("status")
def status(name: NameOpt = "default",
           last: Annotated[int, typer.Option("--last", min=1, help="Incidents the latency figures cover.")] = 1000,
           as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
           db: DbOpt = DEFAULT_DB) -> None:
    """The queue's depth, the stream's owner, progress, lag and latency."""
    from linewatch.services.streaming import stream_report
    from linewatch.store import open_store
    with open_store(db) as store:
        rep = stream_report(store, name, last=last)
    if as_json:
        out.print_json(json.dumps(rep))
        return
    lag = rep["oldest_queued_age_s"]
    say(out, f"queue: {rep['queued']:,} detections" + (f", oldest queued {lag:.1f} s ago" if lag is not None else ""))
    state = "active" if rep["active"] else "no active consumer"
    say(out, f"stream {name!r}: {state}" + (f" ({rep['owner']}, token {rep['fence']}, lease "
                                            f"{rep['lease_left_s']:.1f} s left)" if rep["active"] else ""))
    say(out, f"  committed hour {_time_or_dash(rep['committed_hour_s'])}, {rep['claimed']:,} detections "
             f"claimed and buffered, {rep['n_detections']:,} fused, {rep['n_incidents']:,} incidents")
    for k, s in rep["latency"].items():
        if s["n"]:
            say(out, f"  {k}: p50 {s['p50']:.2f} s, p99 {s['p99']:.2f} s, max {s['max']:.2f} s "
                     f"(last {int(s['n'])} incidents)")
