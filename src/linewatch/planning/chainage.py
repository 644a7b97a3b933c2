"""One-dimensional helpers along the line's chainage: runs of flagged points, the blocks of a
rolling solve, and which positions lie near others.

Pure: arrays; no files, no clock.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["blocks", "runs_km", "within"]


def runs_km(chainage_m: np.ndarray, flagged: np.ndarray, gap_m: float) -> list[tuple[float, float]]:
    """Contiguous runs (chainage km, rounded to 0.1) of the ``flagged`` points; runs closer
    than ``gap_m`` merge.

    Examples:
        >>> ch = np.array([1000.0, 2000.0, 3000.0, 9000.0, 12000.0])
        >>> runs_km(ch, np.array([True, True, False, True, True]), 4000.0)
        [(1.0, 2.0), (9.0, 12.0)]
        >>> runs_km(ch, np.zeros(5, bool), 4000.0)
        []
    """
    ch = np.sort(chainage_m[flagged])
    if len(ch) == 0:
        return []
    out = [[ch[0], ch[0]]]
    for c in ch[1:]:
        if c - out[-1][1] <= gap_m:
            out[-1][1] = c
        else:
            out.append([c, c])
    return [(round(float(a) / 1000, 1), round(float(b) / 1000, 1)) for a, b in out]


def within(x: npt.ArrayLike, centres: npt.ArrayLike, radius: float) -> npt.NDArray[np.bool_]:
    """Which of ``x`` lie within ``radius`` of one of ``centres`` (1-D).

    Examples:
        >>> within([0.0, 4.0, 10.0, 21.0], [5.0, 20.0], 1.5).tolist()
        [False, True, False, True]
    """
    x = np.asarray(x, float)
    c = np.sort(np.asarray(centres, float))
    j = np.clip(np.searchsorted(c, x), 1, len(c) - 1) if len(c) > 1 else np.zeros(len(x), int)
    d: npt.NDArray[np.float64] = np.minimum(np.abs(x - c[j]), np.abs(x - c[np.maximum(j - 1, 0)]))
    return d <= radius


def blocks(chainage_m: np.ndarray, block_m: float) -> list[tuple[float, float]]:
    """Equal blocks of about ``block_m`` that cover the chainages, ``[from, to)`` metres.

    Examples:
        >>> blocks(np.array([0.0, 99_999.0]), 50_000.0)
        [(0.0, 50000.0), (50000.0, 100000.0)]
    """
    lo, hi = float(chainage_m.min()), float(chainage_m.max()) + 1.0
    n = max(1, int(round((hi - lo) / block_m)))
    edges = np.linspace(lo, hi, n + 1)
    return [(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:])]
