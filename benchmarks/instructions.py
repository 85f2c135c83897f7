"""Instructions per call of MemoryStore's verbs, and of RedisStore's on fakeredis, counted
by valgrind (cachegrind): a count that does not move with the machine's load.

Wall time on a shared machine swings by half between runs, so it cannot show a change of
a few percent in MemoryStore; the count can (it differs by about 1% between runs, from
hash randomization, which the children switch off). It is not time: fakeredis runs its
instructions at a different pace (its ratio here is 13-18 where wall time says 24-35).
Use it to compare two versions of the code, alongside the timed ratios of ``python -m
benchmarks``.

Run from the repository root: ``.venv/bin/python -m benchmarks.instructions`` (needs
valgrind: Debian's ``valgrind`` package). Each verb runs twice under valgrind, with 0 and
with ``--calls`` calls after the same set-up, and the count is the difference over the calls.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

VERBS = ["set", "get", "get(touch)", "liv", "die"]
SESSIONS = 2_000
"""Sessions in the store before the counted calls."""
CALLS = {"memory": 10_000, "fakeredis": 1_000}
_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def _run(kind: str, verb: str, calls: int, counted: bool) -> None:
    # The child: a store with SESSIONS sessions (and ``calls`` more for "die" to end),
    # then, if ``counted``, ``calls`` calls of ``verb``: the same set-up either way.
    store: Any
    if kind == "memory":
        from sesh.backends.memory import MemoryStore

        store = MemoryStore(ttl=3600.0)
    else:
        import fakeredis

        from sesh.backends.redis import RedisStore

        store = RedisStore(fakeredis.FakeRedis(), ttl=3600.0)
    made = [store.set(1) for _ in range(SESSIONS + (calls if verb == "die" else 0))]
    one = made[0]
    if not counted:
        return
    if verb == "set":
        for _ in range(calls):
            store.set(1337)
    elif verb == "die":
        for session_id in made[:calls]:
            store.die(session_id)
    else:
        touch = verb == "get(touch)"
        call = store.liv if verb == "liv" else lambda sid: store.get(sid, touch=touch)
        for _ in range(calls):
            call(one)


def _count(kind: str, verb: str, calls: int, counted: bool) -> int:
    command = [
        "valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
        sys.executable, "-m", "benchmarks.instructions",
        "--child", kind, verb, str(calls), str(int(counted)),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    found = _REFS.search(done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def per_call(kind: str, verb: str, calls: int) -> float:
    """Instructions per call of ``verb`` on a ``kind`` store ("memory" or "fakeredis")."""
    return (_count(kind, verb, calls, True) - _count(kind, verb, calls, False)) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--child", nargs=4, metavar=("KIND", "VERB", "CALLS", "COUNTED"), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--calls", type=int, help="calls per verb (default: 10,000 on memory, 1,000 on fakeredis)"
    )
    parser.add_argument(
        "--only-memory", action="store_true", help="skip fakeredis (slow under valgrind)"
    )
    args = parser.parse_args()
    if args.child:
        _run(args.child[0], args.child[1], int(args.child[2]), args.child[3] == "1")
        return
    if shutil.which("valgrind") is None:
        sys.exit("benchmarks.instructions needs valgrind (apt-get install valgrind)")
    kinds = ["memory"] if args.only_memory else ["memory", "fakeredis"]
    jobs = [(kind, verb, args.calls or CALLS[kind]) for kind in kinds for verb in VERBS]
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        counts = dict(zip(jobs, pool.map(lambda job: per_call(*job), jobs), strict=True))
    print("| verb | MemoryStore | RedisStore on fakeredis | ratio |")
    print("|---|---|---|---|")
    for verb in VERBS:
        mine = counts[("memory", verb, args.calls or CALLS["memory"])]
        theirs = counts.get(("fakeredis", verb, args.calls or CALLS["fakeredis"]))
        shown = "- | -" if theirs is None else f"{theirs:,.0f} | {theirs / mine:.1f}"
        print(f"| {verb} | {mine:,.0f} | {shown} |")


if __name__ == "__main__":
    main()
