"""Redis stores, wire-compatible with redis-sesh: ``<prefix>:<id>`` holds the user id.

Each operation is one Redis command (needs Redis 6.2 or later, for GETEX):

=============================  ==========================================
``set``                        ``SET key user_id NX [PX ttl]``
``get``                        ``GET key``
``get(touch=True)``            ``GETEX key PX ttl`` (``GET`` with no ttl)
``liv``                        ``PEXPIRE key ttl`` (``EXISTS`` with no ttl)
``die``                        ``DEL key``
``rotate``                     one script: ``RENAME`` to a fresh key, reset its ttl
=============================  ==========================================

``hash_ids`` only changes the key. With ``max_age`` or ``track_users`` a session is a hash
and every verb but a plain ``get`` (``HGET key u``) is one script (``EVALSHA``; see
``sesh.backends._redis_scripts``): the session, its absolute deadline and its user's index
change together, in one round trip. ``sessions`` and ``die_all`` are one script each.

The same on Redis Cluster (each command has one key, or keys of one slot) and on a
Sentinel-managed primary. On a Cluster in the default layout, an old and a new id hash to
different slots, so ``rotate`` is two steps: ``GETDEL`` the old key, then ``SET NX`` the
new one. Never are both valid; for one round trip neither is; if the second step fails,
the user is logged out and ``rotate`` raises.
On those, a verb that meets a connection error or a failover answer (CLUSTERDOWN, TRYAGAIN,
READONLY, ...) is retried with a short backoff for up to ``retry_for`` seconds, so a
failover costs the caller a stall rather than an error. Every verb is safe to send again:
``SET NX`` of a fresh random id either landed (a retry then finds the key taken and draws
another id, leaving an orphan that expires with the ttl) or did not; GET, GETEX, PEXPIRE,
EXISTS and DEL leave the same state when repeated (a repeated DEL may answer False for a
session it did remove), and so do the scripts, but for ``rotate``: one repeated after it
landed finds no old session and answers None, logging the user out.

The command is chosen and its reply read by plain functions; ``RedisStore`` and
``AsyncRedisStore`` differ only in awaiting the send. A store made by ``from_url`` sends
through sesh's own connections (``_redis_direct``, ``_redis_pipelined``, and per Cluster
node ``_redis_by_node``); a store on a caller's client, through that client.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.sentinel
import redis.cluster
import redis.sentinel
from redis.exceptions import (
    ClusterDownError,
    ClusterError,
    NoScriptError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from typing_extensions import Self, Unpack, assert_never

from sesh._core import SessionCore
from sesh._redact import backend_error, command_secrets
from sesh.backends._redis_by_node import AsyncClusterLink, ClusterLink, let_go
from sesh.backends._redis_clients import (
    CLIENT_DEFAULTS,
    POOL_WAIT,
    client_from_url,
    is_replicated,
    made_with,
)
from sesh.backends._redis_direct import DirectLink
from sesh.backends._redis_pipelined import PipelinedLink
from sesh.backends._redis_scripts import (
    DELETE,
    DELETE_USER,
    INSERT,
    LIST_USER,
    REFRESH,
    ROTATE,
    SCRIPTS,
    Script,
)
from sesh.backends._redis_wire import connection_factory
from sesh.backends.base import (
    AsyncStore,
    BaseStore,
    Delete,
    DeleteUser,
    Fetch,
    Insert,
    ListUser,
    Op,
    Options,
    Refresh,
    Rotate,
    SyncStore,
    Take,
    Ttl,
)
from sesh.errors import BackendError

__all__ = ["CLIENT_DEFAULTS", "FAILOVER_RETRY_SECONDS", "AsyncRedisStore", "RedisStore"]

FAILOVER_RETRY_SECONDS = 5.0
"""How long a verb on a Cluster or Sentinel keeps retrying through a failover, by default.

A replica takes over 1.5-3 s after its primary dies (with a 1 s node timeout or
down-after-milliseconds): this covers that with room to spare.
"""

# What a verb is retried on: the server is gone or busy, or a failover is under way.
_RETRYABLE = (
    RedisConnectionError,  # and BusyLoadingError, MasterNotFoundError, MaxConnectionsError
    RedisTimeoutError,
    ClusterDownError,  # and MasterDownError
    TryAgainError,
    ReadOnlyError,  # a demoted primary, before the client learns of the new one
    ClusterError,
    # The client's own view of the topology failing: "Redis Cluster cannot be connected"
    # while every node it asks stalls, slots not covered, nodes that disagree. sesh's
    # single-key commands never meet this type's other uses (keyless or cross-slot).
    RedisClusterException,
)
# What making a client can raise for an unreachable server (bad URLs raise ValueError).
_DRIVER_ERRORS = (RedisError, RedisClusterException)


Command = tuple[Any, ...]


def _plain_command(op: Op) -> Command:
    """The command of an operation in redis-sesh's layout: a plain value per session."""
    match op:
        case Fetch(ttl_ms=None):
            return ("GET", op.key)
        case Fetch():
            return ("GETEX", op.key, "PX", op.ttl_ms)
        case Insert(ttl_ms=None):
            return ("SET", op.key, op.value, "NX")
        case Insert():
            return ("SET", op.key, op.value, "NX", "PX", op.ttl_ms)
        case Refresh(ttl_ms=None):
            return ("EXISTS", op.key)
        case Refresh():
            return ("PEXPIRE", op.key, op.ttl_ms)
        case Delete():
            return ("DEL", op.key)
        case Take():
            return ("GETDEL", op.key)
        case Rotate():
            return _rotate(op, "string")
        case ListUser() | DeleteUser():
            raise TypeError("a user's index needs track_users, which keeps sessions as records")
        case _:
            assert_never(op)


def _record_command(op: Op) -> Command:
    """The command of an operation when sessions are records (``max_age``,
    ``track_users``): a hash per session, and scripts (see ``_redis_scripts``)."""
    match op:
        case Fetch(ttl_ms=None):
            return ("HGET", op.key, "u")
        case Fetch():
            return _eval(REFRESH, [op.key], op.ttl_ms, op.member)
        case Insert():
            keys = [op.key] if op.user_index is None else [op.key, op.user_index]
            return _eval(INSERT, keys, op.value, op.ttl_ms, op.max_age_ms, op.member)
        case Refresh(ttl_ms=None):
            return ("EXISTS", op.key)
        case Refresh():
            return _eval(REFRESH, [op.key], op.ttl_ms, op.member)
        case Delete(member=None):
            return ("DEL", op.key)
        case Delete():
            return _eval(DELETE, [op.key], op.member)
        case Rotate():
            return _rotate(op, "hash")
        case ListUser():
            return _eval(LIST_USER, [op.user_index], op.head)
        case DeleteUser():
            return _eval(DELETE_USER, [op.user_index], op.head)
        case Take():
            raise TypeError("records keep their hash tag: their rotation is one step")
        case _:
            assert_never(op)


def _rotate(op: Rotate, kind: str) -> Command:
    # ``kind``: what a session is in this layout; a key of any other type is not sesh's.
    return _eval(ROTATE, [op.key, op.new_key], op.ttl_ms, op.member, op.new_member, kind)


def _eval(script: Script, keys: list[str], *args: str | int | None) -> tuple[Any, ...]:
    # None is sent as '' (the scripts read it as "none").
    return ("EVALSHA", script.sha, len(keys), *keys, *["" if a is None else a for a in args])


def _unscripted(command: tuple[Any, ...], exc: Exception) -> tuple[Any, ...] | None:
    """The same script sent whole, when the server has not cached it (NOSCRIPT): after a
    restart or failover, or the first time. EVAL also caches it."""
    if isinstance(exc, NoScriptError) and command[0] == "EVALSHA":
        return ("EVAL", SCRIPTS[command[1]].source, *command[2:])
    return None


def _result(op: Op, reply: Any) -> Any:
    match op:
        case Fetch() | Take():
            return _text(reply)
        case Rotate():
            return None if reply is None else bool(reply)
        case DeleteUser():
            return reply
        case ListUser():
            return [_text(member) for member in reply]
        case Insert() | Refresh() | Delete():
            # SET NX answers OK or nil; PEXPIRE, EXISTS and DEL 1 or 0; a script 1, 0,
            # a user id or nil.
            return bool(reply)
        case _:
            assert_never(op)


def _text(reply: Any) -> Any:
    if reply is None or type(reply) is str:
        return reply
    try:
        return reply.decode("utf-8")
    except (UnicodeDecodeError, AttributeError) as exc:
        raise BackendError("the stored user id is not UTF-8 text") from exc


def _error(command: tuple[Any, ...], exc: BaseException) -> BackendError:
    # The command's name, and what the driver said less what it quoted of the arguments
    # (they hold the session key). EVALSHA's first argument is the script's hash.
    return backend_error(f"Redis {command[0]}", exc, command_secrets(command[1:]))


def _closed_under_us(exc: BaseException) -> bool:
    # redis-py 8.1's asyncio Cluster client: a connection closed by another task, written to.
    return isinstance(exc, AttributeError) and exc.name == "writelines"


class _Retry:
    """Backoff (10 ms, doubling up to 50 ms) until a deadline, for one verb."""

    __slots__ = ("_delay", "_racy", "_until")

    def __init__(self, seconds: float, racy: bool) -> None:
        self._until = time.monotonic() + seconds
        self._delay = 0.01
        self._racy = racy

    def after(
        self, command: tuple[Any, ...], exc: Exception
    ) -> tuple[float, tuple[Any, ...]] | BackendError:
        """How long to wait and what to send next, or the error to raise when it is time
        to stop (raised by the caller outside its ``except``: see ``sesh._redact``)."""
        unscripted = _unscripted(command, exc)
        if unscripted is not None:
            return 0.0, unscripted
        retryable = isinstance(exc, _RETRYABLE) or (self._racy and _closed_under_us(exc))
        if not retryable or time.monotonic() + self._delay > self._until:
            return _error(command, exc)
        delay, self._delay = self._delay, min(self._delay * 2, 0.05)
        return delay, command


def _through(client: Any) -> Any:
    """Sends a command through a redis-py client, sync or asyncio."""
    execute = client.execute_command
    return lambda command: execute(*command)


class _RedisStoreBase(BaseStore):
    __slots__ = ("_call", "_client", "_command", "_link", "_owns_client", "_racy", "_retry_for")
    _clients: ClassVar[tuple[type, ...]]
    _twin: ClassVar[str]
    _asyncio: ClassVar[bool]

    def __init__(
        self,
        client: Any,
        prefix: str = "sesh",
        ttl: Ttl = None,
        *,
        retry_for: float | None = None,
        **options: Unpack[Options],
    ) -> None:
        if not isinstance(client, self._clients):
            names = " or ".join(f"{c.__module__}.{c.__qualname__}" for c in self._clients)
            raise TypeError(
                f"{type(self).__name__} needs a {names} client, not {type(client).__name__}"
                f" (for the other kind, use {self._twin})"
            )
        if retry_for is None:
            retry_for = FAILOVER_RETRY_SECONDS if is_replicated(client) else 0.0
        elif isinstance(retry_for, bool) or not isinstance(retry_for, (int, float)):
            raise TypeError(f"retry_for must be seconds, not {type(retry_for).__name__}")
        elif not 0 <= retry_for < float("inf"):
            raise ValueError("retry_for must be zero or a positive number of seconds")
        super().__init__(prefix, ttl, **options)
        self._client: Any = client
        self._owns_client = False
        self._retry_for = float(retry_for)
        self._racy = False  # see AsyncRedisStore._attach
        # One function per key layout, chosen once.
        self._command = _record_command if self._core.records else _plain_command
        # What sends a command and returns its reply: the client (as its owner made it),
        # or, for a store that made its own client of a single Redis, sesh's own path.
        self._link: Any = None
        self._call: Any = _through(client)
        self._attach(client)

    def _own_path(self) -> None:
        """Sends through sesh's own connections (``_redis_direct``, ``_redis_pipelined``;
        per node on a Cluster, ``_redis_by_node``) rather than the client's: what
        ``from_url`` does."""

    def _attach(self, client: Any) -> None:
        """Whatever a store needs to set up around its client (nothing, by default)."""

    @property
    def atomic_rotate(self) -> bool:
        """False on a Redis Cluster in the default layout: an old and a new key hash to
        any two slots, so rotation is two steps there (see the module)."""
        clusters = (redis.cluster.RedisCluster, redis.asyncio.cluster.RedisCluster)
        return self._core.records or not isinstance(self._client, clusters)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "sesh",
        ttl: Ttl = None,
        retry_for: float | None = None,
        **options: Unpack[Options],
    ) -> Self:
        """A store on a client made from a URL, with ``CLIENT_DEFAULTS``; ``close`` closes it.

        URLs: redis-py's ``redis://``, ``rediss://`` and ``unix://``, and
        ``redis+cluster://host:port,...`` and ``redis+sentinel://host:port,.../service``
        (``rediss+`` for TLS); see ``sesh.backends._redis_clients``.
        """
        SessionCore(prefix, ttl, **options)  # bad settings fail before a client exists
        error: BackendError | None = None
        try:
            client = client_from_url(url, asyncio=cls._asyncio)
        except _DRIVER_ERRORS as exc:  # a cluster client asks for the slot map at once
            error = backend_error("connecting to Redis", exc)
        if error is not None:
            raise error
        store = cls(client, prefix, ttl, retry_for=retry_for, **options)
        store._owns_client = True
        store._own_path()  # a client of its own: sesh's own path
        return store

    @property
    def client(self) -> Any:
        """The redis-py client the store talks through."""
        return self._client

    @property
    def retry_for(self) -> float:
        """Seconds a verb keeps retrying through connection errors and failovers."""
        return self._retry_for


class RedisStore(_RedisStoreBase, SyncStore):
    """A SessionStore on Redis: a ``redis.Redis`` (also from ``Sentinel.master_for``) or a
    ``redis.cluster.RedisCluster``.

    Args:
        client: the redis-py client; the caller keeps owning it (``close`` leaves it open).
        prefix: key prefix; sessions live at ``<prefix>:<session id>``.
        ttl: session lifetime in seconds or a timedelta; None or 0 for never.
        retry_for: seconds a verb retries through connection errors and failovers; by
            default ``FAILOVER_RETRY_SECONDS`` on a Cluster or Sentinel, 0 on one Redis.
        options: ``track_users``, ``max_age``, ``hash_ids`` (``sesh.Options``). With
            ``track_users`` or ``max_age`` every verb but a plain ``get`` is one Lua script
            (EVALSHA); see ``sesh.backends._redis_scripts``.
    """

    __slots__ = ()
    _clients = (redis.Redis, redis.cluster.RedisCluster)
    _twin = "AsyncRedisStore"
    _asyncio = False

    def _own_path(self) -> None:
        if isinstance(self._client, redis.cluster.RedisCluster):
            self._link = ClusterLink(self._client, wait=POOL_WAIT)
            self._call = self._link.call
            return
        pool = self._client.connection_pool
        wait = getattr(pool, "timeout", None) or POOL_WAIT  # (a Sentinel's pool never waits)
        cls, kwargs = connection_factory(self._client)
        self._link = DirectLink(cls, kwargs, max_connections=pool.max_connections, wait=wait)
        self._call = self._link.call

    def close(self) -> None:
        """Closes the client if this store made it (and the sentinels' clients)."""
        if self._link is not None:
            self._link.close()
        if self._owns_client:
            for client in [self._client, *made_with(self._client)]:
                client.close()

    def execute(self, op: Op) -> Any:
        """Carries out one operation: one command (see the module)."""
        command = self._command(op)
        retry = None
        while True:
            try:
                reply = self._call(command)
                break
            except Exception as exc:  # whatever the driver raises is the backend failing
                retry = retry or _Retry(self._retry_for, self._racy)
                next_step = retry.after(command, exc)
            if isinstance(next_step, BackendError):
                raise next_step
            delay, command = next_step
            time.sleep(delay)
        return _result(op, reply)


class AsyncRedisStore(_RedisStoreBase, AsyncStore):
    """An AsyncSessionStore on Redis: a ``redis.asyncio.Redis`` (also from the asyncio
    ``Sentinel.master_for``) or a ``redis.asyncio.cluster.RedisCluster``.

    Args:
        client: the redis-py asyncio client; the caller keeps owning it.
        prefix: key prefix; sessions live at ``<prefix>:<session id>``.
        ttl: session lifetime in seconds or a timedelta; None or 0 for never.
        retry_for: as for ``RedisStore``.
    """

    __slots__ = ("_gate", "_ready", "_starting")
    _clients = (redis.asyncio.Redis, redis.asyncio.cluster.RedisCluster)
    _twin = "RedisStore"
    _asyncio = True

    def _attach(self, client: Any) -> None:
        # redis-py's asyncio cluster client (8.1) breaks under concurrent first use: commands
        # that race its lazy initialize() fail with "AttributeError: 'NoneType' object has
        # no attribute 'writelines'", and commands past a node's max_connections fail with
        # MaxConnectionsError. So the store initializes it once, under a lock, and lets
        # no more commands run at once than a node has connections.
        self._gate: asyncio.Semaphore | None = None
        self._ready: bool | None = None  # True until the cluster client has its map
        self._starting: asyncio.Future[None] | None = None
        if isinstance(client, redis.asyncio.cluster.RedisCluster):
            self._gate = asyncio.Semaphore(client.connection_kwargs.get("max_connections", 100))
            self._ready = True
            # And in a failover, a task whose connection another task's failure just closed
            # writes to it: "'NoneType' object has no attribute 'writelines'". It is that
            # race (in 1 of 3 failovers under 8 tasks), so it is retried like the failure.
            self._racy = True

    def _own_path(self) -> None:
        if isinstance(self._client, redis.asyncio.cluster.RedisCluster):
            self._link = AsyncClusterLink(self._client)
            self._gate = None  # no pool of redis-py's to wait for: one pipe per node
            self._racy = False
        else:
            self._link = PipelinedLink(*connection_factory(self._client))
        self._call = self._link.call

    async def aclose(self) -> None:
        """Closes the client if this store made it (and the sentinels' clients)."""
        if self._link is not None:
            await self._link.aclose()
        if self._owns_client:
            for client in [self._client, *made_with(self._client)]:
                await client.aclose()

    async def execute(self, op: Op) -> Any:
        """Carries out one operation: one command (see the module)."""
        if self._ready is not None:
            await self._initialize()
        if self._gate is None:
            return await self._send(op)
        async with self._gate:
            return await self._send(op)

    async def _initialize(self) -> None:
        # The first caller reads the slot map; callers arriving meanwhile share its
        # outcome (one attempt for all: against a stalled cluster, not one turn each). A
        # cancelled attempt lets the next caller try.
        while self._ready is not None:
            starting = self._starting
            if starting is not None:
                try:
                    await asyncio.shield(starting)
                except BackendError as exc:
                    raise BackendError(str(exc)) from None
                continue
            starting = self._starting = asyncio.get_running_loop().create_future()
            error = None
            try:
                await self._client.initialize()
                if self._link is not None:
                    await let_go(self._client)
                self._ready = None
            except Exception as exc:
                error = backend_error("connecting to Redis", exc)
            finally:
                self._starting = None
                if error is None:
                    starting.set_result(None)
                else:
                    starting.set_exception(error)
                    starting.exception()  # retrieved: its waiters may all be gone
            if error is not None:
                raise error

    async def _send(self, op: Op) -> Any:
        command = self._command(op)
        retry = None
        while True:
            try:
                reply = await self._call(command)
                break
            except Exception as exc:  # whatever the driver raises is the backend failing
                retry = retry or _Retry(self._retry_for, self._racy)
                next_step = retry.after(command, exc)
            if isinstance(next_step, BackendError):
                raise next_step
            delay, command = next_step
            await asyncio.sleep(delay)
        return _result(op, reply)
