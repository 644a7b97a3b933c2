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
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from linewatch.errors import Conflict, LinewatchError
from linewatch.fusion import (
    FusionParams,
    IncidentLatency,
    drain_floor,
    engine_label,
    fuse_chunks,
    incident_latency,
    replay_from,
    summarize,
)
from linewatch.model import Detections, Sensors
from linewatch.store import Store, open_store

__all__ = ["StreamStatus", "StreamSummary", "StreamWorker", "default_owner", "feed_detections",
           "stream_report"]


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


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


class _Stop(Exception):
    """Raised inside the chunk generator to leave fuse_chunks without flushing."""


class StreamWorker:
    """The continuous fusion worker of the stream ``name`` on the store at ``url``.

    ``run()`` waits as a standby until it owns the stream, replays its claims, then claims
    queued detections as they come and stores every hour's incidents. It returns when
    ``stop`` is set (without fusing the open hours), when the stream was idle for
    ``until_idle_s`` (after fusing them: a drain), or raises
    :class:`~linewatch.errors.Conflict` when another consumer took the stream over.
    """

    def __init__(self, url: str, sensors: Sensors, *, name: str = "default", agreement=None,
                 params: FusionParams = FusionParams(), owner: str | None = None,
                 batch: int = 20_000, poll_s: float = 0.1, lease_s: float = 30.0,
                 replay_hours: float | None = 3.0, map_fn: Callable = map, audit: bool = True,
                 stop: threading.Event | None = None,
                 status: Callable[[StreamStatus], None] | None = None,
                 on_commit: Callable[[float], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if lease_s <= 0 or poll_s <= 0 or batch < 1:
            raise ValueError("lease_s and poll_s must be positive, batch at least 1")
        self.url, self.sensors, self.name, self.agreement = url, sensors, name, agreement
        self.params, self.map_fn, self.audit = params, map_fn, audit
        self.owner = owner or default_owner()
        self.batch, self.poll_s, self.lease_s, self.replay_hours = batch, poll_s, lease_s, replay_hours
        self.stop = stop or threading.Event()
        self._status_cb, self.on_commit, self.clock = status, on_commit, clock
        self.engine = engine_label(params)
        self.source = f"stream:{name}"
        self.sha = hashlib.sha256(self.source.encode()).hexdigest()
        self.status = StreamStatus(name, self.owner)

    # -- the run ------------------------------------------------------------------------------
    def run(self, *, until_idle_s: float | None = None) -> StreamSummary:
        store = open_store(self.url)
        try:
            fence = self._acquire(store)
            if fence is None:
                self._set(state="stopped")
                return self._summary(False, False)
            beat = _Heartbeat(self.url, self.name, self.owner, fence, self.lease_s)
            beat.start()
            try:
                drained = self._run_owned(store, fence, until_idle_s, beat)
            except _Stop:
                drained = False
            finally:
                beat.stop()
                try:       # a no-op when another consumer took the stream over meanwhile
                    store.stream_release(self.name, self.owner, fence)
                except Exception:
                    pass
            self._set(state="stopped")
            return self._summary(True, drained)
        finally:
            store.close()

    def _acquire(self, store: Store) -> int | None:
        while not self.stop.is_set():
            fence = store.stream_acquire(self.name, self.owner, lease_s=self.lease_s,
                                         now=self.clock())
            if fence is not None:
                self._set(state="replaying", fence=fence, holder=self.owner)
                return fence
            row = store.stream_progress(self.name) or {}
            self._set(state="standby", holder=row.get("owner"))
            self.stop.wait(min(self.poll_s * 5, self.lease_s / 4))
        return None

    def _run_owned(self, store: Store, fence: int, until_idle_s: float | None,
                   beat: _Heartbeat) -> bool:
        from linewatch.services.pipeline import _log_new, _stored, incidents_to_reports
        prog = store.stream_progress(self.name) or {}
        params_text = json.dumps(asdict(self.params), sort_keys=True, default=list)
        if prog.get("params") not in (None, params_text) and store.count_stream_claims(self.name):
            raise Conflict(f"stream {self.name!r} was being fused with other parameters "
                           f"({prog.get('engine')}); drain it with them first, or use another --name")
        batch = store.begin_batch(f"{self.source}:{self.owner}", self.sha, "fusion")
        store.stream_configure(self.name, engine=self.engine, params=params_text, batch_id=batch)
        mark = prog.get("committed_s")
        floor = prog.get("floor_s")
        if floor is not None and mark is not None and mark <= floor:
            mark = None       # the mark is the drained epoch's: nothing of this one committed
        wb = self.params.wind_block_s
        self.seen: dict[str, tuple[float, float]] = {}   # id -> (time_s, enqueued_s)
        self.t_fed, self.trigger = -math.inf, math.nan
        self.n_claimed = self.n_replayed = self.n_hours = self.n_incidents = self.n_stored = 0
        self.n_late = 0
        self.latencies: list[IncidentLatency] = []
        self.drained_ids: set[str] = set()
        self._draining = False
        self._set(committed_s=mark)

        def guard():
            if beat.lost is not None:
                raise beat.lost
            store.stream_check(self.name, self.owner, fence, lease_s=self.lease_s, now=self.clock())

        def late(items: list[tuple[str, float, float]]) -> None:
            """Quarantine detections that came after their hour was fused (in the caller's
            transaction), and forget their claims."""
            if not items:
                return
            store.add_chunk([], [(self.source, 0, "time", f"detection {i} came after the hour it "
                                  "belongs to was fused (the stream's engine had passed it)", i)
                                 for i in items], batch_id=None, file_sha256=self.sha)
            store.stream_drop_claims(self.name, [i for i in items])
            self.n_late += len(items)
            self._set(late=self.n_late)

        def feed(claims: list[tuple[str, float, float]]) -> Detections | None:
            for i, t, e in claims:
                self.seen[i] = (t, e)
            det = store.detections_by_id([c[0] for c in claims], self.sensors)
            if not len(det):
                return None
            det = det.take(np.lexsort((det.ids.astype(str), det.time_s)))
            self.t_fed = max(self.t_fed, float(det.time_s[-1]))
            self.trigger = max(e for _, _, e in claims)
            self._set(fed=self.status.fed + len(det), stream_time_s=self.t_fed)
            return det

        def chunks() -> Iterator[Detections]:
            # the durable buffer first: claims from the replay window on, an hour at a time
            claims = store.stream_claims(self.name, since_s=replay_from(mark, self.replay_hours, wb))
            self.n_replayed = len(claims)
            k = 0
            while k < len(claims):
                j = k
                end = claims[k][1] + wb
                while j < len(claims) and claims[j][1] < end:
                    j += 1
                det = feed(claims[k:j])
                k = j
                if det is not None:
                    yield det
            self._set(state="streaming")
            idle_since = self.clock()
            while True:
                if self.stop.is_set():
                    raise _Stop
                if not store.queue_waiting():      # a read; the heartbeat keeps the lease
                    if beat.lost is not None:
                        raise beat.lost
                    if until_idle_s is not None and self.clock() - idle_since >= until_idle_s:
                        self._draining = True
                        self._set(state="draining")
                        return
                    self.stop.wait(self.poll_s)
                    continue
                with store.transaction():
                    guard()
                    got, old = store.stream_claim(self.name, limit=self.batch, floor_s=floor,
                                                  now=self.clock())
                    late([i for i, _, _ in old])
                if got:
                    self.n_claimed += len(got)
                    self._set(claimed=self.n_claimed)
                    det = feed(got)
                    idle_since = self.clock()
                    if det is not None:
                        yield det
                    continue
                if until_idle_s is not None and self.clock() - idle_since >= until_idle_s:
                    self._draining = True
                    self._set(state="draining")
                    return
                self.stop.wait(self.poll_s)

        launches: dict[str, object] = {}
        for hour in fuse_chunks(self.sensors, chunks(), agreement=self.agreement, params=self.params,
                                map_fn=self.map_fn):
            if hour.late:
                with store.transaction():
                    guard()
                    late(list(hour.late))
                continue
            reports = incidents_to_reports(hour.incidents, engine=self.engine, launches=launches)
            launches = {k: v for k, v in launches.items() if v.time_s >= hour.start_s - 2 * wb}
            if mark is not None and hour.start_s <= mark:
                continue                      # committed before the restart
            rows = []
            with store.transaction():
                guard()
                res = store.add_chunk(_stored(reports, self.source), [], batch_id=batch,
                                      file_sha256=self.sha)
                now = self.clock()
                for inc in hour.incidents:
                    lat = incident_latency(inc.id, inc.detections, self.seen,
                                           stream_time_s=self.t_fed,
                                           trigger_enqueued_s=self.trigger, committed_s=now)
                    if lat is not None:
                        rows.append(lat)
                store.add_stream_latency(self.name, [r.row() for r in rows])
                store.stream_advance(self.name, committed_s=hour.start_s,
                                     retain_from_s=replay_from(hour.start_s, self.replay_hours, wb)
                                     if self.replay_hours is not None else None,
                                     n_detections=hour.n_detections, n_incidents=len(reports),
                                     now=now)
            mark = hour.start_s
            self.latencies += rows
            if self._draining:
                self.drained_ids |= {r.record_id for r in rows}
            self.n_hours += 1
            self.n_incidents += len(hour.incidents)
            self.n_stored += res.added
            self._set(committed_s=mark, hours=self.n_hours, incidents=self.n_incidents,
                      last_latency_s=rows[-1].latency_s if rows else self.status.last_latency_s)
            if self.audit and res.added:
                _log_new(store)
            cut = hour.start_s - 3 * wb
            self.seen = {k: v for k, v in self.seen.items() if v[0] >= cut}
            if self.on_commit is not None:
                self.on_commit(hour.start_s)
        # drained: every open hour was fused and stored
        if self.t_fed > -math.inf:
            with store.transaction():
                guard()
                store.stream_advance(self.name, committed_s=mark if mark is not None else
                                     drain_floor(self.t_fed, wb) - wb, retain_from_s=None,
                                     floor_s=drain_floor(self.t_fed, wb), now=self.clock())
        return True

    # -- helpers ------------------------------------------------------------------------------
    def _set(self, **kw) -> None:
        for k, v in kw.items():
            setattr(self.status, k, v)
        if self._status_cb is not None:
            self._status_cb(self.status)

    def _summary(self, acquired: bool, drained: bool) -> StreamSummary:
        g = lambda k: getattr(self, k, 0)  # noqa: E731
        return StreamSummary(self.name, self.owner, acquired, drained, g("n_claimed"),
                             g("n_replayed"), g("n_hours"), g("n_incidents"), g("n_stored"),
                             g("n_late"), tuple(getattr(self, "latencies", ())),
                             frozenset(getattr(self, "drained_ids", ())))


class _Heartbeat(threading.Thread):
    """Renews the lease every third of it on a connection of its own, so that an hour of
    fusion longer than the lease does not lose the stream; notes when it was lost."""

    def __init__(self, url: str, name: str, owner: str, fence: int, lease_s: float) -> None:
        super().__init__(daemon=True, name=f"lease:{name}")
        self.url, self.name, self.owner, self.fence, self.lease_s = url, name, owner, fence, lease_s
        self._stop_event = threading.Event()
        self.lost: Conflict | None = None

    def run(self) -> None:
        try:
            store = open_store(self.url)
        except LinewatchError:
            return
        try:
            while not self._stop_event.wait(self.lease_s / 3):
                try:
                    store.stream_check(self.name, self.owner, self.fence, lease_s=self.lease_s)
                except Conflict as exc:
                    self.lost = exc
                    return
                except LinewatchError:
                    continue
        finally:
            store.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


# -- feeding and reporting --------------------------------------------------------------------

def feed_detections(store: Store, sensors: Sensors, chunks, *, rate: float | None = None,
                    batch_s: float = 1.0, stop: threading.Event | None = None,
                    clock: Callable[[], float] = time.time,
                    progress: Callable[[int], None] | None = None) -> int:
    """Store and enqueue detections from time-ordered chunks. ``rate``: pace them at that many
    times real time by their own clock (each batch of ``batch_s`` detection-seconds is queued
    when the wall clock reaches it); None: as fast as they come. Returns how many were new."""
    stop = stop or threading.Event()
    n, t0, w0 = 0, None, clock()
    for det in chunks:
        if not len(det):
            continue
        if rate is None:
            n += store.add_detections(det, sensors, enqueue=True)
            if progress is not None:
                progress(len(det))
            continue
        order = np.argsort(det.time_s, kind="stable")
        det = det.take(order)
        if t0 is None:
            t0 = float(det.time_s[0])
        k = 0
        while k < len(det):
            if stop.is_set():
                return n
            edge = float(det.time_s[k]) + batch_s
            j = int(np.searchsorted(det.time_s, edge, "left"))
            due = w0 + (float(det.time_s[k]) - t0) / rate
            wait = due - clock()
            if wait > 0 and stop.wait(wait):
                return n
            n += store.add_detections(det.take(np.arange(k, j)), sensors, enqueue=True)
            if progress is not None:
                progress(j - k)
            k = j
    return n


def stream_report(store: Store, name: str = "default", *, last: int = 1000,
                  now: float | None = None) -> dict:
    """The queue and a stream's progress, lag and latency (of its ``last`` incidents)."""
    now = time.time() if now is None else now
    depth, oldest = store.queue_depth()
    prog = store.stream_progress(name) or {}
    lat = store.stream_latencies(name, last=last)
    lease = prog.get("lease_until_s")
    return {
        "stream": name,
        "queued": depth,
        "oldest_queued_age_s": None if oldest is None else round(now - oldest, 3),
        "claimed": store.count_stream_claims(name),
        "owner": prog.get("owner"),
        "fence": prog.get("fence"),
        "lease_left_s": None if lease is None else round(lease - now, 3),
        "active": bool(lease is not None and lease > now),
        "engine": prog.get("engine"),
        "committed_hour_s": prog.get("committed_s"),
        "floor_s": prog.get("floor_s"),
        "n_detections": prog.get("n_detections", 0),
        "n_incidents": prog.get("n_incidents", 0),
        "latency": {k: {q: (None if v != v else round(v, 3)) for q, v in s.items()}
                    for k, s in summarize(lat).items()},
    }


def with_params(params: FusionParams, **kw) -> FusionParams:
    """``params`` with the given fields changed (None values ignored)."""
    return replace(params, **{k: v for k, v in kw.items() if v is not None})
