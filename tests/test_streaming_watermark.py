"""The streaming worker on the watermark engine (linewatch.services.stream_watermark,
docs/streaming.md): the current records are fuse()'s on a watermark, every revision a new
version of its incident; each incident out within the engine's bound of its last detection
(the worker's own accounting, not a timed test); a worker killed after an hour's close resumes
from its snapshot with nothing lost or doubled; a quiet stretch is released on a heartbeat."""

from __future__ import annotations

import time

import numpy as np
import pytest
from tests.test_streaming import _same_as_fuse as same_current
from tests.test_streaming import active_hour

from linewatch.fusion import FusionParams, IncidentLatency, fuse
from linewatch.fusion.watermark import Snapshot
from linewatch.services.stream_watermark import RecordVersions, snapshot_from_json, snapshot_to_json
from linewatch.services.streaming import StreamWorker, feed_detections
from linewatch.store import open_store

#: a 20-minute hour: three closes (snapshots) in the simulated hour
PARAMS = FusionParams(wind_block_s=1200, release="watermark", temperature_c=15.0)


@pytest.fixture(scope="module")
def scenario():
    ag, sim = active_hour()
    ref = fuse(sim.sensors, sim.detections, agreement=ag, params=PARAMS)
    assert len(ref.incidents) >= 15 and ref.engine == "fusion-3+watermark"
    return ag, sim, ref


def _worker(url, sim, ag, **kw):
    kw.setdefault("lease_s", 5.0)
    kw.setdefault("poll_s", 0.02)
    kw.setdefault("batch", 40)
    return StreamWorker(url, sim.sensors, agreement=ag, audit=False, params=PARAMS, **kw)


def _versions(url):
    """Every record: its id and the version it supersedes."""
    with open_store(url) as store:
        return dict(store.conn.execute("SELECT id, supersedes FROM records ORDER BY id").fetchall())


def _same_as_fuse(url, ref):
    same_current(url, ref)            # the current versions are fuse()'s incidents
    versions = _versions(url)
    # a version chain per incident: v1 is the incident's id, v(n) supersedes v(n-1)
    for rid, sup in versions.items():
        base, _, n = rid.partition("~")
        assert (sup is None) == (n == "")
        if n:
            assert sup == (base if n == "2" else f"{base}~{int(n) - 1}")
    return versions


@pytest.fixture(scope="module")
def streamed(scenario, tmp_path_factory):
    """The whole hour queued at once and claimed 40 detections at a time (a claim spans about
    a minute and a half of this scenario's detections)."""
    ag, sim, ref = scenario
    url = f"sqlite:///{tmp_path_factory.mktemp('wm') / 'stream.db'}"
    with open_store(url) as store:
        feed_detections(store, sim.sensors, [sim.detections])
    summary = _worker(url, sim, ag).run(until_idle_s=0.3)
    return url, summary


def test_streamed_records_are_fuses_versions_with_their_latency(scenario, streamed):
    ag, sim, ref = scenario
    url, summary = streamed
    assert summary.drained and summary.n_late == 0 and summary.n_claimed == len(sim.detections)
    versions = _same_as_fuse(url, ref)
    assert len(versions) > len(ref.incidents)           # pairs and the hours' winds revised some
    assert summary.n_stored == len(versions) and summary.n_hours >= 3      # the closes
    with open_store(url) as store:
        rows = [IncidentLatency(**r) for r in store.stream_latencies("default")]
        prog = store.stream_progress("default")
        assert store.stream_snapshot("default") is None          # forgotten by the drain
    assert sorted(r.record_id for r in rows) == sorted(i.id for i in ref.incidents)
    # the worker's own accounting: released once the watermark (the latest detection fed)
    # passed its step's end + overlap + the longest travel time, so within that of its last
    # detection, plus at most the span of the claim that carried the watermark
    spans = np.diff(np.sort(sim.detections.time_s))
    claim_span = max(float(np.sort(sim.detections.time_s)[k + 39] - np.sort(sim.detections.time_s)[k])
                     for k in range(0, len(spans) - 40))
    travel = PARAMS.max_range_m / (340.3 - 10.0)
    bound = PARAMS.step_s + PARAMS.step_overlap_s + travel + claim_span
    streamed_rows = [r for r in rows if r.record_id not in summary.drained_ids]
    assert len(streamed_rows) >= 0.8 * len(rows)
    assert all(0.0 <= r.hold_s <= bound for r in streamed_rows), (bound, max(r.hold_s for r in rows))
    assert prog["floor_s"] is not None and prog["n_incidents"] == len(ref.incidents)


class _Crash(Exception):
    pass


def test_killed_worker_resumes_from_its_snapshot(scenario, streamed, new_store_url):
    """Killed right after the second hour's close (its snapshot committed) with claims
    buffered: the next worker resumes from the snapshot, replays the claims from its floor
    only, and stores exactly the uninterrupted worker's versions, each once."""
    ag, sim, ref = scenario
    url = new_store_url("wmcrash")
    with open_store(url) as store:
        feed_detections(store, sim.sensors, [sim.detections])
    closes = []

    def crash(hour_s):
        closes.append(hour_s)
        if len(closes) == 2:
            raise _Crash

    with pytest.raises(_Crash):
        _worker(url, sim, ag, owner="a", lease_s=0.3, on_commit=crash).run(until_idle_s=30)
    with open_store(url) as store:
        text = store.stream_snapshot("default")
        assert text is not None and store.stream_progress("default")["committed_s"] == closes[-1]
        snap, _ = snapshot_from_json(text, "fusion-3+watermark")
        claims = store.stream_claims("default")
        assert claims and min(t for _, t, _ in claims) >= snap.hour_s - 120.0
    again = _worker(url, sim, ag, owner="b").run(until_idle_s=0.3)
    assert again.drained and 0 < again.n_replayed < len(sim.detections)
    whole = _versions(streamed[0])
    assert _same_as_fuse(url, ref) == whole
    with open_store(url) as store:
        assert sorted(r["record_id"] for r in store.stream_latencies("default")) == sorted(
            i.id for i in ref.incidents)


def test_a_quiet_stretch_is_released_on_a_heartbeat(scenario, new_store_url):
    """The input stops just after an incident's last detection; the network's heartbeat says
    everything up to two minutes later has come: the incident is stored before any drain."""
    ag, sim, ref = scenario
    det = sim.detections
    last = dict(zip(det.ids.astype(str).tolist(), det.time_s.tolist()))
    inc = next(i for i in ref.incidents if i.time_s > float(det.time_s.min()) + 1500.0)
    cut = max(last[d] for d in inc.detections) + 0.001
    head = det.take(np.flatnonzero(det.time_s < cut))
    lag = 30.0
    shift = cut + 120.0 + lag - time.time()       # this machine's clock, two minutes on
    for beat, name in ((lag, "wmbeat"), (None, "wmnobeat")):
        url = new_store_url(name)
        with open_store(url) as store:
            feed_detections(store, sim.sensors, [head])
        s = _worker(url, sim, ag, heartbeat_lag_s=beat,
                    clock=lambda: time.time() + shift).run(until_idle_s=0.5)
        assert any(r.record_id == inc.id for r in s.latencies)
        # released while streaming on the heartbeat; without one, only by the drain
        assert (inc.id in s.drained_ids) == (beat is None)


def test_snapshot_text_round_trips(scenario):
    ag, sim, ref = scenario
    versions = RecordVersions("fusion-3+watermark")
    for inc in ref.incidents[:5]:
        versions.current[inc.id] = (1, inc.id, "h", inc.pair_id, inc.time_s)
    launches = tuple(i for i in ref.incidents if i.kind == "launch")[:2]
    snap = Snapshot(1200.0, 0.0, (1.5, -0.25), ("a", "b"), tuple(ref.incidents[:3]), launches)
    back, v = snapshot_from_json(snapshot_to_json(snap, versions), "fusion-3+watermark")
    assert back.step_s == snap.step_s and back.wind_m_s == snap.wind_m_s and back.used == snap.used
    assert [i.id for i in back.hour_incidents] == [i.id for i in snap.hour_incidents]
    assert back.hour_incidents[0].cov_en_m2 == snap.hour_incidents[0].cov_en_m2
    assert back.open_launches == snap.open_launches or all(
        a.id == b.id and a.lon == b.lon for a, b in zip(back.open_launches, snap.open_launches))
    assert v.current == versions.current


def test_the_cli_refuses_a_bad_release_and_a_heartbeat_without_the_watermark(tmp_path):
    """Exit code 2 with what was wrong and which option, in words rather than the parameter's
    name: an unknown release, and a heartbeat given to the hourly release (which has none)."""
    import subprocess
    import sys
    sensors = tmp_path / "sensors.csv"
    sensors.write_text("sensor_id,lon,lat,kind\nMIC-1,37.8,48.0,microphone\n", encoding="utf-8")
    db = tmp_path / "x.db"
    for args, option, what in ((["--release", "fast"], "--release", "'fast'"),
                               (["--release", "hour", "--heartbeat-lag-s", "30"], "--heartbeat-lag-s",
                                "needs the watermark release")):
        done = subprocess.run([sys.executable, "-m", "linewatch", "stream", "fuse", "--sensors", str(sensors),
                               "--db", f"sqlite:///{db}", "--until-idle", "0.1", *args],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stderr
        assert option in done.stderr and what in done.stderr
        assert "heartbeat_lag_s" not in done.stderr
    with pytest.raises(ValueError, match="watermark release"):
        StreamWorker(f"sqlite:///{db}", None, params=FusionParams(), heartbeat_lag_s=30.0)
