"""Random operations against the engine; invariants hold after every step."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from dispatch import Conflict, Engine, EngineSettings, ManualClock, MemoryStore
from dispatch.model import ORDER_TERMINAL, OrderState, WorkerKind, WorkerStatus
from dispatch.policies import OptimizerPolicy
from dispatch.requests import CommunitySpec, LocationUpdate, OrderRequest, WorkerSpec
from solver import RoutingParams
from tests.dispatch.conftest import CENTER, offset

#: Statuses a worker may be given (retired is set by retiring it, never by an update).
REPORTED = [s for s in WorkerStatus if s != WorkerStatus.RETIRED]

coords = st.tuples(st.floats(-2500, 2500), st.floats(-2500, 2500)).filter(
    lambda p: p[0] ** 2 + p[1] ** 2 < 2800**2
)


class EngineMachine(RuleBasedStateMachine):
    """Creates, cancels, ticks, picks up, delivers and moves workers at random."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        counter = itertools.count()
        self.engine = Engine(
            EngineSettings(),
            MemoryStore(),
            self.clock,
            ids=lambda p: f"{p}{next(counter)}",
            policy=OptimizerPolicy(RoutingParams(use_vroom=False, isolate=False)),
        )
        self.engine.upsert_community(CommunitySpec("c1", "x", CENTER, solver_budget_s=0.05))
        self.accepted: set[str] = set()
        self.on_board: dict[str, str] = {}
        for i in range(3):
            self.engine.upsert_worker(WorkerSpec(f"w{i}", WorkerKind.COURIER, "c1", capacity=2))
            self._move(f"w{i}", (i * 500.0, 0.0))

    def _move(self, worker: str, at: tuple[float, float]) -> None:
        p = offset(*at)
        self.engine.update_location(LocationUpdate(worker, p.lat, p.lng))

    @rule(pickup=coords, dropoff=coords)
    def create(self, pickup: tuple[float, float], dropoff: tuple[float, float]) -> None:
        o = self.engine.create_order(OrderRequest("c1", offset(*pickup), offset(*dropoff)))
        self.accepted.add(o.id)

    @rule()
    def tick(self) -> None:
        self.engine.tick("c1")

    @rule(seconds=st.integers(1, 120))
    def wait(self, seconds: int) -> None:
        self.clock.advance(seconds)
        for i in range(3):
            w = self.engine.get_worker(f"w{i}")
            if w.position is not None:
                self.engine.update_location(LocationUpdate(w.id, w.position.lat, w.position.lng))

    @rule(index=st.integers(0, 50))
    def cancel(self, index: int) -> None:
        ids = sorted(self.accepted)
        if not ids:
            return
        oid = ids[index % len(ids)]
        try:
            self.engine.cancel_order(oid)
        except Conflict:
            assert self.engine.get_order(oid).state not in (OrderState.PENDING, OrderState.ASSIGNED)

    @precondition(lambda self: bool(self.accepted))
    @rule(index=st.integers(0, 50))
    def pick_up(self, index: int) -> None:
        assigned = [o for o in self.engine.open_orders("c1") if o.state == OrderState.ASSIGNED]
        if not assigned:
            return
        o = assigned[index % len(assigned)]
        self.engine.order_event(o.id, "picked_up", str(o.worker_id))
        self.on_board[o.id] = str(o.worker_id)

    @rule(index=st.integers(0, 50))
    def deliver(self, index: int) -> None:
        if not self.on_board:
            return
        oid = sorted(self.on_board)[index % len(self.on_board)]
        self.engine.order_event(oid, "delivered", self.on_board.pop(oid))

    @rule(worker=st.integers(0, 2), status=st.sampled_from(REPORTED))
    def set_status(self, worker: int, status: WorkerStatus) -> None:
        self.engine.upsert_worker(
            WorkerSpec(f"w{worker}", WorkerKind.COURIER, "c1", capacity=2, status=status)
        )

    @invariant()
    def no_order_lost(self) -> None:
        for oid in self.accepted:
            assert self.engine.get_order(oid) is not None

    @invariant()
    def each_open_order_on_at_most_one_route(self) -> None:
        seen: dict[str, str] = {}
        for i in range(3):
            for stop in self.engine.route(f"w{i}"):
                holder = seen.setdefault(stop.entity_id, f"w{i}")
                assert holder == f"w{i}", f"{stop.entity_id} on {holder} and w{i}"
        for oid, wid in seen.items():
            assert self.engine.get_order(oid).worker_id == wid

    @invariant()
    def on_board_orders_never_move(self) -> None:
        for oid, wid in self.on_board.items():
            o = self.engine.get_order(oid)
            assert o.state == OrderState.PICKED_UP and o.worker_id == wid

    @invariant()
    def open_index_matches_states(self) -> None:
        open_ids = {o.id for o in self.engine.open_orders("c1")}
        for oid in self.accepted:
            terminal = self.engine.get_order(oid).state in ORDER_TERMINAL
            assert (oid in open_ids) != terminal

    @invariant()
    def event_sequence_increases(self) -> None:
        seqs = [e.seq for e in self.engine.events(limit=10_000)]
        assert seqs == list(range(1, len(seqs) + 1))


EngineMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEngineInvariants = EngineMachine.TestCase
