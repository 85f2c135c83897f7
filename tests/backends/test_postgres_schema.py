"""The PostgreSQL store's table: created on first use or from ``schema_sql()``, in any
schema, used by a role with no DDL rights, stamped, migrated, and refused when not sesh's."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from sesh.backends import _postgres_sql, postgres
from sesh.backends.postgres import PostgresStore, schema_sql
from sesh.errors import SeshError


@pytest.fixture(scope="module")
def admin(postgres_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def schema(admin: psycopg.Connection[Any]) -> Iterator[str]:
    """A schema of the test's own (not public), dropped with all in it."""
    name = f"s_{secrets.token_hex(5)}"
    admin.execute(f"CREATE SCHEMA {name}")
    yield name
    admin.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture
def app_role(admin: psycopg.Connection[Any], postgres_url: str, schema: str) -> Iterator[str]:
    """The URL of a role that may use the schema and nothing more (no CREATE anywhere)."""
    role, password = f"app_{secrets.token_hex(5)}", secrets.token_hex(8)
    admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    admin.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
    rest = postgres_url.split("@", 1)[1]
    yield f"postgresql://{role}:{password}@{rest}"
    admin.execute(f"DROP OWNED BY {role}")
    admin.execute(f"DROP ROLE {role}")


def comment(admin: psycopg.Connection[Any], qualified: str) -> str | None:
    row = admin.execute("SELECT obj_description(%s::regclass, 'pg_class')", (qualified,)).fetchone()
    assert row is not None
    return None if row[0] is None else str(row[0])


def test_a_role_with_only_dml_rights_uses_a_table_made_from_schema_sql(
    admin: psycopg.Connection[Any], schema: str, app_role: str
) -> None:
    # The owner runs the DDL (what `sesh schema` prints); the app's role gets DML only.
    admin.execute(schema_sql("sessions", schema).encode())
    role = app_role.split("//")[1].split(":")[0]
    admin.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.sessions TO {role}")
    options: dict[str, Any] = {"track_users": True, "max_age": 600, "hash_ids": True}
    for create_table in (False, True):  # True: finds the table, needs no DDL right
        with PostgresStore.from_url(
            app_role, ttl=60, schema=schema, table="sessions", create_table=create_table, **options
        ) as store:
            session_id = store.set("alice")
            assert store.get(session_id, touch=True) == "alice"
            assert store.liv(session_id)
            new_id = store.rotate(session_id)
            assert new_id is not None
            assert store.sessions("alice") == [store.handle(new_id)]
            assert store.purge() == 0
            assert store.die_all("alice") == 1
            assert store.table == f"{schema}.sessions"


def test_a_role_that_may_not_create_the_table_is_told_how_to_make_it(
    schema: str, app_role: str
) -> None:
    with PostgresStore.from_url(app_role, schema=schema) as store:
        with pytest.raises(SeshError, match=r"cannot create .*sesh schema") as caught:
            store.set("alice")
        assert "InsufficientPrivilege" in str(caught.value)


def test_a_missing_table_with_create_table_false_is_an_error(
    postgres_url: str, schema: str
) -> None:
    store = PostgresStore.from_url(postgres_url, schema=schema, create_table=False)
    with store, pytest.raises(SeshError, match=rf"{schema}\.sesh_sessions does not exist"):
        store.setup()


def test_the_table_goes_to_the_search_paths_schema_or_the_one_named(
    admin: psycopg.Connection[Any], postgres_url: str, schema: str
) -> None:
    # libpq's options= sets the search_path: the store finds (and stamps) its table there.
    via_path = f"{postgres_url}?options=-csearch_path%3D{schema}"
    with PostgresStore.from_url(via_path) as store:
        store.set("alice")
        assert store.table == f"{schema}.sesh_sessions"
    assert comment(admin, f"{schema}.sesh_sessions") == _postgres_sql.stamp()
    with PostgresStore.from_url(postgres_url, schema=schema, table="other") as store:
        session_id = store.set("bob")
        assert store.table == f"{schema}.other"
    (value,) = admin.execute(f"SELECT value FROM {schema}.other").fetchone() or (b"",)
    assert bytes(value) == b"bob"
    assert session_id


def test_a_table_that_is_not_seshs_is_refused(
    admin: psycopg.Connection[Any], postgres_url: str, schema: str
) -> None:
    admin.execute(f"CREATE TABLE {schema}.users (key bytea PRIMARY KEY, value bytea)")
    admin.execute(f"CREATE VIEW {schema}.v AS SELECT 1 AS key")
    admin.execute(f"COMMENT ON VIEW {schema}.v IS '{_postgres_sql.stamp()}'")
    for table in ("users", "v"):
        store = PostgresStore.from_url(postgres_url, schema=schema, table=table)
        with store, pytest.raises(SeshError, match="is not a sesh sessions table"):
            store.set("alice")
    (rows,) = admin.execute(f"SELECT count(*) FROM {schema}.users").fetchone() or (None,)
    assert rows == 0


def test_a_newer_seshs_table_is_refused(
    admin: psycopg.Connection[Any], postgres_url: str, schema: str
) -> None:
    admin.execute(schema_sql("sessions", schema).encode())
    newer = _postgres_sql.stamp(_postgres_sql.SCHEMA_VERSION + 1)
    admin.execute(f"COMMENT ON TABLE {schema}.sessions IS '{newer}'")
    store = PostgresStore.from_url(postgres_url, schema=schema, table="sessions")
    with store, pytest.raises(SeshError, match="newer than this sesh's"):
        store.set("alice")


def test_an_older_table_is_migrated_forward_once(
    admin: psycopg.Connection[Any], postgres_url: str, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A made-up version 2 that adds a column: the store runs the step and restamps.
    with PostgresStore.from_url(postgres_url, schema=schema, table="sessions") as store:
        kept = store.set("alice")
    monkeypatch.setattr(_postgres_sql, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(postgres, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(
        _postgres_sql, "MIGRATIONS", {1: ["ALTER TABLE {table} ADD COLUMN note text"]}
    )
    with PostgresStore.from_url(postgres_url, schema=schema, table="sessions") as store:
        assert store.get(kept) == "alice"
    assert comment(admin, f"{schema}.sessions") == _postgres_sql.stamp(2)
    columns = admin.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = 'sessions'",
        (schema,),
    ).fetchall()
    assert ("note",) in columns
    with PostgresStore.from_url(postgres_url, schema=schema, table="sessions") as store:
        assert store.get(kept) == "alice"  # version 2 now: nothing runs again


def test_schema_sql_is_the_table_a_store_creates(
    admin: psycopg.Connection[Any], postgres_url: str, schema: str
) -> None:
    admin.execute(schema_sql("made", schema, unlogged=True).encode())
    with PostgresStore.from_url(
        postgres_url, schema=schema, table="made", create_table=False
    ) as store:
        store.setup()
    (persistence,) = admin.execute(
        "SELECT relpersistence::text FROM pg_class WHERE oid = %s::regclass", (f"{schema}.made",)
    ).fetchone() or (None,)
    assert persistence == "u"
    indexes = admin.execute(
        "SELECT indexname FROM pg_indexes WHERE schemaname = %s ORDER BY 1", (schema,)
    ).fetchall()
    assert indexes == [("made_expires_at",), ("made_pkey",), ("made_user_index",)]


def test_schema_sql_run_over_another_table_changes_nothing(
    admin: psycopg.Connection[Any], schema: str
) -> None:
    # One transaction with no IF NOT EXISTS: it fails whole, so nobody's table is stamped.
    admin.execute(f"CREATE TABLE {schema}.legacy (id int, payload text)")
    with pytest.raises(psycopg.errors.DuplicateTable):
        admin.execute(schema_sql("legacy", schema).encode())
    admin.execute("ROLLBACK")
    assert comment(admin, f"{schema}.legacy") is None
    indexes = admin.execute("SELECT 1 FROM pg_indexes WHERE schemaname = %s", (schema,))
    assert indexes.fetchall() == []


def test_create_table_false_leaves_an_older_table_alone(
    admin: psycopg.Connection[Any], postgres_url: str, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin.execute(schema_sql("sessions", schema).encode())
    monkeypatch.setattr(_postgres_sql, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(postgres, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(_postgres_sql, "MIGRATIONS", {1: ["ALTER TABLE {table} ADD COLUMN x int"]})
    store = PostgresStore.from_url(
        postgres_url, schema=schema, table="sessions", create_table=False
    )
    with store, pytest.raises(SeshError, match="create_table=False forbids migrating it"):
        store.setup()
    assert comment(admin, f"{schema}.sessions") == _postgres_sql.stamp(1)


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("x; DROP TABLE y", ValueError),
        ("1st", ValueError),
        ("", ValueError),
        ("a" * 49, ValueError),
        (b"sessions", TypeError),
    ],
)
def test_table_and_schema_names_are_checked(name: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="table"):
        schema_sql(name)
    with pytest.raises(error, match="schema"):
        schema_sql("t", name)
    with pytest.raises(error, match="table"):
        PostgresStore.from_url("postgresql://127.0.0.1:1/x", table=name)
