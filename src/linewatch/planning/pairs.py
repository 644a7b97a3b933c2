"""Which asset type at which candidate site detects an event at which demand point, and how
likely: the sparse table the whole programme is built from.

Pure: arrays in the agreement's working frame; no files, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.spatial import cKDTree

from linewatch.coverage import detection_curve
from linewatch.geo import WorkingFrame
from linewatch.planning.inputs import OPTICAL, AssetType, Points

__all__ = ["MIN_P", "P_CAP", "Pairs", "make_pairs", "miss_weight"]

MIN_P = 0.01            # pairs less likely than this are left out of the model
P_CAP = 0.999           # −ln(1 − p) is bounded: no single asset is certain


@dataclass(frozen=True)
class Pairs:
    """Every (demand point, site, asset type) whose detection probability is at least 1 %:
    COO columns, with the unit vector from the site to the point and their distance."""

    i: np.ndarray
    s: np.ndarray
    a: np.ndarray
    p: np.ndarray
    distance_m: np.ndarray
    ux: np.ndarray
    uy: np.ndarray

    def __len__(self) -> int:
        return len(self.i)


def miss_weight(p: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``−ln(1 − p)`` with ``p`` capped at :data:`P_CAP`: independent detections add up.

    Examples:
        >>> miss_weight([0.0, 0.5, 1.0]).round(3).tolist()
        [0.0, 0.693, 6.908]
    """
    return -np.log1p(-np.minimum(np.asarray(p, dtype=np.float64), P_CAP))


def make_pairs(demand: Points, sites: Points, assets: Sequence[AssetType], event_kind: str,
               *, visible: sp.spmatrix | sp.sparray | npt.ArrayLike | None = None) -> Pairs:
    """The detection probability of each asset type at each site for each demand point.

    ``visible`` (a sparse sites × demand boolean matrix, optional) masks optical assets by
    line of sight; acoustic assets are not blocked by terrain."""
    curves = [a.curve(event_kind) for a in assets]
    reach = max((c.r50_m + 6 * c.width_m for c in curves if c is not None), default=0.0)
    if reach <= 0 or len(demand) == 0 or len(sites) == 0:
        z = np.zeros(0)
        return Pairs(z.astype(int), z.astype(int), z.astype(int), z, z, z, z)
    tree = cKDTree(np.column_stack([sites.x, sites.y]))
    lists = tree.query_ball_point(np.column_stack([demand.x, demand.y]), r=reach)
    counts = np.fromiter((len(v) for v in lists), int, len(lists))
    ii = np.repeat(np.arange(len(demand)), counts)
    ss = np.fromiter((j for v in lists for j in v), int, int(counts.sum()))
    dx, dy = demand.x[ii] - sites.x[ss], demand.y[ii] - sites.y[ss]
    d_proj = np.hypot(dx, dy)
    # frame distance to geodesic: the point scale factor at the pair's mid-point
    kmid = WorkingFrame.scale_factor(0.5 * (demand.x[ii] + sites.x[ss]), 0.5 * (demand.lat[ii] + sites.lat[ss]))
    dist = d_proj / kmid
    with np.errstate(invalid="ignore", divide="ignore"):
        ux = np.where(d_proj > 0, dx / d_proj, 0.0)
        uy = np.where(d_proj > 0, dy / d_proj, 0.0)
    vis = None
    if visible is not None:
        vis = np.asarray(sp.csr_matrix(visible)[ss, ii]).ravel().astype(bool)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("i", "s", "a", "p", "d", "ux", "uy")}
    for a_idx, (asset, curve) in enumerate(zip(assets, curves)):
        if curve is None:
            continue
        p = detection_curve(curve, dist)
        if vis is not None and asset.kind in OPTICAL:
            p = np.where(vis, p, 0.0)
        keep = p >= MIN_P
        for k, v in (("i", ii), ("s", ss), ("p", p), ("d", dist), ("ux", ux), ("uy", uy)):
            cols[k].append(v[keep])
        cols["a"].append(np.full(int(keep.sum()), a_idx))
    cat = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in cols.items()}
    return Pairs(cat["i"].astype(int), cat["s"].astype(int), cat["a"].astype(int), cat["p"],
                 cat["d"], cat["ux"], cat["uy"])
