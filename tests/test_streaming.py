"""Streaming fusion (linewatch.services.streaming, docs/streaming.md) on both stores: the streamed result
is fuse()'s, a consumer killed mid-stream and restarted loses and duplicates nothing, a standby
takes over from a stopped consumer (PostgreSQL), a stale consumer is fenced off, every incident
has its latency; the CLI end to end with SIGKILL and SIGTERM."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from linewatch.errors import Conflict
from linewatch.fusion import FusionParams, IncidentLatency, drain_floor, fuse, percentiles, replay_from, summarize
from linewatch.services.streaming import StreamWorker, feed_detections, stream_report
from linewatch.store import open_store

ROOT = Path(__file__).resolve().parents[1]
AGREEMENT = ROOT / "examples" / "agreements" / "line-of-contact.yaml"
#: a 20-minute engine hour: four hours (and pairing's hold) in one simulated hour
PARAMS = FusionParams(wind_block_s=1200)


def active_hour():
    """An hour of `active` on 30 km of the example line: the agreement and the simulation."""
    from linewatch.services import load_agreement_file
    from linewatch.sim import SCENARIOS, simulate
    ag = load_agreement_file(AGREEMENT).agreement
    return ag, simulate(ag, replace(SCENARIOS["active"], duration_s=3600.0, line_from_km=400.0,
                                    line_to_km=430.0), seed=1)


@pytest.fixture(scope="module")
def scenario():
    ag, sim = active_hour()
    ref = fuse(sim.sensors, sim.detections, agreement=ag, params=PARAMS)
    assert len(ref.incidents) >= 15
    return ag, sim, ref


def _parts(det, edges):
    """Detections cut at these times (seconds from the first)."""
    t0 = float(det.time_s.min())
    cut = [-math.inf, *(t0 + e for e in edges), math.inf]
    return [det.take(np.flatnonzero((det.time_s >= a) & (det.time_s < b))) for a, b in zip(cut, cut[1:])]


def _records(url):
    """The current records by incident id (a revision ``<id>~<n>`` is a version of ``<id>``),
    and how many versions are stored."""
    with open_store(url) as store:
        return {r["id"].split("~")[0]: r for r in store.record_rows()}, store.count_records()


def _same_as_fuse(url, ref):
    got, n = _records(url)
    assert len(got) == len(ref.incidents)                  # nothing lost
    if ref.engine.endswith("+watermark"):                  # and nothing doubled: versions only
        assert n >= len(got)
    else:
        assert n == len(got)
    assert set(got) == {i.id for i in ref.incidents}
    for inc in ref.incidents:
        rec = got[inc.id]
        assert rec["lon"] == pytest.approx(inc.lon, abs=1e-7)
        assert rec["lat"] == pytest.approx(inc.lat, abs=1e-7)
        assert rec["extra"]["detections"] == ",".join(inc.detections)
        assert rec["extra"].get("pair_id") == inc.pair_id


def _worker(url, sensors, ag, **kw):
    kw.setdefault("lease_s", 5.0)
    kw.setdefault("poll_s", 0.02)
    kw.setdefault("params", PARAMS)
    return StreamWorker(url, sensors, agreement=ag, audit=False, **kw)


def test_streamed_incidents_are_fuses_with_their_latency(scenario, new_store_url):
    ag, sim, ref = scenario
    url = new_store_url("stream")
    store = open_store(url)
    stop_feed = threading.Event()
    parts = _parts(sim.detections, [600.0 * k for k in range(1, 7)])

    def feeder():            # ten-minute parts, as a network would send them
        for p in parts:
            store_f.add_detections(p, sim.sensors, enqueue=True)
            time.sleep(0.05)
        stop_feed.set()

    store_f = open_store(url)
    th = threading.Thread(target=feeder)
    th.start()
    summary = _worker(url, sim.sensors, ag, batch=400).run(until_idle_s=0.5)
    th.join()
    store_f.close()
    assert summary.drained and summary.n_claimed == len(sim.detections) and summary.n_late == 0
    _same_as_fuse(url, ref)

    rows = store.stream_latencies("default")
    assert sorted(r["record_id"] for r in rows) == sorted(i.id for i in ref.incidents)
    lat = [IncidentLatency(**r) for r in rows]
    for r in lat:
        assert r.latency_s >= 0 and r.processing_s >= 0 and r.hold_s >= 0
        assert r.committed_s >= r.last_enqueued_s and r.stream_time_s >= r.last_detection_s
    # the engine releases incidents hour by hour: an earlier incident is never committed after
    # one of a later engine hour
    by_time = sorted(lat, key=lambda r: r.last_detection_s)
    hour = lambda r: math.floor(r.last_detection_s / PARAMS.wind_block_s)  # noqa: E731
    for a, b in zip(by_time, by_time[1:]):
        if hour(b) > hour(a) + 1:
            assert a.committed_s <= b.committed_s
    rep = stream_report(store)
    assert rep["queued"] == 0 and rep["claimed"] == 0 and not rep["active"]
    assert rep["n_incidents"] == len(ref.incidents) and rep["latency"]["latency_s"]["n"] == len(lat)
    store.close()


class _Crash(Exception):
    pass


@pytest.mark.parametrize("hour_s,replay_hours,crash_at", [(1200.0, 3.0, 2), (600.0, 1.0, 4)])
def test_killed_consumer_restarts_without_loss_or_duplicates(scenario, new_store_url, hour_s,
                                                             replay_hours, crash_at):
    """A consumer fails right after an hour is committed, with detections claimed but not yet
    fused (a SIGKILL, leaving the lease to run out, is the CLI test's); the next one replays
    the claims
    (all of them; or, with 10-minute engine hours, only from one hour before the mark) and the
    result is fuse()'s, every record and latency once."""
    ag, sim, ref = scenario
    params = replace(PARAMS, wind_block_s=hour_s)
    if hour_s != PARAMS.wind_block_s:
        ref = fuse(sim.sensors, sim.detections, agreement=ag, params=params)
    url = new_store_url("crash")
    first, rest = _parts(sim.detections, [2700.0])
    with open_store(url) as store:
        feed_detections(store, sim.sensors, [first])
    commits = []

    def crash(hour_s):
        commits.append(hour_s)
        if len(commits) == crash_at:
            raise _Crash

    with pytest.raises(_Crash):       # while streaming: long before it would drain
        _worker(url, sim.sensors, ag, owner="a", lease_s=0.3, on_commit=crash, params=params,
                replay_hours=replay_hours).run(until_idle_s=30)
    with open_store(url) as store:
        prog = store.stream_progress("default")
        assert prog["committed_s"] == commits[-1] and prog["owner"] == "a" and prog["floor_s"] is None
        claims = store.count_stream_claims("default")          # the durable buffer
        assert claims > 0
        stored_before = store.count_records()
        feed_detections(store, sim.sensors, [rest])
    summary = _worker(url, sim.sensors, ag, owner="b", params=params,
                      replay_hours=replay_hours).run(until_idle_s=0.3)
    assert summary.n_replayed == claims and summary.n_stored == len(ref.incidents) - stored_before
    if replay_hours == 1.0:       # the claims before the window were dropped as hours passed
        assert claims < len(first)
    _same_as_fuse(url, ref)
    with open_store(url) as store:
        assert len(store.stream_latencies("default")) == len(ref.incidents)
        assert store.stream_progress("default")["fence"] == 2


def test_stale_consumer_is_fenced_off(new_store_url):
    with open_store(new_store_url("fence")) as store:
        assert store.stream_acquire("s", "a", lease_s=10.0, now=100.0) == 1
        assert store.stream_acquire("s", "b", lease_s=10.0, now=105.0) is None     # standby
        store.stream_check("s", "a", 1, lease_s=10.0, now=108.0)                    # renewed
        assert store.stream_acquire("s", "b", lease_s=10.0, now=117.0) is None
        assert store.stream_acquire("s", "b", lease_s=10.0, now=118.5) == 2        # lapsed
        with pytest.raises(Conflict, match="took it over"):
            store.stream_check("s", "a", 1, lease_s=10.0, now=119.0)
        store.stream_release("s", "b", 2)
        assert store.stream_acquire("s", "a", lease_s=10.0, now=120.0) == 3        # at once


def test_other_engine_parameters_wait_for_a_drain(scenario, new_store_url):
    ag, sim, ref = scenario
    url = new_store_url("params")
    with open_store(url) as store:
        feed_detections(store, sim.sensors, [sim.detections])
    stop = threading.Event()
    _worker(url, sim.sensors, ag, stop=stop, on_commit=lambda h: stop.set()).run()
    other = replace(PARAMS, wind_block_s=600.0)
    with pytest.raises(Conflict, match="other parameters"):
        _worker(url, sim.sensors, ag, params=other).run(until_idle_s=0.1)
    _worker(url, sim.sensors, ag).run(until_idle_s=0.1)             # drained with its own
    assert _worker(url, sim.sensors, ag, params=other).run(until_idle_s=0.1).acquired
    _same_as_fuse(url, ref)


def test_standby_takes_over_and_no_event_is_split(scenario, new_pg_url):
    """Two consumers on one PostgreSQL stream: one claims and fuses, the other stands by; the
    first stops after its first hour and the standby takes over. Only the owner ever claims,
    so no event's detections are split: the result is fuse()'s."""
    ag, sim, ref = scenario
    url = new_pg_url("two")
    with open_store(url) as store:
        feed_detections(store, sim.sensors, [sim.detections])
    stop_a = threading.Event()
    states_b: list[str] = []
    a = _worker(url, sim.sensors, ag, owner="a", batch=500, stop=stop_a,
                on_commit=lambda h: stop_a.set())
    b = _worker(url, sim.sensors, ag, owner="b", batch=500,
                status=lambda s: states_b.append(s.state))
    got_a = {}
    th = threading.Thread(target=lambda: got_a.update(s=a.run(until_idle_s=2.0)))
    th.start()
    while a.status.fence is None:
        time.sleep(0.01)
    sb = b.run(until_idle_s=0.5)          # a standby until a lets go
    th.join()
    sa = got_a["s"]
    assert sa.acquired and not sa.drained and sa.n_hours == 1
    assert "standby" in states_b and sb.acquired and sb.drained
    assert sa.n_claimed + sb.n_claimed == len(sim.detections)
    _same_as_fuse(url, ref)


def test_after_a_drain_late_detections_are_quarantined_and_a_new_epoch_fused(scenario,
                                                                               new_store_url):
    """Drained after 30 minutes, the stream's floor is the end of the last hour fused: later
    detections before it are quarantined as late, those after it are fused afresh, exactly as
    fuse() of them alone."""
    ag, sim, ref = scenario
    url = new_store_url("late")
    first, rest = _parts(sim.detections, [1800.0])
    with open_store(url) as store:
        feed_detections(store, sim.sensors, [first])
    _worker(url, sim.sensors, ag).run(until_idle_s=0.2)
    with open_store(url) as store:
        floor = store.stream_progress("default")["floor_s"]
        assert floor == drain_floor(float(first.time_s.max()), PARAMS.wind_block_s)
        before = set(_records(url)[0])
        feed_detections(store, sim.sensors, [rest])
    s = _worker(url, sim.sensors, ag).run(until_idle_s=0.2)
    after = rest.take(np.flatnonzero(rest.time_s >= floor))
    again = fuse(sim.sensors, after, agreement=ag, params=PARAMS)
    got, n = _records(url)
    with open_store(url) as store:
        assert s.n_late == len(rest) - len(after) == store.count_quarantine() > 0
    assert n == len(got) and set(got) - before == {i.id for i in again.incidents}
    assert s.n_stored == len(again.incidents) > 0


def test_latency_figures():
    r = IncidentLatency("x", last_detection_s=100.0, last_enqueued_s=10.0, stream_time_s=1400.0,
                        trigger_enqueued_s=20.0, committed_s=22.5)
    assert (r.latency_s, r.hold_s, r.processing_s, r.realtime_s) == (12.5, 1300.0, 2.5, 1302.5)
    p = percentiles([1.0, 2.0, 3.0, float("nan")])
    assert p["n"] == 3 and p["p50"] == 2.0 and p["max"] == 3.0
    assert math.isnan(percentiles([])["p99"])
    s = summarize([r, r.row() and dict(zip(("record_id", "last_detection_s", "last_enqueued_s",
                                             "stream_time_s", "trigger_enqueued_s", "committed_s"),
                                            r.row()))])
    assert s["realtime_s"]["p99"] == 1302.5
    assert replay_from(7200.0, 3, 1200.0) == 3600.0 and replay_from(None, 3, 1200.0) is None
    assert drain_floor(3599.0, 1200.0) == 3600.0 and drain_floor(3600.0, 1200.0) == 4800.0


# -- the command line ---------------------------------------------------------------------------

def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "linewatch", *map(str, args)], capture_output=True,
                          text=True, timeout=120, **kw)


def _spawn(*args):
    return subprocess.Popen([sys.executable, "-m", "linewatch", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _fuse_files(d, ag, params):
    from linewatch.formats.sensors import iter_detection_chunks, read_sensors
    from linewatch.model import Detections
    with (d / "sensors.csv").open(encoding="utf-8") as fh:
        sensors, _ = read_sensors(fh, name="sensors.csv")
    with (d / "detections.jsonl").open(encoding="utf-8") as fh:
        det = Detections.concat([c for c, _ in iter_detection_chunks(fh, sensors, name="d")])
    return fuse(sensors, det, agreement=ag, params=params)


def test_cli_sigkill_restart_and_sigterm(scenario, new_store_url, tmp_path):
    from linewatch.formats.sensors import write_scenario
    from linewatch.sim import SCENARIOS
    ag, sim, ref = scenario
    write_scenario(sim, tmp_path, SCENARIOS["active"], 1)
    # the worker's default release: on a watermark
    ref = _fuse_files(tmp_path, ag, replace(PARAMS, release="watermark"))   # the files' rounding moves a fix by cm
    url = new_store_url("cli")
    fuse_args = ["stream", "fuse", "--db", url, "--sensors", tmp_path / "sensors.csv",
                 "--agreement", AGREEMENT, "--hour-s", 1200, "--lease-s", 1, "--poll-s", 0.05,
                 "--batch", 300]
    # fed at 1000x: the hour in 3.6 s; the worker is killed once it has committed an hour
    feeder = _spawn("stream", "feed", "--db", url, "--sensors", tmp_path / "sensors.csv",
                    "--detections", tmp_path / "detections.jsonl", "--rate", 1000)
    worker = _spawn(*fuse_args)
    store = open_store(url)
    deadline = time.monotonic() + 60
    while (store.stream_progress("default") or {}).get("committed_s") is None:
        assert time.monotonic() < deadline and worker.poll() is None, worker.communicate()
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.communicate()
    fed, why = feeder.communicate(timeout=60)
    assert feeder.returncode == 0 and "detections queued" in fed, why
    done = _cli(*fuse_args, "--until-idle", 0.5, "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["drained"] and doc["replayed"] > 0 and doc["latency"]["latency_s"]["n"] > 0
    store.close()
    _same_as_fuse(url, ref)
    status = _cli("stream", "status", "--db", url, "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["n_incidents"] == len(ref.incidents)
    # a worker on an empty queue stops cleanly on SIGTERM, exit code 0
    idle = _spawn(*fuse_args)
    with open_store(url) as store:
        deadline = time.monotonic() + 30
        while not stream_report(store)["active"]:
            assert time.monotonic() < deadline and idle.poll() is None, idle.communicate()
            time.sleep(0.05)
    idle.send_signal(signal.SIGTERM)
    said, why = idle.communicate(timeout=30)
    assert idle.returncode == 0 and "stopped:" in said, why
    with open_store(url) as store:
        assert not stream_report(store)["active"]             # released at once
