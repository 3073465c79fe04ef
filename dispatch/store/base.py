"""The state-store protocol every back-end implements (memory, Redis).

Semantics both back-ends must honour (one shared test suite checks them):

* Records are the frozen dataclasses of ``dispatch.model``; a back-end may keep
  them as objects (memory) or as JSON via ``model.to_dict`` (Redis).
* Everything that belongs to one community is grouped under that community
  (Redis keys carry the ``{community_id}`` hash tag), so one community's
  writes are atomic on one shard. Global items: the event sequence counter and
  feed, the id → community indexes, the idempotency keys, the surge rule set.
* Rule sets: the global set and a community's own set (which overrides the
  global one there; ``clear_rules`` drops it). One counter numbers the versions
  of every scope, so a version names one rule set store-wide; a concurrent older
  activation never replaces a newer active set. Every activation stays in its
  scope's ``rules_history`` (newest first): ``version``, ``data`` (the rules) and
  whatever ``meta`` the caller gave (who, when).
* ``write`` is the only way orders, jobs and plans change. It is atomic: either
  every record and event is stored, or nothing is. ``expect`` maps each entity
  id to the version the caller read (0: the entity must not exist yet); a
  mismatch raises ``Conflict`` and writes nothing. That guard is what makes it
  impossible for two dispatchers to assign one order twice. A plan is guarded
  the same way by ``expect_plan`` (the version the caller read; 0: none yet).
  An idempotency record, when given, is stored in the same step and the write
  fails with ``Conflict`` if the key already exists.
* Events get consecutive global sequence numbers in the order given, strictly
  increasing across the store's life, and are readable with ``events_after``.
* Leases: ``acquire_lease`` succeeds when nobody holds the community, the lease
  expired (``now`` past its expiry) or ``owner`` already holds it (renewal), and
  returns a fencing token (None when refused). The token grows every time the
  lease changes hands and stays the same on renewal. A ``write`` given a
  ``Fence(owner, token)`` succeeds only while that owner still holds the lease
  with that token, else it raises ``LeaseLost`` and writes nothing: a dispatcher
  that was paused past its lease can never commit over its successor.
* Positions are the hot path: ``get_positions``/``put_positions`` read and write
  only a worker's position, time stamp, cell and status (a worker's other fields
  are untouched); ``get_worker`` always returns the latest of both.
* Quotes live in their community (``get_quote`` needs its id); a store forgets a
  quote and its claim once the caller's ``now`` passes ``keep_until`` (memory: on
  later puts; Redis: a server TTL). ``claim_quote`` is atomic: of several holders
  claiming one quote, the first wins and every call answers the winner.
* Time is never read inside a store: callers pass ``now`` from their clock.
* Listing: ``scan_orders``/``scan_jobs`` walk a community's (or every community's)
  orders or jobs by ``time_key`` (creation time, then id), strictly after a key,
  so a cursor stays stable while new work arrives; each key comes with its
  record, or None where a write failed after indexing; ``entity_history`` gives the
  events ``write`` recorded for one order or job, oldest first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dispatch.model import Community, Event, Job, Order, Plan, Price, Worker


@dataclass(frozen=True)
class Fence:
    """A lease as a writer holds it: a write carrying it fails once the lease moved on."""

    owner: str
    token: int


@dataclass(frozen=True)
class NewEvent:
    """An event before the store gives it a sequence number."""

    ts: float
    community_id: str
    type: str
    entity_id: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class PositionState:
    """The fast-changing part of a worker: where it is, when, and its status."""

    worker_id: str
    community_id: str
    lat: float | None
    lng: float | None
    ts: float | None
    cell: int | None
    status: str


@dataclass(frozen=True)
class IdempotencyRecord:
    """What a first request with a key produced: replayed for later identical requests."""

    scope: str
    key: str
    body_hash: str
    entity_id: str
    expires_at: float


@dataclass(frozen=True)
class HeldQuote:
    """A quote as given: the price it holds until ``expires_at`` for the request it priced.

    ``kind`` is ``order`` or ``job``; ``request_hash`` is the priced request's canonical
    hash (``dispatch.quotes.priced_hash``), which an order or job using it must match.
    """

    id: str
    community_id: str
    kind: str
    request_hash: str
    price: Price
    eta_s: float
    created_at: float
    expires_at: float


#: Events kept in one order's or job's own history (``entity_history``): the newest.
HISTORY_LIMIT = 200


def time_key(created_at: float, entity_id: str) -> str:
    """The listing order of orders and jobs: creation time (whole microseconds, fixed
    width so keys sort as strings), then id."""
    micros = max(0, min(round(created_at * 1e6), 10**20 - 1))
    return f"{micros:020d}|{entity_id}"


class Store(Protocol):
    """State of every community; see the module docstring for the guarantees."""

    # communities and workers
    def put_community(self, community: Community) -> None: ...
    def get_community(self, community_id: str) -> Community | None: ...
    def list_communities(self) -> list[Community]: ...
    def put_worker(self, worker: Worker) -> None: ...
    def put_workers(self, workers: Sequence[Worker]) -> None: ...
    def get_worker(self, worker_id: str) -> Worker | None: ...
    def get_workers(self, worker_ids: Sequence[str]) -> list[Worker | None]: ...
    def list_workers(self, community_id: str) -> list[Worker]: ...
    def get_positions(self, worker_ids: Sequence[str]) -> list[PositionState | None]: ...
    def put_positions(self, states: Sequence[PositionState]) -> None: ...

    # orders, jobs, plans: read
    def get_order(self, order_id: str) -> Order | None: ...
    def get_job(self, job_id: str) -> Job | None: ...
    def list_open_orders(self, community_id: str) -> list[Order]: ...
    def list_open_jobs(self, community_id: str) -> list[Job]: ...
    def get_plan(self, community_id: str) -> Plan | None: ...
    def scan_orders(
        self, community_id: str | None, after: str, limit: int
    ) -> list[tuple[str, Order | None]]: ...
    def scan_jobs(
        self, community_id: str | None, after: str, limit: int
    ) -> list[tuple[str, Job | None]]: ...
    def entity_history(self, entity_id: str, limit: int = 1000) -> list[Event]: ...

    # the one atomic write
    def write(
        self,
        community_id: str,
        *,
        orders: Sequence[Order] = (),
        jobs: Sequence[Job] = (),
        events: Sequence[NewEvent] = (),
        expect: Mapping[str, int] | None = None,
        plan: Plan | None = None,
        expect_plan: int | None = None,
        idempotency: IdempotencyRecord | None = None,
        fence: Fence | None = None,
    ) -> list[Event]: ...

    # events
    def append_events(self, events: Sequence[NewEvent]) -> list[Event]: ...
    def events_after(
        self, seq: int, limit: int = 1000, community_id: str | None = None
    ) -> list[Event]: ...
    def last_seq(self) -> int: ...

    # retention (``dispatch.retention`` calls these off the request path)
    def trim_events(self, keep: int, before_ts: float) -> int:
        """Drop events beyond the newest ``keep`` and the oldest stamped before
        ``before_ts``; ``events_after`` then returns what is left after a seq."""
        ...

    def trimmed_seq(self) -> int:
        """The seq of the newest event trimmed away (0: none): older cursors lost events."""
        ...

    def expire_idempotency(self, now: float) -> int:
        """Forget idempotency records expired by ``now`` (Redis: its TTL does it)."""
        ...

    # idempotency
    def get_idempotency(self, scope: str, key: str, now: float) -> IdempotencyRecord | None: ...

    # quotes (kept until ``keep_until`` by the caller's clock, then forgotten)
    def put_quote(self, quote: HeldQuote, keep_until: float, now: float) -> None: ...
    def get_quote(self, community_id: str, quote_id: str) -> HeldQuote | None: ...
    def claim_quote(
        self, community_id: str, quote_id: str, holder: str, keep_until: float, now: float
    ) -> str:
        """Make ``holder`` the quote's one user unless another holds it; the holder now."""
        ...

    # leases
    def acquire_lease(
        self, community_id: str, owner: str, ttl_s: float, now: float
    ) -> int | None: ...
    def release_lease(self, community_id: str, owner: str) -> None: ...

    # surge: the global rule set (community_id None) and communities' own sets
    def get_rules(self, community_id: str | None = None) -> dict[str, Any] | None: ...
    def rules_version(self, community_id: str | None = None) -> int:
        """The active rule set's version (0: none stored), cheap to read per request."""
        ...

    def put_rules(
        self,
        data: Mapping[str, Any],
        community_id: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> int: ...
    def rules_history(self, community_id: str | None = None) -> list[dict[str, Any]]: ...
    def clear_rules(self, community_id: str) -> bool: ...
    def get_surge_state(self, community_id: str) -> dict[str, Any] | None: ...
    def put_surge_state(self, community_id: str, data: Mapping[str, Any]) -> None: ...

    def ping(self) -> bool: ...
