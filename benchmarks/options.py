"""What each option costs: every verb with an option on, against the same verb without it.

Run from the repository root: ``.venv/bin/python -m benchmarks.options [--ops N] [--rounds R]``.
For each backend (Redis on a redis-server it starts on loopback, SQLite in a temporary
file, memory) and each option set, the store with the option and a default store take
turns in short rounds (who goes first alternates); the figure is the median over rounds of
the option's ops/s over the default's, with its range. Writes
``benchmarks/results/options.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from statistics import median
from typing import Any

import redis

import sesh
from benchmarks._common import timed
from testbed.servers import RedisServer

TTL = 3600
LAYOUTS: dict[str, dict[str, Any]] = {
    "hash_ids": {"hash_ids": True},
    "max_age": {"max_age": 2 * TTL},
    "track_users": {"track_users": True},
    "all three": {"track_users": True, "max_age": 2 * TTL, "hash_ids": True},
}
Row = tuple[str, str, str, float, float, float, float, float]


def fresh(store: Any, n: int) -> list[str]:
    return [store.set(1337) for _ in range(n)]


def one(store: Any, n: int) -> list[str]:
    return [store.set(1337)] * n


# verb -> (what each call gets, the call)
VERBS: dict[str, tuple[Callable[[Any, int], list[Any]], Callable[[Any, Any], Any]]] = {
    "set": (lambda store, n: [None] * n, lambda store, _: store.set(1337)),
    "get": (one, lambda store, session_id: store.get(session_id)),
    "get(touch)": (one, lambda store, session_id: store.get(session_id, touch=True)),
    "liv": (one, lambda store, session_id: store.liv(session_id)),
    "die": (fresh, lambda store, session_id: store.die(session_id)),
    "rotate": (fresh, lambda store, session_id: store.rotate(session_id)),
}


def run_verb(store: Any, verb: str, n: int) -> float:
    prepare, call = VERBS[verb]
    return timed(lambda arg: call(store, arg), prepare(store, n))


def compare(backend: str, make: Callable[..., Any], n: int, rounds: int) -> list[Row]:
    rows = []
    base = make(prefix="bench-default")
    for layout, options in LAYOUTS.items():
        store = make(prefix=f"bench-{layout.replace(' ', '-')}", **options)
        for verb in VERBS:
            times: dict[str, list[float]] = {"default": [], "option": []}
            for turn in range(rounds):
                sides = [("default", base), ("option", store)]
                for side, which in sides[:: 1 if turn % 2 else -1]:
                    times[side].append(run_verb(which, verb, n))
            ratios = [d / o for d, o in zip(times["default"], times["option"], strict=True)]
            rows.append(
                (
                    backend,
                    layout,
                    verb,
                    n / median(times["default"]),
                    n / median(times["option"]),
                    median(ratios),
                    min(ratios),
                    max(ratios),
                )
            )
        store.close()
    base.close()
    return rows


@contextmanager
def backends(url: str | None = None) -> Iterator[dict[str, Callable[..., Any]]]:
    """Makers of stores on each backend: on the Redis at ``url``, or on one started here."""
    server = None
    if url is None:
        server = RedisServer()
        server.start()
        url = server.url
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "bench.db")
        try:
            yield {
                "Redis": lambda **kw: sesh.from_url(url, ttl=TTL, **kw),
                "SQLite": lambda **kw: sesh.from_url(f"sqlite:///{db}", ttl=TTL, **kw),
                "memory": lambda **kw: sesh.from_url("memory://", ttl=TTL, **kw),
            }
        finally:
            if server is not None:
                server.close()


def report(rows: list[Row], n: int, rounds: int) -> str:
    lines = [
        "# What each option costs, per verb, against the same store without it",
        "",
        f"sesh {sesh.__version__}, redis-py {redis.__version__}, Python"
        f" {platform.python_version()}, {os.cpu_count()} CPUs; Redis on loopback, one"
        f" connection; {rounds} rounds of {n} calls per side.",
        "Ratio: the option's ops/s over the default's in the same round, median (min-max).",
        "Reproduce: `.venv/bin/python -m benchmarks.options`.",
        "",
        "| backend | option | verb | default ops/s | with option ops/s | option / default |",
        "|---|---|---|---:|---:|---:|",
    ]
    for backend, layout, verb, base, ours, ratio, low, high in rows:
        lines.append(
            f"| {backend} | {layout} | {verb} | {base:,.0f} | {ours:,.0f}"
            f" | {ratio:.2f} ({low:.2f}-{high:.2f}) |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=200, help="calls per round")
    parser.add_argument("--rounds", type=int, default=11, help="rounds per side")
    args = parser.parse_args()
    rows: list[Row] = []
    with backends() as makers:
        for backend, make in makers.items():
            rows += compare(backend, make, args.ops, args.rounds)
    text = report(rows, args.ops, args.rounds)
    out = Path(__file__).parent / "results" / "options.md"
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
