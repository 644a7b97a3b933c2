"""Reprocessing on Dask distributed: the shell around :mod:`linewatch.fusion.reprocess`.

The driver reads the stored detections, one window of time at a time (the window, its
warm-up and its look-ahead), splits them by region and sends each partition only its own
detections (``client.scatter``), so a worker needs nothing but its slice and never opens
the store (a cluster's machines need not reach the database). Each partition is one task
(:func:`linewatch.fusion.reprocess.run_partition`); the driver gathers them, checks the time seams
window by window and sends the partitions whose warm-up missed to the cluster again
(:func:`linewatch.fusion.reprocess.settle`), then assembles: seam reconciliation and pairing, in one
pass over the hours (:func:`linewatch.fusion.reprocess.assemble`). ``write_run`` stores the result as
a new fusion run that supersedes the earlier ones in its window.

Without a scheduler or workers, :func:`reprocess` runs in this process without Dask: the
single-process reference (``fuse_chunks`` with regions) streamed from the store.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from linewatch.agreement import Agreement
from linewatch.fusion import (
    FusionParams,
    PartitionResult,
    PartitionSpec,
    RegionSetup,
    assemble,
    engine_label,
    fuse_chunks,
    plan_partitions,
    plan_regions,
    plan_windows,
    run_partition,
    settle,
)
from linewatch.model import Detections, Incident, Sensors
from linewatch.services.audit import AuditLog
from linewatch.services.fuse import incidents_to_reports
from linewatch.store import Store

if TYPE_CHECKING:
    from distributed import Client, Future

__all__ = ["ReprocessRun", "reprocess", "write_run"]

Progress = Callable[[str, int, int], None]      # (phase, done, total)
#: a partition's key: (region, window)
Key = tuple[int, int]


@dataclass(frozen=True)
class ReprocessRun:
    incidents: tuple[Incident, ...]
    n_detections: int
    n_used: int
    engine: str
    mode: str                          # "in-process", "local:N" or the scheduler's address
    n_partitions: int = 0
    n_seams: int = 0
    n_rerun: int = 0
    #: seconds: wall clock, the driver's reading, assembling (seams and pairing), and each
    #: partition's own fusion time on its worker ((region, window) -> s; re-runs separately)
    seconds: dict = field(default_factory=dict)
    partition_s: dict = field(default_factory=dict)
    rerun_s: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)


def reprocess(store: Store, sensors: Sensors, *, start_s: float, end_s: float,
              agreement: Agreement | None = None,
              params: FusionParams = FusionParams(region_m=200_000.0),
              window_s: float = 86_400.0, warmup_s: float = 3_600.0,
              scheduler: str | None = None, workers: int | None = None,
              progress: Progress | None = None) -> ReprocessRun:
    """Fuse the stored detections in ``[start_s, end_s)`` again: on a Dask cluster
    (``scheduler`` address, or ``workers`` local single-threaded worker processes), else in
    this process. Both give the same incidents (``params.region_m`` must be set)."""
    if params.region_m is None:
        raise ValueError("reprocessing runs by regions: set params.region_m")
    if scheduler is None and not workers:
        return _in_process(store, sensors, start_s, end_s, agreement, params, progress)
    t0 = time.perf_counter()
    setups = plan_regions(sensors, agreement, params)
    windows = plan_windows(start_s, end_s, window_s, params)
    specs = {(s.region, s.window): s for s in plan_partitions(len(setups), windows, params, warmup_s)}
    with _client(scheduler, workers) as client:
        driver = _DaskDriver(client, store, sensors, setups, params, progress)
        futures = []
        for w in windows:                         # a window's detections at a time
            futures += driver.submit([specs[(r, w.index)] for r in range(len(setups))])
        results = driver.gather(futures)
        t_wait = time.perf_counter()
        settled = settle(results, specs, driver.rerun)
        settle_s = time.perf_counter() - t_wait
    t = time.perf_counter()
    out = assemble(settled.results.values(), sensors, agreement, params)
    assemble_s = time.perf_counter() - t
    mode = scheduler if scheduler is not None else f"local:{workers}"
    return ReprocessRun(out.incidents, out.n_detections, out.n_used, engine_label(params), mode,
                        n_partitions=len(specs), n_seams=settled.n_seams, n_rerun=settled.n_rerun,
                        seconds={"total": time.perf_counter() - t0, "read": driver.read_s,
                                 "settle": settle_s, "assemble": assemble_s},
                        partition_s=driver.partition_s, rerun_s=driver.rerun_s, stats=out.stats)


def _in_process(store: Store, sensors: Sensors, start_s: float, end_s: float,
                agreement: Agreement | None, params: FusionParams,
                progress: Progress | None) -> ReprocessRun:
    """The single-process reference: ``fuse_chunks`` with regions, streamed from the store."""
    t0 = time.perf_counter()
    n = 0
    incidents: list[Incident] = []
    n_used = 0
    stats: dict = {}

    def chunks() -> Iterator[Detections]:
        nonlocal n
        for c in store.iter_detections(sensors, start_s=start_s, end_s=end_s):
            n += len(c)
            if progress is not None:
                progress("fuse", n, 0)
            yield c
    for hour in fuse_chunks(sensors, chunks(), agreement=agreement, params=params):
        incidents += hour.incidents
        n_used += hour.n_used
        for k in ("seam_duplicates", "seam_shared_detections"):
            stats[k] = stats.get(k, 0) + hour.stats.get(k, 0)
    incidents.sort(key=lambda i: (i.time_s, i.id))
    return ReprocessRun(tuple(incidents), n, n_used, engine_label(params), "in-process",
                        seconds={"total": time.perf_counter() - t0}, stats=stats)


# -- on Dask ----------------------------------------------------------------------------------

def _run_task(setup: RegionSetup, spec: PartitionSpec, det: Detections, params: FusionParams
              ) -> tuple[PartitionResult, float]:
    t = time.perf_counter()
    res = run_partition(setup, spec, [det] if len(det) else [], params)
    return res, time.perf_counter() - t


def _read(store: Store, sensors: Sensors, lo: float, hi: float) -> Detections:
    parts = list(store.iter_detections(sensors, start_s=lo, end_s=hi))
    if not parts:
        return Detections.from_columns([], [], [], [])
    return Detections.concat(parts) if len(parts) > 1 else parts[0]


#: glibc malloc in the local workers (docs/benchmarks.md, "Reprocessing"). Dask's nannies set
#: MALLOC_TRIM_THRESHOLD_=65536 to hand memory back early (fusion's many numpy temporaries ran
#: ~40 % slower). Setting any of these fixes glibc's mmap threshold at 128 kiB, where a plain
#: process raises it as it goes: then every temporary above 128 kiB is mapped and unmapped
#: afresh, twice the page faults of the plain process (+40 % on a partition). So all three:
#: temporaries up to 32 MiB from the heap, kept (up to 256 MiB free at its top) and grown
#: 64 MiB at a time; the worker hardly page-faults (1 worker now at par with the process).
WORKER_MALLOC = {"MALLOC_MMAP_THRESHOLD_": 1 << 25, "MALLOC_TRIM_THRESHOLD_": 1 << 28,
                 "MALLOC_TOP_PAD_": 1 << 26}


@contextmanager
def _client(scheduler: str | None, workers: int | None) -> Iterator[Client]:
    from distributed import Client, LocalCluster
    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    import dask
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    environ.update(WORKER_MALLOC)
    # the scheduler's web server takes a free port on the loopback (another cluster may hold 8787)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}), \
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                         host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster, \
            Client(cluster) as client:
        yield client


class _DaskDriver:
    """The driver's side of a run on Dask: reads the detections a group of partitions needs
    (once for all of them), sends each partition only its own slice, gathers the results and
    keeps the timings."""

    def __init__(self, client: Client, store: Store, sensors: Sensors, setups: list[RegionSetup],
                 params: FusionParams, progress: Progress | None) -> None:
        self.client, self.store, self.sensors, self.setups = client, store, sensors, setups
        self.progress = progress
        self.setup_f = client.scatter(setups, broadcast=True)
        self.params_f = client.scatter(params, broadcast=True)
        self.read_s = 0.0
        self.partition_s: dict[Key, float] = {}
        self.rerun_s: dict[Key, float] = {}

    def submit(self, group: list[PartitionSpec]) -> list[Future]:
        """Read the detections the partitions need (once for all of them) and submit."""
        t = time.perf_counter()
        det = _read(self.store, self.sensors, min(s.read_from_s for s in group),
                    max(s.read_to_s for s in group))
        futures = []
        for s in group:
            a, b = np.searchsorted(det.time_s, [s.read_from_s, s.read_to_s], "left")
            part = self.setups[s.region].detections(det.take(np.arange(a, b)))
            kind = "rerun" if s.resume or s.fresh_at_start else "first"
            futures.append(self.client.submit(_run_task, self.setup_f[s.region], s,
                                              self.client.scatter(part, hash=False), self.params_f,
                                              pure=False, key=f"partition-{s.region}-{s.window}-{kind}"))
        self.read_s += time.perf_counter() - t
        return futures

    def gather(self, futures: list[Future]) -> dict[Key, PartitionResult]:
        """The partitions' results as they complete."""
        from distributed import as_completed
        results: dict[Key, PartitionResult] = {}
        for done, fut in enumerate(as_completed(futures), 1):
            res, secs = fut.result()
            results[(res.region, res.window)] = res
            self.partition_s[(res.region, res.window)] = secs
            if self.progress is not None:
                self.progress("partitions", done, len(futures))
            fut.release()
        return results

    def rerun(self, group: list[PartitionSpec]) -> list[PartitionResult]:
        """Run these partitions again (their warm-up missed) and wait for them."""
        out = []
        for fut in self.submit(group):
            res, secs = fut.result()
            self.rerun_s[(res.region, res.window)] = secs
            out.append(res)
        if self.progress is not None:
            self.progress("re-runs", len(self.rerun_s), 0)
        return out


# -- storing a run ----------------------------------------------------------------------------

def params_text(params: FusionParams) -> str:
    """The engine's parameters as a fusion run or a stream records them."""
    return json.dumps(asdict(params), sort_keys=True, default=list)


def write_run(store: Store, run: ReprocessRun, *, params: FusionParams, start_s: float, end_s: float,
              chunk: int = 5_000) -> tuple[int, int]:
    """Store the incidents as a new fusion run over ``[start_s, end_s)`` (record ids
    ``<incident id>.r<run id>``, the engine label recorded) that supersedes the earlier fusion
    records in the window, each chunk with its audit-log entries. Returns (run id, records added)."""
    # an incident's origin time may precede the first detection of the range by the sound's
    # travel time: the run's window covers its incidents, so the next run supersedes them all
    if run.incidents:
        start_s = min(start_s, min(i.time_s for i in run.incidents))
        end_s = max(end_s, max(i.time_s for i in run.incidents) + 1e-3)
    run_id, batch = store.begin_fusion_run(run.engine, params_text(params), start_s, end_s)
    source = f"fusion-run:{run.engine}:{start_s:.0f}-{end_s:.0f}"
    sha = hashlib.sha256(source.encode()).hexdigest()
    added = 0
    launches: dict = {}
    incidents = list(run.incidents)
    for k in range(0, len(incidents), chunk):
        reports = incidents_to_reports(incidents[k:k + chunk], engine=run.engine, launches=launches)
        with store.transaction() as c:   # the chunk's records and their log entries at once
            store.serialize_writes(c)
            added += store.add_records([replace(r, id=f"{r.id}.r{run_id}") for r in reports], batch_id=batch,
                                       file_sha256=sha, source=source).added
            AuditLog(store).log_new_records()
    with store.transaction() as c:  # what the run supersedes is logged as it takes effect
        store.serialize_writes(c)
        store.finish_fusion_run(run_id, n_detections=run.n_detections, n_incidents=len(incidents))
        AuditLog(store).log_supersessions(by_run=run_id)
    return run_id, added
