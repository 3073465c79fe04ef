"""Webhook records: endpoints, deliveries and their attempts (frozen, JSON-friendly).

A ``Delivery`` is one event for one endpoint: its id is the Standard Webhooks
message id (``webhook-id``), the same on every attempt, and its body is frozen
when the event is fanned out, so a feed trimmed afterwards loses nothing pending.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "Attempt",
    "Delivery",
    "DeliveryState",
    "Endpoint",
    "attempt_from_dict",
    "delivery_from_dict",
    "endpoint_from_dict",
    "record_to_dict",
]


class DeliveryState(StrEnum):
    """pending → succeeded | failed (given up) ; skipped: a gap in the feed, never sent."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


FINAL = frozenset({DeliveryState.SUCCEEDED, DeliveryState.FAILED, DeliveryState.SKIPPED})


@dataclass(frozen=True)
class Endpoint:
    """A registered receiver. Empty ``event_types``/``community_ids`` mean "all".

    ``after_seq`` is the feed's last seq at registration: only later events are
    delivered. ``secret`` is kept to sign (HMAC needs it) but never shown again;
    after a rotation the ``previous_secret`` also signs until ``previous_until``.
    """

    id: str
    url: str
    secret: str = field(repr=False)  # never in a log line or a traceback
    created_at: float
    after_seq: int
    event_types: tuple[str, ...] = ()
    community_ids: tuple[str, ...] = ()
    description: str = ""
    disabled_at: float | None = None
    disabled_reason: str | None = None
    previous_secret: str | None = field(default=None, repr=False)
    previous_until: float | None = None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    def signing_secrets(self, now: float) -> tuple[str, ...]:
        """The secrets that sign a message sent at ``now`` (two during a rotation)."""
        if self.previous_secret and self.previous_until is not None and now < self.previous_until:
            return (self.secret, self.previous_secret)
        return (self.secret,)

    def wants(self, event_type: str, community_id: str) -> bool:
        """Whether an event of this type and community is for this endpoint."""
        if self.community_ids and community_id not in self.community_ids:
            return False
        if not self.event_types:
            return True
        return any(
            t == event_type or (t.endswith(".*") and event_type.startswith(t[:-1]))
            for t in self.event_types
        )


@dataclass(frozen=True)
class Attempt:
    """One try to send a delivery: when, the answer (status or error) and how long it took."""

    at: float
    status_code: int | None
    error: str | None
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Delivery:
    """One event for one endpoint, with its body, schedule and outcome so far.

    ``number`` orders an endpoint's deliveries (newest first in listings);
    ``order_key`` groups the deliveries that must arrive in order (one entity's).
    """

    id: str
    endpoint_id: str
    number: int
    event_type: str
    event_seq: int | None
    order_key: str
    body: str
    created_at: float
    state: DeliveryState = DeliveryState.PENDING
    next_attempt_at: float | None = None
    attempts: tuple[Attempt, ...] = ()
    retries: int = 0  # failed attempts since the schedule (re)started
    note: str | None = None
    claim: str | None = None  # the token of the dispatcher sending it now

    @property
    def final(self) -> bool:
        return self.state in FINAL


def record_to_dict(record: Endpoint | Delivery | Attempt) -> dict[str, Any]:
    """A record as plain JSON values (tuples as lists)."""
    return dataclasses.asdict(record)


def endpoint_from_dict(d: dict[str, Any]) -> Endpoint:
    return Endpoint(
        **{**d, "event_types": tuple(d["event_types"]), "community_ids": tuple(d["community_ids"])}
    )


def attempt_from_dict(d: dict[str, Any]) -> Attempt:
    return Attempt(**d)


def delivery_from_dict(d: dict[str, Any]) -> Delivery:
    return Delivery(
        **{
            **d,
            "state": DeliveryState(d["state"]),
            "attempts": tuple(attempt_from_dict(a) for a in d["attempts"]),
        }
    )
