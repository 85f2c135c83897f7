"""A Redis that refuses what sesh sends (an old version, a managed service with commands
renamed away): the error names the command and shows nothing of the session.

The server here has GETEX, GETDEL and EVALSHA renamed to nothing, as Redis before 6.2
(no GETEX/GETDEL) or a service that disables scripting would answer. redis-py's text for
that quotes the command's arguments ("unknown command 'GETEX', with args beginning with:
'sesh:<the id>' ..."), which must not reach the caller, the traceback or the CLI.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

import sesh
from sesh._core import digest
from sesh.backends.redis import AsyncRedisStore, RedisStore
from testbed.servers import RedisServer

SESSION_ID = "k3JwWnbQ1pVYv8aWl9sqj2P4x7Hh0bGdTmZr5uNcEeA="
REFUSED = ("GETEX", "GETDEL", "EVALSHA")
LAYOUTS: dict[str, dict[str, Any]] = {
    "default": {},
    "hash_ids": {"hash_ids": True},
    "max_age": {"max_age": 600},
    "track_users": {"track_users": True},
    "track_users+hash_ids": {"track_users": True, "hash_ids": True},
}


@pytest.fixture(scope="module")
def refusing_url() -> Iterator[str]:
    renames = [arg for name in REFUSED for arg in ("--rename-command", name, "")]
    server = RedisServer(*renames)
    server.start()
    yield server.url
    server.close()


def pieces(secret: str, size: int = 8) -> set[str]:
    """Every run of ``size`` characters of a secret: no part of it may show."""
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


FORBIDDEN = pieces(SESSION_ID) | pieces(digest(SESSION_ID))


def shown(error: BaseException) -> str:
    """Everything a caller, a log or a traceback can show of an error and its chain."""
    parts = ["".join(traceback.format_exception(error))]
    seen: BaseException | None = error
    while seen is not None:
        parts += [str(seen), repr(seen), repr(seen.args), repr(vars(seen))]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


def assert_clean(error: BaseException) -> None:
    text = shown(error)
    leaked = sorted(piece for piece in FORBIDDEN if piece in text)
    assert not leaked, text


def refused_calls(store: RedisStore, layout: dict[str, Any]) -> list[Callable[[], Any]]:
    """The verbs that need a refused command in this layout."""
    calls: list[Callable[[], Any]] = [
        lambda: store.get(SESSION_ID, touch=True),
        lambda: store.rotate(SESSION_ID),
    ]
    if "max_age" in layout or "track_users" in layout:  # a hash per session: scripts
        calls += [lambda: store.liv(SESSION_ID), lambda: store.set("alice")]
    if "track_users" in layout:
        calls += [
            lambda: store.die(SESSION_ID),
            lambda: store.sessions("alice"),
            lambda: store.die_all("alice"),
        ]
    return calls


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=list(LAYOUTS))
def test_a_refused_command_is_named_and_no_id_shows(
    refusing_url: str, layout: dict[str, Any]
) -> None:
    with RedisStore.from_url(refusing_url, ttl=60, **layout) as store:
        calls = refused_calls(store, layout)
        for call in calls:
            with pytest.raises(sesh.BackendError) as caught:
                call()
            error = caught.value
            assert_clean(error)
            assert "unknown command" in str(error)
            assert any(f"Redis {name} failed" in str(error) for name in REFUSED), str(error)
            # The cause is still redis-py's type, for callers that tell failures apart, and
            # carries none of redis-py's frames (their locals hold the command).
            assert isinstance(error.__cause__, redis.ResponseError)
            assert error.__cause__.__traceback__ is None
            assert error.__context__ is None


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=list(LAYOUTS))
def test_a_refused_command_shows_no_id_async(refusing_url: str, layout: dict[str, Any]) -> None:
    async def scenario() -> None:
        async with AsyncRedisStore.from_url(refusing_url, ttl=60, **layout) as store:
            calls: list[Callable[[], Awaitable[Any]]] = [
                lambda: store.get(SESSION_ID, touch=True),
                lambda: store.rotate(SESSION_ID),
            ]
            for call in calls:
                with pytest.raises(sesh.BackendError) as caught:
                    await call()
                assert_clean(caught.value)
                assert "unknown command" in str(caught.value)

    asyncio.run(scenario())


def test_the_command_line_names_the_command_and_shows_no_id(
    refusing_url: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SESH_", "XDG_"))}
    cli = Path(sys.executable).with_name("sesh")
    for args in (["get", "--touch", "-"], ["rotate", "-"]):
        result = subprocess.run(
            [str(cli), "--url", refusing_url, "--ttl", "60", *args],
            input=SESSION_ID + "\n",
            capture_output=True,
            text=True,
            env={**env, "HOME": str(tmp_path)},
            timeout=60,
        )
        assert result.returncode == 3, result
        assert "unknown command" in result.stderr
        output = result.stdout + result.stderr
        assert not [piece for piece in FORBIDDEN if piece in output], output
