"""The fast locator against the straightforward implementation it replaced.

The reference below is :mod:`linewatch.fusion.estimation` as it was before the speed-up (eb3bf42).
Both compute the same things with arithmetic that differs by round-off; near a flat minimum
Levenberg–Marquardt accepts or rejects its last, tiny steps on cost differences of that size,
so the two estimates may stop a hair apart (in standard errors) with the same cost.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from linewatch.fusion import (
    Measurements,
    fisher_information,
    gauss_newton,
    jacobian_rows,
    per_detection_chi2,
    residuals,
    travel_time,
)

C = 343.0


# -- the reference: the implementation before the speed-up -----------------------------------

def ref_jacobian_rows(x, y, m, c_m_s):
    dx, dy = x - m.sensor_x, y - m.sensor_y
    r = np.maximum(np.hypot(dx, dy), 1e-3)
    rows, kinds = [], []
    has = np.isfinite(m.time_s) & np.isfinite(m.toa_sd_s) & (m.toa_sd_s > 0)
    if has.any():
        sd = m.toa_sd_s[has]
        rows.append(np.column_stack([dx[has] / (r[has] * c_m_s) / sd, dy[has] / (r[has] * c_m_s) / sd,
                                     1.0 / sd]))
        kinds.append(np.zeros(has.sum(), int))
    has = np.isfinite(m.bearing_rad) & (m.bearing_sd_rad > 0)
    if has.any():
        sd, rr = m.bearing_sd_rad[has], r[has] ** 2
        rows.append(np.column_stack([dy[has] / rr / sd, -dx[has] / rr / sd, np.zeros(has.sum())]))
        kinds.append(np.ones(has.sum(), int))
    has = np.isfinite(m.range_m) & (m.range_sd_m > 0)
    if has.any():
        sd = m.range_sd_m[has]
        rows.append(np.column_stack([dx[has] / r[has] / sd, dy[has] / r[has] / sd, np.zeros(has.sum())]))
        kinds.append(np.full(has.sum(), 2))
    has = np.isfinite(m.fix_x) & (m.fix_sd_m > 0)
    if has.any():
        sd = m.fix_sd_m[has]
        z = np.zeros(has.sum())
        rows.append(np.column_stack([1.0 / sd, z, z]))
        rows.append(np.column_stack([z, 1.0 / sd, z]))
        kinds += [np.full(has.sum(), 3), np.full(has.sum(), 4)]
    if not rows:
        return np.zeros((0, 3)), np.zeros(0, int)
    return np.vstack(rows), np.concatenate(kinds)


def ref_fisher_information(x, y, m, c_m_s):
    j, _ = ref_jacobian_rows(x, y, m, c_m_s)
    return j.T @ j


def ref_travel_time(dx, dy, c_m_s, wind=(0.0, 0.0)):
    r = np.hypot(dx, dy)
    if wind == (0.0, 0.0):
        return r / c_m_s
    with np.errstate(invalid="ignore", divide="ignore"):
        along = np.where(r > 0, -(dx * wind[0] + dy * wind[1]) / r, 0.0)
    return r / (c_m_s + along)


def ref_residuals(x, y, t0, m, c_m_s, wind=(0.0, 0.0)):
    dx, dy = x - m.sensor_x, y - m.sensor_y
    r = np.hypot(dx, dy)
    out = []
    has = np.isfinite(m.time_s) & np.isfinite(m.toa_sd_s) & (m.toa_sd_s > 0)
    out.append((m.time_s[has] - (t0 + ref_travel_time(dx[has], dy[has], c_m_s, wind))) / m.toa_sd_s[has])
    has = np.isfinite(m.bearing_rad) & (m.bearing_sd_rad > 0)
    pred = np.arctan2(dx[has], dy[has])
    out.append(np.angle(np.exp(1j * (m.bearing_rad[has] - pred))) / m.bearing_sd_rad[has])
    has = np.isfinite(m.range_m) & (m.range_sd_m > 0)
    out.append((m.range_m[has] - r[has]) / m.range_sd_m[has])
    has = np.isfinite(m.fix_x) & (m.fix_sd_m > 0)
    out.append((m.fix_x[has] - x) / m.fix_sd_m[has])
    out.append((m.fix_y[has] - y) / m.fix_sd_m[has])
    return np.concatenate(out)


def ref_per_detection_chi2(x, y, t0, m, c_m_s, wind=(0.0, 0.0)):
    dx, dy = x - m.sensor_x, y - m.sensor_y
    r = np.hypot(dx, dy)
    chi2 = np.zeros(len(m))
    with np.errstate(invalid="ignore"):
        toa = (m.time_s - (t0 + ref_travel_time(dx, dy, c_m_s, wind))) / m.toa_sd_s
        chi2 += np.where(np.isfinite(toa), toa ** 2, 0.0)
        b = np.angle(np.exp(1j * (m.bearing_rad - np.arctan2(dx, dy)))) / m.bearing_sd_rad
        chi2 += np.where(np.isfinite(b), b ** 2, 0.0)
        rg = (m.range_m - r) / m.range_sd_m
        chi2 += np.where(np.isfinite(rg), rg ** 2, 0.0)
        f = ((m.fix_x - x) ** 2 + (m.fix_y - y) ** 2) / m.fix_sd_m ** 2
        chi2 += np.where(np.isfinite(f), f, 0.0)
    return chi2


def ref_gauss_newton(x, y, t0, m, c_m_s, *, iterations=20, tol_m=1e-2, wind=(0.0, 0.0)):
    lam = 1e-3
    cost = float(np.sum(ref_residuals(x, y, t0, m, c_m_s, wind) ** 2))
    for _ in range(iterations):
        j, _ = ref_jacobian_rows(x, y, m, c_m_s)
        res = ref_residuals(x, y, t0, m, c_m_s, wind)
        a = j.T @ j
        g = j.T @ res
        try:
            step = np.linalg.solve(a + lam * np.diag(np.diag(a) + 1e-12), g)
        except np.linalg.LinAlgError:
            break
        nx, ny, nt = x + step[0], y + step[1], t0 + step[2]
        new_cost = float(np.sum(ref_residuals(nx, ny, nt, m, c_m_s, wind) ** 2))
        if new_cost <= cost:
            converged = np.hypot(step[0], step[1]) < tol_m or cost - new_cost <= 1e-9 * cost
            x, y, t0, cost = nx, ny, nt, new_cost
            lam = max(lam / 10, 1e-9)
            if converged:
                break
        else:
            lam *= 10
            if lam > 1e6:
                break
    return x, y, t0, ref_fisher_information(x, y, m, c_m_s)


# -- agreement --------------------------------------------------------------------------------

def assert_same_residuals(x, y, t0, m, wind):
    fast, ref = residuals(x, y, t0, m, C, wind), ref_residuals(x, y, t0, m, C, wind)
    assert fast.shape == ref.shape
    diff = fast - ref
    # a bearing half a turn off may come out as +π or −π: the same angle
    bearing = np.flatnonzero(ref_jacobian_rows(x, y, m, C)[1] == 1)
    sd = m.bearing_sd_rad[np.isfinite(m.bearing_rad) & (m.bearing_sd_rad > 0)]
    bearing, sd = bearing[np.isfinite(sd)], sd[np.isfinite(sd)]
    diff[bearing] = np.angle(np.exp(1j * diff[bearing] * sd)) / sd
    np.testing.assert_allclose(diff, 0.0, atol=1e-9)


def assert_same_fisher(fast, ref):
    np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-9 * max(np.abs(ref).max(), 1e-300))


def assert_same_estimate(x, y, t0, m, wind):
    fast = gauss_newton(x, y, t0, m, C, wind=wind)
    ref = ref_gauss_newton(x, y, t0, m, C, wind=wind)
    diff = np.subtract(fast[:3], ref[:3])
    assert np.sqrt(diff @ ref[3] @ diff) <= 1e-3  # in standard errors
    cost_fast, cost_ref = (float(np.sum(ref_residuals(*e[:3], m, C, wind) ** 2)) for e in (fast, ref))
    # the cost's round-off is absolute (~1e-9: an origin time of ~1e4 s against 20 ms picks),
    # so a near-zero cost of a three-sensor fit cannot agree to 1e-9 relative
    assert cost_fast == pytest.approx(cost_ref, rel=1e-9, abs=1e-8)
    assert_same_fisher(fast[3], ref_fisher_information(*fast[:2], m, C))
    return fast


def assert_agree(x, y, t0, m, wind=(0.0, 0.0)):
    """Every function at the start, then the estimates and every function at the estimate."""
    for at in (x, y, t0), assert_same_estimate(x, y, t0, m, wind)[:3]:
        assert_same_residuals(*at, m, wind)
        assert_same_fisher(fisher_information(*at[:2], m, C), ref_fisher_information(*at[:2], m, C))
        j, kinds = jacobian_rows(*at[:2], m, C)
        ref_j, ref_kinds = ref_jacobian_rows(*at[:2], m, C)
        np.testing.assert_array_equal(kinds, ref_kinds)
        np.testing.assert_allclose(j, ref_j, rtol=1e-12, atol=1e-300)
        ref_chi2 = ref_per_detection_chi2(*at, m, C, wind)
        np.testing.assert_allclose(per_detection_chi2(*at, m, C, wind), ref_chi2, rtol=1e-9, atol=1e-12)


# -- problems ---------------------------------------------------------------------------------

def measurements(sx, sy, **columns) -> Measurements:
    nan = np.full(len(sx), np.nan)
    fields = ["time_s", "toa_sd_s", "bearing_rad", "bearing_sd_rad", "range_m", "range_sd_m",
              "fix_x", "fix_y", "fix_sd_m"]
    return Measurements(np.asarray(sx, float), np.asarray(sy, float),
                        *(np.asarray(columns.get(f, nan), float) for f in fields))


@st.composite
def problems(draw):
    """A source among 3–30 sensors with some arrival times, bearings, ranges and fixes (each
    kind may be missing), a wind or none, and a start some way off; well posed."""
    n = draw(st.integers(3, 30))
    p_toa, p_bearing = draw(st.sampled_from([0.0, 0.5, 1.0])), draw(st.sampled_from([0.0, 0.5, 1.0]))
    n_range, n_fix = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    wind = draw(st.sampled_from([(0.0, 0.0), (6.0, -3.0), (-12.0, 0.5)]))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    sx, sy = rng.uniform(-20_000, 20_000, n), rng.uniform(-10_000, 10_000, n)
    x, y, t0 = rng.uniform(-25_000, 25_000), rng.uniform(-25_000, 25_000), rng.uniform(0, 1e5)
    dx, dy = x - sx, y - sy
    r = np.hypot(dx, dy)
    nan = np.full(n, np.nan)
    toa = rng.uniform(size=n) < p_toa
    bearing = rng.uniform(size=n) < p_bearing
    ranged, fixed = np.arange(n) < n_range, np.arange(n) >= n - n_fix
    sd_s, sd_rad = rng.uniform(0.005, 0.05, n), np.radians(rng.uniform(0.5, 5, n))
    range_sd, fix_sd = 0.05 * r + 10, rng.uniform(10, 200, n)
    m = measurements(
        sx, sy,
        time_s=np.where(toa, t0 + ref_travel_time(dx, dy, C, wind) + rng.normal(0, sd_s), nan),
        toa_sd_s=np.where(toa, sd_s, nan),
        bearing_rad=np.where(bearing, np.mod(np.arctan2(dx, dy) + rng.normal(0, sd_rad), 2 * np.pi), nan),
        bearing_sd_rad=np.where(bearing, sd_rad, nan),
        range_m=np.where(ranged, r + rng.normal(0, range_sd), nan),
        range_sd_m=np.where(ranged, range_sd, nan),
        fix_x=np.where(fixed, x + rng.normal(0, fix_sd), nan),
        fix_y=np.where(fixed, y + rng.normal(0, fix_sd), nan),
        fix_sd_m=np.where(fixed, fix_sd, nan))
    # well posed: the position bound at the source is finite and not huge
    fisher = ref_fisher_information(x, y, m, C)
    block = fisher if fisher[2, 2] > 0 else fisher[:2, :2]
    assume(np.linalg.cond(block) < 1e12)
    assume(np.sqrt(np.trace(np.linalg.inv(block)[:2, :2])) < 2_000)
    start = x + rng.normal(0, 300), y + rng.normal(0, 300), t0 + (rng.normal(0, 0.5) if toa.any() else 0.0)
    return start, m, wind


@settings(max_examples=200, deadline=None)
@given(problems())
def test_fast_locator_agrees_with_the_reference(problem):
    (x, y, t0), m, wind = problem
    assert_agree(x, y, t0, m, wind)


# -- edge cases -------------------------------------------------------------------------------

ROW_X = np.arange(0.0, 15_001, 2500)
SX, SY = np.tile(ROW_X, 2), np.repeat([-4000.0, 4000.0], len(ROW_X))


def arrivals(x, y, t0, sx=SX, sy=SY, wind=(0.0, 0.0), seed=0):
    noise = np.random.default_rng(seed).normal(0, 0.02, len(sx))
    return t0 + ref_travel_time(x - sx, y - sy, C, wind) + noise


@pytest.mark.parametrize("wind", [(0.0, 0.0), (8.0, -5.0)])
def test_arrival_times_alone(wind):
    m = measurements(SX, SY, time_s=arrivals(6000, 9000, 500.0, wind=wind), toa_sd_s=np.full(len(SX), 0.02))
    assert_agree(6400.0, 8700.0, 499.7, m, wind)


def test_fixes_alone():
    # no arrival time: t0 stays where it started
    m = measurements([0.0, 1000.0, 2000.0], [0.0, 0.0, 0.0], fix_x=[510.0, 480.0, 530.0],
                     fix_y=[-40.0, 20.0, 10.0], fix_sd_m=[50.0, 50.0, 80.0])
    assert_agree(300.0, 300.0, 42.0, m)
    assert gauss_newton(300.0, 300.0, 42.0, m, C)[2] == 42.0


def test_bearings_alone():
    ox, oy = np.array([-2500.0, 2500.0, 0.0]), np.array([0.0, 0.0, -3000.0])
    b = np.mod(np.arctan2(200 - ox, 10_000 - oy) + np.radians([1.0, -2.0, 0.5]), 2 * np.pi)
    m = measurements(ox, oy, bearing_rad=b, bearing_sd_rad=np.full(3, np.radians(2)))
    assert_agree(-300.0, 9000.0, 0.0, m)


@pytest.mark.parametrize("wind", [(0.0, 0.0), (8.0, -5.0)])
def test_a_sensor_at_the_source(wind):
    # a sensor exactly where the search starts and another at the source: zero-length paths,
    # the bearing from the sensor undefined (arctan2(0, 0) = 0), the Jacobian row clamped
    sx, sy = np.append(SX, [7000.0, 7200.0]), np.append(SY, [1000.0, 1300.0])
    n = len(sx)
    bearing = np.full(n, np.nan)
    bearing[-4:] = np.radians([10.0, 200.0, 45.0, 350.0])
    m = measurements(sx, sy, time_s=arrivals(7200.0, 1300.0, 100.0, sx, sy, wind),
                     toa_sd_s=np.full(n, 0.02), bearing_rad=bearing,
                     bearing_sd_rad=np.where(np.isfinite(bearing), np.radians(2), np.nan))
    assert_agree(7000.0, 1000.0, 100.2, m, wind)
    assert_agree(7200.0, 1300.0, 100.0, m, wind)


def test_unusable_uncertainties():
    # an sd of zero or NaN (for an arrival time, also an infinite one) leaves the measurement
    # out; an infinite sd of a bearing, range or fix keeps a row that weighs nothing
    x, y, n = 6000.0, 9000.0, len(SX)
    toa_sd = np.full(n, 0.02)
    toa_sd[:3] = [0.0, np.inf, np.nan]
    bearing_sd = np.full(n, np.nan)
    bearing_sd[3:8] = np.radians([0.0, np.nan, np.inf, 2.0, 2.0])
    range_sd, fix_sd = np.full(n, np.nan), np.full(n, np.nan)
    range_sd[8:10] = [0.0, np.inf]
    fix_sd[10:13] = [0.0, np.inf, 60.0]
    r = np.hypot(x - SX, y - SY)
    m = measurements(SX, SY, time_s=arrivals(x, y, 250.0), toa_sd_s=toa_sd,
                     bearing_rad=np.arctan2(x - SX, y - SY), bearing_sd_rad=bearing_sd,
                     range_m=r + 30, range_sd_m=range_sd,
                     fix_x=np.full(n, x + 40), fix_y=np.full(n, y - 25), fix_sd_m=fix_sd)
    with np.errstate(divide="ignore"):  # per_detection_chi2 of a zero sd
        assert_agree(x + 500, y - 300, 250.5, m)


def test_nothing_measured():
    m = measurements([0.0, 1000.0], [0.0, 0.0])
    x, y, t0, fisher = gauss_newton(10.0, 20.0, 30.0, m, C)
    assert (x, y, t0) == (10.0, 20.0, 30.0)
    np.testing.assert_array_equal(fisher, np.zeros((3, 3)))
    assert residuals(10.0, 20.0, 30.0, m, C).shape == (0,)
    assert jacobian_rows(10.0, 20.0, m, C)[0].shape == (0, 3)
    np.testing.assert_array_equal(per_detection_chi2(10.0, 20.0, 30.0, m, C), [0.0, 0.0])


@pytest.mark.parametrize("wind", [(0.0, 0.0), (8.0, -5.0)])
def test_travel_time_keeps_its_wind_semantics(wind):
    dx = np.array([0.0, 3000.0, -4000.0, 0.0])
    dy = np.array([0.0, 4000.0, 0.0, -2500.0])
    np.testing.assert_array_equal(travel_time(dx, dy, C, wind), ref_travel_time(dx, dy, C, wind))
    assert travel_time(0.0, 0.0, C, wind) == 0.0
    assert travel_time(300.0, -400.0, C, wind) == ref_travel_time(300.0, -400.0, C, wind)
