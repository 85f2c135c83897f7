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
# Held by the thread while it reaps, and by os.fork() around the fork: a child is never
# born while a store's lock is held by a reaper thread it does not have.
_reaping = threading.Lock()
_stores: weakref.WeakSet[Reapable] = weakref.WeakSet()
_thread: threading.Thread | None = None


def _before_fork() -> None:
    # _reaping first: no one waits for _reaping while holding _lock, so a reap that
    # needs _lock (a store registering again) or a store's lock (held by a caller that
    # is registering) still gets it, and ends.
    _reaping.acquire()
    _lock.acquire()


def _after_fork_in_parent() -> None:
    _lock.release()
    _reaping.release()


def _after_fork_in_child() -> None:
    # The thread did not come along: new locks, and a thread of the child's own for the
    # stores it inherited.
    global _lock, _wake, _reaping, _thread
    _lock, _reaping = threading.Lock(), threading.Lock()
    _wake = threading.Condition(_lock)
    _thread = None
    if _stores:
        _start()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )


def register(store: Reapable) -> None:
    """Has ``store`` reaped when its sessions are due (it calls this when it first has
    sessions due, and whenever its earliest becomes earlier)."""
    with _lock:
        _stores.add(store)
        if _thread is None or not _thread.is_alive():
            _start()
        else:
            _wake.notify()


def _start() -> None:
    global _thread
    _thread = threading.Thread(target=_run, name="sesh memory reaper", daemon=True)
    _thread.start()


def _run() -> None:
    global _thread
    while True:
        with _lock:
            due, sleep = _due()
            if not due:
                if not _stores:
                    _thread = None
                    return
                _wake.wait(sleep)
                continue
        _reap(due)
        del due  # (so that a dropped store is not kept alive while the thread sleeps)


def _reap(due: list[Reapable]) -> None:
    failures: list[tuple[Reapable, Exception]] = []
    with _reaping:
        for store in due:  # outside _lock: a store's reap takes its own
            try:
                store.reap()
            except Exception as exc:
                failures.append((store, exc))
    with _lock:
        for failed, error in failures:
            _failed(failed, error)


def _due() -> tuple[list[Reapable], float]:
    # The stores due now, and how long until the next one is (at most LOOK_AGAIN). A
    # function of its own: the loop's names would keep the last store alive while the
    # thread sleeps.
    due, sleep = [], LOOK_AGAIN
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
    return due, sleep


def _failed(store: Reapable, exc: Exception) -> None:
    # A store whose clock or state fails is left alone (its callers will meet the same
    # failure) rather than ending the thread for every store; it is looked at again when
    # its next session is filed earlier than any before. The exception's text is not
    # logged: it could quote a key, which holds a session id.
    _log.error("sesh memory reaper: a store failed (%s); it is no longer reaped",
               type(exc).__name__)  # fmt: skip
    _stores.discard(store)
