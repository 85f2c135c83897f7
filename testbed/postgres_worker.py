"""One of several processes sharing a PostgreSQL store (run by tests/backends/
test_postgres_faults.py): threads, or asyncio tasks, each running mixed verbs."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from sesh.backends.postgres import AsyncPostgresStore, PostgresStore


class _Tally:
    """What the callers of one process kept, killed and saw go wrong."""

    def __init__(self) -> None:
        self.kept: dict[str, str] = {}
        self.killed: list[str] = []
        self.errors: list[str] = []
        self.rounds = 0
        self.lock = threading.Lock()

    def result(self) -> dict[str, Any]:
        return {
            "kept": self.kept,
            "killed": self.killed,
            "errors": self.errors,
            "rounds": self.rounds,
        }


def _check(errors: list[str], got: object, want: object, what: str) -> None:
    if got != want:
        errors.append(f"{what}: got {got!r}, wanted {want!r}")


def _round(tally: _Tally, user: str, rounds: int, results: list[object]) -> None:
    """Checks one round's results; ``results`` come from the same calls, sync or async."""
    session_id, got, lived, rotated, old_after, new_get, ended = results
    errors: list[str] = []
    _check(errors, got, user, "get after set")
    _check(errors, lived, True, "liv of a live session")
    if not isinstance(rotated, str):
        errors.append(f"rotate of a live session gave {rotated!r}")
    _check(errors, old_after, None, "get of the rotated-away id")
    _check(errors, new_get, user, "get of the new id")
    with tally.lock:
        tally.rounds += 1
        tally.errors += errors
        if ended is None:
            tally.kept[str(rotated)] = user
        else:
            _check(tally.errors, ended, 1, "die_all of a user with one session")
            tally.killed += [str(session_id), str(rotated)]


def work(
    url: str, table: str, worker: int, seconds: float, callers: int, use_async: bool
) -> dict[str, Any]:
    """Mixed set/get/liv/rotate/die_all for ``seconds`` from ``callers`` threads (or tasks)."""
    tally = _Tally()
    deadline = time.monotonic() + seconds
    if use_async:
        asyncio.run(_work_async(url, table, worker, deadline, callers, tally))
        return tally.result()
    store = PostgresStore.from_url(url, ttl=3600, table=table, track_users=True, pool_size=callers)

    def caller(n: int) -> None:
        rounds = 0
        try:
            while time.monotonic() < deadline:
                rounds += 1
                user = f"w{worker}-c{n}-{rounds}"
                session_id = store.set(user)
                got = store.get(session_id)
                lived = store.liv(session_id)
                rotated = store.rotate(session_id)
                old_after = store.get(session_id)
                new_get = store.get(str(rotated), touch=True)
                ended = store.die_all(user) if rounds % 3 == 0 else None
                _round(
                    tally,
                    user,
                    rounds,
                    [session_id, got, lived, rotated, old_after, new_get, ended],
                )
        except Exception as exc:
            with tally.lock:
                tally.errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.close()
    return tally.result()


async def _work_async(
    url: str, table: str, worker: int, deadline: float, callers: int, tally: _Tally
) -> None:
    store = AsyncPostgresStore.from_url(
        url, ttl=3600, table=table, track_users=True, pool_size=callers
    )

    async def caller(n: int) -> None:
        rounds = 0
        try:
            while time.monotonic() < deadline:
                rounds += 1
                user = f"w{worker}-t{n}-{rounds}"
                session_id = await store.set(user)
                got = await store.get(session_id)
                lived = await store.liv(session_id)
                rotated = await store.rotate(session_id)
                old_after = await store.get(session_id)
                new_get = await store.get(str(rotated), touch=True)
                ended = await store.die_all(user) if rounds % 3 == 0 else None
                _round(
                    tally,
                    user,
                    rounds,
                    [session_id, got, lived, rotated, old_after, new_get, ended],
                )
        except Exception as exc:
            tally.errors.append(f"{type(exc).__name__}: {exc}")

    try:
        await asyncio.gather(*(caller(n) for n in range(callers)))
    finally:
        await store.aclose()
