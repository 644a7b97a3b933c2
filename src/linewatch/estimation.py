"""Measurement models, Fisher information and the Cramér–Rao bound for a 2-D source.

A source at ``(x, y)`` (metres, local frame: x east, y north) emits at time ``t0``. Each
detection measures some of: the arrival time ``t = t0 + r / c`` (TOA, the unknown ``t0``
kept as a nuisance parameter), the bearing from the sensor (clockwise from north), the range,
or the source position itself (a camera or UAV fix). Independent measurements' Fisher
information adds (fusion.md §2.3), so one function serves every sensor mix; the bound on the
position is the top-left 2×2 block of the inverse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Measurements:
    """Per-detection measurement columns for one source (NaN where a detection lacks one).

    ``toa_sd_s`` is the standard deviation of the arrival time as a measurement of the
    propagation: pick noise, clock noise and the per-path celerity jitter together.
    """

    sensor_x: np.ndarray
    sensor_y: np.ndarray
    time_s: np.ndarray
    toa_sd_s: np.ndarray
    bearing_rad: np.ndarray
    bearing_sd_rad: np.ndarray
    range_m: np.ndarray
    range_sd_m: np.ndarray
    fix_x: np.ndarray
    fix_y: np.ndarray
    fix_sd_m: np.ndarray

    def __len__(self) -> int:
        return len(self.sensor_x)

    def take(self, idx) -> Measurements:
        return Measurements(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))


def toa_sd(pick_sd_s, clock_sd_s, range_m, c_m_s: float, celerity_jitter: float) -> np.ndarray:
    """Arrival-time noise: pick and clock noise plus ``celerity_jitter`` (e.g. 0.002) of the
    travel time, as a per-path error in the speed of sound."""
    return np.sqrt(np.asarray(pick_sd_s) ** 2 + np.asarray(clock_sd_s) ** 2
                   + (celerity_jitter * np.asarray(range_m) / c_m_s) ** 2)


def jacobian_rows(x: float, y: float, m: Measurements, c_m_s: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Whitened Jacobian rows (n_rows, 3) over ``(x, y, t0)`` and their kind codes
    (0 TOA, 1 bearing, 2 range, 3 fix x, 4 fix y), for the measurements present."""
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


def fisher_information(x: float, y: float, m: Measurements, c_m_s: float) -> np.ndarray:
    """The 3×3 Fisher information over ``(x, y, t0)``."""
    j, _ = jacobian_rows(x, y, m, c_m_s)
    return j.T @ j


def position_covariance(fisher: np.ndarray) -> np.ndarray:
    """The 2×2 bound on the position; ``t0`` is dropped when no arrival time informs it."""
    if fisher[2, 2] <= 0:
        return np.linalg.pinv(fisher[:2, :2])
    return np.linalg.pinv(fisher)[:2, :2]


def crlb_position(x: float, y: float, m: Measurements, c_m_s: float) -> np.ndarray:
    """The Cramér–Rao bound on the position of a source at ``(x, y)``, in m²."""
    return position_covariance(fisher_information(x, y, m, c_m_s))


def travel_time(dx: np.ndarray, dy: np.ndarray, c_m_s: float,
                wind: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Sound's travel time from a source at offset ``(dx, dy)`` from each sensor (source minus
    sensor), with a wind ``(east, north)`` m/s adding its component along the path."""
    r = np.hypot(dx, dy)
    if wind == (0.0, 0.0):
        return r / c_m_s
    with np.errstate(invalid="ignore", divide="ignore"):
        along = np.where(r > 0, -(dx * wind[0] + dy * wind[1]) / r, 0.0)  # source -> sensor
    return r / (c_m_s + along)


def residuals(x: float, y: float, t0: float, m: Measurements, c_m_s: float,
              wind: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Whitened residuals (measured − predicted) / sd, in the order of :func:`jacobian_rows`."""
    dx, dy = x - m.sensor_x, y - m.sensor_y
    r = np.hypot(dx, dy)
    out = []
    has = np.isfinite(m.time_s) & np.isfinite(m.toa_sd_s) & (m.toa_sd_s > 0)
    out.append((m.time_s[has] - (t0 + travel_time(dx[has], dy[has], c_m_s, wind))) / m.toa_sd_s[has])
    has = np.isfinite(m.bearing_rad) & (m.bearing_sd_rad > 0)
    pred = np.arctan2(dx[has], dy[has])
    out.append(np.angle(np.exp(1j * (m.bearing_rad[has] - pred))) / m.bearing_sd_rad[has])
    has = np.isfinite(m.range_m) & (m.range_sd_m > 0)
    out.append((m.range_m[has] - r[has]) / m.range_sd_m[has])
    has = np.isfinite(m.fix_x) & (m.fix_sd_m > 0)
    out.append((m.fix_x[has] - x) / m.fix_sd_m[has])
    out.append((m.fix_y[has] - y) / m.fix_sd_m[has])
    return np.concatenate(out)


def per_detection_chi2(x: float, y: float, t0: float, m: Measurements, c_m_s: float,
                       wind: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Each detection's squared whitened residual, summed over its measurements."""
    dx, dy = x - m.sensor_x, y - m.sensor_y
    r = np.hypot(dx, dy)
    chi2 = np.zeros(len(m))
    with np.errstate(invalid="ignore"):
        toa = (m.time_s - (t0 + travel_time(dx, dy, c_m_s, wind))) / m.toa_sd_s
        chi2 += np.where(np.isfinite(toa), toa ** 2, 0.0)
        b = np.angle(np.exp(1j * (m.bearing_rad - np.arctan2(dx, dy)))) / m.bearing_sd_rad
        chi2 += np.where(np.isfinite(b), b ** 2, 0.0)
        rg = (m.range_m - r) / m.range_sd_m
        chi2 += np.where(np.isfinite(rg), rg ** 2, 0.0)
        f = ((m.fix_x - x) ** 2 + (m.fix_y - y) ** 2) / m.fix_sd_m ** 2
        chi2 += np.where(np.isfinite(f), f, 0.0)
    return chi2


def gauss_newton(x: float, y: float, t0: float, m: Measurements, c_m_s: float, *,
                 iterations: int = 20, tol_m: float = 1e-2,
                 wind: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float, float, np.ndarray]:
    """Maximum-likelihood refinement by Levenberg–Marquardt from ``(x, y, t0)``, for a known
    wind; returns the estimate and the 3×3 Fisher information at it."""
    lam = 1e-3
    cost = float(np.sum(residuals(x, y, t0, m, c_m_s, wind) ** 2))
    for _ in range(iterations):
        j, _ = jacobian_rows(x, y, m, c_m_s)
        res = residuals(x, y, t0, m, c_m_s, wind)
        a = j.T @ j
        g = j.T @ res
        try:
            step = np.linalg.solve(a + lam * np.diag(np.diag(a) + 1e-12), g)
        except np.linalg.LinAlgError:
            break
        nx, ny, nt = x + step[0], y + step[1], t0 + step[2]
        new_cost = float(np.sum(residuals(nx, ny, nt, m, c_m_s, wind) ** 2))
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
    return x, y, t0, fisher_information(x, y, m, c_m_s)


def chan_ho(sensor_x: np.ndarray, sensor_y: np.ndarray, time_s: np.ndarray, c_m_s: float,
            time_sd_s: np.ndarray | None = None) -> tuple[float, float, float]:
    """Chan & Ho (1994) closed-form two-stage weighted least squares for TDOA in 2-D.

    Returns ``(x, y, t0)``. Exact on noise-free data with four or more sensors; attains the
    bound at small noise. The first sensor is the reference.
    """
    sx, sy, t = (np.asarray(v, dtype=float) for v in (sensor_x, sensor_y, time_s))
    if len(sx) < 4:
        raise ValueError(f"Chan-Ho needs at least 4 sensors in 2-D, got {len(sx)}")
    sd = np.ones(len(sx)) if time_sd_s is None else np.asarray(time_sd_s, dtype=float)
    x1, y1 = sx[0], sy[0]
    r = c_m_s * (t[1:] - t[0])                       # range differences to the reference
    k = sx * sx + sy * sy
    g = -np.column_stack([sx[1:] - x1, sy[1:] - y1, r])
    h = 0.5 * (r * r - k[1:] + k[0])
    q = np.diag((c_m_s * sd[1:]) ** 2) + (c_m_s * sd[0]) ** 2  # TDOA covariance (shared ref)
    # stage 1: z = [x, y, R1] with the noise weighted by the ranges of a first, plain solve
    z = np.linalg.lstsq(g, h, rcond=None)[0]
    for _ in range(2):
        ranges = np.hypot(z[0] - sx[1:], z[1] - sy[1:])
        b = np.diag(np.maximum(ranges, 1.0))
        w = np.linalg.pinv(b @ q @ b)
        z = np.linalg.solve(g.T @ w @ g, g.T @ w @ h)
    # stage 2: use R1^2 = (x - x1)^2 + (y - y1)^2
    cov_z = np.linalg.pinv(g.T @ w @ g)
    b2 = np.diag([z[0] - x1, z[1] - y1, z[2]])
    w2 = np.linalg.pinv(b2 @ cov_z @ b2 + np.eye(3) * 1e-12)
    g2 = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    h2 = np.array([(z[0] - x1) ** 2, (z[1] - y1) ** 2, z[2] ** 2])
    sq = np.linalg.solve(g2.T @ w2 @ g2, g2.T @ w2 @ h2)
    x2 = x1 + np.sign(z[0] - x1) * np.sqrt(max(sq[0], 0.0))
    y2 = y1 + np.sign(z[1] - y1) * np.sqrt(max(sq[1], 0.0))

    def fit(x, y):  # t0 profiled out; the weighted misfit of the arrival times
        t0 = t - np.hypot(x - sx, y - sy) / c_m_s
        mean = np.average(t0, weights=1 / sd ** 2)
        return float(np.sum(((t0 - mean) / sd) ** 2)), float(mean)

    # stage 2 degenerates when the source lines up with the reference sensor on an axis:
    # keep whichever stage fits the arrival times better
    (cost1, t01), (cost2, t02) = fit(z[0], z[1]), fit(x2, y2)
    if cost1 < cost2:
        return float(z[0]), float(z[1]), t01
    return float(x2), float(y2), t02


def estimate_wind(events: list[tuple[float, float, float, Measurements]], c_m_s: float,
                  wind: tuple[float, float] = (0.0, 0.0)) -> tuple[tuple[float, float], np.ndarray]:
    """A wind increment common to located events, by weighted least squares on their arrival
    times: a residual is ``a_i - (r / c²) (n · w)`` with ``n`` the unit vector from source to
    sensor and ``a_i`` each event's origin-time error, removed by centring within each event.
    Returns the new wind ``(east, north)`` m/s and its 2×2 covariance."""
    xs, ys, ws = [], [], []
    for x, y, t0, m in events:
        has = np.isfinite(m.time_s) & (m.toa_sd_s > 0)
        if has.sum() < 4:
            continue
        dx, dy = m.sensor_x[has] - x, m.sensor_y[has] - y
        r = np.hypot(dx, dy)
        res = m.time_s[has] - t0 - travel_time(-dx, -dy, c_m_s, wind)
        reg = -(r / c_m_s ** 2)[:, None] * np.column_stack([dx / r, dy / r])
        w = 1.0 / m.toa_sd_s[has] ** 2
        res = res - np.average(res, weights=w)
        reg = reg - np.average(reg, axis=0, weights=w)
        xs.append(reg)
        ys.append(res)
        ws.append(w)
    if not xs:
        return wind, np.full((2, 2), np.inf)
    a, b, w = np.vstack(xs), np.concatenate(ys), np.concatenate(ws)
    info = a.T @ (a * w[:, None])
    cov = np.linalg.pinv(info)
    dw = cov @ (a.T @ (b * w))
    return (wind[0] + float(dw[0]), wind[1] + float(dw[1])), cov
