"""SqliteStore and AsyncSqliteStore against the kit, and what only a SQLite file has."""

from __future__ import annotations

import multiprocessing
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

import sesh
from sesh._validate import Ttl
from sesh.backends import sqlite as sqlite_backend
from sesh.backends.sqlite import AsyncSqliteStore, SqliteStore
from sesh.testing import (
    CAPABILITIES,
    AsyncSessionStoreConformance,
    FakeClock,
    SessionStoreConformance,
    WithFakeClock,
)
from testbed import sqlite_worker


class _OnFile(WithFakeClock):
    """Every store of a test shares one database file, and one fake clock."""

    capabilities = CAPABILITIES
    clock_start = 1_700_000_000.0

    def dump(self, store: Any) -> bytes:
        files = [self.db, self.db.with_name(self.db.name + "-wal")]
        return b"".join(path.read_bytes() for path in files if path.exists())

    @pytest.fixture(autouse=True)
    def _file(self, tmp_path: Path) -> None:
        self.db = tmp_path / "sessions.db"


class TestSqliteStore(_OnFile, SessionStoreConformance):
    def make_store(self, *, prefix: str, ttl: Ttl, **options: Any) -> SqliteStore:
        return SqliteStore(self.db, prefix=prefix, ttl=ttl, clock=self.clock, **options)


class TestAsyncSqliteStore(_OnFile, AsyncSessionStoreConformance):
    def make_store(self, *, prefix: str, ttl: Ttl, **options: Any) -> AsyncSqliteStore:
        return AsyncSqliteStore(self.db, prefix=prefix, ttl=ttl, clock=self.clock, **options)


class TestSqliteStoreOnTheRealClock(SessionStoreConformance):
    # The options are checked on the fake clock; this class checks the real one.

    @pytest.fixture(autouse=True)
    def _file(self, tmp_path: Path) -> None:
        self.url = f"sqlite:///{tmp_path}/sessions.db"

    def make_store(self, *, prefix: str, ttl: Ttl, **options: Any) -> sesh.SessionStore:
        return sesh.from_url(self.url, prefix=prefix, ttl=ttl, **options)


class TestInMemorySqliteStore(WithFakeClock, SessionStoreConformance):
    # A private in-memory database per store (``sqlite://``), on the fake clock.
    capabilities = CAPABILITIES
    clock_start = 1_700_000_000.0

    def dump(self, store: Any) -> bytes:
        (conn,) = store._db._idle  # a private database lives in its one connection
        return "\n".join(conn.iterdump()).encode("utf-8")

    def make_store(self, *, prefix: str, ttl: Ttl, **options: Any) -> SqliteStore:
        path = sqlite_backend.path_from_url("sqlite://")
        return SqliteStore(path, prefix=prefix, ttl=ttl, clock=self.clock, **options)


def rows(path: Path) -> int:
    with closing(sqlite3.connect(path)) as conn:
        count: int = conn.execute("SELECT count(*) FROM sesh_sessions").fetchone()[0]
    return count


def test_sessions_survive_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    with SqliteStore(path, ttl=60) as store:
        session_id = store.set("alice")
    with SqliteStore(path, ttl=60) as store:
        assert store.get(session_id) == "alice"


def test_an_expired_row_is_never_returned_even_before_it_is_removed(tmp_path: Path) -> None:
    clock = FakeClock(1_700_000_000.0)
    store = SqliteStore(tmp_path / "s.db", ttl=0.25, clock=clock)
    session_id = store.set("alice")
    clock.advance(0.249)
    assert store.get(session_id) == "alice"
    clock.advance(0.001)  # exactly the deadline: expired, to the millisecond
    assert store.get(session_id) is None
    assert rows(tmp_path / "s.db") == 1  # still stored, never shown
    store.close()


def test_expired_rows_are_removed_and_the_table_stays_bounded(tmp_path: Path) -> None:
    clock = FakeClock(1_700_000_000.0)
    store = SqliteStore(tmp_path / "s.db", ttl=1, clock=clock)
    for day in range(5):
        for _ in range(2000):
            store.set(f"user-{day}")
        clock.advance(2)
    # 10,000 sessions were written; only the last day's can be alive, plus what the
    # purges have not reached yet (at most PURGE_EVERY - 1 inserts' worth).
    assert rows(tmp_path / "s.db") < 2000 + sqlite_backend.PURGE_EVERY
    store.close()


def test_the_purge_reads_the_deadline_index_not_the_table(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "s.db").close()
    with closing(sqlite3.connect(tmp_path / "s.db")) as conn:
        plan = conn.execute(
            "EXPLAIN QUERY PLAN " + sqlite_backend._SQL["purge"], {"now": 0.0, "batch": 10}
        ).fetchall()
    details = " | ".join(row[-1] for row in plan)
    assert "sesh_sessions_expiry" in details, details
    assert "SCAN sesh_sessions" not in details.replace("SCAN sesh_sessions USING", ""), details


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are not sessions\n" * 100)
    with pytest.raises(sesh.SeshError, match="not a sesh database"):
        SqliteStore(path)
    assert path.read_text().startswith("these are not sessions")


def test_another_apps_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    with pytest.raises(sesh.SeshError, match="not a sesh database"):
        SqliteStore(path)
    with closing(sqlite3.connect(path)) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_schema")]
    assert tables == ["users"]


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteStore(path).close()
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {sqlite_backend.SCHEMA_VERSION + 1}")
    with pytest.raises(sesh.SeshError, match="upgrade sesh"):
        SqliteStore(path)


def test_a_new_file_is_a_stamped_wal_database(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteStore(path).close()
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x73657368
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_version_1_file_is_migrated_and_keeps_its_sessions(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with closing(sqlite3.connect(path)) as conn:  # what sesh 0.1 wrote
        conn.execute(f"PRAGMA application_id = {sqlite_backend.APPLICATION_ID}")
        for statement in sqlite_backend.MIGRATIONS[1]:
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        conn.commit()
    session_id = "K9TdKhMrJthrfe+B+AkZyXAL3ga7gaevI8PmWP+G0uQ="
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("INSERT INTO sesh_sessions VALUES (?, 'alice', NULL)", ("app:" + session_id,))
        conn.commit()
    with SqliteStore(path, "app", track_users=True, max_age=60) as store:
        assert (
            store.get(session_id) is None
        )  # records, under tagged keys: options do not read old rows
    with SqliteStore(path, "app") as store:
        assert store.get(session_id) == "alice"
        assert store.rotate(session_id) is not None
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2


def test_a_closed_store_raises_backend_error(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    session_id = store.set("alice")
    store.close()
    with pytest.raises(sesh.BackendError):
        store.get(session_id)


def test_an_unopenable_path_is_a_backend_error(tmp_path: Path) -> None:
    with pytest.raises(sesh.BackendError, match=r"creating the SQLite database .* No such file"):
        SqliteStore(tmp_path / "missing-dir" / "s.db")


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite://", ":memory:"),
        ("sqlite:///sessions.db", "sessions.db"),
        ("sqlite:////tmp/x/sessions.db", "/tmp/x/sessions.db"),
        ("sqlite:///with%20space.db", "with space.db"),
    ],
)
def test_sqlite_urls(url: str, path: str) -> None:
    assert sqlite_backend.path_from_url(url) == path


@pytest.mark.parametrize("url", ["sqlite://host/x.db", "sqlite:///x.db?mode=ro"])
def test_bad_sqlite_urls(url: str) -> None:
    with pytest.raises(ValueError, match="sqlite:///"):
        sesh.from_url(url)


def test_path_must_be_a_path() -> None:
    with pytest.raises(TypeError, match="path"):
        SqliteStore(42)  # type: ignore[arg-type]


def test_four_processes_share_one_file(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")  # new: the four also race to create the schema
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        results = pool.starmap(sqlite_worker.work, [(path, w, 2.0, 3000) for w in range(4)])
    assert [r["errors"] for r in results] == [[], [], [], []]
    assert all(r["rounds"] > 50 for r in results), [r["rounds"] for r in results]
    kept = {sid: user for r in results for sid, user in r["kept"].items()}
    killed = [sid for r in results for sid in r["killed"]]
    assert len(kept) == sum(len(r["kept"]) for r in results), "two processes got one id"
    with SqliteStore(path) as store:
        for session_id, user in kept.items():
            assert store.get(session_id) == user
        for session_id in killed:
            assert store.get(session_id) is None
    assert rows(Path(path)) == len(kept), "a session was lost or written twice"
