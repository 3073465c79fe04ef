"""The webhook dispatcher: event feed → per-endpoint queues → signed sends with retries.

Each ``step`` does two things, both safe to run in several processes at once:

1. Fan-out: read the feed after the persisted cursor, make one delivery per
   event and matching endpoint, and store them with the new cursor in one
   compare-and-set (two dispatchers never fan an event out twice). Events
   trimmed from the feed before they were fanned out cannot be sent: the gap is
   recorded as a ``skipped`` delivery of every endpoint that wanted them.
2. Send: claim due deliveries (a lease: a dispatcher that dies mid-send loses
   them to another after ``lease_s``), POST each signed body through the
   injected ``Sender`` on a small thread pool, and store the outcome. A failure
   is retried on the ``RetrySchedule``; past its end the delivery is given up,
   its endpoint disabled (its other pending deliveries given up too) and a
   ``webhook.disabled`` event added to the feed.

Deliveries of one entity (``community:entity``) go out one at a time in feed
order: a newer one waits until the older succeeded or was given up. Nothing
here reads the wall clock or sleeps except ``run``'s idle wait.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from dispatch.clock import Clock
from dispatch.model import Event
from dispatch.store.base import NewEvent, Store
from dispatch.ticking.worker import Backoff
from dispatch.webhooks.model import Attempt, Delivery, DeliveryState, Endpoint
from dispatch.webhooks.payload import event_body
from dispatch.webhooks.schedule import RetrySchedule
from dispatch.webhooks.sender import Sender
from dispatch.webhooks.signing import signed_headers
from dispatch.webhooks.store import WebhookStore

__all__ = ["DISABLED_EVENT", "DispatcherHealth", "StepResult", "WebhookDispatcher"]

log = logging.getLogger(__name__)

DISABLED_EVENT = "webhook.disabled"
GLOBAL_COMMUNITY = "*"  # the community of events that belong to none (as rules.activated)
MAX_ATTEMPTS_KEPT = 50


@dataclass(frozen=True)
class StepResult:
    """What one step did: events read from the feed, attempts made, endpoints disabled."""

    events: int = 0
    attempts: int = 0
    succeeded: int = 0
    disabled: int = 0

    @property
    def busy(self) -> bool:
        return self.events > 0 or self.attempts > 0


@dataclass
class DispatcherHealth:
    """When the loop last completed a step, its failures in a row, and running totals
    (read by metrics; only the stepping thread writes them)."""

    last_step_at: float | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    attempts_ok: int = 0
    attempts_failed: int = 0
    endpoints_disabled: int = 0
    step_failures: int = 0


@dataclass
class WebhookDispatcher:
    """See the module docstring. ``feed`` is the engine's store (events in and out)."""

    feed: Store
    store: WebhookStore
    sender: Sender
    clock: Clock
    schedule: RetrySchedule = field(default_factory=RetrySchedule)
    batch: int = 500
    concurrency: int = 4
    lease_s: float = 60.0
    poll_s: float = 1.0
    rng: random.Random = field(default_factory=random.Random)
    backoff: Backoff = field(default_factory=lambda: Backoff(0.5, 30.0))
    health: DispatcherHealth = field(default_factory=DispatcherHealth)

    def __post_init__(self) -> None:
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="webhook-send")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # ---- the loop ----------------------------------------------------------------

    def step(self) -> StepResult:
        """Fan out one batch of the feed, then send what is due."""
        events = self.fan_out()
        sent = self.send_due()
        return dataclasses.replace(sent, events=events)

    def run(self, stop: threading.Event) -> None:
        """Step until ``stop`` is set; store errors are logged and retried with backoff."""
        while not stop.is_set():
            try:
                result = self.step()
            except Exception as exc:  # the loop must survive anything a store or sender does
                self.health.consecutive_failures += 1
                self.health.step_failures += 1
                self.health.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("webhook dispatcher step failed (%s)", self.health.last_error)
                stop.wait(self.backoff.delay(self.health.consecutive_failures, self.rng))
                continue
            self.health.consecutive_failures = 0
            self.health.last_step_at = self.clock.now()
            if not result.busy:
                stop.wait(self.poll_s)

    # ---- fan-out -----------------------------------------------------------------

    def fan_out(self) -> int:
        """One batch of the feed into deliveries; the number of events read.

        The feed's end is read before the endpoints: an endpoint registered after
        that listing has its ``after_seq`` at or past that end, so the batch, which
        stops there, holds nothing it would miss.
        """
        now = self.clock.now()
        cursor = self.store.cursor()
        last = self.feed.last_seq()
        if last <= cursor:  # nothing new in the feed: no endpoint to list
            return 0
        endpoints = [e for e in self.store.list_endpoints() if not e.disabled]
        if not endpoints:  # nobody listens: skip ahead without reading the feed
            if last > cursor:
                self.store.add([], now, expect_cursor=cursor, new_cursor=last)
            return 0
        start = max(cursor, min(e.after_seq for e in endpoints))
        events = [e for e in self.feed.events_after(start, limit=self.batch) if e.seq <= last]
        if not events:
            if start > cursor:
                self.store.add([], now, expect_cursor=cursor, new_cursor=start)
            return 0
        planned: list[tuple[Endpoint, Event | None, str]] = []
        if events[0].seq > start + 1:
            gap = f"events {start + 1}..{events[0].seq - 1} left the feed before delivery"
            log.warning("webhooks: %s", gap)
            planned += [(e, None, gap) for e in endpoints if e.after_seq < events[0].seq - 1]
        for event in events:
            planned += [
                (e, event, "")
                for e in endpoints
                if event.seq > e.after_seq and e.wants(event.type, event.community_id)
            ]
        first = self.store.reserve_numbers(len(planned)) if planned else 0
        deliveries = [
            self._delivery(endpoint, event, note, first + i, now, start)
            for i, (endpoint, event, note) in enumerate(planned)
        ]
        if not self.store.add(deliveries, now, expect_cursor=cursor, new_cursor=events[-1].seq):
            return 0  # another dispatcher fanned this batch out first
        return len(events)

    @staticmethod
    def _delivery(
        endpoint: Endpoint, event: Event | None, note: str, number: int, now: float, start: int
    ) -> Delivery:
        if event is None:  # a gap: recorded, never sent
            return Delivery(
                id=f"gap_{start + 1}_{endpoint.id}",
                endpoint_id=endpoint.id,
                number=number,
                event_type="webhook.gap",
                event_seq=None,
                order_key="",
                body="",
                created_at=now,
                state=DeliveryState.SKIPPED,
                note=note,
            )
        return Delivery(
            id=f"msg_{event.seq}_{endpoint.id}",
            endpoint_id=endpoint.id,
            number=number,
            event_type=event.type,
            event_seq=event.seq,
            order_key=f"{event.community_id}:{event.entity_id}",
            body=event_body(event).decode("utf-8"),
            created_at=now,
            next_attempt_at=now,
        )

    # ---- sending -----------------------------------------------------------------

    def send_due(self) -> StepResult:
        """Claim due deliveries (twice the pool's size) and send them in parallel."""
        now = self.clock.now()
        claimed = self.store.claim_due(now, now + self.lease_s, 2 * self.concurrency)
        if not claimed:
            return StepResult()
        endpoints = {e.id: e for e in self.store.list_endpoints()}
        outcomes = list(self._pool.map(lambda d: self._attempt(d, endpoints), claimed))
        disabled = sum(
            1
            for delivery, (_, give_up) in zip(claimed, outcomes, strict=True)
            if give_up is not None and self._disable(give_up, delivery)
        )
        result = StepResult(
            attempts=sum(1 for ok, _ in outcomes if ok is not None),
            succeeded=sum(1 for ok, _ in outcomes if ok),
            disabled=disabled,
        )
        self.health.attempts_ok += result.succeeded
        self.health.attempts_failed += result.attempts - result.succeeded
        self.health.endpoints_disabled += result.disabled
        return result

    def _attempt(
        self, delivery: Delivery, endpoints: dict[str, Endpoint]
    ) -> tuple[bool | None, Endpoint | None]:
        """Send once and store the outcome: whether it succeeded (None: not sent), and
        the endpoint to disable when the delivery was given up."""
        endpoint = endpoints.get(delivery.endpoint_id)
        if endpoint is None:  # deleted meanwhile: its deliveries are gone with it
            return None, None
        now = self.clock.now()
        if endpoint.disabled:
            self._store(delivery, DeliveryState.FAILED, None, "endpoint disabled", now)
            return None, None
        body = delivery.body.encode("utf-8")
        result = self.sender.send(
            endpoint.url,
            signed_headers(endpoint.signing_secrets(now), delivery.id, now, body),
            body,
        )
        attempt = Attempt(now, result.status_code, result.error, result.duration_s)
        delivery = dataclasses.replace(
            delivery, attempts=(*delivery.attempts, attempt)[-MAX_ATTEMPTS_KEPT:]
        )
        if attempt.ok:
            self._store(delivery, DeliveryState.SUCCEEDED, None, None, now)
            return True, None
        retries = delivery.retries + 1
        wait = self.schedule.delay(retries, self.rng)
        delivery = dataclasses.replace(delivery, retries=retries)
        if wait is not None:
            self._store(delivery, DeliveryState.PENDING, now + wait, None, now)
            return False, None
        note = f"gave up after {retries} failed attempts in a row"
        self._store(delivery, DeliveryState.FAILED, None, note, now)
        return False, endpoint

    def _store(
        self,
        delivery: Delivery,
        state: DeliveryState,
        next_at: float | None,
        note: str | None,
        now: float,
    ) -> None:
        record = dataclasses.replace(delivery, state=state, next_attempt_at=next_at, note=note)
        if not self.store.complete(record, now):
            log.info("webhook delivery %s: claim lost (another dispatcher took it)", delivery.id)

    def _disable(self, endpoint: Endpoint, delivery: Delivery) -> bool:
        """Disable an endpoint that failed past the schedule; tell the feed once."""
        now = self.clock.now()
        current = self.store.get_endpoint(endpoint.id)
        if current is None or current.disabled:
            return False
        reason = f"delivery {delivery.id} failed past the retry schedule"
        self.store.put_endpoint(
            dataclasses.replace(current, disabled_at=now, disabled_reason=reason)
        )
        given_up = self.store.fail_pending(endpoint.id, now, "endpoint disabled")
        data = {"url": endpoint.url, "reason": reason, "pending_given_up": given_up}
        event = NewEvent(now, GLOBAL_COMMUNITY, DISABLED_EVENT, endpoint.id, data)
        self.feed.append_events([event])
        log.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)
        return True
