"""Compiled inner loops of fusion, each with a numpy twin that gives the same result.

The back-projection's votes (:func:`stack_votes`) are the engine's hottest loop: every arrival
time votes in every cell within reach of its sensor. numpy does it on (cells × detections)
arrays, most of whose entries are out of reach; the compiled loop (numba, ``cache=True`` so a
process compiles it once per machine) visits each pair once, with no temporary arrays. Both
compute the same floating-point expressions in the same order, so their votes are equal
(``tests/test_fusion_kernels.py``). Without numba the numpy twin runs.

>>> import numpy as np
>>> from linewatch.fusion.candidates import Geometry
>>> geo = Geometry(np.array([0]), np.array([[1.0], [2.0]]), np.array([[True], [True]]),
...                np.zeros((2, 1)), np.zeros((2, 1)))
>>> t, cols = np.array([5.2]), np.array([0])
>>> nan = np.array([np.nan])
>>> stack_votes(t, cols, nan, nan, geo, 0.0, 1.0, 6, compiled=False).reshape(2, 6)[:, 3:5]
array([[0, 1],
       [1, 0]])
>>> bool((stack_votes(t, cols, nan, nan, geo, 0.0, 1.0, 6, compiled=True)
...       == stack_votes(t, cols, nan, nan, geo, 0.0, 1.0, 6, compiled=False)).all())
True
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from linewatch.fusion.candidates import Geometry

__all__ = ["compiled_available", "stack_votes"]

_CHUNK = 256


def compiled_available() -> bool:
    """Whether the compiled loops run here (numba is installed and compiles)."""
    return _kernel() is not None


def stack_votes(t: np.ndarray, cols: np.ndarray, bearing: np.ndarray, bearing_sd: np.ndarray,
                geo: Geometry, t_lo: float, bin_s: float, nb: int, *,
                compiled: bool = True) -> np.ndarray:
    """The votes of arrival times ``t`` (their sensors' columns ``cols`` in ``geo``, their
    bearings, NaN for none) as counts over (cell, origin-time bin), flattened cell-major:
    a detection votes in every cell within range of its sensor (and, with a bearing, where it
    points: 3 σ and the cell's own angle) for the bin of the origin time it implies there."""
    n_cells = geo.travel_s.shape[0]
    kernel = _kernel() if compiled else None
    hist = np.zeros(n_cells * nb, np.int64)
    if kernel is not None:
        kernel(t, cols, bearing, bearing_sd, np.ascontiguousarray(geo.travel_s.T),
               np.ascontiguousarray(geo.within.T), np.ascontiguousarray(geo.azimuth.T),
               np.ascontiguousarray(geo.slack.T), t_lo, bin_s, nb, hist)
        return hist
    for a in range(0, len(t), _CHUNK):
        hist += _votes_numpy(t[a:a + _CHUNK], cols[a:a + _CHUNK], bearing[a:a + _CHUNK],
                             bearing_sd[a:a + _CHUNK], geo, t_lo, bin_s, nb)
    return hist


def _votes_numpy(t: np.ndarray, cols: np.ndarray, bearing: np.ndarray, bearing_sd: np.ndarray,
                 geo: Geometry, t_lo: float, bin_s: float, nb: int) -> np.ndarray:
    ok = geo.mask(cols, bearing, bearing_sd)
    bins = np.floor((t[None, :] - geo.travel_s[:, cols] - t_lo) / bin_s).astype(np.int64)
    ok &= (bins >= 0) & (bins < nb)
    gi, di = np.nonzero(ok)
    counts: np.ndarray = np.bincount(gi * nb + bins[gi, di], minlength=geo.travel_s.shape[0] * nb)
    return counts


@functools.cache
def _kernel() -> Callable[..., Any] | None:
    """The compiled votes loop, built on first use (None without numba)."""
    return _build()


def _build() -> Callable[..., Any] | None:
    try:
        import numba
    except ImportError:
        return None
    two_pi = 2.0 * math.pi

    @numba.njit(cache=True, nogil=True)
    def votes(t: np.ndarray, cols: np.ndarray, bearing: np.ndarray, bearing_sd: np.ndarray,
              travel: np.ndarray, within: np.ndarray, azimuth: np.ndarray, slack: np.ndarray,
              t_lo: float, bin_s: float, nb: int, hist: np.ndarray
              ) -> None:  # pragma: no cover - compiled; its equality with numpy is tested
        n_cells = travel.shape[1]
        for j in range(t.shape[0]):
            c = cols[j]
            b = bearing[j]
            has_b = not np.isnan(b)
            for g in range(n_cells):
                if not within[c, g]:
                    continue
                if has_b:                  # Geometry.mask, cell by cell
                    miss = b - azimuth[c, g]
                    miss -= two_pi * np.rint(miss / two_pi)
                    if not abs(miss) <= 3.0 * bearing_sd[j] + slack[c, g]:
                        continue
                k = math.floor((t[j] - travel[c, g] - t_lo) / bin_s)
                if 0 <= k < nb:
                    hist[g * nb + k] += 1
    return votes
