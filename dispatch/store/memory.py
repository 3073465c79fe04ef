"""In-memory store: the embedded default (one process, no server needed).

One re-entrant lock makes every method atomic, which gives the same
guarantees as the Redis store's Lua scripts within one process.
"""

from __future__ import annotations

import bisect
import copy
import dataclasses
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from dispatch.errors import Conflict, LeaseLost
from dispatch.model import (
    JOB_TERMINAL,
    ORDER_TERMINAL,
    Community,
    Event,
    Job,
    LatLng,
    Order,
    Plan,
    Worker,
    WorkerStatus,
)
from dispatch.store._memory_quotes import QuoteShelf
from dispatch.store._memory_rules import RuleShelf
from dispatch.store.base import (
    HISTORY_LIMIT,
    Fence,
    HeldQuote,
    IdempotencyRecord,
    NewEvent,
    PositionState,
    time_key,
)


class MemoryStore:
    """Dict-backed implementation of ``dispatch.store.base.Store``."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._communities: dict[str, Community] = {}
        self._workers: dict[str, Worker] = {}
        self._positions: dict[str, PositionState] = {}
        self._workers_by_community: dict[str, set[str]] = {}
        self._orders: dict[str, Order] = {}
        self._jobs: dict[str, Job] = {}
        self._open_orders: dict[str, set[str]] = {}
        self._open_jobs: dict[str, set[str]] = {}
        self._plans: dict[str, Plan] = {}
        self._by_time: dict[tuple[str, str | None], list[str]] = {}  # (kind, cid|None) → keys
        self._history: dict[str, list[Event]] = {}
        self._events: list[Event] = []
        self._trimmed = 0  # seq of the newest event trimmed away (retention)
        self._idem: dict[tuple[str, str], IdempotencyRecord] = {}
        self._idem_order: deque[tuple[float, tuple[str, str]]] = deque()  # by insertion
        self._leases: dict[str, tuple[str, float, int]] = {}  # owner, expiry, token
        self._lease_tokens: dict[str, int] = {}
        self._rule_shelf = RuleShelf()
        self._surge: dict[str, dict[str, Any]] = {}
        self._quotes = QuoteShelf()

    # ---- communities and workers -------------------------------------------------

    def put_community(self, community: Community) -> None:
        with self._lock:
            self._communities[community.id] = community

    def get_community(self, community_id: str) -> Community | None:
        with self._lock:
            return self._communities.get(community_id)

    def list_communities(self) -> list[Community]:
        with self._lock:
            return sorted(self._communities.values(), key=lambda c: c.id)

    def put_worker(self, worker: Worker) -> None:
        self.put_workers([worker])

    def put_workers(self, workers: Sequence[Worker]) -> None:
        with self._lock:
            for w in workers:
                old = self._workers.get(w.id)
                if old is not None and old.community_id != w.community_id:
                    self._workers_by_community.get(old.community_id, set()).discard(w.id)
                self._workers[w.id] = w
                self._workers_by_community.setdefault(w.community_id, set()).add(w.id)
                pos = w.position
                self._positions[w.id] = PositionState(
                    w.id,
                    w.community_id,
                    pos.lat if pos else None,
                    pos.lng if pos else None,
                    w.position_ts,
                    w.cell,
                    w.status.value,
                )

    def _merged(self, worker_id: str) -> Worker | None:
        """A worker record with its latest position (kept apart: the hot path)."""
        w = self._workers.get(worker_id)
        st = self._positions.get(worker_id)
        if w is None or st is None:
            return w
        pos = w.position
        if (pos.lat if pos else None, pos.lng if pos else None, w.position_ts, w.cell) == (
            st.lat,
            st.lng,
            st.ts,
            st.cell,
        ) and w.status.value == st.status:
            return w
        merged = dataclasses.replace(
            w,
            position=None if st.lat is None or st.lng is None else LatLng(st.lat, st.lng),
            position_ts=st.ts,
            cell=st.cell,
            status=w.status if w.status == WorkerStatus.RETIRED else WorkerStatus(st.status),
        )
        self._workers[worker_id] = merged  # merge once, then serve the merged record
        return merged

    def get_worker(self, worker_id: str) -> Worker | None:
        with self._lock:
            return self._merged(worker_id)

    def get_workers(self, worker_ids: Sequence[str]) -> list[Worker | None]:
        with self._lock:
            return [self._merged(w) for w in worker_ids]

    def list_workers(self, community_id: str) -> list[Worker]:
        with self._lock:
            ids = sorted(self._workers_by_community.get(community_id, ()))
            out = [self._merged(i) for i in ids]
            return [w for w in out if w is not None]

    def get_positions(self, worker_ids: Sequence[str]) -> list[PositionState | None]:
        with self._lock:
            return [self._positions.get(wid) for wid in worker_ids]

    def put_positions(self, states: Sequence[PositionState]) -> None:
        with self._lock:
            for st in states:
                current = self._positions.get(st.worker_id)
                if current is None or current.community_id != st.community_id:
                    continue  # unknown worker, or it moved to another community meanwhile
                self._positions[st.worker_id] = st

    # ---- orders, jobs, plans ---------------------------------------------------------

    def get_order(self, order_id: str) -> Order | None:
        with self._lock:
            return self._orders.get(order_id)

    def get_job(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def list_open_orders(self, community_id: str) -> list[Order]:
        with self._lock:
            ids = sorted(self._open_orders.get(community_id, ()))
            return [self._orders[i] for i in ids]

    def list_open_jobs(self, community_id: str) -> list[Job]:
        with self._lock:
            ids = sorted(self._open_jobs.get(community_id, ()))
            return [self._jobs[i] for i in ids]

    def get_plan(self, community_id: str) -> Plan | None:
        with self._lock:
            return self._plans.get(community_id)

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
    ) -> list[Event]:
        with self._lock:
            if fence is not None:
                held = self._leases.get(community_id)
                if held is None or (held[0], held[2]) != (fence.owner, fence.token):
                    raise LeaseLost(
                        f"{fence.owner} no longer holds the lease of {community_id} "
                        f"(token {fence.token})"
                    )
            for entity_id, version in (expect or {}).items():
                current = self._orders.get(entity_id) or self._jobs.get(entity_id)
                have = current.version if current is not None else 0
                if have != version:
                    raise Conflict(
                        f"{entity_id} changed concurrently (version {have}, expected {version})"
                    )
            if expect_plan is not None:
                current_plan = self._plans.get(community_id)
                have_plan = current_plan.version if current_plan else 0
                if have_plan != expect_plan:
                    raise Conflict(
                        f"plan of {community_id} is at version {have_plan}, expected {expect_plan}"
                    )
            if idempotency is not None:
                existing = self._idem.get((idempotency.scope, idempotency.key))
                if existing is not None:
                    raise Conflict(f"idempotency key {idempotency.key!r} is already used")
                self._idem[(idempotency.scope, idempotency.key)] = idempotency
                self._idem_order.append(
                    (idempotency.expires_at, (idempotency.scope, idempotency.key))
                )
            for o in orders:
                if o.id not in self._orders:
                    self._index("order", o.community_id, time_key(o.created_at, o.id))
                self._orders[o.id] = o
                bucket = self._open_orders.setdefault(o.community_id, set())
                if o.state in ORDER_TERMINAL:
                    bucket.discard(o.id)
                else:
                    bucket.add(o.id)
            for j in jobs:
                if j.id not in self._jobs:
                    self._index("job", j.community_id, time_key(j.created_at, j.id))
                self._jobs[j.id] = j
                bucket = self._open_jobs.setdefault(j.community_id, set())
                if j.state in JOB_TERMINAL:
                    bucket.discard(j.id)
                else:
                    bucket.add(j.id)
            if plan is not None:
                self._plans[community_id] = plan
            written = self._append(events)
            touched = {o.id for o in orders} | {j.id for j in jobs}
            for ev in written:
                if ev.entity_id in touched:
                    history = self._history.setdefault(ev.entity_id, [])
                    history.append(ev)
                    del history[:-HISTORY_LIMIT]
            return written

    def _index(self, kind: str, community_id: str, key: str) -> None:
        for scope in (community_id, None):
            bisect.insort(self._by_time.setdefault((kind, scope), []), key)

    def _scan(
        self, kind: str, records: Mapping[str, Any], community_id: str | None, after: str, n: int
    ) -> list[tuple[str, Any]]:
        with self._lock:
            keys = self._by_time.get((kind, community_id), [])
            start = bisect.bisect_right(keys, after) if after else 0
            page = keys[start : start + max(0, n)]
            return [(k, records.get(k.partition("|")[2])) for k in page]

    def scan_orders(
        self, community_id: str | None, after: str, limit: int
    ) -> list[tuple[str, Order | None]]:
        return self._scan("order", self._orders, community_id, after, limit)

    def scan_jobs(
        self, community_id: str | None, after: str, limit: int
    ) -> list[tuple[str, Job | None]]:
        return self._scan("job", self._jobs, community_id, after, limit)

    def entity_history(self, entity_id: str, limit: int = 1000) -> list[Event]:
        with self._lock:
            return list(self._history.get(entity_id, ())[: max(0, limit)])

    # ---- events ------------------------------------------------------------------

    def _append(self, events: Sequence[NewEvent]) -> list[Event]:
        out = []
        for e in events:
            ev = Event(
                seq=self._trimmed + len(self._events) + 1,
                ts=e.ts,
                community_id=e.community_id,
                type=e.type,
                entity_id=e.entity_id,
                data=dict(e.data),
            )
            self._events.append(ev)
            out.append(ev)
        return out

    def append_events(self, events: Sequence[NewEvent]) -> list[Event]:
        with self._lock:
            return self._append(events)

    def events_after(
        self, seq: int, limit: int = 1000, community_id: str | None = None
    ) -> list[Event]:
        with self._lock:
            tail = self._events[max(0, seq - self._trimmed) :]
            if community_id is not None:
                tail = [e for e in tail if e.community_id == community_id]
            return tail[: max(0, limit)]

    def last_seq(self) -> int:
        with self._lock:
            return self._trimmed + len(self._events)

    def trim_events(self, keep: int, before_ts: float) -> int:
        """Drop events beyond the newest ``keep`` and the oldest ones stamped before
        ``before_ts``; returns how many went."""
        with self._lock:
            cut = max(0, len(self._events) - max(0, keep))
            while cut < len(self._events) and self._events[cut].ts < before_ts:
                cut += 1
            if cut:
                self._trimmed = self._events[cut - 1].seq
                del self._events[:cut]
            return cut

    def trimmed_seq(self) -> int:
        with self._lock:
            return self._trimmed

    def expire_idempotency(self, now: float) -> int:
        """Forget every idempotency record expired by ``now``; returns how many."""
        with self._lock:
            # Records arrive in expiry order (now + one TTL): pop from the front, no scan.
            # One that expires later than an earlier one only waits for that one.
            gone = 0
            while self._idem_order and self._idem_order[0][0] <= now:
                expires_at, key = self._idem_order.popleft()
                rec = self._idem.get(key)
                if rec is not None and rec.expires_at == expires_at:
                    del self._idem[key]
                    gone += 1
            return gone

    # ---- idempotency, leases -------------------------------------------------------------

    def get_idempotency(self, scope: str, key: str, now: float) -> IdempotencyRecord | None:
        with self._lock:
            rec = self._idem.get((scope, key))
            if rec is not None and rec.expires_at <= now:
                del self._idem[(scope, key)]
                return None
            return rec

    # ---- quotes (a shelf of their own: forgotten past their keep time) ----------------

    def put_quote(self, quote: HeldQuote, keep_until: float, now: float) -> None:
        self._quotes.put(quote, keep_until, now)

    def get_quote(self, community_id: str, quote_id: str) -> HeldQuote | None:
        return self._quotes.get(community_id, quote_id)

    def claim_quote(
        self, community_id: str, quote_id: str, holder: str, keep_until: float, now: float
    ) -> str:
        return self._quotes.claim(community_id, quote_id, holder, keep_until, now)

    def acquire_lease(self, community_id: str, owner: str, ttl_s: float, now: float) -> int | None:
        with self._lock:
            held = self._leases.get(community_id)
            if held is not None and held[0] == owner and held[1] > now:
                token = held[2]  # a renewal keeps the token
            elif held is None or held[0] == owner or held[1] <= now:
                token = self._lease_tokens.get(community_id, 0) + 1
                self._lease_tokens[community_id] = token
            else:
                return None
            self._leases[community_id] = (owner, now + ttl_s, token)
            return token

    def release_lease(self, community_id: str, owner: str) -> None:
        with self._lock:
            held = self._leases.get(community_id)
            if held is not None and held[0] == owner:
                del self._leases[community_id]

    # ---- surge -----------------------------------------------------------------

    def get_rules(self, community_id: str | None = None) -> dict[str, Any] | None:
        return self._rule_shelf.get(community_id)

    def rules_version(self, community_id: str | None = None) -> int:
        return self._rule_shelf.version(community_id)

    def put_rules(
        self,
        data: Mapping[str, Any],
        community_id: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> int:
        return self._rule_shelf.put(data, community_id, meta)

    def rules_history(self, community_id: str | None = None) -> list[dict[str, Any]]:
        return self._rule_shelf.history(community_id)

    def clear_rules(self, community_id: str) -> bool:
        return self._rule_shelf.clear(community_id)

    def get_surge_state(self, community_id: str) -> dict[str, Any] | None:
        with self._lock:
            state = self._surge.get(community_id)
            return copy.deepcopy(state) if state is not None else None

    def put_surge_state(self, community_id: str, data: Mapping[str, Any]) -> None:
        with self._lock:
            self._surge[community_id] = copy.deepcopy(dict(data))

    def ping(self) -> bool:
        return True
