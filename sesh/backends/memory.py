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
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from typing_extensions import Self, Unpack, assert_never

from sesh.backends.base import (
    AsyncStore,
    BaseStore,
    Delete,
    DeleteUser,
    Fetch,
    Insert,
    ListUser,
    Op,
    Options,
    Refresh,
    Rotate,
    SyncStore,
    Take,
    Ttl,
    capped,
    deadline,
    is_expired,
)

__all__ = ["AsyncMemoryStore", "MemoryStore"]

Clock = Callable[[], float]


class _Entry(NamedTuple):
    """A session as the store keeps it."""

    user_id: str
    expires_at: float | None
    max_at: float | None
    """The absolute deadline (``max_age``), or None."""
    user_index: str | None
    """The user's index it is filed under (``track_users``), or None."""


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
            match op:
                case Fetch():
                    entry = self._live(op.key, now)
                    if entry is not None and op.ttl_ms is not None:
                        self._rewrite(op.key, op.key, entry, now, op.ttl_ms)
                    return None if entry is None else entry.user_id
                case Insert():
                    self._purge(now)
                    if self._live(op.key, now) is not None:
                        return False
                    max_at = deadline(now, op.max_age_ms)
                    expires_at = capped(deadline(now, op.ttl_ms), max_at)
                    self._write(op.key, _Entry(op.value, expires_at, max_at, op.user_index))
                    return True
                case Refresh():
                    entry = self._live(op.key, now)
                    if entry is not None and op.ttl_ms is not None:
                        self._rewrite(op.key, op.key, entry, now, op.ttl_ms)
                    return entry is not None
                case Delete():
                    entry = self._drop(op.key)
                    return entry is not None and not is_expired(entry.expires_at, now)
                case Rotate():
                    return self._rotate(op, now)
                case ListUser():
                    keys = list(self._users.get(op.user_index, ()))
                    return [k[len(op.head) :] for k in keys if self._live(k, now) is not None]
                case DeleteUser():
                    keys = list(self._users.get(op.user_index, ()))
                    entries = [self._drop(key) for key in keys]
                    return sum(1 for e in entries if e and not is_expired(e.expires_at, now))
                case Take():
                    raise TypeError("a memory store rotates in one step: it takes no Take")
                case _:
                    assert_never(op)

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
        self._rewrite(op.key, op.new_key, entry, now, op.ttl_ms)
        return True

    def _live(self, key: str, now: float) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and is_expired(entry.expires_at, now):
            self._drop(key)
            return None
        return entry

    def _rewrite(self, old: str, key: str, entry: _Entry, now: float, ttl_ms: int | None) -> None:
        # A session written again with a fresh ttl, but never past its absolute deadline:
        # refreshed in place (key == old), or rotated to a new key.
        if old != key:
            self._drop(old)
        expires_at = capped(deadline(now, ttl_ms), entry.max_at)
        self._write(key, entry._replace(expires_at=expires_at))

    def _write(self, key: str, entry: _Entry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        self._peak = max(self._peak, len(self._entries))
        if entry.user_index is not None:
            self._users.setdefault(entry.user_index, {})[key] = None

    def _drop(self, key: str) -> _Entry | None:
        entry = self._entries.pop(key, None)
        if entry is not None and entry.user_index is not None:
            keys = self._users[entry.user_index]
            del keys[key]
            if not keys:
                del self._users[entry.user_index]
        return entry

    def _purge(self, now: float) -> None:
        entries = self._entries
        while entries:
            key, entry = next(iter(entries.items()))
            if not is_expired(entry.expires_at, now):
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
        options: ``track_users``, ``max_age``, ``hash_ids`` (``sesh.Options``; docs/options.md).
    """

    __slots__ = ()

    def close(self) -> None:
        """Drops every session."""
        self._sessions.clear()

    def execute(self, op: Op) -> Any:
        """Carries out one operation (see ``sesh.backends.base``)."""
        return self._sessions.execute(op)


class AsyncMemoryStore(_MemoryStoreBase, AsyncStore):
    """An AsyncSessionStore in this process's memory; the same as MemoryStore, awaitable.

    Takes the same arguments as ``MemoryStore``.
    """

    __slots__ = ()

    async def aclose(self) -> None:
        """Drops every session."""
        self._sessions.clear()

    async def execute(self, op: Op) -> Any:
        """Carries out one operation (see ``sesh.backends.base``)."""
        return self._sessions.execute(op)
