"""Nearest-segment queries against a line: side, signed distance, chainage and normal.

The hot path, :meth:`LineIndex.nearest`, is numpy end to end: a quadtree over the line's
surroundings lists for every leaf cell the few segments that can be nearest to any point in it
(built once from a shapely ``STRtree`` over the segments); points outside the tree fall back
to ``STRtree.query_nearest``. Both paths return the exact nearest segment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np
import shapely

from linewatch.geo.frame import GEOD, WorkingFrame

__all__ = ["LineIndex", "Nearest"]


@dataclass(frozen=True)
class Nearest:
    """For each query point: the nearest place on a line, columnar."""

    segment: np.ndarray
    distance_m: np.ndarray
    signed_m: np.ndarray
    chainage_m: np.ndarray
    normal_x: np.ndarray
    normal_y: np.ndarray


class _Segments(NamedTuple):
    """One line part's segments in the frame: ends, vertex pseudo-normals at both ends, and
    geodesic lengths."""

    ax: np.ndarray
    ay: np.ndarray
    bx: np.ndarray
    by: np.ndarray
    ns_x: np.ndarray
    ns_y: np.ndarray
    ne_x: np.ndarray
    ne_y: np.ndarray
    geo_len: np.ndarray


def _part_segments(frame: WorkingFrame, p: int, coords: np.ndarray) -> _Segments:
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
    _, _, seg_geo = GEOD.inv(coords[:-1, 0], coords[:-1, 1], coords[1:, 0], coords[1:, 1])
    return _Segments(x[:-1], y[:-1], x[1:], y[1:], vx[:-1], vy[:-1], vx[1:], vy[1:],
                     np.asarray(seg_geo))


class LineIndex:
    """Nearest-segment queries against a (multi)line in a working frame.

    ``signed_m`` is positive on the left of the line's direction (the order of its vertices),
    negative on the right, the side decided by the vertex pseudo-normal where the nearest
    point is a vertex, and by the end segments' extensions beyond the line's ends.
    """

    #: Point batches at least this large use the candidate grid.
    grid_threshold = 20_000
    #: Points per block in the grid path: the pair temporaries then stay in the CPU cache.
    block = 16_384

    def __init__(self, frame: WorkingFrame, parts_lonlat: list[np.ndarray], *,
                 grid_margin_m: float = 150_000.0, max_cells: int = 300_000) -> None:
        self.frame = frame
        self.parts_lonlat = [np.asarray(c, dtype=float) for c in parts_lonlat]
        parts = [_part_segments(frame, p, coords) for p, coords in enumerate(self.parts_lonlat)]
        cat = np.concatenate
        self.ax, self.ay = cat([s.ax for s in parts]), cat([s.ay for s in parts])
        self.bx, self.by = cat([s.bx for s in parts]), cat([s.by for s in parts])
        self.dx, self.dy = self.bx - self.ax, self.by - self.ay
        self.len2 = self.dx * self.dx + self.dy * self.dy
        self.ns_x, self.ns_y = cat([s.ns_x for s in parts]), cat([s.ns_y for s in parts])
        self.ne_x, self.ne_y = cat([s.ne_x for s in parts]), cat([s.ne_y for s in parts])
        self.geo_len = cat([s.geo_len for s in parts])
        self.chain0 = np.concatenate([[0.0], np.cumsum(self.geo_len)[:-1]])
        self.part = cat([np.full(len(s.ax), p) for p, s in enumerate(parts)])
        self.length_m = float(self.geo_len.sum())
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
    def geometry_xy(self) -> shapely.Geometry:
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
        t: np.ndarray = np.clip(((x - self.ax[seg]) * self.dx[seg] + (y - self.ay[seg]) * self.dy[seg])
                                / self.len2[seg], 0.0, 1.0)
        return t


class _Level(NamedTuple):
    """One level of quadtree cells (lower-left corners and sizes) and its candidate pairs:
    cell ``node[i]`` may have segment ``seg[i]`` nearest."""

    x0: np.ndarray
    y0: np.ndarray
    size: np.ndarray
    node: np.ndarray
    seg: np.ndarray


class _Root(NamedTuple):
    """The uniform grid of root cells: its lower-left corner, cell size and shape."""

    x0: float
    y0: float
    size: float
    nx: int
    ny: int


class _Quadtree:
    """Leaves covering the line's surroundings, each listing the segments that can be nearest.

    A segment can be nearest to a point of a cell with centre ``c`` and half-diagonal ``h``
    only if its distance to ``c`` is at most ``d0 + 2 h``, ``d0`` being the distance from ``c``
    to the line. The set for a child cell is a subset of its parent's, so children are built
    by filtering the parent's candidates, with no further tree queries.
    """

    def __init__(self, x0: np.ndarray, y0: np.ndarray, size: np.ndarray, child: np.ndarray,
                 ptr: np.ndarray, segs: np.ndarray, root: _Root) -> None:
        self.x0, self.y0, self.size, self.child, self.ptr, self.segs = x0, y0, size, child, ptr, segs
        self.root = root

    @classmethod
    def build(cls, li: LineIndex, *, margin_m: float, root_m: float = 8000.0,
              leaf_target: int = 2, min_m: float = 125.0) -> _Quadtree:
        first, d0, root = _root_level(li, margin_m, root_m)

        def to_split(level: _Level, d0: np.ndarray) -> np.ndarray:
            # far from the line, halving a cell barely shrinks its list: stop at d0 / 16
            counts = np.bincount(level.node, minlength=len(level.size))
            return np.flatnonzero((counts > leaf_target) & (level.size > np.maximum(min_m, d0 / 16)))

        levels, splits = [first], [to_split(first, d0)]
        while len(splits[-1]):
            level, dmin = _children(li, levels[-1], splits[-1])
            levels.append(level)
            splits.append(to_split(level, dmin))
        child, ptr, segs = _flatten(levels, splits)
        return cls(np.concatenate([lv.x0 for lv in levels]), np.concatenate([lv.y0 for lv in levels]),
                   np.concatenate([lv.size for lv in levels]), child, ptr, segs, root)

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


def _root_level(li: LineIndex, margin_m: float, root_m: float) -> tuple[_Level, np.ndarray, _Root]:
    """The root cells over the line's extent plus the margin, with their candidates and their
    centres' distances to the line."""
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
    root = _Root(float(x0.min()), float(y0.min()), float(size[0]), nx, ny)
    return _Level(x0, y0, size, node, seg), d0, root


def _children(li: LineIndex, parent: _Level, split: np.ndarray) -> tuple[_Level, np.ndarray]:
    """The four children of each split cell, with the parent's candidates filtered for each,
    and each child centre's distance to the line."""
    x0, y0, size, node, seg = parent
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
    return _Level(cx0, cy0, csize, c_node[keep], c_seg[keep]), dmin


def _flatten(levels: list[_Level], splits: list[np.ndarray]
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The levels as one node table: ``child`` (a split node's first child, else -1), and the
    leaves' candidate segments as ``segs[ptr[node]:ptr[node + 1]]``."""
    offsets = np.cumsum([0] + [len(lv.x0) for lv in levels])
    n_nodes = int(offsets[-1])
    child = np.full(n_nodes, -1, dtype=np.int64)
    leaf_nodes, leaf_segs = [], []
    for k, (level, split) in enumerate(zip(levels, splits)):
        is_split = np.zeros(len(level.x0), dtype=bool)
        if k + 1 < len(levels):
            is_split[split] = True
            child[offsets[k] + split] = offsets[k + 1] + 4 * np.arange(len(split))
        leaf = ~is_split[level.node]
        leaf_nodes.append(offsets[k] + level.node[leaf])
        leaf_segs.append(level.seg[leaf])
    leaf_node = np.concatenate(leaf_nodes)
    leaf_seg = np.concatenate(leaf_segs)
    order = np.lexsort((leaf_seg, leaf_node))
    counts = np.bincount(leaf_node[order], minlength=n_nodes)
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return child, ptr, leaf_seg[order].astype(np.int64)


def _segment_d2(px: np.ndarray, py: np.ndarray, ax: np.ndarray, ay: np.ndarray, dx: np.ndarray,
                dy: np.ndarray, len2: np.ndarray) -> np.ndarray:
    """Squared distance from each point ``p`` to its segment ``a + t d``, ``0 <= t <= 1``."""
    t = ((px - ax) * dx + (py - ay) * dy) / len2
    np.clip(t, 0.0, 1.0, out=t)
    ex = px - ax - t * dx
    ey = py - ay - t * dy
    d2: np.ndarray = ex * ex + ey * ey
    return d2
