"""Simulations: simulated days and MDRP replays through the real engine, and benchmarks.

- ``simulations.sim``: the discrete-event simulator. ``run`` goes from
  ``SimulationOptions`` to outputs (KPIs, report, event log); ``Simulation``
  runs one ``World`` (built by ``build_world`` from a scenario, or by
  ``mdrp_world`` from a Grubhub MDRP instance) under a dispatch policy.
- ``simulations.mdrp``: the MDRP format (instances, solution files, checker).
- ``simulations.bench``: the benchmark harnesses behind ``dispatch bench``.
- ``simulations.load``: the locust load test (run by locust, never imported here).
"""

from simulations.mdrp import MdrpFormatError, MdrpInstance, check, read_instance
from simulations.sim import (
    Scenario,
    ScenarioError,
    Simulation,
    SimulationOptions,
    SimulationResult,
    World,
    build_world,
    compute_kpis,
    load_scenario,
    mdrp_world,
    parse_scenario,
    run,
)

__all__ = [
    "MdrpFormatError",
    "MdrpInstance",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "SimulationOptions",
    "SimulationResult",
    "World",
    "build_world",
    "check",
    "compute_kpis",
    "load_scenario",
    "mdrp_world",
    "parse_scenario",
    "read_instance",
    "run",
]
