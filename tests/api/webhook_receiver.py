"""A loopback webhook receiver for tests: a threaded ``http.server`` on a free port.

``mode`` decides each answer: ``ok`` (200), ``down`` (503) or ``drop`` (the
connection is closed without an answer); ``close``/``reopen`` take the port
down entirely (connections refused) and bring it back on the same port.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Received", "Receiver", "loopback_receiver"]


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int | None  # None: the connection was dropped without an answer


class Receiver:
    """See the module docstring; every request it read is in ``got``."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.got: list[Received] = []
        self.lock = threading.Lock()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook?src=dispatch"

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.got if r.status == 200]

    def reopen(self) -> None:
        """Listen (again) on the same port, or a free one the first time."""
        me = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = {"ok": 200, "down": 503}.get(me.mode)
                with me.lock:
                    me.got.append(Received(dict(self.headers.items()), body, status))
                if status is None:
                    self.close_connection = True
                    return
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop listening: connections are refused until ``reopen``."""
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join()


@contextlib.contextmanager
def loopback_receiver() -> Iterator[Receiver]:
    """A running receiver, closed (its thread joined) when the block ends."""
    receiver = Receiver()
    receiver.reopen()
    try:
        yield receiver
    finally:
        receiver.close()
