"""Simulation: sensor networks and their detections with ground truth, seeded days of reports, scripted allegations.

Core: imports ``agreement``, ``coverage``, ``verification``, ``model``, ``geo`` and ``errors``.
Seeded and deterministic: the same seed gives the same world.
"""

from __future__ import annotations

from linewatch.sim.allegations import ScriptedAllegation, simulate_allegations
from linewatch.sim.network import detectability_from_params, network_from_simulation
from linewatch.sim.reports import Post, generate_day, observation_posts
from linewatch.sim.world import (
    SCENARIOS,
    Layout,
    ScenarioParams,
    SimNetwork,
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
