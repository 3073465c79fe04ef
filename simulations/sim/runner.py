"""One call from options to outputs: build the world, run it, write the files.

Used by ``dispatch simulate`` / ``dispatch demo`` and by the benchmarks.
Outputs in ``out_dir``: ``kpis.json``, ``report.html``, ``events.jsonl`` and,
for an MDRP replay with ``mdrp_solution``, the three solution files.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dispatch.policies import DispatchPolicy
from dispatch.surge import RuleSet, load_rules
from simulations.mdrp.instance import MdrpInstance, read_instance
from simulations.mdrp.solution import write_solution
from simulations.sim.demand import build_world
from simulations.sim.eventlog import write_events
from simulations.sim.kpis import compute_kpis
from simulations.sim.records import SimulationResult
from simulations.sim.replay import mdrp_metrics, mdrp_world, replay_solution
from simulations.sim.scenario import Scenario, load_scenario
from simulations.sim.simulator import Progress, Simulation
from simulations.sim.world import World

log = logging.getLogger(__name__)

#: Reproducible runs: most improving plans per tick search, and the budget only a
#: stuck search reaches (busy ticks of the default scenario converge in ~2-3 s).
REPRODUCIBLE_SOLUTIONS = 100
REPRODUCIBLE_BUDGET_S = 60.0


@dataclass(frozen=True)
class SimulationOptions:
    scenario: str | Path | Scenario = "default"  # a shipped name, a file, or a Scenario
    seed: int = 0
    policy: DispatchPolicy | str = "optimizer"  # a policy, or its name in dispatch.policies
    surge: bool = True
    rules: Path | None = None
    hours: float | None = None
    out_dir: Path | None = None
    mdrp: Path | None = None
    mdrp_solution: Path | None = None
    solver_budget_s: float | None = None  # overrides the community's budget
    reproducible: bool = False  # searches end by work, not by the clock: same KPIs every run
    write_events: bool = True
    report: bool = True


@dataclass
class RunOutput:
    result: SimulationResult
    kpis: dict[str, Any]
    mdrp: dict[str, Any] | None = None
    files: dict[str, Path] = field(default_factory=dict)


def prepare(options: SimulationOptions) -> tuple[World, RuleSet | None, MdrpInstance | None]:
    """The world to run (a scenario day or an MDRP replay) and the surge rules."""
    rules = load_rules(options.rules) if options.rules is not None else None
    world, inst = _world(options)
    if options.reproducible:
        world = reproducible(world)
    return world, rules, inst


def reproducible(world: World) -> World:
    """The world with every tick's search ended by work instead of by the clock.

    With a wall-clock budget, a busy tick's search stops wherever the clock finds
    it, so two runs of one seed can differ. Here each search runs to a local
    optimum or ``REPRODUCIBLE_SOLUTIONS`` improving plans, whichever comes first,
    under a budget (``REPRODUCIBLE_BUDGET_S``) only a stuck search would reach:
    identical KPIs on every run and machine, several times slower.
    """
    routing = replace(world.routing, solution_limit=REPRODUCIBLE_SOLUTIONS)
    community = replace(world.community, solver_budget_s=REPRODUCIBLE_BUDGET_S)
    return replace(world, routing=routing, community=community)


def _world(options: SimulationOptions) -> tuple[World, MdrpInstance | None]:
    if options.mdrp is not None:
        inst = read_instance(options.mdrp)
        kwargs: dict[str, Any] = {}
        if options.solver_budget_s is not None:
            kwargs["solver_budget_s"] = options.solver_budget_s
        return mdrp_world(inst, **kwargs), inst
    scenario = (
        options.scenario
        if isinstance(options.scenario, Scenario)
        else load_scenario(options.scenario)
    )
    if options.hours is not None:
        scenario = scenario.with_hours(options.hours)
    if options.solver_budget_s is not None:
        data = scenario.model_dump()
        data["community"]["solver_budget_s"] = options.solver_budget_s
        scenario = type(scenario).model_validate(data)
    return build_world(scenario, options.seed), None


def run(options: SimulationOptions, progress: Progress | None = None) -> RunOutput:
    """Run and write every output the options ask for."""
    world, rules, inst = prepare(options)
    surge = options.surge and inst is None  # MDRP has no prices
    sim = Simulation(world, policy=options.policy, surge=surge, rules=rules, seed=options.seed)
    result = sim.run(progress)
    kpis = compute_kpis(result)
    out = RunOutput(result=result, kpis=kpis)
    if inst is not None:
        out.mdrp = mdrp_metrics(result, inst)
        if options.mdrp_solution is not None:
            paths = write_solution(replay_solution(result, inst), options.mdrp_solution)
            out.files.update({p.stem: p for p in paths})
    if options.out_dir is not None:
        d = options.out_dir
        d.mkdir(parents=True, exist_ok=True)
        payload = dict(kpis)
        if out.mdrp is not None:
            payload["mdrp"] = out.mdrp
        payload["run"] = {
            "world": world.name,
            "policy": result.policy,
            "surge": surge,
            "seed": options.seed,
            "reproducible": options.reproducible,
            "rules_version": result.rule_version,
            "rules": result.rules,
        }
        (d / "kpis.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        out.files["kpis"] = d / "kpis.json"
        if options.report:
            from simulations.sim.report import write_report  # matplotlib: only when asked

            out.files["report"] = write_report(result, kpis, d / "report.html", out.mdrp)
        if options.write_events:
            write_events(result, d / "events.jsonl")
            out.files["events"] = d / "events.jsonl"
    return out
