"""redis-py clients made from URLs: a single Redis, a Cluster, or a Sentinel-managed primary.

redis-py has URLs for a single server only (``redis://``, ``rediss://``, ``unix://``). For
the other two, sesh follows the convention of the ``limits`` library and others:

- ``redis+cluster://[[user]:password@]host:port[,host:port...][?options]``: the listed nodes
  are where discovery starts; the cluster's own map says where each key lives.
- ``redis+sentinel://[[user]:password@]host:port[,host:port...]/service[/db][?options]``:
  the listed hosts are sentinels, ``service`` is the name they monitor; the password is the
  primary's (``?sentinel_password=`` for the sentinels').

``rediss+cluster://`` and ``rediss+sentinel://`` use TLS, as ``rediss://`` does. Options are
redis-py's URL options (``socket_timeout``, ``ssl_cert_reqs``, ...) and win over sesh's
defaults.
"""

from __future__ import annotations

import difflib
import inspect
import math
import re
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.connection
import redis.asyncio.retry
import redis.asyncio.sentinel
import redis.cluster
import redis.connection
import redis.retry
import redis.sentinel
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.connection import URL_QUERY_ARGUMENT_PARSERS, parse_url
from redis.exceptions import ConnectionError as RedisConnectionError

__all__ = ["CLIENT_DEFAULTS", "POOL_WAIT", "client_from_url", "is_replicated", "made_with"]

POOL_WAIT = 2.0
"""Seconds a call waits for a free connection when all of a single Redis's are busy."""

CLIENT_DEFAULTS: dict[str, Any] = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}
"""What ``from_url`` sets on the client it makes, unless the URL's query says otherwise.

A session lookup sits on every request: a stalled Redis should fail that request within
a second rather than hold it for redis-py's default of 5 s per attempt (and up to ten
attempts). A single Redis also gets one quick retry (10-50 ms) on a connection error, not
on a timeout, and a blocking pool of 100 connections (``?max_connections=``): a burst of
callers waits up to ``POOL_WAIT`` for a connection instead of failing. Cluster and Sentinel
clients get no retry from redis-py, since the store retries each verb through a failover
itself, and that includes a moment with all connections busy (see ``RedisStore``).
"""


def _hosts(netloc: str) -> tuple[str, list[tuple[str, int]]]:
    userinfo, _, hostlist = netloc.rpartition("@")
    hosts = []
    for item in hostlist.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit():
            raise _UrlError("each host of a cluster or sentinel URL must be host:port")
        hosts.append((host.strip("[]"), int(port)))
    return userinfo, hosts


def _options(scheme: str, userinfo: str, path: str, query: str, asyncio: bool) -> dict[str, Any]:
    """redis-py's own reading of the credentials, database and query options, typed."""
    at = "@" if userinfo else ""
    tls = scheme.startswith("rediss")
    options: dict[str, Any] = parse_url(  # type: ignore[no-untyped-call]
        f"{'rediss' if tls else 'redis'}://{userinfo}{at}localhost{path}?{query}"
    )
    options.pop("host", None)
    options.pop("port", None)
    if options.pop("connection_class", None) is not None:
        options["ssl"] = True
    return {**CLIENT_DEFAULTS, **options, **typed_query(scheme, asyncio, query)}


# Numeric URL options, by the least each may be (a timeout of 0 makes a socket that never
# waits, so every call would fail as if Redis were down).
_AT_LEAST = {
    "socket_timeout": (0.0, False),
    "socket_connect_timeout": (0.0, False),
    "timeout": (0.0, False),
    "max_connections": (1, True),
    "socket_read_size": (1, True),
    "db": (0, True),
    "health_check_interval": (0, True),
}


# Parameters that take objects, not text: a URL cannot give them (they lack annotations in
# some classes, so the annotation test below cannot tell).
_OBJECTS = {
    "connection_class", "connection_kwargs", "connection_pool", "connection_pool_class",
    "queue_class", "parser", "parser_class", "cache", "cache_factory", "socket_type",
    "socket_keepalive_options", "ssl_ocsp_context", "self", "args", "kwargs",
    # and those a URL gives in its own way
    "address_remap", "host", "port", "path", "startup_nodes", "url", "service_name",
    "sentinel_manager",
}  # fmt: skip
_TEXT_TYPES = re.compile(r"\b(str|int|float|bool)\b")
_NOT_A_VALUE = re.compile(r"\b(None|NoneType|Optional|Union|typing)\b")
# What a URL option typed bool may say (any case): redis-py's own to_bool reads the words
# for False here as False and anything else, "off" or "flase" included, as True.
_BOOLS = {"0": False, "f": False, "false": False, "n": False, "no": False, "off": False,
          "1": True, "t": True, "true": True, "y": True, "yes": True, "on": True}  # fmt: skip
_OPTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")


def _parameters(*classes: Any) -> dict[str, inspect.Parameter]:
    found: dict[str, inspect.Parameter] = {}
    for cls in classes:
        for base in cls.__mro__:
            init = vars(base).get("__init__")
            if init is not None:
                for name, parameter in inspect.signature(init).parameters.items():
                    found.setdefault(name, parameter)
    return found


@cache
def known_options(scheme: str, asyncio: bool) -> frozenset[str]:
    """The query options redis-py takes for a URL of ``scheme``: read from the installed
    redis-py's own classes (the parameters of the connection and pool, or of the cluster
    client, that the URL makes), since they differ from one release to the next; less
    those that take objects, which a URL cannot give."""
    return frozenset(_option_parameters(scheme, asyncio))


@cache
def option_types(scheme: str, asyncio: bool) -> dict[str, type]:
    """The type of each query option that is a bool, an int or a float: by the annotation
    of redis-py's parameter, or by its default where it has none (``str | int``, or
    neither: left as text, as redis-py leaves it)."""
    types: dict[str, type] = {}
    for name, parameter in _option_parameters(scheme, asyncio).items():
        if parameter.annotation is parameter.empty:
            default = parameter.default
            if type(default) in (bool, int, float):
                types[name] = type(default)
            continue
        found = set(_TEXT_TYPES.findall(_NOT_A_VALUE.sub("", str(parameter.annotation))))
        if found and "str" not in found:
            types[name] = bool if "bool" in found else float if "float" in found else int
    return types


def _option_parameters(scheme: str, asyncio: bool) -> dict[str, inspect.Parameter]:
    lib: Any = redis.asyncio.connection if asyncio else redis.connection
    tls = scheme.startswith("rediss")
    connection = getattr(lib, "SSLConnection" if tls else "Connection")
    if scheme.endswith("+cluster"):
        cluster: Any = redis.asyncio.cluster if asyncio else redis.cluster
        found = _parameters(cluster.RedisCluster)
        if not asyncio:  # the sync client passes on what each node's Redis client takes
            node = _parameters(redis.Redis, connection)
            found.update({k: node[k] for k in redis.cluster.REDIS_ALLOWED_KEYS if k in node})
    elif scheme.endswith("+sentinel"):  # the primary's pool and connections
        pools: Any = redis.asyncio.sentinel if asyncio else redis.sentinel
        found = _parameters(connection, pools.SentinelConnectionPool)
        found["sentinel_password"] = inspect.Parameter("p", inspect.Parameter.KEYWORD_ONLY)
    else:
        kind = "UnixDomainSocketConnection" if scheme == "unix" else connection.__name__
        found = _parameters(getattr(lib, kind), lib.BlockingConnectionPool)
    return {
        name: parameter
        for name, parameter in found.items()
        if name not in _OBJECTS
        and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
        and (
            parameter.annotation is parameter.empty
            or _TEXT_TYPES.search(str(parameter.annotation)) is not None
        )
    }


def check_url(url: str, *, asyncio: bool) -> None:
    """Refuses what redis-py would take and fail on later: a database that is not a
    number, a query option it does not know, a bad number.

    Raises:
        ValueError: any of these, named (never with the URL: it may hold a password).
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("redis", "rediss"):
        try:
            parts.port  # noqa: B018 (urllib checks it on access)
        except ValueError:
            raise ValueError(
                "malformed Redis URL: its port is not a number (in a password, write '@',"
                " '/', '?' and '#' percent-encoded: %40, %2F, %3F, %23)"
            ) from None
        db = parts.path.strip("/")
        if db and not db.isdigit():
            raise ValueError("the database in a Redis URL must be a number (redis://host/0)")
    known = known_options(scheme, asyncio)
    seen: set[str] = set()
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in seen:  # redis-py would take the first, a reader might think the last
            raise ValueError(f"option {name!r} appears twice in a Redis URL")
        seen.add(name)
        if name not in known:
            if not _OPTION_NAME.fullmatch(name):  # not a name: perhaps part of a password
                raise ValueError(
                    "malformed Redis URL: its query is not name=value options (in a password,"
                    " write '?' and '#' percent-encoded: %3F, %23)"
                )
            near = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ValueError(
                f"unknown option {name!r} in a Redis URL (redis-py {redis.__version__}"
                f" does not take it){hint}"
            )
        if name in _AT_LEAST:
            _check_number(name, value, *_AT_LEAST[name])
        elif value:  # redis-py ignores an option given no value
            typed = _typed(name, value, option_types(scheme, asyncio).get(name))
            if name == "ssl" and typed is False and scheme.startswith("rediss"):
                raise ValueError("ssl=false in a rediss URL: the scheme asks for TLS")


def _typed(name: str, text: str, kind: type | None) -> Any:
    """The value of query option ``name`` as its parameter's type (text if untyped).

    Raises:
        ValueError: the text is not one (named; never the URL).
    """
    if kind is bool:
        try:
            return _BOOLS[text.lower()]
        except KeyError:
            raise ValueError(f"{name} in a Redis URL must be true or false") from None
    if kind is int or kind is float:
        try:
            return kind(text)
        except ValueError:
            raise ValueError(f"{name} in a Redis URL must be a number") from None
    return text


def typed_query(scheme: str, asyncio: bool, query: str) -> dict[str, Any]:
    """The query options whose parameter takes a bool or a number, as that type: redis-py's
    ``parse_url`` passes some on as text (``?decode_responses=false`` would reach the client
    as the text "false", which is true; ``?reinitialize_steps=5`` as "5"), and reads a bool
    it does type as True unless it is a word for False ("off" is True to it). Numbers that
    redis-py reads itself are left to it."""
    types = option_types(scheme, asyncio)
    return {
        name: _typed(name, value, types[name])
        for name, value in parse_qsl(query)  # no blank values: redis-py ignores them
        if name in types and (types[name] is bool or name not in URL_QUERY_ARGUMENT_PARSERS)
    }


def _check_number(name: str, text: str, least: float, whole: bool) -> None:
    try:
        number = int(text) if whole else float(text)
    except ValueError:
        kind = "a whole number" if whole else "a number of seconds"
        raise ValueError(f"{name} in a Redis URL must be {kind}") from None
    if math.isnan(number) or math.isinf(number) or number < least or (number == 0 and not whole):
        raise ValueError(
            f"{name} in a Redis URL must be at least {least}"
            + ("" if whole else " and finite (seconds)")
        )


def client_from_url(url: str, *, asyncio: bool) -> Any:
    """A redis-py client (sync, or asyncio) for any URL that sesh's Redis stores take.

    Raises:
        ValueError: a malformed URL, an unknown query option or a bad value (``check_url``).
    """
    scheme = url.partition("://")[0].lower()
    if scheme not in _SCHEMES:
        raise ValueError(
            "a Redis store URL starts redis://, rediss://, unix:// or redis+cluster://"
        )
    check_url(url, asyncio=asyncio)
    try:
        return _client(url, scheme, asyncio)
    except _UrlError:
        raise  # sesh's own words: they never quote the URL
    except ValueError:
        # redis-py's and urllib's messages can quote the URL, password and all.
        error = ValueError("malformed Redis URL (redis-py cannot read it)")
    raise error  # outside the except: the raw error would be its context


class _UrlError(ValueError):
    """A URL refused in sesh's own words, which never quote it."""


_SCHEMES = (
    "redis", "rediss", "unix", "redis+cluster", "rediss+cluster", "redis+sentinel",
    "rediss+sentinel",
)  # fmt: skip


def _client(url: str, scheme: str, asyncio: bool) -> Any:
    lib: Any = redis.asyncio if asyncio else redis
    retry_class: Any = redis.asyncio.retry.Retry if asyncio else redis.retry.Retry
    if scheme in ("redis", "rediss", "unix"):
        quick = retry_class(
            ExponentialBackoff(cap=0.05, base=0.01), 1, supported_errors=(RedisConnectionError,)
        )
        # Callers beyond the pool's connections wait for one (up to POOL_WAIT seconds)
        # instead of failing at once, as redis-py's default pool makes them. What the URL
        # says wins, as in redis-py's from_url (parse_url, then the pool), typed.
        parsed = lib.connection.parse_url(url)
        typed = typed_query(scheme, asyncio, urlsplit(url).query)
        defaults = {"timeout": POOL_WAIT, "max_connections": 100, **CLIENT_DEFAULTS}
        pool = lib.BlockingConnectionPool(retry=quick, **{**defaults, **parsed, **typed})
        return lib.Redis.from_pool(pool)
    parts = urlsplit(url)
    userinfo, hosts = _hosts(parts.netloc)
    if scheme in ("redis+cluster", "rediss+cluster"):
        if parts.path not in ("", "/", "/0"):
            raise _UrlError("a Redis Cluster has only database 0")
        options = _options(scheme, userinfo, "", parts.query, asyncio)
        options.pop("db", None)
        cluster: Any = redis.asyncio.cluster if asyncio else redis.cluster
        nodes = [cluster.ClusterNode(host, port) for host, port in hosts]
        return cluster.RedisCluster(startup_nodes=nodes, **options)
    if scheme in ("redis+sentinel", "rediss+sentinel"):
        service, _, db = unquote(parts.path).strip("/").partition("/")
        if not service:
            raise _UrlError("a sentinel URL names its service: redis+sentinel://host:port/name")
        options = _options(scheme, userinfo, f"/{db}" if db else "", parts.query, asyncio)
        sentinel_kwargs = {k: options[k] for k in ("socket_timeout", "socket_connect_timeout")}
        # A sentinel that does not answer is skipped for the next; redis-py's default of ten
        # retries with backoff per sentinel would hold each call for seconds.
        sentinel_kwargs["retry"] = retry_class(NoBackoff(), 0)
        if options.get("ssl"):
            sentinel_kwargs["ssl"] = True
        password = options.pop("sentinel_password", None)
        if password is not None:
            sentinel_kwargs["password"] = password
        module: Any = redis.asyncio.sentinel if asyncio else redis.sentinel
        # No retry inside redis-py: the store retries each verb, and a reconnect made by
        # redis-py's own retry can reach the old primary again (redis/redis-py#3874).
        options["retry"] = retry_class(NoBackoff(), 0)
        sentinel = module.Sentinel(hosts, sentinel_kwargs=sentinel_kwargs, **options)
        return sentinel.master_for(service, redis_class=lib.Redis)
    raise AssertionError(scheme)  # client_from_url knows every scheme


def is_replicated(client: Any) -> bool:
    """Whether the client talks to a deployment that fails over (Cluster or Sentinel)."""
    if isinstance(client, (redis.cluster.RedisCluster, redis.asyncio.cluster.RedisCluster)):
        return True
    pool = getattr(client, "connection_pool", None)
    pools = (redis.sentinel.SentinelConnectionPool, redis.asyncio.sentinel.SentinelConnectionPool)
    return isinstance(pool, pools)


def made_with(client: Any) -> list[Any]:
    """What ``client_from_url`` made along with ``client``, to close with it: the clients
    of the sentinels it asks for the primary (they have connections of their own)."""
    manager = getattr(getattr(client, "connection_pool", None), "sentinel_manager", None)
    return list(getattr(manager, "sentinels", []))
