"""The webhook dispatcher, driven step by step on a manual clock with a scripted sender."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Sequence

import pytest
from standardwebhooks import Webhook

from dispatch import ManualClock
from dispatch.model import Event
from dispatch.store.base import NewEvent, Store
from dispatch.webhooks import (
    DEFAULT_DELAYS_S,
    DISABLED_EVENT,
    DeliveryState,
    Endpoint,
    RetrySchedule,
    WebhookDispatcher,
    WebhookStore,
    event_body,
)
from tests.dispatch.webhooks.conftest import ScriptedSender, Sent, endpoint
from tests.polling import until

FAST = RetrySchedule((10.0, 20.0, 40.0), jitter=0.2)


def emit(store: Store, clock: ManualClock, *specs: tuple[str, str, str]) -> list[Event]:
    """Events (type, community, entity) added to the feed now."""
    return store.append_events(
        [NewEvent(clock.now(), cid, kind, entity, {"state": "x"}) for kind, cid, entity in specs]
    )


def make(
    store: Store,
    wh: WebhookStore,
    sender: ScriptedSender,
    clock: ManualClock,
    schedule: RetrySchedule = FAST,
) -> WebhookDispatcher:
    return WebhookDispatcher(store, wh, sender, clock, schedule=schedule, rng=random.Random(1))


def register(wh: WebhookStore, store: Store, eid: str = "wh_1", **kw: object) -> Endpoint:
    e = endpoint(eid, after_seq=store.last_seq(), **kw)
    wh.put_endpoint(e)
    return e


def ids(sent: Sequence[Sent]) -> list[str]:
    return [s.headers["webhook-id"] for s in sent]


def test_the_default_schedule_spans_more_than_a_day() -> None:
    """Ten attempts; even with no jitter drawn the last is more than 24 h after the first;
    jitter only lengthens a wait, by at most 20 %."""
    schedule = RetrySchedule()
    assert schedule.attempts == 10 and schedule.delays_s == DEFAULT_DELAYS_S
    assert schedule.shortest_span_s > 24 * 3600
    rng = random.Random(0)
    for n, base in enumerate(DEFAULT_DELAYS_S, start=1):
        waits = [schedule.delay(n, rng) for _ in range(50)]
        assert all(w is not None and base <= w <= base * 1.2 for w in waits)
        assert len(set(waits)) > 1  # jittered
    assert schedule.delay(len(DEFAULT_DELAYS_S) + 1, rng) is None
    assert list(DEFAULT_DELAYS_S) == sorted(DEFAULT_DELAYS_S)


def test_matching_events_are_delivered_signed_with_the_feed_body(
    store: Store, wh_store: WebhookStore
) -> None:
    """Types (exact or group.*), communities and the registration point filter; every body
    is the feed's event and verifies with standardwebhooks."""
    clock = ManualClock(time.time())
    emit(store, clock, ("order.created", "c1", "o0"))  # before registration: never sent
    orders = register(wh_store, store, "wh_a", event_types=("order.*",), community_ids=("c1",))
    jobs = register(wh_store, store, "wh_b", event_types=("job.assigned",))
    events = emit(
        store,
        clock,
        ("order.created", "c1", "o1"),
        ("order.created", "c2", "o2"),
        ("job.assigned", "c2", "j1"),
        ("job.created", "c2", "j1"),
    )
    sender = ScriptedSender()
    result = make(store, wh_store, sender, clock).step()
    assert result.events == 4 and result.attempts == 2 and result.succeeded == 2
    by_url: dict[str, list[dict[str, object]]] = {}
    for s in sender.sent:
        secret = orders.secret if s.headers["webhook-id"].endswith("wh_a") else jobs.secret
        by_url.setdefault(s.headers["webhook-id"], []).append(
            Webhook(secret).verify(s.body, s.headers)
        )
    assert sorted(by_url) == [f"msg_{events[0].seq}_wh_a", f"msg_{events[2].seq}_wh_b"]
    assert sender.sent[0].body in (event_body(events[0]), event_body(events[2]))
    body = json.loads(event_body(events[0]))
    assert body["type"] == "order.created" and body["ts"].endswith("Z")


def test_failures_retry_on_the_schedule_with_the_same_id(
    store: Store, wh_store: WebhookStore
) -> None:
    """A failing receiver is retried after 10, 20 s (+jitter), never earlier, same webhook-id;
    each attempt is recorded."""
    clock = ManualClock()
    register(wh_store, store)
    emit(store, clock, ("order.created", "c1", "o1"))
    down = True
    sender = ScriptedSender(lambda s: 503 if down else 200)
    d = make(store, wh_store, sender, clock)
    d.step()
    clock.advance(9.9)
    d.step()
    assert len(sender.sent) == 1
    clock.advance(12.1)  # 22 s: past 10 s x 1.2
    d.step()
    assert len(sender.sent) == 2
    down = False
    clock.advance(24.1)
    d.step()
    assert len(sender.sent) == 3 and len(set(ids(sender.sent))) == 1
    (delivery,) = wh_store.list_deliveries("wh_1", 10)
    assert delivery.state == DeliveryState.SUCCEEDED
    assert [a.status_code for a in delivery.attempts] == [503, 503, 200]
    gaps = [b.at - a.at for a, b in zip(delivery.attempts, delivery.attempts[1:], strict=False)]
    assert 10 <= gaps[0] <= 22.1 and gaps[1] >= 20


def test_an_entity_waits_for_its_older_event_others_do_not(
    store: Store, wh_store: WebhookStore
) -> None:
    """o1's second event is held while its first fails; o2's goes out; then o1's in order."""
    clock = ManualClock()
    register(wh_store, store)
    e = emit(
        store,
        clock,
        ("order.created", "c1", "o1"),
        ("order.assigned", "c1", "o1"),
        ("order.created", "c1", "o2"),
    )
    first = f"msg_{e[0].seq}_wh_1"
    fail_first = True
    sender = ScriptedSender(
        lambda s: 500 if fail_first and s.headers["webhook-id"] == first else 200
    )
    d = make(store, wh_store, sender, clock)
    d.step()
    d.step()
    assert sorted(ids(sender.sent)) == sorted([first, f"msg_{e[2].seq}_wh_1"])
    fail_first = False
    clock.advance(13)
    d.step()
    d.step()
    o1 = [i for i in ids(sender.sent) if i != f"msg_{e[2].seq}_wh_1"]
    assert o1 == [first, first, f"msg_{e[1].seq}_wh_1"]


def test_past_the_schedule_the_endpoint_is_disabled_and_the_feed_says_so(
    store: Store, wh_store: WebhookStore
) -> None:
    """The last failed attempt gives the delivery up, disables the endpoint, gives up its
    other pending deliveries and adds webhook.disabled to the feed; nothing more is sent."""
    clock = ManualClock(time.time())  # the watcher's receiver checks the timestamp
    register(wh_store, store)
    watcher = register(wh_store, store, "wh_w", event_types=(DISABLED_EVENT,))
    emit(store, clock, ("order.created", "c1", "o1"), ("order.created", "c1", "o2"))
    sender = ScriptedSender(lambda s: None if "wh_1" in s.headers["webhook-id"] else 200)
    d = make(store, wh_store, sender, clock)
    for _ in range(FAST.attempts):
        d.step()
        clock.advance(50)
    assert d.step().events == 1  # the disabled event, fanned out to the watcher
    d.step()
    ep = wh_store.get_endpoint("wh_1")
    assert ep is not None and ep.disabled and "retry schedule" in (ep.disabled_reason or "")
    states = {x.id: (x.state, len(x.attempts)) for x in wh_store.list_deliveries("wh_1", 10)}
    assert sorted(n for _, n in states.values()) == [FAST.attempts, FAST.attempts]
    assert {s for s, _ in states.values()} == {DeliveryState.FAILED}
    disabled = [ev for ev in store.events_after(0) if ev.type == DISABLED_EVENT]
    assert len(disabled) == 1 and disabled[0].entity_id == "wh_1"
    assert disabled[0].community_id == "*"
    to_watcher = [s for s in sender.sent if s.headers["webhook-id"].endswith("wh_w")]
    assert len(to_watcher) == 1
    told = Webhook(watcher.secret).verify(to_watcher[0].body, to_watcher[0].headers)
    assert told["type"] == DISABLED_EVENT and told["entity_id"] == "wh_1"
    before = len(sender.sent)
    emit(store, clock, ("order.created", "c1", "o3"))
    d.step()
    assert len(sender.sent) == before  # a disabled endpoint gets nothing new


def test_two_dispatchers_fan_out_once_and_send_each_delivery_once(
    store: Store, wh_store: WebhookStore
) -> None:
    """Two dispatchers stepping in turn over one store: every event is sent exactly once."""
    clock = ManualClock()
    register(wh_store, store)
    emit(store, clock, *[("order.created", "c1", f"o{i}") for i in range(20)])
    sender = ScriptedSender()
    a, b = make(store, wh_store, sender, clock), make(store, wh_store, sender, clock)
    for _ in range(5):
        a.step()
        b.step()
    assert len(sender.sent) == 20 and len(set(ids(sender.sent))) == 20


def test_a_restart_loses_nothing_pending(store: Store, wh_store: WebhookStore) -> None:
    """A dispatcher that claimed deliveries and died: a new one sends them after the lease;
    deliveries waiting for a retry are sent by the new one at their time."""
    clock = ManualClock()
    register(wh_store, store)
    emit(store, clock, ("order.created", "c1", "o1"), ("order.created", "c1", "o2"))
    dead = make(store, wh_store, ScriptedSender(), clock)
    dead.fan_out()
    assert len(wh_store.claim_due(clock.now(), clock.now() + dead.lease_s, 1)) == 1  # then dies
    flaky = ScriptedSender(lambda s: 503)
    make(store, wh_store, flaky, clock).send_due()  # the other one fails once
    assert len(flaky.sent) == 1
    sender = ScriptedSender()
    fresh = make(store, wh_store, sender, clock)
    clock.advance(30)
    fresh.step()
    assert len(sender.sent) == 1  # the retry; the claimed one is still leased
    clock.advance(dead.lease_s)
    fresh.step()
    assert len(sender.sent) == 2 and len(set(ids(sender.sent))) == 2
    assert all(x.state == DeliveryState.SUCCEEDED for x in wh_store.list_deliveries("wh_1", 9))


class TrimmedFeed:
    """The engine's store with the feed's first events trimmed away (retention)."""

    def __init__(self, store: Store, trimmed_through: int) -> None:
        self.store = store
        self.trimmed_through = trimmed_through

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)

    def events_after(
        self, seq: int, limit: int = 1000, community_id: str | None = None
    ) -> list[Event]:
        return self.store.events_after(max(seq, self.trimmed_through), limit, community_id)


def test_events_trimmed_before_fan_out_are_recorded_as_a_gap(
    store: Store, wh_store: WebhookStore
) -> None:
    """What is still in the feed is delivered; the gap is a skipped delivery, never a crash."""
    clock = ManualClock()
    register(wh_store, store)
    e = emit(store, clock, *[("order.created", "c1", f"o{i}") for i in range(5)])
    sender = ScriptedSender()
    feed = TrimmedFeed(store, trimmed_through=e[2].seq)
    d = WebhookDispatcher(feed, wh_store, sender, clock, schedule=FAST)  # type: ignore[arg-type]
    assert d.step().events == 2
    assert sorted(ids(sender.sent)) == [f"msg_{e[3].seq}_wh_1", f"msg_{e[4].seq}_wh_1"]
    gap = [x for x in wh_store.list_deliveries("wh_1", 10) if x.state == DeliveryState.SKIPPED]
    assert len(gap) == 1 and f"{e[0].seq}..{e[2].seq}" in (gap[0].note or "")


def test_without_endpoints_the_cursor_skips_ahead(store: Store, wh_store: WebhookStore) -> None:
    """With nobody listening the feed is not read; a later endpoint gets only later events."""
    clock = ManualClock()
    emit(store, clock, ("order.created", "c1", "o1"))
    sender = ScriptedSender()
    d = make(store, wh_store, sender, clock)
    d.step()
    assert wh_store.cursor() == store.last_seq()
    register(wh_store, store)
    (e,) = emit(store, clock, ("order.created", "c1", "o2"))
    d.step()
    assert ids(sender.sent) == [f"msg_{e.seq}_wh_1"]


@pytest.mark.parametrize("status", [301, 404, 500])
def test_non_2xx_answers_are_failures(store: Store, wh_store: WebhookStore, status: int) -> None:
    """Redirects and errors are failed attempts with the status recorded."""
    clock = ManualClock()
    register(wh_store, store)
    emit(store, clock, ("order.created", "c1", "o1"))
    make(store, wh_store, ScriptedSender(lambda s: status), clock).step()
    (x,) = wh_store.list_deliveries("wh_1", 1)
    assert x.state == DeliveryState.PENDING and x.attempts[0].status_code == status
    assert x.next_attempt_at is not None and x.next_attempt_at >= clock.now() + 10


def test_two_running_dispatchers_send_each_delivery_once(
    store: Store, wh_store: WebhookStore
) -> None:
    """Two dispatcher loops in threads over one store (two workers): 40 events of 40
    entities are each sent exactly once."""
    clock = ManualClock()
    register(wh_store, store)
    emit(store, clock, *[("order.created", "c1", f"o{i}") for i in range(40)])
    sender = ScriptedSender()
    loops = [make(store, wh_store, sender, clock) for _ in range(2)]
    stop = threading.Event()
    threads = [threading.Thread(target=d.run, args=(stop,)) for d in loops]
    for d in loops:
        d.poll_s = 0.01
    for t in threads:
        t.start()
    try:
        assert until(lambda: len(sender.sent) >= 40, 20.0)
    finally:
        stop.set()
        for t in threads:
            t.join()
        for d in loops:
            d.close()
    assert len(sender.sent) == 40 and len(set(ids(sender.sent))) == 40
    assert all(d.health.step_failures == 0 for d in loops)
    assert sum(d.health.attempts_ok for d in loops) == 40


def test_the_stores_own_retention_trim_leaves_a_recorded_gap(
    store: Store, wh_store: WebhookStore
) -> None:
    """Events the store's retention trimmed before fan-out: the rest is delivered, in
    order, and the gap is one skipped delivery naming the lost range."""
    clock = ManualClock()
    register(wh_store, store)
    e = emit(store, clock, *[("order.created", "c1", "o1") for _ in range(5)])
    assert store.trim_events(2, clock.now() - 1) == 3
    sender = ScriptedSender()
    d = make(store, wh_store, sender, clock)
    d.step()
    d.step()
    assert ids(sender.sent) == [f"msg_{e[3].seq}_wh_1", f"msg_{e[4].seq}_wh_1"]
    (gap,) = [x for x in wh_store.list_deliveries("wh_1", 10) if x.state == DeliveryState.SKIPPED]
    assert f"{e[0].seq}..{e[2].seq}" in (gap.note or "")
