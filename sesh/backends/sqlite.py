"""SQLite stores: sessions in one file, for a single-server app with no Redis.

Several processes (web workers) and threads may share one file: the database runs in WAL
mode with a busy timeout, each call takes a connection of its own, and each operation is
one autocommitted statement (needs SQLite 3.35+):

=====================  ================================================================
``set``                ``INSERT ... ON CONFLICT DO UPDATE ... WHERE <the row expired>``
``get``                ``SELECT value ... WHERE key = ? AND <live>``
``get(touch=True)``    ``UPDATE ... SET expires_at = ? WHERE key = ? AND <live> RETURNING``
``liv``                ``UPDATE ... SET expires_at = ? WHERE key = ? AND <live>``
``die``                ``DELETE ... WHERE key = ? RETURNING expires_at``
``rotate``             one ``BEGIN IMMEDIATE`` transaction: read, insert the new id, delete
``sessions``           ``SELECT key ... WHERE user_index = ? AND <live>`` (an index)
``die_all``            ``DELETE ... WHERE user_index = ? RETURNING expires_at``
=====================  ================================================================

With ``max_age`` a row keeps its absolute deadline, and a refresh sets the lesser of the
two; with ``track_users`` it names its user's index, a column with an SQL index on it, so
the user index is the table itself and needs no upkeep.

Expiry is checked in every statement, so an expired row is never returned. Expired rows are
removed in batches through an index on the deadline, every ``PURGE_EVERY`` inserts of a
store, so the table does not grow without bound and no call scans it.

Deadlines are wall-clock seconds (``time.time``), since processes share them; ``clock=``
takes another clock, for tests. How the file is created (mode 0600), opened (WAL, every
time) and checked is in ``sesh.backends._sqlite_files``.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from typing_extensions import Self, Unpack, assert_never

from sesh._redact import backend_error, command_secrets
from sesh.backends import _sqlite_files as files
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
from sesh.errors import BackendError, SeshError

__all__ = [
    "ASYNC_THREADS",
    "BUSY_TIMEOUT",
    "IDLE_CONNECTIONS",
    "PURGE_BATCH",
    "PURGE_EVERY",
    "AsyncSqliteStore",
    "SqliteStore",
]

# Where other code and the tests found them before the file handling had a room of its own.
APPLICATION_ID = files.APPLICATION_ID
SCHEMA_VERSION = files.SCHEMA_VERSION
MIGRATIONS = files.MIGRATIONS

BUSY_TIMEOUT = 10.0
"""Seconds a statement waits for another process's write to finish before failing, by
default (``busy_timeout=`` sets another)."""
PURGE_EVERY = 64
"""A store removes expired rows once every this many inserts."""
PURGE_BATCH = 1024
"""Expired rows removed at most per purge (16 per insert: far above any insert rate)."""
IDLE_CONNECTIONS = 8
"""Connections a store keeps open between calls; more are opened while more threads call."""
ASYNC_THREADS = 4
"""Worker threads of each AsyncSqliteStore (its own: a store waiting on a lock never
holds up the event loop's default executor)."""

_LIVE = "(expires_at IS NULL OR expires_at > :now)"
# A refreshed deadline: the new one, unless the absolute deadline (max_age) comes first.
_CAPPED = "CASE WHEN max_at < :exp THEN max_at ELSE :exp END"
_SQL = {
    "insert": "INSERT INTO sesh_sessions (key, value, expires_at, max_at, user_index)"
    " VALUES (:key, :value, :exp, :max_at, :index)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at,"
    " max_at = excluded.max_at, user_index = excluded.user_index"
    " WHERE sesh_sessions.expires_at <= :now",
    "get": f"SELECT value FROM sesh_sessions WHERE key = :key AND {_LIVE}",
    "touch": f"UPDATE sesh_sessions SET expires_at = {_CAPPED} WHERE key = :key AND {_LIVE}"
    " RETURNING value",
    "exists": f"SELECT 1 FROM sesh_sessions WHERE key = :key AND {_LIVE}",
    "refresh": f"UPDATE sesh_sessions SET expires_at = {_CAPPED} WHERE key = :key AND {_LIVE}",
    "delete": "DELETE FROM sesh_sessions WHERE key = :key RETURNING expires_at",
    "take": f"SELECT value, max_at, user_index FROM sesh_sessions WHERE key = :key AND {_LIVE}",
    "list": f"SELECT key FROM sesh_sessions WHERE user_index = :index AND {_LIVE}",
    "delete user": "DELETE FROM sesh_sessions WHERE user_index = :index RETURNING expires_at",
    "purge": "DELETE FROM sesh_sessions WHERE key IN (SELECT key FROM sesh_sessions"
    " WHERE expires_at <= :now LIMIT :batch)",
}

Clock = Callable[[], float]


class _Database:
    """A sesh database file and the connections a store has open to it.

    Each call takes a connection of its own (an idle one, or a new one), so threads never
    wait for each other in Python: under WAL, reads go on while another connection (or
    process) writes, and writers wait for each other in SQLite's busy handler, each up to
    the busy timeout. A private in-memory database lives in its one connection, so calls
    take turns on it.
    """

    def __init__(self, path: str, clock: Clock | None, busy_timeout: float, file_mode: int) -> None:
        if sqlite3.sqlite_version_info < (3, 35):
            raise SeshError(f"the SQLite store needs SQLite 3.35+, not {sqlite3.sqlite_version}")
        self.path = path
        self._clock: Clock = time.time if clock is None else clock
        self._busy_timeout = busy_timeout
        self._private = path in (":memory:", "")
        self._inserts = itertools.count(1)  # next() is atomic: no lock for the purge count
        self._lock = threading.Lock()  # guards _idle and _closed only, never a statement
        self._idle: list[sqlite3.Connection] = []
        self._closed = False
        # The one connection of a private database, taken in turns.
        self._turn = threading.Lock() if self._private else None
        if not self._private:
            files.create_private(path, file_mode)
        conn = files.connect(path, busy_timeout, private=self._private)
        try:
            files.prepare(conn, path, busy_timeout)
        except BaseException:
            conn.close()
            raise
        self._idle.append(conn)

    def execute(self, op: Op) -> Any:
        if self._turn is None:
            return self._execute(op)
        with self._turn:
            return self._execute(op)

    def _execute(self, op: Op) -> Any:
        conn = self._acquire()
        try:
            return self._run(conn, op, self._clock())
        except sqlite3.Error as exc:
            files.end_transaction(conn)
            # The key is all a statement holds of the id; SQLite's text quotes neither.
            error = backend_error(f"SQLite {type(op).__name__}", exc, command_secrets(op))
        finally:
            self._release(conn)
        raise error  # outside the except: see sesh._redact

    def _acquire(self) -> sqlite3.Connection:
        with self._lock:
            if self._closed:
                raise BackendError(f"the SQLite store on {self.path} is closed")
            if self._idle:
                return self._idle.pop()
        return files.connect(self.path, self._busy_timeout, private=self._private)

    def _release(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            # A private database lives in its one connection: it is kept whatever happens.
            keep = not self._closed and (self._private or not conn.in_transaction)
            if keep and len(self._idle) < IDLE_CONNECTIONS:
                self._idle.append(conn)
                return
        conn.close()

    def _run(self, conn: sqlite3.Connection, op: Op, now: float) -> Any:
        run = conn.execute
        match op:
            case Fetch(ttl_ms=None):
                row = run(_SQL["get"], {"key": op.key, "now": now}).fetchone()
                return None if row is None else row[0]
            case Fetch():
                exp = deadline(now, op.ttl_ms)
                row = run(_SQL["touch"], {"key": op.key, "now": now, "exp": exp}).fetchone()
                return None if row is None else row[0]
            case Insert():
                if next(self._inserts) % PURGE_EVERY == 0:
                    run(_SQL["purge"], {"now": now, "batch": PURGE_BATCH})
                max_at = deadline(now, op.max_age_ms)
                return _insert(conn, op.key, op.value, now, op.ttl_ms, max_at, op.user_index)
            case Refresh(ttl_ms=None):
                return run(_SQL["exists"], {"key": op.key, "now": now}).fetchone() is not None
            case Refresh():
                exp = deadline(now, op.ttl_ms)
                return run(_SQL["refresh"], {"key": op.key, "now": now, "exp": exp}).rowcount == 1
            case Delete():
                row = run(_SQL["delete"], {"key": op.key}).fetchone()
                return row is not None and not is_expired(row[0], now)
            case Rotate():
                return _rotate(conn, op, now)
            case ListUser():
                rows = run(_SQL["list"], {"index": op.user_index, "now": now}).fetchall()
                return [key[len(op.head) :] for (key,) in rows]
            case DeleteUser():
                rows = run(_SQL["delete user"], {"index": op.user_index}).fetchall()
                return sum(1 for (expires_at,) in rows if not is_expired(expires_at, now))
            case Take():
                raise TypeError("a SQLite store rotates in one transaction: it takes no Take")
            case _:
                assert_never(op)

    def close(self) -> None:
        """Closes the idle connections now, and those in use as their calls end."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _insert(
    conn: sqlite3.Connection,
    key: str,
    value: str,
    now: float,
    ttl_ms: int | None,
    max_at: float | None,
    index: str | None,
) -> bool:
    exp = capped(deadline(now, ttl_ms), max_at)
    params = {"key": key, "value": value, "exp": exp, "max_at": max_at, "index": index}
    return conn.execute(_SQL["insert"], {**params, "now": now}).rowcount == 1


def _rotate(conn: sqlite3.Connection, op: Rotate, now: float) -> bool | None:
    run = conn.execute
    run("BEGIN IMMEDIATE")
    try:
        row = run(_SQL["take"], {"key": op.key, "now": now}).fetchone()
        moved = None
        if row is not None:
            value, max_at, index = row
            moved = _insert(conn, op.new_key, value, now, op.ttl_ms, max_at, index)
        if moved:
            run(_SQL["delete"], {"key": op.key}).fetchall()
        run("COMMIT")
    except BaseException:
        # A failed statement or COMMIT (a lock, a full disk) must not leave the
        # connection inside the transaction: later writes would never be committed.
        files.end_transaction(conn)
        raise
    return moved


def path_from_url(url: str) -> str:
    """The database path of a ``sqlite://`` URL (SQLAlchemy's form).

    ``sqlite:///relative.db``, ``sqlite:////absolute/path.db``, and ``sqlite://`` for a
    private in-memory database.
    """
    return _parse_url(url)[0]


def _parse_url(url: str) -> tuple[str, dict[str, Any]]:
    # The path, and the store options of the query (?busy_timeout=5&file_mode=0660).
    parts = urlsplit(url)
    if parts.scheme != "sqlite" or parts.netloc or parts.fragment:
        raise ValueError(
            "a SQLite store URL is sqlite:///relative.db, sqlite:////absolute.db or sqlite://"
        )
    options: dict[str, Any] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False):
        if name not in _URL_OPTIONS or name in options:
            known = ", ".join(_URL_OPTIONS)
            raise ValueError(
                f"unknown or repeated option {name[:40]!r} in a SQLite store URL"
                f" (sqlite:///file.db?... knows {known})"
            )
        options[name] = _URL_OPTIONS[name](value)
    return unquote(parts.path[1:]) or ":memory:", options


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError("busy_timeout in a SQLite store URL must be seconds") from None


def _mode(text: str) -> int:
    try:
        return int(text.removeprefix("0o"), 8)
    except ValueError:
        raise ValueError("file_mode in a SQLite store URL must be octal, such as 0660") from None


_URL_OPTIONS: dict[str, Callable[[str], Any]] = {"busy_timeout": _seconds, "file_mode": _mode}


class _SqliteStoreBase(BaseStore):
    __slots__ = ("_db",)

    def __init__(
        self,
        path: str | Path,
        prefix: str = "sesh",
        ttl: Ttl = None,
        *,
        clock: Clock | None = None,
        busy_timeout: float = BUSY_TIMEOUT,
        file_mode: int = files.FILE_MODE,
        **options: Unpack[Options],
    ) -> None:
        if not isinstance(path, (str, Path)):
            raise TypeError(f"path must be a str or a Path, not {type(path).__name__}")
        super().__init__(prefix, ttl, **options)
        busy_timeout = files.check_busy_timeout(busy_timeout)
        file_mode = files.check_file_mode(file_mode)
        self._db = _Database(str(path), clock, busy_timeout, file_mode)
        self._attach()

    def _attach(self) -> None:
        """Whatever a store needs besides its database (nothing, by default)."""

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "sesh",
        ttl: Ttl = None,
        busy_timeout: float | None = None,
        file_mode: int | None = None,
        **options: Unpack[Options],
    ) -> Self:
        """A store on the database file of a ``sqlite://`` URL (see ``path_from_url``).

        The URL's query may set ``busy_timeout`` (seconds) and ``file_mode`` (octal):
        ``sqlite:///sessions.db?file_mode=0660``; the keyword arguments win over it.
        """
        path, settings = _parse_url(url)
        if busy_timeout is not None:
            settings["busy_timeout"] = busy_timeout
        if file_mode is not None:
            settings["file_mode"] = file_mode
        return cls(path, prefix, ttl, **settings, **options)

    @property
    def path(self) -> str:
        """The database file (``:memory:`` for a private in-memory database)."""
        return self._db.path


class SqliteStore(_SqliteStoreBase, SyncStore):
    """A SessionStore in a SQLite file, safe for several processes and threads.

    Args:
        path: the database file (created with its schema if missing), or ``":memory:"``.
        prefix: key prefix; sessions are rows keyed ``<prefix>:<session id>``.
        ttl: session lifetime in seconds or a timedelta; None or 0 for never.
        clock: wall-clock seconds; defaults to ``time.time``.
        busy_timeout: seconds a call waits for another writer's lock (default 10).
        file_mode: the permission bits of a file the store creates (default 0o600: its
            owner alone; 0o660 to share it with a group). An existing file keeps its own.
        options: ``track_users``, ``max_age``, ``hash_ids`` (``sesh.Options``; docs/options.md).

    Raises:
        SeshError: the file is not a sesh database, or has a newer schema.
        BackendError: the file cannot be created or opened, is read-only, or stays locked.
    """

    __slots__ = ()

    def close(self) -> None:
        """Closes the database connections."""
        self._db.close()

    def execute(self, op: Op) -> Any:
        """Carries out one operation (see ``sesh.backends.base``)."""
        return self._db.execute(op)


class AsyncSqliteStore(_SqliteStoreBase, AsyncStore):
    """An AsyncSessionStore in a SQLite file: SqliteStore, run in worker threads of its own
    (``ASYNC_THREADS``).

    Takes the same arguments as ``SqliteStore``.
    """

    __slots__ = ("_executor",)

    def _attach(self) -> None:
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            ASYNC_THREADS, thread_name_prefix="sesh-sqlite"
        )

    async def aclose(self) -> None:
        """Closes the database connections and stops the store's threads."""
        executor, self._executor = self._executor, None
        if executor is not None:
            try:
                await asyncio.get_running_loop().run_in_executor(executor, self._db.close)
            finally:
                executor.shutdown(wait=False)

    async def execute(self, op: Op) -> Any:
        """Carries out one operation on the store's own threads."""
        if self._executor is None:
            raise BackendError(f"the SQLite store on {self.path} is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._db.execute, op)
