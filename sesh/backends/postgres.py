"""PostgreSQL stores: sessions in the database the app already runs (``sesh[postgres]``).

Each operation is one prepared, parameterised statement in a transaction of its own
(autocommit), with deadlines on the database server's clock:

=====================  ================================================================
``set``                ``INSERT ... ON CONFLICT DO UPDATE ... WHERE <the row expired>``
``get``                ``SELECT value ... WHERE key = $1 AND <live>``
``get(touch=True)``    ``UPDATE ... SET expires_at = ... WHERE key = $1 AND <live> RETURNING``
``liv``                ``UPDATE ... SET expires_at = ... WHERE key = $1 AND <live>``
``die``                ``DELETE ... WHERE key = $1 RETURNING <live>``
``rotate``             one statement: lock the old row, insert the new, delete the old
``sessions``           ``SELECT key ... WHERE user_index = $1 AND <live>`` (an index)
``die_all``            ``DELETE ... WHERE user_index = $1 RETURNING <live>``
=====================  ================================================================

The table, how text is stored, and how expired rows go are in
``sesh.backends._postgres_sql``; connections, deadlines and URLs in
``sesh.backends._postgres_pool``. A store checks its table on its first call (or at
``setup()``): it creates it if missing and allowed (``create_table``), migrates an older
sesh table, and refuses a table that is someone else's or a newer sesh's.
"""

from __future__ import annotations

import asyncio
import itertools
import struct
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, NamedTuple

from typing_extensions import Self, Unpack, assert_never

try:
    import psycopg
    from psycopg.rows import tuple_row
    from psycopg_pool import AsyncConnectionPool, ConnectionPool
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the PostgreSQL store needs psycopg 3 and psycopg_pool: pip install 'sesh[postgres]'"
    ) from exc

from sesh._redact import backend_error, command_secrets
from sesh.backends import _postgres_pool as pools
from sesh.backends import _postgres_sql as q
from sesh.backends import _postgres_wire as wire
from sesh.backends._postgres_pool import (
    AsyncDeadlineConnection,
    DeadlineConnection,
    acheck_connection,
    check_connection,
)
from sesh.backends._postgres_sql import PURGE_BATCH, PURGE_EVERY, SCHEMA_VERSION, schema_sql
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
)
from sesh.errors import BackendError, SeshError

__all__ = [
    "PURGE_BATCH",
    "PURGE_EVERY",
    "SCHEMA_VERSION",
    "AsyncDeadlineConnection",
    "AsyncPostgresStore",
    "DeadlineConnection",
    "PostgresStore",
    "acheck_connection",
    "check_connection",
    "schema_sql",
]

TABLE = "sesh_sessions"
"""The table a store uses unless told otherwise (``table=``)."""


class _Plan(NamedTuple):
    """One operation as a statement: which, its parameters (in the statement's order),
    and what makes the result of its rows and row count."""

    stmt: q.Prepared
    params: list[bytes | None]
    result: Callable[[list[tuple[Any, ...]], int], Any]


_TRUE = b"\x01"  # a boolean column, in binary
_INT8 = struct.Struct(">q").pack


def _b(text: str | None) -> bytes | None:
    return None if text is None else text.encode("utf-8")


def _ms(ttl_ms: int | None) -> bytes | None:
    return None if ttl_ms is None else _INT8(ttl_ms)


def _first_text(rows: list[tuple[Any, ...]], _count: int) -> str | None:
    return bytes(rows[0][0]).decode("utf-8") if rows else None


def _one_written(_rows: list[tuple[Any, ...]], count: int) -> bool:
    return count == 1


def _row_count(_rows: list[tuple[Any, ...]], count: int) -> int:
    return count


def _any_row(rows: list[tuple[Any, ...]], _count: int) -> bool:
    return bool(rows)


def _any_live(rows: list[tuple[Any, ...]], _count: int) -> bool:
    return any(live == _TRUE for (live,) in rows)


def _live_count(rows: list[tuple[Any, ...]], _count: int) -> int:
    return sum(1 for (live,) in rows if live == _TRUE)


def _rotated(rows: list[tuple[Any, ...]], _count: int) -> bool | None:
    was_live, moved = rows[0]
    return moved == _TRUE if was_live == _TRUE else None


class _Table:
    """One store's table: its statements, and the decisions every operation makes, the
    same for the sync and the async store (only the I/O differs)."""

    def __init__(self, table: str, schema: str | None, create: bool, unlogged: bool) -> None:
        self.table = q.check_name(table, "table")
        self.schema = None if schema is None else q.check_name(schema, "schema")
        self.create = create
        self.unlogged = unlogged
        self.sql: q.Statements | None = None  # set once the table is checked
        self.wire: dict[str, q.Prepared] = {}  # the same, as the store prepares them
        self._inserts = itertools.count(1)
        self._failure: tuple[float, BackendError] | None = None

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table

    def _plan(
        self, which: str, result: Callable[[list[tuple[Any, ...]], int], Any], **values: Any
    ) -> _Plan:
        stmt = self.wire[which]
        return _Plan(stmt, [values[name] for name in stmt.params], result)

    def plan(self, op: Op) -> _Plan:
        """The statement that carries out ``op``."""
        plan = self._plan
        match op:
            case Fetch(ttl_ms=None):
                return plan("get", _first_text, key=_b(op.key))
            case Fetch():
                return plan("touch", _first_text, key=_b(op.key), ttl=_ms(op.ttl_ms))
            case Insert():
                purge = next(self._inserts) % PURGE_EVERY == 0
                return plan(
                    "insert_purging" if purge else "insert",
                    _one_written,
                    key=_b(op.key),
                    value=_b(op.value),
                    ttl=_ms(op.ttl_ms),
                    max=_ms(op.max_age_ms),
                    index=_b(op.user_index),
                )
            case Refresh(ttl_ms=None):
                return plan("exists", _any_row, key=_b(op.key))
            case Refresh():
                return plan("refresh", _one_written, key=_b(op.key), ttl=_ms(op.ttl_ms))
            case Delete():
                return plan("delete", _any_live, key=_b(op.key))
            case Rotate():
                key, new = _b(op.key), _b(op.new_key)
                return plan("rotate", _rotated, key=key, new=new, ttl=_ms(op.ttl_ms))
            case ListUser():
                head = len(op.head)

                def members(rows: list[tuple[Any, ...]], _count: int) -> list[str]:
                    return [bytes(key).decode("utf-8")[head:] for (key,) in rows]

                return plan("list", members, index=_b(op.user_index))
            case DeleteUser():
                return plan("delete_user", _live_count, index=_b(op.user_index))
            case Take():
                raise TypeError("a PostgreSQL store rotates in one statement: it takes no Take")
            case _:
                assert_never(op)

    def purge_plan(self, batch: int) -> _Plan:
        """The statement of ``purge(batch)``."""
        return self._plan("purge", _row_count, batch=struct.pack(">i", batch))

    def failed(self, exc: BaseException) -> BackendError:
        """The error of a failed setup, kept for the callers that waited on it."""
        error = self.error("setup", exc)
        self._failure = (time.monotonic(), error)
        return error

    def raise_recent_failure(self, asked: float) -> None:
        """Raises the error of a setup that failed after ``asked``: a caller that waited on
        that attempt gets its outcome, instead of a turn of its own (N callers of a store
        whose database is down would otherwise wait N attempts)."""
        if self._failure is not None and self._failure[0] >= asked:
            error = BackendError(str(self._failure[1]))
            error.__cause__ = self._failure[1].__cause__
            raise error

    def error(self, what: str, exc: BaseException, op: Op | None = None) -> BackendError:
        """A ``BackendError`` for a failed step that shows nothing of the statement."""
        secrets = [] if op is None else _secrets(op)
        return backend_error(f"PostgreSQL {what}", _safe_copy(exc), secrets)

    def found(self, schema: str, row: tuple[Any, ...] | None) -> str | None:
        """What to do about the table, given its row in the catalog: None when it is ready
        (statements set), "create" or "migrate"; raises ``SeshError`` for a table that is
        not sesh's or is a newer sesh's."""
        self.schema = schema
        where = f"{schema}.{self.table}"
        if row is None:
            if not self.create:
                raise SeshError(
                    f"the sessions table {where} does not exist: create it with the SQL of"
                    " `sesh schema` (or sesh.backends.postgres.schema_sql()), or let the store"
                    " create it (create_table=True)"
                )
            return "create"
        kind, _persistence, comment = row
        version = q.version_of(comment)
        if kind != "r" or version is None:
            raise SeshError(
                f"{where} exists and is not a sesh sessions table (its comment is not"
                f" {q.stamp()!r}): choose another table= or schema="
            )
        if version > SCHEMA_VERSION:
            raise SeshError(
                f"{where} has sesh schema version {version}, newer than this sesh's"
                f" ({SCHEMA_VERSION}): upgrade sesh"
            )
        if version < SCHEMA_VERSION:
            if not self.create:
                raise SeshError(
                    f"{where} has sesh schema version {version}, older than this sesh's"
                    f" ({SCHEMA_VERSION}), and create_table=False forbids migrating it: let"
                    " a store with create_table=True (and the right to) migrate it"
                )
            return "migrate"
        sql = q.statements(schema, self.table)
        self.wire = {name: q.prepared(text) for name, text in zip(sql._fields, sql, strict=True)}
        self.sql = sql
        return None

    def changes(self, action: str, row: tuple[Any, ...] | None) -> list[str]:
        """The DDL for ``action`` (run under the table's advisory lock, after finding the
        table again: another process may have done it meanwhile)."""
        assert self.schema is not None
        if action == "create":
            return [q.create_sql(self.table, self.schema, unlogged=self.unlogged)]
        assert row is not None
        version = q.version_of(row[2])
        assert version is not None
        return q.migration_sql(version, self.schema, self.table)

    def refused(self, exc: psycopg.Error) -> SeshError:
        """The error for DDL this role may not run."""
        return SeshError(
            f"cannot create or migrate the sessions table {self.name}"
            f" ({type(exc).__name__}: {_primary(exc)}): run the SQL of `sesh schema` as"
            " the table's owner, and give this role SELECT, INSERT, UPDATE, DELETE on it"
        )


def _primary(exc: BaseException) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None)
    return str(primary) if primary else str(exc).split("\n", 1)[0]


def _safe_copy(exc: BaseException) -> BaseException:
    # A server error's detail and context can quote row values (keys: session ids, in hex):
    # keep the first line of the message, and the SQLSTATE, only.
    if not isinstance(exc, psycopg.Error):
        return exc
    text = _primary(exc)
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate:
        text += f" (SQLSTATE {sqlstate})"
    try:
        return type(exc)(text)
    except Exception:  # an error type that takes other arguments
        return psycopg.Error(text)


def _secrets(op: Op) -> list[str]:
    # A key, as text and as the hex PostgreSQL shows bytea in.
    found = command_secrets(op)
    for value in list(found):
        found.append(value.encode("utf-8").hex())
    return found


_DRIVER_ERRORS = (psycopg.Error,)


class _PostgresStoreBase(BaseStore):
    __slots__ = ("_call_timeout", "_closed", "_owns_pool", "_pool", "_table")

    _pool_types: tuple[type, ...] = ()

    def __init__(
        self,
        pool: Any,
        prefix: str = "sesh",
        ttl: Ttl = None,
        *,
        table: str = TABLE,
        schema: str | None = None,
        create_table: bool = True,
        unlogged: bool = False,
        call_timeout: float = pools.CALL_TIMEOUT,
        **options: Unpack[Options],
    ) -> None:
        if not isinstance(pool, self._pool_types):
            names = " or ".join(f"psycopg_pool.{t.__name__}" for t in self._pool_types)
            raise TypeError(f"pool must be a {names}, not {type(pool).__name__}")
        super().__init__(prefix, ttl, **options)
        for flag, name in ((create_table, "create_table"), (unlogged, "unlogged")):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, not {type(flag).__name__}")
        self._table = _Table(table, schema, create_table, unlogged)
        self._call_timeout = pools.check_call_timeout(call_timeout)
        self._pool: Any = pool
        self._owns_pool = False
        self._closed = False

    @classmethod
    def _settings(cls, url: str, overrides: dict[str, Any]) -> tuple[str, dict[str, Any], Any]:
        conninfo, settings = pools.parse_url(url)
        settings.update({k: v for k, v in overrides.items() if v is not None})
        call_timeout = pools.check_call_timeout(settings.get("call_timeout", pools.CALL_TIMEOUT))
        settings["call_timeout"] = call_timeout
        pool_size = settings.pop("pool_size", pools.POOL_SIZE)
        if isinstance(pool_size, bool) or not isinstance(pool_size, int):
            raise TypeError("pool_size must be an int")
        if not 1 <= pool_size <= 1000:
            raise ValueError("pool_size must be from 1 to 1000")
        return conninfo, settings, (call_timeout, pool_size)

    @property
    def pool(self) -> Any:
        """The psycopg_pool pool the store talks through."""
        return self._pool

    @property
    def table(self) -> str:
        """The sessions table: ``schema.table`` once checked, else as configured."""
        return self._table.name


class PostgresStore(_PostgresStoreBase, SyncStore):
    """A SessionStore in a PostgreSQL table, safe for many processes and threads.

    Args:
        pool: a ``psycopg_pool.ConnectionPool`` the app already has; the store does not
            close it. Its connections' deadlines are the pool's own: make it with
            ``connection_class=DeadlineConnection`` for the store's (``from_url`` does).
        prefix: key prefix; sessions are rows keyed ``<prefix>:<session id>``, so stores
            with different prefixes share one table.
        ttl: session lifetime in seconds or a timedelta; None or 0 for never.
        table: the table's name (default ``sesh_sessions``).
        schema: its schema (default: the connection's ``current_schema()``).
        create_table: create the table if it is missing (needs the right to); False
            expects it made from ``schema_sql()``.
        unlogged: create it ``UNLOGGED``: faster writes, but a crash empties it.
        call_timeout: seconds any call may wait on the server, or for a free connection
            (default 2), whatever the pool; past it, ``BackendError``.
        options: ``track_users``, ``max_age``, ``hash_ids`` (``sesh.Options``; docs/options.md).

    The table is checked on the first call, or at ``setup()``.
    """

    __slots__ = ("_setup_lock",)
    _pool_types = (ConnectionPool,)

    def __init__(self, pool: Any, prefix: str = "sesh", ttl: Ttl = None, **kwargs: Any) -> None:
        super().__init__(pool, prefix, ttl, **kwargs)
        self._setup_lock = threading.Lock()

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "sesh",
        ttl: Ttl = None,
        table: str | None = None,
        schema: str | None = None,
        call_timeout: float | None = None,
        pool_size: int | None = None,
        create_table: bool = True,
        unlogged: bool | None = None,
        **options: Unpack[Options],
    ) -> Self:
        """A store with a pool of its own on a ``postgresql://`` (or ``postgres://``) URL;
        ``close`` closes it.

        The URL's query takes libpq's options (``sslmode``, ``connect_timeout`` (default
        2 s), ``application_name``, ``options``, ...) and sesh's: ``table``, ``schema``,
        ``call_timeout`` (seconds any call may wait on the server, default 2),
        ``pool_size`` (default 10) and ``unlogged``. The keyword arguments win over it.
        """
        overrides = {
            "table": table,
            "schema": schema,
            "call_timeout": call_timeout,
            "pool_size": pool_size,
            "unlogged": unlogged,
        }
        conninfo, settings, (deadline, size) = cls._settings(url, overrides)
        pool = pools.make_pool(conninfo, deadline, size)
        try:
            store = cls(pool, prefix, ttl, create_table=create_table, **settings, **options)
        except BaseException:
            pool.close()
            raise
        store._owns_pool = True
        return store

    def setup(self) -> None:
        """Checks the table now (creating or migrating it as needed) instead of on the
        first call.

        Raises:
            SeshError: the table is not sesh's, is a newer sesh's, or is missing (or
                older) and this role may not create (or migrate) it.
            BackendError: the database cannot be reached (callers waiting on that same
                attempt get its error, rather than each trying again in turn).
        """
        if self._table.sql is not None:
            return
        asked = time.monotonic()
        with self._setup_lock:
            if self._table.sql is not None:
                return
            self._table.raise_recent_failure(asked)
            if self._owns_pool and self._pool.closed and not self._closed:
                self._pool.open(wait=False)
            try:
                self._check_table()
            except psycopg.Error as exc:
                error = self._table.failed(pools.explained(exc, self._pool))
            else:
                return
        raise error

    def _check_table(self) -> None:
        t = self._table
        with self._connection() as conn:
            if t.schema is None:
                rows, _ = _run(conn, q.CURRENT_SCHEMA)
                t.schema = _current_schema(rows)
            schema = t.schema
            rows, _ = _run(conn, q.FIND_TABLE, (schema, t.table))
            action = t.found(schema, _only(rows))
            if action is None:
                return
            try:
                with _longer_deadline(conn), conn.transaction():
                    _run(conn, q.SETUP_SETTINGS)
                    _run(conn, q.LOCK, (q.lock_id(schema, t.table),))
                    rows, _ = _run(conn, q.FIND_TABLE, (schema, t.table))
                    if t.found(schema, _only(rows)) is not None:
                        for step in t.changes(action, _only(rows)):
                            _run(conn, step.encode("utf-8"))
            except psycopg.errors.InsufficientPrivilege as exc:
                refused = t.refused(exc)
            else:
                rows, _ = _run(conn, q.FIND_TABLE, (schema, t.table))
                t.found(schema, _only(rows))
                return
        raise refused

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        with self._pool.connection() as conn:
            if conn.autocommit:
                yield conn
                return
            conn.autocommit = True  # a pool of the app's own: each statement commits
            try:
                yield conn
            finally:
                if not conn.closed:
                    conn.autocommit = False

    def execute(self, op: Op) -> Any:
        """Carries out one operation (see ``sesh.backends.base``) in one statement."""
        if self._table.sql is None:
            self.setup()
        return self._send(self._table.plan(op), op)

    def _send(self, plan: _Plan, op: Op | None) -> Any:
        pool = self._pool
        try:
            # Not pool.connection(): its exit commits, client work for nothing in autocommit.
            conn = pool.getconn(self._call_timeout)
            try:
                rows, count = wire.run(conn, plan.stmt, plan.params, self._call_timeout)
            finally:
                pool.putconn(conn)
            return plan.result(rows, count)
        except _DRIVER_ERRORS as exc:
            what = "purge" if op is None else type(op).__name__
            error = self._table.error(what, pools.explained(exc, pool), op)
        raise error  # outside the except: see sesh._redact

    def purge(self, batch: int = PURGE_BATCH) -> int:
        """Deletes up to ``batch`` expired rows (oldest first) now; returns how many. Inserts
        do this every ``PURGE_EVERY`` calls; a job may call it too, after a long pause in
        traffic, say."""
        _check_batch(batch)
        self.setup()
        count: int = self._send(self._table.purge_plan(batch), None)
        return count

    def close(self) -> None:
        """Closes the pool if this store made it."""
        self._closed = True
        if self._owns_pool:
            self._pool.close()


class AsyncPostgresStore(_PostgresStoreBase, AsyncStore):
    """An AsyncSessionStore in a PostgreSQL table: ``PostgresStore`` for asyncio, on a
    ``psycopg_pool.AsyncConnectionPool`` (make one with
    ``connection_class=AsyncDeadlineConnection`` for the store's deadlines).

    Takes the same arguments as ``PostgresStore``. A pool of its own (``from_url``) opens
    in the event loop of the first call.
    """

    __slots__ = ("_setup_locks",)
    _pool_types = (AsyncConnectionPool,)

    def __init__(self, pool: Any, prefix: str = "sesh", ttl: Ttl = None, **kwargs: Any) -> None:
        super().__init__(pool, prefix, ttl, **kwargs)
        self._setup_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
        self._setup_locks = weakref.WeakKeyDictionary()

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "sesh",
        ttl: Ttl = None,
        table: str | None = None,
        schema: str | None = None,
        call_timeout: float | None = None,
        pool_size: int | None = None,
        create_table: bool = True,
        unlogged: bool | None = None,
        **options: Unpack[Options],
    ) -> Self:
        """An asyncio store with a pool of its own; see ``PostgresStore.from_url``."""
        overrides = {
            "table": table,
            "schema": schema,
            "call_timeout": call_timeout,
            "pool_size": pool_size,
            "unlogged": unlogged,
        }
        conninfo, settings, (deadline, size) = cls._settings(url, overrides)
        pool = pools.make_async_pool(conninfo, deadline, size)
        store = cls(pool, prefix, ttl, create_table=create_table, **settings, **options)
        store._owns_pool = True
        return store

    async def setup(self) -> None:
        """Checks the table now; see ``PostgresStore.setup``."""
        if self._table.sql is not None:
            return
        asked = time.monotonic()
        loop = asyncio.get_running_loop()
        lock = self._setup_locks.get(loop)  # an asyncio.Lock serves one loop only
        if lock is None:
            lock = self._setup_locks[loop] = asyncio.Lock()
        async with lock:
            if self._table.sql is not None:
                return
            self._table.raise_recent_failure(asked)
            if self._owns_pool and self._pool.closed and not self._closed:
                await self._pool.open(wait=False)
            try:
                await self._check_table()
            except psycopg.Error as exc:
                error = self._table.failed(pools.explained(exc, self._pool))
            else:
                return
        raise error

    async def _check_table(self) -> None:
        t = self._table
        async with self._connection() as conn:
            if t.schema is None:
                rows, _ = await _arun(conn, q.CURRENT_SCHEMA)
                t.schema = _current_schema(rows)
            schema = t.schema
            rows, _ = await _arun(conn, q.FIND_TABLE, (schema, t.table))
            action = t.found(schema, _only(rows))
            if action is None:
                return
            try:
                with _longer_deadline(conn):
                    async with conn.transaction():
                        await _arun(conn, q.SETUP_SETTINGS)
                        await _arun(conn, q.LOCK, (q.lock_id(schema, t.table),))
                        rows, _ = await _arun(conn, q.FIND_TABLE, (schema, t.table))
                        if t.found(schema, _only(rows)) is not None:
                            for step in t.changes(action, _only(rows)):
                                await _arun(conn, step.encode("utf-8"))
            except psycopg.errors.InsufficientPrivilege as exc:
                refused = t.refused(exc)
            else:
                rows, _ = await _arun(conn, q.FIND_TABLE, (schema, t.table))
                t.found(schema, _only(rows))
                return
        raise refused

    @asynccontextmanager
    async def _connection(self) -> Any:
        async with self._pool.connection() as conn:
            if conn.autocommit:
                yield conn
                return
            await conn.set_autocommit(True)  # a pool of the app's own
            try:
                yield conn
            finally:
                if not conn.closed:
                    await conn.set_autocommit(False)

    async def execute(self, op: Op) -> Any:
        """Carries out one operation in one statement."""
        if self._table.sql is None:
            await self.setup()
        return await self._send(self._table.plan(op), op)

    async def _send(self, plan: _Plan, op: Op | None) -> Any:
        pool = self._pool
        try:
            conn = await pool.getconn(self._call_timeout)
            try:
                rows, count = await wire.arun(conn, plan.stmt, plan.params, self._call_timeout)
            finally:
                await pool.putconn(conn)
            return plan.result(rows, count)
        except _DRIVER_ERRORS as exc:
            what = "purge" if op is None else type(op).__name__
            error = self._table.error(what, pools.explained(exc, pool), op)
        raise error

    async def purge(self, batch: int = PURGE_BATCH) -> int:
        """Deletes up to ``batch`` expired rows now; see ``PostgresStore.purge``."""
        _check_batch(batch)
        await self.setup()
        count: int = await self._send(self._table.purge_plan(batch), None)
        return count

    async def aclose(self) -> None:
        """Closes the pool if this store made it."""
        self._closed = True
        if self._owns_pool and not self._pool.closed:
            await self._pool.close()


SETUP_TIMEOUT = 60.0
"""Seconds creating or migrating the table may take (and wait for another process doing
it): DDL can wait on locks far longer than a session call should."""


def _check_batch(batch: object) -> int:
    if isinstance(batch, bool) or not isinstance(batch, int):
        raise TypeError(f"batch must be an int, not {type(batch).__name__}")
    if not 1 <= batch <= 1_000_000:
        raise ValueError("batch must be from 1 to 1000000")
    return batch


def _run(
    conn: psycopg.Connection[Any],
    query: Any,
    params: Any = None,
    *,
    binary: bool = False,
    prepare: bool | None = False,
) -> tuple[list[tuple[Any, ...]], int]:
    """Rows (as tuples, whatever the connection's row or cursor factory) and row count of
    one statement; only session statements are prepared."""
    with psycopg.Cursor(conn, row_factory=tuple_row) as cur:
        cur.execute(query, params, binary=binary, prepare=prepare)
        return (cur.fetchall() if cur.description is not None else []), cur.rowcount


async def _arun(
    conn: psycopg.AsyncConnection[Any],
    query: Any,
    params: Any = None,
    *,
    binary: bool = False,
    prepare: bool | None = False,
) -> tuple[list[tuple[Any, ...]], int]:
    async with psycopg.AsyncCursor(conn, row_factory=tuple_row) as cur:
        await cur.execute(query, params, binary=binary, prepare=prepare)
        return (await cur.fetchall() if cur.description is not None else []), cur.rowcount


@contextmanager
def _longer_deadline(conn: Any) -> Iterator[None]:
    # The store's own connections have a call deadline; DDL gets SETUP_TIMEOUT instead.
    before = getattr(conn, "call_timeout", None)
    if before is None:
        yield
        return
    conn.call_timeout = max(before, SETUP_TIMEOUT)
    try:
        yield
    finally:
        conn.call_timeout = before


def _only(rows: list[tuple[Any, ...]]) -> tuple[Any, ...] | None:
    return rows[0] if rows else None


def _current_schema(rows: list[tuple[Any, ...]]) -> str:
    row = _only(rows)
    if row is None or row[0] is None:
        raise SeshError(
            "the connection has no current schema (none of its search_path exists): pass schema="
        )
    return str(row[0])
