"""Stores from URLs: each scheme's backend, and clear errors that never echo a credential."""

from __future__ import annotations

import asyncio

import pytest
import redis

import sesh
from sesh.backends.memory import AsyncMemoryStore, MemoryStore
from sesh.backends.redis import AsyncRedisStore, RedisStore


def test_memory_url() -> None:
    store = sesh.from_url("memory://", prefix="app", ttl=30)
    assert isinstance(store, MemoryStore)
    assert (store.prefix, store.ttl) == ("app", 30.0)
    assert isinstance(sesh.async_from_url("memory://"), AsyncMemoryStore)


@pytest.mark.parametrize("url", ["memory://host", "memory:///path", "memory://?x=1"])
def test_memory_url_takes_no_options(url: str) -> None:
    with pytest.raises(ValueError, match="memory://"):
        sesh.from_url(url)


@pytest.mark.parametrize(
    "url",
    ["redis://localhost:6379/0", "rediss://user:pw@localhost:6380/1", "unix:///tmp/redis.sock"],
)
def test_redis_urls(url: str) -> None:
    store = sesh.from_url(url, prefix="app", ttl=5)
    assert isinstance(store, RedisStore)
    assert store.client.connection_pool.connection_kwargs["socket_timeout"] == 1.0
    store.close()

    async def make() -> None:
        async_store = sesh.async_from_url(url)
        assert isinstance(async_store, AsyncRedisStore)
        await async_store.aclose()

    asyncio.run(make())


def test_url_options_win_over_the_defaults() -> None:
    store = sesh.from_url("redis://localhost/0?socket_timeout=7")
    assert isinstance(store, RedisStore)
    assert store.client.connection_pool.connection_kwargs["socket_timeout"] == 7.0


def test_rediss_url_makes_a_tls_client() -> None:
    store = sesh.from_url("rediss://localhost:6380/0")
    assert isinstance(store, RedisStore)
    assert store.client.connection_pool.connection_class is redis.SSLConnection


@pytest.mark.parametrize(
    "url", ["mysql://root:hunter2@db/app", "hunter2", "", "http://u:hunter2@x", "REDIS"]
)
def test_unknown_scheme_names_no_secret(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported store URL scheme") as caught:
        sesh.from_url(url)
    assert "hunter2" not in str(caught.value)
    assert "redis://" in str(caught.value)


def test_url_must_be_text() -> None:
    with pytest.raises(TypeError, match="url"):
        sesh.from_url(b"memory://")  # type: ignore[arg-type]


def test_bad_settings_are_refused_by_from_url() -> None:
    with pytest.raises(ValueError, match="ttl"):
        sesh.from_url("memory://", ttl=-5)
    with pytest.raises(TypeError, match="prefix"):
        sesh.from_url("memory://", prefix=3)  # type: ignore[arg-type]


def test_repr_shows_no_credential() -> None:
    store = sesh.from_url("redis://:hunter2@localhost/0", prefix="app", ttl=60)
    assert repr(store) == "RedisStore(prefix='app', ttl=60.0)"
