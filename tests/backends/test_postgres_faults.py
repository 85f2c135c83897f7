"""What a PostgreSQL store goes through: a stalled server, restarts, many processes.

The stall and restart tests run on a server of the module's own (``private_postgres``),
since they stop it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from sesh.backends.postgres import AsyncPostgresStore, PostgresStore
from sesh.errors import BackendError
from testbed import postgres_worker
from testbed.postgres import PostgresServer


@pytest.fixture
def server(private_postgres: PostgresServer) -> Iterator[PostgresServer]:
    yield private_postgres
    private_postgres.resume()  # whatever the test did
    if private_postgres.process is None or private_postgres.process.poll() is not None:
        private_postgres.start()


def new_table() -> str:
    return f"t_{secrets.token_hex(6)}"


def test_a_stalled_server_fails_a_call_within_the_default_deadline(server: PostgresServer) -> None:
    # from_url's defaults: a call waits 2 s on the server, then BackendError, not a hang.
    with PostgresStore.from_url(server.url, ttl=60, table=new_table()) as store:
        session_id = store.set("alice")
        server.stall()
        try:
            for _ in range(2):  # the call on the pooled connection, then one needing a new one
                started = time.monotonic()
                with pytest.raises(BackendError, match="PostgreSQL Fetch failed") as caught:
                    store.get(session_id)
                assert 1.5 < time.monotonic() - started < 3.5
                assert session_id not in str(caught.value)
        finally:
            server.resume()
        assert store.get(session_id) == "alice"  # the store recovers with no caller action


def test_a_stalled_server_fails_an_async_call_within_the_deadline(server: PostgresServer) -> None:
    async def main() -> None:
        store = AsyncPostgresStore.from_url(server.url, ttl=60, table=new_table(), call_timeout=1)
        try:
            session_id = await store.set("alice")
            other = asyncio.create_task(asyncio.sleep(0.2))  # the loop stays free meanwhile
            server.stall()
            try:
                started = time.monotonic()
                with pytest.raises(BackendError, match="did not answer within 1 s"):
                    await store.liv(session_id)
                assert 0.8 < time.monotonic() - started < 2.0
                assert other.done()
            finally:
                server.resume()
            assert await store.get(session_id) == "alice"
        finally:
            await store.aclose()

    asyncio.run(main())


@pytest.mark.parametrize("immediate", [False, True], ids=["fast stop", "crash stop"])
def test_acknowledged_sessions_survive_a_restart_and_the_pool_reconnects(
    server: PostgresServer, immediate: bool
) -> None:
    with PostgresStore.from_url(server.url, ttl=60, table=new_table()) as store:
        session_ids = [store.set(f"user{i}") for i in range(20)]
        server.restart(immediate=immediate)
        # No caller action: the pool drops the connections the server closed.
        assert [store.get(s) for s in session_ids] == [f"user{i}" for i in range(20)]


def test_an_async_store_reconnects_after_a_restart(server: PostgresServer) -> None:
    async def main() -> None:
        store = AsyncPostgresStore.from_url(server.url, ttl=60, table=new_table())
        try:
            session_id = await store.set("alice")
            server.restart(immediate=True)
            assert await store.get(session_id) == "alice"
        finally:
            await store.aclose()

    asyncio.run(main())


def test_an_unlogged_table_trades_its_rows_for_speed_on_a_crash(server: PostgresServer) -> None:
    # What unlogged=True means: a crash (not a clean stop) empties the table.
    with PostgresStore.from_url(server.url, ttl=60, table=new_table(), unlogged=True) as store:
        session_id = store.set("alice")
        server.restart(immediate=False)
        assert store.get(session_id) == "alice"
        server.restart(immediate=True)
        assert store.get(session_id) is None


def test_a_down_server_is_a_backend_error_then_used_again(server: PostgresServer) -> None:
    with PostgresStore.from_url(server.url, ttl=60, table=new_table()) as store:
        session_id = store.set("alice")
        server.stop()
        started = time.monotonic()
        with pytest.raises(BackendError):
            store.get(session_id)
        assert time.monotonic() - started < 3.5
        server.start()
        assert store.get(session_id) == "alice"


def _rows(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def test_four_processes_of_threads_and_tasks_share_one_table(postgres_url: str) -> None:
    # New table: the four also race to create it. Two processes use 8 threads each, two
    # use 8 asyncio tasks each; every caller sets, gets, refreshes, rotates, and ends some.
    table = new_table()
    context = multiprocessing.get_context("spawn")
    args = [(postgres_url, table, w, 3.0, 8, w % 2 == 1) for w in range(4)]
    with context.Pool(4) as pool:
        results: list[dict[str, Any]] = pool.starmap(postgres_worker.work, args)
    assert [r["errors"] for r in results] == [[], [], [], []]
    assert all(r["rounds"] > 20 for r in results), [r["rounds"] for r in results]
    kept = {sid: user for r in results for sid, user in r["kept"].items()}
    killed = [sid for r in results for sid in r["killed"]]
    assert len(kept) == sum(len(r["kept"]) for r in results), "two callers got one id"
    with PostgresStore.from_url(postgres_url, table=table, track_users=True) as store:
        for session_id, user in kept.items():
            assert store.get(session_id) == user
        for session_id in killed:
            assert store.get(session_id) is None
    assert _rows(postgres_url, table) == len(kept), "a session was lost or written twice"


def test_callers_never_read_no_session_while_the_server_dies_and_comes_back(
    server: PostgresServer,
) -> None:
    # A stream of reads through a crash and a restart: each is the user or BackendError,
    # never None (which a web app would take for "log the user out").
    seen: Counter[str] = Counter()
    stop = threading.Event()
    with PostgresStore.from_url(server.url, ttl=60, table=new_table()) as store:
        session_id = store.set("alice")

        def stream() -> None:
            while not stop.is_set():
                try:
                    seen[repr(store.get(session_id))] += 1
                except BackendError:
                    seen["BackendError"] += 1

        reader = threading.Thread(target=stream)
        reader.start()
        try:
            time.sleep(0.2)
            server.stop(immediate=True)
            time.sleep(0.5)
            server.start()
            time.sleep(0.5)
        finally:
            stop.set()
            reader.join(10)
        # A read during the outage waits for a connection (up to call_timeout) or fails;
        # none says "no session".
        assert set(seen) <= {"'alice'", "BackendError"}, seen
        assert seen["'alice'"] > 10, seen
        assert store.get(session_id) == "alice"


def test_a_cancelled_async_call_on_a_stalled_server_ends_at_once(server: PostgresServer) -> None:
    # asyncio.wait_for's timeout cancels the call: it must not wait on the stalled server
    # to acknowledge a cancel request (psycopg's own way: up to 10 s).
    async def main() -> None:
        store = AsyncPostgresStore.from_url(server.url, ttl=60, table=new_table())
        try:
            session_id = await store.set("alice")
            server.stall()
            try:
                started = time.monotonic()
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(store.get(session_id), 0.3)
                assert time.monotonic() - started < 1.0
            finally:
                server.resume()
            assert await store.get(session_id) == "alice"  # the pool replaced the connection
        finally:
            await store.aclose()

    asyncio.run(main())


def test_first_calls_while_the_server_is_down_share_one_attempt(server: PostgresServer) -> None:
    # Five threads make a new store's first call at once: each gets BackendError within
    # the one setup attempt's time, not one attempt after another (2, 4, ... 10 s).
    server.stop()
    with PostgresStore.from_url(server.url, ttl=60, table=new_table()) as store:
        took: list[float] = []

        def first_call() -> None:
            started = time.monotonic()
            with pytest.raises(BackendError, match="PostgreSQL setup failed"):
                store.get("A" * 43 + "=")
            took.append(time.monotonic() - started)

        callers = [threading.Thread(target=first_call) for _ in range(5)]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(30)
        assert len(took) == 5
        assert max(took) < 3.5, took
        server.start()
        session_id = store.set("alice")  # a later call tries again, and works
        assert store.get(session_id) == "alice"
