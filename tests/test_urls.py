"""Stores from URLs: each scheme's backend, and clear errors that never echo a credential."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis
import redis.asyncio
import redis.sentinel
from psycopg.conninfo import conninfo_to_dict

import sesh
from sesh.backends._postgres_pool import parse_url
from sesh.backends._redis_clients import check_url, client_from_url
from sesh.backends.memory import AsyncMemoryStore, MemoryStore
from sesh.backends.postgres import AsyncPostgresStore, PostgresStore
from sesh.backends.redis import AsyncRedisStore, RedisStore


def test_memory_url() -> None:
    store = sesh.from_url("memory://", prefix="app", ttl=30)
    assert isinstance(store, MemoryStore)
    assert (store.prefix, store.ttl) == ("app", 30.0)
    assert isinstance(sesh.async_from_url("memory://"), AsyncMemoryStore)


@pytest.mark.parametrize("url", ["memory://host", "memory:///path", "memory://?x=1"])
def test_memory_url_takes_no_options(url: str) -> None:
    with pytest.raises(ValueError, match="memory://"):
        sesh.from_url(url)


@pytest.mark.parametrize(
    "url",
    ["redis://localhost:6379/0", "rediss://user:pw@localhost:6380/1", "unix:///tmp/redis.sock"],
)
def test_redis_urls(url: str) -> None:
    store = sesh.from_url(url, prefix="app", ttl=5)
    assert isinstance(store, RedisStore)
    assert store.client.connection_pool.connection_kwargs["socket_timeout"] == 1.0
    store.close()

    async def make() -> None:
        async_store = sesh.async_from_url(url)
        assert isinstance(async_store, AsyncRedisStore)
        await async_store.aclose()

    asyncio.run(make())


def test_url_options_win_over_the_defaults() -> None:
    store = sesh.from_url("redis://localhost/0?socket_timeout=7")
    assert isinstance(store, RedisStore)
    assert store.client.connection_pool.connection_kwargs["socket_timeout"] == 7.0


def test_rediss_url_makes_a_tls_client() -> None:
    store = sesh.from_url("rediss://localhost:6380/0")
    assert isinstance(store, RedisStore)
    assert store.client.connection_pool.connection_class is redis.SSLConnection


@pytest.mark.parametrize(
    "url", ["mysql://root:hunter2@db/app", "hunter2", "", "http://u:hunter2@x", "REDIS"]
)
def test_unknown_scheme_names_no_secret(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported store URL scheme") as caught:
        sesh.from_url(url)
    assert "hunter2" not in str(caught.value)
    assert "redis://" in str(caught.value)


def test_url_must_be_text() -> None:
    with pytest.raises(TypeError, match="url"):
        sesh.from_url(b"memory://")  # type: ignore[arg-type]


def test_bad_settings_are_refused_by_from_url() -> None:
    with pytest.raises(ValueError, match="ttl"):
        sesh.from_url("memory://", ttl=-5)
    with pytest.raises(TypeError, match="prefix"):
        sesh.from_url("memory://", prefix=3)  # type: ignore[arg-type]


def test_repr_shows_no_credential() -> None:
    store = sesh.from_url("redis://:hunter2@localhost/0", prefix="app", ttl=60)
    assert repr(store) == "RedisStore(prefix='app', ttl=60.0)"


def test_sentinel_url() -> None:
    url = (
        "redis+sentinel://:pw@127.0.0.1:26379,127.0.0.1:26380/mymaster/2"
        "?socket_timeout=3&sentinel_password=spw"
    )
    store = sesh.from_url(url, ttl=60)
    assert isinstance(store, RedisStore)
    pool = store.client.connection_pool
    assert pool.service_name == "mymaster"
    assert pool.connection_kwargs["db"] == 2
    assert pool.connection_kwargs["password"] == "pw"
    assert pool.connection_kwargs["socket_timeout"] == 3.0  # the URL wins over the default
    assert pool.connection_kwargs["socket_connect_timeout"] == 1.0
    sentinels = [s.connection_pool.connection_kwargs for s in pool.sentinel_manager.sentinels]
    assert [(s["host"], s["port"], s["password"]) for s in sentinels] == [
        ("127.0.0.1", 26379, "spw"),
        ("127.0.0.1", 26380, "spw"),
    ]
    assert store.retry_for > 0
    assert "pw" not in repr(store)


def test_tls_cluster_url_async() -> None:
    async def make() -> None:
        store = sesh.async_from_url("rediss+cluster://u:pw@h1:7000,h2:7001?ssl_cert_reqs=none")
        assert isinstance(store, AsyncRedisStore)
        client = store.client
        nodes = [(n.host, n.port) for n in client.nodes_manager.startup_nodes.values()]
        assert nodes == [("h1", 7000), ("h2", 7001)]
        assert client.connection_kwargs["connection_class"] is redis.asyncio.SSLConnection
        assert client.connection_kwargs["ssl_cert_reqs"] == "none"
        assert (client.connection_kwargs["username"], client.connection_kwargs["password"]) == (
            "u",
            "pw",
        )
        await store.aclose()

    asyncio.run(make())


def test_tls_sentinel_url() -> None:
    store = sesh.from_url("rediss+sentinel://127.0.0.1:26379/svc")
    assert isinstance(store, RedisStore)
    pool = store.client.connection_pool
    assert pool.connection_class is redis.sentinel.SentinelManagedSSLConnection
    sentinel_pools = [s.connection_pool for s in pool.sentinel_manager.sentinels]
    assert [p.connection_class for p in sentinel_pools] == [redis.SSLConnection]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+sentinel://127.0.0.1:26379", "names its service"),
        ("redis+sentinel://127.0.0.1/svc", "host:port"),
        ("redis+cluster://:hunter2@h1", "host:port"),
        ("redis+cluster://h1:7000/3", "only database 0"),
    ],
)
def test_bad_cluster_and_sentinel_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        sesh.from_url(url)
    assert "hunter2" not in str(caught.value)


def test_an_unreachable_cluster_is_a_backend_error() -> None:
    with pytest.raises(sesh.BackendError, match="connecting to Redis failed") as caught:
        sesh.from_url("redis+cluster://:hunter2@127.0.0.1:1")
    assert "hunter2" not in str(caught.value)


def test_bad_settings_fail_before_any_connection() -> None:
    with pytest.raises(ValueError, match="ttl"):
        sesh.from_url("redis+cluster://127.0.0.1:1", ttl=-1)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://h/notanumber", "database .* must be a number"),
        ("redis://:hunter2@h/0?bogus=1", "unknown option 'bogus'"),
        ("redis://h/0?socket_timout=5", "did you mean 'socket_timeout'"),
        ("redis://h/0?socket_timeout=-1", "socket_timeout .* at least"),
        ("redis://h/0?socket_timeout=0", "socket_timeout .* at least"),
        ("redis://h/0?socket_timeout=nan", "socket_timeout"),
        ("redis://h/0?socket_connect_timeout=soon", "socket_connect_timeout"),
        ("redis://h/0?max_connections=0", "max_connections"),
        ("rediss://h/0?ssl_cert_reqz=none", "did you mean 'ssl_cert_reqs'"),
        ("unix:///tmp/r.sock?db=x", "db"),
        ("redis+cluster://h:1?read_from_replica=true", "did you mean 'read_from_replicas'"),
        ("redis+cluster://h:1?socket_timeout=-1", "socket_timeout"),
        ("redis+sentinel://:hunter2@h:1/svc?sentinel_pasword=x", "sentinel_password"),
        ("redis+sentinel://h:1/svc?socket_timeout=-3", "socket_timeout"),
        ("redis://:hunter2@h/0?decode_responses=maybe", "decode_responses .* true or false"),
        ("redis://h/0?retry_on_timeout=flase", "retry_on_timeout .* true or false"),
        ("redis+cluster://h:1?read_from_replicas=perhaps", "read_from_replicas"),
        ("redis+cluster://h:1?reinitialize_steps=five", "reinitialize_steps .* a number"),
        ("redis://:hunter2@h/0?socket_timeout=1&socket_timeout=2", "'socket_timeout' .* twice"),
        ("rediss+cluster://h:1?ssl=false", "ssl=false in a rediss URL"),
    ],
)
@pytest.mark.parametrize("make", [sesh.from_url, sesh.async_from_url], ids=["sync", "async"])
def test_what_would_fail_later_is_refused_at_once(url: str, message: str, make: Any) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        make(url)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "redis://h/0?socket_timeout=2.5&client_name=app&health_check_interval=30",
        "rediss://h/1?ssl_cert_reqs=none&ssl_check_hostname=false",
        "unix:///tmp/r.sock?db=3&socket_timeout=1",
        "redis+cluster://h:1?read_from_replicas=true",
        "redis+sentinel://h:1/svc/2?sentinel_password=x&socket_timeout=0.5",
    ],
)
def test_what_redis_py_takes_is_taken(url: str) -> None:
    check_url(url, asyncio=False)
    check_url(url, asyncio=True)
    if "cluster" not in url:  # a cluster client asks for its slot map at once
        sesh.from_url(url).close()


@pytest.mark.parametrize(("text", "value"), [("false", False), ("No", False), ("0", False),
                                           ("off", False), ("true", True), ("YES", True),
                                           ("1", True), ("on", True)])  # fmt: skip
@pytest.mark.parametrize("make", [sesh.from_url, sesh.async_from_url], ids=["sync", "async"])
def test_a_bool_option_arrives_as_a_bool(text: str, value: bool, make: Any) -> None:
    # redis-py's parse_url passes decode_responses on as text ("false" would turn it on),
    # and reads retry_on_timeout=off as True.
    store = make(f"redis://h/0?decode_responses={text}&retry_on_timeout={text}&socket_keepalive=")
    kwargs = store.client.connection_pool.connection_kwargs
    assert kwargs["decode_responses"] is value
    assert kwargs["retry_on_timeout"] is value
    assert "socket_keepalive" not in kwargs  # no value: ignored, as redis-py does
    assert kwargs["socket_timeout"] == 1.0  # the defaults stay
    if isinstance(store, sesh.SeshStore):
        store.close()
    else:
        asyncio.run(store.aclose())


def test_cluster_options_arrive_typed() -> None:
    # An asyncio cluster client asks for its slot map on first use, not when it is made.
    url = (
        "redis+cluster://h:1?reinitialize_steps=5&require_full_coverage=no&dynamic_startup_nodes=0"
    )
    client = client_from_url(url, asyncio=True)
    assert client.reinitialize_steps == 5  # as text, the first MOVED would fail on "5"
    assert client.nodes_manager.require_full_coverage is False
    assert client.nodes_manager._dynamic_startup_nodes is False
    assert client.get_connection_kwargs()["socket_timeout"] == 1.0


def failure(store: Any) -> BaseException:
    """What a call on a store that cannot reach its server raises."""

    async def get_async() -> None:
        await store.get("A" * 43 + "=")
        await store.aclose()

    try:
        if isinstance(store, sesh.SeshStore):
            with store:
                store.get("A" * 43 + "=")
        else:
            asyncio.run(get_async())
    except sesh.BackendError as exc:
        return exc
    raise AssertionError("a store on an unreachable server answered")


@pytest.mark.parametrize(
    "password", ["pw#SECRET", "ab?SECRET", "a/bSECRET", "x@ySECRET", "it'sSECRET"]
)
@pytest.mark.parametrize(
    "template",
    [
        "redis://:{pw}@127.0.0.1:1/0",
        "rediss://user:{pw}@127.0.0.1:1",
        "redis+cluster://:{pw}@127.0.0.1:1",
        "redis+sentinel://:{pw}@127.0.0.1:1/svc",
    ],
)
def test_a_password_that_breaks_the_url_is_never_shown(template: str, password: str) -> None:
    # Unencoded '#', '?', '/' or '@' in a password make a URL that urllib and redis-py
    # misread; their own messages quote what they misread, password and all.
    url = template.format(pw=password)
    for make in (sesh.from_url, sesh.async_from_url):
        try:
            store = make(url, retry_for=0)
        except (ValueError, sesh.SeshError) as exc:
            error: BaseException | None = exc
            while error is not None:
                assert "SECRET" not in str(error), str(error)
                error = error.__cause__ or error.__context__
        else:
            # It parsed as something else (a host named 'ySECRET'): calls then fail, cleanly.
            assert "SECRET" not in str(failure(store))


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://h:1/svc?timeout=2",
        "redis+sentinel://h:1/svc?queue_class=x",
        "redis+cluster://h:1?timeout=2",
        "redis://h/0?retry=x",
        "redis://h/0?connection_class=x",
        "redis://h/0?ssl_cert_reqs=none",
    ],
)
def test_options_the_url_s_client_does_not_take_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="unknown option"):
        sesh.from_url(url)


def test_postgres_urls_make_postgres_stores() -> None:
    for scheme in ("postgresql", "postgres", "POSTGRESQL"):
        url = f"{scheme}://u:pw@127.0.0.1:1/db?sslmode=disable&application_name=web&table=t1"
        store = sesh.from_url(url, ttl=30, track_users=True)
        assert isinstance(store, PostgresStore)
        assert store.table == "t1"
        assert store.track_users
        store.close()
    async_store = sesh.async_from_url("postgresql://127.0.0.1:1/db?schema=app&pool_size=3")
    assert isinstance(async_store, AsyncPostgresStore)
    assert async_store.table == "app.sesh_sessions"
    assert async_store.pool.max_size == 3


def test_postgres_url_options_go_to_libpq_with_a_connect_deadline() -> None:
    conninfo, settings = parse_url("postgresql://u@h/db?call_timeout=0.5&sslmode=require")
    assert settings == {"call_timeout": 0.5}
    parsed = conninfo_to_dict(conninfo)
    assert parsed["sslmode"] == "require"
    assert parsed["connect_timeout"] == "2"
    conninfo, _ = parse_url("postgresql://u@h/db?connect_timeout=10")
    assert conninfo_to_dict(conninfo)["connect_timeout"] == "10"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://h/db?frobnicate=1", "unknown or repeated option 'frobnicate'"),
        ("postgresql://h/db?sslmode=require&sslmode=disable", "unknown or repeated option"),
        ("postgresql://h/db?call_timeout=soon", "call_timeout .* must be seconds"),
        ("postgresql://h/db?call_timeout=0", "call_timeout must be more than 0"),
        ("postgresql://h/db?pool_size=0", "pool_size must be from 1"),
        ("postgresql://h/db?pool_size=many", "pool_size .* whole number"),
        ("postgresql://h/db?unlogged=maybe", "unlogged .* true or false"),
        ("postgresql://h/db?table=a-b", "table must be"),
        ("postgresql://h/db?schema=1x", "schema must be"),
        ("postgresql://h:notaport/db", "malformed PostgreSQL store URL"),
        ("postgresql://h/db#frag", "a PostgreSQL store URL is"),
    ],
)
def test_bad_postgres_urls_are_refused_at_once(url: str, message: str) -> None:
    for make in (sesh.from_url, sesh.async_from_url):
        with pytest.raises(ValueError, match=message):
            make(url)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://admin:SECRETpw@127.0.0.1:1/db?passwrd=SECRETpw",
        "postgresql://admin:SECRETpw@127.0.0.1:notaport/db",
        "postgresql://admin@127.0.0.1:1/db?password=SECRETpw&password=SECRETpw",
        "postgresql://admin@127.0.0.1:1/db?password=ab&cdSECRETxyz",
        "postgresql://admin@127.0.0.1:1/db?password:SECRETpw",
    ],
)
def test_a_bad_postgres_url_never_shows_its_password(url: str) -> None:
    with pytest.raises(ValueError, match="PostgreSQL store URL") as caught:
        sesh.from_url(url)
    assert "SECRET" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__
