"""Failover on Redis Cluster and Sentinel, several runs: start-up, promotion, what callers saw.

Run from the repository root: ``.venv/bin/python -m benchmarks.failover [--runs N]``.
Each run starts a fresh deployment on loopback, writes sessions, SIGKILLs the primary that
holds some of them under a steady stream of set/get, and checks every session acknowledged
before the kill. Writes ``benchmarks/results/failover.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from statistics import median

import redis

from tests.failover import Outcome, kill_primary_under_load
from tests.topologies import FAILOVER_MS, Cluster, SentinelGroup


def run(kind: type[Cluster] | type[SentinelGroup]) -> tuple[float, Outcome]:
    deployment = kind()
    try:
        deployment.start()
        return deployment.startup_seconds, kill_primary_under_load(deployment)
    finally:
        deployment.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    lines = [
        "# Failover under load: a primary SIGKILLed mid-stream",
        "",
        f"redis-py {redis.__version__}; node timeout / down-after-milliseconds {FAILOVER_MS} ms;"
        f" sesh retries each verb for up to 5 s. Medians of {args.runs} runs (each run listed).",
        "Reproduce: `.venv/bin/python -m benchmarks.failover`.",
        "",
        "| deployment | start-up s | kill to promotion s | longest call s | caller errors"
        " | acknowledged before kill | lost |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in (Cluster, SentinelGroup):
        results = [run(kind) for _ in range(args.runs)]
        for startup, outcome in results:
            print(kind.__name__, round(startup, 2), outcome)

        def med(values: list[float]) -> str:
            return f"{median(values):.2f} ({', '.join(f'{v:.2f}' for v in values)})"

        lines.append(
            f"| {kind.__name__} | {med([s for s, _ in results])}"
            f" | {med([o.kill_to_promotion for _, o in results])}"
            f" | {med([o.longest_call for _, o in results])}"
            f" | {sum(len(o.errors) for _, o in results)}"
            f" | {sum(o.acknowledged_before_kill for _, o in results)}"
            f" | {sum(o.lost for _, o in results)} |"
        )
    text = "\n".join(lines) + "\n"
    (Path(__file__).parent / "results" / "failover.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
