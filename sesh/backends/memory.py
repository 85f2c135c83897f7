"""In-process stores: for tests, and for apps that run as a single process.

Sessions live in a dict and are lost when the process ends; each store object has its own.
The clock is injectable (``clock=`` any zero-argument callable returning monotonic seconds),
so tests can move time instead of sleeping.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from typing_extensions import Self, Unpack, assert_never

from sesh.backends import _memory_reaper
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
    is_expired,
)

__all__ = ["AsyncMemoryStore", "MemoryStore"]

Clock = Callable[[], float]


# A session as the store keeps it: (user_id, expires_at) in the default layout, and
# (user_id, expires_at, max_at, user_index) when it has an absolute deadline (max_age) or
# is filed under its user's index (track_users). expires_at and max_at are clock seconds
# or None. Plain tuples: the smallest object that holds them (bytes per session count).
_Entry = tuple[Any, ...]

GRAIN = 1.0
"""Seconds of deadlines that share one expiry bucket, at least; a store with a long ttl
uses ttl / ``BUCKETS_PER_TTL``, so that it keeps at most that many buckets."""

BUCKETS_PER_TTL = 512

REFILE_SLACK = 4096
"""Filings of sessions since gone (ended, rotated away) that may wait for their bucket:
past this and twice the live sessions, the buckets are rebuilt from the live ones."""

BATCH = 256
"""Expired sessions a write removes at most, and the reaper per hold of the lock."""


class _Sessions:
    """The state behind a MemoryStore or an AsyncMemoryStore, safe across threads.

    Sessions are in a dict. A new session with a deadline also files its key in the
    bucket of that deadline (``GRAIN`` seconds wide or more; a heap holds them in order),
    so expired sessions are found without a scan: a write removes up to ``BATCH`` of them
    from the buckets that are due, and the process's reaper thread (``_memory_reaper``)
    removes the rest when they fall due, with no call needed, then copies the tables once
    three quarters of their peak is gone (a dict never gives its table back by itself).
    A refresh only ever moves a deadline later, so it files nothing: a key found still
    live in a bucket that is due is filed again under its current deadline, and a key
    whose session is gone (ended, rotated away) is skipped. So each session takes one
    slot in one bucket, however often it is refreshed. A user index is a dict of keys,
    which loses a key whenever its session goes.
    """

    __slots__ = ("__weakref__", "_buckets", "_clock", "_entries", "_filed", "_first_due",
                 "_grain", "_lock", "_peak", "_slots", "_users")  # fmt: skip

    def __init__(self, clock: Clock | None, ttl_ms: int | None = None) -> None:
        self._grain = max(GRAIN, (ttl_ms or 0) / 1000 / BUCKETS_PER_TTL)
        self._filed = 0  # keys in the buckets, live or not
        self._clock: Clock = time.monotonic if clock is None else clock
        self._entries: dict[str, _Entry] = {}
        self._users: dict[str, dict[str, None]] = {}
        self._buckets: dict[int, list[str]] = {}
        self._slots: list[int] = []  # a heap of the buckets' numbers
        self._first_due: float | None = None  # when the earliest bucket falls due
        self._lock = threading.Lock()
        self._peak = 0  # the most entries since the tables were last rebuilt

    def execute(self, op: Op) -> Any:
        with self._lock:
            now = self._clock()
            match op:
                # Fields unpacked, not read one by one: a NamedTuple's fields are
                # descriptors that Python 3.11 does not specialize (2% of a liv).
                case Fetch():
                    key, ttl_ms, _ = op
                    entry = self._live(key, now)
                    if entry is None:
                        return None
                    if ttl_ms is not None:
                        self._rewrite(key, key, entry, now, ttl_ms)
                    return entry[0]
                case Insert():
                    return self._insert(op, now)
                case Refresh():
                    key, ttl_ms, _ = op
                    entry = self._live(key, now)
                    if entry is not None and ttl_ms is not None:
                        self._rewrite(key, key, entry, now, ttl_ms)
                    return entry is not None
                case Delete():
                    entry = self._drop(op.key)
                    return entry is not None and not is_expired(entry[1], now)
                case Rotate():
                    return self._rotate(op, now)
                case ListUser():
                    keys = list(self._users.get(op.user_index, ()))
                    return [k[len(op.head) :] for k in keys if self._live(k, now) is not None]
                case DeleteUser():
                    keys = list(self._users.get(op.user_index, ()))
                    entries = [self._drop(key) for key in keys]
                    return sum(1 for e in entries if e and not is_expired(e[1], now))
                case Take():
                    raise TypeError("a memory store rotates in one step: it takes no Take")
                case _:
                    assert_never(op)

    def clear(self) -> None:
        with self._lock:
            self._entries = {}
            self._users = {}
            self._buckets = {}
            self._slots = []
            self._first_due = None
            self._peak = 0
            self._filed = 0

    def due_in(self) -> float | None:
        """Seconds until expired sessions are due to be removed; None: none are. Read
        without the lock (by the reaper, which must never wait on a store while holding
        its own): a value a moment old only moves a reap by a moment."""
        if self._overfiled():
            return 0.0
        first = self._first_due
        return None if first is None else first - self._clock()

    def _overfiled(self) -> bool:
        return self._filed > 2 * len(self._entries) + REFILE_SLACK

    def reap(self) -> None:
        """Removes every expired session that is due, ``BATCH`` per hold of the lock."""
        while True:
            with self._lock:
                now = self._clock()
                if self._first_due is None or self._first_due > now:
                    self._shrink()
                    if self._overfiled():
                        self._refile()
                    return
                self._purge(now, BATCH)

    def _insert(self, op: Insert, now: float) -> bool:
        if self._first_due is not None and self._first_due <= now:
            self._purge(now, BATCH)
        key, value, ttl_ms, max_age_ms, index, _ = op  # unpacked: see execute
        if self._live(key, now) is not None:
            return False
        expires_at = None if ttl_ms is None else now + ttl_ms / 1000
        if max_age_ms is None and index is None:  # the default layout
            self._add(key, (value, expires_at))
        else:
            max_at = None if max_age_ms is None else now + max_age_ms / 1000
            self._add(key, (value, capped(expires_at, max_at), max_at, index))
        return True

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
        if entry is not None and entry[1] is not None and entry[1] <= now:
            self._drop(key)
            return None
        return entry

    def _rewrite(self, old: str, key: str, entry: _Entry, now: float, ttl_ms: int | None) -> None:
        # A session written again with a fresh ttl, but never past its absolute deadline:
        # refreshed in place (key == old), or rotated to a new key.
        expires_at = None if ttl_ms is None else now + ttl_ms / 1000
        if len(entry) == 2:
            entry = (entry[0], expires_at)
        else:
            max_at = entry[2]
            if max_at is not None and (expires_at is None or max_at < expires_at):
                expires_at = max_at
            entry = (entry[0], expires_at, max_at, entry[3])
        if old != key:
            self._drop(old)
            self._add(key, entry)
        else:
            self._entries[key] = entry  # a later deadline: its bucket finds it live, files it again

    def _add(self, key: str, entry: _Entry) -> None:
        # A session under a key where none is: in the table, its user's index, and the
        # bucket of its deadline.
        entries = self._entries
        entries[key] = entry
        if len(entries) > self._peak:
            self._peak = len(entries)
        if len(entry) == 4 and entry[3] is not None:
            self._users.setdefault(entry[3], {})[key] = None
        if entry[1] is not None:
            self._file(key, entry[1])

    def _file(self, key: str, expires_at: float) -> None:
        """Files ``key`` in the bucket of its deadline."""
        slot = self._slot(expires_at)
        bucket = self._buckets.get(slot)
        if bucket is None:
            self._buckets[slot] = bucket = []
            heapq.heappush(self._slots, slot)
            due = slot * self._grain
            if self._first_due is None or due < self._first_due:
                self._first_due = due
                _memory_reaper.register(self)
        bucket.append(key)
        self._filed += 1

    def _drop(self, key: str) -> _Entry | None:
        entry = self._entries.pop(key, None)
        if entry is not None and len(entry) == 4 and entry[3] is not None:
            keys = self._users[entry[3]]
            del keys[key]
            if not keys:
                del self._users[entry[3]]
        return entry

    def _purge(self, now: float, budget: int) -> None:
        # Goes through up to ``budget`` keys of the buckets that are due: an expired
        # session is removed, a refreshed one filed again under its later deadline.
        slots, buckets, entries = self._slots, self._buckets, self._entries
        grain = self._grain
        while slots and slots[0] * grain <= now and budget > 0:
            slot = slots[0]
            bucket = buckets[slot]
            while bucket and budget > 0:
                budget -= 1
                key = bucket.pop()
                self._filed -= 1
                entry = entries.get(key)
                if entry is None or entry[1] is None:
                    continue
                if entry[1] <= now:
                    self._drop(key)
                elif self._slot(entry[1]) != slot:
                    self._file(key, entry[1])
            if not bucket:
                del buckets[heapq.heappop(slots)]
        self._first_due = slots[0] * grain if slots else None

    def _refile(self) -> None:
        # The buckets hold mostly sessions since gone (a long ttl, many logins, rotations
        # and logouts): filed again from the live ones, in one hold of the lock, rarely
        # (amortized over the REFILE_SLACK and 2x live filings that led here).
        self._buckets, self._slots, self._first_due, self._filed = {}, [], None, 0
        for key, entry in self._entries.items():
            if entry[1] is not None:
                self._file(key, entry[1])

    def _slot(self, expires_at: float) -> int:
        # The bucket that falls due at a deadline, or the first after it: never before.
        return math.ceil(expires_at / self._grain)

    def _shrink(self) -> None:
        if len(self._entries) * 4 < self._peak:
            # A dict keeps its table at its largest size; after a mass expiry, copying
            # what is left gives the memory back (at most once per 3/4 of the peak gone).
            self._entries = dict(self._entries)
            self._users = dict(self._users)
            self._buckets = {slot: list(keys) for slot, keys in self._buckets.items()}
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
        self._sessions = _Sessions(clock, self._core.ttl_ms)

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
