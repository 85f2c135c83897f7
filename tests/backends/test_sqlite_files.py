"""What a SQLite store does to the file it keeps: who may read it, its journal mode, and
what a caller hears when the file is busy, locked, full or not a sesh database."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

import sesh
from sesh._core import SessionCore
from sesh.backends import sqlite as sqlite_backend
from sesh.backends.sqlite import SqliteStore


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask() -> Iterator[None]:
    """The most permissive umask: what the store creates is private by its own doing."""
    old = os.umask(0)
    yield
    os.umask(old)


def files_of(db: Path) -> list[Path]:
    return [db.with_name(db.name + suffix) for suffix in ("", "-wal", "-shm")]


@pytest.mark.usefixtures("umask")
def test_a_new_database_and_its_wal_files_are_private(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    with SqliteStore(db, ttl=60) as store:
        store.set("alice")  # the -wal and -shm files exist while the store is open
        assert {path.name: mode(path) for path in files_of(db)} == {
            "sessions.db": 0o600,
            "sessions.db-wal": 0o600,
            "sessions.db-shm": 0o600,
        }


@pytest.mark.usefixtures("umask")
def test_file_mode_widens_a_new_file_on_purpose(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    with SqliteStore(db, ttl=60, file_mode=0o660) as store:
        store.set("alice")
        assert [mode(path) for path in files_of(db)] == [0o660] * 3
    with sesh.from_url(f"sqlite:///{tmp_path}/url.db?file_mode=0640") as store:
        assert mode(tmp_path / "url.db") == 0o640


def test_file_mode_is_exact_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)  # would take the group's bits away
    try:
        SqliteStore(tmp_path / "g.db", file_mode=0o660).close()
    finally:
        os.umask(old)
    assert mode(tmp_path / "g.db") == 0o660


def test_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    SqliteStore(db).close()
    db.chmod(0o644)
    with SqliteStore(db) as store:
        store.set("alice")
    assert mode(db) == 0o644


@pytest.mark.parametrize(
    ("value", "error"),
    [("0600", TypeError), (True, TypeError), (0o1777, ValueError), (0o400, ValueError)],
)
def test_bad_file_modes_are_refused(tmp_path: Path, value: object, error: type) -> None:
    with pytest.raises(error, match="file_mode"):
        SqliteStore(tmp_path / "x.db", file_mode=value)  # type: ignore[arg-type]
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("5", TypeError),
        (None, TypeError),
        (-1, ValueError),
        (float("inf"), ValueError),
        (1e7, ValueError),
    ],
)
def test_bad_busy_timeouts_are_refused(tmp_path: Path, value: object, error: type) -> None:
    with pytest.raises(error, match="busy_timeout"):
        SqliteStore(tmp_path / "x.db", busy_timeout=value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "query", ["mode=ro", "busy_timeout=soon", "file_mode=rw", "busy_timeout=1&busy_timeout=2"]
)
def test_bad_url_options_are_refused(tmp_path: Path, query: str) -> None:
    with pytest.raises(ValueError, match="SQLite store URL"):
        sesh.from_url(f"sqlite:///{tmp_path}/x.db?{query}")
    assert not (tmp_path / "x.db").exists()


def journal_mode(db: Path) -> str:
    with closing(sqlite3.connect(db)) as conn:
        mode: str = conn.execute("PRAGMA journal_mode").fetchone()[0]
    return mode


def test_a_restored_backup_is_put_back_in_wal_mode(tmp_path: Path) -> None:
    db, backup = tmp_path / "s.db", tmp_path / "restored.db"
    with SqliteStore(db, ttl=60) as store:
        session_id = store.set("alice")
        with closing(sqlite3.connect(db)) as conn:
            conn.execute("VACUUM INTO ?", (str(backup),))
    assert journal_mode(backup) == "delete"  # what a backup comes back as
    with SqliteStore(backup, ttl=60) as store:
        assert store.get(session_id) == "alice"
        assert journal_mode(backup) == "wal"


def test_a_failed_commit_ends_the_transaction(tmp_path: Path) -> None:
    # In rollback-journal mode (a restored backup, before a store puts it back in WAL),
    # COMMIT needs every reader gone: with one reading, it fails "database is locked".
    # A store switches such a file to WAL when it opens it, so rotate's step is driven
    # here on a connection of that mode.
    db = tmp_path / "s.db"
    with SqliteStore(db, ttl=60) as store:
        session_id = store.set("alice")
    writer = sqlite3.connect(db, timeout=0.1, isolation_level=None)
    writer.execute("PRAGMA journal_mode = DELETE")
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM sesh_sessions").fetchall()
    rotate = next(SessionCore(ttl=60).rotate_flow(session_id))
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        sqlite_backend._rotate(writer, rotate, time.time())  # type: ignore[arg-type]
    assert not writer.in_transaction, "the failed COMMIT left its transaction open"
    reader.execute("ROLLBACK")
    writer.execute("INSERT INTO sesh_sessions (key, value) VALUES ('later', 'bob')")
    writer.close()  # had the transaction stayed open, closing would drop this row
    reader.close()
    with closing(sqlite3.connect(db)) as conn:
        keys = {key for (key,) in conn.execute("SELECT key FROM sesh_sessions")}
    assert keys == {f"sesh:{session_id}", "later"}  # the old session, and the later write


def test_a_full_disk_is_reported_as_such_and_the_store_recovers(tmp_path: Path) -> None:
    # SQLite's own cap on the file's size stands in for a full disk: the same error
    # (SQLITE_FULL), from the same place. Small pages make a long user id spill into
    # overflow pages, so rotate's insert must grow the file, and cannot.
    db = tmp_path / "s.db"
    SqliteStore(db).close()
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        for statement in ("journal_mode = DELETE", "page_size = 512"):
            conn.execute(f"PRAGMA {statement}").fetchall()
        conn.execute("VACUUM")
    store = SqliteStore(db, ttl=60)
    user = "u" * 1000
    session_id = store.set(user)
    (conn,) = store._db._idle  # one caller, one connection: the cap goes on it
    conn.execute("PRAGMA max_page_count = 1")  # no page beyond those in use
    with pytest.raises(sesh.BackendError, match="full") as caught:
        store.rotate(session_id)
    assert "rollback" not in str(caught.value)
    assert not conn.in_transaction
    assert store.get(session_id) == user  # the failed rotate changed nothing
    conn.execute("PRAGMA max_page_count = 1000000")
    assert store.get(store.rotate(session_id) or "") == user
    store.close()


def test_concurrent_first_opens_of_a_new_file_all_succeed(tmp_path: Path) -> None:
    # Six callers open a new file at once, 100 times: all set up one schema, none fails
    # ("database is locked" from switching to WAL, once read as "not a sesh database").
    errors: Counter[str] = Counter()
    for round_ in range(100):
        path = tmp_path / f"new-{round_}.db"
        barrier = threading.Barrier(6)

        def open_it(path: Path = path, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                SqliteStore(path).close()
            except Exception as exc:
                errors[f"{type(exc).__name__}: {exc}"] += 1

        threads = [threading.Thread(target=open_it) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors, errors


def test_a_locked_file_is_a_backend_error_that_says_so(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    SqliteStore(db).close()
    with closing(sqlite3.connect(db, isolation_level=None)) as holder:
        holder.execute("PRAGMA journal_mode = DELETE")
        holder.execute("BEGIN EXCLUSIVE")  # nobody else may even read
        started = time.monotonic()
        with pytest.raises(sesh.BackendError, match="locked") as caught:
            SqliteStore(db, busy_timeout=0.3)
        assert 0.25 < time.monotonic() - started < 3
        assert "not a sesh database" not in str(caught.value)
        holder.execute("ROLLBACK")


def test_no_raw_sqlite_error_escapes_a_constructor(tmp_path: Path) -> None:
    cases = {
        "a directory": tmp_path,
        "not sqlite": tmp_path / "notes.db",
        "no directory": tmp_path / "missing" / "s.db",
    }
    (tmp_path / "notes.db").write_bytes(b"\x00not sqlite at all" * 100)
    for what, path in cases.items():
        with pytest.raises(sesh.SeshError) as caught:
            SqliteStore(path)
        assert not isinstance(caught.value, sqlite3.Error), what
