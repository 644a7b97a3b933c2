"""Benchmark: ``Terrain.visibility_matrix`` for mission planning.

5,000 candidate sites and 3,000 targets scattered over a 100 km × 60 km area, a 30 m DEM in
UTM 37N (3,333 × 2,000 cells), a 10 km range, eyes 5 m and targets 2 m above the ground.
Three terrains: hilly (smooth random relief, ~400 m peak to peak), a single ridge, and flat
ground (everything in range is visible, so every profile is sampled to the end: the worst
case).

    .venv/bin/python bench/bench_terrain.py [--sites 5000] [--targets 3000] [--range-m 10000]
        [--width-km 100] [--height-km 60] [--repeat 1]

Runs on one core: the script pins BLAS/OpenMP threads to 1 before importing numpy.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from pyproj import Transformer  # noqa: E402

from linewatch.geo import Terrain  # noqa: E402

CELL_M = 30.0
X0, Y0 = 350_000.0, 5_380_000.0          # UTM 37N, north-west corner near 37.0° E 48.55° N


def hilly(shape: tuple[int, int], seed: int = 7) -> np.ndarray:
    """Smooth random relief: white noise low-passed to ~2 km features, 0–400 m."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=shape)
    fy = np.fft.fftfreq(shape[0], d=CELL_M)[:, None]
    fx = np.fft.rfftfreq(shape[1], d=CELL_M)[None, :]
    spectrum = np.fft.rfft2(noise) * np.exp(-((fx ** 2 + fy ** 2) * (2_000.0 ** 2)))
    z = np.fft.irfft2(spectrum, s=shape)
    z = (z - z.min()) / (z.max() - z.min()) * 400.0
    return z.astype(np.float32)


def ridge(shape: tuple[int, int]) -> np.ndarray:
    """A 250 m ridge running north–south through the middle, 1.5 km half width."""
    x = (np.arange(shape[1]) + 0.5) * CELL_M
    profile = 100.0 + 250.0 * np.exp(-0.5 * ((x - x.mean()) / 1_500.0) ** 2)
    return np.broadcast_to(profile, shape).astype(np.float32)


def points(n: int, seed: int, width_m: float, height_m: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = X0 + rng.uniform(0, width_m, n)
    y = Y0 - rng.uniform(0, height_m, n)
    lon, lat = Transformer.from_crs(32637, 4326, always_xy=True).transform(x, y)
    return np.column_stack([lon, lat])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sites", type=int, default=5_000)
    parser.add_argument("--targets", type=int, default=3_000)
    parser.add_argument("--range-m", type=float, default=10_000.0)
    parser.add_argument("--width-km", type=float, default=100.0)
    parser.add_argument("--height-km", type=float, default=60.0)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    width_m, height_m = args.width_km * 1000, args.height_km * 1000
    shape = (round(height_m / CELL_M), round(width_m / CELL_M))
    transform = (CELL_M, 0.0, X0, 0.0, -CELL_M, Y0)
    sites = points(args.sites, 1, width_m, height_m)
    targets = points(args.targets, 2, width_m, height_m)
    print(f"python {platform.python_version()}, numpy {np.__version__}; DEM {shape[1]} × "
          f"{shape[0]} cells of {CELL_M:.0f} m; {args.sites} sites × {args.targets} targets, "
          f"range {args.range_m / 1000:.0f} km")
    for name, z in (("hilly", hilly(shape)), ("ridge", ridge(shape)),
                    ("flat", np.full(shape, 120.0, dtype=np.float32))):
        terrain = Terrain(z, transform, 32637)
        for _ in range(args.repeat):
            start = time.perf_counter()
            vis = terrain.visibility_matrix(sites, targets, 5.0, 2.0, args.range_m)
            elapsed = time.perf_counter() - start
            start = time.perf_counter()
            in_range = terrain.visibility_matrix(sites, targets, 5.0, 2.0, args.range_m,
                                                 step_m=1e9, earth_curvature=False)
            pairs_s = time.perf_counter() - start
            print(f"{name:6s} {elapsed:6.2f} s  pairs in range {in_range.nnz:>9,}  visible "
                  f"{vis.nnz:>9,} ({vis.nnz / max(in_range.nnz, 1):5.1%})  "
                  f"{in_range.nnz / elapsed:>9,.0f} pairs/s  (of which range, distances and ends {pairs_s:.2f} s)")


if __name__ == "__main__":
    main()
