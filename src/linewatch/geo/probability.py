"""Located points with normal errors: covariances, and the probability of being in a region.

Every uncertainty region is the 95 % region of a bivariate normal distribution (see
``linewatch.model``). Here are its covariance columns, and the probability that the true point
lies in a band across a line, in a polygon or within a radius: in closed form where there is
one, else by a fixed, reflection-symmetric set of standard-normal samples, so that results are
deterministic and impartial between the two sides of a line.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import shapely
from scipy.special import ndtr

from linewatch.geo.frame import GEOD
from linewatch.model import SIGMA_PER_R95, Location, ObserverFix, covariance_to_ellipse

__all__ = ["STD_NORMAL_SAMPLES", "covariances_en", "location_from_observer", "normal_sd_m",
           "prob_in_band", "prob_in_polygon", "prob_within_radius", "sqrtm2"]


def covariances_en(semi_major_m: npt.ArrayLike, semi_minor_m: npt.ArrayLike,
                   azimuth_deg: npt.ArrayLike) -> np.ndarray:
    """(n, 2, 2) east/north covariances from 95 % ellipse columns."""
    a = np.asarray(semi_major_m, dtype=float) * SIGMA_PER_R95
    b = np.asarray(semi_minor_m, dtype=float) * SIGMA_PER_R95
    az = np.radians(np.asarray(azimuth_deg, dtype=float))
    ue, un = np.sin(az), np.cos(az)
    ve, vn = un, -ue
    cov = np.empty((len(a), 2, 2))
    cov[:, 0, 0] = a * a * ue * ue + b * b * ve * ve
    cov[:, 1, 1] = a * a * un * un + b * b * vn * vn
    cov[:, 0, 1] = cov[:, 1, 0] = a * a * ue * un + b * b * ve * vn
    return cov


def location_from_observer(fix: ObserverFix) -> Location:
    """The normal approximation (mean, 95 % ellipse) of a bearing sector and distance band.

    The true place is taken as uniform in bearing over
    ``bearing_deg ± bearing_spread_deg / 2`` and uniform in distance over the band.
    """
    n = 64
    r = fix.distance_min_m + (np.arange(n) + 0.5) / n * (fix.distance_max_m - fix.distance_min_m)
    th = np.radians(fix.bearing_deg + ((np.arange(n) + 0.5) / n - 0.5) * fix.bearing_spread_deg)
    rr, tt = np.meshgrid(r, th, indexing="ij")
    e, nn = (rr * np.sin(tt)).ravel(), (rr * np.cos(tt)).ravel()
    me, mn = e.mean(), nn.mean()
    cov = np.cov(np.vstack([e, nn]), bias=True)
    az = math.degrees(math.atan2(me, mn))
    lon, lat, _ = GEOD.fwd(fix.lon, fix.lat, az, math.hypot(me, mn))
    major, minor, azimuth = covariance_to_ellipse(cov[0, 0], cov[0, 1], cov[1, 1])
    return Location(float(lon), float(lat), major, max(min(minor, major), 0.0), azimuth,
                    observer=fix)


def normal_sd_m(cov_grid: np.ndarray, nx: np.ndarray, ny: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Standard deviation (true metres) along grid unit vectors ``(nx, ny)``.

    ``k`` is the projection's scale factor at each point.

    >>> cov = np.array([[[400.0, 0.0], [0.0, 100.0]]])  # 20 m east, 10 m north
    >>> normal_sd_m(cov, np.array([0.0]), np.array([1.0]), np.array([1.0])).tolist()
    [10.0]
    """
    var = (nx * nx * cov_grid[:, 0, 0] + 2 * nx * ny * cov_grid[:, 0, 1]
           + ny * ny * cov_grid[:, 1, 1])
    sd: np.ndarray = np.sqrt(np.maximum(var, 0.0)) / k
    return sd


def prob_in_band(s: npt.ArrayLike, sd: npt.ArrayLike, lo: float | np.ndarray,
                 hi: float | np.ndarray) -> np.ndarray:
    """P(lo <= S <= hi) for S ~ N(s, sd²); a point mass where ``sd`` is 0.

    On the line itself, either side is as likely; a point known exactly is where it is:

    >>> prob_in_band(np.array([0.0, 1000.0, -50.0]), np.array([100.0, 0.0, 100.0]), 0.0, np.inf).round(4).tolist()
    [0.5, 1.0, 0.3085]
    """
    s = np.asarray(s, dtype=float)
    sd = np.broadcast_to(np.asarray(sd, dtype=float), s.shape)
    p = ((s >= lo) & (s <= hi)).astype(float)  # exact where sd is 0, and far from both edges
    with np.errstate(divide="ignore", invalid="ignore"):
        z_hi = (hi - s) / sd
        z_lo = (lo - s) / sd
    # beyond 9 standard deviations from both edges ndtr is exactly 0 or 1 in double precision
    near = np.flatnonzero((sd > 0) & ((np.abs(z_hi) < 9.0) | (np.abs(z_lo) < 9.0)))
    if len(near):
        p[near] = ndtr(z_hi[near]) - ndtr(z_lo[near])
    return p


def _halton(n: int, base: int) -> np.ndarray:
    out = np.empty(n)
    for i in range(n):
        f, r, k = 1.0, 0.0, i + 1
        while k > 0:
            f /= base
            r += f * (k % base)
            k //= base
        out[i] = r
    return out


def _std_normal_samples(n_base: int) -> np.ndarray:
    """``4 n_base`` standard-normal samples: Halton points through Box-Muller in the first
    quadrant, reflected into the other three, scaled to unit second moments per axis."""
    u = np.column_stack([_halton(n_base, 2), _halton(n_base, 3)])
    r = np.sqrt(-2.0 * np.log(1.0 - u[:, 0]))
    z = np.column_stack([r * np.cos(np.pi / 2 * u[:, 1]), r * np.sin(np.pi / 2 * u[:, 1])])
    z = np.vstack([z * [sx, sy] for sx in (1, -1) for sy in (1, -1)])
    samples: np.ndarray = z / np.sqrt(np.mean(z * z, axis=0))
    return samples


#: A fixed set of standard-normal samples (Halton points through Box-Muller), closed under
#: reflection in either axis: region probabilities are deterministic, independent of the order
#: or number of records, and a mirrored record sees exactly the mirrored samples (the Cholesky
#: factor of a reflected covariance is the reflected factor with one column negated).
STD_NORMAL_SAMPLES = _std_normal_samples(128)


def sqrtm2(cov: np.ndarray) -> np.ndarray:
    """The symmetric square roots of (n, 2, 2) positive semi-definite matrices, in closed form.

    Unlike a Cholesky factor it exists for singular covariances (a degenerate ellipse) and
    commutes with reflections: sqrt(M A M) = M sqrt(A) M.

    >>> sqrtm2(np.array([[[4.0, 0.0], [0.0, 0.0]]])).tolist()
    [[[2.0, 0.0], [0.0, 0.0]]]
    """
    det = np.maximum(cov[:, 0, 0] * cov[:, 1, 1] - cov[:, 0, 1] * cov[:, 1, 0], 0.0)
    s = np.sqrt(det)
    t = np.sqrt(np.maximum(cov[:, 0, 0] + cov[:, 1, 1] + 2.0 * s, 1e-300))
    root: np.ndarray = (cov + s[:, None, None] * np.eye(2)) / t[:, None, None]
    return root


def prob_in_polygon(poly_xy: shapely.Geometry, x: npt.ArrayLike, y: npt.ArrayLike,
                    cov_grid: np.ndarray) -> np.ndarray:
    """P(true point in ``poly_xy``) for normals centred on ``(x, y)`` with grid covariances."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    inside = np.asarray(shapely.contains_xy(poly_xy, x, y)).astype(float)
    if len(x) == 0:
        return inside
    sd_max = np.sqrt(np.maximum(np.linalg.eigvalsh(cov_grid)[:, -1], 0.0))
    near = np.flatnonzero(sd_max > 0)
    if len(near):
        bd = shapely.distance(shapely.get_exterior_ring(poly_xy) if poly_xy.geom_type == "Polygon"
                              else shapely.boundary(poly_xy), shapely.points(x[near], y[near]))
        near = near[bd < 5.0 * sd_max[near]]
    if len(near):
        pts = np.einsum("nij,kj->nki", sqrtm2(cov_grid[near]), STD_NORMAL_SAMPLES)
        sx = (pts[..., 0] + x[near, None]).ravel()
        sy = (pts[..., 1] + y[near, None]).ravel()
        hits = shapely.contains_xy(poly_xy, sx, sy).reshape(len(near), -1)
        inside[near] = hits.mean(axis=1)
    return inside


def prob_within_radius(offset_e: np.ndarray, offset_n: np.ndarray, cov_en: np.ndarray,
                       radius_m: float) -> np.ndarray:
    """P(|true offset| <= radius_m) for normals centred on the offsets (east/north metres).

    >>> cov = np.repeat(np.diag([100.0 ** 2, 100.0 ** 2])[None], 2, axis=0)  # 100 m per axis
    >>> prob_within_radius(np.array([0.0, 500.0]), np.array([0.0, 0.0]), cov, 500.0).tolist()
    [1.0, 0.4609375]
    """
    d = np.hypot(offset_e, offset_n)
    p: np.ndarray = (d <= radius_m).astype(float)
    if len(d) == 0:
        return p
    sd_max = np.sqrt(np.maximum(np.linalg.eigvalsh(cov_en)[:, -1], 0.0))
    near = np.flatnonzero((sd_max > 0) & (np.abs(d - radius_m) < 5.0 * sd_max))
    if len(near):
        pts = np.einsum("nij,kj->nki", sqrtm2(cov_en[near]), STD_NORMAL_SAMPLES)
        r = np.hypot(pts[..., 0] + offset_e[near, None], pts[..., 1] + offset_n[near, None])
        p[near] = (r <= radius_m).mean(axis=1)
    return p
