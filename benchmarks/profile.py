"""Where a sesh ``get`` spends its time on one sync connection: cProfile over many calls.

Run from the repository root: ``.venv/bin/python -m benchmarks.profile [--calls N]``.
Writes ``benchmarks/results/profile.md``: for a store from ``from_url`` (sesh's own path)
and for one on a caller's redis-py client, how the time of a call splits between sesh,
redis-py, hiredis and the socket, and the functions with the most own time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
from pathlib import Path
from typing import Any

import redis

from sesh.backends.redis import RedisStore
from testbed.servers import RedisServer

_SOCKET = (
    "<method 'recv_into' of '_socket.socket' objects>",
    "<method 'sendall' of '_socket.socket' objects>",
    "<method 'recv' of '_socket.socket' objects>",
)


def _group(filename: str, name: str) -> str:
    if "/sesh/" in filename:
        return "sesh"
    if "/redis/" in filename:
        return "redis-py"
    if name in _SOCKET:
        return "socket (recv/send)"
    if "hiredis" in name:
        return "hiredis"
    return "other"


def profiled(store: Any, calls: int) -> list[str]:
    session_id = store.set(1337)
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(calls):
        store.get(session_id)
    profile.disable()
    stats = pstats.Stats(profile)
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    groups = dict.fromkeys(["sesh", "redis-py", "hiredis", "socket (recv/send)", "other"], 0.0)
    rows = []
    for (filename, line, name), (_, count, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        groups[_group(filename, name)] += own
        rows.append((own, count, f"{Path(filename).name}:{line} {name}"))
    return [
        f"Own time, {total / calls * 1e6:.1f} µs per call under cProfile:",
        "",
        "| where | share |",
        "|---|---:|",
        *(f"| {group} | {own / total:.0%} |" for group, own in groups.items()),
        "",
        "| own time (s) | calls | function |",
        "|---:|---:|---|",
        *(
            f"| {own:.3f} | {count:,} | `{where}` |"
            for own, count, where in sorted(rows)[-12:][::-1]
        ),
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    server = RedisServer()
    server.start()
    try:
        with RedisStore.from_url(server.url, ttl=3600) as own:
            ours = profiled(own, args.calls)
        client = redis.Redis.from_url(server.url)
        theirs = profiled(RedisStore(client, ttl=3600), args.calls)
        client.close()
    finally:
        server.close()
    lines = [
        "# Where a sesh get spends its time (sync, one connection)",
        "",
        f"cProfile over {args.calls:,} calls of `RedisStore.get`; own time per group, as a"
        " share of the total (cProfile's own overhead inflates the Python side).",
        "Reproduce: `.venv/bin/python -m benchmarks.profile`.",
        "",
        "## A store from `from_url`: sesh's own path (hiredis packs and reads)",
        "",
        *ours,
        "## A store on a caller's `redis.Redis` client: redis-py's client path",
        "",
        *theirs,
    ]
    text = "\n".join(lines)
    (Path(__file__).parent / "results" / "profile.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
