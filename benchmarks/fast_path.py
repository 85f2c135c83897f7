"""sesh's own Redis path against raw redis-py, by the method issue 16 sets.

``.venv/bin/python -m benchmarks.fast_path [--quick] [--out DIR]`` writes ``fast_path.md``
(and ``fast_path.png`` with the ``charts`` extra). It starts its own redis-server pinned to
core 0 and runs the client on core 1 (where ``os.sched_setaffinity`` allows), then:

- sync: each verb on a store from ``sesh.from_url`` against ``redis.Redis.from_url``
  sending the very command sesh sends (``execute_command``), on one thread (rotate,
  sessions and die_all on a store with ``track_users``: the same EVALSHA);
- asyncio: ``get`` from 1 to 256 tasks on one store from ``sesh.async_from_url`` against
  one ``redis.asyncio.Redis.from_url`` client (its default pool, with room for 256
  connections), and against ``redis-benchmark -c N`` (the server's ceiling here).

Contenders alternate in interleaved rounds (who goes first rotates). Reported: the median
of the per-round ratios with its interquartile range (and that range's half-width as a
share of the median), ops/s, and client CPU per call (process time), which a shared
machine disturbs far less than wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median, quantiles
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster

import sesh
from benchmarks import charts
from benchmarks._common import header
from benchmarks.concurrency import redis_benchmark
from benchmarks.floor import new_id
from sesh.backends.redis import RedisStore
from testbed.servers import RedisServer
from testbed.topologies import Cluster

TTL_MS = 3_600_000
# Rounds of a few tenths of a second each: shorter ones let a moment's load elsewhere on a
# shared machine decide a whole round (rounds of 3,000 calls had interquartile ranges up
# to ±25% of the median).
FULL = {"n": 10000, "rounds": 9, "async_n": 40000}
QUICK = {"n": 50, "rounds": 3, "async_n": 512}
LEVELS = [1, 16, 64, 256]


def pin(*servers: RedisServer) -> str:
    """The servers on core 0, this process on core 1: what the run could do."""
    if not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2:
        return "not pinned (one core, or no sched_setaffinity)"
    for server in servers:
        assert server.process is not None
        os.sched_setaffinity(server.process.pid, {0})
    os.sched_setaffinity(0, {1})
    return "redis-server pinned to core 0, the client to core 1"


class Sample:
    """One contender's rounds: ops/s and CPU µs per call."""

    def __init__(self) -> None:
        self.rates: list[float] = []
        self.cpu: list[float] = []

    def add(self, calls: int, wall: float, cpu: float) -> None:
        self.rates.append(calls / wall)
        self.cpu.append(cpu / calls * 1e6)


Ready = Callable[[int], Callable[[], int]]
"""Makes what a slice of so many calls needs, untimed; returns the run to time."""


def measured(run: Callable[[], int]) -> tuple[int, float, float]:
    """Calls made by ``run``, its wall seconds and the client's CPU seconds."""
    cpu, wall = time.process_time(), time.perf_counter()
    calls = run()
    return calls, time.perf_counter() - wall, time.process_time() - cpu


def summary(ours: Sample, base: Sample) -> dict[str, float]:
    per_round = [a / b for a, b in zip(ours.rates, base.rates, strict=True)]
    q1, _, q3 = quantiles(per_round, n=4) if len(per_round) > 1 else per_round * 3
    mid = median(per_round)
    return {
        "ratio": mid, "q1": q1, "q3": q3, "spread": (q3 - q1) / 2 / mid,
        "ours": median(ours.rates), "base": median(base.rates),
        "ours_cpu": median(ours.cpu), "base_cpu": median(base.cpu),
        "low": min(per_round), "high": max(per_round),
    }  # fmt: skip


def bench_sync(url: str, n: int, rounds: int) -> dict[str, dict[str, float]]:
    store = sesh.from_url(url, prefix="bench", ttl=TTL_MS / 1000)
    raw = redis.Redis.from_url(url)
    one = store.set("1337")
    key = f"bench:{one}"

    # The verbs that are scripts (EVALSHA), on a store with track_users: each user of
    # die_all has one session, and "listed" three.
    tracked: Any = RedisStore.from_url(url, prefix="bench", ttl=TTL_MS / 1000, track_users=True)
    for _ in range(3):
        tracked.set("listed")
    counter = iter(range(10**9))

    def fresh(count: int) -> list[str]:
        return [store.set("1337") for _ in range(count)]

    def fresh_tracked(count: int) -> list[str]:
        return [tracked.set("1337") for _ in range(count)]

    def fresh_users(count: int) -> list[str]:
        users = [f"user-{next(counter)}" for _ in range(count)]
        for user in users:
            tracked.set(user)
        return users

    def rotated(session_id: str) -> tuple[Any, ...]:
        op = next(tracked._core.rotate_flow(session_id, True))  # the Rotate sesh sends
        command: tuple[Any, ...] = tracked._command(op)
        return command

    # Per verb: sesh's call on an argument, and the command sesh sends for that argument.
    Made = Callable[[int], list[str]] | None
    verbs: dict[str, tuple[Callable[[str], Any], Callable[[str], tuple[Any, ...]], Made]] = {
        "set": (lambda _: store.set("1337"),
                lambda _: ("SET", f"bench:{new_id()}", "1337", "NX", "PX", TTL_MS), None),
        "get": (lambda _: store.get(one), lambda _: ("GET", key), None),
        "get(touch)": (lambda _: store.get(one, touch=True),
                       lambda _: ("GETEX", key, "PX", TTL_MS), None),
        "liv": (lambda _: store.liv(one), lambda _: ("PEXPIRE", key, TTL_MS), None),
        "die": (store.die, lambda i: ("DEL", f"bench:{i}"), fresh),
        "rotate": (tracked.rotate, rotated, fresh_tracked),
        "sessions": (lambda _: tracked.sessions("listed"),
                     lambda _: tracked._command(tracked._core.list_user_op("listed")), None),
        "die_all": (tracked.die_all,
                    lambda u: tracked._command(tracked._core.delete_user_op(u)), fresh_users),
    }  # fmt: skip
    found = {}
    for verb, (ours, command, made) in verbs.items():

        def run_sesh(args: list[str], ours: Callable[[str], Any] = ours) -> int:
            for arg in args:
                ours(arg)
            return len(args)

        def run_raw(commands: list[tuple[Any, ...]]) -> int:
            for cmd in commands:
                raw.execute_command(*cmd)
            return len(commands)

        # What each contender's round needs (fresh sessions, the commands) is made
        # before its clock starts.
        def ready_sesh(size: int, made: Made = made, run: Any = run_sesh) -> Callable[[], int]:
            return functools.partial(run, made(size) if made is not None else [""] * size)

        def ready_raw(size: int, made: Made = made, command: Any = command) -> Callable[[], int]:
            args = made(size) if made is not None else [""] * size
            return functools.partial(run_raw, [command(arg) for arg in args])

        found[verb] = side_by_side({"sesh": ready_sesh, "raw": ready_raw}, rounds, n)
    store.close()
    tracked.close()
    raw.flushdb()
    raw.close()
    return found


def bench_async(url: str, port: int, n: int, rounds: int) -> dict[int, dict[str, float]]:
    loop = asyncio.new_event_loop()
    store = sesh.async_from_url(url, prefix="bench", ttl=TTL_MS / 1000)
    raw = redis.asyncio.Redis.from_url(url, max_connections=max(LEVELS))
    one = loop.run_until_complete(store.set("1337"))
    key = f"bench:{one}"

    found = {}
    for tasks in LEVELS:
        calls = {"sesh": lambda: store.get(one), "raw": lambda: raw.get(key)}
        found[tasks] = _concurrently(loop, calls, tasks, n, rounds)
        found[tasks]["redis-benchmark"] = redis_benchmark(port, tasks, n * 4)
    loop.run_until_complete(store.aclose())
    loop.run_until_complete(raw.aclose())
    loop.close()
    return found


def bench_cluster(n: int, async_n: int, rounds: int) -> dict[str, dict[str, float]]:
    """``get`` on a Cluster (3 primaries, 3 replicas) by a store from ``from_url`` against
    redis-py's cluster client, sync on one thread and asyncio from 64 tasks."""
    cluster = Cluster()
    cluster.start()
    try:
        pin(*cluster.nodes)
        store = sesh.from_url(cluster.url, prefix="bench", ttl=TTL_MS / 1000)
        port = cluster.nodes[0].port
        raw = redis.cluster.RedisCluster(host="127.0.0.1", port=port)
        one = store.set("1337")
        key = f"bench:{one}"
        found = {}
        calls = {"sesh": lambda: store.get(one), "raw": lambda: raw.get(key)}
        found["sync get, one thread"] = side_by_side(
            {name: functools.partial(functools.partial, _repeat, call)
             for name, call in calls.items()},
            rounds,
            n,
        )  # fmt: skip
        store.close()
        raw.close()
        found["asyncio get, 64 tasks"] = _cluster_async(cluster.url, port, one, async_n, rounds)
    finally:
        cluster.close()
    return found


async def _many(call: Callable[[], Any], tasks: int, total: int) -> int:
    """``total`` calls (rounded down to a multiple of ``tasks``) from ``tasks`` tasks."""
    each = max(1, total // tasks)

    async def worker() -> None:
        for _ in range(each):
            await call()

    await asyncio.gather(*(worker() for _ in range(tasks)))
    return each * tasks


def _repeat(call: Callable[[], Any], n: int) -> int:
    for _ in range(n):
        call()
    return n


def _cluster_async(url: str, port: int, one: str, n: int, rounds: int) -> dict[str, float]:
    loop = asyncio.new_event_loop()
    store = sesh.async_from_url(url, prefix="bench", ttl=TTL_MS / 1000)
    raw = redis.asyncio.cluster.RedisCluster(host="127.0.0.1", port=port)
    # Its map read before 64 tasks call at once: redis-py 8.1's asyncio cluster client
    # fails commands that race its lazy initialize() (see AsyncRedisStore._attach).
    loop.run_until_complete(raw.initialize())
    key = f"bench:{one}"

    calls = {"sesh": lambda: store.get(one), "raw": lambda: raw.get(key)}
    found = _concurrently(loop, calls, 64, n, rounds)
    loop.run_until_complete(store.aclose())
    loop.run_until_complete(raw.aclose())
    loop.close()
    return found


SLICES = 8
"""A round is this many slices per contender, taking turns: sesh, raw, raw, sesh, ..."""


def side_by_side(ready: dict[str, Ready], rounds: int, n: int) -> dict[str, float]:
    """ "sesh" against "raw" in interleaved rounds of ``n`` calls each. A round takes turns
    in ``SLICES`` slices (who goes first alternates), so that a change in the machine's
    load lands on both alike, and its ratio is of the two totals. ``ready[name](calls)``
    makes what a slice needs, untimed, and returns the run to time (calls it made)."""
    samples = {name: Sample() for name in ready}
    size = max(1, n // SLICES)
    for turn in range(rounds):
        totals = {name: [0.0, 0.0, 0.0] for name in ready}  # calls, wall, CPU
        for part in range(SLICES):
            for name in ["sesh", "raw"] if (turn + part) % 2 == 0 else ["raw", "sesh"]:
                calls, wall, cpu = measured(ready[name](size))
                total = totals[name]
                total[0] += calls
                total[1] += wall
                total[2] += cpu
        for name, (made, took, used) in totals.items():
            samples[name].add(int(made), took, used)
    return summary(samples["sesh"], samples["raw"])


def _concurrently(
    loop: asyncio.AbstractEventLoop,
    calls: dict[str, Callable[[], Any]],
    tasks: int,
    n: int,
    rounds: int,
) -> dict[str, float]:
    """``side_by_side`` for asyncio calls from ``tasks`` tasks at once."""
    for call in calls.values():  # connections up before the clock starts
        loop.run_until_complete(_many(call, tasks, tasks))
    return side_by_side(
        {name: functools.partial(functools.partial, _complete, loop, _many, call, tasks)
         for name, call in calls.items()},
        rounds,
        n,
    )  # fmt: skip


def _complete(loop: asyncio.AbstractEventLoop, many: Any, call: Any, tasks: int, total: int) -> int:
    return loop.run_until_complete(many(call, tasks, total))  # type: ignore[no-any-return]


def _cell(r: dict[str, float]) -> str:
    return f"{r['ratio']:.2f} ({r['q1']:.2f}-{r['q3']:.2f}, ±{r['spread']:.0%})"


def report(sizes: dict[str, int], out: Path) -> str:
    server = RedisServer()
    server.start()
    try:
        pinned = pin(server)
        started = time.monotonic()
        sync = bench_sync(server.url, sizes["n"], sizes["rounds"])
        concurrent = bench_async(server.url, server.port, sizes["async_n"], sizes["rounds"])
    finally:
        server.close()
    on_cluster = bench_cluster(sizes["n"], sizes["async_n"], sizes["rounds"])
    lines = header("sesh's own Redis path against raw redis-py")
    lines += [
        f"{pinned}. {sizes['rounds']} rounds; sync rounds of {sizes['n']:,} calls per"
        f" contender, asyncio rounds of {sizes['async_n']:,}, each taken in {SLICES} slices"
        " that alternate (sesh, raw, raw, sesh, ...), so a change in the machine's load"
        " lands on both alike; a round's ratio is of the two totals. Each"
        " ratio: the median of the per-round ratios of ops/s (above 1: sesh faster), the"
        " interquartile range in brackets with its half-width as a share of the median;"
        " full range under it. CPU: the client's process time per call (median of rounds).",
        "Reproduce: `.venv/bin/python -m benchmarks.fast_path`.",
        "",
        "## Sync: a store from `sesh.from_url` against `redis.Redis.from_url` sending the"
        " same command (one thread)",
        "",
        "| verb | sesh / raw (IQR, ±) | full range | sesh ops/s | raw ops/s |"
        " client CPU µs/call: sesh, raw |",
        "|---|---|---|---|---|---|",
    ]
    for verb, r in sync.items():
        lines.append(
            f"| {verb} | {_cell(r)} | {r['low']:.2f}-{r['high']:.2f} | {r['ours']:,.0f} |"
            f" {r['base']:,.0f} | {r['ours_cpu']:.1f}, {r['base_cpu']:.1f} |"
        )
    lines += [
        "",
        "## asyncio: `get` from N tasks on one store from `sesh.async_from_url` against one"
        " `redis.asyncio.Redis.from_url` client (its pool, room for 256 connections)",
        "",
        "| tasks | sesh / raw (IQR, ±) | full range | sesh gets/s | raw gets/s |"
        " client CPU µs/call: sesh, raw | redis-benchmark -c N gets/s | sesh / redis-benchmark |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for tasks, r in concurrent.items():
        lines.append(
            f"| {tasks} | {_cell(r)} | {r['low']:.2f}-{r['high']:.2f} | {r['ours']:,.0f} |"
            f" {r['base']:,.0f} | {r['ours_cpu']:.1f}, {r['base_cpu']:.1f} |"
            f" {r['redis-benchmark']:,.0f} | {r['ours'] / r['redis-benchmark']:.2f} |"
        )
    lines += [
        "",
        "## Redis Cluster: `get` by a store from `sesh.from_url` (each command to its slot's"
        " node) against redis-py's `RedisCluster` (3 primaries with a replica each, all on"
        " core 0)",
        "",
        "| what | sesh / raw (IQR, ±) | full range | sesh gets/s | raw gets/s |"
        " client CPU µs/call: sesh, raw |",
        "|---|---|---|---|---|---|",
    ]
    for what, r in on_cluster.items():
        lines.append(
            f"| {what} | {_cell(r)} | {r['low']:.2f}-{r['high']:.2f} | {r['ours']:,.0f} |"
            f" {r['base']:,.0f} | {r['ours_cpu']:.1f}, {r['base_cpu']:.1f} |"
        )
    lines += ["", f"The run took {time.monotonic() - started:.0f} s.", ""]
    if charts.available():
        _chart(out, sync, concurrent)
        lines += ["![fast path](fast_path.png)", ""]
    return "\n".join(lines)


def _chart(out: Path, sync: dict[str, Any], concurrent: dict[int, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, title, groups in (
        (axes[0], "sync, per verb", {k: v for k, v in sync.items()}),
        (axes[1], "asyncio get, per task count", {str(k): v for k, v in concurrent.items()}),
    ):
        names = list(groups)
        mids = [groups[k]["ratio"] for k in names]
        below = [groups[k]["ratio"] - groups[k]["low"] for k in names]
        above = [groups[k]["high"] - groups[k]["ratio"] for k in names]
        ax.bar(names, mids, yerr=[below, above], capsize=4, color="#4c72b0")
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_title(title)
        ax.set_ylabel("sesh / raw redis-py (bars: full range)")
    fig.tight_layout()
    fig.savefig(out / "fast_path.png", dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check, not measure")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    text = report(QUICK if args.quick else FULL, args.out)
    (args.out / "fast_path.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
