"""The system under test as real processes: a durable Redis, API servers and tick workers.

Every process runs on a free loopback port, writes its output to a log file of its
own (appended across restarts) and can be crashed (SIGKILL), paused (SIGSTOP),
resumed (SIGCONT) and started again on the same port. Readiness is polled over
HTTP (or PING for Redis) until a deadline; nothing waits a fixed time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from redis import Redis

from tests.polling import pause
from tests.redis_server import RedisServer, find_redis_server, free_port

__all__ = ["Cluster", "ClusterSpec", "Service", "ServiceFailed", "wait_for"]

ROOT = Path(__file__).resolve().parents[2]
_POLL_S = 0.05  # pause between two readiness probes
_LOG_TAIL = 3000  # characters of a log quoted when a process fails


class ServiceFailed(RuntimeError):
    """A process of the system under test exited or did not become ready in time."""


def wait_for(
    check: Callable[[], bool], deadline: float, what: str, poll_s: float = _POLL_S
) -> None:
    """Poll ``check`` until it holds; TimeoutError naming ``what`` past the deadline."""
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not reached in time")
        pause(poll_s)


@dataclass
class Service:
    """One process: ``argv(incarnation)`` builds its command line, ``ready_url`` says when
    it serves. ``incarnation`` counts starts (a tick worker takes a new name each time)."""

    name: str
    argv: Callable[[int], list[str]]
    env: dict[str, str]
    log_path: Path
    ready_url: str
    process: subprocess.Popen[bytes] | None = None
    incarnation: int = 0
    paused: bool = False

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def start(self) -> None:
        """Start a new incarnation; its output goes to the log file (appended)."""
        if self.alive:
            raise RuntimeError(f"{self.name} is already running")
        self.incarnation += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n==== {self.name} start #{self.incarnation} ====\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.argv(self.incarnation),
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group; Ctrl-C reaches the harness only
            )
        self.paused = False

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-_LOG_TAIL:]
        except OSError:
            return ""

    def ready(self, client: httpx.Client) -> bool:
        try:
            return client.get(self.ready_url).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout_s: float) -> float:
        """Poll the readiness URL until it answers 200; the seconds it took."""
        t0 = time.monotonic()
        deadline = t0 + timeout_s
        with httpx.Client(timeout=httpx.Timeout(1.0)) as client:
            while not self.ready(client):
                if not self.alive:
                    code = None if self.process is None else self.process.poll()
                    raise ServiceFailed(f"{self.name} exited ({code}): {self.log_tail()}")
                if time.monotonic() > deadline:
                    raise ServiceFailed(
                        f"{self.name} not ready at {self.ready_url} within {timeout_s:g} s: "
                        f"{self.log_tail()}"
                    )
                pause(_POLL_S)
        return time.monotonic() - t0

    def signal(self, sig: signal.Signals) -> None:
        """Signal the process and any children it started (its own process group)."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        """Crash it (SIGKILL) and reap it."""
        if self.process is not None:
            self.signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.paused = False

    def pause(self) -> None:
        self.signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self.signal(signal.SIGCONT)
        self.paused = False

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop it cleanly (SIGTERM, after SIGCONT if paused); SIGKILL past the timeout."""
        proc = self.process
        if proc is None:
            return
        if proc.poll() is None:
            self.resume()
            self.signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                proc.wait(timeout=10)
        self.paused = False


@dataclass(frozen=True)
class ClusterSpec:
    """What to start and how the engine is configured (through ``DISPATCH_*`` variables)."""

    directory: Path
    api_key: str
    appendfsync: str = "always"  # or "everysec"
    apis: int = 2
    workers: int = 2
    worker_concurrency: int = 2
    worker_poll_s: float = 0.2
    lease_ttl_s: float = 5.0
    reclaim_idle_s: float = 5.0
    policy: str = "regret-insertion"
    worker_command: tuple[str, ...] = ()  # default: this Python's ``-m api worker``
    prefix: str = "dispatch"  # the store's key prefix (the default of both commands)
    extra_env: tuple[tuple[str, str], ...] = ()


@dataclass
class Cluster:
    """Redis (AOF on), ``apis`` × ``dispatch serve --store redis`` and ``workers`` ×
    ``dispatch worker``, each on free loopback ports with its own log file."""

    spec: ClusterSpec
    redis: RedisServer | None = None
    apis: list[Service] = field(default_factory=list)
    workers: list[Service] = field(default_factory=list)
    _clients: list[Redis] = field(default_factory=list)

    @property
    def logs(self) -> Path:
        return self.spec.directory / "logs"

    @property
    def redis_url(self) -> str:
        assert self.redis is not None
        return self.redis.url

    @property
    def api_urls(self) -> list[str]:
        return [s.ready_url.removesuffix("/readyz") for s in self.apis]

    @property
    def services(self) -> list[Service]:
        return [*self.apis, *self.workers]

    def _env(self, instance: str) -> dict[str, str]:
        s = self.spec
        env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
        env.update(
            {
                "DISPATCH_API_KEYS": f"{s.api_key}=ops+order-service+courier-app+analyst",
                "DISPATCH_INSTANCE_ID": instance,
                "DISPATCH_POLICY": s.policy,
                "DISPATCH_ENGINE__LEASE_TTL_S": repr(s.lease_ttl_s),
                "DISPATCH_LOG_LEVEL": "INFO",
                "DISPATCH_TICK_ENABLED": "false",  # API processes serve HTTP only
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(dict(s.extra_env))
        return env

    def start(self, timeout_s: float = 60.0) -> Cluster:
        """Start everything and wait until each process is ready; stops all on failure."""
        s = self.spec
        self.logs.mkdir(parents=True, exist_ok=True)
        (s.directory / "redis").mkdir(parents=True, exist_ok=True)
        try:
            self.redis = RedisServer(
                find_redis_server(),
                s.directory / "redis",
                appendonly=True,
                extra_args=("--appendfsync", s.appendfsync),
            ).start()
            for i in range(s.apis):
                self.apis.append(self._api(f"api-{i + 1}"))
            for i in range(s.workers):
                self.workers.append(self._worker(f"worker-{chr(ord('a') + i)}"))
            for svc in self.services:
                svc.start()
            deadline = time.monotonic() + timeout_s
            for svc in self.services:
                svc.wait_ready(max(deadline - time.monotonic(), 1.0))
        except BaseException:
            self.stop()
            raise
        return self

    def _api(self, name: str) -> Service:
        port = free_port()
        url = self.redis_url

        def argv(_: int) -> list[str]:
            return [
                *("python", "-m", "api", "serve", "--store", "redis"),
                *("--redis-url", url, "--host", "127.0.0.1", "--port", str(port)),
            ]

        return Service(
            name,
            _with_python(argv),
            self._env(name),
            self.logs / f"{name}.log",
            f"http://127.0.0.1:{port}/readyz",
        )

    def _worker(self, name: str) -> Service:
        s = self.spec
        port = free_port()
        url = self.redis_url
        command = list(s.worker_command) or ["python", "-m", "api", "worker"]

        def argv(incarnation: int) -> list[str]:
            return [
                *command,
                *("--redis-url", url, "--name", f"{name}.{incarnation}"),
                *("--concurrency", str(s.worker_concurrency), "--health-port", str(port)),
                *("--poll-s", repr(s.worker_poll_s), "--reclaim-idle-s", repr(s.reclaim_idle_s)),
            ]

        env = self._env(name)
        return Service(
            name,
            _with_python(argv),
            env,
            self.logs / f"{name}.log",
            f"http://127.0.0.1:{port}/readyz",
        )

    def lease_probe(self, communities: Sequence[str]) -> Callable[[], dict[str, str]]:
        """Who holds each community's tick lease now (community → owner), read straight
        from Redis: the store keeps ``P:{cid}:lease`` = ``expires|token|owner``
        (``dispatch.store.redis``). Read-only; for the nemesis to strike mid-tick."""
        keys = [f"{self.spec.prefix}:{{{cid}}}:lease" for cid in communities]
        client = Redis.from_url(
            self.redis_url, decode_responses=True, socket_timeout=0.5, socket_connect_timeout=0.5
        )
        self._clients.append(client)

        def probe() -> dict[str, str]:
            values = client.mget(keys)
            return {
                cid: str(raw).rsplit("|", 1)[-1]
                for cid, raw in zip(communities, values, strict=True)
                if raw
            }

        return probe

    def redis_config(self, name: str) -> str:
        """A value of the running server's configuration (CONFIG GET)."""
        client = Redis.from_url(self.redis_url, decode_responses=True, socket_timeout=5)
        try:
            return str(client.config_get(name)[name])
        finally:
            client.close()

    def save_redis_log(self) -> None:
        """Append what Redis printed since its last start to ``logs/redis.log``."""
        if self.redis is not None and self.redis.log:
            with (self.logs / "redis.log").open("ab") as out:
                out.write(bytes(self.redis.log))

    def kill_redis(self) -> None:
        """Crash Redis (SIGKILL); its log so far is saved first."""
        assert self.redis is not None
        self.save_redis_log()
        self.redis.kill()

    def start_redis(self, timeout_s: float = 30.0) -> None:
        """Start Redis again on the same port and directory (it replays its AOF)."""
        assert self.redis is not None
        self.redis.start(timeout_s=timeout_s)

    def stop(self) -> None:
        """Stop every process (workers first), each in its own attempt."""
        for client in self._clients:
            client.close()
        for svc in [*self.workers, *self.apis]:
            with contextlib.suppress(Exception):
                svc.stop()
        if self.redis is not None:
            with contextlib.suppress(Exception):
                self.save_redis_log()
            self.redis.stop()


def _with_python(argv: Callable[[int], list[str]]) -> Callable[[int], list[str]]:
    """Replace a leading ``python`` with this interpreter (the project's venv)."""
    import sys

    def build(incarnation: int) -> list[str]:
        args = argv(incarnation)
        return [sys.executable, *args[1:]] if args and args[0] == "python" else args

    return build
