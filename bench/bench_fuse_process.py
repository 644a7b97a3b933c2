"""The whole ``linewatch fuse`` process against a whole PyOcto process, start-up included.

Both run as fresh processes on the same files (``sensors.csv``, ``detections.jsonl``, written by
the simulator) and are timed by the wall clock from their start to their exit: Python's start,
the imports, reading the files, the association, and for ``linewatch fuse`` locating, pairing,
attributing, storing every incident in a new SQLite store with its audit-log entries and
writing the GeoJSON. PyOcto's process reads the files with linewatch's readers and associates
the arrival times (``bench/pyocto_peer.py``: configured for sound, one thread); it neither
locates with bearings nor stores anything. The two cases are the sizes of the held-out check
of issue 17 (60 km, 2 hours):

* ``light``: 0.01 launches/s, 0.2 false detections/min/sensor (about 3,300 detections);
* ``dense``: 0.05 launches/s, 1 false detection/min/sensor (about 19,000 detections).

    .venv/bin/pip install --no-deps pyocto==0.2.2 pandas python-dateutil pytz tzdata
    .venv/bin/python bench/bench_fuse_process.py                 # both cases, seed 1
    .venv/bin/python bench/bench_fuse_process.py --case dense --workers 2   # and PyOcto on 2 threads
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AGREEMENT = ROOT / "examples" / "agreements" / "line-of-contact.yaml"
CASES = {"light": (0.01, 0.2), "dense": (0.05, 1.0)}

PYOCTO_PROCESS = """
import sys
from pathlib import Path
sys.path.insert(0, {bench!r})
from pyocto_peer import PyOctoSettings, run_pyocto
from linewatch.formats.sensors import iter_detection_chunks, read_sensors
from linewatch.fusion.layout import frame_for
from linewatch.model import Detections, sound_speed_m_s
from linewatch.services import load_agreement_file
d = Path(sys.argv[1])
with (d / "sensors.csv").open(encoding="utf-8") as fh:
    sensors, _ = read_sensors(fh, name="sensors.csv")
with (d / "detections.jsonl").open(encoding="utf-8") as fh:
    det = Detections.concat([c for c, _ in iter_detection_chunks(fh, sensors, name="detections")])
frame = frame_for(sensors, load_agreement_file(Path({agreement!r})).agreement)
run = run_pyocto(sensors, det, frame=frame, c_m_s=float(sound_speed_m_s(15.0)),
                 settings=PyOctoSettings(n_threads=int(sys.argv[2])))
print(len(run.incidents), run.n_picks)
"""


def write_case(case: str, seed: int, out: Path) -> int:
    from linewatch.formats.scenario import write_scenario
    from linewatch.services import load_agreement_file
    from linewatch.sim import SCENARIOS, simulate
    rate, clutter = CASES[case]
    params = replace(SCENARIOS["active"], name=case, duration_s=7200.0,
                     launch_rate_per_s_per_60km=rate, clutter_per_min_per_sensor=clutter)
    sim = simulate(load_agreement_file(AGREEMENT).agreement, params, seed=seed)
    write_scenario(sim, out, params, seed)
    return len(sim.detections)


def timed(cmd: list[str]) -> tuple[float, str]:
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed: {done.stderr[-2000:]}")
    return wall, done.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", choices=sorted(CASES), action="append")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1,
                    help="linewatch fuse --workers, and PyOcto's threads")
    ap.add_argument("--skip-pyocto", action="store_true")
    args = ap.parse_args()
    lw = [sys.executable, "-m", "linewatch"]
    help_s = min(timed([*lw, "--help"])[0] for _ in range(3))
    print(f"linewatch --help: {help_s:.2f} s (best of 3)")
    for case in args.case or ["light", "dense"]:
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            n = write_case(case, args.seed, d)
            fuse_s, _ = timed([*lw, "fuse", "--sensors", str(d / "sensors.csv"), "--detections",
                               str(d / "detections.jsonl"), "--agreement", str(AGREEMENT),
                               "--temperature-c", "15", "--workers", str(args.workers),
                               "--out", str(d / "incidents.geojson"), "--db", f"sqlite:///{d}/lw.db"])
            line = (f"{case}: {n:,} detections; linewatch fuse (whole process, {args.workers} "
                    f"worker{'s' if args.workers > 1 else ''}) {fuse_s:.2f} s = {n / fuse_s:,.0f} detections/s")
            if not args.skip_pyocto:
                script = PYOCTO_PROCESS.format(bench=str(ROOT / "bench"), agreement=str(AGREEMENT))
                po_s, out = timed([sys.executable, "-c", script, str(d), str(args.workers)])
                threads = f"{args.workers} thread{'s' if args.workers > 1 else ''}"
                line += (f"; PyOcto (whole process, {threads}) {po_s:.2f} s = {n / po_s:,.0f} detections/s "
                         f"({out.split()[0]} events); linewatch / PyOcto {po_s / fuse_s:.2f}×")
            print(line, flush=True)


if __name__ == "__main__":
    main()
