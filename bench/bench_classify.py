"""Benchmark: classify located reports against the ~1,200 km notional line of contact.

Classification = project to the working frame, nearest place on the line (geodesic signed
distance, side, chainage), the distance to each party's reference line, the covariance in
the grid, the probability of each side, and membership probability of every buffer zone.

Peers on the same points, in the same run: per-point ``shapely.distance`` to the line
(unsigned, planar) and shapely's ``STRtree.query_nearest`` over the segments.

    .venv/bin/python bench/bench_classify.py [--n 1000000] [--peer-n 1000000]

Run on one core: the script pins BLAS/OpenMP threads to 1 before importing numpy.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pyproj  # noqa: E402
import shapely  # noqa: E402

from linewatch.agreement import parse_agreement  # noqa: E402
from linewatch.geo import GEOD, covariances_en  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def points_near_line(ag, n: int, seed: int = 1):
    """Reports spread along the line, most within ~15 km of it, a tail out to 150 km."""
    rng = np.random.default_rng(seed)
    line = ag.line_parts[0]
    i = rng.integers(0, len(line) - 1, n)
    f = rng.random(n)
    lon0 = line[i, 0] + f * (line[i + 1, 0] - line[i, 0])
    lat0 = line[i, 1] + f * (line[i + 1, 1] - line[i, 1])
    dist = rng.exponential(15_000, n).clip(0, 150_000)
    lon, lat, _ = GEOD.fwd(lon0, lat0, rng.uniform(0, 360, n), dist)
    radius = rng.choice([100.0, 500.0, 2000.0], n)
    cov = covariances_en(radius, radius * rng.uniform(0.3, 1, n), rng.uniform(0, 180, n))
    return np.asarray(lon), np.asarray(lat), cov


def classify(ag, lon, lat, cov):
    pl = ag.place(lon, lat, cov)
    sides = ag.side_probability(pl)
    zones = {z: ag.zones[z].probability(pl) for z, c in ag.zones.items() if c.kind == "buffer"}
    return pl, sides, zones


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--peer-n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    path = ROOT / "examples" / "agreements" / "line-of-contact.yaml"
    ag = parse_agreement(path.read_text(encoding="utf-8"), name=str(path))
    li = ag.line_index
    print(f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} cpus, "
          f"python {platform.python_version()}, numpy {np.__version__}, shapely {shapely.__version__} "
          f"(GEOS {shapely.geos_version_string}), pyproj {pyproj.__version__}")
    print(f"line: {li.length_m / 1000:.1f} km, {li.n_segments + 1} vertices; "
          f"{sum(z.kind == 'buffer' for z in ag.zones.values())} buffer zones")

    lon, lat, cov = points_near_line(ag, args.n)
    t = time.perf_counter()
    _ = li._grid  # the candidate quadtree, built once per agreement
    build_s = time.perf_counter() - t
    print(f"index build: {build_s:.2f} s (once per agreement)")

    classify(ag, lon[:1000], lat[:1000], cov[:1000])  # warm-up
    best = np.inf
    for _ in range(args.repeat):
        t = time.perf_counter()
        pl, sides, zones = classify(ag, lon, lat, cov)
        best = min(best, time.perf_counter() - t)
    rate = args.n / best
    print(f"linewatch classify: {args.n:,} reports in {best:.3f} s = {rate:,.0f} reports/s "
          f"(best of {args.repeat}; signed geodesic distance, side, chainage, side probabilities, "
          f"{len(zones)} zone probabilities)")

    m = min(args.peer_n, args.n)
    x, y = pl.x[:m], pl.y[:m]
    geom = li.geometry_xy
    pts = shapely.points(x, y)
    t = time.perf_counter()
    d_peer = shapely.distance(pts, geom)
    peer_s = time.perf_counter() - t
    peer_rate = m / peer_s
    t = time.perf_counter()
    _, d_tree = li.tree.query_nearest(pts, return_distance=True, all_matches=False)
    tree_s = time.perf_counter() - t
    tree_rate = m / tree_s
    # the peers give planar distances in the frame; ours are geodesic: compare after the scale
    k = ag.frame.scale_factor(x, lat[:m])
    rel = np.abs(np.abs(pl.line_signed_m[:m]) - d_peer / k) / np.maximum(d_peer, 1.0)
    print(f"peer shapely.distance (per point, unsigned, planar): {m:,} in {peer_s:.3f} s = "
          f"{peer_rate:,.0f} points/s -> linewatch is {rate / peer_rate:.1f}x")
    print(f"peer STRtree.query_nearest over segments: {m:,} in {tree_s:.3f} s = "
          f"{tree_rate:,.0f} points/s -> linewatch is {rate / tree_rate:.1f}x")
    print(f"agreement with planar shapely.distance divided by the point scale factor (a cruder "
          f"correction than ours, which integrates it along the path): max relative difference "
          f"{rel.max():.2e}")


if __name__ == "__main__":
    main()
