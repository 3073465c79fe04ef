"""Discrete-event simulation of communities driving the real engine, and MDRP replays.

``simulations.run.run`` goes from options to outputs (KPIs, report, event log);
``Simulation`` runs one ``World`` (built by ``build_world`` from a scenario, or by
``mdrp_world`` from a Grubhub MDRP instance) under a dispatch policy. The report
module (matplotlib) and the load test (locust) are imported on demand.
"""

from simulations.demand import build_world
from simulations.kpis import compute_kpis
from simulations.mdrp import MdrpFormatError, MdrpInstance, mdrp_world, read_instance
from simulations.records import SimulationResult
from simulations.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from simulations.simulator import POLICIES, Simulation
from simulations.world import World

__all__ = [
    "POLICIES",
    "MdrpFormatError",
    "MdrpInstance",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "SimulationResult",
    "World",
    "build_world",
    "compute_kpis",
    "load_scenario",
    "mdrp_world",
    "parse_scenario",
    "read_instance",
]
