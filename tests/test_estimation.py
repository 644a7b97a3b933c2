"""Estimators against closed forms: the Cramér-Rao bound and Chan-Ho on noise-free data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from linewatch.fusion import Measurements, chan_ho, crlb_position, gauss_newton
from linewatch.model import sound_speed_m_s

C = 343.0


def toa_layout(sd=0.02):
    # fusion.md §2.3: 14 microphones in two rows at y = ±4 km, x = 0..15 km every 2.5 km
    xs = np.tile(np.arange(0, 15001, 2500.0), 2)
    ys = np.repeat([-4000.0, 4000.0], 7)
    n = len(xs)
    nan = np.full(n, np.nan)
    return Measurements(xs, ys, np.zeros(n), np.full(n, sd), nan, nan, nan, nan, nan, nan, nan)


@pytest.mark.parametrize("source, sqrt_trace, axes", [
    ((7500, 0), 3.7, (2.7, 2.5)),           # inside the array
    ((7500, 10000), 15.2, (14.7, 3.9)),     # 10 km off the line: 15 m (15 x 4)
    ((7500, 20000), 60.5, (60.0, 7.4)),     # 20 km off: 60 m (60 x 7)
    ((30000, 10000), 139.6, (139.2, 10.7)),  # beyond the end of the array: 140 m (139 x 11)
])
def test_toa_bound_matches_the_worked_figures(source, sqrt_trace, axes):
    cov = crlb_position(*source, toa_layout(), C)
    assert np.sqrt(np.trace(cov)) == pytest.approx(sqrt_trace, abs=0.1)
    assert np.sqrt(np.linalg.eigvalsh(cov))[::-1] == pytest.approx(axes, abs=0.1)


def test_symmetric_layout_has_the_closed_form_bound():
    # n sensors evenly on a circle around the source: sum (u - mean u)(u - mean u)^T = n/2 I,
    # so C = c^2 sigma^2 (2/n) I
    n, radius, sd = 12, 5000.0, 0.01
    a = 2 * np.pi * np.arange(n) / n
    nan = np.full(n, np.nan)
    m = Measurements(radius * np.cos(a), radius * np.sin(a), np.zeros(n), np.full(n, sd),
                     nan, nan, nan, nan, nan, nan, nan)
    cov = crlb_position(0.0, 0.0, m, C)
    np.testing.assert_allclose(cov, (C * sd) ** 2 * 2 / n * np.eye(2), rtol=1e-9, atol=1e-12)


def test_two_observers_bearing_bound():
    # 2 observers 5 km apart, target at 10 km, sigma 2 degrees: 1,081 m (1,049 x 262)
    ox, oy = np.array([-2500.0, 2500.0]), np.zeros(2)
    nan = np.full(2, np.nan)
    b = np.arctan2(0 - ox, 10000 - oy)
    m = Measurements(ox, oy, nan, nan, b, np.full(2, np.radians(2)), nan, nan, nan, nan, nan)
    cov = crlb_position(0.0, 10000.0, m, C)
    assert np.sqrt(np.trace(cov)) == pytest.approx(1081, abs=1)
    assert np.sqrt(np.linalg.eigvalsh(cov))[::-1] == pytest.approx((1049, 262), abs=1)


@settings(max_examples=50, deadline=None)
@given(st.floats(-20000, 35000), st.floats(-20000, 20000), st.floats(0, 1e6),
       st.floats(-20.0, 40.0))
@example(0.0, 4000.0, 0.0, 0.0)  # on top of a sensor: a zero range, stage 2 degenerates
def test_chan_ho_is_exact_on_noise_free_data(x, y, t0, temp_c):
    m = toa_layout()
    c = float(sound_speed_m_s(temp_c))
    t = t0 + np.hypot(x - m.sensor_x, y - m.sensor_y) / c
    ex, ey, et = chan_ho(m.sensor_x, m.sensor_y, t, c)
    assert (ex, ey) == pytest.approx((x, y), abs=1e-3)
    assert et == pytest.approx(t0, abs=1e-3 / c)  # the same millimetre, as travel time


def test_maximum_likelihood_reaches_the_bound_on_noisy_data():
    m = toa_layout()
    rng = np.random.default_rng(0)
    src = np.array([7500.0, 10000.0])
    cov = crlb_position(*src, m, C)
    nees = []
    for _ in range(300):
        t = np.hypot(src[0] - m.sensor_x, src[1] - m.sensor_y) / C + rng.normal(0, 0.02, len(m))
        noisy = Measurements(m.sensor_x, m.sensor_y, t, m.toa_sd_s, *(getattr(m, f) for f in
                             ("bearing_rad", "bearing_sd_rad", "range_m", "range_sd_m", "fix_x", "fix_y", "fix_sd_m")))
        x0, y0, t00 = chan_ho(m.sensor_x, m.sensor_y, t, C, m.toa_sd_s)
        x, y, _, _ = gauss_newton(x0, y0, t00, noisy, C)
        e = np.array([x, y]) - src
        nees.append(e @ np.linalg.solve(cov, e))
    rho = np.sqrt(np.mean(nees) / 2)  # E[e^T C^-1 e] = 2 for an efficient estimator
    assert 0.85 < rho < 1.15
    assert 0.92 < np.mean(np.array(nees) <= 5.991) < 0.98  # the 95 % ellipse covers 95 %
