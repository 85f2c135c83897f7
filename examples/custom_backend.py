"""A custom backend on sesh's public base: a dict, one lock, one operation at a time.

It implements only ``execute``; ids, validation, key layouts, the options, collision
retry and rotation come from ``sesh.backends.base.SyncStore``. sesh's own tests run the
conformance kit on it (``tests/test_custom_backend.py``), every capability declared.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from typing_extensions import Unpack, assert_never

from sesh.backends.base import (
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


class DictStore(SyncStore):
    """Sessions in a dict: key -> [user id, deadline, absolute deadline, user index]."""

    def __init__(
        self,
        prefix: str = "sesh",
        ttl: Ttl = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        **options: Unpack[Options],
    ) -> None:
        super().__init__(prefix, ttl, **options)
        self.clock = clock
        self.rows: dict[str, list[Any]] = {}
        self.lock = threading.Lock()  # each operation is one atomic step

    def execute(self, op: Op) -> Any:
        with self.lock:
            now = self.clock()
            match op:
                case Fetch():
                    row = self._live(op.key, now)
                    if row is not None and op.ttl_ms is not None:
                        row[1] = capped(deadline(now, op.ttl_ms), row[2])
                    return None if row is None else row[0]
                case Insert():
                    if self._live(op.key, now) is not None:
                        return False
                    max_at = deadline(now, op.max_age_ms)
                    expires = capped(deadline(now, op.ttl_ms), max_at)
                    self.rows[op.key] = [op.value, expires, max_at, op.user_index]
                    return True
                case Refresh():
                    row = self._live(op.key, now)
                    if row is not None and op.ttl_ms is not None:
                        row[1] = capped(deadline(now, op.ttl_ms), row[2])
                    return row is not None
                case Delete():
                    row = self.rows.pop(op.key, None)
                    return row is not None and not is_expired(row[1], now)
                case Rotate():
                    row = self._live(op.key, now)
                    if row is None:
                        return None
                    if self._live(op.new_key, now) is not None:
                        return False
                    del self.rows[op.key]
                    row[1] = capped(deadline(now, op.ttl_ms), row[2])
                    self.rows[op.new_key] = row
                    return True
                case ListUser():
                    keys = [key for key, row in self.rows.items() if row[3] == op.user_index]
                    live = [key for key in keys if self._live(key, now) is not None]
                    return [key[len(op.head) :] for key in live]
                case DeleteUser():
                    keys = [key for key, row in self.rows.items() if row[3] == op.user_index]
                    ended = [self.rows.pop(key) for key in keys]
                    return sum(1 for row in ended if not is_expired(row[1], now))
                case Take():
                    raise TypeError("this store rotates in one step")
                case _:
                    assert_never(op)

    def _live(self, key: str, now: float) -> list[Any] | None:
        row = self.rows.get(key)
        if row is not None and is_expired(row[1], now):
            del self.rows[key]
            return None
        return row
