"""The stateful dispatch engine: communities, workers, orders, jobs, ticks, surge, stores."""

from dispatch.clock import Clock, ManualClock, WallClock
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
from dispatch.settings import EngineSettings
from dispatch.store.memory import MemoryStore

__all__ = [
    "Clock",
    "Conflict",
    "DispatchError",
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
]
