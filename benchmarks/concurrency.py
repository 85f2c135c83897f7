"""AsyncRedisStore under concurrency: 1 to 256 tasks on one client, against raw
redis.asyncio at the same concurrency, and against redis-benchmark with as many connections
(the server's own ceiling on this machine)."""

from __future__ import annotations

import asyncio
import csv
import functools
import io
import subprocess
import time
from typing import Any

import redis.asyncio

from benchmarks._common import Ratio, Runner, interleave, ratio
from sesh.backends.redis import AsyncRedisStore

LEVELS = [1, 16, 64, 256]


def redis_benchmark(port: int, connections: int, requests: int) -> float:
    """GETs per second that redis-benchmark reaches with this many connections."""
    out = subprocess.run(
        ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(connections),
         "-n", str(requests), "-t", "get", "--csv"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    rows = [row for row in csv.reader(io.StringIO(out)) if row and row[0] == "GET"]
    return float(rows[0][1])


def bench(url: str, port: int, n: int, rounds: int) -> list[tuple[int, Ratio, float]]:
    """Per level: sesh against raw (gets/s, per-round ratio), and redis-benchmark's gets/s."""
    loop = asyncio.new_event_loop()
    client = redis.asyncio.Redis.from_url(url, max_connections=max(LEVELS))
    store = AsyncRedisStore.from_url(url, prefix="bench", ttl=3600)  # what an app gets
    session_id = loop.run_until_complete(store.set(1337))
    key = f"bench:{session_id}"

    async def many(call: Any, tasks: int, total: int) -> float:
        each = max(1, total // tasks)

        async def worker() -> None:
            for _ in range(each):
                await call()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(tasks)))
        return (time.perf_counter() - started) * total / (each * tasks)

    rows = []
    for tasks in LEVELS:
        runners: dict[str, Runner] = {
            "raw": functools.partial(_in_loop, loop, many, lambda: client.get(key), tasks),
            "sesh": functools.partial(_in_loop, loop, many, lambda: store.get(session_id), tasks),
        }
        loop.run_until_complete(many(lambda: client.get(key), tasks, tasks))  # connections up
        rates = interleave(runners, n, rounds)
        rows.append((tasks, ratio(rates, "sesh", "raw"), redis_benchmark(port, tasks, n * 10)))
    loop.run_until_complete(client.aclose())
    loop.close()
    return rows


def _in_loop(
    loop: asyncio.AbstractEventLoop, many: Any, call: Any, tasks: int, count: int
) -> float:
    """``count`` calls from ``tasks`` tasks at once, run to completion in ``loop``."""
    return loop.run_until_complete(many(call, tasks, count))  # type: ignore[no-any-return]
