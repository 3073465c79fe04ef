"""What the API asks of webhooks: register, read, page, delete, enable, test, redeliver.

Validation lives here (the API only shapes answers): the URL's form and an IP
literal's range (``targets``), event-type patterns (``order.created`` or
``order.*``), known community ids, and a cap on endpoints. Sending never happens
here: a test or a redelivery is queued for the dispatcher.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from dispatch.clock import Clock
from dispatch.errors import Conflict, InvalidInput, NotFound
from dispatch.store.base import Store
from dispatch.webhooks.model import Delivery, DeliveryState, Endpoint
from dispatch.webhooks.payload import ping_body
from dispatch.webhooks.signing import new_secret
from dispatch.webhooks.store import WebhookStore
from dispatch.webhooks.targets import parse_target

__all__ = ["MAX_ENDPOINTS", "ROTATION_GRACE_S", "Page", "Webhooks"]

MAX_ENDPOINTS = 100
ROTATION_GRACE_S = 24 * 3600.0
MAX_EVENT_TYPES = 50
MAX_COMMUNITIES = 500
EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*(\.\*)?$")

Page = tuple[list[Endpoint], str | None]


def _cursor_number(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit() or len(cursor) > 18:
        raise InvalidInput("cursor: not a cursor this listing gave out")
    return int(cursor)


class Webhooks:
    """Endpoints and deliveries over a ``WebhookStore``; ``feed`` is the engine's store."""

    def __init__(
        self,
        store: WebhookStore,
        feed: Store,
        clock: Clock,
        *,
        allow_private: bool = False,
        ids: Callable[[], str] | None = None,
    ) -> None:
        self.store = store
        self.feed = feed
        self.clock = clock
        self.allow_private = allow_private
        self._ids = ids or (lambda: "wh_" + uuid.uuid4().hex[:20])

    # ---- endpoints ---------------------------------------------------------------

    def register(
        self,
        url: str,
        event_types: Sequence[str] = (),
        community_ids: Sequence[str] = (),
        description: str = "",
    ) -> Endpoint:
        """A new endpoint with a fresh secret; it receives events added from now on."""
        parse_target(url, self.allow_private)
        types = self._types(event_types)
        communities = self._communities(community_ids)
        if len(self.store.list_endpoints()) >= MAX_ENDPOINTS:
            raise Conflict(f"at most {MAX_ENDPOINTS} webhook endpoints; delete one first")
        endpoint = Endpoint(
            id=self._ids(),
            url=url,
            secret=new_secret(),
            created_at=self.clock.now(),
            after_seq=self.feed.last_seq(),
            event_types=types,
            community_ids=communities,
            description=description,
        )
        self.store.put_endpoint(endpoint)
        return endpoint

    def update(
        self,
        endpoint_id: str,
        *,
        url: str | None = None,
        event_types: Sequence[str] | None = None,
        community_ids: Sequence[str] | None = None,
        description: str | None = None,
    ) -> Endpoint:
        """Change what is given (None: keep); pending deliveries go to the new URL, and
        the filters apply to events fanned out from now on."""
        endpoint = self.get(endpoint_id)
        changes: dict[str, Any] = {}
        if url is not None:
            parse_target(url, self.allow_private)
            changes["url"] = url
        if event_types is not None:
            changes["event_types"] = self._types(event_types)
        if community_ids is not None:
            changes["community_ids"] = self._communities(community_ids)
        if description is not None:
            changes["description"] = description
        if changes:
            endpoint = dataclasses.replace(endpoint, **changes)
            self.store.put_endpoint(endpoint)
        return endpoint

    def rotate_secret(self, endpoint_id: str, grace_s: float = ROTATION_GRACE_S) -> Endpoint:
        """A fresh secret; the current one still signs too (a second signature) for
        ``grace_s``, so receivers can switch without losing a message."""
        endpoint = self.get(endpoint_id)
        endpoint = dataclasses.replace(
            endpoint,
            secret=new_secret(),
            previous_secret=endpoint.secret,
            previous_until=self.clock.now() + grace_s,
        )
        self.store.put_endpoint(endpoint)
        return endpoint

    def _types(self, event_types: Sequence[str]) -> tuple[str, ...]:
        types = tuple(dict.fromkeys(event_types))
        if len(types) > MAX_EVENT_TYPES:
            raise InvalidInput(f"event_types: at most {MAX_EVENT_TYPES}")
        bad = [t for t in types if not EVENT_TYPE.match(t)]
        if bad:
            raise InvalidInput(f"event_types: not an event type or 'group.*' pattern: {bad}")
        return types

    def _communities(self, community_ids: Sequence[str]) -> tuple[str, ...]:
        communities = tuple(dict.fromkeys(community_ids))
        if len(communities) > MAX_COMMUNITIES:
            raise InvalidInput(f"community_ids: at most {MAX_COMMUNITIES}")
        unknown = [c for c in communities if self.feed.get_community(c) is None]
        if unknown:
            raise InvalidInput(f"community_ids: unknown communities {unknown}")
        return communities

    def get(self, endpoint_id: str) -> Endpoint:
        endpoint = self.store.get_endpoint(endpoint_id)
        if endpoint is None:
            raise NotFound(f"webhook {endpoint_id} not found")
        return endpoint

    def page(self, limit: int, cursor: str | None = None) -> Page:
        """Endpoints by id, ``limit`` at a time; the cursor is the last id of a page."""
        rest = [e for e in self.store.list_endpoints() if cursor is None or e.id > cursor]
        page = rest[:limit]
        return page, (page[-1].id if len(rest) > limit else None)

    def delete(self, endpoint_id: str) -> None:
        if not self.store.delete_endpoint(endpoint_id):
            raise NotFound(f"webhook {endpoint_id} not found")

    def enable(self, endpoint_id: str) -> Endpoint:
        """Re-enable a disabled endpoint (its given-up deliveries stay given up:
        redeliver them one by one); enabling an enabled one changes nothing."""
        endpoint = self.get(endpoint_id)
        if endpoint.disabled:
            endpoint = dataclasses.replace(endpoint, disabled_at=None, disabled_reason=None)
            self.store.put_endpoint(endpoint)
        return endpoint

    # ---- deliveries --------------------------------------------------------------

    def send_test(self, endpoint_id: str) -> Delivery:
        """Queue a ``webhook.test`` delivery to the endpoint (409 while it is disabled)."""
        endpoint = self._enabled(endpoint_id)
        now = self.clock.now()
        number = self.store.reserve_numbers(1)
        delivery = Delivery(
            id=f"msg_test_{uuid.uuid4().hex[:16]}",
            endpoint_id=endpoint.id,
            number=number,
            event_type="webhook.test",
            event_seq=None,
            order_key=f"test:{number}",
            body=ping_body(endpoint.id, now).decode("utf-8"),
            created_at=now,
            next_attempt_at=now,
        )
        self.store.add([delivery], now)
        return delivery

    def deliveries(
        self,
        endpoint_id: str,
        limit: int,
        cursor: str | None = None,
        state: DeliveryState | None = None,
    ) -> tuple[list[Delivery], str | None]:
        """Newest first, ``limit`` at a time, of one ``state`` when given (a page of a
        filtered listing reads on until it is full or the listing ends)."""
        self.get(endpoint_id)
        before = _cursor_number(cursor)
        found: list[Delivery] = []
        while len(found) <= limit:
            batch = self.store.list_deliveries(endpoint_id, max(limit + 1, 100), before)
            found += [d for d in batch if state is None or d.state == state]
            if len(batch) < max(limit + 1, 100):
                break
            before = batch[-1].number
        page = found[:limit]
        return page, (str(page[-1].number) if len(found) > limit else None)

    def delivery(self, endpoint_id: str, delivery_id: str) -> Delivery:
        delivery = self.store.get_delivery(delivery_id)
        if delivery is None or delivery.endpoint_id != endpoint_id:
            raise NotFound(f"delivery {delivery_id} of webhook {endpoint_id} not found")
        return delivery

    def redeliver(self, endpoint_id: str, delivery_id: str) -> Delivery:
        """Send a finished delivery again, same id and body, with a fresh retry schedule.

        It joins the end of its entity's queue; 409 while it is still pending, when it
        is a recorded gap (nothing to send) or while the endpoint is disabled.
        """
        self._enabled(endpoint_id)
        delivery = self.delivery(endpoint_id, delivery_id)
        if delivery.state == DeliveryState.SKIPPED:
            raise Conflict(f"delivery {delivery_id} records a gap in the feed: nothing to send")
        if not delivery.final:
            raise Conflict(f"delivery {delivery_id} is still pending")
        again = dataclasses.replace(
            delivery,
            state=DeliveryState.PENDING,
            next_attempt_at=self.clock.now(),
            retries=0,
            note="redelivery requested",
        )
        if not self.store.requeue(again, self.clock.now()):
            raise Conflict(f"delivery {delivery_id} is already being delivered again")
        return again

    def recover(self, endpoint_id: str, since: float) -> list[Delivery]:
        """Redeliver every given-up delivery created at or after ``since``, oldest first
        (so each entity's events keep their order); the ones requeued."""
        self._enabled(endpoint_id)
        failed: list[Delivery] = []
        before: int | None = None
        while True:
            batch = self.store.list_deliveries(endpoint_id, 500, before)
            recent = [d for d in batch if d.created_at >= since]
            failed += [d for d in recent if d.state == DeliveryState.FAILED]
            if len(batch) < 500 or len(recent) < len(batch):
                break
            before = batch[-1].number
        now = self.clock.now()
        again = [
            dataclasses.replace(
                d,
                state=DeliveryState.PENDING,
                next_attempt_at=now,
                retries=0,
                note="recovery requested",
            )
            for d in reversed(failed)
        ]
        return [d for d in again if self.store.requeue(d, now)]

    def _enabled(self, endpoint_id: str) -> Endpoint:
        endpoint = self.get(endpoint_id)
        if endpoint.disabled:
            raise Conflict(f"webhook {endpoint_id} is disabled; enable it first")
        return endpoint
