"""The fusion queue (table ``fusion_queue``, migration ``0005_detections``) and the streams that
consume it (tables ``stream_progress``, ``stream_claims``, ``stream_latency``, migration
``0006_stream``): what feeds fusion as detections arrive (:mod:`linewatch.services.streaming`,
docs/streaming.md).

* **Enqueue**: ``add_detections(..., enqueue=True)`` stores detections and queues the new ones
  in one transaction, each with its wall-clock enqueue time.
* **Ownership**: one consumer at a time owns a stream, by a lease (``lease_until_s``) and a
  fencing token (``fence``, raised by every take-over). Every write a consumer makes checks,
  in its own transaction, that it still owns the stream with its token (:meth:`stream_check`),
  so a consumer that stalled past its lease and was replaced can write nothing more. Others
  wait as hot standbys (:meth:`stream_acquire` returns None) and take over when the lease
  runs out, or at once when the owner released it on a clean stop.
* **Claim**: :meth:`stream_claim` moves up to ``limit`` queued detections, oldest first, into
  the stream's claims in one transaction (``FOR UPDATE SKIP LOCKED`` in PostgreSQL; SQLite's
  single writer needs none). The claims are the consumer's durable buffer: a restarted
  consumer rebuilds its engine from them (with the detections table), so nothing claimed is
  lost. Claims are dropped once older than the stream's replay window
  (:meth:`stream_advance`).
* **Progress**: :meth:`stream_advance` records the last fused hour whose incidents were
  committed (``committed_s``); the consumer writes it in the same transaction as the incidents
  and their latencies (:meth:`add_stream_latency`).

:class:`QueueTables` is mixed into :class:`~linewatch.store.base.Store`; it uses ``self.conn``,
``self.transaction()`` and ``self.dialect``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from linewatch.errors import Conflict
from linewatch.store.service_tables import in_parts
from linewatch.store.tables import Tables

_PROGRESS = ("name", "owner", "fence", "lease_until_s", "committed_s", "floor_s", "batch_id",
             "engine", "params", "n_detections", "n_incidents", "updated_s")
_LATENCY = ("record_id", "last_detection_s", "last_enqueued_s", "stream_time_s",
            "trigger_enqueued_s", "committed_s")


class QueueTables(Tables):
    # -- the queue ----------------------------------------------------------------------------
    def queue_depth(self) -> tuple[int, float | None]:
        """How many detections are queued, and the enqueue time of the oldest (None: empty)."""
        n, oldest = self.conn.execute("SELECT count(*), min(enqueued_s) FROM fusion_queue").fetchone()
        return int(n), (None if oldest is None else float(oldest))

    def queue_waiting(self) -> bool:
        """Whether anything is queued (a read: no write lock taken)."""
        return self.conn.execute("SELECT seq FROM fusion_queue LIMIT 1").fetchone() is not None

    def enqueue_stored(self, ids: Iterable[str], *, now: float | None = None) -> int:
        """Queue detections that are stored already (e.g. stored without ``enqueue``); ids not
        stored are left out. Returns how many were queued."""
        ids = list(dict.fromkeys(map(str, ids)))
        t = time.time() if now is None else now
        n = 0
        with self.transaction() as c:
            for marks, part in in_parts(ids):
                got = [r[0] for r in c.execute(
                    f"SELECT id FROM detections WHERE id IN ({marks})", part).fetchall()]
                c.executemany("INSERT INTO fusion_queue (detection_id, enqueued_s) VALUES (?, ?)",
                              [(i, t) for i in got])
                n += len(got)
        return n

    # -- ownership ----------------------------------------------------------------------------
    def stream_acquire(self, name: str, owner: str, *, lease_s: float,
                       now: float | None = None) -> int | None:
        """Take the stream ``name`` if nobody holds it (no owner, a lapsed lease, or ``owner``
        itself): the new fencing token. None: another consumer holds it (stand by)."""
        now = time.time() if now is None else now
        lock = " FOR UPDATE" if self.dialect == "postgresql" else ""
        with self.transaction() as c:
            c.execute("INSERT INTO stream_progress (name, fence, updated_s) VALUES (?, 0, ?) "
                      "ON CONFLICT (name) DO NOTHING", (name, now))
            holder, fence, until = c.execute(
                "SELECT owner, fence, lease_until_s FROM stream_progress WHERE name = ?" + lock,
                (name,)).fetchone()
            if holder is not None and holder != owner and until is not None and until > now:
                return None
            fence = int(fence) + 1
            c.execute("UPDATE stream_progress SET owner = ?, fence = ?, lease_until_s = ?, "
                      "updated_s = ? WHERE name = ?", (owner, fence, now + lease_s, now, name))
        return fence

    def stream_check(self, name: str, owner: str, fence: int, *, lease_s: float,
                     now: float | None = None) -> None:
        """Renew the lease if ``owner`` still holds the stream with token ``fence``; else raise
        :class:`~linewatch.errors.Conflict`. Call it inside the transaction it guards."""
        now = time.time() if now is None else now
        with self.transaction() as c:
            got = c.execute("UPDATE stream_progress SET lease_until_s = ?, updated_s = ? "
                            "WHERE name = ? AND owner = ? AND fence = ? RETURNING fence",
                            (now + lease_s, now, name, owner, fence)).fetchone()
            if got is None:
                row = self.stream_progress(name) or {}
                raise Conflict(f"stream {name!r}: consumer {owner!r} (token {fence}) no longer "
                               f"owns it; {row.get('owner')!r} took it over (token "
                               f"{row.get('fence')})")

    def stream_release(self, name: str, owner: str, fence: int) -> None:
        """End ``owner``'s lease now (a clean stop), so a standby takes over at once."""
        with self.transaction() as c:
            c.execute("UPDATE stream_progress SET lease_until_s = 0 WHERE name = ? AND owner = ? "
                      "AND fence = ?", (name, owner, fence))

    def stream_configure(self, name: str, *, engine: str, params: str,
                         batch_id: int | None) -> None:
        """Record the engine, its parameters and the ingest batch the stream's records go under."""
        with self.transaction() as c:
            c.execute("UPDATE stream_progress SET engine = ?, params = ?, batch_id = ? "
                      "WHERE name = ?", (engine, params, batch_id, name))

    def stream_progress(self, name: str) -> dict | None:
        row = self.conn.execute(f"SELECT {', '.join(_PROGRESS)} FROM stream_progress WHERE name = ?",
                                (name,)).fetchone()
        return None if row is None else dict(zip(_PROGRESS, row))

    def streams(self) -> list[dict]:
        return [dict(zip(_PROGRESS, r)) for r in self.conn.execute(
            f"SELECT {', '.join(_PROGRESS)} FROM stream_progress ORDER BY name")]

    # -- claims -------------------------------------------------------------------------------
    def stream_claim(self, name: str, *, limit: int, floor_s: float | None = None,
                     now: float | None = None
                     ) -> tuple[list[tuple[str, float, float]], list[tuple[str, float, float]]]:
        """Move up to ``limit`` queued detections, oldest first, into the stream's claims;
        ``(claimed, late)`` as ``(detection id, time_s, enqueued_s)``. ``late``: those timed
        before ``floor_s`` (not claimed), for the caller to quarantine. A detection queued
        twice, or claimed already, is dropped from the queue and returned in neither. Run it
        inside a transaction that first calls :meth:`stream_check`."""
        now = time.time() if now is None else now
        lock = " FOR UPDATE OF q SKIP LOCKED" if self.dialect == "postgresql" else ""
        with self.transaction() as c:
            rows = c.execute("SELECT q.seq, q.detection_id, d.time_s, q.enqueued_s FROM fusion_queue q "
                             "JOIN detections d ON d.id = q.detection_id ORDER BY q.seq LIMIT ?" + lock,
                             (int(limit),)).fetchall()
            if not rows:
                return [], []
            seqs = [r[0] for r in rows]
            ids = list(dict.fromkeys(r[1] for r in rows))
            known: set[str] = set()
            for marks, part in in_parts(ids):
                known |= {r[0] for r in c.execute(
                    f"SELECT detection_id FROM stream_claims WHERE stream = ? AND detection_id IN "
                    f"({marks})", [name, *part]).fetchall()}
            claimed: list[tuple[str, float, float]] = []
            late: list[tuple[str, float, float]] = []
            seen = set(known)
            for _, det_id, t, enq in rows:
                if det_id in seen:
                    continue
                seen.add(det_id)
                item = (str(det_id), float(t), float(enq))
                (late if floor_s is not None and t < floor_s else claimed).append(item)
            c.executemany("INSERT INTO stream_claims (stream, detection_id, time_s, enqueued_s, "
                          "claimed_s) VALUES (?, ?, ?, ?, ?)",
                          [(name, i, t, e, now) for i, t, e in claimed])
            for marks, part in in_parts(seqs):
                c.execute(f"DELETE FROM fusion_queue WHERE seq IN ({marks})", part)
        return claimed, late

    def stream_claims(self, name: str, *, since_s: float | None = None
                      ) -> list[tuple[str, float, float]]:
        """The stream's claims ``(detection id, time_s, enqueued_s)`` from ``since_s`` on, by
        time then id."""
        sql = "SELECT detection_id, time_s, enqueued_s FROM stream_claims WHERE stream = ?"
        args: list[str | float] = [name]
        if since_s is not None:
            sql += " AND time_s >= ?"
            args.append(since_s)
        return [(str(i), float(t), float(e))
                for i, t, e in self.conn.execute(sql + " ORDER BY time_s, detection_id", args)]

    def count_stream_claims(self, name: str) -> int:
        return int(self.conn.execute("SELECT count(*) FROM stream_claims WHERE stream = ?",
                                     (name,)).fetchone()[0])

    def stream_drop_claims(self, name: str, ids: Sequence[str]) -> None:
        with self.transaction() as c:
            for marks, part in in_parts(ids):
                c.execute(f"DELETE FROM stream_claims WHERE stream = ? AND detection_id IN "
                          f"({marks})", [name, *part])

    # -- progress and latency -----------------------------------------------------------------
    def stream_advance(self, name: str, *, committed_s: float | None, retain_from_s: float | None,
                       n_detections: int = 0, n_incidents: int = 0,
                       floor_s: float | None = None, now: float | None = None) -> None:
        """The hour starting at ``committed_s`` is fused and its incidents committed: record
        it, and drop the claims timed before ``retain_from_s`` (all of them when None and
        ``floor_s`` is given: the stream was drained up to ``floor_s``)."""
        now = time.time() if now is None else now
        with self.transaction() as c:
            c.execute("UPDATE stream_progress SET committed_s = ?, n_detections = n_detections + ?, "
                      "n_incidents = n_incidents + ?, floor_s = coalesce(?, floor_s), updated_s = ? "
                      "WHERE name = ?", (committed_s, n_detections, n_incidents, floor_s, now, name))
            if retain_from_s is not None:
                c.execute("DELETE FROM stream_claims WHERE stream = ? AND time_s < ?",
                          (name, retain_from_s))
            elif floor_s is not None:
                c.execute("DELETE FROM stream_claims WHERE stream = ?", (name,))

    def stream_save_snapshot(self, name: str, snapshot: str | None) -> None:
        """Keep the engine's state (a text its worker reads back; None: forget it)."""
        with self.transaction() as c:
            c.execute("UPDATE stream_progress SET snapshot = ? WHERE name = ?", (snapshot, name))

    def stream_snapshot(self, name: str) -> str | None:
        """The engine's state the stream's worker kept last (None: none)."""
        row = self.conn.execute("SELECT snapshot FROM stream_progress WHERE name = ?", (name,)).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def add_stream_latency(self, name: str, rows: Iterable[Sequence[float | str]]) -> None:
        """Per incident: ``(record id, last_detection_s, last_enqueued_s, stream_time_s,
        trigger_enqueued_s, committed_s)``; an incident recorded already is kept as it was."""
        rows = [(str(r[0]), name, *map(float, r[1:])) for r in rows]
        if not rows:
            return
        with self.transaction() as c:
            c.executemany(f"INSERT INTO stream_latency ({_LATENCY[0]}, stream, "
                          f"{', '.join(_LATENCY[1:])}) VALUES (?, ?, ?, ?, ?, ?, ?) "
                          "ON CONFLICT (record_id) DO NOTHING", rows)

    def stream_latencies(self, name: str, *, last: int | None = None) -> list[dict]:
        """The stream's latency rows, by commit time (the ``last`` ones only, if given)."""
        sql = (f"SELECT {', '.join(_LATENCY)} FROM stream_latency WHERE stream = ? "
               "ORDER BY committed_s DESC, record_id")
        if last is not None:
            sql += f" LIMIT {int(last)}"
        rows = [dict(zip(_LATENCY, r)) for r in self.conn.execute(sql, (name,))]
        rows.reverse()
        return rows
