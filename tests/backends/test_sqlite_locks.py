"""A writer stuck elsewhere (another process holding the write lock) stalls only the calls
that must wait for it, each for the busy timeout, never the rest of the process."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest

import sesh
from sesh.backends.sqlite import AsyncSqliteStore, SqliteStore

BUSY = 0.6  # the stores' busy timeout here: long enough to see who waits, short for a test


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "s.db"


@pytest.fixture
def alice(db: Path) -> str:
    """A session made before the lock is taken."""
    with SqliteStore(db, ttl=60) as store:
        return store.set("alice")


@pytest.fixture
def write_lock(db: Path, alice: str) -> Iterator[None]:
    """Another connection (as another process would) holds the write lock throughout."""
    with closing(sqlite3.connect(db, isolation_level=None)) as holder:
        holder.execute("BEGIN IMMEDIATE")
        yield
        holder.execute("ROLLBACK")


class TimedSet(threading.Thread):
    """One ``set`` on another thread: when it started and ended, and what it got."""

    def __init__(self, store: SqliteStore) -> None:
        super().__init__()
        self.store = store
        self.began = threading.Event()
        self.started = self.ended = 0.0
        self.outcome = ""

    def run(self) -> None:
        self.started = time.monotonic()
        self.began.set()
        try:
            self.store.set("bob")
            self.outcome = "made"
        except sesh.BackendError as exc:
            self.outcome = str(exc)
        self.ended = time.monotonic()

    @property
    def waited(self) -> float:
        return self.ended - self.started


@pytest.mark.usefixtures("write_lock")
def test_a_read_does_not_wait_for_a_stuck_write(db: Path, alice: str) -> None:
    store = SqliteStore(db, ttl=60, busy_timeout=BUSY)
    writer = TimedSet(store)
    writer.start()
    writer.began.wait()
    time.sleep(0.05)  # the write is in its busy wait by now (it fails only after BUSY)
    started = time.monotonic()
    assert store.get(alice) == "alice"
    read_ended = time.monotonic()
    writer.join()
    store.close()
    read_took = read_ended - started
    assert read_took < BUSY / 2, f"a read waited {read_took:.2f} s behind a stuck write"
    assert writer.started < started  # the read came while the write waited...
    assert read_ended < writer.ended  # ...and was done before it
    assert "locked" in writer.outcome  # the write itself fails after the busy timeout
    assert BUSY * 0.9 < writer.waited < BUSY * 3


@pytest.mark.usefixtures("write_lock")
def test_stuck_writes_wait_side_by_side_not_in_a_queue(db: Path) -> None:
    store = SqliteStore(db, ttl=60, busy_timeout=BUSY)
    started = time.monotonic()
    writers = [TimedSet(store) for _ in range(3)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    took = time.monotonic() - started
    store.close()
    assert all("locked" in writer.outcome for writer in writers), [w.outcome for w in writers]
    # In a queue, three would take three timeouts; side by side, about one.
    assert took < BUSY * 2.5, f"three stuck writes took {took:.2f} s"


@pytest.mark.usefixtures("write_lock")
def test_the_async_store_keeps_off_the_default_executor(db: Path, alice: str) -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(1))
        store = AsyncSqliteStore(db, ttl=60, busy_timeout=BUSY)
        stuck = asyncio.create_task(store.set("bob"))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        assert await loop.run_in_executor(None, lambda: "free") == "free"
        assert await store.get(alice) == "alice"
        took = time.monotonic() - started
        assert not stuck.done()  # the read overlapped the stuck write
        with pytest.raises(sesh.BackendError, match="locked"):
            await stuck
        await store.aclose()
        assert took < BUSY / 2, f"waited {took:.2f} s behind a stuck write"

    asyncio.run(scenario())
