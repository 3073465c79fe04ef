"""Sending one signed request: the ``Sender`` protocol and its HTTP implementation.

``HttpSender`` checks the target's addresses at every send (``targets.resolve``),
connects to the checked address (TLS still verifies the host's name), follows no
redirects, reads no response body and gives up after ``timeout_s`` per step
(connect, write, each read), so a slow receiver can hold a sending thread only
that long. Any 2xx answer is a success; anything else, or no answer, a failure.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import httpx

from dispatch.errors import InvalidInput
from dispatch.webhooks.targets import Resolver, parse_target, resolve

__all__ = ["HttpSender", "SendResult", "Sender"]

USER_AGENT = "community-dispatch-webhooks/1"
_MAX_ERROR = 300


@dataclass(frozen=True)
class SendResult:
    """What came back: an HTTP status, or an error when nothing usable did."""

    status_code: int | None
    error: str | None = None
    duration_s: float = 0.0


class Sender(Protocol):
    """Sends one POST; never raises for a failed send (it is a ``SendResult``)."""

    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> SendResult: ...


class HttpSender:
    """POSTs over httpx to the checked address of the URL's host (module docstring).

    ``verify`` is httpx's: True (the system's CAs) or an ``ssl.SSLContext`` (a private CA).
    """

    def __init__(
        self,
        *,
        timeout_s: float = 10.0,
        allow_private: bool = False,
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            verify=verify,
            trust_env=False,  # no proxies from the environment: the checked address is the peer
            headers={"user-agent": USER_AGENT},
        )

    def close(self) -> None:
        self._client.close()

    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> SendResult:
        started = time.perf_counter()

        def took() -> float:
            return round(time.perf_counter() - started, 6)

        try:
            target = parse_target(url, self.allow_private)
            address = resolve(target, self.allow_private, self.resolver)
        except InvalidInput as exc:
            return SendResult(None, str(exc)[:_MAX_ERROR], took())
        request = self._client.build_request(
            "POST",
            target.url_for(address),
            headers={**headers, "host": target.host_header},
            content=body,
            extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
        )
        try:
            response = self._client.send(request, stream=True)
            response.close()  # the status is all we need; never read an unbounded body
        except (httpx.HTTPError, OSError, ValueError) as exc:  # refused, reset, bad answer
            return SendResult(None, f"{type(exc).__name__}: {exc}"[:_MAX_ERROR], took())
        return SendResult(response.status_code, None, took())
