"""The discrete-event simulator: a heap of timed events driving the real Engine.

The engine runs in-process on a ``ManualClock`` moved to each event's time (no
sleeping, no wall clock), planning with the injected ``DispatchPolicy``.
Customers quote and order, merchants prepare, workers move along the engine's
routes and report positions and progress, and the community ticks every
dispatch interval. Everything random was drawn when the ``World`` was built, so
a world, a policy and the surge switch give one run (OR-Tools' local search is
deterministic when it finishes within its budget, which the scenario's
``greedy_descent`` does).

``Simulation`` owns the run's ``SimState`` and the loop; the handlers
(``simulations.sim._handlers``, ``simulations.sim._workers``) see only the state.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from dispatch.clock import ManualClock
from dispatch.engine import Engine
from dispatch.model import Event, WorkerStatus, to_dict
from dispatch.policies import DispatchPolicy, make_policy
from dispatch.requests import WorkerSpec
from dispatch.store.memory import MemoryStore
from dispatch.surge import RuleSet, rules_identity, rules_to_dict
from simulations.sim._events import DEMAND, REPORT, SAMPLE, SHIFT, TICK
from simulations.sim._handlers import table as handler_table
from simulations.sim.agents import Agent
from simulations.sim.records import SimulationResult
from simulations.sim.state import SimState
from simulations.sim.world import World

log = logging.getLogger(__name__)

Progress = Callable[[float, float], None]


def surge_off(rules: RuleSet) -> dict[str, Any]:
    """The same rule set with every multiplier pinned to 1.0 (base prices stay)."""
    data = rules_to_dict(rules)
    data.pop("version", None)
    flat = {"curve": [[0.0, 1.0], [1.0, 1.0]], "floor": 1.0, "cap": 1.0}
    data["default"] = {**data["default"], **flat}
    data["services"] = {k: {**v, **flat} for k, v in data["services"].items()}
    data["overrides"] = []
    data["name"] = f"{data.get('name', 'rules')} (surge off)"
    return data


class Simulation:
    """One run of a world under a dispatch policy; call ``run`` once.

    ``policy`` is a ``DispatchPolicy`` or a name in ``dispatch.policies.POLICIES``
    (built with the world's solver parameters; an unknown name is ``InvalidInput``).
    """

    def __init__(
        self,
        world: World,
        *,
        policy: DispatchPolicy | str = "optimizer",
        surge: bool = True,
        rules: RuleSet | None = None,
        seed: int = 0,
    ) -> None:
        if isinstance(policy, str):
            policy = make_policy(policy, world.routing)
        self.world = world
        self.policy = policy
        self.surge = surge
        self.seed = seed
        clock = ManualClock(world.t0)
        counter = itertools.count(1)
        settings = world.settings
        if settings.pickup_handover_s is None:  # the engine learns the couriers' hand-over
            settings = replace(settings, pickup_handover_s=round(world.handover_s))
        engine = Engine(
            settings,
            MemoryStore(),
            clock,
            policy=policy,
            matrix_provider=world.matrix_provider,
            ids=lambda prefix: f"{prefix}{next(counter):05d}",
        )
        base = rules if rules is not None else engine.rules()
        data = rules_to_dict(base) if surge else surge_off(base)
        data.pop("version", None)
        self.rules = engine.set_rules(data)  # validated there
        self.rules_identity = rules_identity(base)  # the set given (its file's version)
        community = engine.upsert_community(world.community)
        agents: dict[str, Agent] = {}
        for plan in world.workers:
            engine.upsert_worker(
                WorkerSpec(
                    id=plan.id,
                    kind=plan.kind,
                    community_id=community.id,
                    vehicle=plan.vehicle,
                    capacity=plan.capacity,
                    skills=plan.skills,
                    rating=plan.rating,
                    shift_end=world.t0 + plan.end_s,
                    status=WorkerStatus.OFFLINE,
                )
            )
            agents[plan.id] = Agent(plan=plan, pos=plan.home)
        self.state = SimState(
            world=world,
            engine=engine,
            clock=clock,
            community=community,
            policy=policy,
            agents=agents,
        )

    @property
    def engine(self) -> Engine:
        return self.state.engine

    def run(self, progress: Progress | None = None) -> SimulationResult:
        """Run to the end of the world's horizon (plus drain) and collect the results."""
        started = time.perf_counter()
        st, w = self.state, self.world
        for i, a in enumerate(w.orders):
            st.at(a.t, DEMAND, "order", i)
        for i, j in enumerate(w.jobs):
            st.at(j.t, DEMAND, "job", i)
        for ag in st.agents.values():
            st.at(ag.plan.start_s, SHIFT, "shift_start", ag.id)
            st.at(ag.plan.end_s, SHIFT, "shift_end", ag.id)
        st.at(0.0, REPORT, "report")
        st.at(0.0, TICK, "tick")
        st.at(0.0, SAMPLE, "sample")
        handlers = handler_table(st)
        last_progress = -1.0
        end = w.end_s
        while st.queue:
            t_s, kind, data = st.queue.pop()
            if t_s > end:
                break
            st.clock.set(w.t0 + t_s)
            handlers[kind](*data)
            if progress is not None and t_s - last_progress >= 60.0:
                progress(t_s, end)
                last_progress = t_s
            if kind == "sample" and t_s >= w.horizon_s and self._finished():
                end = t_s
                break
        end = min(end, st.now_s())
        if progress is not None:
            progress(end, end)
        return self._result(end, time.perf_counter() - started)

    def _finished(self) -> bool:
        """Nothing left to do: no open work, nobody carrying or working."""
        st = self.state
        if st.engine.open_orders(st.cid) or st.engine.open_jobs(st.cid):
            return False
        return all(not a.cargo and a.state in ("off", "idle") for a in st.agents.values())

    # ---- results ----------------------------------------------------------------------

    def _result(self, end_s: float, wall_s: float) -> SimulationResult:
        st = self.state
        rec = st.records
        t0 = self.world.t0

        def rel(t: float | None) -> float | None:
            return None if t is None else t - t0

        for orec in rec.orders.values():
            o = st.engine.get_order(orec.id)
            orec.state = o.state.value
            orec.worker = o.worker_id
            orec.assigned_s = rel(o.assigned_at)
            orec.picked_s = rel(o.picked_up_at)
            orec.delivered_s = rel(o.delivered_at)
            orec.closed_s = rel(o.closed_at)
        for jrec in rec.jobs.values():
            j = st.engine.get_job(jrec.id)
            jrec.state = j.state.value
            jrec.worker = j.worker_id
            jrec.started_s = rel(j.started_at)
            jrec.arrived_s = rel(j.arrived_at)
            jrec.completed_s = rel(j.completed_at)
            jrec.closed_s = rel(j.closed_at)
        for ag in st.agents.values():
            if ag.leg is not None:
                ag.halt(st.clock.now())
        events = [to_dict(e) for e in self._all_events()]
        return SimulationResult(
            world=self.world,
            policy=self.policy.name,
            surge=self.surge,
            seed=self.seed,
            orders=list(rec.orders.values()),
            jobs=list(rec.jobs.values()),
            quotes=rec.quotes,
            ticks=rec.ticks,
            samples=rec.samples,
            agents=list(st.agents.values()),
            trips=rec.trips,
            moves=rec.moves,
            cell_demand=rec.cell_demand,
            cell_multiplier=rec.cell_multiplier,
            events=events,
            end_s=end_s,
            wall_s=wall_s,
            ticks_skipped=st.tallies.ticks_skipped,
            conflicts=st.tallies.conflicts,
            trip_rule_overrides=len(rec.trip_rule_flags),
            rule_version=self.rules.version,
            rules=dict(self.rules_identity),
        )

    def _all_events(self) -> list[Event]:
        out: list[Event] = []
        after = 0
        while True:
            chunk = self.state.engine.events(after=after, limit=10_000)
            if not chunk:
                return out
            out.extend(chunk)
            after = chunk[-1].seq
