"""The local backends against their floor and what users would otherwise use.

MemoryStore against a bare dict-with-expiry loop (the floor) and against RedisStore on
fakeredis (what unit tests otherwise use); SqliteStore against Django's database sessions
on SQLite (a file each, same directory).
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from collections.abc import Callable
from typing import Any

import fakeredis

from benchmarks import _django
from benchmarks._common import Ratio, Runner, interleave, ratio, verb_runner
from sesh.backends.memory import MemoryStore
from sesh.backends.redis import RedisStore
from sesh.backends.sqlite import SqliteStore

TTL = 3600.0
IN_MEMORY_SCALE = {"memory": 30, "dict": 30}
"""Calls per round of the in-memory contenders, per call of fakeredis's: at 1,200 calls a
round, MemoryStore's rounds lasted about 5 ms, where one pause of the machine (or a
garbage collection) moves the ratio by a third."""
USER = 1337
SESSIONS = 10_000
"""Sessions in each store before the clock starts (kept to that number: see
``same_sessions_runner``)."""
SLICES = 8
"""Turns a round is taken in, the contenders alternating (see ``interleave``)."""
VERBS = ["set", "get", "get(touch)", "liv", "die"]
Verbs = dict[str, Callable[[Any], Any]]


class DictFloor:
    """A dict of id -> (user, deadline): the least a session store in memory can do."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[str, float]] = {}

    def set(self, user_id: Any) -> str:
        session_id = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
        self.data[session_id] = (str(user_id), time.monotonic() + TTL)
        return session_id

    def get(self, session_id: str, touch: bool = False) -> str | None:
        entry = self.data.get(session_id)
        if entry is None or entry[1] <= time.monotonic():
            return None
        if touch:
            self.data[session_id] = (entry[0], time.monotonic() + TTL)
        return entry[0]

    def liv(self, session_id: str) -> bool:
        return self.get(session_id, True) is not None

    def die(self, session_id: str) -> bool:
        return self.data.pop(session_id, None) is not None


def store_verbs(store: Any) -> tuple[Verbs, Callable[[], Any]]:
    verbs: Verbs = {
        "set": store.set,  # called with USER by same_sessions_runner
        "get": store.get,
        "get(touch)": lambda sid: store.get(sid, touch=True),
        "liv": store.liv,
        "die": store.die,
    }
    return verbs, lambda: store.set(USER)


def same_sessions_runner(verbs: Verbs, make: Callable[[], Any], verb: str) -> Runner:
    """``verb_runner``, except that the sessions a run of "set" made are ended once its clock
    stops. So every contender's store holds the same sessions throughout, however many
    calls it makes: MemoryStore makes 30 times fakeredis's, and with them kept its set
    timed a dict 30 times larger (growing to 400,000 entries in a full run)."""
    if verb != "set":
        return verb_runner(verbs, make, verb)
    create, end = verbs["set"], verbs["die"]

    def run(n: int) -> float:
        started = time.perf_counter()
        made = [create(USER) for _ in range(n)]
        took = time.perf_counter() - started
        for session_id in made:
            end(session_id)
        return took

    return run


def bench_memory(n: int, rounds: int) -> list[tuple[str, Ratio, Ratio]]:
    """Per verb: MemoryStore against the dict floor, and against RedisStore on fakeredis,
    each store holding ``SESSIONS`` sessions, in rounds taken in ``SLICES`` turns."""
    contenders = {
        "memory": store_verbs(MemoryStore(ttl=TTL)),
        "dict": store_verbs(DictFloor()),
        "fakeredis": store_verbs(RedisStore(fakeredis.FakeRedis(), ttl=TTL)),
    }
    for _, make in contenders.values():
        for _ in range(SESSIONS):
            make()
    rows = []
    for verb in VERBS:
        rates = interleave(
            {k: same_sessions_runner(v, m, verb) for k, (v, m) in contenders.items()},
            n,
            rounds,
            scale=IN_MEMORY_SCALE,
            slices=SLICES,
        )
        rows.append((verb, ratio(rates, "memory", "dict"), ratio(rates, "memory", "fakeredis")))
    return rows


def bench_sqlite(directory: str, n: int, rounds: int) -> list[tuple[str, Ratio]]:
    """Per verb (create, read, refresh, kill): SqliteStore against Django's db sessions."""
    store = SqliteStore(os.path.join(directory, "sesh.db"), ttl=TTL)
    sesh: Verbs = {
        "create": lambda _: store.set(1337),
        "read": store.get,
        "refresh": store.liv,
        "kill": store.die,
    }
    django_verbs, django_make = _django.verbs("db")
    contenders = {"sesh": (sesh, lambda: store.set(1337)), "django": (django_verbs, django_make)}
    rows = []
    for verb in ["create", "read", "refresh", "kill"]:
        rates = interleave(
            {k: verb_runner(v, m, verb) for k, (v, m) in contenders.items()}, n, rounds
        )
        rows.append((verb, ratio(rates, "sesh", "django")))
    store.close()
    return rows
