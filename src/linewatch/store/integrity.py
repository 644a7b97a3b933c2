"""What the audit log checks beside its own entries: every stored value a query or a rule reads.

The log holds each record's and allegation's canonical JSON (``data``). The columns that
queries filter on (time, kind, point, the box of the ellipse, the parties) are *derived* from
it: :class:`Integrity` derives them again from ``data``, exactly as the store wrote them, and
names every cell that differs. The other tables a verdict or a report rests on are condensed
into digests that the log holds (:meth:`Integrity.run_digest` of a verification or allegation
run: every column of the run, and one hash per row of its findings, placements or verdicts;
:meth:`Integrity.supersession` of a fusion run's superseding of earlier incidents:
the records it hides), and the released daily reports are read back for their files' hashes.
The audit service (:mod:`linewatch.services.audit`) compares them with the logged versions.

Columns read by nothing that decides a verdict are left out, and documented (docs/audit.md):
a record's or allegation's ``file``, ``line``, ``batch_id`` and ``ingested_at`` say where and
when one copy came in (a ``batch_id`` that would hide or show an incident is covered by the
supersession digest).
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Container, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from linewatch.formats.allegations import allegation_from_stored
from linewatch.formats.canonical import content_hash, record_from_canonical
from linewatch.model import Report
from linewatch.store.audit_tables import blob
from linewatch.store.record_tables import ellipse_box

if TYPE_CHECKING:
    from linewatch.store.base import Store

__all__ = ["RUN_KINDS", "CellMismatch", "Integrity", "allegation_columns", "record_columns", "row_hash",
           "run_subject"]

#: run kind -> (its table, its columns, and for each table of its rows: (table, key columns,
#: the other columns)); every column is part of the digest the log holds
RUN_KINDS: dict[str, tuple[str, tuple[str, ...], tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]]] = {
    "verification": (
        "verification_runs",
        ("id", "agreement_sha256", "agreement_id", "agreement_version", "engine", "window_start",
         "window_end", "created_at", "n_records", "n_findings", "inputs_sha256"),
        (("findings", ("subject", "rule_id"),
          ("rule_kind", "rule_text", "verdict", "probability", "party", "evidence", "explanation")),
         ("placements", ("record_id",), ("side", "distance_to_line_m", "sector", "data")))),
    "allegations": (
        "allegation_runs",
        ("id", "agreement_sha256", "agreement_id", "agreement_version", "engine", "coverage",
         "window_start", "window_end", "created_at", "n_allegations", "inputs_sha256"),
        (("allegation_verdicts", ("allegation_id",),
          ("verdict", "probability", "detection_probability", "data")),)),
}

#: The sqlite R*Tree keeps 32-bit floats, rounded outwards: a box edge may move this far (degrees),
#: plus two units in the last place of a 32-bit float (near a pole a box spans many degrees).
_RTREE_SLACK_DEG = 1e-4


class CellMismatch(NamedTuple):
    """A stored cell that is not what its logged content gives (``entry``: that log entry's index)."""

    table: str
    row: str
    column: str
    stored: Any
    expected: Any
    entry: int | None = None


def _logged(etype: str, table: str) -> str:
    """The JOIN that gives each row of ``table`` (alias ``r``) its newest ``etype`` entry ``a``."""
    return (f" LEFT JOIN (SELECT subject_id, max(idx) AS idx FROM audit_log WHERE entry_type = '{etype}' "
            f"GROUP BY subject_id) m ON m.subject_id = r.id LEFT JOIN audit_log a ON a.idx = m.idx")


def run_subject(kind: str, run_id: int) -> str:
    """The subject id of a run's log entry, e.g. ``verification-run:3``."""
    return f"{kind}-run:{run_id}"


def row_hash(values: Sequence[Any]) -> str:
    """A short hash of a row's values, their types included (``1`` and ``1.0`` differ).

    >>> row_hash(["a", 1, 0.5, None]) == row_hash(["a", 1, 0.5, None])
    True
    >>> row_hash([1]) == row_hash([1.0])
    False
    """
    text = "\x1f".join(f"{type(v).__name__}:{v!r}" for v in values)
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()[:32]


def record_columns(report: Report, data: dict[str, Any]) -> dict[str, Any]:
    """The columns of ``records`` that the store derives from a record (as ``add_records`` does)."""
    return {"kind": report.kind.value, "time": report.time.isoformat(), "time_s": report.time.timestamp(),
            "lon": report.location.lon, "lat": report.location.lat,
            "source_kind": report.provenance.source_kind.value, "source_id": report.provenance.source_id,
            "content_hash": content_hash(data), "supersedes": report.supersedes}


def allegation_columns(data: dict[str, Any]) -> dict[str, Any]:
    """The columns of ``allegations`` that the store derives from an allegation's canonical dict."""
    a = allegation_from_stored(data)
    return {"alleging_party": data["alleging_party"], "accused_party": data.get("accused_party"),
            "kind": data["kind"], "start_s": a.start.timestamp(), "end_s": a.end.timestamp(),
            "lon": data["lon"], "lat": data["lat"], "supersedes": data.get("supersedes"),
            "content_hash": content_hash(data)}


def point_wkb(lon: float, lat: float) -> bytes:
    """The little-endian WKB of a 2-D point, as ``shapely.to_wkb`` writes it (a tenth of the time).

    >>> import shapely
    >>> point_wkb(37.5, 48.25) == shapely.to_wkb(shapely.Point(37.5, 48.25))
    True
    """
    return _WKB_POINT.pack(1, 1, lon, lat)


_WKB_POINT = struct.Struct("<BIdd")


def _text(value: Any) -> Any:
    """A text column read as bytes (SQLite keeps whatever was written), decoded for comparison."""
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


def _same(stored: Any, expected: Any) -> bool:
    return type(stored) is type(expected) and stored == expected


def _differ(table: str, rid: str, stored: dict[str, Any], expected: dict[str, Any],
            index: int | None) -> Iterator[CellMismatch]:
    for col, want in expected.items():
        if not _same(stored[col], want):
            yield CellMismatch(table, rid, col, stored[col], want, index)


def _parsed(data: Any) -> dict[str, Any] | None:
    """A stored canonical dict, or ``None`` if it is not one (the log check names that row)."""
    try:
        got = json.loads(_text(data))
    except ValueError:
        return None
    return got if isinstance(got, dict) else None


class Integrity:
    """The checks on one store (SQLite or PostgreSQL)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def conn(self) -> Any:
        return self.store.conn

    def _b(self, expr: str) -> str:
        """A text column as stored: SQLite may hold bytes that are not UTF-8."""
        return f"CAST({expr} AS BLOB)" if self.store.dialect == "sqlite" else expr

    # -- records and allegations: the derived columns -------------------------------------------
    def _derived_rows(self, table: str, etype: str, cols: tuple[str, ...], text_cols: set[str],
                      spatial: str = "") -> Iterator[tuple[str, int | None, dict[str, Any], dict[str, Any],
                                                             tuple[Any, ...]]]:
        """``(id, log index, logged content, stored columns, the spatial columns)`` of every row of
        ``table`` whose newest logged version (or, for a row not logged, its ``data``) parses."""
        b = self._b
        sql = (f"SELECT {b('r.id')}, m.idx, a.payload, {b('r.data')}, "
               + ", ".join(b(f"r.{c}") if c in text_cols else f"r.{c}" for c in cols)
               + (", " + spatial if spatial else f" FROM {table} r") + _logged(etype, table))
        n = len(cols)
        for row in self.conn.execute(sql):
            data = _parsed(row[2] if row[2] is not None else row[3])
            if data is not None:
                yield (_text(row[0]), row[1], data, {c: _text(v) for c, v in zip(cols, row[4:4 + n])},
                       tuple(row[4 + n:]))

    def record_mismatches(self) -> Iterator[CellMismatch]:
        """Every cell of ``records`` (and of its spatial index) that its newest logged version
        (or, for a row not logged, its ``data``) does not give."""
        pg = self.store.dialect == "postgresql"
        spatial = ("ST_X(r.geom), ST_Y(r.geom), ST_XMin(r.extent), ST_XMax(r.extent), ST_YMin(r.extent), "
                   "ST_YMax(r.extent) FROM records r" if pg else
                   "r.geom, t.min_lon, t.max_lon, t.min_lat, t.max_lat FROM records r "
                   "LEFT JOIN records_rtree t ON t.id = r.rowid")
        for rid, index, data, stored, got in self._derived_rows(
                "records", "record", ("kind", "time", "time_s", "lon", "lat", "source_kind", "source_id",
                                      "content_hash", "supersedes"),
                {"kind", "time", "source_kind", "source_id", "content_hash", "supersedes"}, spatial):
            try:
                report = record_from_canonical(data)
            except (KeyError, TypeError, ValueError):
                continue        # not a record: the log check names it
            yield from _differ("records", rid, stored, record_columns(report, data), index)
            yield from self._spatial(rid, report, got, pg, index)
        if not pg:
            for (rowid,) in self.conn.execute("SELECT t.id FROM records_rtree t LEFT JOIN records r "
                                              "ON r.rowid = t.id WHERE r.id IS NULL"):
                yield CellMismatch("records_rtree", str(rowid), "id", rowid, None, None)

    @staticmethod
    def _spatial(rid: str, report: Report, got: Sequence[Any], pg: bool,
                 index: int | None) -> Iterator[CellMismatch]:
        loc = report.location
        lo_lon, hi_lon, lo_lat, hi_lat = ellipse_box(loc.lon, loc.lat, loc.semi_major_m)
        if pg:
            want = {"geom.x": loc.lon, "geom.y": loc.lat, "extent.xmin": lo_lon, "extent.xmax": hi_lon,
                    "extent.ymin": lo_lat, "extent.ymax": hi_lat}
            yield from _differ("records", rid, dict(zip(want, got)), want, index)
            return
        wkb = point_wkb(loc.lon, loc.lat)
        if not _same(got[0], wkb):
            yield CellMismatch("records", rid, "geom", got[0], wkb, index)
        for col, stored, expected in zip(("min_lon", "max_lon", "min_lat", "max_lat"), got[1:],
                                         (lo_lon, hi_lon, lo_lat, hi_lat)):
            if not isinstance(stored, float) or abs(stored - expected) > _RTREE_SLACK_DEG + abs(expected) * 2.0**-22:
                yield CellMismatch("records_rtree", rid, col, stored, expected, index)

    def allegation_mismatches(self) -> Iterator[CellMismatch]:
        """Every cell of ``allegations`` that its newest logged version (or its ``data``) does not give."""
        for rid, index, data, stored, _ in self._derived_rows(
                "allegations", "allegation", ("alleging_party", "accused_party", "kind", "start_s", "end_s",
                                              "lon", "lat", "supersedes", "content_hash"),
                {"alleging_party", "accused_party", "kind", "supersedes", "content_hash"}):
            try:
                expected = allegation_columns(data)
            except (KeyError, TypeError, ValueError):
                continue
            yield from _differ("allegations", rid, stored, expected, index)

    def agreement_mismatches(self) -> Iterator[CellMismatch]:
        """Every stored agreement whose key is not the SHA-256 of its text."""
        for sha, text in self.conn.execute(f"SELECT {self._b('sha256')}, {self._b('text')} FROM agreements"):
            sha, text = _text(sha), _text(text)
            want = hashlib.sha256(str(text).encode("utf-8")).hexdigest()
            if sha != want:
                yield CellMismatch("agreements", str(sha), "text", f"{len(str(text))} characters", want)

    # -- runs -----------------------------------------------------------------------------------
    def run_ids(self, kind: str) -> list[int]:
        table = RUN_KINDS[kind][0]
        return [int(r[0]) for r in self.conn.execute(f"SELECT id FROM {table} ORDER BY id")]

    def run_digest(self, kind: str, run_id: int) -> dict[str, Any] | None:
        """What the log holds of a run: its columns, and a hash of each of its rows by key."""
        table, cols, parts = RUN_KINDS[kind]
        row = self.conn.execute(f"SELECT {', '.join(cols)} FROM {table} WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        out: dict[str, Any] = {"format": "linewatch.run-digest", "version": 1, "kind": kind,
                               "run": {c: _text(v) for c, v in zip(cols, row)}}
        for part, keys, others in parts:
            rows: dict[str, str] = {}
            for r in self.conn.execute(f"SELECT {', '.join(keys + others)} FROM {part} WHERE run_id = ?",
                                       (run_id,)):
                values = [_text(v) for v in r]
                rows["\t".join(str(v) for v in values[:len(keys)])] = row_hash(values[len(keys):])
            out[part] = dict(sorted(rows.items()))
        return out

    # -- fusion runs superseding earlier incidents ----------------------------------------------
    def supersessions(self, skip: Container[str] = (), *, batches: Container[int] | None = None,
                      by_run: int | None = None) -> list[tuple[str, dict[str, Any]]]:
        """``(subject, digest)`` of every row of ``superseded`` (of ``batches``, by ``by_run``)
        whose subject is not in ``skip``: its window and the records it hides."""
        out = []
        for batch, start_s, end_s, run in self.conn.execute(
                "SELECT batch_id, start_s, end_s, by_run FROM superseded ORDER BY by_run, batch_id").fetchall():
            if (f"superseded:{batch}:{run}" in skip or (batches is not None and batch not in batches)
                    or (by_run is not None and run != by_run)):
                continue
            ids = [_text(r[0]) for r in self.conn.execute(
                f"SELECT {self._b('id')} FROM records WHERE batch_id = ? AND time_s >= ? AND time_s < ? "
                "ORDER BY id", (batch, start_s, end_s))]
            out.append((f"superseded:{batch}:{run}",
                        {"batch_id": batch, "start_s": start_s, "end_s": end_s, "by_run": run,
                         "records": sorted(ids)}))
        return out

    # -- released daily reports -----------------------------------------------------------------
    def released_reports(self) -> dict[str, dict[str, Any]]:
        """Each released day's report as stored now: who released it when, and its files' hashes."""
        out: dict[str, dict[str, Any]] = {}
        for day, released_at, released_by, built_at, built_by, agreement, report_json in self.conn.execute(
                "SELECT day, released_at, released_by, built_at, built_by, agreement_sha256, report_json "
                "FROM daily_reports WHERE released_at IS NOT NULL ORDER BY day"):
            files, media = {}, {}
            for name, media_type, content in self.conn.execute(
                    "SELECT name, media_type, content FROM daily_report_files WHERE day = ? ORDER BY name",
                    (day,)):
                files[name] = hashlib.sha256(blob(content)).hexdigest()
                media[name] = media_type
            out[str(day)] = {"day": day, "released_at": released_at, "released_by": released_by,
                             "built_at": built_at, "built_by": built_by, "agreement_sha256": agreement,
                             "report_json_sha256": hashlib.sha256(str(report_json).encode("utf-8")).hexdigest(),
                             "files": files, "media_types": media}
        return out
