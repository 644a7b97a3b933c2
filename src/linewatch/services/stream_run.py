"""One run of the streaming worker while it owns its stream (docs/streaming.md).

:class:`OwnedRun` is what :meth:`linewatch.services.streaming.StreamWorker.run` does between
acquiring the stream and releasing it, in four parts:

* **claim and replay** (:meth:`OwnedRun.chunks`): the claims from ``replay_hours`` engine hours
  before the committed mark, an engine hour at a time, then queued detections claimed as they
  come, until a stop request (:class:`StopRequested`) or an idle stream (the drain);
* **the hour's commit** (:meth:`OwnedRun.commit_hour`): its records (with their audit-log
  entries), their latencies and the progress mark in one fenced transaction;
* **the drain** (:meth:`OwnedRun.drain`): after the open hours were fused, the floor below which
  later detections are late;
* **latency bookkeeping** (:class:`LatencyBook`): every fed detection's time and enqueue time,
  the stream time and the trigger, from which each incident's latency is computed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from linewatch.errors import Conflict
from linewatch.formats import Rejected
from linewatch.fusion import (
    FusedHour,
    IncidentLatency,
    drain_floor,
    fuse_chunks,
    incident_latency,
    replay_from,
)
from linewatch.model import Detections, Incident, Report
from linewatch.services.audit import AuditLog
from linewatch.services.distributed import params_text
from linewatch.services.fuse import incidents_to_reports
from linewatch.services.stream_lease import LeaseHeartbeat
from linewatch.store import Store

if TYPE_CHECKING:
    from linewatch.services.streaming import StreamWorker

__all__ = ["LatencyBook", "OwnedRun", "RunCounts", "StopRequested"]

#: a claim: (detection id, time_s, enqueued_s)
Claim = tuple[str, float, float]


class StopRequested(Exception):
    """Raised inside the chunk generator to leave fuse_chunks without flushing."""


@dataclass
class RunCounts:
    """What one owned run did, for the summary."""

    n_claimed: int = 0
    n_replayed: int = 0            # detections replayed from the claims at the start
    n_hours: int = 0
    n_incidents: int = 0
    n_stored: int = 0
    n_late: int = 0
    latencies: list[IncidentLatency] = field(default_factory=list)
    #: incidents released by the drain (the input ended), not by the stream's time advancing
    drained_ids: set[str] = field(default_factory=set)


@dataclass
class LatencyBook:
    """What each incident's latency is computed from: every fed detection's ``(time_s,
    enqueued_s)``, the stream time (the latest detection fed) and the trigger (the latest
    enqueue time of the claims last fed)."""

    seen: dict[str, tuple[float, float]] = field(default_factory=dict)
    t_fed: float = -math.inf
    trigger: float = math.nan

    def remember(self, claims: Iterable[Claim]) -> None:
        for i, t, e in claims:
            self.seen[i] = (t, e)

    def fed(self, t_last: float, claims: Sequence[Claim]) -> None:
        """Detections up to ``t_last`` were given to the engine, from these claims."""
        self.t_fed = max(self.t_fed, t_last)
        self.trigger = max(e for _, _, e in claims)

    def latencies(self, incidents: Iterable[Incident], committed_s: float) -> list[IncidentLatency]:
        rows = []
        for inc in incidents:
            lat = incident_latency(inc.id, inc.detections, self.seen, stream_time_s=self.t_fed,
                                   trigger_enqueued_s=self.trigger, committed_s=committed_s)
            if lat is not None:
                rows.append(lat)
        return rows

    def forget_before(self, cut: float) -> None:
        self.seen = {k: v for k, v in self.seen.items() if v[0] >= cut}


class OwnedRun:
    """The worker's run on ``store`` while it holds the stream under ``fence``."""

    def __init__(self, worker: StreamWorker, store: Store, fence: int, beat: LeaseHeartbeat) -> None:
        self.w, self.store, self.fence, self.beat = worker, store, fence, beat
        self.hour_s = worker.params.wind_block_s
        self.counts = RunCounts()
        self.book = LatencyBook()
        self.draining = False
        self.mark: float | None = None      # the last engine hour committed (its start)
        self.floor: float | None = None     # detections before it are late (after a drain)
        self.batch = 0

    # -- the run ------------------------------------------------------------------------------
    def start(self) -> None:
        """Check the stream's parameters, open the ingest batch, read the committed mark."""
        w, store = self.w, self.store
        prog = store.stream_progress(w.name) or {}
        text = params_text(w.params)
        if prog.get("params") not in (None, text) and store.count_stream_claims(w.name):
            raise Conflict(f"stream {w.name!r} was being fused with other parameters "
                           f"({prog.get('engine')}); drain it with them first, or use another --name")
        self.batch = store.begin_batch(f"{w.source}:{w.owner}", w.sha, "fusion")
        store.stream_configure(w.name, engine=w.engine, params=text, batch_id=self.batch)
        self.mark = prog.get("committed_s")
        self.floor = prog.get("floor_s")
        if self.floor is not None and self.mark is not None and self.mark <= self.floor:
            self.mark = None       # the mark is the drained epoch's: nothing of this one committed

    def run(self, until_idle_s: float | None) -> bool:
        """Fuse and commit hour by hour; True once drained (:class:`StopRequested` on a stop)."""
        w = self.w
        w.set_status(committed_s=self.mark)
        launches: dict[str, Incident] = {}
        chunks = (c for c in self.chunks(until_idle_s) if isinstance(c, Detections))
        for hour in fuse_chunks(w.sensors, chunks, agreement=w.agreement,
                                params=w.params, map_fn=w.map_fn):
            if hour.late:
                with self.store.transaction():
                    self.guard()
                    self.quarantine_late(list(hour.late))
                continue
            reports = incidents_to_reports(hour.incidents, engine=w.engine, launches=launches)
            launches = {k: v for k, v in launches.items() if v.time_s >= hour.start_s - 2 * self.hour_s}
            if self.mark is not None and hour.start_s <= self.mark:
                continue                      # committed before the restart
            self.commit_hour(hour, reports)
        self.drain()       # every open hour was fused and stored
        return True

    def guard(self) -> None:
        """Raise :class:`~linewatch.errors.Conflict` unless this run still holds the stream."""
        w = self.w
        self.beat.raise_if_lost()
        self.store.stream_check(w.name, w.owner, self.fence, lease_s=w.lease_s, now=w.clock())

    def quarantine_late(self, ids: list[str]) -> None:
        """Quarantine detections that came after their hour was fused (in the caller's
        transaction), and forget their claims."""
        if not ids:
            return
        w = self.w
        self.store.add_rejected([Rejected(w.source, 0, "time", f"detection {i} came after the hour it "
                                          "belongs to was fused (the stream's engine had passed it)", i)
                                 for i in ids], file_sha256=w.sha)
        self.store.stream_drop_claims(w.name, list(ids))
        self.counts.n_late += len(ids)
        w.set_status(late=self.counts.n_late)

    # -- claim and replay ---------------------------------------------------------------------
    def chunks(self, until_idle_s: float | None) -> Iterator[Detections | float]:
        """The engine's input: the durable buffer replayed, then the queue as it fills (and a
        heartbeat's watermark, a float, when the queue is quiet: :meth:`quiet_watermark`)."""
        yield from self.replay()
        yield from self.claim_live(until_idle_s)

    def replay(self) -> Iterator[Detections]:
        """The claims from the replay window on, an engine hour at a time."""
        w = self.w
        claims = self.store.stream_claims(w.name, since_s=self.replay_since())
        self.counts.n_replayed = len(claims)
        k = 0
        while k < len(claims):
            j = k
            end = claims[k][1] + self.hour_s
            while j < len(claims) and claims[j][1] < end:
                j += 1
            det = self.feed(claims[k:j])
            k = j
            if det is not None:
                yield det

    def replay_since(self) -> float | None:
        """The claims replayed start here (None: all of them)."""
        return replay_from(self.mark, self.w.replay_hours, self.hour_s)

    def claim_live(self, until_idle_s: float | None) -> Iterator[Detections | float]:
        """Queued detections as they come, until a stop request or ``until_idle_s`` of nothing."""
        w = self.w
        w.set_status(state="streaming")
        idle_since = w.clock()
        while True:
            if w.stop.is_set():
                raise StopRequested
            if self.store.queue_waiting():
                got = self.claim()
            else:                       # a read; the heartbeat keeps the lease
                self.beat.raise_if_lost()
                got = []
            if got:
                det = self.feed(got)
                idle_since = w.clock()
                if det is not None:
                    yield det
                continue
            beat = self.quiet_watermark()
            if beat is not None:
                yield beat
            if self.idle(idle_since, until_idle_s):
                return
            w.stop.wait(w.poll_s)

    def quiet_watermark(self) -> float | None:
        """A heartbeat's watermark while the queue is quiet (None: none; the hourly engine
        waits for the next detection)."""
        return None

    def claim(self) -> list[Claim]:
        """Claim up to a batch of queued detections; those before the floor are late."""
        w = self.w
        with self.store.transaction():
            self.guard()
            got, old = self.store.stream_claim(w.name, limit=w.batch, floor_s=self.floor, now=w.clock())
            self.quarantine_late([i for i, _, _ in old])
        if got:
            self.counts.n_claimed += len(got)
            w.set_status(claimed=self.counts.n_claimed)
        return got

    def idle(self, idle_since: float, until_idle_s: float | None) -> bool:
        """Whether nothing came for ``until_idle_s``: then the run drains."""
        if until_idle_s is None or self.w.clock() - idle_since < until_idle_s:
            return False
        self.draining = True
        self.w.set_status(state="draining")
        return True

    def feed(self, claims: list[Claim]) -> Detections | None:
        """The claimed detections, in time order, for the engine (None if none is stored)."""
        w = self.w
        self.book.remember(claims)
        det = self.store.detections_by_id([c[0] for c in claims], w.sensors)
        if not len(det):
            return None
        det = det.take(np.lexsort((det.ids.astype(str), det.time_s)))
        self.book.fed(float(det.time_s[-1]), claims)
        w.set_status(fed=w.status.fed + len(det), stream_time_s=self.book.t_fed)
        return det

    # -- the hour's commit --------------------------------------------------------------------
    def commit_hour(self, hour: FusedHour, reports: list[Report]) -> None:
        """The hour's records, their audit-log entries and latencies, and the mark: at once."""
        w, store = self.w, self.store
        with store.transaction() as c:
            if w.audit:
                store.serialize_writes(c)
            self.guard()
            res = store.add_records(reports, batch_id=self.batch, file_sha256=w.sha, source=w.source)
            if w.audit:   # the hour's records and their log entries commit together
                AuditLog(store).log_new_records()
            now = w.clock()
            rows = self.book.latencies(hour.incidents, now)
            store.add_stream_latency(w.name, [r.row() for r in rows])
            store.stream_advance(w.name, committed_s=hour.start_s,
                                 retain_from_s=replay_from(hour.start_s, w.replay_hours, self.hour_s),
                                 n_detections=hour.n_detections, n_incidents=len(reports), now=now)
        self.committed(hour, rows, res.added)

    def committed(self, hour: FusedHour, rows: list[IncidentLatency], added: int) -> None:
        """Account for a committed hour and forget what no later incident needs."""
        w, n = self.w, self.counts
        self.mark = hour.start_s
        n.latencies += rows
        if self.draining:
            n.drained_ids |= {r.record_id for r in rows}
        n.n_hours += 1
        n.n_incidents += len(hour.incidents)
        n.n_stored += added
        w.set_status(committed_s=self.mark, hours=n.n_hours, incidents=n.n_incidents,
                     last_latency_s=rows[-1].latency_s if rows else w.status.last_latency_s)
        self.book.forget_before(hour.start_s - 3 * self.hour_s)
        if w.on_commit is not None:
            w.on_commit(hour.start_s)

    # -- the drain ----------------------------------------------------------------------------
    def drain(self) -> None:
        """After the open hours were fused and stored: detections before the end of the last
        one are late from now on, and the claims are dropped."""
        if not self.book.t_fed > -math.inf:
            return                  # nothing was fed
        w = self.w
        with self.store.transaction():
            self.guard()
            floor = drain_floor(self.book.t_fed, self.hour_s)
            self.store.stream_advance(w.name, committed_s=self.mark if self.mark is not None else floor - self.hour_s,
                                      retain_from_s=None, floor_s=floor, now=w.clock())
