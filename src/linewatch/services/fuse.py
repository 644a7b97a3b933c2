"""Fusion as a use case: raw detection files in, located incidents stored and written out.

The detections stream through the engine in chunks; each hour's incidents are stored as
records, with their audit-log entries, in one transaction, and written as GeoJSON (in full or
not at all). Bad rows of the sensors and detections files go to the quarantine.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from linewatch.errors import InputError
from linewatch.formats.records import Rejected
from linewatch.model import Report, utc_iso
from linewatch.services.agreements import LoadedAgreement
from linewatch.services.audit import AuditLog
from linewatch.services.ingest import Progress
from linewatch.store import Store

__all__ = ["FuseSummary", "fuse_files", "incident_feature", "incidents_to_reports"]

_EXPLOSION_TYPE = {"launch": "outgoing", "impact": "impact", "unknown": "undetermined"}


def incident_feature(inc, engine: str) -> dict:
    """A fused incident as a GeoJSON Feature (docs/fusion-formats.md)."""
    props = {
        "id": inc.id, "time": utc_iso(inc.time_s, timespec="milliseconds"), "kind": inc.kind,
        "detections": list(inc.detections),
        "ellipse": {"semi_major_m": round(inc.semi_major_m, 2),
                    "semi_minor_m": round(inc.semi_minor_m, 2),
                    "azimuth_deg": round(inc.azimuth_deg, 2)},
        "n_sensors": inc.n_sensors, "engine": engine,
    }
    if inc.pair_id is not None:
        props["pair_id"] = inc.pair_id
    if inc.side_probability is not None:  # launches, and impacts paired with one
        props.update(side_probability=inc.side_probability, side=inc.side)
    return {"type": "Feature", "id": inc.id,
            "geometry": {"type": "Point", "coordinates": [round(inc.lon, 7), round(inc.lat, 7)]},
            "properties": props}


def incidents_to_reports(incidents, *, engine: str, launches: dict | None = None) -> list[Report]:
    """Fused incidents as records, so that verification and the report use them: an impact
    paired with a launch carries the launch point as its origin, and the side it came from.
    ``launches`` (pair id -> launch) holds launches given earlier, when incidents come in parts."""
    from linewatch.model import ExplosionType, Kind, Location, Provenance, SourceKind
    by_pair: dict[str, Any] = launches if launches is not None else {}
    for inc in incidents:
        if inc.pair_id and inc.kind == "launch":
            by_pair[inc.pair_id] = inc
    out = []
    for inc in incidents:
        launch = by_pair.get(inc.pair_id) if inc.kind == "impact" and inc.pair_id else None
        origin = (Location(launch.lon, launch.lat, launch.semi_major_m, launch.semi_minor_m,
                           launch.azimuth_deg) if launch is not None else None)
        extra = {"detections": ",".join(inc.detections), "n_sensors": str(inc.n_sensors)}
        if inc.pair_id:
            extra["pair_id"] = inc.pair_id
        if inc.side_probability:
            extra["side_probability"] = json.dumps(inc.side_probability, sort_keys=True)
        out.append(Report(
            id=inc.id, kind=Kind.EXPLOSION, time=datetime.fromtimestamp(inc.time_s, tz=UTC),
            location=Location(inc.lon, inc.lat, inc.semi_major_m, inc.semi_minor_m, inc.azimuth_deg),
            provenance=Provenance(SourceKind.SENSOR_FUSION, "linewatch-fusion"),
            explosion_type=ExplosionType(_EXPLOSION_TYPE[inc.kind]), party=inc.side, origin=origin,
            engine=engine, description=f"fused from {len(inc.detections)} detections of "
            f"{inc.n_sensors} sensors", extra=tuple(sorted(extra.items()))))
    return out


@dataclass(frozen=True)
class FuseSummary:
    n_detections: int          # accepted (fused) detections
    n_incidents: int
    n_used: int
    n_pairs: int
    n_quarantined: int
    n_stored: int
    engine: str


class _Run:
    """One fusion of a detections file: its batch, quarantine, counts and GeoJSON output."""

    def __init__(self, store: Store, detections_path: Path, engine: str) -> None:
        self.store, self.detections_path, self.engine = store, detections_path, engine
        self.source = f"fusion:{detections_path}"
        self.sha = hashlib.sha256(self.source.encode()).hexdigest()
        self.batch: int | None = None
        self.n_bad = self.n_detections = self.n_used = self.n_incidents = self.n_pairs = self.n_stored = 0
        self.launches: dict[str, Any] = {}
        self.first = True

    def quarantine(self, rows: list[Rejected]) -> None:
        self.n_bad += len(rows)
        self.store.add_rejected(rows, file_sha256=self.sha)

    def hour(self, hour: Any, out: Any) -> None:
        """Quarantine the hour's late detections, write its incidents, and store them as
        records with their audit-log entries in one transaction."""
        self.quarantine([Rejected(str(self.detections_path), 0, "time", f"detection {d} came after the hour "
                                  "it belongs to was fused: the file is out of time order by more "
                                  "than the engine looks ahead", d) for d in hour.late])
        self.n_detections += hour.n_detections
        self.n_used += hour.n_used
        self.n_incidents += len(hour.incidents)
        self.n_pairs += sum(1 for i in hour.incidents if i.pair_id and i.kind == "launch")
        for inc in hour.incidents:
            out.write(("\n" if self.first else ",\n") + json.dumps(incident_feature(inc, self.engine)))
            self.first = False
        reports = incidents_to_reports(hour.incidents, engine=self.engine, launches=self.launches)
        with self.store.transaction() as c:
            self.store.serialize_writes(c)
            self.n_stored += self.store.add_records(reports, batch_id=self.batch, file_sha256=self.sha,
                                                    source=self.source).added
            AuditLog(self.store).log_new_records()
        # an impact comes at most an hour after its launch
        self.launches = {k: v for k, v in self.launches.items() if v.time_s >= hour.start_s - 3600.0}

    def summary(self) -> FuseSummary:
        return FuseSummary(self.n_detections, self.n_incidents, self.n_used, self.n_pairs, self.n_bad,
                           self.n_stored, self.engine)


def _read_sensors(path: Path) -> tuple[Any, list[Rejected]]:
    from linewatch.formats.sensors import read_sensors
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as fh:
            return read_sensors(fh, name=str(path))
    except OSError as exc:
        raise InputError(f"{exc.filename}: cannot read: {exc.strerror}") from exc


def fuse_files(store: Store, sensors_path: Path, detections_path: Path, out_path: Path, *,
               loaded: LoadedAgreement | None = None,
               temperature_c: float | None = None, workers: int = 1,
               progress: Progress | None = None, chunk_size: int = 200_000,
               keep_detections: bool = True) -> FuseSummary:
    """Read sensors, then stream the detections in chunks through fusion (bad rows, and rows
    too far out of time order, to the quarantine); store the incidents an hour at a time and
    write them as GeoJSON to ``out_path`` (in full or not at all). ``workers`` > 1 spreads the
    tiles over that many processes. Memory holds about an hour of detections.
    ``keep_detections`` stores the raw detections too (``linewatch reprocess`` reads them)."""
    from concurrent.futures import ProcessPoolExecutor

    from linewatch.formats.sensors import iter_detection_chunks
    from linewatch.fusion import ENGINE_VERSION, FusionParams, fuse_chunks

    sensors, bad_sensors = _read_sensors(sensors_path)
    run = _Run(store, detections_path, ENGINE_VERSION)
    run.quarantine(list(bad_sensors))

    def chunks(fh: Any) -> Any:
        for det, rejected in iter_detection_chunks(fh, sensors, name=str(detections_path), chunk_size=chunk_size):
            run.quarantine(list(rejected))
            if keep_detections:
                store.add_detections(det, sensors, batch_id=run.batch)
            yield det

    tmp = Path(out_path).with_name(Path(out_path).name + ".part")
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        with Path(detections_path).open(encoding="utf-8-sig", newline="") as fh, \
                tmp.open("w", encoding="utf-8") as gj:
            gj.write('{"type": "FeatureCollection", "features": [')
            run.batch = store.begin_batch(run.source, run.sha, "fusion")
            for hour in fuse_chunks(sensors, chunks(fh), agreement=loaded.agreement if loaded else None,
                                    params=FusionParams(temperature_c=temperature_c), progress=progress,
                                    map_fn=pool.map if pool else map):
                run.hour(hour, gj)
            store.finish_batch(run.batch)
            gj.write("\n]}\n")
    except OSError as exc:
        raise InputError(f"{exc.filename}: cannot read or write: {exc.strerror}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    tmp.replace(out_path)
    if loaded is not None:
        loaded.record(store)
    return run.summary()
