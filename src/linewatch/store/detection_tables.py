"""The store's raw detections and fusion runs (migration ``0005_detections``).

Detections are kept as they came (one row each, keyed by id, with their sensor's id), so that
fusion can be run again over months of them (:mod:`linewatch.fusion.reprocess`) and fed continuously
(:mod:`linewatch.services.streaming`). A fusion run writes its incidents as records under an ingest
batch of its own; finishing it marks every earlier fusion batch's records in its window as
superseded. Nothing is deleted: superseded records stay in the table (and in the audit log),
and reads of the current records leave them out.

:class:`DetectionTables` is mixed into :class:`~linewatch.store.base.Store`; it uses
``self.conn``, ``self.transaction()`` and ``self.begin_batch``/``self.finish_batch``.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterable, Iterator

import numpy as np

from linewatch.errors import InputError, NotFound
from linewatch.model import Detections, Sensors
from linewatch.store.service_tables import in_parts
from linewatch.store.tables import Tables

_COLUMNS = ("id", "sensor_id", "time_s", "time_sd_s", "bearing_deg", "bearing_sd_deg", "range_m",
            "range_sd_m", "lon", "lat", "position_sd_m", "kind", "temperature_c")
_FLOATS = ("bearing_deg", "bearing_sd_deg", "range_m", "range_sd_m", "lon", "lat", "position_sd_m",
           "temperature_c")


def _num(v) -> float | None:
    v = float(v)
    return None if math.isnan(v) else v


def detection_rows(det: Detections, sensors: Sensors) -> Iterator[tuple]:
    """One row per detection, in :data:`_COLUMNS` order (NaN as NULL)."""
    sid = sensors.ids
    cols = [getattr(det, f) for f in _FLOATS]
    for i in range(len(det)):
        yield (str(det.ids[i]), str(sid[int(det.sensor[i])]), float(det.time_s[i]),
               float(det.time_sd_s[i]), *(_num(c[i]) for c in cols[:7]), str(det.kind[i]),
               _num(cols[7][i]))


def detections_from_rows(rows: list[tuple], sensors: Sensors, index: dict[str, int] | None = None
                         ) -> tuple[Detections, int]:
    """Rows in :data:`_COLUMNS` order as :class:`Detections` on ``sensors``; and how many were
    left out because their sensor is not among ``sensors``."""
    index = index if index is not None else sensors.index()
    keep = [r for r in rows if r[1] in index]
    nan = np.nan
    col = lambda j: [nan if r[j] is None else r[j] for r in keep]  # noqa: E731
    det = Detections.from_columns(
        [r[0] for r in keep], [index[r[1]] for r in keep], col(2), col(3), bearing_deg=col(4),
        bearing_sd_deg=col(5), range_m=col(6), range_sd_m=col(7), lon=col(8), lat=col(9),
        position_sd_m=col(10), kind=[r[11] for r in keep], temperature_c=col(12))
    return det, len(rows) - len(keep)


class DetectionTables(Tables):
    def add_detections(self, det: Detections, sensors: Sensors, *, batch_id: int | None = None,
                       enqueue: bool = False) -> int:
        """Store detections (their sensors' ids from ``sensors``) in one transaction; a
        detection whose id is stored already is skipped. ``enqueue`` also puts the new ones on
        the fusion queue. Returns how many were added."""
        from linewatch.store.service_tables import _now
        now = _now()
        with self.transaction() as c:
            rows = [(*row, batch_id, now) for row in detection_rows(det, sensors)]
            sql = (f"INSERT INTO detections ({', '.join(_COLUMNS)}, batch_id, ingested_at) VALUES "
                   f"({', '.join('?' * (len(_COLUMNS) + 2))}) ON CONFLICT (id) DO NOTHING RETURNING id")
            added = [row[0] for row, new in zip(rows, self._insert_many(c, sql, rows)) if new]
            if enqueue and added:
                t = time.time()
                c.executemany("INSERT INTO fusion_queue (detection_id, enqueued_s) VALUES (?, ?)",
                              [(i, t) for i in added])
        return len(added)

    def count_detections(self, *, start_s: float | None = None, end_s: float | None = None) -> int:
        where, args = _window(start_s, end_s)
        return int(self.conn.execute("SELECT count(*) FROM detections" + where, args).fetchone()[0])

    def detection_time_range(self) -> tuple[float, float] | None:
        row = self.conn.execute("SELECT min(time_s), max(time_s) FROM detections").fetchone()
        return None if row[0] is None else (float(row[0]), float(row[1]))

    def detections_by_id(self, ids: Iterable[str], sensors: Sensors) -> Detections:
        """The stored detections with these ids (those of sensors not in ``sensors`` left out)."""
        ids = list(ids)
        rows: list[tuple] = []
        for marks, part in in_parts(ids):
            rows += self.conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM detections WHERE id IN "
                                      f"({marks})", part).fetchall()
        return detections_from_rows(rows, sensors)[0]

    def iter_detections(self, sensors: Sensors, *, start_s: float | None = None,
                        end_s: float | None = None, sensor_ids: Iterable[str] | None = None,
                        chunk_s: float = 3600.0) -> Iterator[Detections]:
        """The stored detections in ``[start_s, end_s)``, in time-ordered chunks of ``chunk_s``
        (each sorted by time then id), with sensor indices into ``sensors``; detections of
        sensors not in ``sensors`` (or not in ``sensor_ids``) are left out."""
        if chunk_s <= 0:
            raise InputError(f"chunk_s {chunk_s!r}: must be positive")
        span = self.detection_time_range()
        if span is None:
            return
        t = span[0] if start_s is None else max(start_s, span[0])
        stop = span[1] + 1e-6 if end_s is None else min(end_s, span[1] + 1e-6)
        index = sensors.index()
        if sensor_ids is not None:
            wanted = set(map(str, sensor_ids))
            index = {k: v for k, v in index.items() if k in wanted}
        while t < stop:
            hi = min(t + chunk_s, stop)
            rows = self.conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM detections WHERE time_s >= ? AND time_s < ? "
                "ORDER BY time_s, id", (t, hi)).fetchall()
            if rows:
                det, _ = detections_from_rows(rows, sensors, index)
                if len(det):
                    yield det
            t = hi

    # -- fusion runs --------------------------------------------------------------------------
    def begin_fusion_run(self, engine: str, params: str, start_s: float, end_s: float
                         ) -> tuple[int, int]:
        """Open a fusion run over ``[start_s, end_s)``: (run id, the ingest batch its incident
        records go under)."""
        from linewatch.store.service_tables import _now
        if not end_s > start_s:
            raise InputError(f"fusion run window [{start_s!r}, {end_s!r}): must not be empty")
        source = f"fusion-run:{engine}:{start_s:.0f}-{end_s:.0f}"
        with self.transaction() as c:
            batch = self.begin_batch(source, hashlib.sha256(source.encode()).hexdigest(), "fusion")
            run = c.execute("INSERT INTO fusion_runs (engine, params, start_s, end_s, batch_id, "
                            "created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                            (engine, params, start_s, end_s, batch, _now())).fetchone()[0]
        return int(run), int(batch)

    def finish_fusion_run(self, run_id: int, *, n_detections: int, n_incidents: int) -> None:
        """Close a run: from now on, the records of every earlier fusion batch in its window
        are superseded (left out of current reads), in the same transaction."""
        from linewatch.store.service_tables import _now
        with self.transaction() as c:
            row = c.execute("SELECT batch_id, start_s, end_s FROM fusion_runs WHERE id = ?",
                            (run_id,)).fetchone()
            if row is None:
                raise NotFound("fusion run", run_id)
            batch, start_s, end_s = row
            self.finish_batch(batch)
            c.execute("INSERT INTO superseded (batch_id, start_s, end_s, by_run) "
                      "SELECT id, ?, ?, ? FROM ingest_batches WHERE format = 'fusion' AND id < ? "
                      "ON CONFLICT DO NOTHING", (start_s, end_s, run_id, batch))
            c.execute("UPDATE fusion_runs SET finished_at = ?, n_detections = ?, n_incidents = ? "
                      "WHERE id = ?", (_now(), n_detections, n_incidents, run_id))

    def fusion_runs(self) -> list[dict]:
        cols = ["id", "engine", "params", "start_s", "end_s", "batch_id", "created_at",
                "finished_at", "n_detections", "n_incidents"]
        return [dict(zip(cols, r)) for r in self.conn.execute(
            f"SELECT {', '.join(cols)} FROM fusion_runs ORDER BY id")]


def _window(start_s: float | None, end_s: float | None) -> tuple[str, list]:
    where, args = [], []
    if start_s is not None:
        where.append("time_s >= ?")
        args.append(start_s)
    if end_s is not None:
        where.append("time_s < ?")
        args.append(end_s)
    return (" WHERE " + " AND ".join(where) if where else ""), args
