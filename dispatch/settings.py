"""Engine parameters: a validated dataclass (environment reading lives in api/)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class EngineSettings:
    """Knobs of the engine; every field is checked on construction.

    location_staleness_s: a worker whose last fix is older is not dispatched to.
    max_future_skew_s / max_past_skew_s: accepted range of location timestamps.
    lease_ttl_s: how long a tick holds its community's lease (at least twice the solver
        budget + 5 s); a dispatcher that dies mid-tick is replaced after it.
    churn_penalty: cost (seconds-equivalent) of moving already assigned work.
    drop_penalty: cost of leaving an order unassigned in a tick (large, finite).
    emergency_weight: lateness weight of emergency jobs (pre-empts everything else).
    emergency_buffer_s: plans reach an emergency this long before its SLA ends; each
        second eaten into the buffer costs ``emergency_weight``. 120: a plan is made up
        to a dispatch interval (60 s) late from positions up to ``location_staleness_s``
        (60 s) old, so an arrival planned a few seconds inside the SLA is a coin toss;
        kept small, as a booked job may be pushed late to save the buffer.
    lateness_cost_per_s: cost of one second past a technician job's due time, against one
        metre driven (10: a window missed by 100 s weighs like a 1 km detour); a booked
        job whose window has closed costs this much a second until it is reached.
    window_cost_per_s: cost of one second past a booked window's end while the window
        can still be kept (200: a minute late weighs like a 12 km detour, more than any
        detour across a 3 km community, and less than an emergency's second, so an
        emergency may push a booked job late when nothing less disruptive reaches it).
    promise_buffer_s: a dropoff costs ``promise_cost_per_s`` per second past its promise
        minus this buffer (tiers multiply), so plans keep slack for late kitchens and
        slow rides and bundle only where the slack allows. None: price time instead.
    delivery_time_cost_per_s: with ``promise_buffer_s=None``, the cost of each second
        until a standard order reaches the door (tiers multiply): the solver delivers
        soon, not just in time (MDRP, scored by mean click-to-door, works this way).
    promise_cost_per_s: cost of each second a dropoff eats into the buffer, and of each
        second a pickup comes later than the last moment from which a direct ride keeps
        the promise (tiers multiply; 0: off). 10: with the fee keeping promises, the
        buffer only orders plans that keep them; priced higher, it spends couriers'
        time on slack that busy hours need for the next orders (benchmarks/RESULTS.md,
        "The buffer's price once the fee keeps promises").
    promise_fee: with ``promise_buffer_s`` set, a one-off cost of a dropoff planned past its
        promise (tiers multiply; 0: off): customers count promises kept, not seconds, so
        a plan that breaks one promise beats one that breaks two by a little each.
        30 000: a broken promise weighs like five dropoffs eating the whole default
        buffer (10 a second for 600 s), or 50 minutes more of a late order's lateness.
    pickup_handover_s: how far into the pickup service the courier is handed the food (and
        reports picked_up), when the food is out; None: at the service's end, the safe
        bound when unknown. The tick takes food as late once this much after the later of
        its estimate and the courier's arrival has passed without a pickup
        (``dispatch.tick.ready``).
    rides_finish: couriers finish what they begin (the MDRP's rule): a ride is never turned
        round, so a courier riding to the pickup its plan begins with keeps that order and
        is planned from that counter, from its arrival on, not from where it is now; and
        a courier rides on once the service it began at a counter or a door ends
        (``dispatch.tick.build``).
    at_risk_margin_s: work whose planned arrival is this close to its promise is flagged.
    surge_refresh_s: quotes read a community's surge field and worker index computed at
        most this long ago (recomputing them reads every open record of the community).
    quote_ttl_s: how long a quote's price holds for the order or job that names it.
    """

    location_staleness_s: float = 60.0
    max_future_skew_s: float = 300.0
    max_past_skew_s: float = 3600.0
    lease_ttl_s: float = 30.0
    idempotency_ttl_s: float = 24 * 3600.0
    max_batch: int = 5000
    churn_penalty: int = 120
    drop_penalty: int = 10_000_000
    emergency_weight: int = 500
    emergency_buffer_s: int = 120
    lateness_cost_per_s: int = 10
    window_cost_per_s: int = 200
    promise_buffer_s: int | None = 600
    delivery_time_cost_per_s: int = 10
    promise_cost_per_s: int = 10
    promise_fee: int = 30_000
    at_risk_margin_s: float = 0.0
    pickup_service_s: int = 120
    dropoff_service_s: int = 60
    pickup_handover_s: int | None = None
    rides_finish: bool = False
    candidates_per_order: int = 25
    surge_refresh_s: float = 5.0
    quote_ttl_s: float = 120.0

    @property
    def handover_s(self) -> int:
        """Seconds into the pickup service at which the food changes hands."""
        if self.pickup_handover_s is None:
            return self.pickup_service_s
        return self.pickup_handover_s

    def __post_init__(self) -> None:
        for name in (
            "location_staleness_s",
            "max_future_skew_s",
            "max_past_skew_s",
            "lease_ttl_s",
            "idempotency_ttl_s",
            "surge_refresh_s",
            "quote_ttl_s",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number, got {value!r}")
        for name in (
            "max_batch",
            "drop_penalty",
            "emergency_weight",
            "candidates_per_order",
            "lateness_cost_per_s",
            "window_cost_per_s",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("delivery_time_cost_per_s", "promise_cost_per_s", "promise_fee"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.promise_buffer_s is not None and self.promise_buffer_s < 0:
            raise ValueError("promise_buffer_s must be non-negative (or None)")
        for name in (
            "churn_penalty",
            "pickup_service_s",
            "dropoff_service_s",
            "emergency_buffer_s",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be non-negative")
        if self.pickup_handover_s is not None and not (
            0 <= self.pickup_handover_s <= self.pickup_service_s
        ):
            raise ValueError("pickup_handover_s must lie within the pickup service (or be None)")
