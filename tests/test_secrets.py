"""No session id (but from set), password or credentialed URL in any message, log or repr."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

import sesh
from sesh.backends.postgres import PostgresStore
from sesh.backends.redis import RedisStore
from sesh.backends.sqlite import SqliteStore
from testbed.servers import free_port
from testbed.verbs import each_verb

PASSWORD = "hunter2-Sw0rdfish"
SESSION_ID = "k3JwWnbQ1pVYv8aWl9sqj2P4x7Hh0bGdTmZr5uNcEeA="


def chain(exc: BaseException | None) -> Iterator[BaseException]:
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


def assert_clean(text: str) -> None:
    assert PASSWORD not in text
    assert SESSION_ID not in text
    assert f":{PASSWORD}@" not in text


def failures(store: sesh.SessionStore) -> Iterator[BaseException]:
    for call in each_verb(store, SESSION_ID):
        with pytest.raises(sesh.SeshError) as caught:
            call()
        yield caught.value


@pytest.mark.parametrize(
    "url",
    [
        f"redis://admin:{PASSWORD}@127.0.0.1:{{port}}/0",
        f"redis+sentinel://:{PASSWORD}@127.0.0.1:{{port}}/svc?sentinel_password={PASSWORD}",
    ],
)
def test_failures_show_no_secret(url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    store = sesh.from_url(url.format(port=free_port()), ttl=60, retry_for=0.2)
    for error in failures(store):
        for exc in chain(error):
            assert_clean(str(exc))
            assert_clean(repr(exc))
    assert_clean(repr(store))
    assert_clean(str(store))
    for record in caplog.records:
        assert_clean(record.getMessage())
    store.close()


def test_a_wrong_password_shows_no_secret(redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    host_port = redis_url.removeprefix("redis://").split("/")[0]
    store = sesh.from_url(f"redis://nobody:{PASSWORD}@{host_port}/0")
    for error in failures(store):
        assert any(isinstance(e, redis.AuthenticationError) for e in chain(error))
        for exc in chain(error):
            assert_clean(str(exc))
    for record in caplog.records:
        assert_clean(record.getMessage())
    store.close()


def test_a_wrong_type_error_shows_no_session_id(redis_url: str) -> None:
    raw = redis.Redis.from_url(redis_url)
    raw.rpush(f"secrets:{SESSION_ID}", "x")
    store = RedisStore(raw, prefix="secrets")
    with pytest.raises(sesh.BackendError) as caught:
        store.get(SESSION_ID)
    for exc in chain(caught.value):
        assert_clean(str(exc))
    raw.delete(f"secrets:{SESSION_ID}")
    raw.close()


def test_sqlite_failures_show_no_session_id(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    store.close()
    for error in failures(store):
        for exc in chain(error):
            assert_clean(str(exc))


def test_postgres_failures_show_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    # Nothing listens: every verb fails, after libpq and psycopg_pool have logged.
    caplog.set_level(logging.DEBUG)
    for make in (sesh.from_url, sesh.async_from_url):
        store: Any = make(f"postgresql://admin:{PASSWORD}@127.0.0.1:{free_port()}/db")
        assert_clean(repr(store))
        if isinstance(store, sesh.SeshStore):
            for error in failures(store):
                for exc in chain(error):
                    assert_clean(str(exc))
                    assert_clean(repr(exc))
            store.close()
        else:
            asyncio.run(_async_failures(store))
    for record in caplog.records:
        assert_clean(record.getMessage())


async def _async_failures(store: Any) -> None:
    for call in (store.get(SESSION_ID), store.set("alice"), store.die(SESSION_ID)):
        with pytest.raises(sesh.BackendError) as caught:
            await call
        for exc in chain(caught.value):
            assert_clean(str(exc))
    await store.aclose()


def test_postgres_server_errors_show_no_session_id(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A wrong password, then a role with no right on the table: the server's own
    # text comes back, and must not carry the id (a key is in every statement).
    caplog.set_level(logging.DEBUG)
    rest = postgres_url.split("@", 1)[1]
    wrong = sesh.from_url(f"postgresql://sesh_admin:{PASSWORD}@{rest}")
    for error in failures(wrong):
        for exc in chain(error):
            assert_clean(str(exc))
    wrong.close()
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE nobody_here LOGIN PASSWORD '{PASSWORD}'")
        try:
            with PostgresStore.from_url(postgres_url, prefix="secrets", table="secrets") as owner:
                owner.setup()
            store = sesh.from_url(
                f"postgresql://nobody_here:{PASSWORD}@{rest}", prefix="secrets", table="secrets"
            )
            for error in failures(store):
                assert "InsufficientPrivilege: permission denied for table secrets" in str(error)
                for exc in chain(error):
                    assert_clean(str(exc))
                    assert SESSION_ID.encode().hex() not in str(exc)
            store.close()
        finally:
            admin.execute("DROP OWNED BY nobody_here")
            admin.execute("DROP ROLE nobody_here")
            admin.execute("DROP TABLE IF EXISTS secrets")
    for record in caplog.records:
        assert_clean(record.getMessage())


def test_unknown_url_shows_no_secret() -> None:
    for url in (
        f"mysql://root:{PASSWORD}@db/x",
        f"root:{PASSWORD}@db",
        f"redis+cluster://:{PASSWORD}@h",
    ):
        with pytest.raises(ValueError, match="URL") as caught:
            sesh.from_url(url)
        assert_clean(str(caught.value))


def test_async_failures_show_no_secret() -> None:
    async def scenario() -> None:
        store = sesh.async_from_url(f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0")
        for call in (store.get(SESSION_ID), store.set("alice"), store.die(SESSION_ID)):
            with pytest.raises(sesh.BackendError) as caught:
                await call
            for exc in chain(caught.value):
                assert_clean(str(exc))
        assert_clean(repr(store))
        await store.aclose()

    asyncio.run(scenario())


@pytest.mark.parametrize("scheme", ["redis", "postgresql"])
def test_command_line_errors_show_no_secret(tmp_path: Path, scheme: str) -> None:
    sesh_cli = Path(sys.executable).with_name("sesh")
    url = f"{scheme}://admin:{PASSWORD}@127.0.0.1:{free_port()}/0"
    for args in (["get", SESSION_ID], ["liv", SESSION_ID], ["die", SESSION_ID], ["set", "x"]):
        result = subprocess.run(
            [str(sesh_cli), "--url", url, *args], capture_output=True, text=True, cwd=tmp_path
        )
        assert result.returncode == 3
        assert_clean(result.stderr)
        assert_clean(result.stdout)
