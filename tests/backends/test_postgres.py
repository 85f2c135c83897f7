"""PostgresStore and AsyncPostgresStore against the kit, and what only PostgreSQL has: the
rows as stored, server time, purging through the deadline index, pools of the app's own."""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

import sesh
from sesh._validate import Ttl
from sesh.backends import _postgres_sql
from sesh.backends.postgres import (
    AsyncDeadlineConnection,
    AsyncPostgresStore,
    DeadlineConnection,
    PostgresStore,
)
from sesh.testing import CAPABILITIES, AsyncSessionStoreConformance, SessionStoreConformance


@pytest.fixture(scope="module")
def admin(postgres_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A superuser's autocommit connection, to look at and age the rows."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        yield conn


def one(conn: psycopg.Connection[Any], query: str, params: Any = None) -> tuple[Any, ...]:
    """The one row a query returns."""
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return tuple(row)


def new_table() -> str:
    return f"t_{secrets.token_hex(6)}"


class _InOwnTable:
    """Each test's stores share a table of the test's own, which the first store creates.
    Time passes by moving every deadline in it back (the server's clock is the store's)."""

    capabilities = CAPABILITIES

    @pytest.fixture(autouse=True)
    def _table(self, postgres_url: str, admin: psycopg.Connection[Any]) -> Iterator[None]:
        self.url = postgres_url
        self.admin = admin
        self.table = new_table()
        yield
        admin.execute(f"DROP TABLE IF EXISTS {self.table}")

    def dump(self, store: Any) -> bytes:
        rows = self.admin.execute(f"SELECT key, value, user_index FROM {self.table}").fetchall()
        return b"".join(bytes(col) for row in rows for col in row if col is not None)

    def pass_time(self, seconds: float) -> None:
        self.admin.execute(
            f"UPDATE {self.table} SET expires_at = expires_at - make_interval(secs => %s),"
            " max_at = max_at - make_interval(secs => %s)",
            (seconds, seconds),
        )


class TestPostgresStore(_InOwnTable, SessionStoreConformance):
    def make_store(self, *, prefix: str, ttl: Ttl, **options: Any) -> Any:
        return sesh.from_url(self.url, prefix=prefix, ttl=ttl, table=self.table, **options)


class TestAsyncPostgresStore(_InOwnTable, AsyncSessionStoreConformance):
    def make_store(self, *, prefix: str, ttl: Ttl, **options: Any) -> Any:
        return sesh.async_from_url(self.url, prefix=prefix, ttl=ttl, table=self.table, **options)


@pytest.fixture
def table(admin: psycopg.Connection[Any]) -> Iterator[str]:
    name = new_table()
    yield name
    admin.execute(f"DROP TABLE IF EXISTS {name}")


@pytest.fixture
def store(postgres_url: str, table: str) -> Iterator[PostgresStore]:
    with PostgresStore.from_url(postgres_url, ttl=60, table=table, track_users=True) as made:
        yield made


def test_rows_hold_the_prefixed_key_and_the_user_id_as_utf8_bytes(
    store: PostgresStore, admin: psycopg.Connection[Any], table: str
) -> None:
    session_id = store.set("zoë\x00")
    key, value, index = one(admin, f"SELECT key, value, user_index FROM {table}")
    # The core's layout (a tag of the id's first characters keeps a user's rows together
    # on a Redis Cluster; here it is just text).
    assert bytes(key).startswith(b"sesh:")
    assert bytes(key).endswith(session_id.encode())
    assert bytes(value) == "zoë\x00".encode()
    assert bytes(index).startswith(b"sesh:")
    assert bytes(index).endswith("zoë\x00".encode())


def test_deadlines_are_the_database_servers_clock(
    store: PostgresStore, admin: psycopg.Connection[Any], table: str
) -> None:
    # The row's deadline is the server's now + ttl, whatever the client's clock says.
    store.set("alice")
    (late,) = one(admin, f"SELECT expires_at - clock_timestamp() FROM {table}")
    assert 59 < late.total_seconds() <= 60


def test_a_session_expires_on_the_real_clock(postgres_url: str, table: str) -> None:
    with PostgresStore.from_url(postgres_url, ttl=0.3, table=table) as short:
        kept, dropped = short.set("alice"), short.set("bob")
        time.sleep(0.2)
        assert short.liv(kept)
        time.sleep(0.15)  # 0.35 s after set: past bob's deadline, not kept's refreshed one
        assert short.get(dropped) is None
        assert short.get(kept) == "alice"


def test_stores_with_different_prefixes_share_a_table_unseen(postgres_url: str, table: str) -> None:
    with (
        PostgresStore.from_url(postgres_url, prefix="app1", table=table, track_users=True) as one,
        PostgresStore.from_url(postgres_url, prefix="app2", table=table, track_users=True) as two,
    ):
        first = one.set("alice")
        two.set("alice")
        assert two.get(first) is None
        assert not two.die(first)
        assert one.sessions("alice") == [first]
        assert two.die_all("alice") == 1
        assert one.get(first) == "alice"


def _age_all(admin: psycopg.Connection[Any], table: str, seconds: float) -> None:
    admin.execute(
        f"UPDATE {table} SET expires_at = expires_at - make_interval(secs => %s)", (seconds,)
    )


def test_purge_deletes_expired_rows_in_bounded_batches_oldest_first(
    store: PostgresStore, admin: psycopg.Connection[Any], table: str
) -> None:
    expired = [store.set(f"old{i}") for i in range(5)]
    _age_all(admin, table, 120)
    live = store.set("new")
    assert store.purge(batch=3) == 3
    assert store.purge() == 2
    assert store.purge() == 0
    (rows,) = one(admin, f"SELECT count(*) FROM {table}")
    assert rows == 1
    assert store.get(live) == "new"
    assert all(store.get(gone) is None for gone in expired)


def test_every_purge_every_th_insert_purges(
    store: PostgresStore, admin: psycopg.Connection[Any], table: str
) -> None:
    for i in range(_postgres_sql.PURGE_EVERY - 1):
        store.set(f"u{i}")
    _age_all(admin, table, 120)
    store.set("last")  # the PURGE_EVERY-th insert
    (rows,) = one(admin, f"SELECT count(*) FROM {table}")
    assert rows == 1


def test_purge_and_user_lookups_go_through_the_indexes(
    store: PostgresStore, admin: psycopg.Connection[Any], table: str
) -> None:
    # A table of 20 000 rows, analysed: the statements must not scan it.
    store.setup()
    admin.execute(
        f"INSERT INTO {table} (key, value, expires_at, user_index)"
        " SELECT ('k' || i)::bytea, 'v'::bytea, clock_timestamp() + i * interval '1 second',"
        " ('u' || (i % 500))::bytea FROM generate_series(1, 20000) AS i"
    )
    admin.execute(f"ANALYZE {table}")
    sql = _postgres_sql.statements("public", table)

    def plan(query: str, **params: Any) -> str:
        text = re.sub(r"%\((\w+)\)b", r"%(\1)s", query)  # EXPLAIN's rows are text
        rows = admin.execute(f"EXPLAIN {text}", params).fetchall()
        return "\n".join(row[0] for row in rows)

    purge = plan(sql.purge, batch=256)
    assert f"Index Scan using {table}_expires_at" in purge, purge
    assert "Seq Scan" not in purge, purge
    purging_insert = plan(sql.insert_purging, key=b"x", value=b"v", ttl=1000, max=None, index=None)
    assert f"Index Scan using {table}_expires_at" in purging_insert, purging_insert
    assert "Seq Scan" not in purging_insert, purging_insert
    listing = plan(sql.list, index=b"u7")
    assert f"{table}_user_index" in listing, listing
    assert "Seq Scan" not in listing, listing


def test_a_pool_of_the_apps_own_is_used_and_left_open(postgres_url: str, table: str) -> None:
    # Not autocommit, no deadline class: the store still commits each statement.
    with ConnectionPool(postgres_url, min_size=1, max_size=2) as pool:
        with PostgresStore(pool, ttl=60, table=table) as store:
            session_id = store.set("alice")
        assert not pool.closed
        with pool.connection() as conn:
            assert not conn.autocommit
            (count,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # type: ignore[misc]
        assert count == 1
        with PostgresStore(pool, ttl=60, table=table) as again:
            assert again.get(session_id) == "alice"


def test_an_async_pool_of_the_apps_own_is_used_and_left_open(postgres_url: str, table: str) -> None:
    async def main() -> None:
        pool = AsyncConnectionPool(
            postgres_url, connection_class=AsyncDeadlineConnection, min_size=1, open=False
        )
        await pool.open()
        try:
            store = AsyncPostgresStore(pool, ttl=60, table=table)
            session_id = await store.set("alice")
            await store.aclose()
            assert not pool.closed
            assert await AsyncPostgresStore(pool, table=table).get(session_id) == "alice"
        finally:
            await pool.close()

    asyncio.run(main())


def test_a_store_takes_only_a_pool() -> None:
    with pytest.raises(TypeError, match=r"psycopg_pool\.ConnectionPool"):
        PostgresStore("postgresql://localhost/x")
    pool = AsyncConnectionPool("", open=False)
    with pytest.raises(TypeError, match=r"psycopg_pool\.ConnectionPool, not AsyncConnectionPool"):
        PostgresStore(pool)
    with pytest.raises(TypeError, match="AsyncConnectionPool, not ConnectionPool"):
        AsyncPostgresStore(ConnectionPool("", open=False))


def test_the_deadline_connection_is_the_stores_own(postgres_url: str, table: str) -> None:
    with PostgresStore.from_url(postgres_url, table=table, call_timeout=1.5) as store:
        store.set("alice")
        with store.pool.connection() as conn:
            assert isinstance(conn, DeadlineConnection)
            assert conn.call_timeout == 1.5
            assert conn.autocommit


HOSTILE_USERS = [
    "o'brien",
    'say "hi"; DROP TABLE x; --',
    "back\\slash",
    "100%",
    "a_b",
    "a%",
    "ab",
    "a\x00b",
    "\\x00",
    "é" * 512,  # 1024 bytes of two-byte characters
    "ß",
    "SS",
    "ǅ",
    "ǆ",
]


def test_user_ids_are_plain_data_compared_byte_for_byte(store: PostgresStore) -> None:
    made = {user: store.set(user) for user in HOSTILE_USERS}
    for user, session_id in made.items():
        assert store.get(session_id) == user
        assert store.sessions(user) == [session_id]
    assert store.die_all("a%") == 1  # not a pattern: "ab" and "a_b" stay
    assert store.get(made["ab"]) == "ab"
    assert store.get(made["a_b"]) == "a_b"
    assert store.die_all("ss") == 0  # no case folding, whatever the collation
    assert store.get(made["SS"]) == "SS"


def _wait_until_blocked(admin: psycopg.Connection[Any], table: str) -> None:
    """Until another backend waits on a row lock in ``table`` (not a sleep: a poll)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        waiting = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND query LIKE %s",
            (f"%{table}%",),
        ).fetchone()
        if waiting and waiting[0]:
            return
        time.sleep(0.01)
    raise AssertionError("nothing waited on the lock")


def test_die_all_ends_a_session_rotated_while_it_waits(
    store: PostgresStore, admin: psycopg.Connection[Any], postgres_url: str, table: str
) -> None:
    # A rotate holds the row (its transaction open); die_all waits for it, then must end
    # the session under its new id: "log out everywhere" leaves nobody logged in.
    session_id = store.set("alice")
    new_id = "N" * 43 + "="
    key = bytes(one(admin, f"SELECT key FROM {table}")[0])
    new_key = key[: -len(session_id)] + new_id.encode()
    sql = _postgres_sql.statements("public", table)
    with psycopg.connect(postgres_url) as rotating:
        row = rotating.execute(
            sql.rotate, {"key": key, "new": new_key, "ttl": 60_000}, binary=True
        ).fetchone()
        assert row == (True, True)
        ended: list[int] = []
        killer = threading.Thread(target=lambda: ended.append(store.die_all("alice")))
        killer.start()
        _wait_until_blocked(admin, table)
        rotating.commit()
        killer.join(10)
    assert ended == [1]
    assert store.get(new_id) is None
    assert store.sessions("alice") == []


def test_a_pool_with_other_row_and_cursor_factories_is_served(
    postgres_url: str, table: str
) -> None:
    # Apps set these on their pools; the store reads its rows as tuples regardless.
    kwargs = {"row_factory": dict_row, "cursor_factory": psycopg.ClientCursor}
    with ConnectionPool(postgres_url, kwargs=kwargs, min_size=1) as pool:
        store = PostgresStore(pool, ttl=60, table=table, track_users=True)
        session_id = store.set("alice")
        assert store.get(session_id) == "alice"
        new_id = store.rotate(session_id)
        assert store.sessions("alice") == [new_id]
        assert store.die_all("alice") == 1
        assert not store.die(session_id)


def test_the_server_gives_up_on_a_statement_before_the_client_does(
    postgres_url: str, table: str
) -> None:
    # statement_timeout a little under call_timeout: a slow statement is rolled back by
    # the server rather than perhaps committed after the caller was told it failed.
    url = f"{postgres_url}?application_name=my%20app+1&call_timeout=1.5"
    with PostgresStore.from_url(url, table=table) as store:
        store.set("alice")
        with store.pool.connection() as conn:
            settings = conn.execute(
                "SELECT current_setting('statement_timeout'), current_setting('application_name')"
            ).fetchone()
    assert settings == ("1350ms", "my app+1")  # '+' is libpq's plus, not a space


def test_a_connection_that_cannot_be_made_says_why(postgres_url: str) -> None:
    # The pool connects in its own threads; the caller's error still gives libpq's reason.
    rest = postgres_url.split("@", 1)[1]
    store = PostgresStore.from_url(f"postgresql://sesh_admin:WRONG-pw-123@{rest}")
    with store, pytest.raises(sesh.BackendError) as caught:
        store.set("alice")
    message = str(caught.value)
    assert message.startswith("PostgreSQL setup failed: PoolTimeout: couldn't get a connection")
    assert 'password authentication failed for user "sesh_admin"' in message
    assert "WRONG-pw-123" not in message
