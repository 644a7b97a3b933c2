"""Scenarios: what happens in a simulated run, where, and how the sensor network hears it.

A :class:`ScenarioParams` holds every number of a run (the layout of the network, the events,
the propagation, detection and clutter); :data:`SCENARIOS` names a few. The detection
defaults are the coverage model's curves (:data:`linewatch.coverage.DETECTABILITY`), so that
the simulator and the coverage model agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from linewatch.coverage import DETECTABILITY

__all__ = ["HOUR_S", "SCENARIOS", "ScenarioParams", "check_params"]

HOUR_S = 3600.0

#: The coverage model's detection curves: the scenario's detection defaults.
_CURVE = DETECTABILITY


@dataclass(frozen=True)
class ScenarioParams:
    """A scenario: what happens, where, and how the sensor network hears it.

    Distances in km where the name says so, else metres; times in seconds.
    """

    name: str
    duration_s: float
    launch_rate_per_s_per_60km: float     # Poisson launches per second per 60 km of line
    clutter_per_min_per_sensor: float     # false detections per minute per acoustic sensor
    line_from_km: float = 400.0           # the stretch of the line simulated (chainage km)
    line_to_km: float | None = 460.0      # None: to the end of the line
    start_s: float = 1_749_945_600.0      # 2025-06-15T00:00:00Z
    temperature_c: float = 15.0
    wind_m_s: float = 2.0                 # wind speed limit (direction and speed per hour)
    celerity_jitter: float = 0.002        # per-path relative sound-speed noise (0.2 %)
    pick_sd_s: float = 0.02
    clock_bias_sd_s: float = 0.002
    outage_fraction: float = 0.05         # share of sensors down for the whole run
    # -- layout
    acoustic_row_km: float = 4.0
    acoustic_spacing_km: float = 2.5
    #: further rows in depth, as (distance from the line, spacing) in km: they hear impacts
    #: and launches far behind the line that the first row hears too faintly
    depth_rows_km: tuple[tuple[float, float], ...] = ()
    observer_spacing_km: float = 10.0
    observer_back_km: tuple[float, float] = (3.0, 6.0)
    camera_spacing_km: float = 15.0
    camera_back_km: float = 2.0
    camera_range_m: float = 8_000.0
    camera_half_fov_deg: float = 45.0
    uav_spacing_km: float = 30.0
    uav_orbit_km: float = 6.0             # orbit centre's distance from the line
    uav_radius_m: float = _CURVE["uav", "launch"].r50_m
    uav_airborne_share: float = 0.6       # chance a UAV flies a sortie in a given hour
    uav_sortie_s: tuple[float, float] = (900.0, 2400.0)
    # -- events
    launch_offset_km: tuple[float, float] = (3.0, 12.0)
    impact_range_km: tuple[float, float] = (6.0, 18.0)
    impact_spread_deg: float = 30.0
    projectile_speed_m_s: float = 300.0
    # -- detection
    acoustic_p_max: float = _CURVE["microphone", "launch"].p_max
    acoustic_r50_launch_m: float = _CURVE["microphone", "launch"].r50_m   # artillery launches
    acoustic_r50_impact_m: float = _CURVE["microphone", "impact"].r50_m
    acoustic_width_m: float = _CURVE["microphone", "launch"].width_m
    array_bearing_sd_deg: float = 2.0
    observer_p_max: float = _CURVE["observer", "launch"].p_max
    observer_r50_m: float = _CURVE["observer", "launch"].r50_m
    observer_width_m: float = _CURVE["observer", "launch"].width_m
    observer_bearing_sd_deg: float = 5.0
    observer_range_rel_sd: float = 0.3
    observer_time_sd_s: float = 30.0
    camera_p_max: float = _CURVE["camera", "launch"].p_max
    camera_r50_m: float = _CURVE["camera", "launch"].r50_m
    camera_width_m: float = _CURVE["camera", "launch"].width_m
    uav_p_max: float = _CURVE["uav", "launch"].p_max
    fix_sd_m: float = 50.0
    fix_time_sd_s: float = 0.5
    classify_correct: float = 0.9
    other_clutter_factor: float = 0.05    # observers' and cameras' clutter, relative
    block_s: float = 300.0                # generation block (fixes the randomness)

    def to_dict(self) -> dict[str, object]:
        """The parameters as JSON values (tuples become lists).

        Examples:
            >>> d = SCENARIOS["quiet"].to_dict()
            >>> d["name"], d["duration_s"], d["observer_back_km"]
            ('quiet', 3600.0, [3.0, 6.0])
        """
        return {f.name: _as_lists(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ScenarioParams:
        """The parameters of :meth:`to_dict` (unknown keys are ignored).

        Examples:
            >>> ScenarioParams.from_dict(SCENARIOS["quiet"].to_dict()) == SCENARIOS["quiet"]
            True
        """
        names = {f.name for f in fields(cls)}
        return cls(**{k: _as_tuples(v) for k, v in d.items() if k in names})


def _as_lists(v: object) -> object:
    return [_as_lists(x) for x in v] if isinstance(v, tuple) else v


def _as_tuples(v: Any) -> Any:
    """JSON lists as tuples, at every depth (the values are the caller's JSON)."""
    return tuple(_as_tuples(x) for x in v) if isinstance(v, list) else v


#: The named scenarios. ``day-1200km`` is a heavy day of fire along the whole line (0.1
#: launches/s per 60 km, about 172,000 launches, 3 false detections/min per acoustic sensor):
#: with seed 1, 10.28 M detections of which 3.77 M clutter (docs/fusion-formats.md).
SCENARIOS: dict[str, ScenarioParams] = {
    "quiet": ScenarioParams("quiet", HOUR_S, 0.005, 0.1),
    "active": ScenarioParams("active", HOUR_S, 0.01, 1.0),
    "barrage": ScenarioParams("barrage", HOUR_S, 0.1, 1.0),
    "day-1200km": ScenarioParams("day-1200km", 24 * HOUR_S, 0.1, 3.0, line_from_km=0.0,
                                 line_to_km=None),
}


def check_params(p: ScenarioParams) -> None:
    """Refuse a scenario whose rates, noises, duration or block are out of range."""
    problems = []
    if not p.duration_s > 0:
        problems.append(f"duration_s must be positive, got {p.duration_s!r}")
    for name in ("launch_rate_per_s_per_60km", "clutter_per_min_per_sensor", "wind_m_s",
                 "celerity_jitter", "pick_sd_s", "clock_bias_sd_s"):
        if not getattr(p, name) >= 0:
            problems.append(f"{name} must be >= 0, got {getattr(p, name)!r}")
    if not 0 <= p.outage_fraction < 1:
        problems.append(f"outage_fraction must be in [0, 1), got {p.outage_fraction!r}")
    if not p.block_s > 0:
        problems.append(f"block_s must be positive, got {p.block_s!r}")
    if problems:
        raise ValueError(f"scenario {p.name!r}: " + "; ".join(problems))
