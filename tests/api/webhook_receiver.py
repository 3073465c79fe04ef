"""A loopback webhook receiver for tests: a threaded ``http.server`` on a free port."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Received", "Receiver", "loopback_receiver"]


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int | None  # None: the connection was dropped without an answer


@dataclass
class Receiver:
    """A loopback webhook receiver: ``mode`` is ok (200), down (503) or drop (no answer)."""

    server: ThreadingHTTPServer
    mode: str = "ok"
    got: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hook?src=dispatch"

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.got if r.status == 200]


@contextlib.contextmanager
def loopback_receiver() -> Iterator[Receiver]:
    """A running receiver, shut down (its thread joined) when the block ends."""
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            me = holder[0]
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            mode = me.mode
            status = {"ok": 200, "down": 503}.get(mode)
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

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Receiver(server))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
