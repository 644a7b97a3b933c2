"""Benchmark the Levenberg–Marquardt locator on problems the size fusion gives it.

About 2,000 problems: 20–40 sensors in two rows 8 km apart, a source within 20 km of one of
them, arrival times with 20 ms noise on most sensors, bearings (2°) on about half of them,
now and then a range or a position fix, a third of the problems with a known wind, and a
start some hundred metres off the source (fusion starts from a coarse search). Each function
runs on every problem through the implementation before the speed-up (frozen below, so the
comparison stays reproducible) and through :mod:`linewatch.fusion.estimation`; the script prints
calls per second of each and their ratio, then the largest differences between the two, and
exits non-zero if they disagree beyond round-off.

    .venv/bin/python bench/bench_estimation.py [--n 2000] [--seed 1] [--repeat 5]

Run on one core: the script pins BLAS/OpenMP threads to 1 before importing numpy.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from linewatch.fusion import Measurements  # noqa: E402
from linewatch.fusion import estimation as estimation  # noqa: E402

C_M_S = 343.0
TOA_SD_S = 0.02
BEARING_SD_RAD = np.radians(2.0)
FIX_SD_M = 50.0
RANGE_SD = 0.05          # of the range
TOL_M = 1e-2             # gauss_newton's stopping step

# What the two implementations must agree to. Their arithmetic differs by round-off only, but
# near the minimum the cost carries round-off of ~1e-9 (an origin time of ~1e4 s is good to
# ~1e-12 s, against 20 ms), and Levenberg-Marquardt accepts or rejects its last, tiny steps on
# cost differences that small: where the minimum is flat the two can stop millimetres apart,
# well inside the locator's own stopping step, with costs equal to round-off.
LIMITS = {
    "x_m": TOL_M,
    "y_m": TOL_M,
    "t0_s": TOL_M / C_M_S,
    "estimate_sd": 1e-3,      # the estimates' difference in standard errors (Fisher information)
    "cost": 1e-9,             # the sum of squared whitened residuals at the estimates, relative
    "fisher": 1e-9,           # the Fisher information at the estimates, relative to its largest entry
    "fisher_at_start": 1e-9,  # fisher_information at the start, likewise
    "residuals": 1e-9,        # residuals at the start, whitened
    "chi2": 1e-9,             # per_detection_chi2 at the estimate, relative (to at least 1)
}


# -- the implementation before the speed-up (linewatch.fusion.estimation at eb3bf42), kept once, in the
# test that checks the two agree
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_estimation_fast import (  # noqa: E402
    ref_fisher_information,
    ref_gauss_newton,
    ref_per_detection_chi2,
    ref_residuals,
    ref_travel_time,
)

# -- problems ---------------------------------------------------------------------------------

def problem(rng: np.random.Generator):
    """One located-event problem: the start ``(x, y, t0)``, its measurements and the wind."""
    n_sensors = int(rng.integers(20, 41))
    row_len_m = 2500.0 * (n_sensors // 2)
    sx = rng.uniform(0.0, row_len_m, n_sensors)
    sy = np.where(np.arange(n_sensors) % 2 == 0, -4000.0, 4000.0)
    near = int(rng.integers(n_sensors))
    radius_m, angle = 20_000.0 * np.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
    x, y = sx[near] + radius_m * np.sin(angle), sy[near] + radius_m * np.cos(angle)
    t0 = rng.uniform(0.0, 86_400.0)
    wind = (float(rng.normal(0, 5)), float(rng.normal(0, 5))) if rng.uniform() < 1 / 3 else (0.0, 0.0)
    dx, dy = x - sx, y - sy
    r = np.hypot(dx, dy)
    nan = np.full(n_sensors, np.nan)

    heard = rng.uniform(size=n_sensors) < 0.9
    time_s = np.where(heard, t0 + ref_travel_time(dx, dy, C_M_S, wind)
                      + rng.normal(0, TOA_SD_S, n_sensors), np.nan)
    toa_sd_s = np.where(heard, TOA_SD_S, np.nan)
    pointed = rng.uniform(size=n_sensors) < 0.5
    bearing = np.mod(np.arctan2(dx, dy) + rng.normal(0, BEARING_SD_RAD, n_sensors), 2 * np.pi)
    bearing_rad = np.where(pointed, bearing, np.nan)
    bearing_sd_rad = np.where(pointed, BEARING_SD_RAD, np.nan)
    range_m, range_sd_m = nan.copy(), nan.copy()
    if rng.uniform() < 0.1:
        i = int(rng.integers(n_sensors))
        range_sd_m[i] = RANGE_SD * r[i]
        range_m[i] = r[i] + rng.normal(0, range_sd_m[i])
    fix_x, fix_y, fix_sd_m = nan.copy(), nan.copy(), nan.copy()
    if rng.uniform() < 0.1:
        i = int(rng.integers(n_sensors))
        fix_x[i], fix_y[i] = x + rng.normal(0, FIX_SD_M, 2)
        fix_sd_m[i] = FIX_SD_M
    m = Measurements(sx, sy, time_s, toa_sd_s, bearing_rad, bearing_sd_rad, range_m, range_sd_m,
                     fix_x, fix_y, fix_sd_m)
    start = (x + rng.normal(0, 300.0), y + rng.normal(0, 300.0), t0 + rng.normal(0, 0.5))
    return start, m, wind


# -- timing and agreement ---------------------------------------------------------------------

def calls_per_s(calls, problems, repeat: int) -> list[float]:
    """Calls per second of each of ``calls`` over all problems: the best of ``repeat`` runs,
    the runs of the calls interleaved so that a busy machine slows them alike."""
    best = [np.inf] * len(calls)
    for _ in range(repeat):
        for i, call in enumerate(calls):
            start = time.perf_counter()
            for args in problems:
                call(*args)
            best[i] = min(best[i], time.perf_counter() - start)
    return [len(problems) / t for t in best]


def worst_differences(problems) -> dict[str, float]:
    """The largest differences between the two implementations over the problems (see
    :data:`LIMITS`)."""
    worst = dict.fromkeys(LIMITS, 0.0)

    def note(key, value):
        worst[key] = max(worst[key], float(value))

    for (x, y, t0), m, wind in problems:
        before = ref_gauss_newton(x, y, t0, m, C_M_S, wind=wind)
        after = estimation.gauss_newton(x, y, t0, m, C_M_S, wind=wind)
        diff = np.subtract(after[:3], before[:3])
        note("x_m", abs(diff[0]))
        note("y_m", abs(diff[1]))
        note("t0_s", abs(diff[2]))
        note("estimate_sd", np.sqrt(diff @ before[3] @ diff))
        costs = [np.sum(ref_residuals(*fit[:3], m, C_M_S, wind) ** 2) for fit in (before, after)]
        note("cost", abs(costs[1] - costs[0]) / costs[0])
        note("fisher", np.abs(after[3] - before[3]).max() / np.abs(before[3]).max())
        f_before = ref_fisher_information(x, y, m, C_M_S)
        note("fisher_at_start", np.abs(estimation.fisher_information(x, y, m, C_M_S) - f_before).max()
             / np.abs(f_before).max())
        note("residuals", np.abs(estimation.residuals(x, y, t0, m, C_M_S, wind)
                                 - ref_residuals(x, y, t0, m, C_M_S, wind)).max())
        chi2 = ref_per_detection_chi2(*before[:3], m, C_M_S, wind)
        note("chi2", np.max(np.abs(estimation.per_detection_chi2(*before[:3], m, C_M_S, wind) - chi2)
                            / np.maximum(chi2, 1.0)))
    return worst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="problems")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5, help="timed runs; the best counts")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    problems = [problem(rng) for _ in range(args.n)]
    n_rows = [len(estimation.residuals(*start, m, C_M_S, wind)) for start, m, wind in problems]
    print(f"{args.n} problems, {min(n_rows)}–{max(n_rows)} measurements (median {np.median(n_rows):.0f}); "
          f"numpy {np.__version__}, Python {platform.python_version()}, {platform.machine()}")

    calls = {
        "gauss_newton": (
            lambda start, m, wind: ref_gauss_newton(*start, m, C_M_S, wind=wind),
            lambda start, m, wind: estimation.gauss_newton(*start, m, C_M_S, wind=wind)),
        "residuals": (
            lambda start, m, wind: ref_residuals(*start, m, C_M_S, wind),
            lambda start, m, wind: estimation.residuals(*start, m, C_M_S, wind)),
        "per_detection_chi2": (
            lambda start, m, wind: ref_per_detection_chi2(*start, m, C_M_S, wind),
            lambda start, m, wind: estimation.per_detection_chi2(*start, m, C_M_S, wind)),
        "fisher_information": (
            lambda start, m, wind: ref_fisher_information(*start[:2], m, C_M_S),
            lambda start, m, wind: estimation.fisher_information(*start[:2], m, C_M_S)),
    }
    print(f"{'calls/s':<20} {'before':>10} {'after':>10} {'ratio':>7}")
    for name, (before, after) in calls.items():
        b, a = calls_per_s([before, after], problems, args.repeat)
        print(f"{name:<20} {b:>10,.0f} {a:>10,.0f} {a / b:>6.1f}×")

    worst = worst_differences(problems)
    print(f"\n{'largest difference':<20} {'':>10} {'limit':>10}")
    for key, value in worst.items():
        print(f"{key:<20} {value:>10.2g} {LIMITS[key]:>10.2g}")
    bad = [key for key, value in worst.items() if not value <= LIMITS[key]]
    if bad:
        print(f"DISAGREE: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
