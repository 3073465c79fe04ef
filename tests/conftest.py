"""Suite-wide fixtures: a real redis-server the suite starts itself (or REDIS_URL).

Tests never flush a server: each one writes under a key prefix of its own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from dispatch.store.redis import RedisStore
from tests.redis_server import (
    RedisCluster,
    RedisServer,
    RedisServerFailed,
    RedisServerMissing,
    find_redis_server,
)


def _own(start: Callable[[], RedisServer | RedisCluster]) -> Iterator[str]:
    """The URL of a server (or cluster) started here, stopped afterwards; failing clearly."""
    try:
        server = start()
    except (RedisServerMissing, RedisServerFailed) as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a Redis the tests may write to: REDIS_URL, else a server started on a free port.

    A missing or broken server fails the tests that need it with a clear message; never a skip.
    """
    given = os.environ.get("REDIS_URL")
    if given:
        client = redis.Redis.from_url(given)
        try:
            client.ping()
        except redis.RedisError as exc:
            pytest.fail(f"REDIS_URL={given} does not answer PING: {exc}", pytrace=False)
        finally:
            client.close()
        yield given
        return
    directory = Path(tmp_path_factory.mktemp("redis"))
    yield from _own(lambda: RedisServer(find_redis_server(), directory).start())


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a node of a Redis Cluster: REDIS_CLUSTER_URL, else three nodes started here.

    The Redis store must run unchanged on Cluster, where a command or script that
    spans two hash slots is refused; only a real cluster checks that.
    """
    given = os.environ.get("REDIS_CLUSTER_URL")
    if given:
        try:
            client = redis.RedisCluster.from_url(given)
            client.ping()
            client.close()
        except redis.RedisError as exc:
            pytest.fail(f"REDIS_CLUSTER_URL={given} is not a usable cluster: {exc}", pytrace=False)
        yield given
        return
    directory = Path(tmp_path_factory.mktemp("redis-cluster"))
    yield from _own(lambda: RedisCluster(find_redis_server(), directory).start())


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix of its own per test: tests never collide and never flush anything."""
    return f"test-{uuid.uuid4().hex[:12]}"


def redis_store(request: pytest.FixtureRequest, target: str, prefix: str) -> RedisStore:
    """A store on the suite's own Redis (``target`` "redis") or Cluster ("redis-cluster")."""
    cluster = target == "redis-cluster"
    url = request.getfixturevalue("redis_cluster_url" if cluster else "redis_url")
    return RedisStore(url, prefix=prefix, cluster=cluster)
