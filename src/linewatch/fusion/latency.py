"""Latency of streamed fusion, as data: per incident and as percentiles (docs/streaming.md).

Pure: the streaming worker (:mod:`linewatch.services.streaming`) reads the clock and hands the times
in. For one incident:

* ``latency_s``: wall clock from the enqueue of its last contributing detection (the one
  queued last) to the commit of its record; what a user waits.
* ``hold_s``: how far the stream's detection time had to run past its last contributing
  detection before the engine released it (``stream_time_s - last_detection_s``), in the
  detections' own seconds: the wait for the hour, its look-ahead and pairing's next hour.
  At real-time pace it is wall-clock seconds too.
* ``processing_s``: wall clock from the enqueue of the detections whose claim released the
  incident to the commit: polling, fusing the hour, writing.
* ``realtime_s = hold_s + processing_s``: the latency at real-time pace, measured from a
  replay at an accelerated clock (where ``latency_s`` itself is shortened by the speed-up).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np

__all__ = ["FIELDS", "IncidentLatency", "drain_floor", "incident_latency", "percentiles",
           "replay_from", "summarize"]


@dataclass(frozen=True)
class IncidentLatency:
    record_id: str
    last_detection_s: float        # latest detection time among its detections
    last_enqueued_s: float         # wall clock: latest enqueue among its detections
    stream_time_s: float           # latest detection time fed to the engine at its release
    trigger_enqueued_s: float      # wall clock: the enqueue of the claim that released it
    committed_s: float             # wall clock: its record committed

    @property
    def latency_s(self) -> float:
        return self.committed_s - self.last_enqueued_s

    @property
    def hold_s(self) -> float:
        return max(0.0, self.stream_time_s - self.last_detection_s)

    @property
    def processing_s(self) -> float:
        return max(0.0, self.committed_s - self.trigger_enqueued_s)

    @property
    def realtime_s(self) -> float:
        return self.hold_s + self.processing_s

    def row(self) -> tuple[str, float, float, float, float, float]:
        """As the store's ``stream_latency`` row (without the stream's name)."""
        return (self.record_id, self.last_detection_s, self.last_enqueued_s, self.stream_time_s,
                self.trigger_enqueued_s, self.committed_s)


FIELDS = ("latency_s", "hold_s", "processing_s", "realtime_s")


def incident_latency(record_id: str, detections: Iterable[str],
                     seen: Mapping[str, tuple[float, float]], *, stream_time_s: float,
                     trigger_enqueued_s: float, committed_s: float) -> IncidentLatency | None:
    """The latency of one incident from its detections' ``(time_s, enqueued_s)`` in ``seen``
    (None if none of them is there)."""
    times = [seen[d] for d in detections if d in seen]
    if not times:
        return None
    return IncidentLatency(record_id, max(t for t, _ in times), max(e for _, e in times),
                           float(stream_time_s), float(trigger_enqueued_s), float(committed_s))


def percentiles(values: Sequence[float], qs: Sequence[float] = (50.0, 99.0)) -> dict[str, float]:
    """``{"n", "p50", "p99", "max"}`` (NaN when empty; linear interpolation; NaN values are
    left out).

    >>> percentiles([0.0, 100.0, float("nan")])
    {'n': 2.0, 'p50': 50.0, 'p99': 99.0, 'max': 100.0}
    >>> percentiles([])["p50"]
    nan
    """
    v = np.asarray([x for x in values if x == x], float)
    out: dict[str, float] = {"n": float(len(v))}
    for q in qs:
        out[f"p{q:g}"] = float(np.percentile(v, q)) if len(v) else math.nan
    out["max"] = float(v.max()) if len(v) else math.nan
    return out


def summarize(rows: Iterable[IncidentLatency | Mapping[str, str | float]]
              ) -> dict[str, dict[str, float]]:
    """Percentiles of every figure in :data:`FIELDS` over the incidents (rows from the store
    or :class:`IncidentLatency`)."""
    items = [r if isinstance(r, IncidentLatency) else _from_row(r) for r in rows]
    return {f: percentiles([getattr(i, f) for i in items]) for f in FIELDS}


def _from_row(row: Mapping[str, str | float]) -> IncidentLatency:
    """An incident's latency from a store row (by the names of its fields)."""
    times = (float(row[k]) for k in _TIMES)
    return IncidentLatency(str(row["record_id"]), *times)


_TIMES = tuple(f.name for f in fields(IncidentLatency) if f.name != "record_id")


def replay_from(committed_s: float | None, replay_hours: float | None,
                hour_s: float) -> float | None:
    """Where a restarted worker replays its claims from: ``replay_hours`` engine hours before
    the last committed hour (None: all claims)."""
    if committed_s is None or replay_hours is None:
        return None
    return committed_s - replay_hours * hour_s


def drain_floor(t_max: float, hour_s: float) -> float:
    """After a drain, the end of the last hour fused: detections before it are late.

    >>> drain_floor(7300.0, 3600.0)
    10800.0
    """
    return (math.floor(t_max / hour_s) + 1) * hour_s
