"""The layout of the line for fusion: the working frame, position along the line (its chainage,
or the sensors' main axis without a line), and the tiles cut along it.

The line is cut into tiles of ``tile_m`` with ``tile_margin_m`` of overlap: a tile's sensors
reach that far past its core, its search ``search_margin_m``. An incident belongs to the tile
whose core holds it (and, with regions, to the region whose core holds it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from linewatch.fusion.candidates import TileGrid
from linewatch.fusion.params import FusionParams
from linewatch.geo import LineIndex, WorkingFrame
from linewatch.model import Sensors

if TYPE_CHECKING:
    from linewatch.agreement import Agreement

__all__ = ["AlongOf", "Layout", "along_function", "frame_for", "pairing_layout"]

#: Position along the line of points ``(x, y)`` in the frame, in metres.
AlongOf = Callable[[np.ndarray, np.ndarray], np.ndarray]


def frame_for(sensors: Sensors, agreement: Agreement | None) -> WorkingFrame:
    """The agreement's frame, or without one a frame centred on the sensors."""
    return agreement.frame if agreement is not None else WorkingFrame.for_lonlat(sensors.lon)


@dataclass(frozen=True)
class Layout:
    """The frame, the agreement and the tiles: sensor masks, and the core edges along; and the
    core of the region they cover (the whole line unless regions are cut)."""

    frame: WorkingFrame
    agreement: Agreement | None
    masks: tuple[np.ndarray, ...]
    inner_edges: np.ndarray            # tile i's core: [edge i-1, edge i), open at both ends
    along_of: AlongOf
    search_margin_m: float
    core: tuple[float, float] = (-math.inf, math.inf)   # the region's core along the line

    def search_grid(self, i: int, grid: TileGrid) -> TileGrid:
        """The part of a tile's grid within ``search_margin_m`` of its core: sources beyond it
        belong to a neighbour and are only searched so far as they compete for this core's
        detections."""
        if len(grid.x) == 0:
            return grid
        along = self.along_of(grid.x, grid.y)
        lo = self.inner_edges[i - 1] if i > 0 else -np.inf
        hi = self.inner_edges[i] if i < len(self.inner_edges) else np.inf
        keep = (along >= lo - self.search_margin_m) & (along <= hi + self.search_margin_m)
        return TileGrid(grid.x[keep], grid.y[keep], grid.expected[keep])

    @classmethod
    def build(cls, sensors: Sensors, frame: WorkingFrame, agreement: Agreement | None,
              params: FusionParams, *, along_of: AlongOf | None = None,
              core: tuple[float, float] = (-math.inf, math.inf)) -> Layout:
        """The tiles of ``params.tile_m`` (and ``tile_margin_m``) over the sensors' extent
        along the line; ``core``: the region's, if the line is cut into regions."""
        sx, sy = (np.asarray(v, float) for v in frame.to_xy(sensors.lon, sensors.lat))
        if along_of is None:
            along_of = along_function(sensors, frame, agreement)
        along = along_of(sx, sy) if len(sx) else np.zeros(0)
        lo, hi = (float(along.min()), float(along.max())) if len(along) else (0.0, 0.0)
        n = max(1, math.ceil((hi - lo) / params.tile_m))
        edges = np.linspace(lo, hi, n + 1)
        masks = tuple((along >= edges[i] - params.tile_margin_m) & (along <= edges[i + 1] + params.tile_margin_m)
                      for i in range(n))
        return cls(frame, agreement, masks, edges[1:-1], along_of, params.search_margin_m, core)

    def tile_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The tile whose core holds each point."""
        tile: np.ndarray = np.searchsorted(self.inner_edges, self.along_of(x, y), side="right")
        return tile

    def owns(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether the region's core holds each point (always, without regions)."""
        if self.core == (-math.inf, math.inf):
            return np.ones(len(np.atleast_1d(x)), bool)
        along = self.along_of(x, y)
        owned: np.ndarray = (along >= self.core[0]) & (along < self.core[1])
        return owned


def along_function(sensors: Sensors, frame: WorkingFrame, agreement: Agreement | None) -> AlongOf:
    """Position along the line (its chainage), or along the sensors' main axis without one."""
    if agreement is not None and agreement.line_index is not None:
        return _Chainage(agreement.line_index, frame)
    sx, sy = (np.asarray(v, float) for v in frame.to_xy(sensors.lon, sensors.lat))
    centre = np.array([sx.mean(), sy.mean()]) if len(sx) else np.zeros(2)
    xy = np.column_stack([sx, sy]) - centre
    axis = np.linalg.svd(xy, full_matrices=False)[2][0] if len(xy) > 1 else np.array([1.0, 0.0])
    return _Axis(float(centre[0]), float(centre[1]), float(axis[0]), float(axis[1]))


@dataclass(frozen=True)
class _Chainage:
    """Chainage along the agreement's line."""

    index: LineIndex
    frame: WorkingFrame

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x, y = np.atleast_1d(x), np.atleast_1d(y)
        return self.index.nearest(x, y, self.frame.to_lonlat(x, y)[1]).chainage_m


@dataclass(frozen=True)
class _Axis:
    """Position along an axis through ``(cx, cy)`` in the direction ``(ax, ay)``."""

    cx: float
    cy: float
    ax: float
    ay: float

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        along: np.ndarray = ((np.atleast_1d(x) - self.cx) * self.ax
                             + (np.atleast_1d(y) - self.cy) * self.ay)
        return along


def pairing_layout(sensors: Sensors, agreement: Agreement | None, params: FusionParams) -> Layout:
    """The whole line's tiles, by which pairing groups the launches."""
    frame = frame_for(sensors, agreement)
    return Layout.build(sensors, frame, agreement, params,
                        along_of=along_function(sensors, frame, agreement))
