"""The stateful dispatch engine: communities, workers, orders, jobs, ticks, surge, stores.

Build an ``Engine`` from ``EngineSettings``, a store (``MemoryStore`` or
``dispatch.store.redis.RedisStore``) and a clock, and inject a
``DispatchPolicy`` (``make_policy("optimizer")`` by default).
"""

from dispatch.clock import Clock, ManualClock, WallClock
from dispatch.community import COMMUNITY_LIMITS, CommunitySpec
from dispatch.engine import Engine
from dispatch.errors import (
    Conflict,
    DispatchError,
    Infeasible,
    InvalidInput,
    NotFound,
    OutsideGeofence,
    StoreUnavailable,
)
from dispatch.policies import POLICIES, DispatchPolicy, make_policy
from dispatch.settings import EngineSettings
from dispatch.store.memory import MemoryStore

__all__ = [
    "COMMUNITY_LIMITS",
    "POLICIES",
    "Clock",
    "CommunitySpec",
    "Conflict",
    "DispatchError",
    "DispatchPolicy",
    "Engine",
    "EngineSettings",
    "Infeasible",
    "InvalidInput",
    "ManualClock",
    "MemoryStore",
    "NotFound",
    "OutsideGeofence",
    "StoreUnavailable",
    "WallClock",
    "make_policy",
]
