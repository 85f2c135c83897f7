"""sesh's RedisStore against raw redis-py sending the same command, per verb, side by side.

Run from the repository root: ``.venv/bin/python -m benchmarks.verbs [--ops N] [--rounds R]``.
It starts its own redis-server on loopback and times each verb in many short rounds, raw and
sesh taking turns (who goes first alternates). A shared machine is noisy, so the figure that
counts is the median over rounds of sesh's ops/s over raw's in the same round; the median
ops/s of each side are printed beside it. Writes ``benchmarks/results/verbs.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import platform
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from statistics import median
from typing import Any

import redis
import redis.asyncio

from sesh.backends.redis import AsyncRedisStore, RedisStore
from tests.servers import RedisServer

TTL = 3600
PREFIX = "bench"
VERBS = ["set", "get", "get(touch)", "liv", "die"]


def new_key() -> str:
    return f"{PREFIX}:{base64.b64encode(secrets.token_bytes(32)).decode('ascii')}"


def sync_calls(client: redis.Redis, store: RedisStore, n: int) -> dict[str, Any]:
    """For each verb: (raw call, sesh call, argument makers) over n ops."""
    session_id = store.set("1337")
    key = f"{PREFIX}:{session_id}"
    ms = TTL * 1000
    return {
        "set": (
            lambda _: client.set(new_key(), "1337", nx=True, px=ms),
            lambda _: store.set("1337"),
        ),
        "get": (lambda _: client.get(key), lambda _: store.get(session_id)),
        "get(touch)": (
            lambda _: client.getex(key, px=ms),
            lambda _: store.get(session_id, touch=True),
        ),
        "liv": (lambda _: client.pexpire(key, ms), lambda _: store.liv(session_id)),
        "die": (lambda k: client.delete(k), lambda k: store.die(k.partition(":")[2])),
    }


def time_sync(call: Callable[[Any], Any], args: list[Any]) -> float:
    started = time.perf_counter()
    for arg in args:
        call(arg)
    return time.perf_counter() - started


async def time_async(call: Callable[[Any], Awaitable[Any]], args: list[Any]) -> float:
    started = time.perf_counter()
    for arg in args:
        await call(arg)
    return time.perf_counter() - started


def args_for(verb: str, n: int, client: redis.Redis) -> list[Any]:
    if verb != "die":
        return [None] * n
    keys = [new_key() for _ in range(n)]
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.set(key, "1337", px=TTL * 1000)
        pipe.execute()
    return keys


def summarize(times: dict[str, list[float]], n: int) -> tuple[float, float, float]:
    """Median ops/s of raw and sesh, and the median of the per-round ratios."""
    ratios = [raw / ours for raw, ours in zip(times["raw"], times["sesh"], strict=True)]
    return n / median(times["raw"]), n / median(times["sesh"]), median(ratios)


def bench(url: str, n: int, rounds: int) -> list[tuple[str, str, float, float, float]]:
    client = redis.Redis.from_url(url)
    store = RedisStore(client, prefix=PREFIX, ttl=TTL)
    rows = []
    calls = sync_calls(client, store, n)
    for verb in VERBS:
        raw_call, sesh_call = calls[verb]
        times: dict[str, list[float]] = {"raw": [], "sesh": []}
        for turn in range(rounds):
            sides = [("raw", raw_call), ("sesh", sesh_call)]
            for side, call in sides[:: 1 if turn % 2 else -1]:
                times[side].append(time_sync(call, args_for(verb, n, client)))
        rows.append(("sync", verb, *summarize(times, n)))
    rows += asyncio.run(bench_async(url, n, rounds, client))
    client.flushdb()
    client.close()
    return rows


async def bench_async(
    url: str, n: int, rounds: int, sync_client: redis.Redis
) -> list[tuple[str, str, float, float, float]]:
    client = redis.asyncio.Redis.from_url(url)
    store = AsyncRedisStore(client, prefix=PREFIX, ttl=TTL)
    session_id = await store.set("1337")
    key = f"{PREFIX}:{session_id}"
    ms = TTL * 1000
    calls: dict[str, Any] = {
        "set": (
            lambda _: client.set(new_key(), "1337", nx=True, px=ms),
            lambda _: store.set("1337"),
        ),
        "get": (lambda _: client.get(key), lambda _: store.get(session_id)),
        "get(touch)": (
            lambda _: client.getex(key, px=ms),
            lambda _: store.get(session_id, touch=True),
        ),
        "liv": (lambda _: client.pexpire(key, ms), lambda _: store.liv(session_id)),
        "die": (lambda k: client.delete(k), lambda k: store.die(k.partition(":")[2])),
    }
    rows = []
    for verb in VERBS:
        raw_call, sesh_call = calls[verb]
        times: dict[str, list[float]] = {"raw": [], "sesh": []}
        for turn in range(rounds):
            sides = [("raw", raw_call), ("sesh", sesh_call)]
            for side, call in sides[:: 1 if turn % 2 else -1]:
                times[side].append(await time_async(call, args_for(verb, n, sync_client)))
        rows.append(("asyncio", verb, *summarize(times, n)))
    await client.aclose()
    return rows


def report(rows: list[tuple[str, str, float, float, float]], n: int, rounds: int) -> str:
    lines = [
        "# sesh RedisStore against raw redis-py, one connection, loopback",
        "",
        f"redis-py {redis.__version__}, Python {platform.python_version()},"
        f" {rounds} rounds of {n} ops per side; medians.",
        "Reproduce: `.venv/bin/python -m benchmarks.verbs`.",
        "",
        "| API | verb | raw redis-py ops/s | sesh ops/s | sesh / raw |",
        "|---|---|---:|---:|---:|",
    ]
    for api, verb, raw, ours, ratio in rows:
        lines.append(f"| {api} | {verb} | {raw:,.0f} | {ours:,.0f} | {ratio:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=300, help="operations per round")
    parser.add_argument("--rounds", type=int, default=25, help="rounds per side")
    args = parser.parse_args()
    server = RedisServer()
    server.start()
    try:
        rows = bench(server.url, args.ops, args.rounds)
    finally:
        server.close()
    text = report(rows, args.ops, args.rounds)
    out = Path(__file__).parent / "results" / "verbs.md"
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
