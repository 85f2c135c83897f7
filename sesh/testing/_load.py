"""The kit's load check: many callers at once, each seeing only its own sessions."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from sesh.testing._harness import Harness, StoreView

__all__ = ["LoadChecks"]

LOAD_SECONDS = 0.5  # each caller stops after this long, or after ROUNDS rounds
ROUNDS = 200


def _round(caller: int, n: int) -> tuple[str, bool]:
    return f"caller-{caller}-{n}", n % 2 == 0  # (user, whether to kill the session)


def _check_after(store: StoreView, made: dict[str, tuple[str, bool]], errors: list[str]) -> None:
    for session_id, (user, killed) in made.items():
        expected = None if killed else user
        if store.get(session_id) != expected:
            errors.append(f"{user}: expected {expected!r} after the load")


class _Awaitable:
    """A sync store's verbs as coroutines, so one caller serves both kits."""

    def __init__(self, store: Any) -> None:
        self.store = store

    async def set(self, user_id: str) -> str:
        return self.store.set(user_id)  # type: ignore[no-any-return]

    async def get(self, session_id: str) -> str | None:
        return self.store.get(session_id)  # type: ignore[no-any-return]

    async def liv(self, session_id: str) -> bool:
        return self.store.liv(session_id)  # type: ignore[no-any-return]

    async def die(self, session_id: str) -> bool:
        return self.store.die(session_id)  # type: ignore[no-any-return]


async def _caller(
    store: Any, number: int, deadline: float, made: dict[str, Any], errors: list[str]
) -> None:
    """set, get, liv and (every other round) die, checking each answer, until the deadline."""
    for n in range(ROUNDS):
        if time.monotonic() > deadline and n:
            return
        user, kill = _round(number, n)
        try:
            session_id = await store.set(user)
            made[session_id] = (user, kill)
            ok = await store.get(session_id) == user and await store.liv(session_id)
            if kill:
                ok = ok and await store.die(session_id) and await store.get(session_id) is None
        except Exception as exc:
            errors.append(f"{user}: {type(exc).__name__}: {exc}")
            return
        if not ok:
            errors.append(f"{user}: a verb disagreed with what this caller did")


class LoadChecks(Harness):
    """Mixed set/get/liv/die from many callers at once; nothing leaks between them."""

    callers = 8
    """Threads (sync kit) or tasks x 25 (async kit) in the load check."""

    def test_concurrent_callers_keep_their_own_sessions(self) -> None:
        store = self.kit.open(ttl=60)
        made: dict[str, tuple[str, bool]] = {}
        errors: list[str] = []
        deadline = time.monotonic() + LOAD_SECONDS
        if self.is_async:
            callers = [
                _caller(store.store, c, deadline, made, errors) for c in range(self.callers * 25)
            ]
            self.kit.run_all(callers)
        else:
            sync = _Awaitable(store.store)
            threads = [
                threading.Thread(
                    target=asyncio.run, args=(_caller(sync, c, deadline, made, errors),)
                )
                for c in range(self.callers)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        store.made.extend(made)
        _check_after(store, made, errors)
        assert errors == [], errors[:5]
        assert len(made) >= self.callers
