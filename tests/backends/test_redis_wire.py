"""What RedisStore puts on the wire: one command per verb, redis-sesh's layout, typed errors."""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio

import sesh
from sesh.backends.redis import AsyncRedisStore, RedisStore
from sesh.testing._harness import StoreView
from testbed.servers import RedisServer, free_port
from testbed.verbs import each_verb


@pytest.fixture(scope="module")
def redis_url(private_redis_url: str) -> str:
    """This module counts commands on the server (statistics, MONITOR): a server of its own."""
    return private_redis_url


def commands_seen(raw: redis.Redis) -> dict[str, int]:
    stats: dict[str, Any] = raw.info("commandstats")
    seen = {name.removeprefix("cmdstat_"): int(s["calls"]) for name, s in stats.items()}
    return {name: calls for name, calls in seen.items() if name not in ("info", "config|resetstat")}


def redis_sesh_id() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def run_verbs(store: Any, n: int) -> list[str]:
    ids = [store.set(f"user-{i}") for i in range(n)]
    for session_id in ids:
        store.get(session_id)
        store.get(session_id, touch=True)
        store.liv(session_id)
    for session_id in ids:
        store.die(session_id)
    return ids


@pytest.fixture(params=["sync", "async"])
def make_store(request: pytest.FixtureRequest, redis_url: str, prefix: str) -> Iterator[Any]:
    loop = asyncio.new_event_loop()
    made: list[Any] = []

    def make(ttl: float | None) -> Any:
        if request.param == "sync":
            store: Any = RedisStore.from_url(redis_url, prefix=prefix, ttl=ttl)
        else:
            async_store = AsyncRedisStore.from_url(redis_url, prefix=prefix, ttl=ttl)
            store = StoreView(async_store, loop.run_until_complete)
        made.append(store)
        return store

    yield make
    for store in made:
        if isinstance(store, RedisStore):
            store.close()
        else:
            loop.run_until_complete(store.store.aclose())
    loop.close()


@pytest.mark.parametrize(
    ("ttl", "expected"),
    [
        (60, {"set": 10, "get": 10, "getex": 10, "pexpire": 10, "del": 10}),
        (None, {"set": 10, "get": 20, "exists": 10, "del": 10}),
    ],
)
def test_each_verb_is_one_command(
    make_store: Any, raw: redis.Redis, ttl: float | None, expected: dict[str, int]
) -> None:
    store = make_store(ttl)
    store.die(redis_sesh_id())  # connect first: the handshake is not a verb's cost
    raw.config_resetstat()
    run_verbs(store, 10)
    assert commands_seen(raw) == expected


def test_malformed_ids_send_nothing(make_store: Any, raw: redis.Redis) -> None:
    store = make_store(60)
    store.die(redis_sesh_id())
    raw.config_resetstat()
    for bad in ["", "nope", "x" * 10_000_000, "*" * 43 + "=", redis_sesh_id()[:-1]]:
        assert store.get(bad) is None
        assert store.get(bad, touch=True) is None
        assert store.liv(bad) is False
        assert store.die(bad) is False
    assert commands_seen(raw) == {}


def test_sesh_reads_refreshes_and_kills_what_redis_sesh_wrote(
    raw: redis.Redis, prefix: str
) -> None:
    # redis-sesh 1.0: SETNX <prefix>:<id> <userId>, then EXPIRE <ttl in seconds>.
    session_id = redis_sesh_id()
    key = f"{prefix}:{session_id}"
    assert raw.setnx(key, "1337")
    raw.expire(key, 30)
    with RedisStore(raw, prefix=prefix, ttl=60) as store:
        assert store.get(session_id) == "1337"
        assert store.liv(session_id) is True
        assert 59_000 < raw.pttl(key) <= 60_000
        assert store.die(session_id) is True
    assert raw.exists(key) == 0


def test_redis_sesh_reads_refreshes_and_kills_what_sesh_wrote(
    raw: redis.Redis, prefix: str
) -> None:
    with RedisStore(raw, prefix=prefix, ttl=60) as store:
        session_id = store.set(1337)
    key = f"{prefix}:{session_id}"
    assert raw.get(key) == b"1337"  # redis-sesh's get: GET, the plain user id
    assert 59_000 < raw.pttl(key) <= 60_000
    assert raw.expire(key, 60)  # redis-sesh's liv: EXPIRE
    assert raw.delete(key) == 1  # redis-sesh's die: DEL


def test_no_ttl_writes_a_key_that_never_expires(raw: redis.Redis, prefix: str) -> None:
    store = RedisStore(raw, prefix=prefix)
    session_id = store.set("alice")
    assert raw.pttl(f"{prefix}:{session_id}") == -1
    assert store.get(session_id, touch=True) == "alice"
    assert raw.pttl(f"{prefix}:{session_id}") == -1
    store.die(session_id)


def test_a_client_that_decodes_responses_works(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    store = RedisStore(client, prefix=prefix, ttl=60)
    session_id = store.set("Zoë")
    assert store.get(session_id) == "Zoë"
    assert store.get(session_id, touch=True) == "Zoë"
    assert store.die(session_id) is True
    client.close()


def test_a_key_of_another_type_is_a_backend_error_not_no_session(
    raw: redis.Redis, prefix: str
) -> None:
    session_id = redis_sesh_id()
    raw.rpush(f"{prefix}:{session_id}", "x")
    store = RedisStore(raw, prefix=prefix, ttl=60)
    with pytest.raises(sesh.BackendError, match="WRONGTYPE") as caught:
        store.get(session_id)
    assert isinstance(caught.value.__cause__, redis.ResponseError)
    assert session_id not in str(caught.value)
    raw.delete(f"{prefix}:{session_id}")


def test_a_stored_value_that_is_not_utf8_is_a_backend_error(raw: redis.Redis, prefix: str) -> None:
    session_id = redis_sesh_id()
    raw.set(f"{prefix}:{session_id}", b"\xff\xfe")
    with pytest.raises(sesh.BackendError, match="UTF-8"):
        RedisStore(raw, prefix=prefix).get(session_id)
    raw.delete(f"{prefix}:{session_id}")


def test_an_unreachable_redis_raises_backend_error_on_every_verb() -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    with sesh.from_url(url, ttl=60) as store:
        session_id = redis_sesh_id()
        for call in each_verb(store, session_id):
            with pytest.raises(sesh.BackendError) as caught:
                call()
            assert isinstance(caught.value.__cause__, redis.ConnectionError)
            assert "hunter2" not in str(caught.value)
            assert session_id not in str(caught.value)
        # A malformed id is no session without asking the (dead) backend.
        assert store.get("not-a-session") is None
    assert "hunter2" not in repr(store)


def test_an_unreachable_redis_raises_backend_error_async() -> None:
    async def scenario() -> None:
        async with sesh.async_from_url(f"redis://127.0.0.1:{free_port()}/0") as store:
            with pytest.raises(sesh.BackendError):
                await store.get(redis_sesh_id())
            with pytest.raises(sesh.BackendError):
                await store.set("alice")

    asyncio.run(scenario())


def test_the_store_recovers_by_itself_after_redis_restarts() -> None:
    server = RedisServer()
    server.start()
    try:
        store = RedisStore.from_url(server.url, ttl=60)
        store.set("alice")
        server.stop()
        server.start(port=server.port)
        # The pooled connection died with the old server; the caller sees no error.
        assert store.get(store.set("bob")) == "bob"
        server.stop()
        with pytest.raises(sesh.BackendError):
            store.set("carol")
        server.start(port=server.port)
        assert store.get(store.set("dave")) == "dave"
        store.close()
    finally:
        server.close()


def test_close_leaves_a_callers_client_open(raw: redis.Redis, prefix: str) -> None:
    store = RedisStore(raw, prefix=prefix)
    store.close()
    assert raw.ping()


@pytest.mark.parametrize(
    ("store_class", "client", "hint"),
    [
        (RedisStore, redis.asyncio.Redis(), "AsyncRedisStore"),
        (AsyncRedisStore, redis.Redis(), "RedisStore"),
        (RedisStore, "redis://localhost", "AsyncRedisStore"),
    ],
)
def test_the_wrong_client_is_a_type_error(store_class: Any, client: Any, hint: str) -> None:
    with pytest.raises(TypeError, match=hint):
        store_class(client)


def test_a_stalled_redis_fails_within_the_socket_timeout() -> None:
    server = RedisServer()
    server.start()
    try:
        store = RedisStore.from_url(server.url, ttl=60)
        session_id = store.set("alice")
        admin = redis.Redis.from_url(server.url)
        admin.execute_command("CLIENT", "PAUSE", 3000, "ALL")
        started = time.monotonic()
        with pytest.raises(sesh.BackendError, match="Timeout") as caught:
            store.get(session_id)
        waited = time.monotonic() - started
        assert isinstance(caught.value.__cause__, redis.TimeoutError)
        assert 0.9 < waited < 1.8, "from_url's 1 s socket timeout was not applied once"
        admin.close()
        store.close()
    finally:
        server.close()
