"""The door every authenticated request and stream passes: who, may they, and how often.

One ``Gate`` per app, built on first use (the store may only exist after the
lifespan started): a client address over its failed-authentication limit is
refused first (429, its key unchecked), then the key is resolved (401, counted as
a failure), its role checked (403) and its rate limit applied (429 with
``Retry-After`` and ``RateLimit`` headers). Long polls and streams also take a
slot of their key (``waits`` / ``streams``).
"""

from __future__ import annotations

import logging

import limits
from fastapi import HTTPException
from limits.errors import StorageError
from redis.exceptions import RedisError
from starlette.requests import HTTPConnection

from api.auth import Authenticator, Principal, check_role
from api.ratelimit import (
    Admission,
    AuthFailures,
    KeyLimiter,
    build_storage,
    parse_rate_limits,
)
from api.settings import ApiSettings
from api.slots import Slots
from dispatch.errors import StoreUnavailable
from dispatch.store.base import Store

__all__ = ["Gate", "TooMany", "gate_of"]

log = logging.getLogger(__name__)


class TooMany(HTTPException):
    """429 with the admission's headers (answered as problem+json)."""

    def __init__(self, detail: str, admission: Admission) -> None:
        super().__init__(429, detail, headers=admission.headers())


class Gate:
    """Authentication, roles, rate limits and concurrency caps; see the module docstring."""

    def __init__(self, settings: ApiSettings, auth: Authenticator, store: Store) -> None:
        url: str | None = getattr(store, "url", None)
        shared = url is not None
        if not shared and getattr(store, "global_key", None) is not None:
            log.warning("rate limits kept per process: the Redis store was given no URL")
        prefix = store.global_key("ratelimit") if shared else "LIMITS"  # type: ignore[attr-defined]
        storage = build_storage(url, cluster=bool(getattr(store, "cluster", False)), prefix=prefix)
        self.auth = auth
        self.storage = storage
        self.keys = KeyLimiter(storage, parse_rate_limits(settings.rate_limits), shared=shared)
        failures = limits.parse(settings.auth_failure_limit)
        self.failures = AuthFailures(storage, failures, shared=shared)
        self.waits = Slots(settings.max_waits_per_key)
        self.streams = Slots(settings.max_streams_per_key)

    def close(self) -> None:
        """Close the connections of a Redis-backed limit storage (nothing for memory)."""
        client = getattr(self.storage, "storage", None)
        close = getattr(client, "close", None)
        if callable(close):
            close()

    async def admit(
        self, conn: HTTPConnection, roles: frozenset[str], *, query_token: bool = False
    ) -> Principal:
        """The caller, once authenticated, authorised and within its rate limit."""
        if self.auth.open:
            return self.auth.resolve(None)
        address = conn.client.host if conn.client else "-"
        refused = self.failures.blocked(address)
        if refused is not None:
            raise TooMany("too many failed authentications from this address", refused)
        try:
            principal = self.auth.from_connection(conn, query_token=query_token)
        except HTTPException as exc:
            refused = await self.failures.failed(address)
            if refused is not None:
                raise TooMany("too many failed authentications from this address", refused) from exc
            raise
        check_role(principal, roles)
        admission = await self.keys.admit(principal)
        if not admission.allowed:
            raise TooMany("rate limit of this key exceeded", admission)
        return principal


def gate_of(conn: HTTPConnection) -> Gate:
    """The app's gate, built on first use from its settings, keys and store."""
    state = conn.app.state
    gate: Gate | None = getattr(state, "gate", None)
    if gate is None:
        try:
            gate = Gate(state.settings, state.auth, state.engine.store)
        except (StorageError, RedisError, OSError) as exc:  # e.g. a cluster not reachable
            raise StoreUnavailable(f"rate-limit storage: {exc}") from exc
        state.gate = gate
    return gate
