"""Webhook stores over every back-end, a scripted sender, and delivery factories."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pytest

from dispatch.store.base import Store
from dispatch.store.redis import RedisStore
from dispatch.webhooks import (
    Delivery,
    Endpoint,
    SendResult,
    WebhookStore,
    new_secret,
    webhook_store_for,
)

T0 = 1_767_225_600.0


@pytest.fixture
def wh_store(store: Store) -> WebhookStore:
    """The webhook store beside the engine's store (memory, Redis or Redis Cluster)."""
    made = webhook_store_for(store)
    assert isinstance(store, RedisStore) == (type(made).__name__ == "RedisWebhookStore")
    return made


def endpoint(eid: str = "wh_1", **kw: object) -> Endpoint:
    fields: dict[str, object] = {
        "id": eid,
        "url": "https://hooks.example.com/in",
        "secret": new_secret(),
        "created_at": T0,
        "after_seq": 0,
    }
    fields.update(kw)
    return Endpoint(**fields)  # type: ignore[arg-type]


def delivery(
    did: str, number: int, eid: str = "wh_1", key: str = "c1:o1", **kw: object
) -> Delivery:
    fields: dict[str, object] = {
        "id": did,
        "endpoint_id": eid,
        "number": number,
        "event_type": "order.created",
        "event_seq": number,
        "order_key": key,
        "body": f'{{"seq":{number}}}',
        "created_at": T0,
        "next_attempt_at": T0,
    }
    fields.update(kw)
    return Delivery(**fields)  # type: ignore[arg-type]


@dataclass
class Sent:
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ScriptedSender:
    """Records every send; ``answer`` decides the status (200 unless told otherwise)."""

    answer: Callable[[Sent], int | None] = lambda sent: 200
    sent: list[Sent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> SendResult:
        item = Sent(url, dict(headers), body)
        with self.lock:
            self.sent.append(item)
        status = self.answer(item)
        if status is None:
            return SendResult(None, "ConnectError: refused", 0.001)
        return SendResult(status, None, 0.001)
