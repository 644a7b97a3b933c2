"""Candidates by back-projection: every arrival time votes for the origin times it implies.

Each arrival-time detection votes, in every cell of the tile's grid within reach of its sensor
(and, for an array, in the direction its bearing points), for the origin time it implies there
(its time less the travel time from the cell). Votes are counted in origin-time bins of
``stack_bin_s``; a cell-bin's score is its votes over three adjacent bins. Candidates are the
local maxima over 3 × 3 cells and ± one bin whose score reaches the floor: a source heard by
``k`` sensors scores about ``k`` at its cell, while clutter, spread over every cell and time,
rarely adds up there.

This replaces a search window by window: the stack of one block is built once, by chunks of
detections (``np.bincount``), and its peaks are found by one maximum filter
(``scipy.ndimage``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import maximum_filter

from linewatch.fusion.candidates import Geometry, TileGrid
from linewatch.fusion.columns import Prepared
from linewatch.fusion.params import FusionParams

__all__ = ["stack_candidates"]

#: detections voting together: bounds the (cells × detections) arrays of a chunk
_CHUNK = 256


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
    hist = np.zeros(len(grid.x) * nb, np.int64)
    for a in range(0, len(toa), _CHUNK):
        hist += _votes(p, toa[a:a + _CHUNK], geo, t_lo, bin_s, nb)
    votes = hist.reshape(len(grid.x), nb)
    score = votes.copy()
    score[:, 1:] += votes[:, :-1]
    score[:, :-1] += votes[:, 1:]
    # the cells on their rectangle, so that neighbours are neighbours in the array
    g = params.grid_m
    ix = np.rint((grid.x - grid.x.min()) / g).astype(np.int64)
    iy = np.rint((grid.y - grid.y.min()) / g).astype(np.int64)
    cube = np.zeros((int(ix.max()) + 1, int(iy.max()) + 1, nb), np.int64)
    cube[ix, iy] = score
    # strict local maxima: ties within a neighbourhood broken by position, so that a plateau
    # of equal scores gives one candidate, not one per cell and bin
    key = cube * cube.size + np.arange(cube.size).reshape(cube.shape)
    peak = (key == maximum_filter(key, size=3, mode="constant", cval=0)) & (cube >= floor)
    cx, cy, b = np.nonzero(peak)
    if len(cx) == 0:
        return np.zeros((0, 4))
    x = grid.x.min() + cx * g
    y = grid.y.min() + cy * g
    out = np.column_stack([cube[cx, cy, b], x, y, t_lo + (b + 0.5) * bin_s]).astype(float)
    return out[np.lexsort((out[:, 3], out[:, 2], out[:, 1], -out[:, 0]))]


def _votes(p: Prepared, toa: np.ndarray, geo: Geometry, t_lo: float, bin_s: float,
           nb: int) -> np.ndarray:
    """The votes of some arrival times, as counts over (cell, origin-time bin)."""
    cols, ok = geo.reachable(p, toa)
    bins = np.floor((p.t[toa][None, :] - geo.travel_s[:, cols] - t_lo) / bin_s).astype(np.int64)
    ok &= (bins >= 0) & (bins < nb)
    gi, di = np.nonzero(ok)
    counts: np.ndarray = np.bincount(gi * nb + bins[gi, di], minlength=len(geo.travel_s) * nb)
    return counts
