"""The webhook store protocol (memory and Redis implement it; one contract suite checks both).

Kept apart from the dispatch ``Store``: webhooks are global, not per community.

* Endpoints are records by id; ``delete_endpoint`` also forgets its deliveries.
* The fan-out cursor is the last feed seq turned into deliveries. ``add``
  stores deliveries and, given ``expect_cursor``, moves the cursor to
  ``new_cursor`` in the same atomic step, only if it still is at
  ``expect_cursor`` (False otherwise, nothing stored): two dispatchers can never
  fan one event out twice. Adding a delivery id that exists is a no-op.
* Order: a pending delivery joins the queue of its ``(endpoint, order_key)``;
  only the head of a queue is ever due. A head leaves its queue when it is
  completed as final, and the next one becomes due at once.
* Claims: ``claim_due`` hands out due heads (``next_attempt_at <= now``) with a
  fresh claim token and hides them until ``lease_until``; a dispatcher that dies
  mid-send loses its claim then and another takes the delivery over.
  ``complete`` stores the outcome only while the caller's claim is still the
  current one (False otherwise: the delivery moved on without it).
* ``requeue`` puts a final delivery back at the tail of its queue (manual
  redelivery), returning False when it is not final any more.
* ``fail_pending`` gives up every pending delivery of an endpoint (it was disabled).
* Final deliveries are kept ``retention_s`` after they end, and at most the newest
  ``keep`` deliveries of an endpoint are listed; older final ones are forgotten.
* Time is never read: callers pass ``now``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from dispatch.webhooks.model import Delivery, Endpoint

__all__ = ["DELIVERIES_KEPT", "DELIVERY_RETENTION_S", "WebhookStore"]

DELIVERY_RETENTION_S = 7 * 24 * 3600.0
DELIVERIES_KEPT = 10_000


class WebhookStore(Protocol):
    """Endpoints, their deliveries and the fan-out cursor (module docstring)."""

    def put_endpoint(self, endpoint: Endpoint) -> None: ...
    def get_endpoint(self, endpoint_id: str) -> Endpoint | None: ...
    def list_endpoints(self) -> list[Endpoint]:
        """Every endpoint, by id."""
        ...

    def delete_endpoint(self, endpoint_id: str) -> bool: ...

    def cursor(self) -> int: ...
    def reserve_numbers(self, count: int) -> int:
        """The first of ``count`` fresh, increasing delivery numbers."""
        ...

    def add(
        self,
        deliveries: Sequence[Delivery],
        now: float,
        *,
        expect_cursor: int | None = None,
        new_cursor: int | None = None,
    ) -> bool: ...

    def get_delivery(self, delivery_id: str) -> Delivery | None: ...
    def list_deliveries(
        self, endpoint_id: str, limit: int, before: int | None = None
    ) -> list[Delivery]:
        """Newest first; ``before``: only deliveries numbered below it."""
        ...

    def claim_due(self, now: float, lease_until: float, limit: int) -> list[Delivery]: ...
    def complete(self, delivery: Delivery, now: float) -> bool:
        """Store ``delivery`` (claimed as ``delivery.claim``); pending: due again at its
        ``next_attempt_at``; final: leaves its queue."""
        ...

    def requeue(self, delivery: Delivery, now: float) -> bool: ...
    def fail_pending(self, endpoint_id: str, now: float, note: str) -> int: ...
