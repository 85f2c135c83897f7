"""RedisStore and AsyncRedisStore on Redis Cluster and on Sentinel, against the kit.

Time passes for these stores by ageing their keys (PTTL, then PEXPIRE to what is left),
so the expiry checks are exact and quick; the real clock on Redis is what `sesh check` meets
in tests/test_cli.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.cluster

from sesh._validate import Ttl
from sesh.backends._redis_clients import client_from_url
from sesh.backends.redis import FAILOVER_RETRY_SECONDS, AsyncRedisStore, RedisStore
from sesh.testing import CAPABILITIES, AsyncSessionStoreConformance, Kit, SessionStoreConformance
from testbed.redis_data import age_keys, dump_keys
from testbed.topologies import Cluster, SentinelGroup


@pytest.fixture(scope="module")
def cluster_clients(redis_cluster: Cluster) -> Iterator[tuple[Any, Any]]:
    """A raw client for the tests, and sesh's own client for the sync stores: one each
    for the module, since a cluster client first asks for the slot map of every node."""
    host, port = redis_cluster.url.removeprefix("redis+cluster://").split(",")[0].split(":")
    raw = redis.cluster.RedisCluster(host=host, port=int(port))
    client = client_from_url(redis_cluster.url, asyncio=False)
    yield raw, client
    raw.close()
    client.close()


class _OnCluster:
    kit: Kit
    url: str
    capabilities = CAPABILITIES
    # pass_time ages the keys rather than sleeping, so a long ttl costs no time, and
    # leaves the real time between two calls (a loaded machine, a scan of three nodes)
    # far from the 0.5 s default's margins.
    short_ttl = 5.0

    @pytest.fixture(autouse=True)
    def _cluster(self, redis_cluster: Cluster, cluster_clients: tuple[Any, Any]) -> None:
        self.url = redis_cluster.url
        self.raw, self.client = cluster_clients

    def _keys(self) -> list[bytes]:
        pattern = f"{self.kit.prefix}*"
        primaries = redis.cluster.RedisCluster.PRIMARIES
        return list(self.raw.scan_iter(match=pattern, target_nodes=primaries))

    def pass_time(self, seconds: float) -> None:
        age_keys(self.raw, self._keys(), seconds)

    def dump(self, store: Any) -> bytes:
        return dump_keys(self.raw, self._keys())


@pytest.fixture(scope="module")
def sentinel_client(redis_sentinel: SentinelGroup) -> Iterator[Any]:
    """sesh's own client for the sync stores, one for the module (asking the sentinels
    for the primary once)."""
    client = client_from_url(redis_sentinel.url, asyncio=False)
    yield client
    client.close()


class _OnSentinel:
    kit: Kit
    url: str
    capabilities = CAPABILITIES
    short_ttl = 5.0  # (as _OnCluster's)

    @pytest.fixture(autouse=True)
    def _sentinel(self, redis_sentinel: SentinelGroup) -> Any:
        self.url = redis_sentinel.url
        self.raw = redis.Redis(port=redis_sentinel.current_primary())
        yield
        self.raw.close()

    def pass_time(self, seconds: float) -> None:
        age_keys(self.raw, list(self.raw.scan_iter(match=f"{self.kit.prefix}*")), seconds)

    def dump(self, store: Any) -> bytes:
        return dump_keys(self.raw, list(self.raw.scan_iter(match=f"{self.kit.prefix}*")))


class TestClusterStore(_OnCluster, SessionStoreConformance):
    def make_store(self, *, prefix: str, ttl: Ttl, **options: Any) -> RedisStore:
        return RedisStore(self.client, prefix=prefix, ttl=ttl, **options)


class TestAsyncClusterStore(_OnCluster, AsyncSessionStoreConformance):
    def make_store(self, *, prefix: str, ttl: Ttl, **options: Any) -> AsyncRedisStore:
        return AsyncRedisStore.from_url(self.url, prefix=prefix, ttl=ttl, **options)


class TestSentinelStore(_OnSentinel, SessionStoreConformance):
    @pytest.fixture(autouse=True)
    def _client(self, sentinel_client: Any) -> None:
        self.client = sentinel_client

    def make_store(self, *, prefix: str, ttl: Ttl, **options: Any) -> RedisStore:
        return RedisStore(self.client, prefix=prefix, ttl=ttl, **options)


class TestAsyncSentinelStore(_OnSentinel, AsyncSessionStoreConformance):
    def make_store(self, *, prefix: str, ttl: Ttl, **options: Any) -> AsyncRedisStore:
        return AsyncRedisStore.from_url(self.url, prefix=prefix, ttl=ttl, **options)


def test_replicated_stores_retry_through_failovers_by_default(
    redis_cluster: Cluster, redis_sentinel: SentinelGroup, redis_url: str
) -> None:
    for url in (redis_cluster.url, redis_sentinel.url):
        with RedisStore.from_url(url) as store:
            assert store.retry_for == FAILOVER_RETRY_SECONDS
    with RedisStore.from_url(redis_url) as store:
        assert store.retry_for == 0
    with RedisStore.from_url(redis_url, retry_for=2) as store:
        assert store.retry_for == 2


def pause_every_node(cluster: Cluster, ms: int) -> None:
    for node in cluster.nodes:
        with redis.Redis(port=node.port) as client:
            client.execute_command("CLIENT", "PAUSE", ms, "ALL")


def test_a_cluster_stall_shorter_than_retry_for_is_waited_out(redis_cluster: Cluster) -> None:
    # With every node stalled past the socket timeout, redis-py asks each for the slot map
    # again and gives up: "Redis Cluster cannot be connected". A stall is what retry_for
    # is for, so the call waits it out.
    url = redis_cluster.url + "?socket_timeout=0.1"
    with RedisStore.from_url(url, ttl=60) as store:
        session_id = store.set("alice")
        pause_every_node(redis_cluster, 1500)
        started = time.monotonic()
        assert store.get(session_id) == "alice"
        assert 1.0 < time.monotonic() - started < FAILOVER_RETRY_SECONDS

    async def scenario() -> None:
        async with AsyncRedisStore.from_url(url, ttl=60) as astore:
            async_id = await astore.set("bob")
            pause_every_node(redis_cluster, 1500)
            assert await astore.get(async_id) == "bob"

    asyncio.run(scenario())


def sockets_to(ports: set[int]) -> int:
    """How many TCP connections this process has open to those loopback ports (read from
    /proc: what the process holds, whatever the servers have noticed yet)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    count = 0
    with open("/proc/self/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].split(":")[1], 16)
            if remote_port in ports and fields[9] in inodes and fields[3] == "01":  # ESTABLISHED
                count += 1
    return count


def test_closing_a_sentinel_store_closes_its_connections_to_the_sentinels(
    redis_sentinel: SentinelGroup,
) -> None:
    sentinels = {sentinel.port for sentinel in redis_sentinel.sentinels}
    before = sockets_to(sentinels)
    with RedisStore.from_url(redis_sentinel.url) as store:
        store.set("alice")
        assert sockets_to(sentinels) > before
    assert sockets_to(sentinels) == before

    async def scenario() -> None:
        async with AsyncRedisStore.from_url(redis_sentinel.url) as astore:
            await asyncio.gather(*(astore.set("bob") for _ in range(8)))
            assert sockets_to(sentinels) > before
        assert sockets_to(sentinels) == before

    asyncio.run(scenario())
