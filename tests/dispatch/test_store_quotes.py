"""The store contract for held quotes, on memory, Redis and Redis Cluster."""

from __future__ import annotations

import threading

from dispatch.model import Price
from dispatch.store.base import HeldQuote, Store
from tests.polling import until

NOW = 1_000.0


def _quote(qid: str = "q1", cid: str = "c1", kind: str = "order") -> HeldQuote:
    price = Price(10.0, 1.5, 15.0, 3, "CNY")
    return HeldQuote(qid, cid, kind, "hash-1", price, 420.0, NOW, NOW + 120.0)


def test_quotes_round_trip_within_their_community(store: Store) -> None:
    """A stored quote comes back equal, and only under its own community."""
    q = _quote()
    store.put_quote(q, NOW + 720.0, NOW)
    assert store.get_quote("c1", "q1") == q
    assert store.get_quote("c2", "q1") is None
    assert store.get_quote("c1", "q2") is None


def test_the_first_claim_wins_and_every_claim_names_the_winner(store: Store) -> None:
    """A quote has one user: later claims by others answer the first holder."""
    store.put_quote(_quote(), NOW + 720.0, NOW)
    assert store.claim_quote("c1", "q1", "order:o1", NOW + 720.0, NOW) == "order:o1"
    assert store.claim_quote("c1", "q1", "order:o2", NOW + 720.0, NOW) == "order:o1"
    assert store.claim_quote("c1", "q1", "order:o1", NOW + 720.0, NOW) == "order:o1"
    assert store.claim_quote("c2", "q1", "order:o3", NOW + 720.0, NOW) == "order:o3"


def test_concurrent_claims_have_one_winner(store: Store) -> None:
    """Twenty threads claiming one quote all hear the same single winner."""
    store.put_quote(_quote(), NOW + 720.0, NOW)
    answers: list[str] = []
    lock = threading.Lock()

    def claim(i: int) -> None:
        got = store.claim_quote("c1", "q1", f"order:o{i}", NOW + 720.0, NOW)
        with lock:
            answers.append(got)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(20)]
    try:
        for t in threads:
            t.start()
    finally:
        for t in threads:
            t.join(timeout=10)
    assert len(answers) == 20 and len(set(answers)) == 1
    assert answers[0].startswith("order:o")


def test_quotes_are_forgotten_after_their_keep_time(store: Store) -> None:
    """Past ``keep_until`` a quote and its claim go (memory: on the next put; Redis: TTL)."""
    store.put_quote(_quote("q1"), NOW + 0.05, NOW)
    store.claim_quote("c1", "q1", "order:o1", NOW + 0.05, NOW)
    later = NOW + 1.0
    store.put_quote(_quote("q2"), later + 720.0, later)
    assert until(lambda: store.get_quote("c1", "q1") is None, timeout_s=5)
    claim = lambda: store.claim_quote("c1", "q1", "order:o9", later + 720.0, later)  # noqa: E731
    assert until(lambda: claim() == "order:o9", timeout_s=5)
    assert store.get_quote("c1", "q2") is not None


def test_a_quote_already_past_its_keep_time_is_not_stored(store: Store) -> None:
    """Putting a quote whose keep time has passed stores nothing."""
    store.put_quote(_quote(), NOW - 1.0, NOW)
    assert store.get_quote("c1", "q1") is None
