"""Cost per verb as live sessions grow, bytes per session, and memory after mass expiry.

For memory, Redis and SQLite, sessions are added up to each size (1 thousand to 1 million
by default), then ``get`` and ``set`` are timed at that size. Bytes per live session:
``MEMORY USAGE`` of a key on Redis, ``tracemalloc`` for MemoryStore (beyond the user id
string itself), the file size for SQLite. Last, a MemoryStore fills with sessions of a 1 s
ttl; once they have expired, its memory is measured with no call at all, and after one call
that writes a new session.
"""

from __future__ import annotations

import base64
import functools
import gc
import os
import secrets
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import redis

from sesh.backends._memory_reaper import LOOK_AGAIN
from sesh.backends.memory import MemoryStore
from sesh.backends.redis import RedisStore
from sesh.backends.sqlite import SqliteStore
from sesh.testing import FakeClock

REAP_WAIT = 120.0  # the longest reclaim() waits for the reaper to empty the store

TTL = 3600.0


def new_id() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def fill_redis(client: redis.Redis, count: int) -> None:
    with client.pipeline(transaction=False) as pipe:
        for n in range(count):
            pipe.set(f"sesh:{new_id()}", "1337", nx=True, px=int(TTL * 1000))
            if n % 10_000 == 9_999:
                pipe.execute()
        pipe.execute()


def fill_sqlite(path: str, count: int) -> None:
    import sqlite3

    deadline = time.time() + TTL
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO sesh_sessions (key, value, expires_at) VALUES (?, '1337', ?)",
            ((f"sesh:{new_id()}", deadline) for _ in range(count)),
        )


def per_call(call: Callable[[], Any], n: int) -> float:
    """Microseconds per call, best of 3 runs of n."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(n):
            call()
        best = min(best, time.perf_counter() - started)
    return best / n * 1e6


def bench_growth(url: str, directory: str, sizes: list[int], n: int) -> dict[str, list[float]]:
    """backend -> [get µs, set µs] at each size, flattened as size-major pairs."""
    memory = MemoryStore(ttl=TTL)
    client = redis.Redis.from_url(url)
    client.flushdb()
    on_redis = RedisStore(client, ttl=TTL)
    path = os.path.join(directory, "scale.db")
    on_sqlite = SqliteStore(path, ttl=TTL)
    stores: dict[str, Any] = {"memory": memory, "Redis": on_redis, "SQLite": on_sqlite}
    results: dict[str, list[float]] = {name: [] for name in stores}
    have = 0
    for size in sizes:
        add = size - have
        for _ in range(add):
            memory.set(1337)
        fill_redis(client, add)
        fill_sqlite(path, add)
        have = size
        for name, store in stores.items():
            session_id = store.set(1337)
            results[name] += [per_call(functools.partial(store.get, session_id), n),
                              per_call(functools.partial(store.set, 1337), n)]  # fmt: skip
    on_sqlite.close()
    client.flushdb()
    client.close()
    return results


def bytes_per_session(url: str, directory: str, count: int) -> dict[str, float]:
    client = redis.Redis.from_url(url)
    client.flushdb()
    store = RedisStore(client, ttl=TTL)
    ids = [store.set(1337) for _ in range(1000)]
    usage = sum(client.memory_usage(f"sesh:{i}") or 0 for i in ids) / len(ids)
    client.flushdb()
    client.close()

    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    memory = MemoryStore(ttl=TTL, clock=FakeClock())
    for _ in range(count):
        memory.set(1337)
    held = (tracemalloc.get_traced_memory()[0] - base) / count
    tracemalloc.stop()
    user_id = sys.getsizeof(str(1337))  # each session keeps its own str of the user id
    memory.close()

    path = os.path.join(directory, "bytes.db")
    on_sqlite = SqliteStore(path, ttl=TTL)
    fill_sqlite(path, count)
    on_sqlite.close()
    size = sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
    return {
        "Redis (MEMORY USAGE of a key)": usage,
        "MemoryStore (tracemalloc, beyond the user id)": held - user_id,
        "SQLite (file size / sessions)": size / count,
    }


def reclaim(count: int) -> dict[str, float]:
    """MemoryStore's traced memory, as a share of what it held, through a mass expiry: once
    its reaper thread has removed them all with no call made (how long that took, under
    tracemalloc, is reported too), and after one more ``set``."""
    clock = FakeClock()  # filling a million takes longer than their ttl: time stands still
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    store = MemoryStore(ttl=1.0, clock=clock)
    for _ in range(count):
        store.set(1337)
    full = tracemalloc.get_traced_memory()[0] - start
    clock.advance(1.1)
    # No call: the reaper looks at a store on an injected clock at least once a second, and
    # removes what is due in batches. Reaping a million under tracemalloc takes seconds, so
    # a look at a fixed time measured the reaper's progress, not what it gives back.
    expired = time.monotonic()
    sessions = store._sessions
    while sessions._entries and time.monotonic() < expired + REAP_WAIT:
        time.sleep(0.05)
    reaped = time.monotonic() - expired
    time.sleep(LOOK_AGAIN)  # and its copy of the emptied tables
    gc.collect()
    idle = tracemalloc.get_traced_memory()[0] - start
    store.set(1337)  # one write, of another session
    gc.collect()
    after = tracemalloc.get_traced_memory()[0] - start
    tracemalloc.stop()
    return {
        "full (bytes)": full, "reaped in (s)": reaped,
        "expired, no call": idle / full, "after one set": after / full,
    }  # fmt: skip
