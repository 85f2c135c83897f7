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


def timed_set(store: SqliteStore, out: list[tuple[float, str]]) -> None:
    started = time.monotonic()
    try:
        store.set("bob")
        outcome = "made"
    except sesh.BackendError as exc:
        outcome = str(exc)
    out.append((time.monotonic() - started, outcome))


@pytest.mark.usefixtures("write_lock")
def test_a_read_does_not_wait_for_a_stuck_write(db: Path, alice: str) -> None:
    store = SqliteStore(db, ttl=60, busy_timeout=BUSY)
    writes: list[tuple[float, str]] = []
    writer = threading.Thread(target=timed_set, args=(store, writes))
    writer.start()
    time.sleep(0.05)
    started = time.monotonic()
    assert store.get(alice) == "alice"
    read_took = time.monotonic() - started
    writer.join()
    store.close()
    assert read_took < BUSY / 2, f"a read waited {read_took:.2f} s behind a stuck write"
    ((waited, outcome),) = writes
    assert "locked" in outcome  # the write itself fails after the busy timeout
    assert BUSY * 0.9 < waited < BUSY * 3


@pytest.mark.usefixtures("write_lock")
def test_stuck_writes_wait_side_by_side_not_in_a_queue(db: Path) -> None:
    store = SqliteStore(db, ttl=60, busy_timeout=BUSY)
    writes: list[tuple[float, str]] = []
    started = time.monotonic()
    writers = [threading.Thread(target=timed_set, args=(store, writes)) for _ in range(3)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    took = time.monotonic() - started
    store.close()
    assert all("locked" in outcome for _, outcome in writes), writes
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
        with pytest.raises(sesh.BackendError, match="locked"):
            await stuck
        await store.aclose()
        assert took < BUSY / 2, f"waited {took:.2f} s behind a stuck write"

    asyncio.run(scenario())
