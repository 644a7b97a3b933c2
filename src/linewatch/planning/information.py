"""How well a layout locates: the Fisher information its assets give each demand point (arrival
times and bearings), the Cramér–Rao bound of the layout, and the direction it knows least.

Pure: arrays; no files, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from linewatch.planning.inputs import BEARING_KINDS, TOA_KINDS, AssetType
from linewatch.planning.pairs import Pairs

__all__ = ["SOUND_SPEED_M_S", "FisherTerms", "crlb_of_layout", "fisher_terms", "information", "locating",
           "weak_direction"]

SOUND_SPEED_M_S = 340.0

#: per pair: arrival-time weight ``w`` (1/s²) and the bearing's 2×2 term ``(bxx, bxy, byy)`` (1/m²)
FisherTerms = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def locating(assets: Sequence[AssetType]) -> np.ndarray:
    """Per asset type: does it measure arrival times or bearings (can it help locate)?

    Examples:
        >>> locating([AssetType("m", "microphone", 1, toa_sd_s=0.02), AssetType("c", "camera", 1)]).tolist()
        [True, False]
    """
    return np.array([a.kind in TOA_KINDS and bool(a.toa_sd_s) or
                     a.kind in BEARING_KINDS and bool(a.bearing_sd_deg) for a in assets])


def fisher_terms(pairs: Pairs, assets: Sequence[AssetType], celerity_jitter: float = 0.0,
                 c_m_s: float = SOUND_SPEED_M_S) -> FisherTerms:
    """Per pair, what the asset adds to the point's Fisher information when it hears the event
    (``p ≥ ½``): arrival times ``w`` (1/s²) with the direction ``u`` (for the origin-time
    Schur complement), and bearings as a 2×2 term ``(bxx, bxy, byy)`` (1/m²).

    An arrival time's variance is the pick's plus the path's: a relative sound-speed noise of
    ``celerity_jitter`` over the travel time ``d / c`` (as the simulator draws it), so far
    sensors inform less than near ones."""
    hears = pairs.p >= 0.5
    toa_sd = np.array([a.toa_sd_s if (a.kind in TOA_KINDS and a.toa_sd_s) else np.nan for a in assets])
    brg_sd = np.array([math.radians(a.bearing_sd_deg) if (a.kind in BEARING_KINDS and a.bearing_sd_deg)
                       else np.nan for a in assets])
    sd_t = toa_sd[pairs.a]
    var_t = np.where(np.isfinite(sd_t), sd_t, 1.0) ** 2 + (celerity_jitter * pairs.distance_m / c_m_s) ** 2
    w = np.where(hears & np.isfinite(sd_t), 1.0 / var_t, 0.0)
    sd_b = brg_sd[pairs.a]
    r = np.maximum(pairs.distance_m, 1.0)
    wb = np.where(hears & np.isfinite(sd_b), 1.0 / (r * np.where(np.isfinite(sd_b), sd_b, 1.0)) ** 2, 0.0)
    # a bearing informs the direction across the line of sight: n = (−u_y, u_x)
    nx, ny = -pairs.uy, pairs.ux
    return w, wb * nx * nx, wb * nx * ny, wb * ny * ny


def information(n_points: int, pairs: Pairs, chosen: np.ndarray, terms: FisherTerms,
                c_m_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per demand point, the chosen layout's 2×2 Fisher information ``(fxx, fxy, fyy)`` (1/m²)
    from :func:`fisher_terms`, with the arrival times' unknown origin time profiled out (the
    Schur complement)."""
    w, bxx, bxy, byy = terms
    i = pairs.i[chosen]
    ux, uy, wt = pairs.ux[chosen], pairs.uy[chosen], w[chosen]
    g = 1.0 / c_m_s

    def acc(v: np.ndarray) -> np.ndarray:
        return np.bincount(i, weights=v, minlength=n_points)
    sw = acc(wt)
    sx, sy = acc(wt * ux * g), acc(wt * uy * g)
    fxx = acc(wt * ux * ux * g * g) + acc(bxx[chosen])
    fxy = acc(wt * ux * uy * g * g) + acc(bxy[chosen])
    fyy = acc(wt * uy * uy * g * g) + acc(byy[chosen])
    corr = np.where(sw > 0, 1.0 / np.where(sw > 0, sw, 1.0), 0.0)
    return fxx - sx * sx * corr, fxy - sx * sy * corr, fyy - sy * sy * corr


def crlb_of_layout(n_points: int, pairs: Pairs, chosen: np.ndarray, assets: Sequence[AssetType],
                   c_m_s: float = SOUND_SPEED_M_S, celerity_jitter: float = 0.0) -> np.ndarray:
    """√tr(CRLB) (m) at every demand point for the layout (``chosen``: one bool per pair),
    with the unknown origin time of the arrival times profiled out (inf where unlocatable)."""
    fxx, fxy, fyy = information(n_points, pairs, chosen,
                                fisher_terms(pairs, assets, celerity_jitter, c_m_s), c_m_s)
    with np.errstate(invalid="ignore", divide="ignore"):
        det = fxx * fyy - fxy * fxy
        tr = np.where(det > 1e-30 * np.maximum(fxx * fyy, 1e-300), (fxx + fyy) / det, np.inf)
    return np.sqrt(np.where(tr > 0, tr, np.inf))


def weak_direction(n_points: int, pairs: Pairs, chosen: np.ndarray, terms: FisherTerms,
                   points: np.ndarray, c_m_s: float) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``points``, the unit direction of least information of the chosen layout
    (``terms``: :func:`fisher_terms`)."""
    fxx, fxy, fyy = (f[points] for f in information(n_points, pairs, chosen, terms, c_m_s))
    theta = 0.5 * np.arctan2(2 * fxy, fxx - fyy)      # major axis of the information
    return -np.sin(theta), np.cos(theta)                # its normal: the weakest direction
