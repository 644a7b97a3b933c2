"""Candidates by back-projection: every arrival time votes for the origin times it implies.

Each arrival-time detection votes, in every cell of the tile's grid within reach of its sensor
(and, for an array, in the direction its bearing points), for the origin time it implies there
(its time less the travel time from the cell). Votes are counted in origin-time bins of
``stack_bin_s``; a cell-bin's score is its votes over three adjacent bins. Candidates are the
local maxima over 3 × 3 cells and ± one bin whose score reaches the floor: a source heard by
``k`` sensors scores about ``k`` at its cell, while clutter, spread over every cell and time,
rarely adds up there.

This replaces a search window by window: the stack of one block is built once, by chunks of
detections (``np.bincount``), and its peaks are found among the cell-bins that reach the floor
(:func:`local_maxima`).
"""

from __future__ import annotations

import math

import numpy as np

from linewatch.fusion.candidates import Geometry, TileGrid
from linewatch.fusion.columns import Prepared
from linewatch.fusion.kernels import stack_votes
from linewatch.fusion.params import FusionParams

__all__ = ["local_maxima", "stack_candidates"]

def stack_candidates(p: Prepared, rows: np.ndarray, grid: TileGrid, geo: Geometry, c: float,
                     params: FusionParams, t_lo: float, t_hi: float, floor: int) -> np.ndarray:
    """The candidates with an origin time in ``[t_lo, t_hi)``: rows of (score, x, y, t0),
    strongest first (ties by place and time, so the order does not depend on the input's).

    ``rows`` are the detections that may vote (sorted by time); ``geo`` the grid-to-sensor
    geometry of the block (:class:`~linewatch.fusion.candidates.Geometry`).
    """
    toa = rows[p.toa[rows]]
    if len(toa) < floor or len(grid.x) == 0:
        return np.zeros((0, 4))
    bin_s = params.stack_bin_s
    nb = max(1, int(math.ceil((t_hi - t_lo) / bin_s)))
    cols = np.searchsorted(geo.sensors, p.sensor[toa])
    hist = stack_votes(p.t[toa], cols, p.bearing[toa], p.bearing_sd[toa], geo, t_lo, bin_s, nb,
                       compiled=params.compiled)
    votes = hist.reshape(len(grid.x), nb)
    score = votes.copy()
    score[:, 1:] += votes[:, :-1]
    score[:, :-1] += votes[:, 1:]
    cell, b = local_maxima(score, grid, params.grid_m, floor)
    if len(cell) == 0:
        return np.zeros((0, 4))
    out = np.column_stack([score[cell, b], grid.x[cell], grid.y[cell], t_lo + (b + 0.5) * bin_s]).astype(float)
    return out[np.lexsort((out[:, 3], out[:, 2], out[:, 1], -out[:, 0]))]


def local_maxima(score: np.ndarray, grid: TileGrid, grid_m: float, floor: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The (cell, bin) of the strict local maxima of ``score`` (cells × bins) over 3 × 3 cells
    and ± one bin that reach ``floor``. Ties are broken by position (the cell on the grid's
    rectangle, then the bin), so a plateau of equal scores gives one candidate. Only the
    cell-bins that reach the floor are looked at, against their 26 neighbours: the same peaks
    as a maximum filter over the whole rectangle (``tests/test_fusion_search.py``), at a
    fraction of its cost.

    >>> g = TileGrid(np.array([0.0, 1000.0, 2000.0]), np.zeros(3), np.ones(3))
    >>> s = np.array([[0, 3, 0], [0, 5, 5], [1, 0, 0]])
    >>> [(int(c), int(b)) for c, b in zip(*local_maxima(s, g, 1000.0, 3))]
    [(1, 2)]
    """
    n_cells, nb = score.shape
    cand_c, cand_b = np.nonzero(score >= floor)
    if len(cand_c) == 0:
        return cand_c, cand_b
    ix = np.rint((grid.x - grid.x.min()) / grid_m).astype(np.int64)
    iy = np.rint((grid.y - grid.y.min()) / grid_m).astype(np.int64)
    nx, ny = int(ix.max()) + 1, int(iy.max()) + 1
    at = np.full((nx + 2, ny + 2), -1, np.int64)          # the cell at a place (-1: none)
    at[ix + 1, iy + 1] = np.arange(n_cells)
    size = nx * ny * nb

    def key(c: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Score first, then position on the rectangle (0 outside the grid or its bins)."""
        inside = (c >= 0) & (b >= 0) & (b < nb)
        cc, bb = np.where(inside, c, 0), np.clip(b, 0, nb - 1)
        k = score[cc, bb] * size + (ix[cc] * ny + iy[cc]) * nb + bb
        return np.where(inside, k, -1)

    own = key(cand_c, cand_b)
    peak = np.ones(len(cand_c), bool)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            nbr = at[ix[cand_c] + 1 + dx, iy[cand_c] + 1 + dy]
            for db in (-1, 0, 1):
                if dx or dy or db:
                    peak &= own > key(nbr, cand_b + db)
    return cand_c[peak], cand_b[peak]
