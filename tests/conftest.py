"""Shared fixtures: one real Redis for the session (or SESH_REDIS_URL), never a skip."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.servers import RedisServer


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis the tests may write to: SESH_REDIS_URL, or a redis-server started here."""
    url = os.environ.get("SESH_REDIS_URL")
    if url:
        yield url
        return
    try:
        server = RedisServer()
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server.url
    finally:
        server.close()
