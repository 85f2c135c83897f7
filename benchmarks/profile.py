"""Where a sesh ``get`` spends its time on one sync connection: cProfile over many calls.

Run from the repository root: ``.venv/bin/python -m benchmarks.profile [--calls N]``.
Writes ``benchmarks/results/profile.md``: the functions with the most own time, and how the
time of one call splits between sesh, redis-py and the socket.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
from pathlib import Path

import redis

from sesh.backends.redis import RedisStore
from testbed.servers import RedisServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    server = RedisServer()
    server.start()
    try:
        store = RedisStore(redis.Redis.from_url(server.url), ttl=3600)
        session_id = store.set(1337)
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.calls):
            store.get(session_id)
        profile.disable()
    finally:
        server.close()
    stats = pstats.Stats(profile)
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    groups = {"sesh": 0.0, "redis-py": 0.0, "socket (recv/send)": 0.0, "other": 0.0}
    rows = []
    for (filename, line, name), (_, calls, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        if "/sesh/" in filename:
            group = "sesh"
        elif "/redis/" in filename:
            group = "redis-py"
        elif name in ("<method 'recv_into' of '_socket.socket' objects>",
                      "<method 'sendall' of '_socket.socket' objects>",
                      "<method 'recv' of '_socket.socket' objects>"):  # fmt: skip
            group = "socket (recv/send)"
        else:
            group = "other"
        groups[group] += own
        rows.append((own, calls, f"{Path(filename).name}:{line} {name}"))
    lines = [
        "# Where a sesh get spends its time (sync, one connection, hiredis if installed)",
        "",
        f"cProfile over {args.calls:,} calls of `RedisStore.get`; own time per group, as a"
        " share of the total (cProfile's own overhead inflates the Python side).",
        "Reproduce: `.venv/bin/python -m benchmarks.profile`.",
        "",
        "| where | share |",
        "|---|---:|",
        *(f"| {group} | {own / total:.0%} |" for group, own in groups.items()),
        "",
        "| own time (s) | calls | function |",
        "|---:|---:|---|",
        *(
            f"| {own:.3f} | {calls:,} | `{where}` |"
            for own, calls, where in sorted(rows)[-15:][::-1]
        ),
        "",
    ]
    text = "\n".join(lines)
    (Path(__file__).parent / "results" / "profile.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
