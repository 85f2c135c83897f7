"""Opening a sesh SQLite file: who may read it, WAL mode, the schema, and what failed.

- **A private file.** A new database file is created here, before SQLite writes a byte,
  with exactly ``file_mode`` (0600 by default, whatever the umask): it holds live session
  ids. SQLite gives its ``-wal`` and ``-shm`` files the database's mode. A file that
  exists keeps its mode.
- **WAL on every connection**, not only when the file is made: a file restored from a
  backup (``VACUUM INTO``, ``.backup``) comes back in the rollback-journal mode, where a
  writer blocks every reader. Switching modes takes a lock that SQLite does not wait for
  (no busy handler), so it is retried with backoff for the busy timeout.
- **The schema**: created in a new file, stamped (``PRAGMA application_id``, the schema
  version in ``user_version``), migrated from older versions; a file that is not a sesh
  database, or was made by a newer sesh, is refused.
- **What failed**, from SQLite's error code: a file that is not SQLite or belongs to
  something else is a ``SeshError`` ("not a sesh database"); a locked, read-only or
  unopenable file is a ``BackendError`` that says which.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from sesh._redact import backend_error, clean
from sesh.errors import BackendError, SeshError

__all__ = [
    "APPLICATION_ID",
    "FILE_MODE",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "check_busy_timeout",
    "check_file_mode",
    "connect",
    "create_private",
    "prepare",
]

T = TypeVar("T")

APPLICATION_ID = 0x73657368  # "sesh": marks a file as a sesh database (PRAGMA application_id)
SCHEMA_VERSION = 2  # PRAGMA user_version; MIGRATIONS[n] takes a database from n - 1 to n
MAX_BUSY_TIMEOUT = 86400
"""The longest busy timeout: a day (SQLite's millisecond count overflows near 25 days)."""
FILE_MODE = 0o600
"""The mode of a database file sesh creates: its owner alone reads the session ids."""

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

# SQLite's primary result codes (the low byte of an extended code).
_BUSY, _LOCKED, _READONLY, _CANTOPEN, _NOTADB, _FULL = 5, 6, 8, 14, 26, 13
# Python 3.10 has no sqlite_errorcode: the messages SQLite gives for the same codes.
_MESSAGES = {
    "database is locked": _BUSY,
    "database table is locked": _LOCKED,
    "attempt to write a readonly database": _READONLY,
    "unable to open database file": _CANTOPEN,
    "file is not a database": _NOTADB,
    "database or disk is full": _FULL,
}


def error_code(exc: sqlite3.Error) -> int | None:
    """SQLite's primary result code for an error, or None if it cannot be told."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF
    return _MESSAGES.get(str(exc))


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether another connection holds a lock this one needs (worth waiting for)."""
    return error_code(exc) in (_BUSY, _LOCKED)


def check_busy_timeout(value: object) -> float:
    """Validates the busy timeout: seconds a statement waits for another writer.

    Raises:
        TypeError: not an int or a float.
        ValueError: negative, NaN, or over ``MAX_BUSY_TIMEOUT``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"busy_timeout must be seconds, not {type(value).__name__}")
    if not 0 <= value <= MAX_BUSY_TIMEOUT:
        raise ValueError(
            f"busy_timeout must be from 0 to {MAX_BUSY_TIMEOUT} seconds (SQLite counts it in"
            " milliseconds, in a C int)"
        )
    return float(value)


def check_file_mode(value: object) -> int:
    """Validates the permission bits of a new database file (0o600, 0o660, ...).

    Raises:
        TypeError: not an int.
        ValueError: not within 0o000-0o777, or not readable and writable by its owner.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"file_mode must be an int such as 0o600, not {type(value).__name__}")
    if not 0 <= value <= 0o777:
        raise ValueError("file_mode must be permission bits, from 0o000 to 0o777")
    if value & 0o600 != 0o600:
        raise ValueError("file_mode must let its owner read and write (0o600 at least)")
    return value


def create_private(path: str, mode: int) -> None:
    """Creates an empty database file with exactly ``mode``, unless it exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return  # a file that exists keeps its mode; another process may just have made it
    except OSError as exc:
        error = backend_error(f"creating the SQLite database {path}", exc)
    else:
        try:
            os.fchmod(fd, mode)  # the exact mode, whatever the umask took away (or left)
        finally:
            os.close(fd)
        return
    raise error  # outside the except: see sesh._redact


def retry_busy(step: Callable[[], T], timeout: float) -> T:
    """Runs ``step``, retrying it with backoff while the file is locked, for ``timeout``."""
    until = time.monotonic() + timeout
    delay = 0.002
    while True:
        try:
            return step()
        except sqlite3.Error as exc:
            if not is_busy(exc) or time.monotonic() + delay > until:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def connect(path: str, busy_timeout: float, *, private: bool) -> sqlite3.Connection:
    """A new autocommit connection to ``path``, in WAL mode unless ``private`` (in memory).

    Raises:
        SeshError: the file is not an SQLite database.
        BackendError: the file cannot be opened, is read-only or stays locked.
    """
    conn = None
    try:
        conn = sqlite3.connect(
            path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        # NORMAL syncs at checkpoints only: a power cut may lose the last sessions
        # written, never corrupt the file. WAL lets readers go on while one process writes.
        conn.execute("PRAGMA synchronous = NORMAL")
        if not private:
            wal = conn.execute
            retry_busy(lambda: wal("PRAGMA journal_mode = WAL").fetchall(), busy_timeout)
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        error = opening_error(path, exc)
    else:
        return conn
    raise error  # outside the except: see sesh._redact


def prepare(conn: sqlite3.Connection, path: str, busy_timeout: float) -> None:
    """Checks that the file is a sesh database, creating or migrating its schema.

    Raises:
        SeshError: the file holds other data, or a newer sesh schema.
        BackendError: the file is locked or read-only.
    """
    try:
        retry_busy(lambda: _prepare(conn, path), busy_timeout)
    except sqlite3.Error as exc:
        error = opening_error(path, exc)
    else:
        return
    raise error  # outside the except: see sesh._redact


def _prepare(conn: sqlite3.Connection, path: str) -> None:
    app_id, version = _stamp(conn)
    if app_id == APPLICATION_ID and version == SCHEMA_VERSION:
        return
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
    finally:
        end_transaction(conn)


def _stamp(conn: sqlite3.Connection) -> tuple[int, int]:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    return app_id, version


def end_transaction(conn: sqlite3.Connection) -> None:
    """Rolls back whatever transaction a failed step left open (after a failed COMMIT
    too); SQLite may already have rolled it back itself (a full disk), which is fine."""
    if conn.in_transaction:
        # The caller reports the error that got here; one from ROLLBACK would hide it.
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def opening_error(path: str, exc: sqlite3.Error) -> SeshError:
    """What a failure to open or set up ``path`` means, for the caller."""
    code = error_code(exc)
    if code == _NOTADB:
        refused = SeshError(f"{path} is not a sesh database (not an SQLite file)")
        refused.__cause__ = clean(exc)
        return refused
    if code in (_BUSY, _LOCKED):
        what = f"opening the SQLite database {path} (locked by another connection)"
    elif code == _READONLY:
        what = f"opening the SQLite database {path} (read-only: sesh writes to it)"
    else:
        what = f"opening the SQLite database {path}"
    error: BackendError = backend_error(what, exc)
    return error
