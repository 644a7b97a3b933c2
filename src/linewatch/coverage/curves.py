"""Detection curves: how likely an asset of a kind is to detect an event of a kind at a distance.

Every sensor, observation post and patrol ("asset") follows the logistic model the simulator
uses (``linewatch.sim``)::

    p(d) = p_max · (1 − sigmoid((d − r50_m) / width_m))

with the numbers of the table :data:`DETECTABILITY` (per asset kind and event kind;
``docs/coverage.md`` gives the source of every number, or says it is an assumption). Beyond
``r50_m + GATE_WIDTHS · width_m`` nothing is detected (there p < 3.4e-4 · p_max), as in the
simulator.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from linewatch.model import SENSOR_KINDS

__all__ = ["ASSET_KINDS", "COVERAGE_KINDS", "DETECTABILITY", "GATE_WIDTHS", "Detectability", "check_kind",
           "detection_curve"]

#: Sensors (``linewatch.model.SENSOR_KINDS``) and the monitors' patrols.
ASSET_KINDS = (*SENSOR_KINDS, "patrol")

#: Event kinds the coverage model knows: ``linewatch.model.Kind`` values that a sensor or a
#: monitor can detect as they happen, plus the fusion's ``launch`` and ``impact``.
COVERAGE_KINDS = ("explosion", "launch", "impact", "infrastructure_strike", "projectile_in_flight",
                  "muzzle_flash", "illumination_flare", "bursts_and_shots", "weapon_sighting",
                  "aircraft_sighting")

#: Beyond r50 + GATE_WIDTHS · width an asset detects nothing (the simulator's gate).
GATE_WIDTHS = 8.0


@dataclass(frozen=True)
class Detectability:
    """Detection probability against distance: ``p_max · (1 − sigmoid((d − r50_m) / width_m))``.

    ``basis`` says where the numbers come from: ``"simulator"`` (``ScenarioParams``, so that
    the simulator and the coverage model agree) or ``"assumption"`` (an engineering
    assumption, documented in ``docs/coverage.md``), or ``"network file"``.
    """

    p_max: float
    r50_m: float
    width_m: float
    basis: str = "assumption"

    def __post_init__(self) -> None:
        if not 0.0 <= self.p_max <= 1.0:
            raise ValueError(f"p_max must be in [0, 1], got {self.p_max!r}")
        if not self.r50_m >= 0.0 or not self.width_m > 0.0:
            raise ValueError(f"r50_m must be >= 0 and width_m > 0, got {self.r50_m!r}, {self.width_m!r}")


def detection_curve(d: Detectability, distance_m: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``p(distance)`` for one table entry (no field of view, flight or gate).

    Examples:
        >>> mic = Detectability(0.9, 1_000.0, 100.0)
        >>> float(detection_curve(mic, 1_000.0))     # half of p_max at r50
        0.45
        >>> detection_curve(mic, [0.0, 2_000.0]).round(4).tolist()
        [0.9, 0.0]
    """
    dist = np.asarray(distance_m, dtype=float)
    p: npt.NDArray[np.float64] = d.p_max * (1.0 - expit((dist - d.r50_m) / d.width_m))
    return p


def check_kind(kind: str) -> str:
    """The event kind as a string (an enum's value is taken), if the coverage model knows it.

    Examples:
        >>> check_kind("launch")
        'launch'
        >>> check_kind("civilian_casualty")
        Traceback (most recent call last):
        ...
        ValueError: event kind 'civilian_casualty' has no coverage model; expected one of explosion, ...
    """
    k = str(getattr(kind, "value", kind))
    if k not in COVERAGE_KINDS:
        raise ValueError(f"event kind {k!r} has no coverage model; expected one of "
                         f"{', '.join(COVERAGE_KINDS)}")
    return k


def _a(p_max: float, r50_km: float, width_km: float) -> Detectability:
    return Detectability(p_max, r50_km * 1000.0, width_km * 1000.0, "assumption")


#: Engineering assumptions (docs/coverage.md explains each); a missing pair means "cannot
#: detect it" (acoustic sensors do not see flares, sightings or flashes).
_ASSUMED: dict[tuple[str, str], Detectability] = {
    # patrols hear explosions as observation posts do, less attentively and from vehicles
    **{("patrol", k): _a(0.6, 8.0, 2.0) for k in ("launch", "impact", "explosion",
                                                 "infrastructure_strike")},
    # small-arms fire: audible to people at 1-5 km; too faint for artillery-tuned arrays
    ("microphone", "bursts_and_shots"): _a(0.5, 2.0, 0.5),
    ("array", "bursts_and_shots"): _a(0.5, 2.0, 0.5),
    ("observer", "bursts_and_shots"): _a(0.8, 3.0, 1.0),
    ("patrol", "bursts_and_shots"): _a(0.7, 2.0, 0.7),
    ("camera", "bursts_and_shots"): _a(0.3, 2.0, 0.5),
    ("uav", "bursts_and_shots"): Detectability(0.3, 6000.0, 200.0, "assumption"),
    # a muzzle flash is seen, by night, within a few km
    ("observer", "muzzle_flash"): _a(0.6, 5.0, 1.5),
    ("patrol", "muzzle_flash"): _a(0.5, 4.0, 1.0),
    ("camera", "muzzle_flash"): _a(0.7, 5.0, 1.0),
    ("uav", "muzzle_flash"): Detectability(0.6, 6000.0, 200.0, "assumption"),
    # a projectile in flight: seen or heard passing over
    ("observer", "projectile_in_flight"): _a(0.6, 5.0, 1.5),
    ("patrol", "projectile_in_flight"): _a(0.5, 4.0, 1.0),
    ("camera", "projectile_in_flight"): _a(0.5, 4.0, 1.0),
    ("uav", "projectile_in_flight"): Detectability(0.3, 6000.0, 200.0, "assumption"),
    # an illumination flare hangs in the sky and is seen from afar
    ("observer", "illumination_flare"): _a(0.8, 15.0, 3.0),
    ("patrol", "illumination_flare"): _a(0.8, 10.0, 3.0),
    ("camera", "illumination_flare"): _a(0.8, 8.0, 2.0),
    ("uav", "illumination_flare"): Detectability(0.6, 6000.0, 200.0, "assumption"),
    # weapons on the ground: close looks; UAVs are the SMM's main tool for them
    ("observer", "weapon_sighting"): _a(0.5, 2.0, 0.5),
    ("patrol", "weapon_sighting"): _a(0.7, 1.0, 0.3),
    ("camera", "weapon_sighting"): _a(0.6, 3.0, 0.5),
    ("uav", "weapon_sighting"): Detectability(0.8, 6000.0, 200.0, "assumption"),
    # aircraft: heard and seen from far; arrays are not tuned to a continuous engine noise
    ("microphone", "aircraft_sighting"): _a(0.3, 8.0, 2.0),
    ("array", "aircraft_sighting"): _a(0.3, 8.0, 2.0),
    ("observer", "aircraft_sighting"): _a(0.8, 10.0, 2.0),
    ("patrol", "aircraft_sighting"): _a(0.8, 8.0, 2.0),
    ("camera", "aircraft_sighting"): _a(0.5, 6.0, 1.0),
    ("uav", "aircraft_sighting"): Detectability(0.3, 6000.0, 200.0, "assumption"),
}


def _heard(event: str, acoustic_r50_m: float) -> dict[tuple[str, str], Detectability]:
    """The curves for launches and impacts (``explosion``, type unknown, and
    ``infrastructure_strike`` take the impact's, the quieter of the two). The simulator's
    defaults (``linewatch.sim.ScenarioParams``) are these numbers."""
    return {("microphone", event): Detectability(0.95, acoustic_r50_m, 2_000.0, "simulator"),
            ("array", event): Detectability(0.95, acoustic_r50_m, 2_000.0, "simulator"),
            ("observer", event): Detectability(0.7, 10_000.0, 2_000.0, "simulator"),
            ("camera", event): Detectability(0.8, 6_000.0, 700.0, "simulator"),
            # a UAV: a logistic edge 200 m wide at its orbit radius
            ("uav", event): Detectability(0.85, 6_000.0, 200.0, "simulator")}


#: ``(asset kind, event kind) -> Detectability``: the simulator's curves for launches,
#: impacts and explosions, engineering assumptions for the rest.
DETECTABILITY: Mapping[tuple[str, str], Detectability] = {
    **_ASSUMED, **_heard("launch", 15_000.0), **_heard("impact", 10_000.0),
    **_heard("explosion", 10_000.0), **_heard("infrastructure_strike", 10_000.0)}
