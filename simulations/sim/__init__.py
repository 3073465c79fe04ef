"""The discrete-event simulator: simulated days (or MDRP replays) driving the real engine.

``run`` (``simulations.sim.runner``) goes from ``SimulationOptions`` to outputs
(KPIs, report, event log); ``Simulation`` runs one ``World`` under a
``dispatch.policies.DispatchPolicy``. A world comes from a scenario file
(``load_scenario`` then ``build_world``) or from an MDRP instance
(``mdrp_world``). The HTML report (``simulations.sim.report``, matplotlib) is
imported only when one is written.
"""

from simulations.sim.agents import Agent, Leg
from simulations.sim.demand import build_world
from simulations.sim.eventlog import History, read_events, replay, write_events
from simulations.sim.kpis import comparable, compute_kpis
from simulations.sim.recorded import RecordedDemand, read_recorded_demand
from simulations.sim.records import (
    JobRecord,
    OrderRecord,
    QuoteRecord,
    Sample,
    SimulationResult,
    TickRecord,
)
from simulations.sim.replay import mdrp_metrics, mdrp_world, replay_solution
from simulations.sim.runner import (
    REPRODUCIBLE_BUDGET_S,
    REPRODUCIBLE_SOLUTIONS,
    RunOutput,
    SimulationOptions,
    prepare,
    reproducible,
    run,
)
from simulations.sim.scenario import (
    SCENARIO_DIR,
    Scenario,
    ScenarioError,
    available_scenarios,
    load_scenario,
    parse_scenario,
)
from simulations.sim.simulator import Progress, Simulation, surge_off
from simulations.sim.state import SimState
from simulations.sim.world import (
    Behaviour,
    JobArrival,
    Merchant,
    OrderArrival,
    ProfileTravel,
    TravelModel,
    WorkerPlan,
    World,
)

__all__ = [
    "REPRODUCIBLE_BUDGET_S",
    "REPRODUCIBLE_SOLUTIONS",
    "SCENARIO_DIR",
    "Agent",
    "Behaviour",
    "History",
    "JobArrival",
    "JobRecord",
    "Leg",
    "Merchant",
    "OrderArrival",
    "OrderRecord",
    "ProfileTravel",
    "Progress",
    "QuoteRecord",
    "RecordedDemand",
    "RunOutput",
    "Sample",
    "Scenario",
    "ScenarioError",
    "SimState",
    "Simulation",
    "SimulationOptions",
    "SimulationResult",
    "TickRecord",
    "TravelModel",
    "WorkerPlan",
    "World",
    "available_scenarios",
    "build_world",
    "comparable",
    "compute_kpis",
    "load_scenario",
    "mdrp_metrics",
    "mdrp_world",
    "parse_scenario",
    "prepare",
    "read_events",
    "read_recorded_demand",
    "replay",
    "replay_solution",
    "reproducible",
    "run",
    "surge_off",
    "write_events",
]
