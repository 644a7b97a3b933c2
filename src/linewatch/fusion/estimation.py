"""Measurement models, Fisher information and the Cramér–Rao bound for a 2-D source.

A source at ``(x, y)`` (metres, local frame: x east, y north) emits at time ``t0``. Each
detection measures some of: the arrival time ``t = t0 + r / c`` (TOA, the unknown ``t0``
kept as a nuisance parameter), the bearing from the sensor (clockwise from north), the range,
or the source position itself (a camera or UAV fix). Independent measurements' Fisher
information adds (fusion.md §2.3), so one function serves every sensor mix; the bound on the
position is the top-left 2×2 block of the inverse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import accumulate
from typing import overload

import numpy as np
import numpy.typing as npt

__all__ = ["Measurements", "chan_ho", "crlb_position", "estimate_wind", "fisher_information",
           "gauss_newton", "jacobian_rows", "per_detection_chi2", "position_covariance",
           "residuals", "toa_sd", "travel_time"]


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

    def take(self, idx: np.ndarray | slice) -> Measurements:
        return Measurements(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))


def toa_sd(pick_sd_s: npt.ArrayLike, clock_sd_s: npt.ArrayLike, range_m: npt.ArrayLike,
           c_m_s: float, celerity_jitter: float) -> np.ndarray:
    """Arrival-time noise: pick and clock noise plus ``celerity_jitter`` (e.g. 0.002) of the
    travel time, as a per-path error in the speed of sound.

    Example: a 50 ms pick, a perfect clock and a path of 17.15 km at 343 m/s (50 s), whose
    jitter of 0.002 adds 0.1 s:

    >>> round(float(toa_sd(0.05, 0.0, 17_150.0, 343.0, 0.002)), 4)
    0.1118
    """
    sd: np.ndarray = np.sqrt(np.asarray(pick_sd_s) ** 2 + np.asarray(clock_sd_s) ** 2
                             + (celerity_jitter * np.asarray(range_m) / c_m_s) ** 2)
    return sd


_TWO_PI = 2 * np.pi


def _wrap(angle_rad: np.ndarray) -> np.ndarray:
    """Wrap angles into [−π, π] in place, those in it left as they are; returns them."""
    angle_rad -= _TWO_PI * np.rint(angle_rad / _TWO_PI)
    wrapped: np.ndarray = angle_rad
    return wrapped


def _travel_time(dx: np.ndarray, dy: np.ndarray, r: np.ndarray, c_m_s: float,
                 wind: tuple[float, float]) -> np.ndarray:
    """:func:`travel_time` with the path lengths ``r = hypot(dx, dy)`` given."""
    if wind == (0.0, 0.0):
        return r / c_m_s
    # the wind's component along the path, source -> sensor; none on a path of no length
    along: np.ndarray = np.divide(-(dx * wind[0] + dy * wind[1]), r, out=np.zeros_like(r),
                                  where=r > 0)
    return r / (c_m_s + along)


class _Rows:
    """The measurements of one source that are present, as whitened rows in the order of
    :func:`jacobian_rows`: arrival times, bearings and ranges (the rows measured from a
    sensor), then the fixes' x and y.

    The problems are small (tens of rows), so numpy's overhead per call, not arithmetic, sets
    the cost: what does not depend on the source (which rows are present, their whitening, the
    constant entries of the Jacobian) is gathered here once, and each evaluation at a trial
    source is a fixed handful of array operations, written into the rows kept here.
    """

    def __init__(self, m: Measurements, c_m_s: float, wind: tuple[float, float]) -> None:
        values = np.array([m.time_s, m.bearing_rad, m.range_m, m.fix_x, m.fix_y])
        sd = np.array([m.toa_sd_s, m.bearing_sd_rad, m.range_sd_m, m.fix_sd_m, m.fix_sd_m])
        present = np.isfinite(values) & (sd > 0)
        present[0] &= np.isfinite(m.toa_sd_s)
        present[4] = present[3]  # a fix is there by its x
        self.kinds, detection = np.nonzero(present)  # kind by kind: the order of the rows
        self.measured, self.sd = values[present], sd[present]
        counts = np.bincount(self.kinds, minlength=5).tolist()
        ends = list(accumulate(counts))
        self.toa, self.bearing, self.range, self.fix_x, self.fix_y = map(slice, [0, *ends], ends)
        self.has_bearing, self.has_range, self.has_fix = (n > 0 for n in counts[1:4])
        self.c_m_s, self.wind = c_m_s, wind
        from_sensor = detection[:ends[2]]
        self.sensor_x, self.sensor_y = m.sensor_x[from_sensor], m.sensor_y[from_sensor]
        # the Jacobian of a sensor's row over (x, y) is its (dx, dy), a bearing's (dy, -dx),
        # over r c sd (TOA), r² sd (bearing) or r sd (range); this is the part free of r
        self.scale = self.sd[:len(from_sensor)].copy()
        self.scale[self.toa] *= c_m_s
        self.predicted = np.empty(len(self.sd))
        # the Jacobian's columns over (x, y, t0), then the residuals: the normal equations are
        # the product of this with itself
        self.whitened = np.zeros((4, len(self.sd)))
        weight = 1.0 / self.sd
        self.whitened[2, self.toa] = weight[self.toa]
        self.whitened[0, self.fix_x] = weight[self.fix_x]
        self.whitened[1, self.fix_y] = weight[self.fix_y]
        self.at: tuple[float, float] | None = None

    def locate(self, x: float, y: float) -> None:
        """Put the source at ``(x, y)``: its offsets from the sensors and their lengths."""
        if self.at != (x, y):
            self.at = (x, y)
            self.dx, self.dy = x - self.sensor_x, y - self.sensor_y
            self.r = np.hypot(self.dx, self.dy)

    def cost(self, x: float, y: float, t0: float) -> float:
        """The sum of the squared whitened residuals of a source at ``(x, y, t0)``; the
        residuals stay, in the last row of :attr:`whitened`."""
        self.locate(x, y)
        dx, dy, r, pred = self.dx, self.dy, self.r, self.predicted
        toa, bearing = self.toa, self.bearing
        np.add(t0, _travel_time(dx[toa], dy[toa], r[toa], self.c_m_s, self.wind), out=pred[toa])
        if self.has_bearing:
            np.arctan2(dx[bearing], dy[bearing], out=pred[bearing])
        if self.has_range:
            pred[self.range] = r[self.range]
        if self.has_fix:
            pred[self.fix_x], pred[self.fix_y] = x, y
        diff = self.measured - pred
        if self.has_bearing:
            _wrap(diff[bearing])
        res = np.divide(diff, self.sd, out=self.whitened[3])
        return float(res @ res)

    def jacobian(self, x: float, y: float) -> np.ndarray:
        """The whitened Jacobian's columns over ``(x, y, t0)``, (3, n_rows), at a source at
        ``(x, y)`` (the wind neglected); they stay, in the first rows of :attr:`whitened`."""
        self.locate(x, y)
        dx, dy, bearing = self.dx, self.dy, self.bearing
        r = np.maximum(self.r, 1e-3)
        divisor = r * self.scale
        if self.has_bearing:
            divisor[bearing] *= r[bearing]
        j_x, j_y = self.whitened[0, :len(dx)], self.whitened[1, :len(dx)]
        np.divide(dx, divisor, out=j_x)
        np.divide(dy, divisor, out=j_y)
        if self.has_bearing:  # turned a quarter: (dy, -dx)
            j_x[bearing], j_y[bearing] = j_y[bearing], -j_x[bearing]
        return self.whitened[:3]

    def normal_equations(self, x: float, y: float) -> tuple[list[list[float]], list[float]]:
        """``JᵀJ`` and ``Jᵀr`` at a source at ``(x, y)``, ``r`` the residuals that :meth:`cost`
        computed last (for this source)."""
        self.jacobian(x, y)
        product = (self.whitened @ self.whitened.T).tolist()
        return [row[:3] for row in product[:3]], product[3][:3]


def jacobian_rows(x: float, y: float, m: Measurements, c_m_s: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Whitened Jacobian rows (n_rows, 3) over ``(x, y, t0)`` and their kind codes
    (0 TOA, 1 bearing, 2 range, 3 fix x, 4 fix y), for the measurements present."""
    rows = _Rows(m, c_m_s, (0.0, 0.0))
    return rows.jacobian(x, y).T.copy(), rows.kinds


def fisher_information(x: float, y: float, m: Measurements, c_m_s: float) -> np.ndarray:
    """The 3×3 Fisher information over ``(x, y, t0)``."""
    j = _Rows(m, c_m_s, (0.0, 0.0)).jacobian(x, y)
    info: np.ndarray = j @ j.T
    return info


def position_covariance(fisher: np.ndarray) -> np.ndarray:
    """The 2×2 bound on the position; ``t0`` is dropped when no arrival time informs it."""
    cov: np.ndarray = (np.linalg.pinv(fisher[:2, :2]) if fisher[2, 2] <= 0
                       else np.linalg.pinv(fisher)[:2, :2])
    return cov


def crlb_position(x: float, y: float, m: Measurements, c_m_s: float) -> np.ndarray:
    """The Cramér–Rao bound on the position of a source at ``(x, y)``, in m²."""
    return position_covariance(fisher_information(x, y, m, c_m_s))


@overload
def travel_time(dx: float, dy: float, c_m_s: float,
                wind: tuple[float, float] = (0.0, 0.0)) -> float: ...


@overload
def travel_time(dx: np.ndarray, dy: np.ndarray, c_m_s: float,
                wind: tuple[float, float] = (0.0, 0.0)) -> np.ndarray: ...


def travel_time(dx: np.ndarray | float, dy: np.ndarray | float, c_m_s: float,
                wind: tuple[float, float] = (0.0, 0.0)) -> np.ndarray | float:
    """Sound's travel time from a source at offset ``(dx, dy)`` from each sensor (source minus
    sensor), with a wind ``(east, north)`` m/s adding its component along the path.

    Example: 500 m at 343 m/s; then with a wind of 10 m/s from the east, whose component along
    the path from the source (300 m east and 400 m north of the sensor) is 6 m/s, against it:

    >>> round(float(travel_time(300.0, 400.0, 343.0)), 4)
    1.4577
    >>> round(float(travel_time(300.0, 400.0, 343.0, wind=(10.0, 0.0))), 4)
    1.4837
    """
    dx_a, dy_a = np.asarray(dx), np.asarray(dy)
    t: np.ndarray | float = _travel_time(dx_a, dy_a, np.hypot(dx_a, dy_a), c_m_s, wind)
    return t


def residuals(x: float, y: float, t0: float, m: Measurements, c_m_s: float,
              wind: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Whitened residuals (measured − predicted) / sd, in the order of :func:`jacobian_rows`."""
    rows = _Rows(m, c_m_s, wind)
    rows.cost(x, y, t0)
    whitened: np.ndarray = rows.whitened[3].copy()
    return whitened


def per_detection_chi2(x: float, y: float, t0: float, m: Measurements, c_m_s: float,
                       wind: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Each detection's squared whitened residual, summed over its measurements."""
    dx, dy = x - m.sensor_x, y - m.sensor_y
    r = np.hypot(dx, dy)
    with np.errstate(invalid="ignore"):
        # each measurement's whitened residual (a fix's: its whitened distance), NaN where none
        whitened = np.array([(m.time_s - (t0 + _travel_time(dx, dy, r, c_m_s, wind))) / m.toa_sd_s,
                             _wrap(m.bearing_rad - np.arctan2(dx, dy)) / m.bearing_sd_rad,
                             (m.range_m - r) / m.range_sd_m,
                             np.hypot(m.fix_x - x, m.fix_y - y) / m.fix_sd_m])
    chi2: np.ndarray = np.where(np.isfinite(whitened), whitened ** 2, 0.0).sum(axis=0)
    return chi2


def _damped_step(a: list[list[float]], g: list[float], lam: float
                 ) -> tuple[float, float, float] | None:
    """The Levenberg–Marquardt step: ``(A + λ diag(diag A + 1e-12)) step = g`` solved by
    LDLᵀ elimination in plain floats (the damped matrix is symmetric positive definite, so
    no pivoting is needed); ``None`` if it is singular."""
    (a00, a01, a02), (_, a11, a12), (_, _, a22) = a
    g0, g1, g2 = g
    d0 = a00 + lam * (a00 + 1e-12)
    if d0 == 0:
        return None
    l10, l20 = a01 / d0, a02 / d0
    d1 = a11 + lam * (a11 + 1e-12) - l10 * a01
    if d1 == 0:
        return None
    l21 = (a12 - l20 * a01) / d1
    d2 = a22 + lam * (a22 + 1e-12) - l20 * a02 - l21 * l21 * d1
    if d2 == 0:
        return None
    z1 = g1 - l10 * g0
    s2 = (g2 - l20 * g0 - l21 * z1) / d2
    s1 = z1 / d1 - l21 * s2
    s0 = g0 / d0 - l10 * s1 - l20 * s2
    return s0, s1, s2


def gauss_newton(x: float, y: float, t0: float, m: Measurements, c_m_s: float, *,
                 iterations: int = 20, tol_m: float = 1e-2,
                 wind: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float, float, np.ndarray]:
    """Maximum-likelihood refinement by Levenberg–Marquardt from ``(x, y, t0)``, for a known
    wind; returns the estimate and the 3×3 Fisher information at it."""
    rows = _Rows(m, c_m_s, wind)
    lam = 1e-3
    cost = rows.cost(x, y, t0)
    # the normal equations at (x, y, t0), built when a step needs them
    normal: tuple[list[list[float]], list[float]] | None = None
    for _ in range(iterations):
        if normal is None:
            normal = rows.normal_equations(x, y)
        step = _damped_step(*normal, lam)
        if step is None:
            break
        nx, ny, nt = x + step[0], y + step[1], t0 + step[2]
        new_cost = rows.cost(nx, ny, nt)
        if new_cost <= cost:
            converged = math.hypot(step[0], step[1]) < tol_m or cost - new_cost <= 1e-9 * cost
            x, y, t0, cost = nx, ny, nt, new_cost
            lam = max(lam / 10, 1e-9)
            normal = None
            if converged:
                break
        else:
            lam *= 10
            if lam > 1e6:
                break
    j = rows.jacobian(x, y)
    return x, y, t0, j @ j.T


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

    def fit(x: float, y: float) -> tuple[float, float]:  # t0 profiled out; the weighted misfit of the arrival times
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
