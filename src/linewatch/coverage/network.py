"""The mission's network as the coverage model sees it: sensors, outages, camera views, UAV
flights and patrols, checked when built.

- an asset is blind during its **outages**;
- a **camera** sees only inside its field of view (the optical axis ± ``half_fov_deg``) and
  range; a camera without a view in the network is not counted (its direction is unknown);
- a **UAV** sees only while airborne (its **flights**), within the flight's radius of its orbit
  centre (the sensor's position) or of its position along the flight's track; the table's
  ``r50_m`` is the default radius, and nothing is seen beyond the radius;
- a **patrol** is present from the first to the last time of its track, its position
  interpolated in time.

Times are float epoch seconds (UTC), coordinates ``(lon, lat)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from linewatch.coverage.compiled import CompiledNetwork
from linewatch.coverage.curves import ASSET_KINDS, COVERAGE_KINDS, DETECTABILITY, Detectability
from linewatch.geo import WorkingFrame
from linewatch.model import Sensors

__all__ = ["CameraView", "Flight", "Network", "Outage", "Patrol"]

#: Points ``(lon, lat, time_s)`` of a moving asset, times increasing.
Track = tuple[tuple[float, float, float], ...]

#: ``is_a(sensor_id, kind)``: the sensors hold a sensor of that id and kind.
_IsA = Callable[[str, str], bool]


@dataclass(frozen=True)
class Outage:
    """A sensor is down (detects nothing) in ``[start_s, end_s)``; either end may be infinite."""

    sensor_id: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class CameraView:
    """A camera's optical axis (true azimuth), half field of view and range."""

    sensor_id: str
    azimuth_deg: float
    half_fov_deg: float
    range_m: float


@dataclass(frozen=True)
class Flight:
    """A UAV airborne in ``[start_s, end_s)``, watching ``radius_m`` (``None``: the table's
    ``r50_m``) around its orbit centre (the sensor's position) or, with a ``track`` of
    ``(lon, lat, time_s)`` points, around its position along it."""

    sensor_id: str
    start_s: float
    end_s: float
    radius_m: float | None = None
    track: Track = ()


@dataclass(frozen=True)
class Patrol:
    """Monitors moving along a track of ``(lon, lat, time_s)`` points (times increasing)."""

    patrol_id: str
    track: Track


@dataclass(frozen=True, eq=False)
class Network:
    """The sensors with their outages, camera views, UAV flights, and the patrols.

    ``detectability`` overrides entries of :data:`DETECTABILITY` (``None``: none).
    Invalid references raise ``ValueError`` naming the item.
    """

    sensors: Sensors
    outages: tuple[Outage, ...] = ()
    camera_views: tuple[CameraView, ...] = ()
    flights: tuple[Flight, ...] = ()
    patrols: tuple[Patrol, ...] = ()
    detectability: Mapping[tuple[str, str], Detectability] | None = None

    def __post_init__(self) -> None:
        for name in ("outages", "camera_views", "flights", "patrols"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        problems = _check_network(self)
        if problems:
            raise ValueError("invalid network: " + "; ".join(problems[:10])
                             + (f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""))

    @cached_property
    def table(self) -> dict[tuple[str, str], Detectability]:
        """The effective detectability table."""
        return {**DETECTABILITY, **(self.detectability or {})}

    @property
    def frame(self) -> WorkingFrame:
        """The working frame of the network's computations (centred on its assets)."""
        return self._compiled.frame

    @cached_property
    def _compiled(self) -> CompiledNetwork:
        return CompiledNetwork(self.sensors, self.outages, self.camera_views, self.flights,
                               self.patrols, self.table)


def compiled(network: Network) -> CompiledNetwork:
    """The network as columns in its working frame (built once per network)."""
    return network._compiled


# -- checks --------------------------------------------------------------------------------

def _check_network(net: Network) -> list[str]:
    index = net.sensors.index()
    kinds = net.sensors.kind

    def is_a(sensor_id: str, kind: str) -> bool:
        return sensor_id in index and kinds[index[sensor_id]] == kind

    return (_check_outages(net.outages, index) + _check_views(net.camera_views, is_a)
            + _check_flights(net.flights, is_a) + _check_patrols(net.patrols, index)
            + _check_table(net.detectability))


def _check_outages(outages: Sequence[Outage], index: Mapping[str, int]) -> list[str]:
    out = []
    for i, o in enumerate(outages):
        if o.sensor_id not in index:
            out.append(f"outages[{i}]: unknown sensor {o.sensor_id!r}")
        if not o.start_s < o.end_s:
            out.append(f"outages[{i}] ({o.sensor_id}): start_s {o.start_s!r} is not before end_s {o.end_s!r}")
    return out


def _check_views(views: Sequence[CameraView], is_a: _IsA) -> list[str]:
    out = []
    seen: set[str] = set()
    for i, v in enumerate(views):
        if not is_a(v.sensor_id, "camera"):
            out.append(f"camera_views[{i}]: {v.sensor_id!r} is not a camera of the sensors")
        if v.sensor_id in seen:
            out.append(f"camera_views[{i}]: a second view for camera {v.sensor_id!r}")
        seen.add(v.sensor_id)
        if not (math.isfinite(v.azimuth_deg) and 0 < v.half_fov_deg <= 180 and v.range_m > 0):
            out.append(f"camera_views[{i}] ({v.sensor_id}): needs a finite azimuth_deg, half_fov_deg "
                       f"in (0, 180] and range_m > 0, got {v.azimuth_deg!r}, {v.half_fov_deg!r}, {v.range_m!r}")
    return out


def _check_flights(flights: Sequence[Flight], is_a: _IsA) -> list[str]:
    out = []
    for i, f in enumerate(flights):
        if not is_a(f.sensor_id, "uav"):
            out.append(f"flights[{i}]: {f.sensor_id!r} is not a uav of the sensors")
        if not (math.isfinite(f.start_s) and math.isfinite(f.end_s) and f.start_s < f.end_s):
            out.append(f"flights[{i}] ({f.sensor_id}): start_s {f.start_s!r} is not before end_s {f.end_s!r}")
        if f.radius_m is not None and not f.radius_m > 0:
            out.append(f"flights[{i}] ({f.sensor_id}): radius_m must be > 0, got {f.radius_m!r}")
        out += _check_track(f.track, f"flights[{i}] ({f.sensor_id})", allow_empty=True)
    return out


def _check_patrols(patrols: Sequence[Patrol], index: Mapping[str, int]) -> list[str]:
    out = []
    ids: set[str] = set()
    for i, p in enumerate(patrols):
        if p.patrol_id in index or p.patrol_id in ids:
            out.append(f"patrols[{i}]: id {p.patrol_id!r} is already a sensor's or a patrol's")
        ids.add(p.patrol_id)
        out += _check_track(p.track, f"patrols[{i}] ({p.patrol_id})", allow_empty=False)
    return out


def _check_table(table: Mapping[tuple[str, str], Detectability] | None) -> list[str]:
    out = []
    for key, d in (table or {}).items():
        if (not isinstance(key, tuple) or len(key) != 2 or key[0] not in ASSET_KINDS
                or key[1] not in COVERAGE_KINDS or not isinstance(d, Detectability)):
            out.append(f"detectability: bad entry {key!r}: {d!r}")
    return out


def _check_track(track: Track, where: str, *, allow_empty: bool) -> list[str]:
    if not track:
        return [] if allow_empty else [f"{where}: the track has no points"]
    arr = np.asarray(track, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 3 or not np.all(np.isfinite(arr)):
        return [f"{where}: track points must be finite (lon, lat, time_s)"]
    if np.any(np.diff(arr[:, 2]) <= 0):
        return [f"{where}: track times must increase"]
    return []

