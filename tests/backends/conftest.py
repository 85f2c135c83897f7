"""Fixtures of the backend tests that look at Redis directly."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import redis


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    """A plain client on the test Redis, to see what a store wrote."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own."""
    return f"sesh-test-{secrets.token_hex(4)}"
