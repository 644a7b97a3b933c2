"""``linewatch demo``: a seeded week of reports along the notional line, end to end.

Generates the records (the report day and six days before it, for the previous period and the
trend), writes them the way they would arrive (the observation posts' and patrols' reports as
their monitors' requests to the API, cameras as CSV, UAV sightings as GeoJSON, open sources as
ACLED CSV, plus a few malformed rows), simulates the acoustic network's raw detections and the
parties' allegations about them, ingests everything into a fresh store, fuses, reviews (two
analysts approve, return with a question, reject; monitors answer with corrected versions:
:mod:`linewatch.services.demo_review`), verifies the day, judges the allegations against what
was observed and what the network could have observed, and writes the daily report of what
was approved, signed and logged in the tamper-evident audit log, which is then verified.
"""

from __future__ import annotations

import json
import os
import time as _time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from linewatch.coverage import place_coverage
from linewatch.errors import InputError
from linewatch.formats import record_from_dict, write_records
from linewatch.formats.network import write_network
from linewatch.formats.sensors import write_detections, write_sensors
from linewatch.model import utc_iso
from linewatch.services.agreements import load_agreement_file
from linewatch.services.audit import AuditLog, generate_keys, load_private_key, load_public_key
from linewatch.services.audit_witness import default_witness
from linewatch.services.demo_review import (
    ANALYSTS,
    MONITOR_SOURCES,
    MONITORS,
    report_lines,
    review_week,
    submit_reports,
    write_submissions,
)
from linewatch.services.fuse import fuse_files
from linewatch.services.ingest import ingest_file
from linewatch.services.report import HISTORY_DAYS, daily_report
from linewatch.services.submissions import keep_daily_report, release_daily_report, release_problem
from linewatch.services.verify import (
    coverage_from_network,
    day_window,
    remember_network,
    verify_allegations,
    verify_store,
)
from linewatch.sim import SCENARIOS, generate_day, network_from_simulation, simulate, simulate_allegations
from linewatch.store import open_store

DEFAULT_DAY = date(2026, 6, 15)
#: the example agreements shipped inside the package (``examples/agreements`` links here)
EXAMPLES = Path(str(resources.files("linewatch.data").joinpath("agreements")))

#: Rows a real feed gets wrong; each must end up in the quarantine with its reason.
MALFORMED_JSONL = [
    '{"id": "bad-1", "kind": "explosion", "time": "2026-06-15T03:10:00Z", "source_kind": "patrol"',
    '{"id": "bad-2", "kind": "explosion", "explosion_type": "impact", "time": "2026-06-15T03:10:00", '
    '"lon": 37.5, "lat": 48.3, "radius_m": 500, "source_kind": "patrol", "source_id": "PATROL-01"}',
    '{"id": "bad-3", "kind": "rocket_party", "time": "2026-06-15T03:10:00Z", "lon": 37.5, '
    '"lat": 48.3, "source_kind": "patrol", "source_id": "PATROL-01"}',
    '{"id": "bad-4", "kind": "weapon_sighting", "time": "2026-06-15T09:00:00Z", "lat": 48.3, '
    '"source_kind": "uav", "source_id": "UAV-2", "weapon_class": "2S19", "count": 2}',
    '["not", "an", "object"]',
]


def _write_jsonl(path: Path, records: list[dict], extra_lines: Sequence[str] = ()) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        for line in extra_lines:
            fh.write(line + "\n")


def _write_fmt(path: Path, records: list[dict], fmt: str) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        write_records([record_from_dict(r) for r in records], fh, fmt=fmt)


@dataclass(frozen=True)
class _Inputs:
    """What the demo writes as a mission would receive it."""

    files: list[Path]                 # report and allegation files, in ingest order
    submissions: list[Path]           # the monitors' requests, one per monitor and day
    sensors: Path
    detections: Path
    network: Path
    n_sensors: int


def _day_of(ag: Any, day: date | None) -> date:
    day = day or DEFAULT_DAY
    if ag.start is not None and day < ag.start.date() + timedelta(days=7):
        day = ag.start.date() + timedelta(days=14)
    return day


def _report_files(ag: Any, day: date, seed: int, inputs: Path) -> tuple[list[Path], list[Path]]:
    """A week of reports, the report day's split by source and format as they would arrive; the
    monitors' reports as their requests, one per monitor and day."""
    history: list[dict] = []
    today: list[dict] = []
    monitors: list[dict] = []
    for back in range(6, -1, -1):
        intensity = 1.0 if back == 0 else 0.55 + 0.08 * (6 - back)
        recs = generate_day(ag, day - timedelta(days=back), seed=seed, intensity=intensity)
        monitors += [r for r in recs if r["source_kind"] in MONITOR_SOURCES]
        (today if back == 0 else history).extend(r for r in recs if r["source_kind"] not in MONITOR_SOURCES)
    by_source: dict[str, list[dict]] = {}
    for r in today:
        by_source.setdefault(r["source_kind"], []).append(r)
    files = [inputs / "history.jsonl", inputs / f"relayed-{day}.jsonl", inputs / f"acoustic-{day}.jsonl"]
    _write_jsonl(files[0], history)
    _write_jsonl(files[1], [], MALFORMED_JSONL)     # a post's relay, garbled on the way
    _write_jsonl(files[2], by_source.get("acoustic_sensor", []))
    for kind, fmt, name in (("fixed_camera", "csv", "cameras"), ("uav", "geojson", "uav")):
        files.append(inputs / f"{name}-{day}.{fmt}")
        _write_fmt(files[-1], by_source.get(kind, []), fmt)
    # a few open-source items, arriving in ACLED's format
    osint = [dict(r, id=f"os-{r['id']}", source_kind="open_source", source_id="Local media")
             for r in today if r["kind"] == "explosion" and r.get("explosion_type") == "impact"
             and "lon" in r][:8]
    files.append(inputs / f"open-sources-{day}.csv")
    _write_fmt(files[-1], osint, "acled")
    return files, write_submissions(monitors, inputs / "monitors")


def _sensor_files(ag: Any, day: date, seed: int, inputs: Path) -> tuple[_Inputs, Path]:
    """Two hours of the acoustic network's raw detections, the network behind them, and the
    parties' allegations about those hours (true, naming the wrong party, false, where nothing
    could have seen it, and one malformed)."""
    scenario = replace(SCENARIOS["active"], duration_s=2 * 3600.0,
                       start_s=datetime.combine(day, time(1), tzinfo=UTC).timestamp())
    length_km = ag.line_index.length_m / 1000.0 if ag.line_index is not None else 0.0
    if scenario.line_to_km is not None and scenario.line_to_km > length_km:   # a shorter line: its middle
        span = scenario.line_to_km - scenario.line_from_km
        scenario = replace(scenario, line_from_km=max(0.0, (length_km - span) / 2),
                           line_to_km=min(length_km, (length_km + span) / 2))
    sim = simulate(ag, scenario, seed=seed)
    sensors_path, detections_path = inputs / "sensors.csv", inputs / f"detections-{day}.jsonl"
    with sensors_path.open("w", encoding="utf-8", newline="") as fh:
        write_sensors(sim.sensors, fh)
    with detections_path.open("w", encoding="utf-8") as fh:
        write_detections(sim.detections, sim.sensors, fh)
    assert sim.network is not None   # simulate() always says which network it ran
    network = network_from_simulation(sim.network)
    network_path = write_network(network, inputs / "network.json", sensors_file="sensors.csv")
    scripted = simulate_allegations(
        sim.truth, ag, seed=seed, n_true=4, n_wrong=2, n_false=3, n_uncovered=2,
        coverage=lambda lon, lat, t: place_coverage(
            network, (lon, lat), t - 1800, t + 1800, "explosion", radius_m=1500.0, n_points=16,
            step_s=300.0).probability)
    claims = inputs / f"allegations-{day}.jsonl"
    _write_jsonl(claims, [_allegation_input(s.allegation) for s in scripted],
                 [json.dumps({"id": "claim-bad-1", "alleging_party": ag.party_ids[0],
                              "accused_party": ag.party_ids[0], "kind": "shelling",
                              "time": f"{day}T02:00:00Z", "lon": 37.8, "lat": 48.5,
                              "received_time": f"{day}T09:00:00Z"})])
    return _Inputs([], [], sensors_path, detections_path, network_path, len(sim.sensors)), claims


def _run_pipeline(store: Any, loaded: Any, day: date, inputs: _Inputs, out_dir: Path, key: Any,
                  say: Any, seed: int) -> tuple[dict[str, Path], list[Any]]:
    """Ingest, fuse, review, verify, adjudicate, report, keep and release: the mission's day."""
    for f in inputs.files:
        s = ingest_file(store, f)
        say(f"  ingested {f.name}: {s.added} added, {s.duplicate} duplicates, {s.quarantined} quarantined")
    submit_reports(store, inputs.submissions, say)
    fused = fuse_files(store, inputs.sensors, inputs.detections, out_dir / "incidents.geojson", loaded=loaded)
    say(f"  fused {fused.n_detections:,} raw detections of {inputs.n_sensors} sensors into "
        f"{fused.n_incidents} incidents ({fused.n_pairs} launch-impact pairs), {fused.n_stored} stored")
    review = review_week(store, day, seed=seed)
    for line in review.lines(day):
        say(line)
    # verify the report's days (the day and the history the report compares it with)
    start, end = day_window(day - timedelta(days=HISTORY_DAYS))[0], day_window(day)[1]
    run, v = verify_store(store, loaded, start=start, end=end)
    n_viol = sum(1 for f in v.findings if f.verdict.value == "violation")
    say(f"  verified {len(v.places)} records of {start:%Y-%m-%d} to {day}: "
        f"{len(v.findings)} findings, {n_viol} violations (run {run})")
    coverage, coverage_name, net = coverage_from_network(inputs.network)
    remember_network(store, inputs.network)
    _, judged = verify_allegations(store, loaded, coverage=coverage, coverage_name=coverage_name,
                                   start=day_window(day)[0], end=end, key=key)
    paths = daily_report(store, loaded, day, out_dir / "report", key=key, network=net)
    # the web service's copy of the report, released to the parties and the public
    for line in report_lines(json.loads(Path(paths["json"]).read_text(encoding="utf-8"))):
        say(line)
    keep_daily_report(store, loaded, day, paths, built_by=ANALYSTS[0])
    problem = release_problem(store, day, ANALYSTS[0])   # four eyes: another analyst approved some
    if problem is None:
        release_daily_report(store, day, released_by=ANALYSTS[0])
        say(f"  released by {ANALYSTS[0]} (who approved some of its records, {ANALYSTS[1]} others)")
    else:
        say(f"  not released: {problem}")
    return paths, judged


def run_demo(out_dir: Path, *, seed: int = 20251, agreement_path: Path | None = None,
             console: Any = None, day: date | None = None) -> dict[str, Path]:
    """The main job: write a seeded week of inputs, then run the mission's day over them."""
    def say(text: str) -> None:     # plain text: a title or a path is never read as markup
        if console is not None:
            console.print(text, markup=False, highlight=False)
    t0 = _time.perf_counter()
    agreement_path = agreement_path or EXAMPLES / "line-of-contact.yaml"
    if not agreement_path.is_file():
        raise InputError(f"{agreement_path}: agreement file not found (pass --agreement FILE)")
    loaded = load_agreement_file(agreement_path)
    ag = loaded.agreement
    day = _day_of(ag, day)
    out_dir = Path(out_dir)
    inputs_dir = out_dir / "input"
    inputs_dir.mkdir(parents=True, exist_ok=True)
    db = out_dir / "linewatch.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    say(f"linewatch demo: {ag.title}, report day {day.isoformat()}, seed {seed}")
    sensing, claims = _sensor_files(ag, day, seed, inputs_dir)
    report_files, submissions = _report_files(ag, day, seed, inputs_dir)
    inputs = replace(sensing, files=[*report_files, claims], submissions=submissions)
    private_path, public_path = generate_keys(out_dir / "keys", force=True)
    key = load_private_key(private_path)
    with open_store(db) as store:
        users_path = _demo_users(store, out_dir, ag.party_ids)
        paths, judged = _run_pipeline(store, loaded, day, inputs, out_dir, key, say, seed)
        counts: dict[str, int] = {}
        for f in judged:
            counts[str(f.verdict)] = counts.get(str(f.verdict), 0) + 1
        say(f"  {len(judged)} allegations judged: "
            + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(counts.items())))
        log = AuditLog(store, witness=default_witness(store))
        audit = log.verify(load_public_key(public_path))
        log.update_witness(audit)   # so that a later change or a cut tail is caught and named
        say(f"  audit log: {audit.size} entries, "
            + ("verified" if audit.ok else f"DOES NOT VERIFY: {audit.first}"))
    say(f"  signed report bundle: {paths['bundle']} (check it with: linewatch audit verify-report "
        f"{paths['bundle']} --public-key {public_path})")
    say(f"  browse it: linewatch serve --db {db} and open http://127.0.0.1:8000/ with a token "
        f"from {users_path}")
    say(f"  done in {_time.perf_counter() - t0:.1f} s")
    return {**paths, "db": db, "public_key": public_path, "users": users_path}


def _demo_users(store, out_dir: Path, parties: list[str]) -> Path:
    """An API user for each role (two analysts and three monitors, who review and write the
    demo's reports), their tokens in ``users.json`` (readable by the owner only)."""
    from linewatch.services.accounts import new_token, token_sha256
    users = {}
    people = [("demo-admin", "admin"), *((a, "analyst") for a in ANALYSTS), *((m, "monitor") for m in MONITORS),
              *((f"demo-party-{p}", f"party:{p}") for p in parties), ("demo-public", "public")]
    for name, role in people:
        token = new_token()
        store.add_user(name, role, token_sha256(token))
        users[name] = {"role": role, "token": token}
    path = out_dir / "users.json"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(users, fh, indent=2)
    return path


def _allegation_input(a) -> dict:
    """An allegation as a party's file would carry it (docs/allegation-formats.md)."""
    return {"id": a.id, "alleging_party": a.alleging_party, "accused_party": a.accused_party,
            "kind": str(a.kind), "start": utc_iso(a.start), "end": utc_iso(a.end),
            "lon": round(a.place.lon, 5), "lat": round(a.place.lat, 5),
            "radius_m": a.place.radius_m, "source_kind": a.source_kind,
            "source_reference": a.source_reference, "received_time": utc_iso(a.received_time)}
