"""Quotes that hold: a quote gets an id, a currency and an expiry, and an order or
job that names it before then is charged the quoted price.

A held quote remembers the canonical hash of the request it priced (the fields
that set the price: not ``quote_id``, ``external_ref`` or ``notes``), so a
request that names it must be the same request (else ``QuoteMismatch``, 422).
Past ``expires_at`` it is ``QuoteExpired`` (409); a quote holds for one order or
job only (``QuoteUsed``, 409), except for retries with the same
``Idempotency-Key``, which are the same request. Stores keep a quote for
``KEEP_AFTER_EXPIRY_S`` after it expires, so a late order hears "expired"
rather than "unknown" (``UnknownQuote``, 422).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dispatch.errors import QuoteExpired, QuoteMismatch, QuoteUsed, UnknownQuote
from dispatch.hashing import body_hash
from dispatch.model import Price
from dispatch.requests import JobRequest, OrderRequest, Quote
from dispatch.settings import EngineSettings
from dispatch.store.base import HeldQuote, Store
from dispatch.store.blocking import WouldBlock

__all__ = ["KEEP_AFTER_EXPIRY_S", "UNPRICED_FIELDS", "QuoteDesk", "priced_hash", "random_quote_id"]

#: How long a store remembers a quote after it expired (to answer "expired").
KEEP_AFTER_EXPIRY_S = 600.0
#: Request fields that do not change the price: an order may differ from its quote there.
UNPRICED_FIELDS = frozenset({"quote_id", "external_ref", "notes"})

IdFactory = Callable[[], str]


def random_quote_id() -> str:
    """An unguessable quote id (order and job ids come from the engine's factory)."""
    return f"q_{uuid.uuid4().hex}"


def priced_hash(request: OrderRequest | JobRequest) -> str:
    """The body hash of the request's priced fields, the same in every process: what a
    quote is bound to (the fields in ``UNPRICED_FIELDS`` left out)."""
    unpriced: dict[str, Any] = dict.fromkeys(UNPRICED_FIELDS)
    return body_hash(dataclasses.replace(request, **unpriced))


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


@dataclass
class QuoteDesk:
    """Holds quotes in the store and checks the orders and jobs that use them."""

    store: Store
    settings: EngineSettings
    ids: IdFactory = random_quote_id

    def hold(
        self, kind: str, request_hash: str, community_id: str, quote: Quote, now: float
    ) -> Quote:
        """Store the quote for ``quote_ttl_s``; the quote with its id, expiry and currency."""
        held, answer = self._held(kind, request_hash, community_id, quote, now)
        self.store.put_quote(held, held.expires_at + KEEP_AFTER_EXPIRY_S, now)
        return answer

    async def hold_async(
        self, kind: str, request_hash: str, community_id: str, quote: Quote, now: float
    ) -> Quote:
        """``hold`` with the write awaited (``WouldBlock``: the store cannot; use ``hold``)."""
        put_async = getattr(self.store, "put_quote_async", None)
        if put_async is None:
            raise WouldBlock("the store holds quotes only blocking")
        held, answer = self._held(kind, request_hash, community_id, quote, now)
        await put_async(held, held.expires_at + KEEP_AFTER_EXPIRY_S, now)
        return answer

    def _held(
        self, kind: str, request_hash: str, community_id: str, quote: Quote, now: float
    ) -> tuple[HeldQuote, Quote]:
        expires = now + self.settings.quote_ttl_s
        price = Price(quote.base, quote.multiplier, quote.total, quote.rule_version, quote.currency)
        held = HeldQuote(
            self.ids(), community_id, kind, request_hash, price, quote.eta_s, now, expires
        )
        return held, dataclasses.replace(quote, id=held.id, expires_at=expires, kind=kind)

    def check(
        self, kind: str, request_hash: str, community_id: str, quote_id: str, now: float
    ) -> HeldQuote:
        """The held quote a request names, if it still holds for this request."""
        held = self.store.get_quote(community_id, quote_id)
        if held is None:
            raise UnknownQuote(
                f"quote {quote_id} is unknown in community {community_id} "
                f"(quotes are forgotten {KEEP_AFTER_EXPIRY_S:.0f} s after they expire)"
            )
        if held.kind != kind:
            raise QuoteMismatch(f"quote {quote_id} priced a {held.kind}, not a {kind}")
        if now >= held.expires_at:
            raise QuoteExpired(f"quote {quote_id} expired at {_iso(held.expires_at)}; quote again")
        if held.request_hash != request_hash:
            raise QuoteMismatch(
                f"this {kind} differs from the one quote {quote_id} priced: send the "
                "quoted fields unchanged, or quote again"
            )
        return held

    def claim(self, held: HeldQuote, holder: str, now: float) -> None:
        """Make ``holder`` the quote's one user (``QuoteUsed`` when another came first)."""
        keep = held.expires_at + KEEP_AFTER_EXPIRY_S
        winner = self.store.claim_quote(held.community_id, held.id, holder, keep, now)
        if winner != holder:
            raise QuoteUsed(f"quote {held.id} was already used by another {held.kind}")
