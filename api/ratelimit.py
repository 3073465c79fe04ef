"""Rate limits per API key (by role) and of failed authentication per client address.

Built on the ``limits`` package's moving window: in process memory with the memory
store, on the store's Redis (or Redis Cluster, every key in the global slot) when
the store is Redis, so a limit holds across every process of a deployment.

The hot path stays cheap on Redis: a process reserves a share of a key's limit in
one round trip (``cost=chunk``) and admits that many requests locally until the
reservation runs out or its window passes, and once refused it refuses locally
until the window frees a place. The limit is never exceeded; at most
``chunk - 1`` reserved requests per process may go unused in a window.
Failed authentication only costs a round trip when it happens; an address over its
limit is refused (429) without its key being checked, and each process learns the
block at that address's next failure there.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import limits
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisClusterStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter
from starlette.concurrency import run_in_threadpool

from api.auth import ROLES, Principal

__all__ = [
    "DEFAULT_RATE_LIMITS",
    "Admission",
    "AuthFailures",
    "KeyLimiter",
    "build_storage",
    "parse_rate_limits",
]

#: Per key, by the key's role (a key with several roles gets the most generous).
DEFAULT_RATE_LIMITS = (
    "ops=200/second,order-service=200/second,courier-app=500/second,analyst=50/second"
)


def parse_rate_limits(spec: str) -> dict[str, limits.RateLimitItem | None]:
    """``role=N/unit,...`` over the defaults; ``role=none`` lifts a role's limit.

    Raises ValueError naming the bad entry.
    """
    out: dict[str, limits.RateLimitItem | None] = {}
    for text in (DEFAULT_RATE_LIMITS, spec):
        for n, raw in enumerate((x.strip() for x in text.split(",") if x.strip()), start=1):
            role, sep, value = (part.strip() for part in raw.partition("="))
            if not sep or role not in ROLES:
                raise ValueError(
                    f"rate limit entry {n} ({raw!r}) must look like role=N/unit with a role "
                    f"among {sorted(ROLES)}"
                )
            if value.lower() == "none":
                out[role] = None
                continue
            try:
                item = limits.parse(value)
            except ValueError as exc:
                raise ValueError(
                    f"rate limit entry {n} ({raw!r}): {value!r} is not a limit such as "
                    "50/second or 1000/minute"
                ) from exc
            out[role] = item
    return out


def _per_second(item: limits.RateLimitItem) -> float:
    return item.amount / item.get_expiry()


def build_storage(redis_url: str | None, *, cluster: bool, prefix: str) -> Storage:
    """Memory storage, or the store's Redis with every key under ``prefix`` (one slot)."""
    if redis_url is None:
        return MemoryStorage()
    if cluster:
        scheme, sep, rest = redis_url.partition("://")
        uri = f"redis+cluster://{rest}" if sep and scheme in ("redis", "rediss") else redis_url
        return RedisClusterStorage(uri, key_prefix=prefix, wrap_exceptions=True)
    return RedisStorage(redis_url, key_prefix=prefix, wrap_exceptions=True)


@dataclass(frozen=True)
class Admission:
    """The answer to one request: admitted, or refused with when to retry."""

    allowed: bool
    retry_after_s: int = 0
    policy: str = ""  # the RateLimit-Policy header value

    def headers(self) -> dict[str, str]:
        """``Retry-After`` and the IETF draft's ``RateLimit`` / ``RateLimit-Policy``."""
        name = self.policy.partition(";")[0]
        return {
            "Retry-After": str(self.retry_after_s),
            "RateLimit-Policy": self.policy,
            "RateLimit": f"{name};r=0;t={self.retry_after_s}",
        }


ALLOWED = Admission(True)
log = logging.getLogger(__name__)


def _policy(name: str, item: limits.RateLimitItem) -> str:
    return f'"{name}";q={item.amount};w={item.get_expiry()}'


class _Grant:
    """Requests a process reserved for one key, usable until ``until``."""

    __slots__ = ("left", "until")

    def __init__(self, left: int, until: float) -> None:
        self.left = left
        self.until = until


class KeyLimiter:
    """Admits or refuses each request of a key under its role's limit.

    ``shared``: the storage is remote (Redis): reserve ``chunk_share`` of a limit
    per round trip, and make those calls off the event loop. ``clock`` is the wall
    clock the ``limits`` package uses too.
    """

    def __init__(
        self,
        storage: Storage,
        role_limits: Mapping[str, limits.RateLimitItem | None],
        *,
        shared: bool,
        chunk_share: float = 0.1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limiter = MovingWindowRateLimiter(storage)
        self.role_limits = dict(role_limits)
        self.shared = shared
        self.chunk_share = chunk_share
        self.clock = clock
        self._grants: dict[str, _Grant] = {}
        self._refused: dict[str, float] = {}  # key -> when its window frees a place
        self._locks: dict[str, asyncio.Lock] = {}
        self._per_key: dict[str, tuple[limits.RateLimitItem, str] | None] = {}

    def limit_of(self, principal: Principal) -> tuple[limits.RateLimitItem, str] | None:
        """The key's limit: its most generous role's (None: a role without a limit)."""
        if principal.key_id in self._per_key:
            return self._per_key[principal.key_id]
        items = [self.role_limits.get(r) for r in sorted(principal.roles)]
        found: tuple[limits.RateLimitItem, str] | None = None
        if items and all(i is not None for i in items):
            item = max((i for i in items if i is not None), key=_per_second)
            found = (item, _policy(principal.key_id, item))
        self._per_key[principal.key_id] = found
        return found

    async def admit(self, principal: Principal) -> Admission:
        limit = self.limit_of(principal)
        if limit is None:
            return ALLOWED
        local = self._local(principal.key_id, limit[1])
        if local is not None:
            return local
        if not self.shared:
            return await self._consult(principal.key_id, *limit)
        # One reservation per key at a time: concurrent requests wait for it and share
        # it, instead of each reserving a share (which would spend the limit at once).
        lock = self._locks.get(principal.key_id)
        if lock is None:
            lock = self._locks[principal.key_id] = asyncio.Lock()
        async with lock:
            local = self._local(principal.key_id, limit[1])
            if local is not None:
                return local
            return await self._consult(principal.key_id, *limit)

    def _local(self, key: str, policy: str) -> Admission | None:
        """The answer this process knows without asking the storage, if any."""
        now = self.clock()
        grant = self._grants.get(key)
        if grant is not None and grant.left > 0 and now < grant.until:
            grant.left -= 1
            return ALLOWED
        refused_until = self._refused.get(key, 0.0)
        if now < refused_until:  # known to be spent: refused without a round trip
            return Admission(False, max(1, math.ceil(refused_until - now)), policy)
        return None

    async def _consult(self, key: str, item: limits.RateLimitItem, policy: str) -> Admission:
        now = self.clock()
        chunk = max(1, int(item.amount * self.chunk_share)) if self.shared else 1
        taken = await self._call(self._reserve, item, key, chunk)
        if taken is None or taken:
            if taken and taken > 1:
                self._grants[key] = _Grant(taken - 1, now + item.get_expiry())
            return ALLOWED
        stats = await self._call(self.limiter.get_window_stats, item, key)
        reset = stats[0] if stats is not None else now + item.get_expiry()
        self._refused[key] = reset  # the window's oldest entry frees a place then
        return Admission(False, max(1, math.ceil(reset - self.clock())), policy)

    def _reserve(self, item: limits.RateLimitItem, key: str, chunk: int) -> int:
        """Requests reserved in one step: the chunk, else one, else none."""
        if chunk > 1 and self.limiter.hit(item, "key", key, cost=chunk):
            return chunk
        return 1 if self.limiter.hit(item, "key", key) else 0

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await _storage_call(self.shared, fn, *args)


async def _storage_call(shared: bool, fn: Callable[..., Any], *args: Any) -> Any:
    """A call to the limits storage: off the event loop when remote. A storage that
    does not answer admits (the store's own 503s follow soon enough): ``None``."""
    try:
        return await run_in_threadpool(fn, *args) if shared else fn(*args)
    except StorageError as exc:
        log.warning("rate-limit storage unavailable, admitting: %s", type(exc).__name__)
        return None


class AuthFailures:
    """Failed authentication per client address: past the limit, 429 until it frees."""

    def __init__(
        self,
        storage: Storage,
        item: limits.RateLimitItem,
        *,
        shared: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limiter = MovingWindowRateLimiter(storage)
        self.item = item
        self.shared = shared
        self.clock = clock
        self.policy = _policy("auth-failures", item)
        self._blocked: dict[str, float] = {}

    def blocked(self, address: str) -> Admission | None:
        """A refusal while ``address`` is known to be over its limit (no I/O)."""
        until = self._blocked.get(address)
        if until is None:
            return None
        left = until - self.clock()
        if left <= 0:
            del self._blocked[address]
            return None
        return Admission(False, max(1, math.ceil(left)), self.policy)

    async def failed(self, address: str) -> Admission | None:
        """Count one failure; a refusal when the address has now gone over its limit."""
        ok = await _storage_call(self.shared, self.limiter.hit, self.item, "auth", address)
        if ok is None or ok:
            return None
        stats = await _storage_call(
            self.shared, self.limiter.get_window_stats, self.item, "auth", address
        )
        reset = stats[0] if stats is not None else self.clock() + self.item.get_expiry()
        if len(self._blocked) > 10_000:  # bounded: an address flood cannot grow it forever
            self._blocked.clear()
        self._blocked[address] = reset
        return Admission(False, max(1, math.ceil(reset - self.clock())), self.policy)
