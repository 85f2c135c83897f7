"""A primary killed under a steady stream of set/get: what callers saw, and what was kept.

Used by tests/backends/test_failover.py (one run each) and benchmarks/failover.py (several).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sesh.backends.redis import RedisStore
from tests.servers import RedisServer
from tests.topologies import Cluster, SentinelGroup, wait_for

STREAM_SECONDS = 15.0  # the stream stops by itself after this, or MAX_OPS calls
MAX_OPS = 50_000


@dataclass
class Outcome:
    kill_to_promotion: float = 0.0  # seconds from SIGKILL until the deployment names a new primary
    errors: list[str] = field(default_factory=list)  # what callers got instead of an answer
    longest_call: float = 0.0  # seconds: the stall a caller saw
    calls: int = 0
    acknowledged_before_kill: int = 0
    lost: int = 0  # acknowledged before the kill, unreadable after the failover


class _Stream(threading.Thread):
    """set then get, over and over, timing each call, until told to stop."""

    def __init__(self, store: RedisStore) -> None:
        super().__init__(daemon=True)
        self.store = store
        self.stop = threading.Event()
        self.acked: list[tuple[float, str, str]] = []  # (when, session id, user)
        self.errors: list[str] = []
        self.longest = 0.0
        self.calls = 0

    def run(self) -> None:
        deadline = time.monotonic() + STREAM_SECONDS
        n = 0
        while not self.stop.is_set() and time.monotonic() < deadline and self.calls < MAX_OPS:
            n += 1
            user = f"stream-{n}"
            session_id = self._call(self.store.set, user)
            if session_id is None:
                continue
            self.acked.append((time.monotonic(), session_id, user))
            if self._call(self.store.get, session_id) != user:
                self.errors.append("a session just written could not be read back")

    def _call(self, verb: Any, arg: str) -> Any:
        started = time.monotonic()
        try:
            return verb(arg)
        except Exception as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
            return None
        finally:
            self.calls += 1
            self.longest = max(self.longest, time.monotonic() - started)


def kill_primary_under_load(topology: Cluster | SentinelGroup) -> Outcome:
    """Writes sessions, kills the primary that holds some of them mid-stream, then checks."""
    store = RedisStore.from_url(topology.url, ttl=600)
    try:
        known = {store.set(f"known-{n}"): f"known-{n}" for n in range(200)}
        victim, new_primary = _victim(topology, next(iter(known)))
        stream = _Stream(store)
        stream.start()
        time.sleep(0.5)
        killed_at = time.monotonic()
        victim.kill()
        wait_for("a new primary", new_primary, timeout=20)
        promoted_at = time.monotonic()
        time.sleep(1.0)  # the stream goes on through and past the failover
        stream.stop.set()
        stream.join()
        before_kill = {sid: user for when, sid, user in stream.acked if when < killed_at}
        before_kill.update(known)
        lost = sum(1 for sid, user in before_kill.items() if store.get(sid) != user)
        return Outcome(
            kill_to_promotion=promoted_at - killed_at,
            errors=stream.errors,
            longest_call=stream.longest,
            calls=stream.calls,
            acknowledged_before_kill=len(before_kill),
            lost=lost,
        )
    finally:
        store.close()


def _victim(topology: Cluster | SentinelGroup, session_id: str) -> tuple[RedisServer, Any]:
    """The primary to kill (one that holds ``session_id``), and a test of its replacement."""
    if isinstance(topology, Cluster):
        key = f"sesh:{session_id}"
        victim = topology.primary_for(key)

        def promoted() -> bool:
            try:
                return topology.primary_for(key) is not victim
            except LookupError:  # the slot has no primary until the replica takes over
                return False

        return victim, promoted
    old_port = topology.current_primary()
    return topology.primary, lambda: topology.current_primary() != old_port
