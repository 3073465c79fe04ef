"""Tiny simulated days for the hindsight tests, and the search they solve them with."""

from __future__ import annotations

import copy

from simulations.sim.demand import build_world
from simulations.sim.records import SimulationResult
from simulations.sim.scenario import Scenario, parse_scenario
from simulations.sim.simulator import Simulation
from solver import RoutingParams
from tests.simulations.conftest import TINY

#: One search in this process, ended by work: the same plan on every machine.
PARAMS = RoutingParams(
    metaheuristic="greedy_descent", use_vroom=False, isolate=False, workers=1, solution_limit=300
)


def tiny_run(couriers: int, seed: int, policy: str) -> SimulationResult:
    """The tiny scenario's day with ``couriers`` couriers, surge off."""
    data = copy.deepcopy(TINY)
    data["couriers"][0]["count"] = couriers
    tiny: Scenario = parse_scenario(data, source="tiny")
    return Simulation(build_world(tiny, seed), policy=policy, surge=False).run()
