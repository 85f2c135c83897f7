"""In-process stores: for tests, and for apps that run as a single process.

Sessions live in a dict and are lost when the process ends; each store object has its own.
The clock is injectable (``clock=`` any zero-argument callable returning monotonic seconds),
so tests can move time instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from typing_extensions import Self

from sesh._core import Delete, Fetch, Insert, Op, Refresh, Ttl, deadline, is_expired
from sesh._store import AsyncStore, BaseStore, SyncStore

__all__ = ["AsyncMemoryStore", "MemoryStore"]

Clock = Callable[[], float]


class _Sessions:
    """The state behind a MemoryStore or an AsyncMemoryStore, safe across threads.

    Every write sets the deadline to now + the store's one ttl, and moves the key to the
    end of the ordered dict; so the dict is ordered by deadline, and expired sessions are
    removed from its front, each once, as later writes come by.
    """

    __slots__ = ("_clock", "_entries", "_lock")

    def __init__(self, clock: Clock | None) -> None:
        self._clock: Clock = time.monotonic if clock is None else clock
        self._entries: OrderedDict[str, tuple[str, float | None]] = OrderedDict()
        self._lock = threading.Lock()

    def execute(self, op: Op) -> Any:
        with self._lock:
            now = self._clock()
            entries = self._entries
            if type(op) is Fetch:
                entry = self._live(op.key, now)
                if entry is None:
                    return None
                if op.touch_ms is not None:
                    self._write(op.key, entry[0], deadline(now, op.touch_ms))
                return entry[0]
            if type(op) is Insert:
                self._purge(now)
                if self._live(op.key, now) is not None:
                    return False
                self._write(op.key, op.value, deadline(now, op.ttl_ms))
                return True
            if type(op) is Refresh:
                entry = self._live(op.key, now)
                if entry is None:
                    return False
                if op.ttl_ms is not None:
                    self._write(op.key, entry[0], deadline(now, op.ttl_ms))
                return True
            if type(op) is Delete:
                entry = entries.pop(op.key, None)
                return entry is not None and not is_expired(entry[1], now)
            raise TypeError(f"unknown operation {type(op).__name__}")

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _live(self, key: str, now: float) -> tuple[str, float | None] | None:
        entry = self._entries.get(key)
        if entry is not None and is_expired(entry[1], now):
            del self._entries[key]
            return None
        return entry

    def _write(self, key: str, value: str, expires_at: float | None) -> None:
        self._entries[key] = (value, expires_at)
        self._entries.move_to_end(key)

    def _purge(self, now: float) -> None:
        entries = self._entries
        while entries:
            key, (_, expires_at) = next(iter(entries.items()))
            if not is_expired(expires_at, now):
                return
            del entries[key]


class _MemoryStoreBase(BaseStore):
    __slots__ = ("_sessions",)

    def __init__(self, prefix: str = "sesh", ttl: Ttl = None, *, clock: Clock | None = None):
        super().__init__(prefix, ttl)
        self._sessions = _Sessions(clock)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "sesh", ttl: Ttl = None) -> Self:
        """A new, empty store for ``memory://``."""
        parts = urlsplit(url)
        if parts.scheme != "memory" or parts.netloc or parts.path or parts.query or parts.fragment:
            raise ValueError("a memory store URL is exactly 'memory://' (it takes no options)")
        return cls(prefix, ttl)


class MemoryStore(_MemoryStoreBase, SyncStore):
    """A SessionStore in this process's memory.

    Args:
        prefix: key prefix (kept for parity with the other stores).
        ttl: session lifetime in seconds or a timedelta; None or 0 for never.
        clock: monotonic seconds; defaults to ``time.monotonic``.
    """

    __slots__ = ()

    def close(self) -> None:
        """Drops every session."""
        self._sessions.clear()

    def _execute(self, op: Op) -> Any:
        return self._sessions.execute(op)


class AsyncMemoryStore(_MemoryStoreBase, AsyncStore):
    """An AsyncSessionStore in this process's memory; the same as MemoryStore, awaitable.

    Takes the same arguments as ``MemoryStore``.
    """

    __slots__ = ()

    async def aclose(self) -> None:
        """Drops every session."""
        self._sessions.clear()

    async def _execute(self, op: Op) -> Any:
        return self._sessions.execute(op)
