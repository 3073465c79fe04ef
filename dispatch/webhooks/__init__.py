"""Signed webhooks (Standard Webhooks) delivered at least once from the event feed.

``Webhooks`` registers and reads endpoints; ``WebhookDispatcher`` fans the feed
out to per-endpoint queues and sends with retries; ``MemoryWebhookStore`` and
``dispatch.webhooks.redis.RedisWebhookStore`` hold their state.
"""

from dispatch.webhooks.dispatcher import (
    DISABLED_EVENT,
    DispatcherHealth,
    StepResult,
    WebhookDispatcher,
)
from dispatch.webhooks.factory import webhook_store_for
from dispatch.webhooks.memory import MemoryWebhookStore
from dispatch.webhooks.model import Attempt, Delivery, DeliveryState, Endpoint
from dispatch.webhooks.payload import event_body
from dispatch.webhooks.schedule import DEFAULT_DELAYS_S, RetrySchedule
from dispatch.webhooks.sender import HttpSender, Sender, SendResult
from dispatch.webhooks.service import MAX_ENDPOINTS, Webhooks
from dispatch.webhooks.signing import new_secret, sign, signed_headers
from dispatch.webhooks.store import DELIVERY_RETENTION_S, WebhookStore
from dispatch.webhooks.targets import address_problem, parse_target

__all__ = [
    "DEFAULT_DELAYS_S",
    "DELIVERY_RETENTION_S",
    "DISABLED_EVENT",
    "MAX_ENDPOINTS",
    "Attempt",
    "Delivery",
    "DeliveryState",
    "DispatcherHealth",
    "Endpoint",
    "HttpSender",
    "MemoryWebhookStore",
    "RetrySchedule",
    "SendResult",
    "Sender",
    "StepResult",
    "WebhookDispatcher",
    "WebhookStore",
    "Webhooks",
    "address_problem",
    "event_body",
    "new_secret",
    "parse_target",
    "sign",
    "signed_headers",
    "webhook_store_for",
]
