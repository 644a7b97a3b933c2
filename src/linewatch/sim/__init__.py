"""Simulation: sensor networks and their detections with ground truth, seeded days of reports, scripted allegations.

Core: imports ``agreement``, ``coverage``, ``verification``, ``model``, ``geo`` and ``errors``
(the simulator builds on the coverage model's curves; coverage never imports ``sim``).
Seeded and deterministic: the same seed gives the same world.

Modules:

- ``scenarios``: :class:`ScenarioParams` (every number of a run) and the named :data:`SCENARIOS`;
- ``streams``: the seeded random streams of a run;
- ``stretch``: the simulated stretch of the agreement's line, and placing points off it;
- ``layout``: the sensors, from the scenario's rows or a given :class:`Layout`;
- ``conditions``: the wind and the UAV sorties, hour by hour;
- ``events``: launches and their impacts across the line;
- ``sensing``: what the sensors report of the events, and their clutter;
- ``network``: the network a run used (:class:`SimNetwork`) and as the coverage model sees it;
- ``world``: runs a scenario, whole (:func:`simulate`) or in time chunks;
- ``reports``: a seeded day of monitoring reports (for the demo);
- ``allegations``: scripted allegations with the verdicts they deserve.
"""

from __future__ import annotations

from linewatch.sim.allegations import ScriptedAllegation, simulate_allegations
from linewatch.sim.layout import Layout
from linewatch.sim.network import SimNetwork, detectability_from_params, network_from_simulation
from linewatch.sim.reports import Post, generate_day, observation_posts
from linewatch.sim.scenarios import SCENARIOS, ScenarioParams
from linewatch.sim.world import (
    SimResult,
    concat_detections,
    concat_truth,
    simulate,
    simulate_chunks,
    simulated_network,
)

__all__ = [
    "Layout",
    "Post",
    "SCENARIOS",
    "ScenarioParams",
    "ScriptedAllegation",
    "SimNetwork",
    "SimResult",
    "concat_detections",
    "concat_truth",
    "detectability_from_params",
    "generate_day",
    "network_from_simulation",
    "observation_posts",
    "simulate",
    "simulate_allegations",
    "simulate_chunks",
    "simulated_network",
]
