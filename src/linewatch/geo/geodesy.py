"""Geodesy and columnar geometry for one agreement.

Everything spatial is computed in a *working frame*: a transverse Mercator projection on the
WGS84 ellipsoid whose central meridian runs through the middle of the agreement's line.
Projected distances are turned back into geodesic metres with the projection's point scale
factor (Simpson's rule along the path), and east/north vectors are rotated by the meridian
convergence, so results agree with ``pyproj.Geod`` to well under 0.1 % for distances of up to
a few hundred kilometres within ±4° of the central meridian (``tests/test_geo.py`` checks it
across UTM zones 36 and 37).

The hot path, :meth:`LineIndex.nearest`, is numpy end to end: a uniform grid over the line's
surroundings lists for every cell the few segments that can be nearest to any point in it
(built once from a shapely ``STRtree`` over the segments); points outside the grid fall back
to ``STRtree.query_nearest``. Both paths return the exact nearest segment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer
from scipy.special import ndtr

from linewatch.model import SIGMA_PER_R95, Location, ObserverFix, covariance_to_ellipse

__all__ = ['GEOD', 'LineIndex', 'Nearest', 'STD_NORMAL_SAMPLES', 'WorkingFrame', 'covariances_en', 'densify_geodesic', 'geodesic_distance_m', 'geodesic_length_m', 'location_from_observer', 'normal_sd_m', 'offsets_en', 'prob_in_band', 'prob_in_polygon', 'prob_within_radius', 'sqrtm2']

GEOD = Geod(ellps="WGS84")
_A = 6378137.0
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)
_EP2 = _E2 / (1 - _E2)


def geodesic_distance_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distance in metres between point arrays (broadcast)."""
    lon1, lat1, lon2, lat2 = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (lon1, lat1, lon2, lat2)))
    _, _, dist = GEOD.inv(lon1.ravel(), lat1.ravel(), lon2.ravel(), lat2.ravel())
    return np.asarray(dist).reshape(lon1.shape)


def geodesic_length_m(lon: np.ndarray, lat: np.ndarray) -> float:
    """Geodesic length of a polyline in metres."""
    return float(GEOD.line_length(lon, lat))


def densify_geodesic(coords: np.ndarray, max_segment_m: float) -> np.ndarray:
    """Insert points along each geodesic so that no segment is longer than ``max_segment_m``."""
    out = [coords[:1]]
    for (lon1, lat1), (lon2, lat2) in zip(coords[:-1], coords[1:]):
        _, _, dist = GEOD.inv(lon1, lat1, lon2, lat2)
        n_inner = int(math.ceil(dist / max_segment_m)) - 1
        if n_inner > 0:
            inner = np.asarray(GEOD.npts(lon1, lat1, lon2, lat2, n_inner))
            out.append(inner)
        out.append(np.array([[lon2, lat2]]))
    return np.vstack(out)


class WorkingFrame:
    """Transverse Mercator on WGS84 centred on ``lon_0``; the frame for one agreement."""

    def __init__(self, lon_0: float) -> None:
        self.lon_0 = float(lon_0)
        self.crs = CRS.from_proj4(
            f"+proj=tmerc +lat_0=0 +lon_0={self.lon_0:.6f} +k=1 +x_0=0 +y_0=0 "
            "+ellps=WGS84 +units=m +no_defs")
        self._fwd = Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)
        self._inv = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)

    @classmethod
    def for_lonlat(cls, lon: np.ndarray) -> WorkingFrame:
        lon = np.asarray(lon, dtype=float)
        return cls(round(float((lon.min() + lon.max()) / 2.0), 3))

    def to_xy(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        x, y = self._fwd.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return np.asarray(x), np.asarray(y)

    def to_lonlat(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = self._inv.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        return np.asarray(lon), np.asarray(lat)

    def project_geometry(self, geom):
        return shapely.transform(geom, lambda c: np.column_stack(self.to_xy(c[:, 0], c[:, 1])))

    def unproject_geometry(self, geom):
        return shapely.transform(geom, lambda c: np.column_stack(self.to_lonlat(c[:, 0], c[:, 1])))

    @staticmethod
    def scale_factor(x: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Point scale factor of the projection at easting ``x`` (m) near latitude ``lat``."""
        s = np.sin(np.radians(lat))
        w = 1.0 - _E2 * s * s
        r2 = _A * _A * (1.0 - _E2) / (w * w)  # rho * nu
        q = x * x / r2
        return 1.0 + q / 2.0 + q * q / 24.0

    def geodesic_from_projected(self, d_proj, x1, x2, lat) -> np.ndarray:
        """Geodesic length of a short straight path of projected length ``d_proj``."""
        inv = (1.0 / self.scale_factor(x1, lat) + 4.0 / self.scale_factor((x1 + x2) / 2.0, lat)
               + 1.0 / self.scale_factor(x2, lat)) / 6.0
        return d_proj * inv

    def convergence_rad(self, lon, lat) -> np.ndarray:
        """Angle from true north to grid north, counter-clockwise positive east of ``lon_0``."""
        dl = np.radians(np.asarray(lon, dtype=float) - self.lon_0)
        return np.arctan(np.tan(dl) * np.sin(np.radians(lat)))

    def covariance_to_grid(self, cov_en: np.ndarray, lon, lat, x) -> np.ndarray:
        """Rotate and scale (n, 2, 2) east/north covariances (m²) into grid metres²."""
        g = self.convergence_rad(lon, lat)
        k2 = self.scale_factor(x, lat) ** 2
        c, s = np.cos(g), np.sin(g)
        a, b, d = cov_en[:, 0, 0], cov_en[:, 0, 1], cov_en[:, 1, 1]
        # R C R^T for the rotation R = [[c, -s], [s, c]], written out
        out = np.empty_like(cov_en)
        out[:, 0, 0] = (c * c * a - 2 * c * s * b + s * s * d) * k2
        out[:, 1, 1] = (s * s * a + 2 * c * s * b + c * c * d) * k2
        out[:, 0, 1] = out[:, 1, 0] = (c * s * (a - d) + (c * c - s * s) * b) * k2
        return out


@dataclass(frozen=True)
class Nearest:
    """For each query point: the nearest place on a line, columnar."""

    segment: np.ndarray
    distance_m: np.ndarray
    signed_m: np.ndarray
    chainage_m: np.ndarray
    normal_x: np.ndarray
    normal_y: np.ndarray


class LineIndex:
    """Nearest-segment queries against a (multi)line in a working frame.

    ``signed_m`` is positive on the left of the line's direction (the order of its vertices),
    negative on the right, the side decided by the vertex pseudo-normal where the nearest
    point is a vertex, and by the end segments' extensions beyond the line's ends.
    """

    #: Point batches at least this large use the candidate grid.
    grid_threshold = 20_000

    def __init__(self, frame: WorkingFrame, parts_lonlat: list[np.ndarray], *,
                 grid_margin_m: float = 150_000.0, max_cells: int = 300_000) -> None:
        self.frame = frame
        ax, ay, bx, by, geo_len, part = [], [], [], [], [], []
        ns_x, ns_y, ne_x, ne_y = [], [], [], []
        for p, coords in enumerate(parts_lonlat):
            coords = np.asarray(coords, dtype=float)
            if len(coords) < 2:
                raise ValueError(f"line part {p} has fewer than two vertices")
            x, y = frame.to_xy(coords[:, 0], coords[:, 1])
            dx, dy = np.diff(x), np.diff(y)
            length = np.hypot(dx, dy)
            if np.any(length == 0):
                raise ValueError(f"line part {p} has repeated consecutive vertices")
            nx, ny = -dy / length, dx / length  # left normals
            # pseudo-normals at the vertices: the mean of the adjacent segments' normals
            vx = np.concatenate([[nx[0]], nx[:-1] + nx[1:], [nx[-1]]])
            vy = np.concatenate([[ny[0]], ny[:-1] + ny[1:], [ny[-1]]])
            vn = np.hypot(vx, vy)
            vn[vn == 0] = 1.0
            vx, vy = vx / vn, vy / vn
            ax.append(x[:-1]); ay.append(y[:-1]); bx.append(x[1:]); by.append(y[1:])
            ns_x.append(vx[:-1]); ns_y.append(vy[:-1]); ne_x.append(vx[1:]); ne_y.append(vy[1:])
            _, _, seg_geo = GEOD.inv(coords[:-1, 0], coords[:-1, 1], coords[1:, 0], coords[1:, 1])
            geo_len.append(np.asarray(seg_geo))
            part.append(np.full(len(dx), p))
        cat = np.concatenate
        self.ax, self.ay, self.bx, self.by = cat(ax), cat(ay), cat(bx), cat(by)
        self.dx, self.dy = self.bx - self.ax, self.by - self.ay
        self.len2 = self.dx * self.dx + self.dy * self.dy
        self.ns_x, self.ns_y, self.ne_x, self.ne_y = cat(ns_x), cat(ns_y), cat(ne_x), cat(ne_y)
        self.geo_len = cat(geo_len)
        self.chain0 = np.concatenate([[0.0], np.cumsum(self.geo_len)[:-1]])
        self.part = cat(part)
        self.length_m = float(self.geo_len.sum())
        self.parts_lonlat = [np.asarray(c, dtype=float) for c in parts_lonlat]
        self._margin = grid_margin_m
        self._max_cells = max_cells
        segs = shapely.linestrings(
            np.stack([np.column_stack([self.ax, self.ay]), np.column_stack([self.bx, self.by])], 1))
        self.tree = shapely.STRtree(segs)
        self._segs = segs

    @property
    def n_segments(self) -> int:
        return len(self.ax)

    @cached_property
    def geometry_xy(self):
        """The line as a shapely (Multi)LineString in the working frame."""
        parts = []
        for p in range(int(self.part.max()) + 1):
            sel = self.part == p
            xs = np.concatenate([self.ax[sel], self.bx[sel][-1:]])
            ys = np.concatenate([self.ay[sel], self.by[sel][-1:]])
            parts.append(shapely.linestrings(xs, ys))
        return parts[0] if len(parts) == 1 else shapely.multilinestrings(parts)

    # -- the candidate quadtree ---------------------------------------------------------
    @cached_property
    def _grid(self) -> _Quadtree:
        return _Quadtree.build(self, margin_m=self._margin)

    #: Points per block in the grid path: the pair temporaries then stay in the CPU cache.
    block = 16_384

    def _nearest_grid(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        q = self._grid
        leaf = q.locate(x, y)
        seg = np.empty(len(x), dtype=np.int64)
        out = leaf < 0
        if out.any():
            seg[out] = self._nearest_tree(x[out], y[out])
        idx = np.flatnonzero(~out)
        for b in range(0, len(idx), self.block):
            part = idx[b:b + self.block]
            seg[part] = self._nearest_in_leaves(x[part], y[part], leaf[part])
        return seg

    def _nearest_in_leaves(self, x: np.ndarray, y: np.ndarray, leaf: np.ndarray) -> np.ndarray:
        q = self._grid
        start = q.ptr[leaf]
        cnt = q.ptr[leaf + 1] - start
        total = int(cnt.sum())
        first = np.cumsum(cnt) - cnt
        pt = np.repeat(np.arange(len(x)), cnt)
        cand = q.segs[np.repeat(start - first, cnt) + np.arange(total)]
        d2 = _segment_d2(x[pt], y[pt], self.ax[cand], self.ay[cand], self.dx[cand],
                         self.dy[cand], self.len2[cand])
        mins = np.minimum.reduceat(d2, first)
        hit = np.flatnonzero(d2 == np.repeat(mins, cnt))
        owner = pt[hit]
        keep = np.concatenate([[True], owner[1:] != owner[:-1]])
        seg = np.empty(len(x), dtype=np.int64)
        seg[owner[keep]] = cand[hit[keep]]  # ties: the lowest segment index
        return seg

    def _nearest_tree(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.empty(0, dtype=np.int64)
        idx = self.tree.query_nearest(shapely.points(x, y), all_matches=True)
        seg = np.full(len(x), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(seg, idx[0], idx[1])  # ties: the lowest segment index, as in the grid
        return seg

    # -- public queries ----------------------------------------------------------------
    def nearest(self, x: np.ndarray, y: np.ndarray, lat: np.ndarray, *,
                method: str = "auto") -> Nearest:
        """Nearest place on the line for projected points ``(x, y)`` at latitudes ``lat``."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        use_grid = method == "grid" or (method == "auto" and len(x) >= self.grid_threshold)
        seg = self._nearest_grid(x, y) if use_grid else self._nearest_tree(x, y)
        t = self._t(seg, x, y)
        # a foot on a shared vertex belongs to the following segment, so ties between the two
        # segments that meet there resolve the same way on every path
        nxt = np.minimum(seg + 1, self.n_segments - 1)
        at_joint = (t >= 1.0) & (seg + 1 < self.n_segments) & (self.part[nxt] == self.part[seg])
        if at_joint.any():
            seg = np.where(at_joint, nxt, seg)
            t = np.where(at_joint, 0.0, t)
        ax, ay, dx, dy = self.ax[seg], self.ay[seg], self.dx[seg], self.dy[seg]
        qx, qy = ax + t * dx, ay + t * dy
        ex, ey = x - qx, y - qy
        d_proj = np.hypot(ex, ey)
        seg_len = np.sqrt(self.len2[seg])
        nx, ny = -dy / seg_len, dx / seg_len
        # side: the segment's normal inside, the vertex pseudo-normal at its ends
        sx = np.where(t <= 0.0, self.ns_x[seg], np.where(t >= 1.0, self.ne_x[seg], nx))
        sy = np.where(t <= 0.0, self.ns_y[seg], np.where(t >= 1.0, self.ne_y[seg], ny))
        sign = np.where(ex * sx + ey * sy >= 0.0, 1.0, -1.0)
        # the distance's gradient: from the foot to the point (the segment normal on the line)
        with np.errstate(invalid="ignore", divide="ignore"):
            gx = np.where(d_proj > 0, sign * ex / d_proj, nx)
            gy = np.where(d_proj > 0, sign * ey / d_proj, ny)
        dist = self.frame.geodesic_from_projected(d_proj, x, qx, lat)
        chain = self.chain0[seg] + t * self.geo_len[seg]
        return Nearest(seg, dist, sign * dist, chain, gx, gy)

    def _t(self, seg: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.clip(((x - self.ax[seg]) * self.dx[seg] + (y - self.ay[seg]) * self.dy[seg])
                       / self.len2[seg], 0.0, 1.0)


class _Quadtree:
    """Leaves covering the line's surroundings, each listing the segments that can be nearest.

    A segment can be nearest to a point of a cell with centre ``c`` and half-diagonal ``h``
    only if its distance to ``c`` is at most ``d0 + 2 h``, ``d0`` being the distance from ``c``
    to the line. The set for a child cell is a subset of its parent's, so children are built
    by filtering the parent's candidates, with no further tree queries.
    """

    def __init__(self, x0, y0, size, child, ptr, segs):
        self.x0, self.y0, self.size, self.child, self.ptr, self.segs = x0, y0, size, child, ptr, segs

    @classmethod
    def build(cls, li: LineIndex, *, margin_m: float, root_m: float = 8000.0,
              leaf_target: int = 2, min_m: float = 125.0) -> _Quadtree:
        bx0 = min(li.ax.min(), li.bx.min()) - margin_m
        by0 = min(li.ay.min(), li.by.min()) - margin_m
        nx = int(math.ceil((max(li.ax.max(), li.bx.max()) + margin_m - bx0) / root_m))
        ny = int(math.ceil((max(li.ay.max(), li.by.max()) + margin_m - by0) / root_m))
        ii, jj = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
        x0 = bx0 + ii.ravel() * root_m
        y0 = by0 + jj.ravel() * root_m
        size = np.full(len(x0), root_m)
        centres = shapely.points(x0 + root_m / 2, y0 + root_m / 2)
        _, d0 = li.tree.query_nearest(centres, return_distance=True, all_matches=False)
        h = root_m * math.sqrt(2.0) / 2.0
        node, seg = li.tree.query(centres, predicate="dwithin", distance=d0 + 2 * h + 1e-6)
        levels = [(x0, y0, size, node, seg)]
        dists = [d0]

        def to_split(lsize, lnode, ld0):
            # far from the line, halving a cell barely shrinks its list: stop at d0 / 16
            counts = np.bincount(lnode, minlength=len(lsize))
            return np.flatnonzero((counts > leaf_target) & (lsize > np.maximum(min_m, ld0 / 16)))

        while True:
            x0, y0, size, node, seg = levels[-1]
            split = to_split(size, node, dists[-1])
            if len(split) == 0:
                break
            half = size[split] / 2.0
            cx0 = np.repeat(x0[split], 4) + np.tile([0, 0, 1, 1], len(split)) * np.repeat(half, 4)
            cy0 = np.repeat(y0[split], 4) + np.tile([0, 1, 0, 1], len(split)) * np.repeat(half, 4)
            csize = np.repeat(half, 4)
            # the parent's candidate pairs, repeated for each of its four children
            rank = np.full(len(x0), -1)
            rank[split] = np.arange(len(split))
            sel = rank[node] >= 0
            p_node, p_seg = rank[node[sel]], seg[sel]
            order = np.argsort(p_node, kind="stable")
            p_node, p_seg = p_node[order], p_seg[order]
            c_node = (np.repeat(p_node * 4, 4).reshape(-1, 4) + np.arange(4)).ravel()
            c_seg = np.repeat(p_seg, 4)
            ccx = cx0[c_node] + csize[c_node] / 2
            ccy = cy0[c_node] + csize[c_node] / 2
            d2 = _segment_d2(ccx, ccy, li.ax[c_seg], li.ay[c_seg], li.dx[c_seg], li.dy[c_seg],
                             li.len2[c_seg])
            d = np.sqrt(d2)
            dmin = np.full(len(cx0), np.inf)
            np.minimum.at(dmin, c_node, d)
            keep = d <= dmin[c_node] + 2 * csize[c_node] * math.sqrt(2.0) / 2.0 + 1e-6
            levels.append((cx0, cy0, csize, c_node[keep], c_seg[keep]))
            dists.append(dmin)
        # flatten the levels into one node table; a split node points at its first child
        offsets = np.cumsum([0] + [len(lv[0]) for lv in levels])
        n_nodes = int(offsets[-1])
        child = np.full(n_nodes, -1, dtype=np.int64)
        leaf_node, leaf_seg = [], []
        for k, (lx0, _, lsize, lnode, lseg) in enumerate(levels):
            is_split = np.zeros(len(lx0), dtype=bool)
            if k + 1 < len(levels):
                split = to_split(lsize, lnode, dists[k])
                is_split[split] = True
                child[offsets[k] + split] = offsets[k + 1] + 4 * np.arange(len(split))
            leaf = ~is_split[lnode]
            leaf_node.append(offsets[k] + lnode[leaf])
            leaf_seg.append(lseg[leaf])
        leaf_node = np.concatenate(leaf_node)
        leaf_seg = np.concatenate(leaf_seg)
        order = np.lexsort((leaf_seg, leaf_node))
        counts = np.bincount(leaf_node[order], minlength=n_nodes)
        ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        root = levels[0]
        obj = cls(np.concatenate([lv[0] for lv in levels]), np.concatenate([lv[1] for lv in levels]),
                  np.concatenate([lv[2] for lv in levels]), child, ptr,
                  leaf_seg[order].astype(np.int64))
        obj.root = (float(root[0].min()), float(root[1].min()), float(root[2][0]), nx, ny)
        return obj

    def locate(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The leaf containing each point, or -1 outside the covered area."""
        rx0, ry0, rsize, nx, ny = self.root
        i = np.floor((x - rx0) / rsize).astype(np.int64)
        j = np.floor((y - ry0) / rsize).astype(np.int64)
        node = np.where((i >= 0) & (i < nx) & (j >= 0) & (j < ny), i * ny + j, -1)
        active = np.flatnonzero(node >= 0)
        active = active[self.child[node[active]] >= 0]
        while len(active):
            n = node[active]
            half = self.size[n] / 2.0
            right = x[active] >= self.x0[n] + half
            up = y[active] >= self.y0[n] + half
            node[active] = self.child[n] + 2 * right + up
            active = active[self.child[node[active]] >= 0]
        return node


def _segment_d2(px, py, ax, ay, dx, dy, len2):
    t = ((px - ax) * dx + (py - ay) * dy) / len2
    np.clip(t, 0.0, 1.0, out=t)
    ex = px - ax - t * dx
    ey = py - ay - t * dy
    return ex * ex + ey * ey


# -- uncertainty ---------------------------------------------------------------------------

def normal_sd_m(cov_grid: np.ndarray, nx: np.ndarray, ny: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Standard deviation (true metres) along grid unit vectors ``(nx, ny)``."""
    var = (nx * nx * cov_grid[:, 0, 0] + 2 * nx * ny * cov_grid[:, 0, 1]
           + ny * ny * cov_grid[:, 1, 1])
    return np.sqrt(np.maximum(var, 0.0)) / k


def prob_in_band(s: np.ndarray, sd: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """P(lo <= S <= hi) for S ~ N(s, sd²); a point mass where ``sd`` is 0."""
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


#: A fixed set of standard-normal samples (Halton points through Box-Muller), closed under
#: reflection in either axis: region probabilities are deterministic, independent of the order
#: or number of records, and a mirrored record sees exactly the mirrored samples (the Cholesky
#: factor of a reflected covariance is the reflected factor with one column negated).
_N_BASE = 128
_U = np.column_stack([_halton(_N_BASE, 2), _halton(_N_BASE, 3)])
_R = np.sqrt(-2.0 * np.log(1.0 - _U[:, 0]))
_Z = np.column_stack([_R * np.cos(np.pi / 2 * _U[:, 1]), _R * np.sin(np.pi / 2 * _U[:, 1])])
_Z = np.vstack([_Z * [sx, sy] for sx in (1, -1) for sy in (1, -1)])
STD_NORMAL_SAMPLES = _Z / np.sqrt(np.mean(_Z * _Z, axis=0))  # unit second moments per axis


def sqrtm2(cov: np.ndarray) -> np.ndarray:
    """The symmetric square roots of (n, 2, 2) positive semi-definite matrices, in closed form.

    Unlike a Cholesky factor it exists for singular covariances (a degenerate ellipse) and
    commutes with reflections: sqrt(M A M) = M sqrt(A) M.
    """
    det = np.maximum(cov[:, 0, 0] * cov[:, 1, 1] - cov[:, 0, 1] * cov[:, 1, 0], 0.0)
    s = np.sqrt(det)
    t = np.sqrt(np.maximum(cov[:, 0, 0] + cov[:, 1, 1] + 2.0 * s, 1e-300))
    return (cov + s[:, None, None] * np.eye(2)) / t[:, None, None]


def prob_in_polygon(poly_xy, x: np.ndarray, y: np.ndarray, cov_grid: np.ndarray) -> np.ndarray:
    """P(true point in ``poly_xy``) for normals centred on ``(x, y)`` with grid covariances."""
    x = np.asarray(x, dtype=float)
    inside = shapely.contains_xy(poly_xy, x, y).astype(float)
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
    """P(|true offset| <= radius_m) for normals centred on the offsets (east/north metres)."""
    d = np.hypot(offset_e, offset_n)
    p = (d <= radius_m).astype(float)
    if len(d) == 0:
        return p
    sd_max = np.sqrt(np.maximum(np.linalg.eigvalsh(cov_en)[:, -1], 0.0))
    near = np.flatnonzero((sd_max > 0) & (np.abs(d - radius_m) < 5.0 * sd_max))
    if len(near):
        pts = np.einsum("nij,kj->nki", sqrtm2(cov_en[near]), STD_NORMAL_SAMPLES)
        r = np.hypot(pts[..., 0] + offset_e[near, None], pts[..., 1] + offset_n[near, None])
        p[near] = (r <= radius_m).mean(axis=1)
    return p


def offsets_en(lon0, lat0, lon, lat) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """East/north offsets (m) and geodesic distance from ``(lon0, lat0)`` to each point."""
    lon0, lat0, lon, lat = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (lon0, lat0, lon, lat)))
    az, _, dist = GEOD.inv(lon0.ravel(), lat0.ravel(), lon.ravel(), lat.ravel())
    az = np.radians(np.asarray(az))
    dist = np.asarray(dist)
    return dist * np.sin(az), dist * np.cos(az), dist


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


def covariances_en(semi_major_m: np.ndarray, semi_minor_m: np.ndarray,
                   azimuth_deg: np.ndarray) -> np.ndarray:
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
