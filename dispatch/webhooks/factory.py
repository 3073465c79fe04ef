"""The webhook store that goes with an engine's store: Redis beside Redis, else memory."""

from __future__ import annotations

from dispatch.store.base import Store
from dispatch.webhooks.memory import MemoryWebhookStore
from dispatch.webhooks.store import WebhookStore

__all__ = ["webhook_store_for"]


def webhook_store_for(store: Store) -> WebhookStore:
    """A ``RedisWebhookStore`` on a ``RedisStore``'s client and prefix; else a fresh
    in-memory one (share it between the API and the dispatcher of one process)."""
    from dispatch.store.redis import RedisStore

    if isinstance(store, RedisStore):
        from dispatch.webhooks.redis import RedisWebhookStore

        return RedisWebhookStore(store)
    return MemoryWebhookStore()
