"""The dispatch engine: one object built from settings, a store and a clock.

It owns the rules (geofences, lifecycle, idempotency, bundling, SLA) and turns
community state into assignments with ``tick``. Many engines can live in one
process (tests, the simulator) and several processes can share one Redis store:
every change goes through the store's version-guarded atomic ``write``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

import geo
from dispatch import _tick
from dispatch.clock import Clock
from dispatch.errors import Conflict, InvalidInput, NotFound, OutsideGeofence
from dispatch.lifecycle import (
    JOB_EVENTS,
    ORDER_EVENTS,
    check_job_transition,
    check_order_transition,
)
from dispatch.model import (
    JOB_TERMINAL,
    ORDER_TERMINAL,
    Community,
    Event,
    Job,
    JobState,
    LatLng,
    Order,
    OrderState,
    Plan,
    PlannedStop,
    Price,
    StopKind,
    Worker,
    WorkerKind,
    to_dict,
)
from dispatch.pricing import (
    InvalidRules,
    Pricer,
    QuoteContext,
    RuleSet,
    SurgeSnapshot,
    parse_rules,
    rules_to_dict,
)
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
from dispatch.settings import EngineSettings
from dispatch.store.base import IdempotencyRecord, NewEvent, PositionState, Store
from solver.greedy import solve_greedy
from solver.result import RoutingResult
from solver.routing import RoutingParams, solve_routing

log = logging.getLogger(__name__)

IdFactory = Callable[[str], str]

#: Part of a tick's budget kept for writing the plan and its events.
_COMMIT_RESERVE_S = 0.05


def _uuid_ids(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def _body_hash(payload: Any) -> str:
    raw = json.dumps(_jsonable(payload), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_dict(value)
    return value


class Engine:
    """Communities, workers, orders, jobs and ticks; see the module docstring."""

    def __init__(
        self,
        settings: EngineSettings,
        store: Store,
        clock: Clock,
        *,
        matrix_provider: geo.MatrixProvider | None = None,
        pricer: Pricer | None = None,
        ids: IdFactory | None = None,
        routing_params: RoutingParams | None = None,
        policy: Literal["optimizer", "greedy"] = "optimizer",
    ) -> None:
        if policy not in ("optimizer", "greedy"):
            raise ValueError(f"unknown dispatch policy {policy!r}")
        self.policy = policy
        self.settings = settings
        self.store = store
        self.clock = clock
        self.matrices = matrix_provider or geo.HaversineMatrixProvider()
        self.pricer = pricer or Pricer()
        self._ids = ids or _uuid_ids
        self._fences: dict[tuple[str, int], geo.Geofence] = {}
        self.routing_params = routing_params or RoutingParams(use_vroom=False)

    # ---- communities ------------------------------------------------------------

    def upsert_community(self, spec: CommunitySpec) -> Community:
        """Create or replace a community (its workers and work are kept)."""
        if not spec.id or len(spec.id) > 64:
            raise InvalidInput("community id must be 1-64 characters")
        checks = {
            "delivery_sla_min": spec.delivery_sla_min,
            "emergency_sla_min": spec.emergency_sla_min,
            "dispatch_interval_s": spec.dispatch_interval_s,
            "solver_budget_s": spec.solver_budget_s,
        }
        for name, value in checks.items():
            if not (math.isfinite(value) and value > 0):
                raise InvalidInput(f"{name} must be a positive finite number")
        if spec.max_orders_per_trip < 1:
            raise InvalidInput("max_orders_per_trip must be at least 1")
        if not 6 <= spec.h3_resolution <= 11:
            raise InvalidInput("h3_resolution must lie in [6, 11] for a community")
        if not 100 <= spec.radius_m <= 20_000:
            raise InvalidInput("radius_m must lie in [100, 20000]")
        try:
            fence = geo.Geofence.circle(spec.center.lat, spec.center.lng, spec.radius_m)
            cells = fence.cells(geo.check_resolution(spec.h3_resolution))
        except geo.InvalidInput as exc:
            raise InvalidInput(str(exc)) from exc
        old = self.store.get_community(spec.id)
        community = Community(
            id=spec.id,
            name=spec.name,
            center=LatLng(*fence.center),
            radius_m=float(spec.radius_m),
            h3_resolution=spec.h3_resolution,
            delivery_sla_s=spec.delivery_sla_min * 60.0,
            emergency_sla_s=spec.emergency_sla_min * 60.0,
            dispatch_interval_s=spec.dispatch_interval_s,
            solver_budget_s=spec.solver_budget_s,
            max_orders_per_trip=spec.max_orders_per_trip,
            single_merchant_trips=spec.single_merchant_trips,
            cell_count=len(cells),
            version=(old.version + 1) if old else 1,
        )
        self.store.put_community(community)
        self._fences.pop((community.id, community.version - 1), None)
        self._event(
            community.id, "community.upserted", community.id, {"version": community.version}
        )
        return community

    def get_community(self, community_id: str) -> Community:
        c = self.store.get_community(community_id)
        if c is None:
            raise NotFound(f"community {community_id} does not exist")
        return c

    def list_communities(self) -> list[Community]:
        return self.store.list_communities()

    def fence(self, community: Community) -> geo.Geofence:
        key = (community.id, community.version)
        fence = self._fences.get(key)
        if fence is None:
            fence = geo.Geofence.circle(
                community.center.lat, community.center.lng, community.radius_m
            )
            self._fences[key] = fence
        return fence

    # ---- workers and locations -----------------------------------------------------

    def upsert_worker(self, spec: WorkerSpec) -> Worker:
        """Create or update a worker; its last position is kept."""
        if not spec.id or len(spec.id) > 64:
            raise InvalidInput("worker id must be 1-64 characters")
        self.get_community(spec.community_id)
        if not 0.0 <= spec.rating <= 5.0 or not math.isfinite(spec.rating):
            raise InvalidInput("rating must lie in [0, 5]")
        if spec.capacity < 0 or spec.capacity > 50:
            raise InvalidInput("capacity must lie in [0, 50]")
        if spec.kind == WorkerKind.COURIER and spec.capacity < 1:
            raise InvalidInput("a courier needs a capacity of at least 1")
        old = self.store.get_worker(spec.id)
        keep_position = old is not None and old.community_id == spec.community_id
        worker = Worker(
            id=spec.id,
            kind=spec.kind,
            community_id=spec.community_id,
            vehicle=spec.vehicle,
            capacity=spec.capacity,
            skills=frozenset(spec.skills),
            rating=float(spec.rating),
            shift_end=spec.shift_end,
            status=spec.status,
            position=old.position if keep_position and old else None,
            position_ts=old.position_ts if keep_position and old else None,
            cell=old.cell if keep_position and old else None,
            version=(old.version + 1) if old else 1,
        )
        self.store.put_worker(worker)
        self._event(worker.community_id, "worker.upserted", worker.id, {"status": worker.status})
        return worker

    def get_worker(self, worker_id: str) -> Worker:
        w = self.store.get_worker(worker_id)
        if w is None:
            raise NotFound(f"worker {worker_id} does not exist")
        return w

    def list_workers(self, community_id: str) -> list[Worker]:
        self.get_community(community_id)
        return self.store.list_workers(community_id)

    def update_location(self, update: LocationUpdate) -> Worker:
        """One position; raises the same errors a batch reports per item."""
        result = self._apply_locations([update])
        if result.errors:
            message = result.errors[0][2]
            if message.startswith("unknown worker"):
                raise NotFound(message)
            if "outside" in message and "community" in message:
                raise OutsideGeofence(message)
            raise InvalidInput(message)
        return self.get_worker(update.worker_id)

    def update_locations(self, updates: Sequence[LocationUpdate]) -> LocationBatchResult:
        """A batch of positions: good items are kept, bad ones reported with their index."""
        if len(updates) > self.settings.max_batch:
            raise InvalidInput(f"at most {self.settings.max_batch} updates per batch")
        return self._apply_locations(updates)

    def _apply_locations(self, updates: Sequence[LocationUpdate]) -> LocationBatchResult:
        now = self.clock.now()
        errors: list[tuple[int, str, str]] = []
        workers = self.store.get_positions([u.worker_id for u in updates])
        by_community: dict[str, list[int]] = {}
        for i, (u, w) in enumerate(zip(updates, workers, strict=True)):
            if w is None:
                errors.append((i, u.worker_id, f"unknown worker {u.worker_id}"))
                continue
            try:
                geo.validate_latlng(u.lat, u.lng)
            except geo.InvalidInput as exc:
                errors.append((i, u.worker_id, str(exc)))
                continue
            ts = now if u.ts is None else u.ts
            if not math.isfinite(ts) or ts > now + self.settings.max_future_skew_s:
                errors.append((i, u.worker_id, "timestamp is too far in the future"))
                continue
            if ts < now - self.settings.max_past_skew_s:
                errors.append((i, u.worker_id, "timestamp is too old"))
                continue
            by_community.setdefault(w.community_id, []).append(i)
        changed: dict[str, PositionState] = {}
        for community_id, items in by_community.items():
            community = self.store.get_community(community_id)
            if community is None:
                for i in items:
                    errors.append((i, updates[i].worker_id, "the worker's community is gone"))
                continue
            fence = self.fence(community)
            lats = np.array([updates[i].lat for i in items])
            lngs = np.array([updates[i].lng for i in items])
            inside = fence.contains_many(lats, lngs)
            cells = geo.cells_of(lats, lngs, community.h3_resolution)
            for j, i in enumerate(items):
                u = updates[i]
                if not inside[j]:
                    errors.append(
                        (i, u.worker_id, f"({u.lat}, {u.lng}) is outside community {community_id}")
                    )
                    continue
                # Accepted fixes apply in batch order; the newest time stamp wins.
                base = changed.get(u.worker_id) or workers[i]
                assert base is not None
                ts = now if u.ts is None else u.ts
                if base.ts is not None and ts < base.ts:
                    continue  # an older fix than the one we have: accepted, not applied
                changed[u.worker_id] = PositionState(
                    u.worker_id,
                    community_id,
                    float(u.lat),
                    float(u.lng),
                    float(ts),
                    int(cells[j]),
                    u.status.value if u.status is not None else base.status,
                )
        if changed:
            self.store.put_positions(list(changed.values()))
        errors.sort()
        return LocationBatchResult(accepted=len(updates) - len(errors), errors=tuple(errors))

    # ---- quotes, orders and jobs -------------------------------------------------

    def _check_point(self, community: Community, point: LatLng, what: str) -> None:
        try:
            geo.validate_latlng(point.lat, point.lng)
        except geo.InvalidInput as exc:
            raise InvalidInput(f"{what}: {exc}") from exc
        if not self.fence(community).contains(point.lat, point.lng):
            raise OutsideGeofence(
                f"{what} ({point.lat}, {point.lng}) is outside community {community.id}"
            )

    def _quote_context(self, request: OrderRequest | JobRequest) -> QuoteContext:
        community = self.get_community(request.community_id)
        now = self.clock.now()
        if isinstance(request, OrderRequest):
            self._check_point(community, request.pickup, "pickup")
            self._check_point(community, request.dropoff, "dropoff")
            if not 1 <= request.size <= 10:
                raise InvalidInput("size must lie in [1, 10]")
            ready = now if request.ready_at is None else request.ready_at
            if not math.isfinite(ready) or not now - 3600 <= ready <= now + 7 * 86400:
                raise InvalidInput("ready_at must lie between an hour ago and a week ahead")
            distance = float(
                geo.haversine_m(
                    request.pickup.lat, request.pickup.lng, request.dropoff.lat, request.dropoff.lng
                )
            )
            origin = request.pickup
            duration = 0.0
        else:
            self._check_point(community, request.location, "location")
            if not (math.isfinite(request.duration_min) and 0 < request.duration_min <= 24 * 60):
                raise InvalidInput("duration_min must lie in (0, 1440]")
            if not request.skills:
                raise InvalidInput("a job needs at least one skill")
            if (request.window_start is None) != (request.window_end is None):
                raise InvalidInput("give both window_start and window_end, or neither")
            if request.window_start is not None and request.window_end is not None:
                if request.window_end <= request.window_start:
                    raise InvalidInput("window_end must come after window_start")
                if request.window_end <= now:
                    raise InvalidInput("the window has already ended")
            if request.min_rating is not None and not 0 <= request.min_rating <= 5:
                raise InvalidInput("min_rating must lie in [0, 5]")
            distance = 0.0
            origin = request.location
            duration = request.duration_min * 60.0
        cell = geo.cell_of(origin.lat, origin.lng, community.h3_resolution)
        return QuoteContext(
            community=community,
            service_type=request.service_type,
            cell=cell,
            distance_m=distance,
            duration_s=duration,
            emergency=isinstance(request, JobRequest) and request.emergency,
            now=now,
        )

    def quote(self, request: OrderRequest | JobRequest) -> Quote:
        """Price and ETA now; nothing is stored."""
        self.rules()
        ctx = self._quote_context(request)
        return self.pricer.quote(self, ctx)

    def _idempotent(
        self, scope: str, key: str | None, body: Any
    ) -> tuple[IdempotencyRecord | None, str | None]:
        if key is None:
            return None, None
        if not 1 <= len(key) <= 255:
            raise InvalidInput("Idempotency-Key must be 1-255 characters")
        h = _body_hash(body)
        rec = self.store.get_idempotency(scope, key, self.clock.now())
        if rec is not None:
            if rec.body_hash != h:
                raise Conflict(f"Idempotency-Key {key!r} was used with a different body")
            return rec, h
        return None, h

    def create_order(self, request: OrderRequest, idempotency_key: str | None = None) -> Order:
        """Accept an order at the quoted price; replays for a repeated key and body."""
        self.rules()
        replay, h = self._idempotent("order", idempotency_key, request)
        if replay is not None:
            return self.get_order(replay.entity_id)
        ctx = self._quote_context(request)
        q = self.pricer.quote(self, ctx)
        now = ctx.now
        order = Order(
            id=self._ids("o"),
            community_id=request.community_id,
            pickup=request.pickup,
            dropoff=request.dropoff,
            created_at=now,
            ready_at=now if request.ready_at is None else request.ready_at,
            promised_by=now + ctx.community.delivery_sla_s,
            price=Price(q.base, q.multiplier, q.total, q.rule_version),
            service_type=request.service_type,
            merchant_id=request.merchant_id,
            size=request.size,
            priority=request.priority,
        )
        record = self._record("order", idempotency_key, h, order.id)
        try:
            self.store.write(
                order.community_id,
                orders=[order],
                events=[self._new(order.community_id, "order.created", order.id, order)],
                expect={order.id: 0},
                idempotency=record,
            )
        except Conflict:
            if record is None:
                raise
            again = self.store.get_idempotency("order", record.key, now)
            if again is not None and again.body_hash == record.body_hash:
                return self.get_order(again.entity_id)
            raise Conflict(
                f"Idempotency-Key {record.key!r} was used with a different body"
            ) from None
        return order

    def create_job(self, request: JobRequest, idempotency_key: str | None = None) -> Job:
        """Book a technician job (emergencies are due within the community's SLA)."""
        self.rules()
        replay, h = self._idempotent("job", idempotency_key, request)
        if replay is not None:
            return self.get_job(replay.entity_id)
        ctx = self._quote_context(request)
        q = self.pricer.quote(self, ctx)
        now = ctx.now
        due = now + ctx.community.emergency_sla_s if request.emergency else request.window_end
        job = Job(
            id=self._ids("j"),
            community_id=request.community_id,
            location=request.location,
            skills=frozenset(request.skills),
            duration_s=request.duration_min * 60.0,
            created_at=now,
            price=Price(q.base, q.multiplier, q.total, q.rule_version),
            service_type=request.service_type,
            window_start=request.window_start,
            window_end=request.window_end,
            emergency=request.emergency,
            min_rating=request.min_rating,
            due_by=due,
        )
        record = self._record("job", idempotency_key, h, job.id)
        try:
            self.store.write(
                job.community_id,
                jobs=[job],
                events=[self._new(job.community_id, "job.created", job.id, job)],
                expect={job.id: 0},
                idempotency=record,
            )
        except Conflict:
            if record is None:
                raise
            again = self.store.get_idempotency("job", record.key, now)
            if again is not None and again.body_hash == record.body_hash:
                return self.get_job(again.entity_id)
            raise Conflict(
                f"Idempotency-Key {record.key!r} was used with a different body"
            ) from None
        return job

    def _record(
        self, scope: str, key: str | None, body_hash: str | None, entity_id: str
    ) -> IdempotencyRecord | None:
        if key is None or body_hash is None:
            return None
        expires = self.clock.now() + self.settings.idempotency_ttl_s
        return IdempotencyRecord(scope, key, body_hash, entity_id, expires)

    def get_order(self, order_id: str) -> Order:
        o = self.store.get_order(order_id)
        if o is None:
            raise NotFound(f"order {order_id} does not exist")
        return o

    def get_job(self, job_id: str) -> Job:
        j = self.store.get_job(job_id)
        if j is None:
            raise NotFound(f"job {job_id} does not exist")
        return j

    def open_orders(self, community_id: str) -> list[Order]:
        return self.store.list_open_orders(community_id)

    def open_jobs(self, community_id: str) -> list[Job]:
        return self.store.list_open_jobs(community_id)

    def cancel_order(self, order_id: str) -> Order:
        """Cancel before pickup; cancelling a cancelled order returns it unchanged."""
        o = self.get_order(order_id)
        if o.state == OrderState.CANCELLED:
            return o
        check_order_transition(o.id, o.state, OrderState.CANCELLED)
        now = self.clock.now()
        new = dataclasses.replace(
            o, state=OrderState.CANCELLED, closed_at=now, version=o.version + 1
        )
        self._save_order(o, new, "order.cancelled")
        return new

    def cancel_job(self, job_id: str) -> Job:
        j = self.get_job(job_id)
        if j.state == JobState.CANCELLED:
            return j
        check_job_transition(j.id, j.state, JobState.CANCELLED)
        new = dataclasses.replace(
            j, state=JobState.CANCELLED, closed_at=self.clock.now(), version=j.version + 1
        )
        self._save_job(j, new, "job.cancelled")
        return new

    def order_event(self, order_id: str, type: str, worker_id: str) -> Order:
        """A courier reports picked_up, delivered or failed for an order it carries."""
        target = ORDER_EVENTS.get(type)
        if target is None:
            raise InvalidInput(f"unknown order event {type!r}; expected {sorted(ORDER_EVENTS)}")
        o = self.get_order(order_id)
        self.get_worker(worker_id)
        if o.worker_id != worker_id:
            raise Conflict(f"order {order_id} is not assigned to worker {worker_id}")
        check_order_transition(o.id, o.state, target)
        now = self.clock.now()
        stamps: dict[str, Any] = {}
        if target == OrderState.PICKED_UP:
            stamps["picked_up_at"] = now
        elif target == OrderState.DELIVERED:
            stamps["delivered_at"] = now
        else:
            stamps["closed_at"] = now
        new = dataclasses.replace(o, state=target, version=o.version + 1, **stamps)
        self._save_order(o, new, f"order.{target.value}")
        return new

    def job_event(self, job_id: str, type: str, worker_id: str) -> Job:
        """A technician reports started, arrived, completed or failed."""
        target = JOB_EVENTS.get(type)
        if target is None:
            raise InvalidInput(f"unknown job event {type!r}; expected {sorted(JOB_EVENTS)}")
        j = self.get_job(job_id)
        self.get_worker(worker_id)
        if j.worker_id != worker_id:
            raise Conflict(f"job {job_id} is not assigned to worker {worker_id}")
        check_job_transition(j.id, j.state, target)
        now = self.clock.now()
        field = {
            JobState.EN_ROUTE: "started_at",
            JobState.IN_SERVICE: "arrived_at",
            JobState.COMPLETED: "completed_at",
            JobState.FAILED: "closed_at",
        }[target]
        stamps: dict[str, Any] = {field: now}
        new = dataclasses.replace(j, state=target, version=j.version + 1, **stamps)
        name = {JobState.EN_ROUTE: "started", JobState.IN_SERVICE: "arrived"}.get(
            target, target.value
        )
        self._save_job(j, new, f"job.{name}")
        return new

    def _save_order(self, old: Order, new: Order, event: str) -> None:
        self.store.write(
            new.community_id,
            orders=[new],
            events=[self._new(new.community_id, event, new.id, new)],
            expect={old.id: old.version},
        )

    def _save_job(self, old: Job, new: Job, event: str) -> None:
        self.store.write(
            new.community_id,
            jobs=[new],
            events=[self._new(new.community_id, event, new.id, new)],
            expect={old.id: old.version},
        )

    # ---- surge rules ------------------------------------------------------------------

    def rules(self) -> RuleSet:
        """The active surge rule set (the store's, when another process changed it)."""
        stored = self.store.get_rules()
        if stored is None:  # first use of this store: the shipped rules become version 1+
            data = rules_to_dict(self.pricer.rules)
            data.pop("version", None)
            self.store.put_rules(data)
            stored = self.store.get_rules()
            assert stored is not None
        version = int(stored.get("version", 0))
        if version != self.pricer.rules.version:
            try:
                self.pricer.set_rules(parse_rules(stored, version=version))
            except InvalidRules as exc:
                log.error(
                    "stored surge rules v%s are invalid, keeping the active ones: %s", version, exc
                )
        return self.pricer.rules

    def set_rules(self, rules: RuleSet | Mapping[str, Any]) -> RuleSet:
        """Validate, version and activate a rule set at once (no restart)."""
        data = rules_to_dict(rules) if isinstance(rules, RuleSet) else dict(rules)
        data.pop("version", None)
        parse_rules(data)  # raises InvalidRules with every problem listed
        version = self.store.put_rules(data)
        active = parse_rules(data, version=version)
        self.pricer.set_rules(active)
        self._event("*", "rules.activated", str(version), {"version": version})
        return active

    def surge_map(self, community_id: str) -> SurgeSnapshot:
        """Per-cell demand, supply, ratio and multipliers of a community now."""
        community = self.get_community(community_id)
        self.rules()
        return self.pricer.snapshot(self, community, self.clock.now(), fresh=True)

    # ---- events -----------------------------------------------------------------

    def _new(self, community_id: str, type: str, entity_id: str, record: Any = None) -> NewEvent:
        data: dict[str, Any] = {}
        if isinstance(record, Order | Job):
            data = {"state": record.state.value, "worker_id": record.worker_id}
            if record.at_risk:
                data["at_risk"] = True
        elif isinstance(record, Mapping):
            data = {str(k): _jsonable(v) for k, v in record.items()}
        return NewEvent(self.clock.now(), community_id, type, entity_id, data)

    def _event(self, community_id: str, type: str, entity_id: str, data: Any) -> None:
        self.store.append_events([self._new(community_id, type, entity_id, data)])

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

    def orders_per_trip(self, community: Community, worker: Worker) -> int:
        """Most orders this dispatcher puts on the courier at once (the bundling rule).

        Surge counts a busy courier's spare room with it: room the dispatcher would
        never use is no supply.
        """
        return community.orders_per_trip(worker.capacity)

    def route(self, worker_id: str) -> tuple[PlannedStop, ...]:
        """The worker's committed stops that are still to be done."""
        w = self.get_worker(worker_id)
        plan = self.store.get_plan(w.community_id)
        if plan is None:
            return ()
        out = []
        for stop in plan.routes.get(worker_id, ()):
            if stop.kind == StopKind.JOB:
                j = self.store.get_job(stop.entity_id)
                if j is None or j.state in JOB_TERMINAL or j.worker_id != worker_id:
                    continue
            else:
                o = self.store.get_order(stop.entity_id)
                if o is None or o.state in ORDER_TERMINAL or o.worker_id != worker_id:
                    continue
                if stop.kind == StopKind.PICKUP and o.state == OrderState.PICKED_UP:
                    continue
            out.append(stop)
        return tuple(out)

    def tick(self, community_id: str, *, owner: str | None = None) -> TickResult:
        """Assign open work in one community; see ``dispatch._tick`` for the model."""
        community = self.get_community(community_id)
        now = self.clock.now()
        if owner is not None and not self.store.acquire_lease(
            community_id, owner, self.settings.lease_ttl_s, now
        ):
            prev = self.store.get_plan(community_id)
            return TickResult(community_id, 0, 0, 0.0, prev.version if prev else 0, False, 0, True)
        for attempt in range(2):
            try:
                return self._tick_once(community, now)
            except Conflict:
                if attempt == 1:
                    raise
                log.info("tick of %s raced with another change; retrying", community_id)
        raise AssertionError("unreachable")  # pragma: no cover

    def _tick_once(self, community: Community, now: float) -> TickResult:
        cid = community.id
        prev = self.store.get_plan(cid)
        workers = self.store.list_workers(cid)
        orders = self.store.list_open_orders(cid)
        jobs = self.store.list_open_jobs(cid)
        previous_routes = {
            wid: [(s.kind, s.entity_id) for s in stops]
            for wid, stops in (prev.routes.items() if prev else [])
        }
        started = time.perf_counter()
        tp = _tick.build_problem(
            community, workers, orders, jobs, previous_routes, now, self.settings, self.matrices
        )
        # The budget covers the whole tick: building, solving and committing.
        left = community.solver_budget_s - (time.perf_counter() - started) - _COMMIT_RESERVE_S
        result = self._solve(tp, max(0.05, left))
        solve_ms = (time.perf_counter() - started) * 1000.0
        fallback = (
            self.policy == "optimizer" and result.backend == "greedy" and tp.problem.num_stops > 0
        )
        return self._commit(community, prev, tp, result, now, solve_ms, fallback)

    def _solve(self, tp: _tick.TickProblem, budget_s: float) -> RoutingResult:
        p = tp.problem
        if p.num_stops == 0 or p.num_vehicles == 0 or self.policy == "greedy":
            return solve_greedy(p, initial_routes=tp.initial_routes)
        return solve_routing(
            p, budget_s, initial_routes=tp.initial_routes, params=self.routing_params
        )

    def _commit(
        self,
        community: Community,
        prev: Plan | None,
        tp: _tick.TickProblem,
        result: RoutingResult,
        now: float,
        solve_ms: float,
        fallback: bool,
    ) -> TickResult:
        cid = community.id
        owner_of: dict[str, str] = {}
        eta: dict[tuple[StopKind, str], float] = {}
        routes: dict[str, tuple[PlannedStop, ...]] = {}
        p = tp.problem
        assert p.service_time is not None
        for k, (route, starts) in enumerate(zip(result.routes, result.start_times, strict=True)):
            worker = tp.workers[k]
            planned = []
            for s, t in zip(route, starts, strict=True):
                ref = tp.stops[s]
                owner_of[ref.entity_id] = worker.id
                eta[(ref.kind, ref.entity_id)] = now + t
                planned.append(
                    PlannedStop(
                        ref.kind,
                        ref.entity_id,
                        ref.location,
                        now + t,
                        now + t + int(p.service_time[s]),
                    )
                )
            if planned:
                routes[worker.id] = tuple(planned)
        # Keep routes of workers outside this tick (stale or on break) for their on-board work.
        if prev is not None:
            for wid, stops in prev.routes.items():
                if wid not in routes and all(w.id != wid for w in tp.workers):
                    routes[wid] = stops

        changed_orders: list[Order] = []
        changed_jobs: list[Job] = []
        events: list[NewEvent] = []
        expect: dict[str, int] = {}
        assigned = unassigned = at_risk = 0
        for o in tp.orders:
            new_worker = owner_of.get(o.id)
            drop_eta = eta.get((StopKind.DROPOFF, o.id))
            pick_eta = eta.get((StopKind.PICKUP, o.id))
            risky = (
                drop_eta is not None and drop_eta > o.promised_by - self.settings.at_risk_margin_s
            )
            if o.state == OrderState.PICKED_UP:
                new = dataclasses.replace(o, eta_dropoff=drop_eta, at_risk=risky)
                kind = None
            elif new_worker is None:
                unassigned += 1
                if o.state == OrderState.ASSIGNED:
                    new = dataclasses.replace(
                        o,
                        state=OrderState.PENDING,
                        worker_id=None,
                        eta_pickup=None,
                        eta_dropoff=None,
                        at_risk=True,
                    )
                    kind = "order.unassigned"
                else:
                    new = dataclasses.replace(o, at_risk=now > o.promised_by - 600)
                    kind = "order.at_risk" if new.at_risk and not o.at_risk else None
            else:
                new = dataclasses.replace(
                    o,
                    state=OrderState.ASSIGNED,
                    worker_id=new_worker,
                    eta_pickup=pick_eta,
                    eta_dropoff=drop_eta,
                    at_risk=risky,
                    assigned_at=o.assigned_at if o.worker_id == new_worker else now,
                )
                if o.state == OrderState.PENDING:
                    kind, assigned = "order.assigned", assigned + 1
                elif o.worker_id != new_worker:
                    kind, assigned = "order.reassigned", assigned + 1
                else:
                    kind = "order.at_risk" if risky and not o.at_risk else None
            if new != o:
                new = dataclasses.replace(new, version=o.version + 1)
                changed_orders.append(new)
                expect[o.id] = o.version
                if kind:
                    events.append(self._new(cid, kind, o.id, new))
            at_risk += int(new.at_risk)
        for j in tp.jobs:
            new_worker = owner_of.get(j.id)
            job_eta = eta.get((StopKind.JOB, j.id))
            due = j.due_by
            risky = job_eta is not None and due is not None and job_eta > due
            if j.state in (JobState.EN_ROUTE, JobState.IN_SERVICE):
                new_j = dataclasses.replace(j, eta=job_eta or j.eta, at_risk=risky)
                kind = None
            elif new_worker is None:
                unassigned += 1
                if j.state == JobState.ASSIGNED:
                    new_j = dataclasses.replace(
                        j, state=JobState.PENDING, worker_id=None, eta=None, at_risk=True
                    )
                    kind = "job.unassigned"
                else:
                    new_j = dataclasses.replace(j, at_risk=True)
                    kind = "job.at_risk" if not j.at_risk else None
            else:
                new_j = dataclasses.replace(
                    j,
                    state=JobState.ASSIGNED,
                    worker_id=new_worker,
                    eta=job_eta,
                    at_risk=risky,
                    assigned_at=j.assigned_at if j.worker_id == new_worker else now,
                )
                if j.state == JobState.PENDING:
                    kind, assigned = "job.assigned", assigned + 1
                elif j.worker_id != new_worker:
                    kind, assigned = "job.reassigned", assigned + 1
                else:
                    kind = "job.at_risk" if risky and not j.at_risk else None
            if new_j != j:
                new_j = dataclasses.replace(new_j, version=j.version + 1)
                changed_jobs.append(new_j)
                expect[j.id] = j.version
                if kind:
                    events.append(self._new(cid, kind, j.id, new_j))
            at_risk += int(new_j.at_risk)

        version = (prev.version if prev else 0) + 1
        plan = Plan(community_id=cid, version=version, created_at=now, routes=routes)
        events.append(
            self._new(
                cid,
                "plan.committed",
                cid,
                {
                    "version": version,
                    "assigned": assigned,
                    "unassigned": unassigned,
                    "fallback": fallback,
                    "solve_ms": round(solve_ms, 1),
                },
            )
        )
        self.store.write(
            cid,
            orders=changed_orders,
            jobs=changed_jobs,
            events=events,
            expect=expect,
            plan=plan,
            expect_plan=prev.version if prev else 0,
        )
        return TickResult(cid, assigned, unassigned, solve_ms, version, fallback, at_risk)
