"""``linewatch plan`` end to end on a stretch of the notional line: the files it writes, the
check by simulation beside the promises, bad input files and infeasible targets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
AGREEMENT = ROOT / "examples" / "agreements" / "line-of-contact.yaml"
ASSETS = ROOT / "examples" / "planning" / "assets.yaml"

TARGETS = """
band_km: 8
detection_probability: 0.9
k_coverage: 4
crlb_m: 150
zones: [sloviansk-tpp]
zone_detection_probability: 0.95
candidate_spacing_km: 2.0
candidate_depths_km: [1, 4, 8]
line_from_km: 390
line_to_km: 450
contributions: {A: 60, B: 40}
sweep: [0.8, 0.95]
check: {scenario: active, duration_h: 0.5, length_km: 30, seed: 2}
"""


class Result:
    def __init__(self, proc):
        self.exit_code = proc.returncode
        self.output = proc.stdout + proc.stderr


def run(*args):
    return Result(subprocess.run([sys.executable, "-m", "linewatch", "plan", "-a", str(AGREEMENT),
                                  *map(str, args)], capture_output=True, text=True, timeout=600))


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plan")
    (tmp / "targets.yaml").write_text(TARGETS, encoding="utf-8")
    res = run("--assets", ASSETS, "--targets", tmp / "targets.yaml", "--out", tmp / "out")
    assert res.exit_code == 0, res.output
    return tmp / "out", json.loads((tmp / "out" / "plan.json").read_text())


def test_plan_writes_every_output(planned):
    out, plan = planned
    for name in ("plan.json", "plan.html", "sites.csv", "sites.geojson", "coverage.png", "crlb.png", "sweep.png"):
        assert (out / name).stat().st_size > 100, name
    s = plan["summary"]
    assert s["sites"] == len(plan["sites"]) == sum(b["count"] for b in s["by_type"]) > 0
    assert s["cost"] == pytest.approx(sum(b["cost"] for b in s["by_type"]))
    assert 0 <= plan["solver"]["gap_to_lp"] < 0.5 and plan["solver"]["lp_bound"] <= s["cost"] * (1 + 1e-9)
    a = plan["achieved"]
    assert a["min_probability"] >= 0.9 - 1e-9 and a["min_sensors"] >= 4 and a["max_crlb_m"] <= 150
    assert [x["nation"] for x in plan["sectors"]] == ["A", "B"]
    assert plan["sectors"][0]["to_km"] == plan["sectors"][1]["from_km"]
    assert [r["detection_probability"] for r in plan["sweep"]] == [0.8, 0.95]
    assert all(r["cost"] and r["sites"] for r in plan["sweep"])
    html = (out / "plan.html").read_text()
    for heading in ("Assets by type", "Weakest stretches", "Sectors", "Cost against coverage",
                    "Independent check by simulation"):
        assert heading in html


def test_the_check_measures_beside_the_promises(planned):
    _, plan = planned
    c = plan["check"]
    assert c["n_launches"] > 0 and c["n_sensors"] > 0
    assert 0 <= c["heard_share"] <= 1 and 0 <= c["detection_share"] <= 1
    rows = [r for r in c["stretches"] if r["n_launches"]]
    assert rows and all("promised_heard" in r and "promised_enough" in r and "enough_share" in r for r in rows)


def test_bad_assets_file_names_file_and_field(tmp_path):
    bad = tmp_path / "assets.yaml"
    bad.write_text("assets:\n  - id: x\n    kind: telescope\n    cost: 5\n", encoding="utf-8")
    (tmp_path / "t.yaml").write_text("line_from_km: 400\nline_to_km: 420\n", encoding="utf-8")
    res = run("--assets", bad, "--targets", tmp_path / "t.yaml", "--out", tmp_path / "o")
    assert res.exit_code == 4
    assert "assets.yaml: assets.0.kind" in res.output


def test_infeasible_targets_exit_10_naming_the_stretch(tmp_path):
    (tmp_path / "t.yaml").write_text("line_from_km: 400\nline_to_km: 430\ndetection_probability: 0.9\n"
                                     "band_km: 30\ncandidate_depths_km: [1]\n", encoding="utf-8")
    cam = tmp_path / "a.yaml"
    cam.write_text("assets:\n  - id: cam\n    kind: camera\n    cost: 5\n", encoding="utf-8")
    res = run("--assets", cam, "--targets", tmp_path / "t.yaml", "--out", tmp_path / "o", "--no-check")
    assert res.exit_code == 10, res.output
    assert "cannot be met" in res.output and "km 4" in res.output


def test_plan_with_a_dem_masks_what_optical_assets_cannot_see(tmp_path):
    """A wall of hills along the stretch: cameras lose the pairs behind it, microphones do not,
    and `plan --dem` runs through."""
    from linewatch import planning as P
    from linewatch.formats.dem import write_synthetic_dem
    from linewatch.services import load_agreement_file
    ag = load_agreement_file(AGREEMENT).agreement
    t = P.Targets(band_km=4, detection_probability=0.6, candidate_spacing_km=4.0,
                  candidate_depths_km=(2.0,), line_from_km=400, line_to_km=430, sweep=())
    mic = P.AssetType("mic", "microphone", 15_000, toa_sd_s=0.02)
    cam = P.AssetType("cam", "camera", 10_000)
    flat = P.build_problem(ag, [mic, cam], t)
    lon, lat = flat.demand.lon, flat.demand.lat
    box = (lon.min() - 0.3, lat.min() - 0.3, lon.max() + 0.3, lat.max() + 0.3)
    # hills 300 m high on every demand point's neighbourhood hide most pairs from 5 m masts
    hills = [(float(x), float(y), 300.0, 800.0) for x, y in zip(flat.sites.lon, flat.sites.lat)]
    dem = write_synthetic_dem(tmp_path / "dem.tif", box, cell_m=200.0, hills=hills)
    reach = max(c.r50_m + 6 * c.width_m for a in (mic, cam) if (c := a.curve("launch")))
    vis = dem.visibility_matrix(np.column_stack([flat.sites.lon, flat.sites.lat]),
                                np.column_stack([lon, lat]), 5.0, 2.0, reach)
    hilly = P.build_problem(ag, [mic, cam], t, sites=flat.sites, visible=vis)
    n = lambda pr, a: int((pr.pairs.a == a).sum())  # noqa: E731
    assert n(hilly, 0) == n(flat, 0)                 # sound goes over hills
    assert n(hilly, 1) < n(flat, 1)                  # sight does not
    (tmp_path / "t.yaml").write_text("band_km: 4\ndetection_probability: 0.6\ncandidate_spacing_km: 4\n"
                                     "candidate_depths_km: [2]\nline_from_km: 400\nline_to_km: 430\n"
                                     "sweep: []\ncheck: null\n", encoding="utf-8")
    res = run("--assets", ASSETS, "--targets", tmp_path / "t.yaml", "--out", tmp_path / "o",
              "--dem", tmp_path / "dem.tif")
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "o" / "plan.json").read_text())["problem"]["terrain"].endswith("dem.tif")
