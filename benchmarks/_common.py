"""What every benchmark shares: interleaved rounds, their ratios, and the machine's header."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from statistics import median
from typing import Any

Runner = Callable[[int], float]
"""Runs n calls and returns the seconds they took."""


@dataclass
class Ratio:
    """One contender against a baseline: median ops/s of each, and the per-round ratio."""

    ours: float
    base: float
    median: float
    low: float
    high: float

    def cell(self) -> str:
        return f"{self.median:.2f} ({self.low:.2f}-{self.high:.2f})"


def timed(call: Callable[[Any], object], args: list[Any]) -> float:
    """Seconds that calling ``call`` on each of ``args`` takes."""
    started = time.perf_counter()
    for arg in args:
        call(arg)
    return time.perf_counter() - started


async def atimed(call: Callable[[Any], Awaitable[object]], args: list[Any]) -> float:
    """Seconds that awaiting ``call`` on each of ``args``, one after another, takes."""
    started = time.perf_counter()
    for arg in args:
        await call(arg)
    return time.perf_counter() - started


def loop(call: Callable[[], object]) -> Runner:
    """A runner that makes the same call n times."""
    return lambda n: timed(lambda _: call(), [None] * n)


def verb_runner(
    verbs: dict[str, Callable[[Any], Any]], make: Callable[[], Any], verb: str
) -> Runner:
    """A runner of one verb on a session from ``make``; a verb that ends sessions ("die",
    "kill") gets a fresh one per call, made before the clock starts."""
    one = make()

    def run(n: int) -> float:
        args = [make() for _ in range(n)] if verb in ("die", "kill") else [one] * n
        return timed(verbs[verb], args)

    return run


def interleave(
    runners: dict[str, Runner],
    n: int,
    rounds: int,
    scale: dict[str, int] | None = None,
    slices: int = 1,
) -> dict[str, list[float]]:
    """Each runner does n calls per round (times its ``scale``: a contender 30 times as
    fast does 30 times the calls, so that its round is no shorter than the others'), in an
    order that rotates (A B C, B C A, ...), so that no contender always runs first or last;
    returns ops/s per round. With ``slices``, a round is that many turns of every runner,
    each doing its share of the calls, so that a change in the machine's load within a
    round lands on all of them alike."""
    rates: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    per_slice = {name: n * (scale or {}).get(name, 1) // slices for name in names}
    for turn in range(rounds):
        took = dict.fromkeys(names, 0.0)
        for part in range(slices):
            shift = (turn + part) % len(names)
            for name in names[shift:] + names[:shift]:
                took[name] += runners[name](per_slice[name])
        for name in names:
            rates[name].append(per_slice[name] * slices / took[name])
    return rates


def ratio(rates: dict[str, list[float]], ours: str, base: str) -> Ratio:
    """``ours`` against ``base``: the median and range of their ops/s ratio, round by round."""
    per_round = [a / b for a, b in zip(rates[ours], rates[base], strict=True)]
    return Ratio(
        median(rates[ours]), median(rates[base]), median(per_round), min(per_round), max(per_round)
    )


def versions(*packages: str) -> str:
    found = []
    for name in packages:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def header(title: str) -> list[str]:
    try:
        server = subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True, check=False
        ).stdout.split()[2]
    except (OSError, IndexError):
        server = "?"
    return [
        f"# {title}",
        "",
        f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on"
        f" {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}"
        f" {platform.release()}; Python {platform.python_version()}; redis-server {server}; "
        + versions(
            "sesh", "redis", "hiredis", "fakeredis", "starsessions", "cachelib", "django",
            "django-redis",
        )
        + ".",
        "",
    ]  # fmt: skip
