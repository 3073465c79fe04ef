"""Intake: validating requests, quoting them, and accepting orders and jobs once.

Orders and jobs share one path: validate → price → build the record → one
atomic write with the idempotency record. A retried request with the same
key and body gets the first record back; the same key with another body is a
``Conflict``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

import geo
from dispatch.clock import Clock
from dispatch.errors import (
    Conflict,
    DispatchError,
    InvalidInput,
    NotFound,
    OutsideGeofence,
    StoreUnavailable,
)
from dispatch.events import new_event
from dispatch.fences import FenceCache
from dispatch.hashing import body_hash
from dispatch.kitchen import check_ready_time
from dispatch.model import (
    DELIVERY_SERVICES,
    Community,
    Job,
    LatLng,
    Order,
    Price,
    service_for_skills,
)
from dispatch.pricing import Pricer, QuoteContext
from dispatch.quotes import QuoteDesk, priced_hash
from dispatch.requests import JobRequest, OrderRequest, Quote
from dispatch.retire import check_active_community
from dispatch.roster import check_known_skills
from dispatch.settings import EngineSettings
from dispatch.store.base import HeldQuote, IdempotencyRecord, NewEvent, Store
from dispatch.store.blocking import WouldBlock, no_blocking_io
from dispatch.timebounds import check_time

__all__ = ["Intake", "body_hash"]

Work = TypeVar("Work", Order, Job)


@dataclass(frozen=True, slots=True)
class _Commit(Generic[Work]):
    """The one write that accepts a new order or job."""

    record: Work
    event: NewEvent
    idempotency: IdempotencyRecord | None

    @property
    def community_id(self) -> str:
        return self.record.community_id

    def changes(self) -> dict[str, Any]:
        """``store.write``'s keyword arguments (after the community id)."""
        record = self.record
        return {
            "orders": [record] if isinstance(record, Order) else [],
            "jobs": [record] if isinstance(record, Job) else [],
            "events": [self.event],
            "expect": {record.id: 0},
            "idempotency": self.idempotency,
        }


#: A create in steps: yields its commit, is sent ``None`` after it, returns the record.
_Steps = Generator[_Commit[Work], None, Work]
MAX_EXTERNAL_REF = 128
MAX_NOTES = 1000
IdFactory = Callable[[str], str]


@dataclass
class Intake:
    """Quotes and accepts work; see the module docstring."""

    store: Store
    clock: Clock
    settings: EngineSettings
    pricer: Pricer
    fences: FenceCache
    ids: IdFactory
    recheck_s: float = 0.0
    timer: Callable[[], float] = time.monotonic
    _communities: dict[str, tuple[Community, float]] = dataclasses.field(default_factory=dict)
    desk: QuoteDesk = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.desk = QuoteDesk(self.store, self.settings)

    # ---- validation ---------------------------------------------------------------

    def community(self, community_id: str) -> Community:
        """The community, read again at most every ``recheck_s`` seconds (0: always):
        a change another process makes reaches this one within that time."""
        now = self.timer()
        cached = self._communities.get(community_id)
        if cached is not None and now - cached[1] < self.recheck_s:
            return cached[0]
        c = self.store.get_community(community_id)
        if c is None:
            self._communities.pop(community_id, None)
            raise NotFound(f"community {community_id} does not exist")
        if self.recheck_s > 0:
            self._communities[community_id] = (c, now)
        return c

    def forget(self, community_id: str) -> None:
        """Drop a cached community (this process changed it)."""
        self._communities.pop(community_id, None)

    def check_point(self, community: Community, point: LatLng, what: str) -> None:
        try:
            geo.validate_latlng(point.lat, point.lng)
        except geo.InvalidInput as exc:
            raise InvalidInput(f"{what}: {exc}") from exc
        if not self.fences.get(community).contains(point.lat, point.lng):
            raise OutsideGeofence(
                f"{what} ({point.lat}, {point.lng}) is outside community {community.id}"
            )

    def context(self, request: OrderRequest | JobRequest) -> QuoteContext:
        """Check a request against its community; what pricing needs to know of it."""
        community = self.community(request.community_id)
        check_active_community(community)
        now = self.clock.now()
        if isinstance(request, OrderRequest):
            self._check_order(community, request, now)
            service = request.service_type
            origin, destination = request.pickup, request.dropoff
            distance = geo.distance_m(origin.lat, origin.lng, destination.lat, destination.lng)
            duration = 0.0
        else:
            self._check_job(community, request, now)
            service = request.service_type or service_for_skills(request.skills)
            origin, destination = request.location, None
            distance = 0.0
            duration = request.duration_min * 60.0
        return QuoteContext(
            community=community,
            service_type=service,
            cell=geo.cell_of(origin.lat, origin.lng, community.h3_resolution),
            origin=origin,
            destination=destination,
            distance_m=distance,
            duration_s=duration,
            emergency=isinstance(request, JobRequest) and request.emergency,
            now=now,
        )

    @staticmethod
    def _check_texts(request: OrderRequest | JobRequest) -> None:
        for name, limit in (("external_ref", MAX_EXTERNAL_REF), ("notes", MAX_NOTES)):
            value = getattr(request, name)
            if value is not None and not (isinstance(value, str) and 1 <= len(value) <= limit):
                raise InvalidInput(f"{name} must be 1-{limit} characters")

    def _check_order(self, community: Community, request: OrderRequest, now: float) -> None:
        self._check_texts(request)
        self.check_point(community, request.pickup, "pickup")
        self.check_point(community, request.dropoff, "dropoff")
        if not 1 <= request.size <= 10:
            raise InvalidInput("size must lie in [1, 10]")
        check_ready_time(request.ready_at, now)

    def _check_job(self, community: Community, request: JobRequest, now: float) -> None:
        self._check_texts(request)
        self.check_point(community, request.location, "location")
        if not (math.isfinite(request.duration_min) and 0 < request.duration_min <= 24 * 60):
            raise InvalidInput("duration_min must lie in (0, 1440]")
        if not request.skills:
            raise InvalidInput("a job needs at least one skill")
        check_known_skills(community, frozenset(request.skills), "the job")
        if request.service_type is not None and request.service_type in DELIVERY_SERVICES:
            raise InvalidInput(f"a job cannot be a {request.service_type.value} delivery")
        start, end = request.window_start, request.window_end
        check_time("window.start", start, now)
        check_time("window.end", end, now)
        if (start is None) != (end is None):
            raise InvalidInput("give both window_start and window_end, or neither")
        if start is not None and end is not None:
            if end <= start:
                raise InvalidInput("window_end must come after window_start")
            if end <= now:
                raise InvalidInput("the window has already ended")
        if request.min_rating is not None and not 0 <= request.min_rating <= 5:
            raise InvalidInput("min_rating must lie in [0, 5]")

    # ---- quotes and creation --------------------------------------------------------

    def quote(self, request: OrderRequest | JobRequest) -> Quote:
        """Price and ETA now, held for ``quote_ttl_s`` (``dispatch.quotes``)."""
        if request.quote_id is not None:
            raise InvalidInput("quote_id belongs on an order or a job, not on a quote")
        ctx = self.context(request)
        kind = "order" if isinstance(request, OrderRequest) else "job"
        h = priced_hash(request)
        return self.desk.hold(kind, h, ctx.community.id, self.pricer.quote(ctx), ctx.now)

    async def quote_async(self, request: OrderRequest | JobRequest) -> Quote | None:
        """``quote`` on the event loop, the hold awaited (``None``: needs the blocking
        path, nothing was stored; see ``_drive_async``)."""
        if request.quote_id is not None:
            return None  # refused by ``quote``
        try:
            with no_blocking_io():
                ctx = self.context(request)
                kind = "order" if isinstance(request, OrderRequest) else "job"
                offer = self.pricer.quote(ctx)
            h = priced_hash(request)
            return await self.desk.hold_async(kind, h, ctx.community.id, offer, ctx.now)
        except WouldBlock:
            return None

    def _held(
        self, scope: str, request: OrderRequest | JobRequest, ctx: QuoteContext
    ) -> HeldQuote | None:
        """The held quote the request names, checked against it (None: none named)."""
        if request.quote_id is None:
            return None
        h = priced_hash(request)
        return self.desk.check(scope, h, ctx.community.id, request.quote_id, ctx.now)

    def create_order(self, request: OrderRequest, key: str | None) -> Order:
        return self._drive(self._order_steps(request, key))

    async def create_order_async(self, request: OrderRequest, key: str | None) -> Order | None:
        """``create_order`` on the event loop, awaiting only the commit (``None``: this
        request needs the blocking path; see ``_drive_async``)."""
        return await self._drive_async(self._order_steps(request, key))

    def create_job(self, request: JobRequest, key: str | None) -> Job:
        return self._drive(self._job_steps(request, key))

    async def create_job_async(self, request: JobRequest, key: str | None) -> Job | None:
        """``create_job`` on the event loop (see ``create_order_async``)."""
        return await self._drive_async(self._job_steps(request, key))

    def _order_steps(self, request: OrderRequest, key: str | None) -> _Steps[Order]:
        def build(ctx: QuoteContext, price: Price) -> Order:
            now = ctx.now
            return Order(
                id=self.ids("o"),
                community_id=request.community_id,
                pickup=request.pickup,
                dropoff=request.dropoff,
                created_at=now,
                ready_at=now if request.ready_at is None else request.ready_at,
                promised_by=now + ctx.community.delivery_sla_s,
                price=price,
                service_type=request.service_type,
                merchant_id=request.merchant_id,
                size=request.size,
                priority=request.priority,
                external_ref=request.external_ref,
                notes=request.notes,
            )

        return self._create("order", request, key, build, self.store.get_order)

    def _job_steps(self, request: JobRequest, key: str | None) -> _Steps[Job]:
        def build(ctx: QuoteContext, price: Price) -> Job:
            now = ctx.now
            due = now + ctx.community.emergency_sla_s if request.emergency else request.window_end
            return Job(
                id=self.ids("j"),
                community_id=request.community_id,
                location=request.location,
                skills=frozenset(request.skills),
                duration_s=request.duration_min * 60.0,
                created_at=now,
                price=price,
                service_type=ctx.service_type,
                window_start=request.window_start,
                window_end=request.window_end,
                emergency=request.emergency,
                min_rating=request.min_rating,
                due_by=due,
                external_ref=request.external_ref,
                notes=request.notes,
            )

        return self._create("job", request, key, build, self.store.get_job)

    def _drive(self, steps: _Steps[Work]) -> Work:
        """Run a create to its end, each commit a blocking ``store.write``."""
        try:
            commit = next(steps)
            while True:
                try:
                    self.store.write(commit.community_id, **commit.changes())
                except Exception as exc:  # handed to the steps, which decide (a retry?)
                    commit = steps.throw(exc)
                else:
                    commit = steps.send(None)
        except StopIteration as done:
            return cast(Work, done.value)

    async def _drive_async(self, steps: _Steps[Work]) -> Work | None:
        """Run a create on the event loop: its checks and pricing with blocking store
        calls forbidden, its commit awaited (``write_async``).

        ``None`` when the request needs the blocking path: a store call the caches did
        not spare (a community, rules or surge state read again, a held quote), a store
        without an async commit, or a commit that found the key or the id taken (a
        retry, or a race: the blocking path replays or refuses). Nothing was written
        then, so running the blocking path after it is the same request once.
        """
        write_async = getattr(self.store, "write_async", None)
        if write_async is None:
            steps.close()
            return None
        try:
            with no_blocking_io():
                commit = next(steps)
        except StopIteration as done:
            return cast(Work, done.value)
        except WouldBlock:
            return None
        try:
            await write_async(commit.community_id, **commit.changes())
        except (WouldBlock, Conflict):
            steps.close()
            return None
        return commit.record

    def _create(
        self,
        scope: str,
        request: OrderRequest | JobRequest,
        key: str | None,
        build: Callable[[QuoteContext, Price], Work],
        read: Callable[[str], Work | None],
    ) -> _Steps[Work]:
        """Validate, price, build and write once; replay the first answer for a retry.

        A retry is found by the write itself (the key's record exists: a conflict), so
        a new request pays no lookup first; a retry refused by validation (its quote
        expired since, say) is looked up before the refusal goes out.

        A generator: it yields the commit for its driver to make (``_drive`` blocking,
        ``_drive_async`` awaited) and is handed the commit's failure, if any.
        """
        h = None
        if key is not None:
            if not 1 <= len(key) <= 255:
                raise InvalidInput("Idempotency-Key must be 1-255 characters")
            h = body_hash(request)
        try:
            ctx = self.context(request)
            held = self._held(scope, request, ctx)
        except StoreUnavailable:
            raise
        except DispatchError:
            replay = None if key is None or h is None else self._replay(scope, key, h, read)
            if replay is None:
                raise
            return replay
        if held is None:
            record = build(ctx, self.pricer.price(ctx).to_price())  # in the rules' currency
        else:  # the held price; retries with the same key are the same user of the quote
            record = dataclasses.replace(build(ctx, held.price), quote_id=held.id)
            holder = f"{scope}-key:{key}" if key is not None else f"{scope}:{record.id}"
            try:
                self.desk.claim(held, holder, ctx.now)
            except Conflict:
                replay = None if key is None or h is None else self._replay(scope, key, h, read)
                if replay is None:
                    raise
                return replay
        idem = None
        if key is not None and h is not None:
            expires = ctx.now + self.settings.idempotency_ttl_s
            idem = IdempotencyRecord(scope, key, h, record.id, expires)
        cid = record.community_id
        commit = _Commit(
            record, new_event(ctx.now, cid, f"{scope}.created", record.id, record), idem
        )
        for attempt in (1, 2):
            try:
                yield commit
                return record
            except Conflict:
                if key is None or h is None:
                    raise
                replay = self._replay(scope, key, h, read)  # a retry, or a twin won the race
                if replay is not None:
                    return replay
                if attempt == 2:
                    raise
                # the key's record had expired by our clock and is cleared now: write again
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _replay(
        self, scope: str, key: str, h: str, read: Callable[[str], Work | None]
    ) -> Work | None:
        rec = self.store.get_idempotency(scope, key, self.clock.now())
        if rec is None:
            return None
        if rec.body_hash != h:
            raise Conflict(f"Idempotency-Key {key!r} was used with a different body")
        found = read(rec.entity_id)
        if found is None:
            raise NotFound(f"{scope} {rec.entity_id} does not exist")
        return found
