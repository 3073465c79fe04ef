"""How long since a dispatcher last completed a step: readiness and a metric read it."""

from __future__ import annotations

from typing import Any

from dispatch.engine import Engine
from dispatch.store.redis import RedisStore
from dispatch.ticking.redis_queue import read_beats

__all__ = ["dispatcher_age_s"]


def dispatcher_age_s(app: Any, engine: Engine) -> float | None:
    """Seconds since this process's ticker (or, without one, any worker sharing the
    Redis store) completed a step; None when there is no dispatcher to judge."""
    now = engine.clock.now()
    ticker = getattr(app.state, "ticker", None)
    if ticker is not None:
        return float(ticker.worker.health.stalled_s(now))
    if isinstance(engine.store, RedisStore):
        beats = read_beats(engine.store)
        if beats:
            return max(0.0, now - max(beats.values()))
    return None
