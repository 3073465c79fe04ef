"""The contract of dispatch.webhooks.store, on memory, a real Redis and a real Cluster."""

from __future__ import annotations

import dataclasses

from dispatch.store.base import Store
from dispatch.store.redis import RedisStore
from dispatch.webhooks import DeliveryState, MemoryWebhookStore, WebhookStore
from dispatch.webhooks.redis import RedisWebhookStore
from tests.dispatch.webhooks.conftest import T0, delivery, endpoint
from tests.polling import until


def test_endpoints_round_trip_and_delete(wh_store: WebhookStore) -> None:
    """Endpoints come back equal, listed by id; delete forgets them once."""
    b, a = endpoint("wh_b", event_types=("order.*",)), endpoint("wh_a", community_ids=("c1",))
    wh_store.put_endpoint(b)
    wh_store.put_endpoint(a)
    assert wh_store.get_endpoint("wh_b") == b
    assert wh_store.list_endpoints() == [a, b]
    assert wh_store.delete_endpoint("wh_a") is True
    assert wh_store.delete_endpoint("wh_a") is False
    assert wh_store.list_endpoints() == [b]


def test_cursor_moves_only_from_the_expected_value(wh_store: WebhookStore) -> None:
    """add with a stale expected cursor stores nothing and returns False."""
    wh_store.put_endpoint(endpoint())
    assert wh_store.cursor() == 0
    assert wh_store.add([delivery("m1", 1)], T0, expect_cursor=0, new_cursor=5)
    assert wh_store.cursor() == 5
    assert not wh_store.add([delivery("m2", 2)], T0, expect_cursor=0, new_cursor=9)
    assert wh_store.cursor() == 5 and wh_store.get_delivery("m2") is None
    assert wh_store.get_delivery("m1") == delivery("m1", 1)


def test_add_is_idempotent_and_skips_unknown_endpoints(wh_store: WebhookStore) -> None:
    """The same delivery id twice is stored once; one for a missing endpoint not at all."""
    wh_store.put_endpoint(endpoint())
    wh_store.add([delivery("m1", 1), delivery("m1", 1), delivery("x", 2, eid="wh_gone")], T0)
    assert [d.id for d in wh_store.list_deliveries("wh_1", 10)] == ["m1"]
    assert wh_store.get_delivery("x") is None
    assert [d.id for d in wh_store.claim_due(T0, T0 + 60, 10)] == ["m1"]


def test_numbers_increase(wh_store: WebhookStore) -> None:
    """Reserved number ranges never overlap."""
    first = wh_store.reserve_numbers(3)
    assert wh_store.reserve_numbers(1) == first + 3


def test_one_entity_is_delivered_in_order(wh_store: WebhookStore) -> None:
    """Only a queue's head is due; completing it final makes the next one due at once."""
    wh_store.put_endpoint(endpoint())
    wh_store.add([delivery("m1", 1), delivery("m2", 2), delivery("n1", 3, key="c1:o2")], T0)
    claimed = wh_store.claim_due(T0, T0 + 60, 10)
    assert sorted(d.id for d in claimed) == ["m1", "n1"]
    m1 = next(d for d in claimed if d.id == "m1")
    retry = dataclasses.replace(m1, next_attempt_at=T0 + 10, retries=1)
    assert wh_store.complete(retry, T0)
    assert wh_store.claim_due(T0 + 9, T0 + 60, 10) == []  # m2 waits behind m1
    again = wh_store.claim_due(T0 + 10, T0 + 70, 10)
    assert [d.id for d in again] == ["m1"] and again[0].retries == 1
    done = dataclasses.replace(again[0], state=DeliveryState.SUCCEEDED, next_attempt_at=None)
    assert wh_store.complete(done, T0 + 10)
    assert [d.id for d in wh_store.claim_due(T0 + 10, T0 + 70, 10)] == ["m2"]
    stored = wh_store.get_delivery("m1")
    assert stored is not None and stored.state == DeliveryState.SUCCEEDED and stored.claim is None


def test_a_claim_hides_a_delivery_until_its_lease_ends(wh_store: WebhookStore) -> None:
    """A claimed delivery is not handed out again before lease_until; after it, it is,
    and the first claimer's late outcome is refused."""
    wh_store.put_endpoint(endpoint())
    wh_store.add([delivery("m1", 1)], T0)
    (first,) = wh_store.claim_due(T0, T0 + 60, 10)
    assert wh_store.claim_due(T0 + 59, T0 + 120, 10) == []
    (second,) = wh_store.claim_due(T0 + 60, T0 + 120, 10)
    assert first.claim and second.claim and first.claim != second.claim
    late = dataclasses.replace(first, state=DeliveryState.SUCCEEDED)
    assert not wh_store.complete(late, T0 + 61)
    assert wh_store.complete(dataclasses.replace(second, state=DeliveryState.SUCCEEDED), T0 + 61)
    assert not wh_store.complete(dataclasses.replace(second, state=DeliveryState.FAILED), T0 + 62)
    stored = wh_store.get_delivery("m1")
    assert stored is not None and stored.state == DeliveryState.SUCCEEDED


def test_listing_is_newest_first_and_pages(wh_store: WebhookStore) -> None:
    """list_deliveries pages newest first with ``before``; a gap record is listed too."""
    wh_store.put_endpoint(endpoint())
    gap = delivery("g", 4, key="", state=DeliveryState.SKIPPED, next_attempt_at=None)
    wh_store.add([delivery(f"m{i}", i, key=f"c1:o{i}") for i in (1, 2, 3)] + [gap], T0)
    assert [d.id for d in wh_store.list_deliveries("wh_1", 3)] == ["g", "m3", "m2"]
    assert [d.id for d in wh_store.list_deliveries("wh_1", 3, before=2)] == ["m1"]
    assert wh_store.list_deliveries("wh_other", 3) == []
    assert "g" not in {d.id for d in wh_store.claim_due(T0, T0 + 1, 10)}


def test_requeue_only_final_deliveries_to_the_tail(wh_store: WebhookStore) -> None:
    """A final delivery goes back behind its entity's pending ones; a pending one cannot."""
    wh_store.put_endpoint(endpoint())
    wh_store.add([delivery("m1", 1)], T0)
    (m1,) = wh_store.claim_due(T0, T0 + 60, 10)
    pending = dataclasses.replace(m1, state=DeliveryState.PENDING, claim=None)
    assert not wh_store.requeue(pending, T0)
    wh_store.complete(dataclasses.replace(m1, state=DeliveryState.FAILED), T0)
    wh_store.add([delivery("m2", 2, next_attempt_at=T0 + 5)], T0)
    assert wh_store.requeue(pending, T0 + 1)
    assert not wh_store.requeue(pending, T0 + 1)  # already pending again
    assert wh_store.claim_due(T0 + 4, T0 + 60, 10) == []  # m2 heads the queue, due at +5
    assert [d.id for d in wh_store.claim_due(T0 + 5, T0 + 60, 10)] == ["m2"]


def test_fail_pending_gives_up_every_queue(wh_store: WebhookStore) -> None:
    """Every pending delivery of the endpoint is failed with the note; none stays due."""
    wh_store.put_endpoint(endpoint())
    wh_store.put_endpoint(endpoint("wh_2"))
    wh_store.add(
        [
            delivery("m1", 1),
            delivery("m2", 2),
            delivery("n1", 3, key="c1:o2"),
            delivery("k1", 4, eid="wh_2"),
        ],
        T0,
    )
    assert wh_store.fail_pending("wh_1", T0, "endpoint disabled") == 3
    for did in ("m1", "m2", "n1"):
        d = wh_store.get_delivery(did)
        assert d is not None and d.state == DeliveryState.FAILED and d.note == "endpoint disabled"
    assert [d.id for d in wh_store.claim_due(T0, T0 + 60, 10)] == ["k1"]


def test_delete_endpoint_forgets_its_deliveries(wh_store: WebhookStore) -> None:
    """After delete nothing of the endpoint is due, listed or readable."""
    wh_store.put_endpoint(endpoint())
    wh_store.add([delivery("m1", 1), delivery("m2", 2)], T0)
    wh_store.delete_endpoint("wh_1")
    assert wh_store.get_delivery("m1") is None
    assert wh_store.claim_due(T0, T0 + 60, 10) == []
    assert wh_store.list_deliveries("wh_1", 10) == []


def test_final_deliveries_are_forgotten_after_the_retention(store: Store) -> None:
    """Memory prunes by the caller's clock on the next add; Redis expires the record."""
    retention = 0.3
    wh: WebhookStore
    if isinstance(store, RedisStore):
        wh = RedisWebhookStore(store, retention_s=retention)
    else:
        wh = MemoryWebhookStore(retention_s=retention)
    wh.put_endpoint(endpoint())
    wh.add([delivery("m1", 1), delivery("keep", 2, key="c1:o2")], T0)
    for d in wh.claim_due(T0, T0 + 60, 10):
        if d.id == "m1":
            wh.complete(dataclasses.replace(d, state=DeliveryState.SUCCEEDED), T0)
    wh.add([], T0 + retention + 1)
    assert until(lambda: wh.get_delivery("m1") is None, 5.0)
    assert [d.id for d in wh.list_deliveries("wh_1", 10)] == ["keep"]


def test_only_the_newest_deliveries_are_kept_past_the_cap(store: Store) -> None:
    """Past ``keep`` deliveries of an endpoint the oldest final ones are forgotten;
    pending ones never are."""
    wh: WebhookStore
    if isinstance(store, RedisStore):
        wh = RedisWebhookStore(store, keep=2)
    else:
        wh = MemoryWebhookStore(keep=2)
    wh.put_endpoint(endpoint())
    wh.add([delivery(f"m{i}", i, key=f"c1:o{i}") for i in (1, 2, 3, 4)], T0)
    for d in wh.claim_due(T0, T0 + 60, 10):
        if d.id != "m1":
            wh.complete(dataclasses.replace(d, state=DeliveryState.SUCCEEDED), T0)
    wh.add([delivery("m5", 5, key="c1:o5")], T0)
    assert [d.id for d in wh.list_deliveries("wh_1", 10)] == ["m5", "m4", "m1"]
    assert wh.get_delivery("m2") is None and wh.get_delivery("m1") is not None
