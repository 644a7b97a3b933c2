"""The two ends of the fusion queue outside the worker (docs/streaming.md): feeding detections
onto it (:func:`feed_detections`, paced or as fast as they come) and reporting on it and on a
stream's progress, lag and latency (:func:`stream_report`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

import numpy as np

from linewatch.fusion import summarize
from linewatch.model import Detections, Sensors
from linewatch.store import Store

__all__ = ["feed_detections", "stream_report"]


def feed_detections(store: Store, sensors: Sensors, chunks: Iterable[Detections], *,
                    rate: float | None = None, batch_s: float = 1.0,
                    stop: threading.Event | None = None,
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
