"""Webhook request and response bodies; the secret appears only in the registration answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from api.schemas._common import Id, In, Out, to_time, utc
from dispatch.webhooks import Attempt, Delivery, Endpoint

__all__ = [
    "AttemptOut",
    "DeliveryOut",
    "DeliveryPage",
    "EventType",
    "WebhookCreatedOut",
    "WebhookIn",
    "WebhookOut",
    "WebhookPage",
]

EventType = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*(\.\*)?$",
        description="An event type (order.assigned) or a group (order.*).",
    ),
]


class WebhookIn(In):
    """A receiver to register; empty lists mean every event type, every community."""

    url: str = Field(
        min_length=1,
        max_length=2000,
        description="http or https; private, loopback and link-local hosts are refused "
        "unless the server allows them (DISPATCH_WEBHOOKS_ALLOW_PRIVATE).",
    )
    event_types: list[EventType] = Field(default_factory=list, max_length=50)
    community_ids: list[Id] = Field(default_factory=list, max_length=500)
    description: str = Field(default="", max_length=200)


class WebhookOut(Out):
    id: str
    url: str
    event_types: list[str]
    community_ids: list[str]
    description: str
    created_at: datetime
    disabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None

    @classmethod
    def fields_of(cls, e: Endpoint) -> dict[str, object]:
        return {
            "id": e.id,
            "url": e.url,
            "event_types": list(e.event_types),
            "community_ids": list(e.community_ids),
            "description": e.description,
            "created_at": utc(e.created_at),
            "disabled": e.disabled,
            "disabled_at": to_time(e.disabled_at),
            "disabled_reason": e.disabled_reason,
        }

    @classmethod
    def of(cls, e: Endpoint) -> WebhookOut:
        return cls.model_validate(cls.fields_of(e))


class WebhookCreatedOut(WebhookOut):
    """The registration answer: the only time the signing secret is shown."""

    secret: str = Field(description="whsec_<base64>: verify signatures with it; shown once.")

    @classmethod
    def of(cls, e: Endpoint) -> WebhookCreatedOut:
        return cls.model_validate({**cls.fields_of(e), "secret": e.secret})


class WebhookPage(Out):
    items: list[WebhookOut]
    next_cursor: str | None


class AttemptOut(Out):
    at: datetime
    status_code: int | None = Field(description="The receiver's HTTP status (null: no answer).")
    error: str | None
    duration_ms: float

    @classmethod
    def of(cls, a: Attempt) -> AttemptOut:
        return cls(
            at=utc(a.at),
            status_code=a.status_code,
            error=a.error,
            duration_ms=round(a.duration_s * 1000, 3),
        )


class DeliveryOut(Out):
    """One event for one endpoint: ``id`` is its ``webhook-id`` on every attempt."""

    id: str
    webhook_id: str
    event_type: str
    event_seq: int | None
    state: str = Field(description="pending, succeeded, failed (given up) or skipped (a gap).")
    created_at: datetime
    next_attempt_at: datetime | None
    attempts: list[AttemptOut]
    note: str | None

    @classmethod
    def of(cls, d: Delivery) -> DeliveryOut:
        return cls(
            id=d.id,
            webhook_id=d.endpoint_id,
            event_type=d.event_type,
            event_seq=d.event_seq,
            state=d.state.value,
            created_at=utc(d.created_at),
            next_attempt_at=to_time(d.next_attempt_at),
            attempts=[AttemptOut.of(a) for a in d.attempts],
            note=d.note,
        )


class DeliveryPage(Out):
    items: list[DeliveryOut]
    next_cursor: str | None
