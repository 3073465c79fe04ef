"""In-memory webhook store: one lock makes every method atomic (one process)."""

from __future__ import annotations

import bisect
import dataclasses
import threading
import uuid
from collections import deque
from collections.abc import Sequence

from dispatch.webhooks.model import Delivery, DeliveryState, Endpoint
from dispatch.webhooks.store import DELIVERIES_KEPT, DELIVERY_RETENTION_S

__all__ = ["MemoryWebhookStore"]


class MemoryWebhookStore:
    """Dict-backed ``WebhookStore`` (see ``dispatch.webhooks.store`` for the contract)."""

    def __init__(
        self, retention_s: float = DELIVERY_RETENTION_S, keep: int = DELIVERIES_KEPT
    ) -> None:
        self.retention_s = retention_s
        self.keep = keep
        self._lock = threading.RLock()
        self._endpoints: dict[str, Endpoint] = {}
        self._cursor = 0
        self._number = 0
        self._deliveries: dict[str, Delivery] = {}
        self._index: dict[str, list[tuple[int, str]]] = {}  # sorted by number
        self._queues: dict[tuple[str, str], deque[str]] = {}
        self._due: dict[str, float] = {}
        self._ended: dict[str, float] = {}  # final delivery id -> when it ended

    # ---- endpoints ---------------------------------------------------------------

    def put_endpoint(self, endpoint: Endpoint) -> None:
        with self._lock:
            self._endpoints[endpoint.id] = endpoint

    def get_endpoint(self, endpoint_id: str) -> Endpoint | None:
        with self._lock:
            return self._endpoints.get(endpoint_id)

    def list_endpoints(self) -> list[Endpoint]:
        with self._lock:
            return [self._endpoints[k] for k in sorted(self._endpoints)]

    def delete_endpoint(self, endpoint_id: str) -> bool:
        with self._lock:
            if self._endpoints.pop(endpoint_id, None) is None:
                return False
            for _, did in self._index.pop(endpoint_id, []):
                self._deliveries.pop(did, None)
                self._due.pop(did, None)
                self._ended.pop(did, None)
            for key in [k for k in self._queues if k[0] == endpoint_id]:
                del self._queues[key]
            return True

    # ---- fan-out -----------------------------------------------------------------

    def cursor(self) -> int:
        with self._lock:
            return self._cursor

    def reserve_numbers(self, count: int) -> int:
        with self._lock:
            first = self._number + 1
            self._number += max(0, count)
            return first

    def add(
        self,
        deliveries: Sequence[Delivery],
        now: float,
        *,
        expect_cursor: int | None = None,
        new_cursor: int | None = None,
    ) -> bool:
        with self._lock:
            if expect_cursor is not None and self._cursor != expect_cursor:
                return False
            for d in deliveries:
                if d.id in self._deliveries or d.endpoint_id not in self._endpoints:
                    continue
                self._deliveries[d.id] = d
                bisect.insort(self._index.setdefault(d.endpoint_id, []), (d.number, d.id))
                if d.final:
                    self._ended[d.id] = now
                else:
                    self._enqueue(d, now)
            if new_cursor is not None:
                self._cursor = new_cursor
            self._prune(now)
            return True

    def _enqueue(self, d: Delivery, now: float) -> None:
        queue = self._queues.setdefault((d.endpoint_id, d.order_key), deque())
        queue.append(d.id)
        if len(queue) == 1:
            self._due[d.id] = d.next_attempt_at if d.next_attempt_at is not None else now

    def _prune(self, now: float) -> None:
        """Forget final deliveries that ended more than ``retention_s`` ago (``_ended``
        is in the order they ended), and the oldest final ones past ``keep``."""
        expired = []
        for did, at in self._ended.items():
            if at + self.retention_s > now:
                break
            expired.append(did)
        for did in expired:
            self._forget(did)
        for index in self._index.values():
            excess = len(index) - self.keep
            if excess > 0:
                for _, did in index[:excess]:  # the oldest; pending ones stay
                    if did in self._ended:
                        self._forget(did)

    def _forget(self, did: str) -> None:
        self._ended.pop(did, None)
        d = self._deliveries.pop(did)
        index = self._index[d.endpoint_id]
        del index[bisect.bisect_left(index, (d.number, did))]

    # ---- reading -----------------------------------------------------------------

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        with self._lock:
            return self._deliveries.get(delivery_id)

    def list_deliveries(
        self, endpoint_id: str, limit: int, before: int | None = None
    ) -> list[Delivery]:
        with self._lock:
            index = self._index.get(endpoint_id, [])
            end = len(index) if before is None else bisect.bisect_left(index, (before, ""))
            return [self._deliveries[did] for _, did in reversed(index[max(0, end - limit) : end])]

    # ---- sending -----------------------------------------------------------------

    def claim_due(self, now: float, lease_until: float, limit: int) -> list[Delivery]:
        with self._lock:
            due = sorted((at, did) for did, at in self._due.items() if at <= now)[:limit]
            out = []
            for _, did in due:
                claimed = dataclasses.replace(self._deliveries[did], claim=uuid.uuid4().hex)
                self._deliveries[did] = claimed
                self._due[did] = lease_until
                out.append(claimed)
            return out

    def complete(self, delivery: Delivery, now: float) -> bool:
        with self._lock:
            stored = self._deliveries.get(delivery.id)
            if stored is None or stored.claim is None or stored.claim != delivery.claim:
                return False
            record = dataclasses.replace(delivery, claim=None)
            self._deliveries[delivery.id] = record
            if not record.final:
                self._due[record.id] = record.next_attempt_at or now
                return True
            self._finish(record, now)
            return True

    def _finish(self, record: Delivery, now: float) -> None:
        """A final delivery leaves its queue; the next one in it becomes due now."""
        self._due.pop(record.id, None)
        self._ended[record.id] = now
        key = (record.endpoint_id, record.order_key)
        queue = self._queues.get(key)
        if queue is None:
            return
        if record.id in queue:
            queue.remove(record.id)
        if queue:
            self._due.setdefault(queue[0], now)
        else:
            del self._queues[key]

    def requeue(self, delivery: Delivery, now: float) -> bool:
        with self._lock:
            stored = self._deliveries.get(delivery.id)
            if stored is None or not stored.final or delivery.final:
                return False
            self._deliveries[delivery.id] = dataclasses.replace(delivery, claim=None)
            self._ended.pop(delivery.id, None)
            self._enqueue(delivery, now)
            return True

    def fail_pending(self, endpoint_id: str, now: float, note: str) -> int:
        with self._lock:
            failed = 0
            for key in [k for k in self._queues if k[0] == endpoint_id]:
                for did in self._queues.pop(key):
                    d = self._deliveries[did]
                    self._deliveries[did] = dataclasses.replace(
                        d, state=DeliveryState.FAILED, next_attempt_at=None, note=note, claim=None
                    )
                    self._due.pop(did, None)
                    self._ended[did] = now
                    failed += 1
            return failed
