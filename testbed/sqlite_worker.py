"""One of several processes sharing a SQLite store (run by tests/backends/test_sqlite.py)."""

from __future__ import annotations

import time
from typing import Any

from sesh.backends.sqlite import SqliteStore


def work(path: str, worker: int, seconds: float, max_rounds: int) -> dict[str, Any]:
    """Mixed set/get/liv/die on a shared file; reports what it kept, killed and saw go wrong."""
    kept: dict[str, str] = {}
    killed: list[str] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds
    store = SqliteStore(path, ttl=3600)
    rounds = 0
    try:
        while rounds < max_rounds and time.monotonic() < deadline:
            rounds += 1
            user = f"w{worker}-{rounds}"
            session_id = store.set(user)
            if store.get(session_id) != user:
                errors.append(f"get after set did not return {user}")
            if store.liv(session_id) is not True:
                errors.append("liv of a live session was not True")
            if rounds % 3 == 0:
                if store.die(session_id) is not True:
                    errors.append("die of a live session was not True")
                killed.append(session_id)
            else:
                kept[session_id] = user
            if kept and rounds % 5 == 0:
                earlier = next(iter(kept))
                if store.get(earlier, touch=True) != kept[earlier]:
                    errors.append("an earlier session changed or vanished")
    except Exception as exc:  # the test reports every failure, "database is locked" first
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        store.close()
    return {"kept": kept, "killed": killed, "errors": errors, "rounds": rounds}
