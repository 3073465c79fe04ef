"""Quotes that hold: id, expiry and currency; orders and jobs charged the quoted price once."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import pytest

from dispatch import Engine, EngineSettings, ManualClock, MemoryStore
from dispatch.errors import (
    Conflict,
    InvalidInput,
    QuoteExpired,
    QuoteMismatch,
    QuoteUsed,
    UnknownQuote,
)
from dispatch.model import Priority, ServiceType
from dispatch.pricing import rules_to_dict
from dispatch.quotes import KEEP_AFTER_EXPIRY_S, UNPRICED_FIELDS, priced_hash
from dispatch.requests import CommunitySpec, JobRequest, OrderRequest
from tests.dispatch.conftest import CENTER, offset
from tests.dispatch.hash_seeds import JOB, hashes_elsewhere

ROOT = Path(__file__).resolve().parents[2]


def _order(**kw: Any) -> OrderRequest:
    return OrderRequest("c1", offset(0, 0), offset(900, 300), **kw)


def _job(**kw: Any) -> JobRequest:
    fields: dict[str, Any] = {"service_type": None, "emergency": True, **kw}
    return JobRequest("c1", offset(300, 0), frozenset({"plumbing"}), 45.0, **fields)


def _reprice(engine: Engine, factor: float, currency: str | None = None) -> None:
    """Activate rules whose base fees are ``factor`` times the current ones."""
    data = rules_to_dict(engine.rules())
    data.pop("version", None)
    for p in data["pricing"].values():
        p["base_fee"] *= factor
        p["min_total"] *= factor
    if currency is not None:
        data["currency"] = currency
    engine.set_rules(data)


def test_a_quote_has_an_id_an_expiry_and_the_rules_currency(
    engine: Engine, clock: ManualClock
) -> None:
    """The quote holds for quote_ttl_s (120 s) in the active rules' currency."""
    q = engine.quote(_order())
    assert q.id and q.kind == "order" and q.currency == "CNY"
    assert q.expires_at == pytest.approx(clock.now() + 120.0)
    _reprice(engine, 1.0, currency="EUR")
    assert engine.quote(_order()).currency == "EUR"
    assert engine.quote(_order()).id != q.id


def test_an_order_naming_its_quote_pays_the_quoted_price_after_prices_moved(
    engine: Engine, clock: ManualClock
) -> None:
    """Prices doubled after the quote: the order with quote_id pays the old one."""
    q = engine.quote(_order())
    _reprice(engine, 2.0)
    clock.advance(100)
    held = engine.create_order(_order(quote_id=q.id, notes="gate 4", external_ref="x-1"))
    fresh = engine.create_order(_order())
    assert held.quote_id == q.id and fresh.quote_id is None
    assert (held.price.base, held.price.total, held.price.rule_version) == (
        q.base,
        q.total,
        q.rule_version,
    )
    assert fresh.price.base > held.price.base
    assert engine.get_order(held.id).price == held.price


def test_an_expired_quote_is_refused_then_forgotten(engine: Engine, clock: ManualClock) -> None:
    """At expiry the quote is QuoteExpired (409); long after, unknown (422)."""
    q = engine.quote(_order())
    assert q.id is not None
    clock.advance(120.0)
    with pytest.raises(QuoteExpired, match="expired"):
        engine.create_order(_order(quote_id=q.id))
    clock.advance(KEEP_AFTER_EXPIRY_S + 1)
    engine.quote(_order())  # a later quote lets the memory store drop the old one
    if isinstance(engine.store, MemoryStore):
        with pytest.raises(UnknownQuote):
            engine.create_order(_order(quote_id=q.id))
    assert engine.open_orders("c1") == []


def test_a_different_request_cannot_use_the_quote(engine: Engine) -> None:
    """Another dropoff, size or tier is a mismatch (422); notes and refs are not priced."""
    q = engine.quote(_order())
    for changed in (
        OrderRequest("c1", offset(0, 0), offset(800, 300), quote_id=q.id),
        _order(size=2, quote_id=q.id),
        _order(service_type=ServiceType.GROCERY, quote_id=q.id),
    ):
        with pytest.raises(QuoteMismatch, match="differs"):
            engine.create_order(changed)
    assert engine.open_orders("c1") == []
    assert engine.create_order(_order(quote_id=q.id, notes="ring twice")).quote_id == q.id


def test_a_quote_holds_for_one_order_but_retries_with_its_key_replay(engine: Engine) -> None:
    """A second order with the quote is QuoteUsed (409); the same key replays the first."""
    q = engine.quote(_order())
    first = engine.create_order(_order(quote_id=q.id), idempotency_key="k-1")
    assert engine.create_order(_order(quote_id=q.id), idempotency_key="k-1") == first
    with pytest.raises(QuoteUsed):
        engine.create_order(_order(quote_id=q.id))
    with pytest.raises(QuoteUsed):
        engine.create_order(_order(quote_id=q.id), idempotency_key="k-2")
    assert [o.id for o in engine.open_orders("c1")] == [first.id]


def test_unknown_quotes_and_quotes_of_other_communities_are_refused(engine: Engine) -> None:
    """A made-up id, or a quote given in another community, is UnknownQuote (422)."""
    engine.upsert_community(CommunitySpec("c2", "Hillside", CENTER))
    q = engine.quote(_order())
    with pytest.raises(UnknownQuote):
        engine.create_order(_order(quote_id="q-nope"))
    other = dataclasses.replace(_order(quote_id=q.id), community_id="c2")
    with pytest.raises(UnknownQuote):
        engine.create_order(other)
    with pytest.raises(InvalidInput, match="quote_id belongs"):
        engine.quote(_order(quote_id=q.id))


def test_technician_jobs_are_quoted_and_booked_at_the_quote(
    engine: Engine, clock: ManualClock
) -> None:
    """A job quote (plumbing emergency) holds for the job; not for an order, nor twice."""
    q = engine.quote(_job())
    assert q.kind == "job" and q.explanation
    _reprice(engine, 3.0)
    clock.advance(60)
    with pytest.raises(QuoteMismatch, match="priced a job"):
        engine.create_order(_order(quote_id=q.id))
    with pytest.raises(QuoteMismatch):
        engine.create_job(_job(emergency=False, quote_id=q.id))
    job = engine.create_job(_job(quote_id=q.id))
    assert job.quote_id == q.id and job.price.total == q.total
    assert engine.create_job(_job()).price.total > q.total
    with pytest.raises(QuoteUsed):
        engine.create_job(_job(quote_id=q.id))


def test_quote_ttl_is_a_setting(clock: ManualClock) -> None:
    """quote_ttl_s sets the hold; it must be positive."""
    engine = Engine(EngineSettings(quote_ttl_s=30.0), MemoryStore(), clock)
    engine.upsert_community(CommunitySpec("c1", "Riverside", CENTER))
    q = engine.quote(_order())
    assert q.expires_at == pytest.approx(clock.now() + 30.0)
    clock.advance(31)
    with pytest.raises(QuoteExpired):
        engine.create_order(_order(quote_id=q.id))
    with pytest.raises(ValueError, match="quote_ttl_s"):
        EngineSettings(quote_ttl_s=0)


def test_errors_are_in_the_tree_the_api_maps() -> None:
    """Expired and used are conflicts (409); unknown and mismatched are invalid input (422)."""
    assert issubclass(QuoteExpired, Conflict) and issubclass(QuoteUsed, Conflict)
    assert issubclass(UnknownQuote, InvalidInput) and issubclass(QuoteMismatch, InvalidInput)


def test_the_priced_hash_is_the_same_in_every_process() -> None:
    """Skill sets iterate differently per hash seed; the hash a quote is bound to does not."""
    assert hashes_elsewhere("dispatch.quotes", "priced_hash") == {priced_hash(JOB)}


def test_the_priced_hash_sees_priced_fields_only() -> None:
    """Every priced field changes the hash; quote_id, external_ref and notes do not."""
    base = _order()
    assert priced_hash(base) == priced_hash(
        dataclasses.replace(base, quote_id="q1", external_ref="r", notes="n")
    )
    changes: dict[str, Any] = {
        "community_id": "c2",
        "pickup": offset(1, 0),
        "dropoff": offset(1, 1),
        "ready_at": 5.0,
        "size": 2,
        "priority": Priority.GOLD,
        "service_type": ServiceType.GROCERY,
        "merchant_id": "m1",
    }
    priced = {f.name for f in dataclasses.fields(OrderRequest)} - UNPRICED_FIELDS
    assert set(changes) == priced
    hashes = {priced_hash(dataclasses.replace(base, **{k: v})) for k, v in changes.items()}
    assert len(hashes) == len(changes) and priced_hash(base) not in hashes
    job = _job()
    assert priced_hash(job) != priced_hash(dataclasses.replace(job, emergency=False))


def test_concurrent_orders_with_one_quote_make_one_order(engine: Engine) -> None:
    """Eight threads order with the same quote: one order, seven QuoteUsed."""
    q = engine.quote(_order())
    results: list[str] = []
    lock = threading.Lock()

    def order() -> None:
        try:
            engine.create_order(_order(quote_id=q.id))
            outcome = "ok"
        except QuoteUsed:
            outcome = "used"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=order) for _ in range(8)]
    try:
        for t in threads:
            t.start()
    finally:
        for t in threads:
            t.join(timeout=30)
    assert sorted(results) == ["ok"] + ["used"] * 7
    assert len(engine.open_orders("c1")) == 1


def test_concurrent_retries_with_one_key_and_one_quote_get_the_same_order(
    engine: Engine,
) -> None:
    """Six threads retry one keyed order with its quote: one order, every answer the same."""
    q = engine.quote(_order())
    ids: list[str] = []
    lock = threading.Lock()

    def order() -> None:
        o = engine.create_order(_order(quote_id=q.id), idempotency_key="twin")
        with lock:
            ids.append(o.id)

    threads = [threading.Thread(target=order) for _ in range(6)]
    try:
        for t in threads:
            t.start()
    finally:
        for t in threads:
            t.join(timeout=30)
    assert len(ids) == 6 and len(set(ids)) == 1
    assert [o.id for o in engine.open_orders("c1")] == ids[:1]
