"""Coverage along a line: the share of its length the network watches, hour by hour."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import shapely

from linewatch.coverage.compiled import Floats
from linewatch.coverage.curves import check_kind
from linewatch.coverage.evaluate import evaluate, frame_points, time_samples
from linewatch.coverage.network import Network
from linewatch.geo import GEOD, densify_geodesic

__all__ = ["hourly_line_coverage", "line_coverage", "line_samples"]

_HOUR = 3600.0

#: A line: a shapely ``LineString``/``MultiLineString`` in lon/lat, or a sequence of ``(n, 2)``
#: lon/lat arrays (an agreement's ``line_parts``).
Line: TypeAlias = "shapely.Geometry | Sequence[npt.ArrayLike]"


def line_samples(line: Line, spacing_m: float = 1000.0) -> tuple[Floats, Floats, Floats]:
    """Points along a line at a geodesic spacing: ``(lon, lat, length_m)``, each point the
    middle of a piece of the given length (equal pieces per part, at most ``spacing_m``).

    ``line`` is a shapely ``LineString``/``MultiLineString`` in lon/lat or a sequence of
    ``(n, 2)`` lon/lat arrays (an agreement's ``line_parts``).

    Examples:
        >>> lon, lat, length = line_samples([[(36.0, 48.0), (36.1, 48.0)]], 2_000.0)
        >>> len(lon), round(float(length.sum()))       # four pieces of the 7.46 km line
        (4, 7463)
        >>> lon.round(4).tolist()
        [36.0125, 36.0375, 36.0625, 36.0875]
    """
    if not spacing_m > 0:
        raise ValueError(f"spacing_m must be positive, got {spacing_m!r}")
    parts = _line_parts(line)
    lons, lats, lens = [], [], []
    for coords in parts:
        dense = densify_geodesic(coords, min(spacing_m / 4.0, 500.0))
        _, _, seg = GEOD.inv(dense[:-1, 0], dense[:-1, 1], dense[1:, 0], dense[1:, 1])
        cum = np.concatenate([[0.0], np.cumsum(np.asarray(seg, float))])
        total = float(cum[-1])
        if total <= 0:
            continue
        n = max(1, int(math.ceil(total / spacing_m - 1e-9)))
        s = (np.arange(n) + 0.5) * total / n
        lons.append(np.interp(s, cum, dense[:, 0]))
        lats.append(np.interp(s, cum, dense[:, 1]))
        lens.append(np.full(n, total / n))
    if not lons:
        raise ValueError("the line has no length")
    return np.concatenate(lons), np.concatenate(lats), np.concatenate(lens)


def _line_parts(line: Line) -> list[Floats]:
    if isinstance(line, shapely.Geometry):
        if line.geom_type not in ("LineString", "MultiLineString") or line.is_empty:
            raise ValueError(f"line must be a LineString or MultiLineString, got {line.geom_type}")
        return [np.asarray(g.coords)[:, :2] for g in shapely.get_parts(line)]
    parts = [np.asarray(p, float) for p in line]
    if not parts or any(p.ndim != 2 or p.shape[1] != 2 or len(p) < 2 for p in parts):
        raise ValueError("line must be a shapely line or a sequence of (n, 2) lon/lat arrays")
    return parts


def _line_shares(network: Network, line: Line, windows: Iterable[tuple[float, float]], kind: str,
                 threshold: float, spacing_m: float, step_s: float) -> Floats:
    kind = check_kind(kind)
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    lon, lat, length = line_samples(line, spacing_m)
    pts = frame_points(network, lon, lat)
    samples = [time_samples(network, a, z, step_s) for a, z in windows]
    times = np.concatenate([t for t, _ in samples])
    ev = evaluate(network, pts, times, np.ones(len(times)), kind)
    covered = (ev.prob >= threshold) @ length / length.sum()       # per time sample
    out, i = [], 0
    for t, w in samples:
        out.append(float(w @ covered[i:i + len(t)]))
        i += len(t)
    return np.array(out)


def line_coverage(network: Network, line: Line, hour_start_s: float, kind: str, *,
                  threshold: float = 0.5, spacing_m: float = 1000.0, step_s: float = 300.0,
                  duration_s: float = _HOUR) -> float:
    """The share of the line's length where P(detect) ≥ ``threshold``, averaged over the hour
    (or ``duration_s``) from ``hour_start_s``: length and time both count."""
    return float(_line_shares(network, line, [(hour_start_s, hour_start_s + duration_s)], kind,
                              threshold, spacing_m, step_s)[0])


def hourly_line_coverage(network: Network, line: Line, day_start_s: float, kind: str, *,
                         hours: int = 24, threshold: float = 0.5, spacing_m: float = 1000.0,
                         step_s: float = 300.0) -> Floats:
    """:func:`line_coverage` for each of ``hours`` hours from ``day_start_s``: shape (hours,)."""
    windows = [(day_start_s + h * _HOUR, day_start_s + (h + 1) * _HOUR) for h in range(hours)]
    return _line_shares(network, line, windows, kind, threshold, spacing_m, step_s)
