"""Idempotency is bound to a request's content, the same in every process."""

from __future__ import annotations

from pathlib import Path

from dispatch.intake import body_hash
from dispatch.model import LatLng, Priority
from dispatch.requests import OrderRequest
from tests.dispatch.hash_seeds import JOB, hashes_elsewhere

ROOT = Path(__file__).resolve().parents[2]


def test_the_hash_is_the_same_in_processes_with_other_hash_seeds() -> None:
    """Set order differs between processes (hash randomisation); the body hash does not."""
    assert hashes_elsewhere("dispatch.intake", "body_hash") == {body_hash(JOB)}


def test_every_field_changes_the_hash() -> None:
    """Two orders that differ in any one field hash apart; equal ones hash alike."""
    base = OrderRequest("c1", LatLng(31.2, 121.4), LatLng(31.21, 121.41))
    variants = [
        OrderRequest("c2", LatLng(31.2, 121.4), LatLng(31.21, 121.41)),
        OrderRequest("c1", LatLng(31.2, 121.40001), LatLng(31.21, 121.41)),
        OrderRequest("c1", LatLng(31.2, 121.4), LatLng(31.21, 121.41), size=2),
        OrderRequest("c1", LatLng(31.2, 121.4), LatLng(31.21, 121.41), priority=Priority.GOLD),
        OrderRequest("c1", LatLng(31.2, 121.4), LatLng(31.21, 121.41), merchant_id="m1"),
        OrderRequest("c1", LatLng(31.2, 121.4), LatLng(31.21, 121.41), ready_at=5.0),
    ]
    assert body_hash(base) == body_hash(
        OrderRequest("c1", LatLng(31.2, 121.4), LatLng(31.21, 121.41))
    )
    hashes = {body_hash(v) for v in variants}
    assert len(hashes) == len(variants) and body_hash(base) not in hashes


class _Timer:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_read_cache_sees_other_processes_changes_within_its_period() -> None:
    """With read_cache_s, a community changed elsewhere is seen after at most that long;
    this engine's own change is seen at once."""
    from dispatch import CommunitySpec, Engine, EngineSettings, ManualClock, MemoryStore

    store, clock = MemoryStore(), ManualClock()
    here = Engine(EngineSettings(), store, clock, read_cache_s=1.0)
    elsewhere = Engine(EngineSettings(), store, clock)
    timer = _Timer()
    here.intake.timer = timer
    here.upsert_community(CommunitySpec("c1", "c", LatLng(31.2304, 121.4737)))
    order = OrderRequest("c1", LatLng(31.2314, 121.4737), LatLng(31.2384, 121.4767))
    assert here.create_order(order).promised_by == clock.now() + 1800
    elsewhere.upsert_community(
        CommunitySpec("c1", "c", LatLng(31.2304, 121.4737), delivery_sla_min=45)
    )
    assert here.create_order(order).promised_by == clock.now() + 1800  # cached
    timer.t = 1.0
    assert here.create_order(order).promised_by == clock.now() + 2700
    here.upsert_community(CommunitySpec("c1", "c", LatLng(31.2304, 121.4737), delivery_sla_min=20))
    assert here.create_order(order).promised_by == clock.now() + 1200  # its own change


class _CountingStore:
    """A memory store that counts idempotency lookups (the work a new order skips)."""

    def __init__(self) -> None:
        from dispatch import MemoryStore

        self.inner = MemoryStore()
        self.lookups = 0

    def get_idempotency(self, *args: object) -> object:
        self.lookups += 1
        return self.inner.get_idempotency(*args)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_a_new_order_pays_no_idempotency_lookup_and_a_retry_replays() -> None:
    """The write finds a retry (its key's record exists), so a new key costs no read
    first; a retry, also one whose validation would now fail, replays the first answer."""
    from dispatch import CommunitySpec, Engine, EngineSettings, ManualClock

    store, clock = _CountingStore(), ManualClock()
    engine = Engine(EngineSettings(), store, clock)  # type: ignore[arg-type]
    engine.upsert_community(CommunitySpec("c1", "c", LatLng(31.2304, 121.4737)))
    order = OrderRequest("c1", LatLng(31.2314, 121.4737), LatLng(31.2384, 121.4767))
    first = engine.create_order(order, "k1")
    assert store.lookups == 0
    assert engine.create_order(order, "k1") == first and store.lookups == 1
    engine.upsert_community(CommunitySpec("c1", "c", LatLng(40.0, -73.0)))  # moved away
    assert engine.create_order(order, "k1") == first and store.lookups == 2
    clock.advance(EngineSettings().idempotency_ttl_s + 1)  # the key expired: a new order
    engine.upsert_community(CommunitySpec("c1", "c", LatLng(31.2304, 121.4737)))
    assert engine.create_order(order, "k1").id != first.id


def test_the_hash_of_a_request_does_not_change_between_versions() -> None:
    """Idempotency records outlive a deploy (24 h): a retry sent across one must hash
    as before, or it would be refused as another body. These values are from the
    first release of the hash; a change to it needs a migration, not a new value here."""
    order = OrderRequest(
        "c1",
        LatLng(31.2, 121.4),
        LatLng(31.21, 121.41),
        priority=Priority.GOLD,
        ready_at=5.0,
        merchant_id="m",
    )
    assert body_hash(order) == "2c02eca282f309978889c8f89cba5a8cc67a924d3ac23bb509c78c89d674beb8"
    assert body_hash(JOB) == "48e949115d14e4d192dfa47460b5af078c4b8a7f5e36bdb268f0fa57d456e2e6"
