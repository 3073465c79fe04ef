"""Webhook request and response bodies; the secret appears only in the registration answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from api.schemas._common import Id, In, Out, Time, to_time, utc
from dispatch.webhooks import Attempt, Delivery, Endpoint

__all__ = [
    "AttemptOut",
    "DeliveryOut",
    "DeliveryPage",
    "EventType",
    "RecoverIn",
    "RecoverOut",
    "WebhookCreatedOut",
    "WebhookIn",
    "WebhookOut",
    "WebhookPage",
    "WebhookPatchIn",
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
    event_types: list[EventType] = Field(
        default_factory=list,
        max_length=50,
        description="Event types to receive (empty: every type).",
    )
    community_ids: list[Id] = Field(
        default_factory=list,
        max_length=500,
        description="Communities to receive events of (empty: every community).",
    )
    description: str = Field(
        default="", max_length=200, description="A note for people: what this receiver is for."
    )


class WebhookPatchIn(In):
    """What to change on a receiver; a field left out keeps its value."""

    url: str | None = Field(
        default=None, min_length=1, max_length=2000, description="A new target URL."
    )
    event_types: list[EventType] | None = Field(
        default=None, max_length=50, description="New event types (empty: every type)."
    )
    community_ids: list[Id] | None = Field(
        default=None, max_length=500, description="New communities (empty: every community)."
    )
    description: str | None = Field(default=None, max_length=200, description="A new note.")


class WebhookOut(Out):
    id: str = Field(description="The endpoint's id.")
    url: str = Field(description="Where events are sent.")
    event_types: list[str] = Field(description="Event types it receives (empty: every type).")
    community_ids: list[str] = Field(
        description="Communities it receives events of (empty: every community)."
    )
    description: str = Field(description="A note for people: what this receiver is for.")
    created_at: datetime = Field(description="When it was registered.")
    disabled: bool = Field(description="No event is sent to it while true.")
    disabled_at: datetime | None = Field(description="When it was disabled, if it is.")
    disabled_reason: str | None = Field(description="Why it was disabled, if it is.")
    previous_secret_until: datetime | None = Field(
        description="After a secret rotation, the previous secret also signs until then."
    )

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
            "previous_secret_until": to_time(e.previous_until),
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
    items: list[WebhookOut] = Field(description="Endpoints of this page.")
    next_cursor: str | None = Field(
        description="Pass as cursor for the next page (null: the last page)."
    )


class AttemptOut(Out):
    at: datetime = Field(description="When the attempt was made.")
    status_code: int | None = Field(description="The receiver's HTTP status (null: no answer).")
    error: str | None = Field(description="What went wrong, when the attempt failed.")
    duration_ms: float = Field(description="How long the attempt took, in milliseconds.")

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

    id: str = Field(description="The delivery's id: its webhook-id header on every attempt.")
    webhook_id: str = Field(description="The endpoint it goes to.")
    event_type: str = Field(description="The type of the event it carries.")
    event_seq: int | None = Field(
        description="The event's sequence number (null for test deliveries)."
    )
    state: str = Field(description="pending, succeeded, failed (given up) or skipped (a gap).")
    created_at: datetime = Field(description="When it was created.")
    next_attempt_at: datetime | None = Field(
        description="When it is tried next (null: no attempt left)."
    )
    attempts: list[AttemptOut] = Field(description="Every attempt so far, oldest first.")
    note: str | None = Field(description="Why it was skipped or given up, if it was.")

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


class RecoverIn(In):
    """Which given-up deliveries to send again."""

    since: Time = Field(description="Deliveries created at or after this time.")


class RecoverOut(Out):
    requeued: int = Field(description="Given-up deliveries queued to be sent again.")


class DeliveryPage(Out):
    items: list[DeliveryOut] = Field(description="Deliveries of this page.")
    next_cursor: str | None = Field(
        description="Pass as cursor for the next page (null: the last page)."
    )
