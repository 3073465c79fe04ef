"""Our Standard Webhooks signatures against the reference ``standardwebhooks`` package."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from dispatch.webhooks import new_secret, sign, signed_headers


def test_secrets_are_whsec_base64_of_32_random_bytes() -> None:
    """A secret is whsec_ + base64 of 32 bytes, and two are never the same."""
    a, b = new_secret(), new_secret()
    assert a.startswith("whsec_") and a != b
    assert len(base64.b64decode(a.removeprefix("whsec_"))) == 32


def test_signature_equals_the_reference_implementation() -> None:
    """sign() gives the same v1 signature as standardwebhooks.Webhook.sign."""
    secret, body = new_secret(), '{"seq":1,"data":{"ü":1}}'.encode()
    ts = 1_767_225_600
    ours = sign(secret, "msg_1_wh_a", ts, body)
    theirs = Webhook(secret).sign("msg_1_wh_a", datetime.fromtimestamp(ts, tz=UTC), body)
    assert ours == theirs and ours.startswith("v1,")


def test_headers_verify_and_tampering_is_caught() -> None:
    """Signed headers verify with Webhook.verify; another body or secret does not."""
    secret, body = new_secret(), b'{"seq":7}'
    headers = signed_headers(secret, "msg_7_wh_a", time.time(), body)
    assert set(headers) >= {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert Webhook(secret).verify(body, headers) == {"seq": 7}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"seq":8}', headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)


def test_two_secrets_give_two_signatures_each_verifying() -> None:
    """During a rotation the header holds two signatures: either secret verifies."""
    new, old, body = new_secret(), new_secret(), b'{"seq":9}'
    headers = signed_headers([new, old], "msg_9_wh_a", time.time(), body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(new).verify(body, headers) == Webhook(old).verify(body, headers) == {"seq": 9}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
