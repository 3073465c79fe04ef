"""The dispatch engine: a small facade over intake, locations, quotes, lifecycle and ticks.

One object built from settings, a store, a clock and an injected
``DispatchPolicy``. Many engines can live in one process (tests, the
simulator) and several processes can share one Redis store: every change of
orders, jobs and plans goes through the store's version-guarded atomic
``write``. The steps live in their own modules:

- ``dispatch.roster``: communities and workers;
- ``dispatch.locations``: the location hot path;
- ``dispatch.intake``: validating, quoting and accepting orders and jobs once;
- ``dispatch.progress``: cancels and workers' reports through the state machines;
- ``dispatch.pricing`` / ``dispatch.rulebook``: surge pricing and its rule sets;
- ``dispatch.tick``: snapshot → build → solve (the policy) → apply → commit.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import geo
from dispatch.clock import Clock
from dispatch.errors import InvalidInput, NotFound
from dispatch.events import new_event
from dispatch.fences import FenceCache
from dispatch.intake import Intake
from dispatch.listing import ListQuery, Page, list_work
from dispatch.locations import apply_locations, raise_first_error
from dispatch.model import Community, Event, Job, Order, Plan, PlannedStop, Worker
from dispatch.policies import DispatchPolicy, OptimizerPolicy
from dispatch.pricing import Pricer, RuleSet, SurgeSnapshot
from dispatch.progress import Progress
from dispatch.requests import (
    CommunitySpec,
    JobRequest,
    LocationBatchResult,
    LocationUpdate,
    OrderRequest,
    Quote,
    TickResult,
    WorkerSpec,
)
from dispatch.retire import (
    check_active_community,
    check_registration,
    retire_community,
    retire_worker,
    shown_status,
    workload,
)
from dispatch.roster import build_community, build_worker, check_known_skills, require_community
from dispatch.routes import live_route
from dispatch.rulebook import RuleBook
from dispatch.settings import EngineSettings
from dispatch.store.base import Fence, Store
from dispatch.store.blocking import WouldBlock, no_blocking_io
from dispatch.supply import StoreMarket
from dispatch.tick import TickPipeline
from dispatch.timebounds import check_time
from dispatch.tracking import Tracking, track_order

__all__ = ["Engine", "IdFactory"]

log = logging.getLogger(__name__)

IdFactory = Callable[[str], str]


def _random_ids(prefix: str) -> str:
    """An id of 64 random bits in hex (``os.urandom``: a fifth of the cost of a uuid4)."""
    return f"{prefix}_{os.urandom(8).hex()}"


class Engine:
    """Communities, workers, orders, jobs and ticks; see the module docstring.

    policy: plans each tick (default: the optimiser); matrix_provider: travel
    times for ticks and quote ETAs; ids: makes new order and job ids;
    background_pricing: refresh stale surge state off the request path (servers;
    the default recomputes in the request, deterministic for simulations);
    read_cache_s: requests reuse a community and the rules' version read this
    recently (servers on a shared store: fewer round trips; changes made by other
    processes arrive within it; 0 reads them on every request).
    """

    def __init__(
        self,
        settings: EngineSettings,
        store: Store,
        clock: Clock,
        *,
        policy: DispatchPolicy | None = None,
        matrix_provider: geo.MatrixProvider | None = None,
        ids: IdFactory | None = None,
        background_pricing: bool = False,
        read_cache_s: float = 0.0,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.policy: DispatchPolicy = policy or OptimizerPolicy()
        self.matrices = matrix_provider or geo.HaversineMatrixProvider()
        self.fences = FenceCache()
        self.market = StoreMarket(store)
        self.pricer = Pricer(
            self.market,
            store,
            self.matrices,
            staleness_s=settings.location_staleness_s,
            orders_per_trip=self.orders_per_trip,
            refresh_s=settings.surge_refresh_s,
            background=background_pricing,
        )
        self.rulebook = RuleBook(store, self.pricer, clock, recheck_s=read_cache_s)
        self.intake = Intake(
            store,
            clock,
            settings,
            self.pricer,
            self.fences,
            ids or _random_ids,
            recheck_s=read_cache_s,
        )
        self.progress = Progress(store, clock)
        self.pipeline = TickPipeline(store, self.policy, settings, self.matrices)

    # ---- communities and workers --------------------------------------------------

    def upsert_community(self, spec: CommunitySpec) -> Community:
        """Create or replace a community (its workers and work are kept)."""
        old = self.store.get_community(spec.id)
        if old is not None:
            check_active_community(old)
        community = build_community(spec, old)
        self.store.put_community(community)
        if old is not None:
            self.fences.forget(old.id, old.version)
        self.intake.forget(community.id)
        self._event(
            community.id, "community.upserted", community.id, {"version": community.version}
        )
        return community

    def get_community(self, community_id: str) -> Community:
        return require_community(self.store, community_id)

    def list_communities(self) -> list[Community]:
        return self.store.list_communities()

    def fence(self, community: Community) -> geo.Geofence:
        return self.fences.get(community)

    def upsert_worker(self, spec: WorkerSpec) -> Worker:
        """Create or update a worker; its last position is kept."""
        community = self.get_community(spec.community_id)
        check_known_skills(community, frozenset(spec.skills), f"worker {spec.id}")
        old = self.store.get_worker(spec.id)
        check_registration(community, old, spec.status)
        check_time("shift_end", spec.shift_end, self.clock.now())
        worker = build_worker(spec, old)
        self.store.put_worker(worker)
        self._event(worker.community_id, "worker.upserted", worker.id, {"status": worker.status})
        return worker

    def get_worker(self, worker_id: str) -> Worker:
        """The worker, ``busy`` while it carries open work (``dispatch.retire``)."""
        w = self.stored_worker(worker_id)
        return shown_status(w, workload(self.store, w.community_id))

    def stored_worker(self, worker_id: str) -> Worker:
        """The worker as stored (status as reported, without the workload read)."""
        w = self.store.get_worker(worker_id)
        if w is None:
            raise NotFound(f"worker {worker_id} does not exist")
        return w

    def list_workers(self, community_id: str) -> list[Worker]:
        self.get_community(community_id)
        load = workload(self.store, community_id)
        return [shown_status(w, load) for w in self.store.list_workers(community_id)]

    def retire_worker(self, worker_id: str) -> Worker:
        """Retire a worker that carries no open work; final (``dispatch.retire``)."""
        return retire_worker(self.store, worker_id, self.clock.now())

    def retire_community(self, community_id: str) -> Community:
        """Retire a community without open work or active workers; final."""
        community = retire_community(self.store, community_id, self.clock.now())
        self.intake.forget(community_id)
        return community

    def update_location(self, update: LocationUpdate) -> Worker:
        """One position; raises the same errors a batch reports per item."""
        raise_first_error(self._locations([update]))
        return self.stored_worker(update.worker_id)

    def update_locations(self, updates: Sequence[LocationUpdate]) -> LocationBatchResult:
        """A batch of positions: good items are kept, bad ones reported with their index."""
        if len(updates) > self.settings.max_batch:
            raise InvalidInput(f"at most {self.settings.max_batch} updates per batch")
        return self._locations(updates)

    def _locations(self, updates: Sequence[LocationUpdate]) -> LocationBatchResult:
        return apply_locations(self.store, self.fences, self.settings, self.clock.now(), updates)

    # ---- quotes, orders and jobs ------------------------------------------------

    def quote(self, request: OrderRequest | JobRequest) -> Quote:
        """Price and ETA now, held for an order or job that names it (``dispatch.quotes``)."""
        self.rules(request.community_id)
        return self.intake.quote(request)

    async def quote_async(self, request: OrderRequest | JobRequest) -> Quote | None:
        """``quote`` awaited on the event loop (see ``create_order_async``)."""
        if not self._loop_ready(request.community_id):
            return None
        return await self.intake.quote_async(request)

    def create_order(self, request: OrderRequest, idempotency_key: str | None = None) -> Order:
        """Accept an order at the quoted price; replays for a repeated key and body."""
        self.rules(request.community_id)
        return self.intake.create_order(request, idempotency_key)

    async def create_order_async(
        self, request: OrderRequest, idempotency_key: str | None = None
    ) -> Order | None:
        """``create_order`` awaited on the event loop, without a thread, when the caches
        hold all it needs and the store commits asynchronously (Redis); ``None``: call
        ``create_order`` (nothing was written)."""
        if not self._loop_ready(request.community_id):
            return None
        return await self.intake.create_order_async(request, idempotency_key)

    async def create_job_async(
        self, request: JobRequest, idempotency_key: str | None = None
    ) -> Job | None:
        """``create_job`` awaited on the event loop (see ``create_order_async``)."""
        if not self._loop_ready(request.community_id):
            return None
        return await self.intake.create_job_async(request, idempotency_key)

    def _loop_ready(self, community_id: str) -> bool:
        """Whether the loop may serve a request now: the store awaits writes (else the
        request's work would be done twice) and the rules need no read."""
        if not getattr(self.store, "awaits_writes", False):
            return False
        try:
            with no_blocking_io():
                self.rules(community_id)
        except WouldBlock:
            return False
        return True

    def create_job(self, request: JobRequest, idempotency_key: str | None = None) -> Job:
        """Book a technician job (emergencies are due within the community's SLA)."""
        self.rules(request.community_id)
        return self.intake.create_job(request, idempotency_key)

    def get_order(self, order_id: str) -> Order:
        return self.progress.order(order_id)

    def get_job(self, job_id: str) -> Job:
        return self.progress.job(job_id)

    def list_work(self, query: ListQuery) -> Page:
        """A page of orders or jobs (``dispatch.listing``)."""
        if query.community_id is not None:
            self.get_community(query.community_id)
        return list_work(self.store, query)

    def history(self, entity_id: str, kind: str = "order") -> list[Event]:
        """An order's (or job's) own events, oldest first."""
        if kind == "order":
            self.get_order(entity_id)
        else:
            self.get_job(entity_id)
        return self.store.entity_history(entity_id)

    def track_order(self, order_id: str) -> Tracking:
        return track_order(self.store, order_id)

    def open_orders(self, community_id: str) -> list[Order]:
        return self.store.list_open_orders(community_id)

    def open_jobs(self, community_id: str) -> list[Job]:
        return self.store.list_open_jobs(community_id)

    def cancel_order(self, order_id: str) -> Order:
        """Cancel before pickup; cancelling a cancelled order returns it unchanged."""
        return self.progress.cancel_order(order_id)

    def cancel_job(self, job_id: str) -> Job:
        return self.progress.cancel_job(job_id)

    def order_event(
        self, order_id: str, type: str, worker_id: str, proof_ref: str | None = None
    ) -> Order:
        """A courier reports an arrival, picked_up, delivered (with an optional proof
        reference) or failed for an order it carries."""
        return self.progress.order_event(order_id, type, worker_id, proof_ref)

    def kitchen_report(self, order_id: str, ready_at: float | None = None) -> Order:
        """The merchant reports when an order's food will be ready (``None``: it is out);
        ticks plan with it from then on (``dispatch.kitchen``)."""
        return self.progress.kitchen_report(order_id, ready_at)

    def job_event(self, job_id: str, type: str, worker_id: str) -> Job:
        """A technician reports started, arrived, completed or failed."""
        return self.progress.job_event(job_id, type, worker_id)

    # ---- surge --------------------------------------------------------------------

    def rules(self, community_id: str | None = None) -> RuleSet:
        """The rules pricing a community (its own, else the global set), or the global set;
        the store's, when another process changed them (``dispatch.rulebook``)."""
        return self.rulebook.active(community_id)

    def set_rules(
        self,
        rules: RuleSet | Mapping[str, Any],
        community_id: str | None = None,
        by: str | None = None,
    ) -> RuleSet:
        """Validate, version and activate the global set, or a community's own (no restart)."""
        if community_id is not None:
            self.get_community(community_id)
        return self.rulebook.activate(rules, community_id, by=by)

    def surge_map(self, community_id: str) -> SurgeSnapshot:
        """Per-cell demand, supply, ratio and multipliers of a community now."""
        community = self.get_community(community_id)
        self.rules(community_id)
        return self.pricer.snapshot(community, self.clock.now(), fresh=True)

    def demand_supply(self, community_id: str) -> tuple[dict[int, float], dict[int, float]]:
        """Raw demand and supply per cell now (before smoothing)."""
        community = self.get_community(community_id)
        self.rules(community_id)
        return self.pricer.demand_supply(self.market.view(community, self.clock.now()))

    def orders_per_trip(self, community: Community, worker: Worker) -> int:
        """Most orders this dispatcher puts on the courier at once (the bundling rule).

        The community's rule, narrowed by the policy's own (surge counts a busy
        courier's spare room with it: room the dispatcher never uses is no supply).
        """
        most = community.orders_per_trip(worker.capacity)
        own = self.policy.orders_per_trip
        return most if own is None else max(1, min(most, own))

    # ---- events -----------------------------------------------------------------

    def _event(self, community_id: str, type: str, entity_id: str, data: Any) -> None:
        self.store.append_events([new_event(self.clock.now(), community_id, type, entity_id, data)])

    def events(
        self, after: int = 0, limit: int = 1000, community_id: str | None = None
    ) -> list[Event]:
        if after < 0 or not 1 <= limit <= 10_000:
            raise InvalidInput("after must be ≥ 0 and limit within [1, 10000]")
        return self.store.events_after(after, limit, community_id)

    def last_seq(self) -> int:
        return self.store.last_seq()

    # ---- dispatching ----------------------------------------------------------------

    def plan(self, community_id: str) -> Plan:
        self.get_community(community_id)
        plan = self.store.get_plan(community_id)
        return plan or Plan(community_id=community_id, version=0, created_at=self.clock.now())

    def route(self, worker_id: str) -> tuple[PlannedStop, ...]:
        """The worker's committed stops that are still to be done."""
        w = self.stored_worker(worker_id)
        return live_route(self.store, w.community_id, worker_id)

    def tick(self, community_id: str, *, owner: str | None = None) -> TickResult:
        """Assign open work in one community (``dispatch.tick``); with ``owner``, only
        while holding the community's lease."""
        community = self.get_community(community_id)
        now = self.clock.now()
        if owner is None:
            return self.pipeline.run(community, now)
        token = self.store.acquire_lease(community_id, owner, self.settings.lease_ttl_s, now)
        if token is None:
            prev = self.store.get_plan(community_id)
            return TickResult(community_id, 0, 0, 0.0, prev.version if prev else 0, False, 0, True)
        return self.pipeline.run(community, now, fence=Fence(owner, token))
