"""The probability engine: P(the network detects an event) at points and times.

Assets are taken as independent: the network detects an event with probability
``1 − Π(1 − p_i)`` (at least one asset reports it; fusing an incident needs several).

**Geometry.** Distances are computed in a transverse Mercator frame centred on the network
(:class:`linewatch.geo.WorkingFrame`), turned into geodesic metres with the point scale
factor at the middle of each path; against ``pyproj.Geod`` they agree to better than 1e-5
relative for paths up to 50 km within ±4° of the central meridian (``tests/test_coverage.py``
checks it). Azimuths are corrected by the meridian convergence.

**Time.** A window's probability is the mean over an event time uniform in it: the window is
cut at every outage, flight and patrol boundary and the pieces into steps of at most
``step_s``; each step is evaluated at its middle and weighted by its length (exact for fixed
assets, the midpoint rule for moving ones).

Pure: no I/O, no clock; times are float epoch seconds (UTC), coordinates ``(lon, lat)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.spatial import cKDTree
from scipy.special import expit

from linewatch.coverage.compiled import CompiledNetwork, Floats, Ints, Moving
from linewatch.coverage.curves import check_kind
from linewatch.coverage.network import Network, compiled
from linewatch.geo import WorkingFrame

__all__ = ["Evaluation", "FramePoints", "detection_probability", "evaluate", "frame_points",
           "time_samples", "window_probability"]

_NO_AXIS = np.zeros((1, 2))


class FramePoints(NamedTuple):
    """Points in the network's frame: x, y (m), their latitude, and the shape they came in."""

    x: Floats
    y: Floats
    lat: Floats
    shape: tuple[int, ...]


def frame_points(net: Network, lon: npt.ArrayLike, lat: npt.ArrayLike) -> FramePoints:
    """``lon``/``lat`` broadcast together, flattened and projected into the network's frame."""
    lon_a, lat_a = np.broadcast_arrays(np.asarray(lon, float), np.asarray(lat, float))
    shape = lon_a.shape
    lon_f, lat_f = lon_a.ravel(), lat_a.ravel()
    x, y = compiled(net).frame.to_xy(lon_f, lat_f)
    return FramePoints(np.atleast_1d(x), np.atleast_1d(y), lat_f, shape)


def time_samples(net: Network, start_s: float, end_s: float, step_s: float) -> tuple[Floats, Floats]:
    """Midpoints and weights (summing to 1) of the window cut at the network's breakpoints
    and into steps of at most ``step_s``."""
    if not (math.isfinite(start_s) and math.isfinite(end_s) and end_s >= start_s):
        raise ValueError(f"the window must be finite with start_s <= end_s, got {start_s!r}, {end_s!r}")
    if not step_s > 0:
        raise ValueError(f"step_s must be positive, got {step_s!r}")
    if end_s == start_s:
        return np.array([float(start_s)]), np.ones(1)
    b = compiled(net).breakpoints()
    edges = np.unique(np.concatenate([[start_s, end_s], b[(b > start_s) & (b < end_s)]]))
    mids, wts = [], []
    for a, z in zip(edges[:-1], edges[1:]):
        n = max(1, int(math.ceil((z - a) / step_s - 1e-9)))
        e = np.linspace(a, z, n + 1)
        mids.append((e[:-1] + e[1:]) / 2.0)
        wts.append(np.diff(e))
    t, w = np.concatenate(mids), np.concatenate(wts)
    return t, w / w.sum()


# -- public API -----------------------------------------------------------------------------

def detection_probability(network: Network, lon: npt.ArrayLike, lat: npt.ArrayLike, time_s: float,
                          kind: str) -> Floats:
    """P(at least one asset detects an event of ``kind`` at each point at ``time_s``).

    ``lon``/``lat`` broadcast; the result has their shape.
    """
    kind = check_kind(kind)
    pts = frame_points(network, lon, lat)
    ev = evaluate(network, pts, np.array([float(time_s)]), np.ones(1), kind)
    out: Floats = ev.prob[0].reshape(pts.shape)
    return out


def window_probability(network: Network, lon: npt.ArrayLike, lat: npt.ArrayLike, start_s: float,
                       end_s: float, kind: str, *, step_s: float = 60.0) -> Floats:
    """P(detect) at each point for an event at a time uniform in ``[start_s, end_s]``."""
    kind = check_kind(kind)
    pts = frame_points(network, lon, lat)
    t, w = time_samples(network, start_s, end_s, step_s)
    ev = evaluate(network, pts, t, w, kind)
    out: Floats = (w @ ev.prob).reshape(pts.shape)
    return out


# -- the engine -----------------------------------------------------------------------------

@dataclass
class Evaluation:
    """log(1 − P) per time and point and, per asset, sums for the contributions."""

    log_q: Floats                # (T, P)
    asset_p: Floats              # per asset: Σ_t w_t · mean over points of p
    asset_potential: Floats      # the same had it been available all the time
    asset_available: Floats      # Σ_t w_t · available
    asset_distance: Floats       # closest approach to the reference point (m)

    @property
    def prob(self) -> Floats:
        """P(detect) per time and point: (T, P)."""
        p: Floats = -np.expm1(self.log_q)
        return p


@dataclass(frozen=True)
class _Query:
    """What one evaluation asks: points (frame x, y; their latitude; a tree over them), times
    with their weights, the event kind, and whether to sum each asset's share."""

    px: Floats
    py: Floats
    lat: Floats
    tree: cKDTree
    times: Floats
    weights: Floats
    kind: str
    assets: bool


def evaluate(net: Network, pts: FramePoints, times: Floats, weights: Floats, kind: str, *,
             ref: tuple[float, float] | None = None, assets: bool = False) -> Evaluation:
    """P(detect) at points (frame x, y) and times; with ``assets``, every asset's share and,
    with ``ref``, its closest approach to that point."""
    c = compiled(net)
    px, py = pts.x, pts.y
    n = len(c.ids)
    ev = Evaluation(np.zeros((len(times), len(px))), np.zeros(n), np.zeros(n), np.zeros(n),
                    np.full(n, np.inf))
    if len(px) == 0 or len(times) == 0:
        return ev
    q = _Query(px, py, pts.lat, cKDTree(np.column_stack([px, py])), times, weights, kind, assets)
    _add_fixed(ev, c, q)
    if assets and ref is not None and len(c.fixed_x):
        np.minimum.at(ev.asset_distance, c.fixed_sensor,
                      np.hypot(c.fixed_x - ref[0], c.fixed_y - ref[1]))
    for entity in c.moving:
        _add_moving(ev, c, entity, q, ref)
    return ev


def _pair_probability(dx: Floats, dy: Floats, lat: Floats, ex: Floats | float, px: Floats,
                      pmax: Floats | float, r50: Floats | float, width: Floats | float,
                      gate: Floats | float, axis: Floats, cos_half: Floats | float,
                      max_range: Floats | float) -> Floats:
    """p for pairs whose point lies (dx, dy) grid metres from the entity at easting ``ex``."""
    d_grid = np.hypot(dx, dy)
    d = d_grid / WorkingFrame.scale_factor((ex + px) / 2.0, lat)   # k at the path's middle
    p = pmax * (1.0 - expit((d - r50) / width))
    with np.errstate(invalid="ignore", divide="ignore"):
        cos_a = (dx * axis[:, 0] + dy * axis[:, 1]) / d_grid
    in_view = np.where(cos_half > -1.5, (cos_a >= cos_half) | (d_grid == 0.0), True)
    ok = in_view & (d <= gate) & (d <= max_range)
    out: Floats = np.where(ok, p, 0.0)
    return out


def _log_miss(p: Floats) -> Floats:
    """log(1 − p), with p kept below 1."""
    out: Floats = np.log1p(-np.minimum(p, 1.0 - 1e-12))
    return out


def _add_fixed(ev: Evaluation, c: CompiledNetwork, q: _Query) -> None:
    """Fixed entities: the point pairs once, then each time's availability (a sparse product)."""
    avail = c.fixed_available(q.times)
    active = np.flatnonzero(avail.any(axis=0) | q.assets)
    pm, r50, wd, gate = c.params(c.fixed_kind[active], q.kind, c.fixed_radius[active])
    useful = pm > 0
    active = active[useful]
    pm, r50, wd, gate = (v[useful] for v in (pm, r50, wd, gate))
    if len(active) == 0:
        return
    reach = np.minimum(gate, c.fixed_max_range[active]) * 1.002 + 1.0
    lists = q.tree.query_ball_point(np.column_stack([c.fixed_x[active], c.fixed_y[active]]),
                                    r=reach, return_sorted=False)
    counts = np.fromiter((len(v) for v in lists), np.int64, len(lists))
    pj: Ints = (np.concatenate([np.asarray(v, np.int64) for v in lists]) if counts.sum()
                else np.zeros(0, np.int64))
    ej = np.repeat(np.arange(len(active)), counts)
    e = active[ej]
    p = _pair_probability(q.px[pj] - c.fixed_x[e], q.py[pj] - c.fixed_y[e], q.lat[pj], c.fixed_x[e],
                          q.px[pj], pm[ej], r50[ej], wd[ej], gate[ej], c.fixed_axis[e],
                          c.fixed_cos_half[e], c.fixed_max_range[e])
    keep = p > 0
    pj, ej, p = pj[keep], ej[keep], p[keep]
    m = sparse.csr_matrix((_log_miss(p), (pj, ej)), shape=(len(q.px), len(active)))
    ev.log_q += np.asarray(m @ avail[:, active].T.astype(float)).T
    if q.assets:
        per_ent = np.bincount(ej, weights=p, minlength=len(active)) / len(q.px)
        w_av = q.weights @ avail[:, active]
        asset = c.fixed_sensor[active]
        np.add.at(ev.asset_p, asset, per_ent * w_av)
        np.maximum.at(ev.asset_potential, asset, per_ent)
        np.add.at(ev.asset_available, asset, w_av)


def _add_moving(ev: Evaluation, c: CompiledNetwork, entity: Moving, q: _Query,
                ref: tuple[float, float] | None) -> None:
    """A patrol or a UAV on a track: its position and pairs at each time."""
    asset, mkind, tr, t0, t1, radius = entity
    times = q.times
    pm, r50, wd, gate = (float(v[0]) for v in c.params(np.array([mkind], dtype=object), q.kind,
                                                         np.array([radius])))
    if pm <= 0:
        return
    if mkind == "uav":
        present = (times >= t0) & (times < t1) & ~c.down(np.array([asset]), times)[:, 0]
    else:
        present = (times >= t0) & (times <= t1)
    tx, ty = (np.atleast_1d(v) for v in c.frame.to_xy(np.interp(times, tr[:, 2], tr[:, 0]),
                                                      np.interp(times, tr[:, 2], tr[:, 1])))
    if q.assets:
        ev.asset_available[asset] += float(q.weights @ present)
        if ref is not None:
            d = float(np.min(np.hypot(tx - ref[0], ty - ref[1])))
            ev.asset_distance[asset] = min(ev.asset_distance[asset], d)
    potential = 0.0
    for ti in np.flatnonzero(present | q.assets):
        pj = np.asarray(q.tree.query_ball_point([tx[ti], ty[ti]], r=gate * 1.002 + 1.0), np.int64)
        if len(pj) == 0:
            continue
        p = _pair_probability(q.px[pj] - tx[ti], q.py[pj] - ty[ti], q.lat[pj], tx[ti], q.px[pj], pm, r50,
                              wd, gate, _NO_AXIS, -2.0, math.inf)
        mean_p = q.weights[ti] * p.sum() / len(q.px)
        if present[ti]:
            ev.log_q[ti, pj] += _log_miss(p)
            ev.asset_p[asset] += mean_p
        potential += mean_p
    ev.asset_potential[asset] = max(ev.asset_potential[asset], potential)
