"""Failover on Redis Cluster and Sentinel, several runs: start-up, promotion, what callers saw.

Run from the repository root: ``.venv/bin/python -m benchmarks.failover [--runs N]``.
Each run starts a fresh deployment on loopback, writes sessions, SIGKILLs the primary that
holds some of them under a steady stream of set/get (sync and asyncio side by side), and
checks every session acknowledged before the kill; then the same with the primary's link to
its replica cut first, to measure what the kill loses. Writes
``benchmarks/results/failover.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from statistics import median

import redis

from testbed.failover import CUT_SECONDS, Outcome, kill_primary_under_load
from testbed.topologies import FAILOVER_MS, Cluster, SentinelGroup


def run(kind: type[Cluster] | type[SentinelGroup], cut_link: bool) -> tuple[float, Outcome]:
    deployment = kind()
    try:
        deployment.start()
        return deployment.startup_seconds, kill_primary_under_load(deployment, cut_link)
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
        f" sesh retries each verb for up to 5 s. Medians of {args.runs} runs (each run listed);"
        " counts are totals over the runs. A sync stream and 8 asyncio tasks run side by side.",
        f"'link cut': the primary's replica link was cut {CUT_SECONDS:.0f} s before the kill"
        " (the primary refuses its replica's PSYNC); 'lost while cut' counts the sessions"
        " acknowledged in that window that the promoted replica does not have.",
        "Reproduce: `.venv/bin/python -m benchmarks.failover`.",
        "",
        "| deployment | link | start-up s | kill to promotion s | longest call s | caller errors"
        " | acknowledged before kill (cut) | lost | acknowledged while cut | lost while cut |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in (Cluster, SentinelGroup):
        for cut_link in (False, True):
            results = [run(kind, cut_link) for _ in range(args.runs)]
            for startup, outcome in results:
                print(kind.__name__, cut_link, round(startup, 2), outcome)
            lines.append(_row(kind.__name__, cut_link, results))
    text = "\n".join(lines) + "\n"
    (Path(__file__).parent / "results" / "failover.md").write_text(text)
    print(text)


def _row(name: str, cut_link: bool, results: list[tuple[float, Outcome]]) -> str:
    def med(values: list[float]) -> str:
        return f"{median(values):.2f} ({', '.join(f'{v:.2f}' for v in values)})"

    def total(field: str) -> int:
        return sum(int(getattr(outcome, field)) for _, outcome in results)

    return (
        f"| {name} | {'cut' if cut_link else 'healthy'} | {med([s for s, _ in results])}"
        f" | {med([o.kill_to_promotion for _, o in results])}"
        f" | {med([o.longest_call for _, o in results])}"
        f" | {sum(len(o.errors) for _, o in results)}"
        f" | {total('acknowledged_before_kill')} | {total('lost')}"
        f" | {total('acknowledged_while_cut') if cut_link else '-'}"
        f" | {total('lost_while_cut') if cut_link else '-'} |"
    )


if __name__ == "__main__":
    main()
