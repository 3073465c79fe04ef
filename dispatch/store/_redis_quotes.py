"""Held quotes on Redis: one key per quote and one per claim, in the community's slot.

``P:{cid}:quote:<id>`` holds the quote as JSON and ``P:{cid}:quote-use:<id>``
the one order or job (or idempotency key) that used it. Both carry a server TTL
of ``keep_until - now`` (the caller's clock), so Redis forgets them by itself.
A claim is one script: set when absent, answer whoever holds it.
"""

from __future__ import annotations

import json
import math
from typing import Any

import redis

from dispatch.model import from_dict, to_dict
from dispatch.store._redis_base import RedisBase, dumps
from dispatch.store.base import HeldQuote
from dispatch.store.blocking import WouldBlock
from dispatch.store.redis_async import ReplyError

__all__ = ["RedisQuotes"]

# KEYS[1] the claim; ARGV[1] holder, ARGV[2] TTL in ms. Returns the holder now.
CLAIM_QUOTE = """
local current = redis.call('GET', KEYS[1])
if current then return current end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
"""


def _ttl_ms(keep_until: float, now: float) -> int:
    return max(1, math.ceil((keep_until - now) * 1000))


class RedisQuotes(RedisBase):
    """The quote methods of ``RedisStore`` (see the module docstring)."""

    _claim_quote: Any = None

    def put_quote(self, quote: HeldQuote, keep_until: float, now: float) -> None:
        if keep_until <= now:
            return
        key = self._k(quote.community_id, "quote", quote.id)
        self._call(self.r.set, key, dumps(to_dict(quote)), px=_ttl_ms(keep_until, now))

    async def put_quote_async(self, quote: HeldQuote, keep_until: float, now: float) -> None:
        """``put_quote`` awaited on the async pipe (``WouldBlock`` where there is none)."""
        pipe = self.async_pipe()
        if pipe is None:
            raise WouldBlock("no async pipe for this store")
        if keep_until <= now:
            return
        key = self._k(quote.community_id, "quote", quote.id)
        ttl = str(_ttl_ms(keep_until, now))
        (reply,) = await pipe.execute([["SET", key, dumps(to_dict(quote)), "PX", ttl]])
        if isinstance(reply, ReplyError):
            raise redis.ResponseError(str(reply))

    def get_quote(self, community_id: str, quote_id: str) -> HeldQuote | None:
        raw = self._call(self.r.get, self._k(community_id, "quote", quote_id))
        return from_dict(HeldQuote, json.loads(raw)) if raw else None

    def claim_quote(
        self, community_id: str, quote_id: str, holder: str, keep_until: float, now: float
    ) -> str:
        if self._claim_quote is None:
            self._claim_quote = self.r.register_script(CLAIM_QUOTE)
        key = self._k(community_id, "quote-use", quote_id)
        args = [holder, _ttl_ms(keep_until, now)]
        return str(self._call(self._claim_quote, keys=[key], args=args))
