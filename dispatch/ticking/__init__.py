"""Dispatching as a service: due ticks handed out through a queue to tick workers.

``MemoryTickQueue`` serves one process (the embedded default);
``RedisTickQueue`` (``dispatch.ticking.redis_queue``) shares ticks among any
number of worker processes through a Redis Streams consumer group.
"""

from dispatch.ticking.queue import MemoryTickQueue, TickClaim, TickQueue
from dispatch.ticking.worker import Backoff, TickObserver, TickWorker, WorkerHealth

__all__ = [
    "Backoff",
    "MemoryTickQueue",
    "TickClaim",
    "TickObserver",
    "TickQueue",
    "TickWorker",
    "WorkerHealth",
]
