"""The streaming worker on the watermark engine (``FusionParams(release="watermark")``, the
default of ``linewatch stream fuse``; docs/streaming.md).

:class:`WatermarkRun` is :class:`~linewatch.services.stream_run.OwnedRun` with
:class:`~linewatch.fusion.WatermarkEngine` instead of the hourly engine:

* **Every release is committed** as it comes, in one fenced transaction: the new incidents as
  records (with their audit-log entries and latencies), the revised ones as new versions.
  An incident's first version is the record ``<incident id>``; each revision (its pair, its
  side, a place relocated with the hour's wind) is the record ``<incident id>~<n>`` that
  supersedes the one before (:class:`RecordVersions`), so reports and verification see the
  latest version and the audit log keeps them all.
* **A snapshot at every hour's close.** The release that closes an hour carries the engine's
  state (:meth:`~linewatch.fusion.WatermarkEngine.snapshot`) and the record versions still open
  to revision; it is stored with the progress mark in the same transaction, and the claims
  before its floor are dropped. A restarted worker builds the engine from it and replays the
  claims from its floor: the releases already committed come again with the same ids and
  content and are duplicates; nothing is lost or doubled.
* **Heartbeats.** With ``heartbeat_lag_s``, a quiet queue advances the watermark to
  ``clock() - heartbeat_lag_s`` (the network vouches that everything older has come), so
  the last incidents before a quiet stretch are released without waiting for the next
  detection.
* **The drain** releases every step left; detections before the engine's next step are late
  from then on, and the snapshot is forgotten (the next epoch starts afresh).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable
from typing import Any

from linewatch.formats import content_hash, record_to_dict
from linewatch.fusion import Release, Snapshot, WatermarkEngine
from linewatch.model import Detections, Incident, Report
from linewatch.services.audit import AuditLog
from linewatch.services.fuse import incidents_to_reports
from linewatch.services.stream_run import OwnedRun

__all__ = ["RecordVersions", "WatermarkRun", "snapshot_from_json", "snapshot_to_json"]

#: the record versions kept for revision: incidents this recent (the hour being closed, and
#: launches waiting for their impact, are well within it)
_KEEP_S = 7200.0


class RecordVersions:
    """The released incidents as record versions (module docstring): the version each one is
    at, its content, and the launches and impacts of pairs (an impact's record carries its
    launch's place as its origin, and is revised when the launch moves)."""

    def __init__(self, engine: str, state: dict[str, Any] | None = None) -> None:
        self.engine = engine
        #: incident id -> (version, record id, content hash, pair id, time_s)
        self.current: dict[str, tuple[int, str, str, str | None, float]] = {}
        self.launches: dict[str, Incident] = {}     # pair id -> the launch, as last released
        self.impacts: dict[str, Incident] = {}      # pair id -> the impact, as last released
        if state is not None:
            self.current = {k: (int(v[0]), str(v[1]), str(v[2]), v[3], float(v[4]))
                            for k, v in state["current"].items()}
            self.launches = {i.pair_id or "": i for i in map(incident_from_dict, state["launches"])}
            self.impacts = {i.pair_id or "": i for i in map(incident_from_dict, state["impacts"])}

    def state(self) -> dict[str, Any]:
        return {"current": {k: list(v) for k, v in sorted(self.current.items())},
                "launches": [incident_to_dict(i) for i in self.launches.values()],
                "impacts": [incident_to_dict(i) for i in self.impacts.values()]}

    def reports(self, release: Release) -> list[Report]:
        """The records a release adds: first versions, and revisions whose content changed."""
        changed = [*release.new, *release.revised]
        ids = {i.id for i in changed}
        for inc in changed:
            if inc.pair_id:
                (self.launches if inc.kind == "launch" else self.impacts)[inc.pair_id] = inc
        for inc in release.revised:         # an impact whose launch moved: its origin moved
            imp = self.impacts.get(inc.pair_id or "") if inc.kind == "launch" else None
            if imp is not None and imp.id not in ids:
                changed.append(imp)
                ids.add(imp.id)
        out = []
        for inc, rep in zip(changed, incidents_to_reports(changed, engine=self.engine,
                                                          launches=dict(self.launches))):
            got = self._version(inc, rep)
            if got is not None:
                out.append(got)
        return out

    def _version(self, inc: Incident, rep: Report) -> Report | None:
        digest = _content(rep)
        prev = self.current.get(inc.id)
        if prev is None:
            self.current[inc.id] = (1, rep.id, digest, inc.pair_id, inc.time_s)
            return rep
        n, prev_id, prev_digest, prev_pair, _ = prev
        if digest == prev_digest:
            return None
        why = ("paired: a launch and its impact" if inc.pair_id and not prev_pair
               else "relocated: the hour's wind was estimated, or its launch moved")
        new = dataclasses.replace(rep, id=f"{inc.id}~{n + 1}", supersedes=prev_id,
                                  correction=f"fusion revised the incident ({why})")
        self.current[inc.id] = (n + 1, new.id, digest, inc.pair_id, inc.time_s)
        return new

    def forget_before(self, t_s: float) -> None:
        """Forget incidents (and pairs) older than ``t_s``: no release revises them any more."""
        self.current = {k: v for k, v in self.current.items() if v[4] >= t_s}
        self.launches = {k: i for k, i in self.launches.items() if i.time_s >= t_s}
        self.impacts = {k: i for k, i in self.impacts.items() if i.time_s >= t_s}


def _content(rep: Report) -> str:
    """What makes two versions the same: the record's canonical hash, its id and its link to
    the version before left out."""
    doc = record_to_dict(dataclasses.replace(rep, supersedes=None, correction=None))
    doc.pop("id", None)
    return content_hash(doc)


def incident_to_dict(inc: Incident) -> dict[str, Any]:
    return dataclasses.asdict(inc)


def incident_from_dict(doc: dict[str, Any]) -> Incident:
    d = dict(doc)
    d["detections"] = tuple(d["detections"])
    d["cov_en_m2"] = tuple(tuple(r) for r in d["cov_en_m2"])
    return Incident(**d)


def snapshot_to_json(snap: Snapshot, versions: RecordVersions) -> str:
    """The engine's state and the record versions, as the store keeps them (floats exactly)."""
    return json.dumps({
        "step_s": snap.step_s, "hour_s": snap.hour_s, "wind_m_s": list(snap.wind_m_s),
        "used": list(snap.used),
        "hour_incidents": [incident_to_dict(i) for i in snap.hour_incidents],
        "open_launches": [incident_to_dict(i) for i in snap.open_launches],
        "versions": versions.state()})


def snapshot_from_json(text: str, engine: str) -> tuple[Snapshot, RecordVersions]:
    doc = json.loads(text)
    snap = Snapshot(float(doc["step_s"]), float(doc["hour_s"]),
                    (float(doc["wind_m_s"][0]), float(doc["wind_m_s"][1])), tuple(doc["used"]),
                    tuple(map(incident_from_dict, doc["hour_incidents"])),
                    tuple(map(incident_from_dict, doc["open_launches"])))
    return snap, RecordVersions(engine, doc["versions"])


class WatermarkRun(OwnedRun):
    """The worker's run with the watermark engine (module docstring)."""

    engine: WatermarkEngine
    versions: RecordVersions

    def run(self, until_idle_s: float | None) -> bool:
        w = self.w
        text = self.store.stream_snapshot(w.name)
        snap, self.versions = (snapshot_from_json(text, w.engine) if text is not None
                               else (None, RecordVersions(w.engine)))
        self.engine = WatermarkEngine(w.sensors, agreement=w.agreement, params=w.params, resume=snap,
                                      map_fn=w.map_fn)
        # detections are counted fused at their hour's close (a replay's, once)
        self.counted_to = snap.hour_s if snap is not None else -math.inf
        w.set_status(committed_s=self.mark)
        for item in self.chunks(until_idle_s):
            if isinstance(item, Detections):
                self.commit_all(self.engine.add(item))
            else:
                self.commit_all(self.engine.advance(item))
        self.commit_all(self.engine.finish())
        self.drain()
        return True

    def replay_since(self) -> float | None:
        return self.engine.floor

    def quiet_watermark(self) -> float | None:
        lag = self.w.heartbeat_lag_s
        if lag is None:
            return None
        t = self.w.clock() - lag
        if t <= self.book.t_fed:
            return None
        self.book.t_fed, self.book.trigger = t, self.w.clock()
        return t

    def commit_all(self, releases: Iterable[Release]) -> None:
        """Commit each release as it comes (the engine is paused at it: a snapshot taken now
        is the state right after it)."""
        for rel in releases:
            if rel.late:
                with self.store.transaction():
                    self.guard()
                    self.quarantine_late(list(rel.late))
            if rel.new or rel.revised or rel.hour_start_s is not None:
                self.commit_release(rel)

    def commit_release(self, rel: Release) -> None:
        w, store = self.w, self.store
        reports = self.versions.reports(rel)
        snap = self.engine.snapshot() if rel.hour_start_s is not None and not self.draining else None
        mark, retain, n_fused = self.mark, None, 0
        if snap is not None:
            self.versions.forget_before(snap.hour_s - _KEEP_S)
            mark = snap.hour_s - self.hour_s      # the hour closed
            retain = self.engine.resume_floor(snap)
            n_fused = self.count_fused(snap.hour_s)
        with store.transaction() as c:
            if w.audit:
                store.serialize_writes(c)
            self.guard()
            # first versions apart: how many incidents are new (a replay's are duplicates)
            first = store.add_records([r for r in reports if r.supersedes is None], batch_id=self.batch,
                                      file_sha256=w.sha, source=w.source)
            later = store.add_records([r for r in reports if r.supersedes is not None],
                                      batch_id=self.batch, file_sha256=w.sha, source=w.source)
            if w.audit:
                AuditLog(store).log_new_records()
            now = w.clock()
            rows = self.book.latencies(rel.new, now)
            store.add_stream_latency(w.name, [r.row() for r in rows])
            if snap is not None:
                store.stream_save_snapshot(w.name, snapshot_to_json(snap, self.versions))
            store.stream_advance(w.name, committed_s=mark, retain_from_s=retain, n_detections=n_fused,
                                 n_incidents=first.added, now=now)
        self.released(rel, rows, first.added, first.added + later.added, mark)

    def count_fused(self, hour_s: float) -> int:
        """The detections fed from the last close to the hour now starting."""
        lo, self.counted_to = self.counted_to, hour_s
        return sum(1 for t, _ in self.book.seen.values() if lo <= t < hour_s)

    def released(self, rel: Release, rows: list, n_new: int, added: int, mark: float | None) -> None:
        w, n = self.w, self.counts
        self.mark = mark
        n.latencies += rows
        if self.draining:
            n.drained_ids |= {r.record_id for r in rows}
        n.n_incidents += n_new
        n.n_stored += added
        if rel.hour_start_s is not None:
            n.n_hours += 1
        w.set_status(committed_s=self.mark, hours=n.n_hours, incidents=n.n_incidents,
                     last_latency_s=rows[-1].latency_s if rows else w.status.last_latency_s)
        if self.engine.floor is not None:
            self.book.forget_before(self.engine.floor - 3600.0)
        if w.on_commit is not None and rel.hour_start_s is not None and mark is not None:
            w.on_commit(mark)

    def drain(self) -> None:
        """Every step was released: detections before the engine's next step are late from now
        on; the claims and the snapshot are dropped (the next epoch starts afresh)."""
        eng = self.engine
        if eng.step is None:
            return                  # nothing was fed
        w = self.w
        with self.store.transaction():
            self.guard()
            floor = float(eng.step)
            self.store.stream_save_snapshot(w.name, None)
            self.store.stream_advance(w.name, committed_s=self.mark if self.mark is not None
                                      else floor - self.hour_s, retain_from_s=None,
                                      floor_s=floor, now=w.clock())
