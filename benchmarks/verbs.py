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
from collections.abc import Callable
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
Caller = Callable[[Any], Any]
Row = tuple[str, str, float, float, float]


def new_key() -> str:
    return f"{PREFIX}:{base64.b64encode(secrets.token_bytes(32)).decode('ascii')}"


def verb_calls(client: Any, store: Any, session_id: str) -> dict[str, tuple[Caller, Caller]]:
    """For each verb, (raw redis-py call, sesh call); sync or asyncio, as the client is."""
    key = f"{PREFIX}:{session_id}"
    ms = TTL * 1000
    return {
        "set": (lambda _: client.set(new_key(), "1337", nx=True, px=ms), lambda _: store.set(1337)),
        "get": (lambda _: client.get(key), lambda _: store.get(session_id)),
        "get(touch)": (
            lambda _: client.getex(key, px=ms),
            lambda _: store.get(session_id, touch=True),
        ),
        "liv": (lambda _: client.pexpire(key, ms), lambda _: store.liv(session_id)),
        "die": (lambda k: client.delete(k), lambda k: store.die(k.partition(":")[2])),
    }


def time_sync(call: Caller, args: list[Any]) -> float:
    started = time.perf_counter()
    for arg in args:
        call(arg)
    return time.perf_counter() - started


async def time_async(call: Caller, args: list[Any]) -> float:
    started = time.perf_counter()
    for arg in args:
        await call(arg)
    return time.perf_counter() - started


def args_for(verb: str, n: int, client: redis.Redis) -> list[Any]:
    """What each of n calls gets: nothing, or for die a key written just before."""
    if verb != "die":
        return [None] * n
    keys = [new_key() for _ in range(n)]
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.set(key, "1337", px=TTL * 1000)
        pipe.execute()
    return keys


def compare(
    api: str,
    calls: dict[str, tuple[Caller, Caller]],
    timer: Callable[[Caller, list[Any]], float],
    setup: redis.Redis,
    n: int,
    rounds: int,
) -> list[Row]:
    rows = []
    for verb in VERBS:
        raw_call, sesh_call = calls[verb]
        times: dict[str, list[float]] = {"raw": [], "sesh": []}
        for turn in range(rounds):
            sides = [("raw", raw_call), ("sesh", sesh_call)]
            for side, call in sides[:: 1 if turn % 2 else -1]:
                times[side].append(timer(call, args_for(verb, n, setup)))
        ratios = [raw / ours for raw, ours in zip(times["raw"], times["sesh"], strict=True)]
        rows.append(
            (api, verb, n / median(times["raw"]), n / median(times["sesh"]), median(ratios))
        )
    return rows


def bench(url: str, n: int, rounds: int) -> list[Row]:
    client = redis.Redis.from_url(url)
    store = RedisStore(client, prefix=PREFIX, ttl=TTL)
    rows = compare("sync", verb_calls(client, store, store.set(1337)), time_sync, client, n, rounds)

    loop = asyncio.new_event_loop()
    aclient = redis.asyncio.Redis.from_url(url)
    astore = AsyncRedisStore(aclient, prefix=PREFIX, ttl=TTL)
    acalls = verb_calls(aclient, astore, loop.run_until_complete(astore.set(1337)))

    def atimer(call: Caller, args: list[Any]) -> float:
        return loop.run_until_complete(time_async(call, args))

    rows += compare("asyncio", acalls, atimer, client, n, rounds)
    loop.run_until_complete(aclient.aclose())
    loop.close()
    client.flushdb()
    client.close()
    return rows


def report(rows: list[Row], n: int, rounds: int) -> str:
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
