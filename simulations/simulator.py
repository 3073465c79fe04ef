"""The discrete-event simulator: a heap of timed events driving the real Engine.

The engine runs in-process on a ``ManualClock`` moved to each event's time (no
sleeping, no wall clock). Customers quote and order, merchants prepare,
workers move along the engine's routes and report positions and progress,
and the community ticks every dispatch interval. Everything random was drawn
when the ``World`` was built, so a world, a policy and the surge switch give
one run (OR-Tools' local search is deterministic when it finishes within its
budget, which the scenario's ``greedy`` descent does).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import time
from collections.abc import Callable
from typing import Any, Literal

import geo
from dispatch.clock import ManualClock
from dispatch.engine import Engine
from dispatch.errors import Conflict
from dispatch.model import (
    Event,
    OrderState,
    ServiceType,
    WorkerKind,
    WorkerStatus,
    to_dict,
)
from dispatch.requests import LocationUpdate, WorkerSpec
from dispatch.store.memory import MemoryStore
from dispatch.surge import RuleSet, rules_to_dict
from simulations import _handlers, _workers
from simulations._events import DEMAND, REPORT, SAMPLE, SHIFT, TICK
from simulations.agents import Agent, Move, Trip
from simulations.policies import NearestAvailable, PolicyEngine
from simulations.records import (
    JobRecord,
    OrderRecord,
    QuoteRecord,
    Sample,
    SimulationResult,
    TickRecord,
)
from simulations.world import World

log = logging.getLogger(__name__)

Policy = Literal["optimizer", "greedy", "insertion"]
POLICIES: tuple[str, ...] = ("optimizer", "greedy", "insertion")
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
    """One run of a world under a policy; call ``run`` once."""

    def __init__(
        self,
        world: World,
        *,
        policy: Policy = "optimizer",
        surge: bool = True,
        rules: RuleSet | None = None,
        seed: int = 0,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r}; expected one of {POLICIES}")
        self.world = world
        self.policy = policy
        self.surge = surge
        self.seed = seed
        self.clock = ManualClock(world.t0)
        self.store = MemoryStore()
        counter = itertools.count(1)
        kwargs: dict[str, Any] = {
            "matrix_provider": world.matrix_provider,
            "ids": lambda prefix: f"{prefix}{next(counter):05d}",
            "routing_params": world.routing,
        }
        self.engine: Engine
        if policy == "greedy":
            self.engine = PolicyEngine(
                world.settings, self.store, self.clock, dispatch_policy=NearestAvailable(), **kwargs
            )
        else:
            engine_policy: Literal["optimizer", "greedy"] = (
                "optimizer" if policy == "optimizer" else "greedy"
            )
            self.engine = Engine(
                world.settings, self.store, self.clock, policy=engine_policy, **kwargs
            )
        base = rules if rules is not None else self.engine.rules()
        data = rules_to_dict(base) if surge else surge_off(base)
        data.pop("version", None)
        self.rules = self.engine.set_rules(data)  # validated there
        self.community = self.engine.upsert_community(world.community)
        self.cid = self.community.id
        self.res = self.community.h3_resolution
        self.agents: dict[str, Agent] = {}
        for plan in world.workers:
            self.engine.upsert_worker(
                WorkerSpec(
                    id=plan.id,
                    kind=plan.kind,
                    community_id=self.cid,
                    vehicle=plan.vehicle,
                    capacity=plan.capacity,
                    skills=plan.skills,
                    rating=plan.rating,
                    shift_end=world.t0 + plan.end_s,
                    status=WorkerStatus.OFFLINE,
                )
            )
            self.agents[plan.id] = Agent(plan=plan, pos=plan.home)
        self._queue: list[tuple[float, int, int, str, tuple[Any, ...]]] = []
        self._seq = itertools.count()
        self.orders: dict[str, OrderRecord] = {}
        self.by_arrival: dict[int, str] = {}
        self.jobs: dict[str, JobRecord] = {}
        self.quotes: list[QuoteRecord] = []
        self.ticks: list[TickRecord] = []
        self.samples: list[Sample] = []
        self.trips: list[Trip] = []
        self.moves: list[Move] = []
        self.cell_demand: dict[int, int] = {}
        self.cell_multiplier: dict[int, tuple[float, int]] = {}
        self.dirty = True
        self.last_unassigned = 0
        self.ticks_skipped = 0
        self.conflicts = 0
        self.trip_rule_flags: set[tuple[str, float]] = set()
        self._window = {"created": 0, "delivered": 0, "on_time": 0, "mult": 0.0, "quotes": 0}

    # ---- the event loop ------------------------------------------------------------

    def now_s(self) -> float:
        return self.clock.now() - self.world.t0

    def at(self, t_s: float, priority: int, kind: str, *data: Any) -> None:
        """Schedule an event at ``t_s`` seconds after the start."""
        heapq.heappush(self._queue, (t_s, priority, next(self._seq), kind, data))

    def run(self, progress: Progress | None = None) -> SimulationResult:
        """Run to the end of the world's horizon (plus drain) and collect the results."""
        started = time.perf_counter()
        w = self.world
        for i, a in enumerate(w.orders):
            self.at(a.t, DEMAND, "order", i)
        for i, j in enumerate(w.jobs):
            self.at(j.t, DEMAND, "job", i)
        for ag in self.agents.values():
            self.at(ag.plan.start_s, SHIFT, "shift_start", ag.id)
            self.at(ag.plan.end_s, SHIFT, "shift_end", ag.id)
        self.at(0.0, REPORT, "report")
        self.at(0.0, TICK, "tick")
        self.at(0.0, SAMPLE, "sample")
        handlers = _handlers.table(self)
        last_progress = -1.0
        end = w.end_s
        while self._queue:
            t_s, _prio, _seq, kind, data = heapq.heappop(self._queue)
            if t_s > end:
                break
            self.clock.set(w.t0 + t_s)
            handlers[kind](*data)
            if progress is not None and t_s - last_progress >= 60.0:
                progress(t_s, end)
                last_progress = t_s
            if kind == "sample" and t_s >= w.horizon_s and self._finished():
                end = t_s
                break
        end = min(end, self.now_s())
        if progress is not None:
            progress(end, end)
        return self._result(end, time.perf_counter() - started)

    def _finished(self) -> bool:
        """Nothing left to do: no open work, nobody carrying or working."""
        if self.engine.open_orders(self.cid) or self.engine.open_jobs(self.cid):
            return False
        return all(not a.cargo and a.state in ("off", "idle") for a in self.agents.values())

    # ---- ticks, reports, samples ----------------------------------------------------

    def tick_now(self) -> None:
        res = self.engine.tick(self.cid)
        self.ticks.append(
            TickRecord(self.now_s(), res.solve_ms, res.assigned, res.unassigned, res.fallback)
        )
        self.dirty = False
        self.last_unassigned = res.unassigned
        for ag in self.agents.values():
            if ag.state != "off":
                _workers.act(self, ag)

    def on_tick(self) -> None:
        interval = self.community.dispatch_interval_s
        self.at(self.now_s() + interval, TICK, "tick")
        if self.dirty or self.last_unassigned > 0 or self.world.tick_when_idle:
            self.tick_now()
        else:
            self.ticks_skipped += 1

    def on_report(self) -> None:
        self.at(self.now_s() + self.world.position_interval_s, REPORT, "report")
        now = self.clock.now()
        batch = []
        for ag in self.agents.values():
            if ag.state == "off":
                continue
            p = ag.position(now)
            batch.append(LocationUpdate(ag.id, p.lat, p.lng, ts=now))
        if batch:
            result = self.engine.update_locations(batch)
            for _i, wid, message in result.errors:
                log.warning("position of %s rejected: %s", wid, message)

    def on_sample(self) -> None:
        self.at(self.now_s() + self.world.sample_interval_s, SAMPLE, "sample")
        open_orders = self.engine.open_orders(self.cid)
        unassigned = sum(1 for o in open_orders if o.state == OrderState.PENDING)
        unassigned += sum(1 for j in self.engine.open_jobs(self.cid) if j.worker_id is None)
        couriers = [a for a in self.agents.values() if a.plan.kind == WorkerKind.COURIER]
        on = [a for a in couriers if a.state != "off"]
        snap = self.engine.surge_map(self.cid)
        mults = []
        for cell, cs in snap.cells.items():
            m = float(cs.multiplier.get(ServiceType.TAKEOUT, 1.0))
            mults.append(m)
            total, n = self.cell_multiplier.get(cell, (0.0, 0))
            self.cell_multiplier[cell] = (total + m, n + 1)
        win = self._window
        self.samples.append(
            Sample(
                t_s=self.now_s(),
                open_orders=len(open_orders),
                unassigned=unassigned,
                couriers_on=len(on),
                couriers_idle=sum(1 for a in on if a.state == "idle" and not a.cargo),
                technicians_on=sum(
                    1
                    for a in self.agents.values()
                    if a.plan.kind == WorkerKind.TECHNICIAN and a.state != "off"
                ),
                created=int(win["created"]),
                delivered=int(win["delivered"]),
                delivered_on_time=int(win["on_time"]),
                quote_multiplier=win["mult"] / win["quotes"] if win["quotes"] else None,
                cell_multiplier_mean=sum(mults) / len(mults) if mults else 1.0,
                cell_multiplier_max=max(mults, default=1.0),
            )
        )
        self._window = {"created": 0, "delivered": 0, "on_time": 0, "mult": 0.0, "quotes": 0}

    def note_quote(self, kind: str, multiplier: float, accepted: bool, cell: int) -> None:
        self.quotes.append(QuoteRecord(self.now_s(), kind, multiplier, accepted, cell))
        self._window["mult"] += multiplier
        self._window["quotes"] += 1
        if kind == "order":
            self.cell_demand[cell] = self.cell_demand.get(cell, 0) + 1

    def note_delivery(self, rec: OrderRecord) -> None:
        self._window["delivered"] += 1
        self._window["on_time"] += int(rec.on_time)

    def note_created(self) -> None:
        self._window["created"] += 1

    def conflict(self, what: str, exc: Conflict) -> None:
        self.conflicts += 1
        log.info("%s: %s", what, exc)

    # ---- results ----------------------------------------------------------------------

    def _result(self, end_s: float, wall_s: float) -> SimulationResult:
        t0 = self.world.t0

        def rel(t: float | None) -> float | None:
            return None if t is None else t - t0

        for rec in self.orders.values():
            o = self.engine.get_order(rec.id)
            rec.state = o.state.value
            rec.worker = o.worker_id
            rec.assigned_s = rel(o.assigned_at)
            rec.picked_s = rel(o.picked_up_at)
            rec.delivered_s = rel(o.delivered_at)
            rec.closed_s = rel(o.closed_at)
        for jr in self.jobs.values():
            j = self.engine.get_job(jr.id)
            jr.state = j.state.value
            jr.worker = j.worker_id
            jr.started_s = rel(j.started_at)
            jr.arrived_s = rel(j.arrived_at)
            jr.completed_s = rel(j.completed_at)
            jr.closed_s = rel(j.closed_at)
        for ag in self.agents.values():
            if ag.leg is not None:
                ag.halt(self.clock.now())
        events = [to_dict(e) for e in self._all_events()]
        return SimulationResult(
            world=self.world,
            policy=self.policy,
            surge=self.surge,
            seed=self.seed,
            orders=list(self.orders.values()),
            jobs=list(self.jobs.values()),
            quotes=self.quotes,
            ticks=self.ticks,
            samples=self.samples,
            agents=list(self.agents.values()),
            trips=self.trips,
            moves=self.moves,
            cell_demand=self.cell_demand,
            cell_multiplier=self.cell_multiplier,
            events=events,
            end_s=end_s,
            wall_s=wall_s,
            ticks_skipped=self.ticks_skipped,
            conflicts=self.conflicts,
            trip_rule_overrides=len(self.trip_rule_flags),
            rule_version=self.rules.version,
        )

    def _all_events(self) -> list[Event]:
        out: list[Event] = []
        after = 0
        while True:
            chunk = self.engine.events(after=after, limit=10_000)
            if not chunk:
                return out
            out.extend(chunk)
            after = chunk[-1].seq

    def cell_of(self, lat: float, lng: float) -> int:
        return geo.cell_of(lat, lng, self.res)
