"""Redis stores, wire-compatible with redis-sesh: ``<prefix>:<id>`` holds the user id.

Each operation is one Redis command (needs Redis 6.2 or later, for GETEX):

=============================  ==========================================
``set``                        ``SET key user_id NX [PX ttl]``
``get``                        ``GET key``
``get(touch=True)``            ``GETEX key PX ttl`` (``GET`` with no ttl)
``liv``                        ``PEXPIRE key ttl`` (``EXISTS`` with no ttl)
``die``                        ``DEL key``
=============================  ==========================================

The command is chosen and its reply read by plain functions; ``RedisStore`` and
``AsyncRedisStore`` differ only in awaiting the client.
"""

from __future__ import annotations

from typing import Any, ClassVar

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from typing_extensions import Self

from sesh._core import Delete, Fetch, Insert, Op, Refresh, Ttl
from sesh._store import AsyncStore, BaseStore, SyncStore
from sesh.errors import BackendError

__all__ = ["CLIENT_DEFAULTS", "AsyncRedisStore", "RedisStore"]

CLIENT_DEFAULTS: dict[str, Any] = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}
"""What ``from_url`` sets on the client it makes, unless the URL's query says otherwise.

A session lookup sits on every request: a stalled Redis should fail that request within
a second rather than hold it for redis-py's default of 5 s per attempt (and up to ten
attempts). ``from_url`` also sets one quick retry (10-50 ms) on a connection error, not
on a timeout; every sesh command is safe to send twice (see the README).
"""


def _command(op: Op) -> tuple[Any, ...]:
    if type(op) is Fetch:
        if op.touch_ms is None:
            return ("GET", op.key)
        return ("GETEX", op.key, "PX", op.touch_ms)
    if type(op) is Insert:
        if op.ttl_ms is None:
            return ("SET", op.key, op.value, "NX")
        return ("SET", op.key, op.value, "NX", "PX", op.ttl_ms)
    if type(op) is Refresh:
        if op.ttl_ms is None:
            return ("EXISTS", op.key)
        return ("PEXPIRE", op.key, op.ttl_ms)
    if type(op) is Delete:
        return ("DEL", op.key)
    raise TypeError(f"unknown operation {type(op).__name__}")


def _result(op: Op, reply: Any) -> Any:
    if type(op) is not Fetch:
        # SET NX answers OK or nil; PEXPIRE, EXISTS and DEL answer 1 or 0.
        return bool(reply)
    if reply is None or type(reply) is str:
        return reply
    try:
        return reply.decode("utf-8")
    except (UnicodeDecodeError, AttributeError) as exc:
        raise BackendError("the stored user id is not UTF-8 text") from exc


def _error(command: tuple[Any, ...], exc: RedisError) -> BackendError:
    # The command's name only: its arguments hold the session key.
    return BackendError(f"Redis {command[0]} failed: {type(exc).__name__}: {exc}")


def _retry_policy(retry_class: Any) -> Any:
    return retry_class(
        ExponentialBackoff(cap=0.05, base=0.01), 1, supported_errors=(RedisConnectionError,)
    )


class _RedisStoreBase(BaseStore):
    __slots__ = ("_client", "_owns_client")
    _clients: ClassVar[tuple[type, ...]]
    _twin: ClassVar[str]

    def __init__(self, client: Any, prefix: str = "sesh", ttl: Ttl = None) -> None:
        if not isinstance(client, self._clients):
            names = " or ".join(f"{c.__module__}.{c.__qualname__}" for c in self._clients)
            raise TypeError(
                f"{type(self).__name__} needs a {names} client, not {type(client).__name__}"
                f" (for the other kind, use {self._twin})"
            )
        super().__init__(prefix, ttl)
        self._client: Any = client
        self._owns_client = False

    @property
    def client(self) -> Any:
        """The redis-py client the store talks through."""
        return self._client


class RedisStore(_RedisStoreBase, SyncStore):
    """A SessionStore on Redis, through a ``redis.Redis`` or ``redis.cluster.RedisCluster``.

    Args:
        client: the redis-py client; the caller keeps owning it (``close`` leaves it open).
        prefix: key prefix; sessions live at ``<prefix>:<session id>``.
        ttl: session lifetime in seconds or a timedelta; None or 0 for never.
    """

    __slots__ = ()
    _clients = (redis.Redis, redis.cluster.RedisCluster)
    _twin = "AsyncRedisStore"

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "sesh", ttl: Ttl = None) -> Self:
        """A store on a client made from a redis-py URL (``redis://``, ``rediss://``, ``unix://``).

        The client gets ``CLIENT_DEFAULTS`` and is closed by ``close``.
        """
        from redis.retry import Retry

        client = redis.Redis.from_url(url, retry=_retry_policy(Retry), **CLIENT_DEFAULTS)
        store = cls(client, prefix, ttl)
        store._owns_client = True
        return store

    def close(self) -> None:
        """Closes the client if this store made it."""
        if self._owns_client:
            self._client.close()

    def _execute(self, op: Op) -> Any:
        command = _command(op)
        try:
            reply = self._client.execute_command(*command)
        except RedisError as exc:
            raise _error(command, exc) from exc
        return _result(op, reply)


class AsyncRedisStore(_RedisStoreBase, AsyncStore):
    """An AsyncSessionStore on Redis, through ``redis.asyncio.Redis`` or its RedisCluster.

    Args:
        client: the redis-py asyncio client; the caller keeps owning it.
        prefix: key prefix; sessions live at ``<prefix>:<session id>``.
        ttl: session lifetime in seconds or a timedelta; None or 0 for never.
    """

    __slots__ = ()
    _clients = (redis.asyncio.Redis, redis.asyncio.cluster.RedisCluster)
    _twin = "RedisStore"

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "sesh", ttl: Ttl = None) -> Self:
        """A store on an asyncio client made from a redis-py URL; see ``RedisStore.from_url``."""
        from redis.asyncio.retry import Retry

        client = redis.asyncio.Redis.from_url(url, retry=_retry_policy(Retry), **CLIENT_DEFAULTS)
        store = cls(client, prefix, ttl)
        store._owns_client = True
        return store

    async def aclose(self) -> None:
        """Closes the client if this store made it."""
        if self._owns_client:
            await self._client.aclose()

    async def _execute(self, op: Op) -> Any:
        command = _command(op)
        try:
            reply = await self._client.execute_command(*command)
        except RedisError as exc:
            raise _error(command, exc) from exc
        return _result(op, reply)
