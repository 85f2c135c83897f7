"""Redis killed or stalled under load: callers get BackendError fast, never a false "no session",
and the same store object recovers by itself. Each test runs a redis-server of its own."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

import sesh
from sesh.backends.redis import AsyncRedisStore, RedisStore
from testbed.servers import RedisServer, free_port
from testbed.verbs import each_verb

STREAM_SECONDS = 10.0  # every stream stops by itself after this


@pytest.fixture
def server() -> Iterator[RedisServer]:
    own = RedisServer("--enable-debug-command", "local")  # DEBUG SLEEP stalls it
    own.start()
    yield own
    own.close()


class Stream(threading.Thread):
    """get of a live session, over and over; counts what callers saw."""

    def __init__(self, store: RedisStore, session_id: str) -> None:
        super().__init__(daemon=True)
        self.store, self.session_id = store, session_id
        self.stop = threading.Event()
        self.seen: Counter[str] = Counter()
        self.longest = 0.0

    def run(self) -> None:
        deadline = time.monotonic() + STREAM_SECONDS
        while not self.stop.is_set() and time.monotonic() < deadline:
            started = time.monotonic()
            try:
                user = self.store.get(self.session_id)
                self.seen["answer" if user == "alice" else f"wrong answer {user!r}"] += 1
            except sesh.BackendError:
                self.seen["BackendError"] += 1
                time.sleep(0.01)
            except Exception as exc:  # anything else is a bug the test reports
                self.seen[type(exc).__name__] += 1
            self.longest = max(self.longest, time.monotonic() - started)


def five_calls(store: Any, session_id: str) -> tuple[float, list[str]]:
    """Five verbs in a row on a dead Redis: how long they took and what each raised."""
    raised = []
    started = time.monotonic()
    for call in each_verb(store, session_id):
        try:
            call()
            raised.append("no error")
        except Exception as exc:
            raised.append(type(exc).__name__)
    return time.monotonic() - started, raised


def test_a_killed_redis_fails_fast_and_the_store_recovers(
    server: RedisServer, record_property: Callable[[str, object], None]
) -> None:
    store = RedisStore.from_url(server.url, ttl=60)
    session_id = store.set("alice")
    stream = Stream(store, session_id)
    stream.start()
    time.sleep(0.3)
    server.kill()
    time.sleep(0.3)
    took, raised = five_calls(store, session_id)
    stream.stop.set()
    stream.join()
    record_property("five_calls_seconds", took)
    record_property("stream", dict(stream.seen))
    assert raised == ["BackendError"] * 5
    assert took < 3.0, "five calls on a dead Redis took too long"
    assert set(stream.seen) == {"answer", "BackendError"}, stream.seen  # never a false None
    assert stream.longest < 1.5

    server.start(port=server.port)  # back on the same port (empty: no persistence)
    new_id = store.set("carol")  # the same object, no action from the caller
    assert store.get(new_id) == "carol"
    store.close()


def test_a_killed_redis_fails_fast_and_recovers_async(server: RedisServer) -> None:
    async def scenario() -> None:
        store = AsyncRedisStore.from_url(server.url, ttl=60)
        session_id = await store.set("alice")
        server.kill()
        started = time.monotonic()
        results = await asyncio.gather(
            *(store.get(session_id) for _ in range(50)), return_exceptions=True
        )
        assert {type(r).__name__ for r in results} == {"BackendError"}
        assert time.monotonic() - started < 3.0
        server.start(port=server.port)
        new_id = await store.set("carol")
        assert await store.get(new_id) == "carol"
        await store.aclose()

    asyncio.run(scenario())


@pytest.mark.parametrize("stall", ["CLIENT PAUSE", "DEBUG SLEEP"])
def test_a_stalled_redis_fails_within_the_timeout_then_recovers(
    server: RedisServer, stall: str, record_property: Callable[[str, object], None]
) -> None:
    store = RedisStore.from_url(server.url, ttl=60)
    session_id = store.set("alice")
    admin = redis.Redis.from_url(server.url)
    if stall == "CLIENT PAUSE":
        admin.execute_command("CLIENT", "PAUSE", 2500, "ALL")
    else:
        threading.Thread(target=admin.execute_command, args=("DEBUG", "SLEEP", 2.5)).start()
        time.sleep(0.1)
    started = time.monotonic()
    with pytest.raises(sesh.BackendError) as caught:
        store.get(session_id)
    waited = time.monotonic() - started
    record_property("seconds_to_backend_error", waited)
    assert 0.9 < waited < 1.8  # from_url's 1 s socket timeout, once
    assert isinstance(caught.value.__cause__, redis.TimeoutError)
    time.sleep(2.0)  # the stall ends
    assert store.get(session_id) == "alice"
    store.close()
    admin.close()


def test_dead_sentinels_fail_fast_without_failover_retry() -> None:
    url = f"redis+sentinel://127.0.0.1:{free_port()},127.0.0.1:{free_port()}/svc"
    with sesh.from_url(url, ttl=60, retry_for=0) as store:
        took, raised = five_calls(store, "A" * 42 + "A=")
    assert raised == ["BackendError"] * 5
    assert took < 3.0, "each call waited on redis-py's retries to each sentinel"
