"""Streaming fusion: a worker that takes detections off the store's queue as they arrive, feeds
them to :func:`linewatch.fusion.engine.fuse_chunks` and stores each hour's incidents with the latency
of every one (docs/streaming.md).

The shell around the engine: it reads the clock, sleeps and talks to the store.

* **One active consumer per stream**, with hot standbys. Fusion cannot undo an event whose
  detections were split between two consumers, so consumers do not share a stream: the
  first to :meth:`~linewatch.store.queue_tables.QueueTables.stream_acquire` it holds a lease
  (renewed by a heartbeat thread on a connection of its own, so a long hour of fusion keeps
  it) and a fencing token; every write it makes checks the token in the same transaction, so
  a consumer that stalled past its lease and was replaced writes nothing more. The others
  wait and take over when the lease lapses (at once after a clean stop). Throughput within
  the consumer comes from ``map_fn`` (worker processes over the tiles).
* **Nothing lost.** A claim moves queued detections into the stream's claims in one
  transaction; the claims are the engine's durable buffer. The incidents of an hour, their
  latencies and the progress mark (the hour committed) go in one transaction. A consumer
  killed at any point and restarted (or a standby taking over) rebuilds the engine by
  replaying the claims from ``replay_hours`` engine hours before the mark; hours up to the
  mark are fused again but not stored again, so nothing is duplicated either (and record ids
  are keyed by their detections, so a re-add would be a duplicate anyway).
* **Stopping.** A stop request (SIGINT/SIGTERM in the CLI) ends the worker after the step it
  is in, without fusing the hours still open: a restart continues exactly. ``until_idle_s``
  instead *drains* the stream when nothing arrived for that long: the open hours are fused
  and stored, and later detections of those hours are quarantined as late.

This module holds the worker and what it reports (:class:`StreamWorker`, :class:`StreamStatus`,
:class:`StreamSummary`). Its parts: :mod:`~linewatch.services.stream_run` (one run while the
worker owns the stream: claim and replay, the hour's commit, the drain, latency bookkeeping),
:mod:`~linewatch.services.stream_lease` (the lease's heartbeat) and
:mod:`~linewatch.services.stream_queue` (feeding the queue, and the stream's report; both
re-exported here).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from linewatch.agreement import Agreement
from linewatch.fusion import FusionParams, IncidentLatency, engine_label, summarize
from linewatch.model import Sensors
from linewatch.services.stream_lease import LeaseHeartbeat, default_owner
from linewatch.services.stream_queue import feed_detections, stream_report
from linewatch.services.stream_run import OwnedRun, RunCounts, StopRequested
from linewatch.services.stream_watermark import WatermarkRun
from linewatch.store import Store, open_store

__all__ = ["StreamStatus", "StreamSummary", "StreamWorker", "default_owner", "feed_detections",
           "stream_report", "with_params"]


@dataclass
class StreamStatus:
    """What the worker is doing, for a status line (given to ``status`` after every step)."""

    name: str
    owner: str
    state: str = "starting"        # standby, replaying, streaming, draining, stopped
    fence: int | None = None
    holder: str | None = None      # while standing by: who holds the stream
    claimed: int = 0               # detections claimed by this run
    fed: int = 0                   # detections given to the engine (replay included)
    stream_time_s: float = math.nan
    committed_s: float | None = None
    hours: int = 0                 # hours committed by this run
    incidents: int = 0             # incidents stored by this run
    late: int = 0
    last_latency_s: float = math.nan
    queued: int | None = None


@dataclass(frozen=True)
class StreamSummary:
    name: str
    owner: str
    acquired: bool
    drained: bool
    n_claimed: int
    n_replayed: int                # detections replayed from the claims at the start
    n_hours: int
    n_incidents: int
    n_stored: int
    n_late: int
    latencies: tuple[IncidentLatency, ...] = ()
    #: incidents released by the drain (the input ended), not by the stream's time advancing
    drained_ids: frozenset[str] = frozenset()
    stats: dict = field(default_factory=dict)

    def latency(self, *, streamed_only: bool = False) -> dict:
        return summarize([r for r in self.latencies
                          if not (streamed_only and r.record_id in self.drained_ids)])


class StreamWorker:
    """The continuous fusion worker of the stream ``name`` on the store at ``url``.

    ``run()`` waits as a standby until it owns the stream, replays its claims, then claims
    queued detections as they come and stores every hour's incidents. It returns when
    ``stop`` is set (without fusing the open hours), when the stream was idle for
    ``until_idle_s`` (after fusing them: a drain), or raises
    :class:`~linewatch.errors.Conflict` when another consumer took the stream over.
    """

    def __init__(self, url: str, sensors: Sensors, *, name: str = "default",
                 agreement: Agreement | None = None,
                 params: FusionParams = FusionParams(), owner: str | None = None,
                 batch: int = 20_000, poll_s: float = 0.1, lease_s: float = 30.0,
                 replay_hours: float | None = 3.0, map_fn: Callable = map, audit: bool = True,
                 heartbeat_lag_s: float | None = None,
                 stop: threading.Event | None = None,
                 status: Callable[[StreamStatus], None] | None = None,
                 on_commit: Callable[[float], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if lease_s <= 0 or poll_s <= 0 or batch < 1:
            raise ValueError("lease_s and poll_s must be positive, batch at least 1")
        if heartbeat_lag_s is not None and params.release != "watermark":
            raise ValueError(f"a heartbeat (a lag of {heartbeat_lag_s:g} s) needs the watermark "
                             f"release; the {params.release!r} release waits for the next detection")
        self.url, self.sensors, self.name, self.agreement = url, sensors, name, agreement
        self.params, self.map_fn, self.audit = params, map_fn, audit
        self.owner = owner or default_owner()
        self.batch, self.poll_s, self.lease_s, self.replay_hours = batch, poll_s, lease_s, replay_hours
        self.heartbeat_lag_s = heartbeat_lag_s
        self.stop = stop or threading.Event()
        self._status_cb, self.on_commit, self.clock = status, on_commit, clock
        self.engine = engine_label(params)
        self.source = f"stream:{name}"
        self.sha = hashlib.sha256(self.source.encode()).hexdigest()
        self.status = StreamStatus(name, self.owner)
        self._counts: RunCounts | None = None      # the last owned run's

    # -- the run ------------------------------------------------------------------------------
    def run(self, *, until_idle_s: float | None = None) -> StreamSummary:
        store = open_store(self.url)
        try:
            fence = self._acquire(store)
            if fence is None:
                self.set_status(state="stopped")
                return self._summary(False, False)
            drained = self._run_owned(store, fence, until_idle_s)
            self.set_status(state="stopped")
            return self._summary(True, drained)
        finally:
            store.close()

    def _acquire(self, store: Store) -> int | None:
        """Wait as a standby until this worker holds the stream; its fence (None: stopped)."""
        while not self.stop.is_set():
            fence = store.stream_acquire(self.name, self.owner, lease_s=self.lease_s,
                                         now=self.clock())
            if fence is not None:
                self.set_status(state="replaying", fence=fence, holder=self.owner)
                return fence
            row = store.stream_progress(self.name) or {}
            self.set_status(state="standby", holder=row.get("owner"))
            self.stop.wait(min(self.poll_s * 5, self.lease_s / 4))
        return None

    def _run_owned(self, store: Store, fence: int, until_idle_s: float | None) -> bool:
        """Fuse while holding the stream, its lease kept by a heartbeat; release it after.
        True if drained, False if stopped."""
        beat = LeaseHeartbeat(self.url, self.name, self.owner, fence, self.lease_s)
        beat.start()
        try:
            kind = WatermarkRun if self.params.release == "watermark" else OwnedRun
            run = kind(self, store, fence, beat)
            run.start()
            self._counts = run.counts
            return run.run(until_idle_s)
        except StopRequested:
            return False
        finally:
            beat.stop()
            # a no-op when another consumer took the stream over meanwhile
            with contextlib.suppress(Exception):
                store.stream_release(self.name, self.owner, fence)

    # -- helpers ------------------------------------------------------------------------------
    def set_status(self, **kw: object) -> None:
        """Update the status and hand it to the ``status`` callback."""
        for k, v in kw.items():
            setattr(self.status, k, v)
        if self._status_cb is not None:
            self._status_cb(self.status)

    def _summary(self, acquired: bool, drained: bool) -> StreamSummary:
        c = self._counts or RunCounts()
        return StreamSummary(self.name, self.owner, acquired, drained, c.n_claimed, c.n_replayed,
                             c.n_hours, c.n_incidents, c.n_stored, c.n_late, tuple(c.latencies),
                             frozenset(c.drained_ids))


def with_params(params: FusionParams, **kw: Any) -> FusionParams:
    """``params`` with the given fields changed (None values ignored); each field has its own type."""
    return replace(params, **{k: v for k, v in kw.items() if v is not None})
