"""Hostile input on every public call and on the command line (property-based).

Allowed outcomes: the documented result, TypeError, ValueError, or None/False for a
session id that cannot be one; malformed ids send no command to Redis; nothing reaches
another store's sessions or a key outside the store's prefix.
"""

from __future__ import annotations

import contextlib
import io
import re
import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sesh import cli
from sesh._validate import is_session_id
from sesh.backends.memory import MemoryStore
from sesh.backends.postgres import PostgresStore
from sesh.backends.redis import RedisStore
from sesh.backends.sqlite import SqliteStore

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.binary(max_size=64),
    st.text(max_size=64),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=*?[]:\x00",
            min_size=40, max_size=48),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.timedeltas(),
)  # fmt: skip
HOSTILE = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
BIG = "x" * 10_000_000
CANARY_USER = "canary-user"


@pytest.fixture(scope="module")
def redis_url(private_redis_url: str) -> str:
    """This module counts commands on the server (statistics, MONITOR): a server of its own."""
    return private_redis_url


@pytest.fixture(params=["memory", "sqlite", "redis", "postgres"])
def stores(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str) -> Iterator[Any]:
    """A store under a random prefix, and a canary session in another store beside it."""
    prefix = f"hostile-{secrets.token_hex(4)}"
    if request.param == "memory":
        store: Any = MemoryStore(prefix, ttl=60)
        other: Any = store  # one process's memory: the canary lives in the same store
    elif request.param == "sqlite":
        store = SqliteStore(tmp_path / "h.db", prefix, ttl=60)
        other = SqliteStore(tmp_path / "h.db", prefix + "-other", ttl=60)
    elif request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        store = PostgresStore.from_url(url, prefix=prefix, ttl=60, table="hostile")
        other = PostgresStore.from_url(url, prefix=prefix + "-other", ttl=60, table="hostile")
    else:
        store = RedisStore.from_url(redis_url, prefix=prefix, ttl=60)
        other = RedisStore.from_url(redis_url, prefix=prefix + "-other", ttl=60)
    canary = other.set(CANARY_USER)
    yield store, other, canary
    assert other.get(canary) == CANARY_USER, "hostile input reached another session"
    for each in {id(store): store, id(other): other}.values():
        each.close()


@HOSTILE
@given(value=anything)
@example(value=BIG)
@example(value=b"\xff" * 44)
def test_session_id_calls_answer_no_session_or_type_error(stores: Any, value: Any) -> None:
    store, _, canary = stores
    for call in (
        lambda: store.get(value),
        lambda: store.get(value, touch=True),
        lambda: store.liv(value),
        lambda: store.die(value),
    ):
        try:
            result = call()
        except TypeError:
            assert not isinstance(value, str)
            continue
        assert isinstance(value, str)
        assert result in (None, False)
    assert value != canary


@HOSTILE
@given(value=anything)
@example(value=BIG)
@example(value="\ud800")
@example(value=10**5000)
def test_set_makes_a_session_or_refuses_clearly(stores: Any, value: Any) -> None:
    store, _, _ = stores
    try:
        session_id = store.set(value)
    except TypeError:
        assert not isinstance(value, (str, int)) or isinstance(value, bool)
        return
    except ValueError:
        assert isinstance(value, (str, int))
        return
    assert store.get(session_id) == str(value)
    assert store.die(session_id) is True


@HOSTILE
@given(ttl=anything, prefix=anything)
@example(ttl=float("nan"), prefix="p")
@example(ttl=timedelta(days=-1), prefix="p")
def test_settings_make_a_store_or_refuse_clearly(ttl: Any, prefix: Any) -> None:
    try:
        store = MemoryStore(prefix, ttl)
    except (TypeError, ValueError):
        return
    assert isinstance(prefix, str)
    assert store.get(store.set("u")) == "u"


def test_malformed_ids_send_no_command_and_touch_nothing_outside_the_prefix(
    redis_url: str,
) -> None:
    raw = redis.Redis.from_url(redis_url)
    prefix = f"hostile-{secrets.token_hex(4)}"
    raw.set("outside", "keep")
    store = RedisStore.from_url(redis_url, prefix=prefix, ttl=60)
    store.die(store.set("warm-up"))
    before = _calls(raw)

    @HOSTILE
    @given(text=st.text(max_size=100).filter(lambda t: not is_session_id(t)))
    def hostile(text: str) -> None:
        assert store.get(text) is None
        assert store.liv(text) is False
        assert store.die(text) is False

    hostile()
    assert _calls(raw) == before, "a malformed session id reached Redis"
    assert raw.get("outside") == b"keep"
    store.close()
    raw.delete("outside")
    raw.close()


def _calls(raw: redis.Redis) -> int:
    stats = raw.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k not in ("cmdstat_info",))


@settings(max_examples=150, deadline=None, database=None)
@given(
    args=st.lists(st.text(max_size=30), max_size=4),
    verb=st.sampled_from(
        ["set", "get", "liv", "die", "--ttl", "--prefix", "--json", "get --touch", "frob"]
    ),
)
def test_the_command_line_never_shows_a_traceback(args: list[str], verb: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    argv = ["--url", "memory://", *verb.split(), *args]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.main(argv)
        except SystemExit as exit_:  # argparse's own exit, for usage errors and --help
            status = exit_.code if isinstance(exit_.code, int) else 2
    assert status in (0, 1, 2), (argv, err.getvalue())
    assert "Traceback" not in err.getvalue()
    assert err.getvalue().count("\n") <= 1, err.getvalue()  # errors are one line
    assert not re.search(r"[A-Za-z0-9+/]{43}=", err.getvalue())  # and show no session id
