"""uvicorn's HTTP/1.1 protocol (h11) with a header timeout and problem+json refusals.

uvicorn has a keep-alive timeout but none for a request's head: a client that
connects and sends half a header block holds the connection forever. Here a
connection must deliver each request's line and headers within
``DISPATCH_HEADER_TIMEOUT_S`` (else 408, problem+json, closed). Requests h11
cannot parse, and heads over the size limit (``h11_max_incomplete_event_size``,
which also bounds the request line: a URI that long gets 431, not 414), are
answered as problem+json too instead of uvicorn's text/plain 400.
``dispatch serve`` selects it with ``http="api.edge_protocol:EdgeProtocol"``;
bodies are timed by ``api.middleware.BodyLimit``. WebSocket handshakes that fail
below the app are still answered by the WebSocket library itself.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import STATUS_PHRASES, H11Protocol
from uvicorn.server import ServerState

from api.problems import MEDIA_TYPE, problem_bytes

__all__ = ["HEADER_TIMEOUT_ENV", "EdgeProtocol"]

HEADER_TIMEOUT_ENV = "DISPATCH_HEADER_TIMEOUT_S"
_DETAILS = {
    400: "the request could not be parsed as HTTP/1.1",
    431: "the request line and headers exceed the size limit",
}


class _Connection(h11.Connection):
    """h11's connection, remembering the status its last parse error suggests."""

    error_status = 400

    def next_event(self) -> Any:
        try:
            return super().next_event()
        except h11.RemoteProtocolError as exc:
            self.error_status = exc.error_status_hint
            raise


class EdgeProtocol(H11Protocol):
    """``H11Protocol`` plus a header timeout and problem+json for malformed requests."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        size = config.h11_max_incomplete_event_size or 16 * 1024  # h11's own default
        self.conn = _Connection(h11.SERVER, max_incomplete_event_size=size)
        self.header_timeout_s = float(os.environ.get(HEADER_TIMEOUT_ENV, "10"))
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            if self._head_timer is None:
                self._arm()  # part of a head arrived: the rest must follow in time
        else:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._disarm()  # between requests the keep-alive timeout applies

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a response is on its way
        self.transport.write(_raw_problem(408, "the request headers were not sent in time"))
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        hint = getattr(self.conn, "error_status", 400)
        status = hint if hint in _DETAILS else 400
        body = problem_bytes(status, _DETAILS[status])
        headers = [
            (b"content-type", MEDIA_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        event = h11.Response(status_code=status, headers=headers, reason=STATUS_PHRASES[status])
        self.transport.write(self.conn.send(event) or b"")
        self.transport.write(self.conn.send(h11.Data(data=body)) or b"")
        self.transport.write(self.conn.send(h11.EndOfMessage()) or b"")
        self.transport.close()


def _raw_problem(status: int, detail: str) -> bytes:
    """A whole response written by hand (h11 cannot answer before a request arrived)."""
    body = problem_bytes(status, detail)
    head = (
        f"HTTP/1.1 {status} {STATUS_PHRASES[status].decode()}\r\n"
        f"content-type: {MEDIA_TYPE}\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body
