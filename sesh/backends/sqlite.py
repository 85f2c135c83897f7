"""SQLite stores: sessions in one file, for a single-server app with no Redis.

Several processes (web workers) may share one file: the database runs in WAL mode with a
busy timeout, and each operation is one autocommitted statement (needs SQLite 3.35+):

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
takes another clock, for tests.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from typing_extensions import Self, Unpack

from sesh._core import (
    Delete,
    DeleteUser,
    Fetch,
    Insert,
    ListUser,
    Op,
    Options,
    Refresh,
    Rotate,
    Ttl,
    capped,
    deadline,
    is_expired,
)
from sesh._store import AsyncStore, BaseStore, SyncStore
from sesh.errors import BackendError, SeshError

__all__ = ["BUSY_TIMEOUT", "PURGE_BATCH", "PURGE_EVERY", "AsyncSqliteStore", "SqliteStore"]

APPLICATION_ID = 0x73657368  # "sesh": marks a file as a sesh database (PRAGMA application_id)
SCHEMA_VERSION = 2  # PRAGMA user_version; MIGRATIONS[n] takes a database from n - 1 to n
BUSY_TIMEOUT = 10.0
"""Seconds a statement waits for another process's write to finish before failing."""
PURGE_EVERY = 64
"""A store removes expired rows once every this many inserts."""
PURGE_BATCH = 1024
"""Expired rows removed at most per purge (16 per insert: far above any insert rate)."""

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
_SCHEMA = [
    "CREATE TABLE sesh_sessions (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL)"
    " WITHOUT ROWID",
    "CREATE INDEX sesh_sessions_expiry ON sesh_sessions (expires_at) WHERE expires_at IS NOT NULL",
]
# 2: the absolute deadline (max_age) and the user index (track_users) of a session.
_USERS = [
    "ALTER TABLE sesh_sessions ADD COLUMN max_at REAL",
    "ALTER TABLE sesh_sessions ADD COLUMN user_index TEXT",
    "CREATE INDEX sesh_sessions_user ON sesh_sessions (user_index) WHERE user_index IS NOT NULL",
]
MIGRATIONS: dict[int, list[str]] = {1: _SCHEMA, 2: _USERS}

Clock = Callable[[], float]


class _Database:
    """One connection to a sesh database, shared by a store and safe across threads."""

    def __init__(self, path: str, clock: Clock | None) -> None:
        if sqlite3.sqlite_version_info < (3, 35):
            raise SeshError(f"the SQLite store needs SQLite 3.35+, not {sqlite3.sqlite_version}")
        self.path = path
        self._clock: Clock = time.time if clock is None else clock
        self._lock = threading.Lock()
        self._inserts = 0
        try:
            self._conn = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise BackendError(f"cannot open the SQLite database {path}: {exc}") from exc
        try:
            _prepare(self._conn, path)
        except BaseException:
            self._conn.close()
            raise

    def execute(self, op: Op) -> Any:
        with self._lock:
            now = self._clock()
            try:
                return self._run(op, now)
            except sqlite3.Error as exc:
                raise BackendError(f"SQLite {type(op).__name__} failed: {exc}") from exc

    def _run(self, op: Op, now: float) -> Any:
        run = self._conn.execute
        if type(op) is Fetch:
            if op.touch_ms is None:
                row = run(_SQL["get"], {"key": op.key, "now": now}).fetchone()
            else:
                exp = deadline(now, op.touch_ms)
                row = run(_SQL["touch"], {"key": op.key, "now": now, "exp": exp}).fetchone()
            return None if row is None else row[0]
        if type(op) is Insert:
            self._inserts += 1
            if self._inserts % PURGE_EVERY == 0:
                run(_SQL["purge"], {"now": now, "batch": PURGE_BATCH})
            max_at = deadline(now, op.max_age_ms)
            return self._insert(op.key, op.value, now, op.ttl_ms, max_at, op.user_index)
        if type(op) is Refresh:
            if op.ttl_ms is None:
                return run(_SQL["exists"], {"key": op.key, "now": now}).fetchone() is not None
            exp = deadline(now, op.ttl_ms)
            return run(_SQL["refresh"], {"key": op.key, "now": now, "exp": exp}).rowcount == 1
        if type(op) is Delete:
            row = run(_SQL["delete"], {"key": op.key}).fetchone()
            return row is not None and not is_expired(row[0], now)
        if type(op) is Rotate:
            return self._rotate(op, now)
        if type(op) is ListUser:
            rows = run(_SQL["list"], {"index": op.user_index, "now": now}).fetchall()
            return [key[len(op.head) :] for (key,) in rows]
        if type(op) is DeleteUser:
            rows = run(_SQL["delete user"], {"index": op.user_index}).fetchall()
            return sum(1 for (expires_at,) in rows if not is_expired(expires_at, now))
        raise TypeError(f"unknown operation {type(op).__name__}")

    def _insert(
        self,
        key: str,
        value: str,
        now: float,
        ttl_ms: int | None,
        max_at: float | None,
        index: str | None,
    ) -> bool:
        exp = capped(deadline(now, ttl_ms), max_at)
        params = {"key": key, "value": value, "exp": exp, "max_at": max_at, "index": index}
        return self._conn.execute(_SQL["insert"], {**params, "now": now}).rowcount == 1

    def _rotate(self, op: Rotate, now: float) -> bool | None:
        run = self._conn.execute
        run("BEGIN IMMEDIATE")
        try:
            row = run(_SQL["take"], {"key": op.key, "now": now}).fetchone()
            moved = None
            if row is not None:
                value, max_at, index = row
                moved = self._insert(op.new_key, value, now, op.ttl_ms, max_at, index)
            if moved:
                run(_SQL["delete"], {"key": op.key}).fetchall()
        except BaseException:
            run("ROLLBACK")
            raise
        run("COMMIT")
        return moved

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _prepare(conn: sqlite3.Connection, path: str) -> None:
    """Checks that the file is a sesh database, creating or migrating its schema."""
    try:
        # WAL lets readers go on while one process writes; NORMAL syncs at checkpoints
        # only: a power cut may lose the last sessions written, never corrupt the file.
        conn.execute("PRAGMA synchronous = NORMAL")
        app_id, version = _stamp(conn)
        if app_id == APPLICATION_ID and version == SCHEMA_VERSION:
            return
        if path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")  # one process sets up; the others wait, then see it
        try:
            app_id, version = _stamp(conn)
            tables = conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
            if app_id == 0 and version == 0 and tables == 0:
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            elif app_id != APPLICATION_ID:
                raise SeshError(f"{path} is not a sesh database (it holds other data)")
            elif version > SCHEMA_VERSION:
                raise SeshError(
                    f"{path} has sesh schema {version}, newer than this sesh knows"
                    f" ({SCHEMA_VERSION}): upgrade sesh"
                )
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[step]:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except sqlite3.DatabaseError as exc:
        raise SeshError(f"{path} is not a sesh database: {exc}") from exc
    except sqlite3.Error as exc:
        raise BackendError(f"cannot set up the SQLite database {path}: {exc}") from exc


def _stamp(conn: sqlite3.Connection) -> tuple[int, int]:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    return app_id, version


def path_from_url(url: str) -> str:
    """The database path of a ``sqlite://`` URL (SQLAlchemy's form).

    ``sqlite:///relative.db``, ``sqlite:////absolute/path.db``, and ``sqlite://`` for a
    private in-memory database.
    """
    parts = urlsplit(url)
    if parts.scheme != "sqlite" or parts.netloc or parts.query or parts.fragment:
        raise ValueError(
            "a SQLite store URL is sqlite:///relative.db, sqlite:////absolute.db or sqlite://"
        )
    return unquote(parts.path[1:]) or ":memory:"


class _SqliteStoreBase(BaseStore):
    __slots__ = ("_db",)

    def __init__(
        self,
        path: str | Path,
        prefix: str = "sesh",
        ttl: Ttl = None,
        *,
        clock: Clock | None = None,
        **options: Unpack[Options],
    ) -> None:
        if not isinstance(path, (str, Path)):
            raise TypeError(f"path must be a str or a Path, not {type(path).__name__}")
        super().__init__(prefix, ttl, **options)
        self._db = _Database(str(path), clock)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "sesh",
        ttl: Ttl = None,
        **options: Unpack[Options],
    ) -> Self:
        """A store on the database file of a ``sqlite://`` URL (see ``path_from_url``)."""
        return cls(path_from_url(url), prefix, ttl, **options)

    @property
    def path(self) -> str:
        """The database file (``:memory:`` for a private in-memory database)."""
        return self._db.path


class SqliteStore(_SqliteStoreBase, SyncStore):
    """A SessionStore in a SQLite file, safe for several processes on one machine.

    Args:
        path: the database file (created with its schema if missing), or ``":memory:"``.
        prefix: key prefix; sessions are rows keyed ``<prefix>:<session id>``.
        ttl: session lifetime in seconds or a timedelta; None or 0 for never.
        clock: wall-clock seconds; defaults to ``time.time``.
        options: ``track_users``, ``max_age``, ``hash_ids`` (``sesh.Options``; the README).

    Raises:
        SeshError: the file is not a sesh database, or has a newer schema.
    """

    __slots__ = ()

    def close(self) -> None:
        """Closes the database connection."""
        self._db.close()

    def _execute(self, op: Op) -> Any:
        return self._db.execute(op)


class AsyncSqliteStore(_SqliteStoreBase, AsyncStore):
    """An AsyncSessionStore in a SQLite file: SqliteStore, run in a worker thread.

    Takes the same arguments as ``SqliteStore``.
    """

    __slots__ = ()

    async def aclose(self) -> None:
        """Closes the database connection."""
        await asyncio.to_thread(self._db.close)

    async def _execute(self, op: Op) -> Any:
        return await asyncio.to_thread(self._db.execute, op)
