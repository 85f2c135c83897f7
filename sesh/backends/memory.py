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

from typing_extensions import Self, Unpack

from sesh._core import (
    Delete,
    DeleteUser,
    Fetch,
    Insert,
    ListUser,
    Op,
    Options,
    Refresh,
    Rotate,
    Ttl,
    capped,
    deadline,
    is_expired,
)
from sesh._store import AsyncStore, BaseStore, SyncStore

__all__ = ["AsyncMemoryStore", "MemoryStore"]

Clock = Callable[[], float]


_Entry = tuple[str, "float | None", "float | None", "str | None"]
"""A session: user id, deadline, absolute deadline (``max_age``), user index (or None)."""


class _Sessions:
    """The state behind a MemoryStore or an AsyncMemoryStore, safe across threads.

    Every write sets a deadline of at most now + the store's one ttl (or max_age), and
    moves the key to the end of the ordered dict; so once the front entry is live, every
    entry written a ttl or more ago has expired, and expired sessions are removed from the
    front, each once, as later writes come by. A user index is a set of keys, which
    loses a key whenever its session goes.
    """

    __slots__ = ("_clock", "_entries", "_lock", "_peak", "_users")

    def __init__(self, clock: Clock | None) -> None:
        self._clock: Clock = time.monotonic if clock is None else clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._users: dict[str, dict[str, None]] = {}
        self._lock = threading.Lock()
        self._peak = 0  # the most entries since the tables were last rebuilt

    def execute(self, op: Op) -> Any:
        with self._lock:
            now = self._clock()
            if type(op) is Fetch:
                entry = self._live(op.key, now)
                if entry is None:
                    return None
                if op.touch_ms is not None:
                    self._moved(op.key, op.key, entry, now, op.touch_ms)
                return entry[0]
            if type(op) is Insert:
                self._purge(now)
                if self._live(op.key, now) is not None:
                    return False
                max_at = deadline(now, op.max_age_ms)
                expires_at = capped(deadline(now, op.ttl_ms), max_at)
                self._write(op.key, (op.value, expires_at, max_at, op.user_index))
                return True
            if type(op) is Refresh:
                entry = self._live(op.key, now)
                if entry is None:
                    return False
                if op.ttl_ms is not None:
                    self._moved(op.key, op.key, entry, now, op.ttl_ms)
                return True
            if type(op) is Delete:
                entry = self._drop(op.key)
                return entry is not None and not is_expired(entry[1], now)
            if type(op) is Rotate:
                return self._rotate(op, now)
            if type(op) is ListUser:
                keys = list(self._users.get(op.user_index, ()))
                return [k[len(op.head) :] for k in keys if self._live(k, now) is not None]
            if type(op) is DeleteUser:
                entries = [self._drop(key) for key in list(self._users.get(op.user_index, ()))]
                return sum(1 for e in entries if e is not None and not is_expired(e[1], now))
            raise TypeError(f"unknown operation {type(op).__name__}")

    def clear(self) -> None:
        with self._lock:
            self._entries = OrderedDict()
            self._users = {}
            self._peak = 0

    def _rotate(self, op: Rotate, now: float) -> bool | None:
        entry = self._live(op.key, now)
        if entry is None:
            return None
        if self._live(op.new_key, now) is not None:
            return False
        self._moved(op.key, op.new_key, entry, now, op.ttl_ms)
        return True

    def _live(self, key: str, now: float) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and is_expired(entry[1], now):
            self._drop(key)
            return None
        return entry

    def _moved(self, old: str, key: str, entry: _Entry, now: float, ttl_ms: int | None) -> None:
        # A session written again (refreshed, or rotated to a new key): a fresh ttl, but
        # never past its absolute deadline.
        if old != key:
            self._drop(old)
        value, _, max_at, index = entry
        self._write(key, (value, capped(deadline(now, ttl_ms), max_at), max_at, index))

    def _write(self, key: str, entry: _Entry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        self._peak = max(self._peak, len(self._entries))
        if entry[3] is not None:
            self._users.setdefault(entry[3], {})[key] = None

    def _drop(self, key: str) -> _Entry | None:
        entry = self._entries.pop(key, None)
        if entry is not None and entry[3] is not None:
            keys = self._users[entry[3]]
            del keys[key]
            if not keys:
                del self._users[entry[3]]
        return entry

    def _purge(self, now: float) -> None:
        entries = self._entries
        while entries:
            key, entry = next(iter(entries.items()))
            if not is_expired(entry[1], now):
                break
            self._drop(key)
        if len(entries) * 4 < self._peak:
            # A dict keeps its table at its largest size; after a mass expiry, copying
            # what is left gives the memory back (at most once per 3/4 of the peak gone).
            self._entries = OrderedDict(entries)
            self._users = dict(self._users)
            self._peak = len(self._entries)


class _MemoryStoreBase(BaseStore):
    __slots__ = ("_sessions",)

    def __init__(
        self,
        prefix: str = "sesh",
        ttl: Ttl = None,
        *,
        clock: Clock | None = None,
        **options: Unpack[Options],
    ):
        super().__init__(prefix, ttl, **options)
        self._sessions = _Sessions(clock)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "sesh",
        ttl: Ttl = None,
        **options: Unpack[Options],
    ) -> Self:
        """A new, empty store for ``memory://``."""
        parts = urlsplit(url)
        if parts.scheme != "memory" or parts.netloc or parts.path or parts.query or parts.fragment:
            raise ValueError("a memory store URL is exactly 'memory://' (it takes no options)")
        return cls(prefix, ttl, **options)


class MemoryStore(_MemoryStoreBase, SyncStore):
    """A SessionStore in this process's memory.

    Args:
        prefix: key prefix (kept for parity with the other stores).
        ttl: session lifetime in seconds or a timedelta; None or 0 for never.
        clock: monotonic seconds; defaults to ``time.monotonic``.
        options: ``track_users``, ``max_age``, ``hash_ids`` (``sesh.Options``; the README).
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
