"""RedisStore and AsyncRedisStore on a real redis-server, and RedisStore on fakeredis."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import fakeredis
import pytest
import redis

from sesh._validate import Ttl
from sesh.backends.redis import AsyncRedisStore, RedisStore
from sesh.testing import CAPABILITIES, AsyncSessionStoreConformance, Kit, SessionStoreConformance
from testbed.redis_data import age_keys, dump_keys


class _OnRedis:
    kit: Kit
    url: str
    capabilities = CAPABILITIES
    # pass_time ages the keys rather than sleeping, so a long ttl costs no time: it leaves
    # the real time between two calls on a loaded machine far from the checks' margins (a
    # full run once saw a max_age session on fakeredis end early on the 0.5 s default).
    short_ttl = 5.0

    @pytest.fixture(autouse=True)
    def _url(self, redis_url: str) -> Iterator[None]:
        self.url = redis_url
        self.raw = redis.Redis.from_url(redis_url)
        yield
        self.raw.close()

    def dump(self, store: Any) -> bytes:
        return dump_keys(self.raw, list(self.raw.scan_iter(match=f"{self.kit.prefix}*")))

    def pass_time(self, seconds: float) -> None:
        # Keys are aged, as on Cluster: the real clock on one Redis is what `sesh check`
        # meets in tests/test_cli.py, and tests/test_faults.py.
        age_keys(self.raw, list(self.raw.scan_iter(match=f"{self.kit.prefix}*")), seconds)


class TestRedisStore(_OnRedis, SessionStoreConformance):
    def make_store(self, *, prefix: str, ttl: Ttl, **options: Any) -> RedisStore:
        return RedisStore.from_url(self.url, prefix=prefix, ttl=ttl, **options)


class TestAsyncRedisStore(_OnRedis, AsyncSessionStoreConformance):
    def make_store(self, *, prefix: str, ttl: Ttl, **options: Any) -> AsyncRedisStore:
        return AsyncRedisStore.from_url(self.url, prefix=prefix, ttl=ttl, **options)


class TestRedisStoreOnFakeredis(SessionStoreConformance):
    server: Any = None
    capabilities = CAPABILITIES  # its Lua runs on lupa (fakeredis[lua])

    def make_store(self, *, prefix: str, ttl: Ttl, **options: Any) -> RedisStore:
        if self.server is None:
            self.server = fakeredis.FakeServer()
        client = fakeredis.FakeRedis(server=self.server)
        return RedisStore(client, prefix=prefix, ttl=ttl, **options)

    def _keys(self) -> list[bytes]:
        client = fakeredis.FakeRedis(server=self.server)
        return list(client.scan_iter(match=f"{self.kit.prefix}*"))

    def dump(self, store: Any) -> bytes:
        return dump_keys(fakeredis.FakeRedis(server=self.server), self._keys())

    def pass_time(self, seconds: float) -> None:
        age_keys(fakeredis.FakeRedis(server=self.server), self._keys(), seconds)

    # As _OnRedis's; and with fakeredis 2.41 truncating the expiry GETEX sets to whole
    # seconds (up to 1 s early), a reset can still be told from an add.
    short_ttl = 5.0
