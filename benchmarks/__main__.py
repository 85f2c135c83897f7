"""Every benchmark in one run: ``.venv/bin/python -m benchmarks [--quick] [--out DIR]``.

Starts its own redis-server on loopback (and stops it), runs each comparison in
interleaved rounds, and writes ``README.md`` (the tables) and PNG charts to
``benchmarks/results/``. Needs the ``bench`` extra, and ``charts`` for the charts:
``pip install -e '.[bench,charts]'``.
``--quick`` runs every section with tiny sizes, to check that the harness works (CI does);
its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import _django, charts, concurrency, floor, local, options, peers, scale
from benchmarks._common import header
from testbed.servers import RedisServer

NO_CHARTS = "No charts: matplotlib is missing (`pip install -e '.[charts]'`)."
FULL = {"n": 300, "rounds": 11, "sizes": [1_000, 10_000, 100_000, 1_000_000], "many": 1_000_000}
QUICK = {"n": 20, "rounds": 2, "sizes": [1_000, 2_000], "many": 5_000}


def table(head: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def run(out: Path, sizes: dict[str, Any]) -> str:
    n, rounds = sizes["n"], sizes["rounds"]
    lines = header("sesh benchmarks")
    lines += [
        f"Each figure is the median over {rounds} interleaved rounds of a per-round ratio"
        " (range in brackets): above 1, sesh is faster. ops/s are medians, for context.",
        "Reproduce: `.venv/bin/python -m benchmarks` (with the `bench` extra installed).",
        "",
    ]
    server = RedisServer()
    server.start()
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            _django.configure(server.url, f"{tmp}/django.db")
            data: dict[str, Any] = {}
            data["floor"] = floor.bench_sync(server.url, server.port, n, rounds)
            data["floor"] += floor.bench_async(server.url, n, rounds)
            lines += ["## sesh against raw redis-py and a bare socket (one connection)", ""]
            lines += table(
                ["client, parser", "verb", "sesh ops/s", "sesh / raw redis-py", "sesh / socket",
                 "lean Connection / raw redis-py"],
                [
                    [api, verb, f"{r['raw'].ours:,.0f}", r["raw"].cell(),
                     r["socket"].cell() if "socket" in r else "-",
                     r["lean"].cell() if "lean" in r else "-"]
                    for api, verb, r in data["floor"]
                ],
            )  # fmt: skip
            data["concurrency"] = concurrency.bench(server.url, server.port, n * 4, rounds)
            lines += ["## AsyncRedisStore under concurrency (get, one client)", ""]
            lines += table(
                ["tasks", "sesh gets/s", "raw gets/s", "sesh / raw", "redis-benchmark gets/s",
                 "sesh / redis-benchmark"],
                [
                    [tasks, f"{r.ours:,.0f}", f"{r.base:,.0f}", r.cell(), f"{bench:,.0f}",
                     f"{r.ours / bench:.2f}"]
                    for tasks, r, bench in data["concurrency"]
                ],
            )  # fmt: skip
            data["peers"] = peers.bench_sync(server.url, n, rounds)
            data["peers"] += peers.bench_async(server.url, n, rounds)
            trips = peers.round_trips(server.url)
            lines += ["## Peers doing the same work on the same Redis", ""]
            lines += table(
                ["peer", "verb", "sesh ops/s", "peer ops/s", "sesh / peer"],
                [
                    [peer, verb, f"{r.ours:,.0f}", f"{r.base:,.0f}", r.cell()]
                    for peer, verb, r in data["peers"]
                ],
            )
            lines += ["Redis commands per verb (server's commandstats, 10 calls):", ""]
            lines += table(
                ["store", *peers.VERBS],
                [[name, *(f"{c[v]:g}" for v in peers.VERBS)] for name, c in trips.items()],
            )
            data["memory"] = local.bench_memory(n * 4, rounds)
            lines += [
                "## MemoryStore against a bare dict and against fakeredis",
                "",
                f"Each store holds {local.SESSIONS:,} sessions throughout (a round of `set`"
                " ends its sessions once its clock stops); MemoryStore and the dict make 30"
                f" times fakeredis's calls, and a round takes {local.SLICES} turns, the three"
                " alternating. Instructions per call, which the machine's load does not move:"
                " `python -m benchmarks.instructions`.",
                "",
            ]
            lines += table(
                ["verb", "MemoryStore ops/s", "MemoryStore / dict", "MemoryStore / fakeredis"],
                [[v, f"{a.ours:,.0f}", a.cell(), b.cell()] for v, a, b in data["memory"]],
            )
            data["sqlite"] = local.bench_sqlite(tmp, n, rounds)
            lines += ["## SqliteStore against Django's database sessions on SQLite", ""]
            lines += table(
                ["verb", "sesh ops/s", "Django ops/s", "sesh / Django"],
                [[v, f"{r.ours:,.0f}", f"{r.base:,.0f}", r.cell()] for v, r in data["sqlite"]],
            )
            data["growth"] = scale.bench_growth(server.url, tmp, sizes["sizes"], n * 4)
            lines += ["## Cost per call as live sessions grow (µs, best of 3)", ""]
            head = ["backend"] + [f"{s:,}: get / set" for s in sizes["sizes"]]
            lines += table(
                head,
                [
                    [name] + [f"{v[i]:.1f} / {v[i + 1]:.1f}" for i in range(0, len(v), 2)]
                    for name, v in data["growth"].items()
                ],
            )
            held = scale.bytes_per_session(server.url, tmp, sizes["many"] // 10)
            lines += ["## Bytes per live session", ""]
            lines += table(["store", "bytes"], [[k, f"{v:,.0f}"] for k, v in held.items()])
            gone = scale.reclaim(sizes["many"])
            lines += [
                f"## MemoryStore after {sizes['many']:,} sessions with a 1 s ttl expired", "",
                f"It held {gone['full (bytes)'] / 1e6:,.1f} MB (tracemalloc). Once they had"
                f" expired, with no call at all, its reaper thread had removed them in"
                f" {gone['reaped in (s)']:.1f} s (under tracemalloc), and it still held"
                f" {gone['expired, no call']:.1%} of that; after one `set` of another session,"
                f" {gone['after one set']:.2%}.",
                "",
            ]  # fmt: skip
            rows: list[Any] = []
            with options.backends(server.url) as makers:
                for backend, make in makers.items():
                    rows += options.compare(backend, make, n, max(2, rounds // 2))
            lines += ["## What each option costs (the option's ops/s over the default's)", ""]
            lines += table(
                ["backend", "option", "verb", "option / default"],
                [[b, o, v, f"{m:.2f} ({lo:.2f}-{hi:.2f})"] for b, o, v, _, _, m, lo, hi in rows],
            )
            if charts.available():
                charts.draw(out, data, sizes["sizes"])
    finally:
        server.close()
    # The web layer in a process of its own (it configures Django its own way); it writes
    # web.md beside this file, and its table goes here too.
    quick = ["--quick"] if sizes is QUICK else []
    subprocess.run([sys.executable, "-m", "benchmarks.web", *quick, "--out", str(out)], check=True)
    lines += [*(out / "web.md").read_text().splitlines(), ""]
    # PostgreSQL in a process of its own too: Django is set up there for its database.
    subprocess.run(
        [sys.executable, "-m", "benchmarks.postgres", *quick, "--out", str(out)], check=True
    )
    lines += [*(out / "postgres.md").read_text().splitlines(), ""]
    # sesh's own Redis path by issue 16's method, with a redis-server pinned apart.
    subprocess.run(
        [sys.executable, "-m", "benchmarks.fast_path", *quick, "--out", str(out)], check=True
    )
    lines += [*(out / "fast_path.md").read_text().splitlines(), ""]
    lines += [f"The whole run took {time.monotonic() - started:.0f} s.", ""]
    if charts.available():
        lines += [f"![{name}]({name}.png)" for name in charts.NAMES] + [""]
    else:
        lines += [NO_CHARTS, ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check, not measure")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    text = run(args.out, QUICK if args.quick else FULL)
    (args.out / "README.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
