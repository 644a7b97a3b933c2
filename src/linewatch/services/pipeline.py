"""Use cases: ingest files, verify the store, build the daily report.

The CLI (and later the web service) call these; they take a store and plain values, read
files and the clock, and leave decisions to the core.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from linewatch.agreement import Agreement, parse_agreement
from linewatch.errors import InputError, NotFound, RecordError
from linewatch.formats import Parsed, detect_format, read_records, record_from_dict, record_to_dict
from linewatch.model import Report, utc_iso
from linewatch.store import Store, StoredRecord
from linewatch.verification import Verification, verify

Progress = Callable[[int], None]


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False).encode("utf-8")).hexdigest()


# -- agreements -----------------------------------------------------------------------------

@dataclass(frozen=True)
class LoadedAgreement:
    agreement: Agreement
    name: str
    text: str

    @property
    def sha256(self) -> str:
        return sha256_text(self.text)


def load_agreement_file(path: str | Path) -> LoadedAgreement:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the agreement: {exc.strerror}") from exc
    return LoadedAgreement(parse_agreement(text, name=str(path)), str(path), text)


def agreement_for(store: Store, path: str | Path | None) -> LoadedAgreement:
    """The agreement named on the command line, else the one the store used last."""
    if path is not None:
        loaded = load_agreement_file(path)
        store.put_agreement(loaded.sha256, loaded.agreement.id, loaded.agreement.version,
                            loaded.name, loaded.text)
        return loaded
    latest = store.latest_agreement()
    if latest is None:
        raise NotFound("agreement", "(none stored yet: pass --agreement FILE)")
    name, text = latest
    return LoadedAgreement(parse_agreement(text, name=name), name, text)


# -- ingest ---------------------------------------------------------------------------------

class _CountingText:
    """A text stream that reports how many characters have been read."""

    def __init__(self, stream, progress: Progress | None) -> None:
        self._s, self._progress = stream, progress

    def _tick(self, s: str) -> str:
        if self._progress is not None and s:
            self._progress(len(s.encode("utf-8")))
        return s

    def read(self, n: int = -1) -> str:
        return self._tick(self._s.read(n))

    def readline(self, n: int = -1) -> str:
        return self._tick(self._s.readline(n))

    def __iter__(self) -> Iterator[str]:
        for line in self._s:
            yield self._tick(line)


@dataclass
class IngestSummary:
    file: str
    format: str
    added: int = 0
    duplicate: int = 0
    quarantined: int = 0
    batch_id: int | None = None
    reasons: dict[str, int] = field(default_factory=dict)


def ingest_file(store: Store, path: str | Path, *, fmt: str | None = None,
                chunk_size: int = 500, progress: Progress | None = None) -> IngestSummary:
    """Read one file into the store. Good records are stored once; bad ones are quarantined."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    sha = hashlib.sha256(raw).hexdigest()
    head = raw[:4096].decode("utf-8-sig", errors="replace")
    fmt = fmt or detect_format(path.name, head)
    if fmt in ("jsonl", "csv") and _holds_allegations(head, fmt):
        return ingest_allegations(store, path, fmt=fmt, file_sha256=sha, progress=progress)
    summary = IngestSummary(str(path), fmt)
    summary.batch_id = store.begin_batch(str(path), sha, fmt)
    records: list[StoredRecord] = []
    rejected: list[tuple] = []

    def flush() -> None:
        res = store.add_chunk(records, rejected, batch_id=summary.batch_id, file_sha256=sha)
        summary.added += res.added
        summary.duplicate += res.duplicate
        summary.quarantined += len(rejected) + len(res.conflicts)
        for reason in [r[3] for r in rejected] + [why for _, why in res.conflicts]:
            key = reason.split(":")[0][:60]
            summary.reasons[key] = summary.reasons.get(key, 0) + 1
        records.clear()
        rejected.clear()

    try:
        with path.open("r", encoding="utf-8-sig", newline="") as fh:
            for item in read_records(_CountingText(fh, progress), name=str(path), fmt=fmt):
                if isinstance(item, Parsed):
                    data = record_to_dict(item.report)
                    records.append(StoredRecord(item.report, data, content_hash(data),
                                                str(path), item.line))
                else:
                    rejected.append((item.file, item.line, item.field, item.reason, item.raw))
                if len(records) + len(rejected) >= chunk_size:
                    flush()
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}): {exc.reason}") from exc
    flush()
    store.finish_batch(summary.batch_id)
    _log_new(store)
    return summary


# -- allegations ------------------------------------------------------------------------------

def _holds_allegations(head: str, fmt: str) -> bool:
    from linewatch.formats.allegations import is_allegation_header, is_allegation_object
    first = next((line for line in head.splitlines() if line.strip()), "")
    if fmt == "csv":
        return is_allegation_header(next(csv.reader([first]), []))
    try:
        obj = json.loads(first)
    except json.JSONDecodeError:
        return False
    return isinstance(obj, dict) and is_allegation_object(obj)


def _site_resolver(store: Store):
    """Site id -> (lon, lat, radius_m, category) in the agreement the store used last."""
    latest = store.latest_agreement()
    if latest is None:
        return None
    ag = parse_agreement(latest[1], name=latest[0])

    def resolve(site_id: str) -> tuple[float, float, float, str]:
        zone = ag.zones.get(site_id)
        if zone is None or zone.kind != "site":
            raise NotFound("site", site_id)
        c = zone.geometry.centroid
        extra = 0.0 if zone.point is not None else float(
            (ag.frame.project_geometry(zone.geometry).area / 3.141592653589793) ** 0.5)
        return float(c.x), float(c.y), zone.radius_m + extra, zone.category
    return resolve


def ingest_allegations(store: Store, path: Path, *, fmt: str, file_sha256: str,
                       progress: Progress | None = None) -> IngestSummary:
    """Read a file of allegations (JSONL or CSV) into the store; bad ones are quarantined.
    Settlement names resolve through the bundled settlements list, site ids through the
    agreement the store used last."""
    from linewatch.formats.allegations import ParsedAllegation, allegation_to_dict, read_allegations
    from linewatch.formats.resources import load_gazetteer
    summary = IngestSummary(str(path), f"allegations-{fmt}")
    summary.batch_id = store.begin_batch(str(path), file_sha256, summary.format)
    gazetteer = None

    def settlements(name: str, country: str | None) -> tuple[float, float]:
        nonlocal gazetteer
        gazetteer = gazetteer or load_gazetteer()
        return gazetteer.resolve(name, country=country)
    rows: list[tuple] = []
    rejected: list[tuple] = []
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as fh:
            for item in read_allegations(_CountingText(fh, progress), name=str(path), fmt=fmt,
                                         settlements=settlements, sites=_site_resolver(store)):
                if isinstance(item, ParsedAllegation):
                    data = allegation_to_dict(item.allegation)
                    rows.append((data, content_hash(data), str(path), item.line))
                else:
                    rejected.append((item.file, item.line, item.field, item.reason, item.raw))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}): {exc.reason}") from exc
    res = store.add_allegations(rows, rejected, batch_id=summary.batch_id, file_sha256=file_sha256)
    store.finish_batch(summary.batch_id)
    _log_new(store)
    summary.added, summary.duplicate = res.added, res.duplicate
    summary.quarantined = len(rejected) + len(res.conflicts)
    for reason in [r[3] for r in rejected] + [q[3] for q, _ in res.conflicts]:
        key = reason.split(":")[0][:60]
        summary.reasons[key] = summary.reasons.get(key, 0) + 1
    return summary


def coverage_from_network(path: str | Path):
    """``(coverage function, name, network)`` for allegation verdicts from a network file
    (docs/coverage.md): the name records the file and its SHA-256 with each verdict run.
    Rows of the sensors file that cannot be read make the network unusable (InputError)."""
    from linewatch.formats.network import read_network
    from linewatch.verification import network_coverage
    path = Path(path)
    network, rejected = read_network(path)
    if rejected:
        first = rejected[0]
        raise InputError(f"{first.file}: line {first.line}: {first.reason} (the network's sensors "
                         f"file has {len(rejected)} bad row(s); fix it before judging coverage)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return network_coverage(network), f"{path.name} sha256:{digest[:16]}", network


def remember_network(store: Store, path: str | Path) -> None:
    """Record the network file (its absolute path, SHA-256 and text) in the store, so that
    ``linewatch serve`` finds the network the store's verdicts used."""
    path = Path(path).resolve()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the network file: {exc.strerror}") from exc
    store.put_network(hashlib.sha256(raw).hexdigest(), str(path), raw.decode("utf-8", errors="replace"))


def stored_allegations(store: Store, *, start: datetime | None = None,
                       end: datetime | None = None):
    """The stored allegations in a window, without those a later allegation supersedes."""
    from linewatch.formats.allegations import allegation_from_stored
    items = [allegation_from_stored(d) for d in store.allegation_rows(start=start, end=end)]
    superseded = {a.supersedes for a in items if a.supersedes}
    return [a for a in items if a.id not in superseded]


def _log_new(store: Store) -> None:
    """Every record and allegation just stored goes into the tamper-evident log."""
    from linewatch.services.audit import AuditLog
    AuditLog(store).log_new_records()


def verify_allegations(store: Store, loaded: LoadedAgreement, *, coverage=None,
                       coverage_name: str = "none", start: datetime | None = None,
                       end: datetime | None = None, margin_s: float = 3 * 3600.0,
                       key=None):
    """Adjudicate the stored allegations of a window against the stored records (and what the
    network could have seen: ``coverage``); store the run, append every verdict to the audit
    log (signed with ``key``, an Ed25519 private key, if given) and return
    ``(run id, findings)``."""
    from linewatch.services.audit import AuditLog
    from linewatch.verification import ALLEGATION_ENGINE, adjudicate
    allegations = stored_allegations(store, start=start, end=end)
    if allegations:
        lo = min(a.start for a in allegations) - timedelta(seconds=margin_s)
        hi = max(a.end for a in allegations) + timedelta(seconds=margin_s)
        records = stored_reports(store, start=lo, end=hi)
    else:
        records = []
    findings = adjudicate(allegations, records, loaded.agreement, coverage)
    store.put_agreement(loaded.sha256, loaded.agreement.id, loaded.agreement.version,
                        loaded.name, loaded.text)
    run = store.save_allegation_run(
        agreement_sha256=loaded.sha256, agreement_id=loaded.agreement.id,
        agreement_version=loaded.agreement.version, engine=ALLEGATION_ENGINE,
        coverage=coverage_name, findings=findings, window_start=start, window_end=end)
    log = AuditLog(store, key=key)

    def earlier(subject: str) -> int | None:     # a verdict given again corrects the last one
        try:
            return log.latest(subject, "verdict").index
        except NotFound:
            return None
    log.append_many([("verdict", f.allegation_id,
                      {**f.as_dict(), "run": run, "coverage": coverage_name,
                       "agreement_sha256": loaded.sha256}, earlier(f.allegation_id))
                     for f in findings])
    return run, findings


# -- reading records back -------------------------------------------------------------------

def stored_reports(store: Store, *, start: datetime | None = None,
                   end: datetime | None = None) -> list[Report]:
    out = []
    for data in store.record_rows(start=start, end=end):
        try:
            out.append(record_from_dict(data, name=store.where))
        except RecordError as exc:  # the store only holds records that parsed
            raise InputError(f"{store.where}: stored record {data.get('id')!r} no longer "
                             f"parses: {exc}") from exc
    return out


def day_window(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


# -- verification ---------------------------------------------------------------------------

def verify_store(store: Store, loaded: LoadedAgreement, *, start: datetime | None = None,
                 end: datetime | None = None) -> tuple[int, Verification]:
    reports = stored_reports(store, start=start, end=end)
    verification = verify(loaded.agreement, reports)
    store.put_agreement(loaded.sha256, loaded.agreement.id, loaded.agreement.version,
                        loaded.name, loaded.text)
    run = store.save_verification(agreement_sha256=loaded.sha256, verification=verification,
                                  window_start=start, window_end=end)
    return run, verification


# -- the daily report -----------------------------------------------------------------------

def daily_report(store: Store, loaded: LoadedAgreement, day: date, out_dir: Path, *,
                 history_days: int = 14, coverage=None, coverage_name: str = "none",
                 key=None, network=None) -> dict[str, Path]:
    """Verify the day and the days before it, adjudicate the day's allegations (with what the
    network could have seen: ``coverage``), and write the report in every format."""
    from linewatch import reporting
    from linewatch.formats.resources import load_boundaries, load_gazetteer
    from linewatch.render.report import write_report

    ag = loaded.agreement

    def day_data(d: date) -> tuple[list[Report], Verification]:
        start, end = day_window(d)
        reports = stored_reports(store, start=start, end=end)
        return reports, verify(ag, reports)

    reports, verification = day_data(day)
    if not reports and store.count_records() == 0:
        raise NotFound("records", f"for {day.isoformat()} (the store is empty)")
    prev_reports, prev_verification = day_data(day - timedelta(days=1))
    history = []
    for back in range(history_days, 1, -1):
        d = day - timedelta(days=back)
        r, v = day_data(d)
        history.append(reporting.count_day(ag, d, r, v))
    history.append(reporting.count_day(ag, day - timedelta(days=1), prev_reports, prev_verification))
    start, end = day_window(day)
    _, allegations = verify_allegations(store, loaded, coverage=coverage,
                                        coverage_name=coverage_name, start=start, end=end,
                                        key=key)
    report = reporting.build_daily_report(
        ag, day, reports=reports, verification=verification, previous_reports=prev_reports,
        previous_verification=prev_verification, history=history, gazetteer=load_gazetteer(),
        generated_at=datetime.now(UTC).replace(microsecond=0),
        engine=verification.engine, allegations=allegations,
        line_coverage=_line_coverage(network, ag, start) if network is not None else None)
    store.put_agreement(loaded.sha256, ag.id, ag.version, loaded.name, loaded.text)
    store.save_verification(agreement_sha256=loaded.sha256, verification=verification,
                            window_start=start, window_end=end)
    paths = write_report(report, ag, Path(out_dir), boundaries=load_boundaries(), reports=reports,
                         gazetteer=load_gazetteer(), network=network)
    if key is not None:
        paths["bundle"] = publish_report(store, paths, key, report_id=f"daily-{day.isoformat()}")
    return paths


def _line_coverage(network, agreement, day_start: datetime) -> list[dict] | None:
    """The share of the line the network covered (explosions, P >= 0.5) each hour of the day."""
    if agreement.line_parts is None:
        return None
    from linewatch.render.coverage_map import hourly_line_shares
    return hourly_line_shares(network, agreement.line_parts, day_start.timestamp(), "explosion")


def publish_report(store: Store, paths: dict[str, Path], key, *, report_id: str) -> Path:
    """Log the report's files, sign them and a new tree head, and write the bundle a party can
    check with the public key alone (docs/audit.md); returns its path."""
    from linewatch.services.audit import AuditLog, make_bundle
    files = {p.name: p.read_bytes() for kind, p in sorted(paths.items()) if kind != "bundle"}
    bundle = make_bundle(files, AuditLog(store, key=key), key, report_id=report_id)
    out = next(iter(paths.values())).parent / f"{report_id}.lwbundle.json"
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(bundle)
    tmp.replace(out)
    return out


__all__ = ["FuseSummary", "IngestSummary", "LoadedAgreement", "agreement_for", "content_hash", "daily_report",
           "day_window", "fuse_files", "incident_feature", "incidents_to_reports", "ingest_allegations",
           "ingest_file", "load_agreement_file", "store_reports", "stored_allegations",
           "stored_reports", "verify_allegations", "verify_store", "coverage_from_network", "remember_network",
           "publish_report"]


# -- fusion ---------------------------------------------------------------------------------

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
    by_pair: dict[str, object] = launches if launches is not None else {}
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


def _stored(reports: list[Report], source: str) -> list[StoredRecord]:
    out = []
    for r in reports:
        data = record_to_dict(r)
        out.append(StoredRecord(r, data, content_hash(data), source, None))
    return out


def store_reports(store: Store, reports: list[Report], *, source: str) -> int:
    """Store records produced by linewatch itself (no source file); returns the number added."""
    sha = hashlib.sha256(source.encode()).hexdigest()
    batch = store.begin_batch(source, sha, "fusion")
    res = store.add_chunk(_stored(reports, source), [], batch_id=batch, file_sha256=sha)
    store.finish_batch(batch)
    _log_new(store)
    return res.added


@dataclass(frozen=True)
class FuseSummary:
    n_detections: int          # accepted (fused) detections
    n_incidents: int
    n_used: int
    n_pairs: int
    n_quarantined: int
    n_stored: int
    engine: str


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

    from linewatch.formats.sensors import iter_detection_chunks, read_sensors
    from linewatch.fusion import ENGINE_VERSION, FusionParams, fuse_chunks

    try:
        with Path(sensors_path).open(encoding="utf-8-sig", newline="") as fh:
            sensors, bad_s = read_sensors(fh, name=str(sensors_path))
    except OSError as exc:
        raise InputError(f"{exc.filename}: cannot read: {exc.strerror}") from exc
    source = f"fusion:{detections_path}"
    sha = hashlib.sha256(source.encode()).hexdigest()
    n_bad = 0

    def quarantine(path: Path, rows: list[tuple]) -> None:
        nonlocal n_bad
        if rows:
            n_bad += len(rows)
            store.add_chunk([], rows, batch_id=None, file_sha256=sha)

    quarantine(Path(sensors_path), [(r.file, r.line, r.field, r.reason, r.raw) for r in bad_s])
    counts = {"detections": 0, "incidents": 0, "used": 0, "pairs": 0, "stored": 0}

    def chunks(fh):
        for det, rejected in iter_detection_chunks(fh, sensors, name=str(detections_path),
                                                   chunk_size=chunk_size):
            quarantine(Path(detections_path), [(r.file, r.line, r.field, r.reason, r.raw)
                                               for r in rejected])
            if keep_detections:
                store.add_detections(det, sensors, batch_id=batch)
            yield det

    tmp = Path(out_path).with_name(Path(out_path).name + ".part")
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        with Path(detections_path).open(encoding="utf-8-sig", newline="") as fh, \
                tmp.open("w", encoding="utf-8") as gj:
            gj.write('{"type": "FeatureCollection", "features": [')
            batch = store.begin_batch(source, sha, "fusion")
            launches: dict[str, object] = {}
            first = True
            for hour in fuse_chunks(sensors, chunks(fh), agreement=loaded.agreement if loaded else None,
                                    params=FusionParams(temperature_c=temperature_c),
                                    progress=progress,
                                    map_fn=pool.map if pool else map):
                quarantine(Path(detections_path),
                           [(str(detections_path), 0, "time", f"detection {d} came after the hour it "
                             "belongs to was fused: the file is out of time order by more than "
                             "the engine looks ahead", d) for d in hour.late])
                counts["detections"] += hour.n_detections
                counts["used"] += hour.n_used
                counts["incidents"] += len(hour.incidents)
                counts["pairs"] += sum(1 for i in hour.incidents if i.pair_id and i.kind == "launch")
                for inc in hour.incidents:
                    gj.write(("\n" if first else ",\n") + json.dumps(incident_feature(inc, ENGINE_VERSION)))
                    first = False
                reports = incidents_to_reports(hour.incidents, engine=ENGINE_VERSION, launches=launches)
                counts["stored"] += store.add_chunk(_stored(reports, source), [], batch_id=batch,
                                                    file_sha256=sha).added
                # an impact comes at most an hour after its launch
                launches = {k: v for k, v in launches.items() if v.time_s >= hour.start_s - 3600.0}
            store.finish_batch(batch)
            _log_new(store)
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
        store.put_agreement(loaded.sha256, loaded.agreement.id, loaded.agreement.version,
                            loaded.name, loaded.text)
    return FuseSummary(counts["detections"], counts["incidents"], counts["used"], counts["pairs"],
                       n_bad, counts["stored"], ENGINE_VERSION)

