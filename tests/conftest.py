"""Shared fixtures: one real Redis for the session (or SESH_REDIS_URL) and one real
PostgreSQL (or SESH_POSTGRES_URL), never a skip."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TypeVar

import pytest

from testbed.postgres import PostgresServer
from testbed.servers import RedisServer
from testbed.topologies import Cluster, SentinelGroup

T = TypeVar("T", Cluster, SentinelGroup)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis the tests may write to: SESH_REDIS_URL, or a redis-server started here."""
    url = os.environ.get("SESH_REDIS_URL")
    if url:
        yield url
    else:
        yield from _own_server()


@pytest.fixture(scope="module")
def private_redis_url() -> Iterator[str]:
    """A redis-server of the module's own, even when SESH_REDIS_URL names a shared one: for
    tests that read server-wide statistics or MONITOR, which another pytest-xdist worker's
    commands on a shared server would disturb."""
    yield from _own_server()


def _own_server() -> Iterator[str]:
    try:
        server = RedisServer()
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server.url
    finally:
        server.close()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[Cluster]:
    """A 3-primary, 3-replica Redis Cluster on loopback, for the whole run."""
    cluster = _started(Cluster())
    yield cluster
    cluster.close()


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[SentinelGroup]:
    """A primary, a replica and 3 sentinels on loopback, for the whole run."""
    group = _started(SentinelGroup())
    yield group
    group.close()


def _started(topology: T) -> T:
    try:
        topology.start()
    except RuntimeError as exc:
        topology.close()
        pytest.fail(str(exc), pytrace=False)
    return topology


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database the tests may write to, as a superuser URL:
    SESH_POSTGRES_URL, or a server started here (one per pytest-xdist worker)."""
    url = os.environ.get("SESH_POSTGRES_URL")
    if url:
        yield url
    else:
        server = _started_postgres()
        try:
            yield server.url
        finally:
            server.close()


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the module's own, for tests that stall, stop or restart it."""
    server = _started_postgres()
    try:
        yield server
    finally:
        server.close()


def _started_postgres() -> PostgresServer:
    try:
        server = PostgresServer()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        server.start()
    except BaseException as exc:
        server.close()  # whatever failed (initdb's timeout too): no server or files left
        if isinstance(exc, RuntimeError):
            pytest.fail(str(exc), pytrace=False)
        raise
    return server
