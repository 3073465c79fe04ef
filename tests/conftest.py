"""Suite-wide fixtures: a real redis-server the suite starts itself (or REDIS_URL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis_server import RedisServer, find_redis_server


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a Redis the tests may write to; started on a free port unless REDIS_URL is set.

    A missing server is a failure with a clear message, never a skip.
    """
    given = os.environ.get("REDIS_URL")
    if given:
        yield given
        return
    server = RedisServer(find_redis_server(), Path(tmp_path_factory.mktemp("redis"))).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix of its own per test: tests never collide and never flush anything."""
    return f"test-{uuid.uuid4().hex[:12]}"
