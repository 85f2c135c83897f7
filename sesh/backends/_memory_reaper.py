"""The one thread that removes expired sessions from every memory store of a process, so
their memory comes back when they expire, whether or not the store is called again.

A store with sessions due registers itself (weakly: a store that is no longer used is
never kept alive by this); the thread sleeps until the earliest is due by that store's own
clock (at most ``LOOK_AGAIN`` seconds, so a store on an injected clock is looked at again
as that clock moves), asks each due store to reap, and sleeps again. It starts with the
first registration, ends when no store is registered, and a forked child starts its own.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import Protocol

_log = logging.getLogger("sesh")

__all__ = ["LOOK_AGAIN", "Reapable", "register"]

LOOK_AGAIN = 1.0
"""The longest the thread sleeps between looks at a store with sessions due."""


class Reapable(Protocol):
    def due_in(self) -> float | None:
        """Seconds until sessions are due to be removed (0 or less: now); None: none are."""

    def reap(self) -> None:
        """Removes what is due, in batches that let callers in between."""


_lock = threading.Lock()
_wake = threading.Condition(_lock)
_stores: weakref.WeakSet[Reapable] = weakref.WeakSet()
_thread: threading.Thread | None = None
_pid = os.getpid()


def register(store: Reapable) -> None:
    """Has ``store`` reaped when its sessions are due (it calls this when it first has
    sessions due, and whenever its earliest becomes earlier)."""
    global _thread, _pid
    with _lock:
        if _pid != os.getpid():  # a forked child: its parent's thread does not exist here
            _pid, _thread = os.getpid(), None
        _stores.add(store)
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="sesh memory reaper", daemon=True)
            _thread.start()
        else:
            _wake.notify()


def _run() -> None:
    global _thread
    while True:
        with _lock:
            due: list[Reapable] = []
            sleep = LOOK_AGAIN
            for store in list(_stores):
                try:
                    left = store.due_in()
                except Exception as exc:
                    _failed(store, exc)
                    continue
                if left is None:
                    _stores.discard(store)
                elif left <= 0:
                    due.append(store)
                else:
                    sleep = min(sleep, left)
            if not due:
                if not _stores:
                    _thread = None
                    return
                _wake.wait(sleep)
                continue
        for store in due:  # outside the lock: a store's reap takes its own
            try:
                store.reap()
            except Exception as exc:
                with _lock:
                    _failed(store, exc)
        del due


def _failed(store: Reapable, exc: Exception) -> None:
    # A store whose clock or state fails is left alone (its callers will meet the same
    # failure) rather than ending the thread for every store. The exception's text is not
    # logged: it could quote a key, which holds a session id.
    _log.error("sesh memory reaper: a store failed (%s); it is no longer reaped",
               type(exc).__name__)  # fmt: skip
    _stores.discard(store)
