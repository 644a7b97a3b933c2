"""The simulator's network as the coverage model sees it: its curves, outages, views and flights.

The simulator depends on the coverage model, not the other way round: its detection
parameters default to the coverage model's curves (:data:`linewatch.coverage.DETECTABILITY`),
and a run's network turns into a :class:`linewatch.coverage.Network` here.
"""

from __future__ import annotations

import numpy as np

from linewatch.coverage import DETECTABILITY, CameraView, Detectability, Flight, Network, Outage
from linewatch.sim.world import ScenarioParams, SimNetwork

__all__ = ["detectability_from_params", "network_from_simulation"]


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
