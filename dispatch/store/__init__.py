"""State stores: the protocol and its in-memory implementation (Redis in redis.py)."""

from dispatch.store.base import IdempotencyRecord, NewEvent, Store
from dispatch.store.memory import MemoryStore

__all__ = ["IdempotencyRecord", "MemoryStore", "NewEvent", "Store"]
