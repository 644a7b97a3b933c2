"""The network a simulated run used, and the same network as the coverage model sees it.

:class:`SimNetwork` (``simulated_network(...)`` and ``simulate(...).network``) states what the
run applied: the sensors down for the whole run, each camera's axis, and every UAV sortie; it
draws nothing the detections depend on.

The simulator depends on the coverage model, not the other way round: its detection
parameters default to the coverage model's curves (:data:`linewatch.coverage.DETECTABILITY`),
and a run's network turns into a :class:`linewatch.coverage.Network` here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from linewatch.coverage import DETECTABILITY, CameraView, Detectability, Flight, Network, Outage
from linewatch.model import Sensors
from linewatch.sim.scenarios import ScenarioParams

__all__ = ["SimNetwork", "detectability_from_params", "network_from_simulation"]


@dataclass(frozen=True, eq=False)
class SimNetwork:
    """The network a run used, as the coverage model needs it (it becomes a
    :class:`linewatch.coverage.Network` with :func:`network_from_simulation`).

    Exactly what the simulator applies: the sensors that are down (silent) for the whole run,
    each camera's optical axis (its field of view and range are ``params.camera_half_fov_deg``
    and ``params.camera_range_m``), and every UAV sortie (a UAV sees only while airborne,
    within ``params.uav_radius_m`` of its orbit centre, the sensor's position). Times are epoch
    seconds (UTC). ``run_end_s`` is the latest time an event can happen: the end of the run
    plus the longest time of flight (impacts come after their launches).
    """

    sensors: Sensors
    params: ScenarioParams
    down: np.ndarray                  # bool per sensor
    run_start_s: float
    run_end_s: float
    camera_azimuth_deg: np.ndarray    # per sensor: true azimuth of a camera's axis, else NaN
    flight_sensor: np.ndarray         # per sortie: index of its UAV in ``sensors``
    flight_start_s: np.ndarray
    flight_end_s: np.ndarray


def _launch_impact(params: ScenarioParams) -> dict[tuple[str, str], Detectability]:
    """The simulator's curves for launches and impacts; ``explosion`` (type unknown) and
    ``infrastructure_strike`` take the impact's, the quieter of the two."""
    out: dict[tuple[str, str], Detectability] = {}
    for event, acoustic_r50 in (("launch", params.acoustic_r50_launch_m),
                                ("impact", params.acoustic_r50_impact_m),
                                ("explosion", params.acoustic_r50_impact_m),
                                ("infrastructure_strike", params.acoustic_r50_impact_m)):
        for sensor in ("microphone", "array"):
            out[sensor, event] = Detectability(params.acoustic_p_max, acoustic_r50,
                                               params.acoustic_width_m, "simulator")
        out["observer", event] = Detectability(params.observer_p_max, params.observer_r50_m,
                                               params.observer_width_m, "simulator")
        out["camera", event] = Detectability(params.camera_p_max, params.camera_r50_m,
                                             params.camera_width_m, "simulator")
        # the simulator's UAV: a logistic edge 200 m wide at its orbit radius
        out["uav", event] = Detectability(params.uav_p_max, params.uav_radius_m, 200.0, "simulator")
    return out


def detectability_from_params(params: ScenarioParams) -> dict[tuple[str, str], Detectability]:
    """The coverage table with the launch, impact and explosion curves of a scenario."""
    return {**DETECTABILITY, **_launch_impact(params)}


def network_from_simulation(sim: SimNetwork) -> Network:
    """The :class:`Network` a simulator run used, with the detectability of its parameters."""
    p = sim.params
    ids = sim.sensors.ids
    outages = tuple(Outage(str(ids[i]), sim.run_start_s, sim.run_end_s)
                    for i in np.flatnonzero(sim.down))
    views = tuple(CameraView(str(ids[i]), float(sim.camera_azimuth_deg[i]), p.camera_half_fov_deg,
                             p.camera_range_m)
                  for i in np.flatnonzero(sim.sensors.kind == "camera"))
    order = np.lexsort((sim.flight_start_s, sim.flight_sensor))
    flights = tuple(Flight(str(ids[sim.flight_sensor[k]]), float(sim.flight_start_s[k]),
                           float(sim.flight_end_s[k]), p.uav_radius_m) for k in order)
    own = detectability_from_params(p)
    overrides = {k: v for k, v in own.items() if DETECTABILITY.get(k) != v}
    return Network(sim.sensors, outages, views, flights, (), overrides or None)
