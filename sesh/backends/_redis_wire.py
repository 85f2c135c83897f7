"""What sesh's own paths to a single Redis share: commands packed by hiredis, replies read
by hiredis's reader, errors raised as redis-py's exceptions.

redis-py still makes each connection (TCP or Unix socket, TLS, AUTH with an ACL user,
HELLO for RESP3, SELECT, CLIENT SETNAME: everything a URL can ask for); sesh then sends
on it and reads from it itself (``_redis_direct`` for threads, ``_redis_pipelined`` for
asyncio), so the store's errors, retries and redaction stay those of ``sesh.backends.redis``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Final

import hiredis
import redis.asyncio.sentinel
import redis.sentinel
from redis._parsers.base import BaseParser
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError

__all__ = [
    "ASKING",
    "FORK_LOCK",
    "MORE",
    "PoolExhausted",
    "Replies",
    "StoreClosed",
    "connection_factory",
    "demoted",
    "lost",
    "pack",
    "primary_of",
]

FORK_LOCK = threading.Lock()
"""Held while a link notices it is in a forked child and drops its parent's connections:
threads of the child that call at once do that once (rare: never held in the parent)."""

pack = hiredis.pack_command
"""The RESP bytes of a command (a tuple of str, bytes, int or float), in C."""

ASKING = pack(("ASKING",))
"""What goes before a command sent to a Cluster node after an ASK redirect."""

MORE: Final = object()
"""What ``Replies.next`` gives when the bytes fed so far hold no whole reply."""


class Replies:
    """The replies in the bytes read from one connection, in order: RESP2 or RESP3 alike.

    Out-of-band push messages (RESP3's ``>``, which no sesh command asks for) are dropped
    rather than taken for a reply: they would shift every later reply by one.
    """

    __slots__ = ("_reader", "feed")

    def __init__(self) -> None:
        self._reader = hiredis.Reader(notEnoughData=MORE)
        self.feed: Callable[..., None] = self._reader.feed
        """Takes bytes read: ``feed(data)``, or ``feed(buffer, offset, length)``."""

    def next(self) -> Any:
        """The next whole reply (an error reply as redis-py's exception, not raised), or
        ``MORE``.

        Raises:
            redis.exceptions.ConnectionError: bytes that are not RESP (the connection
                cannot be trusted any more).
        """
        try:
            while True:
                reply = self._reader.gets()
                if type(reply) is not hiredis.PushNotification:
                    break
        except hiredis.ProtocolError as exc:
            raise RedisConnectionError(f"Redis sent what is not RESP: {exc}") from None
        if type(reply) is hiredis.ReplyError:
            return BaseParser.parse_error(str(reply))  # type: ignore[no-untyped-call]
        return reply


class PoolExhausted(RedisConnectionError):
    """Every connection a link may open is busy: the server is fine, the caller too many."""


class StoreClosed(RedisConnectionError):
    """The store was closed while the call waited: not retried on a new connection."""


def lost(exc: BaseException | None = None) -> RedisConnectionError:
    """The error every call waiting on a connection gets when it is gone."""
    why = f": {type(exc).__name__}: {exc}" if exc is not None else ""
    return RedisConnectionError(f"Connection to Redis lost{why}")


def demoted(reply: Any, cls: type) -> RedisConnectionError | None:
    """For a connection to a Sentinel-managed primary, a READONLY reply means it was
    demoted and another promoted: the connection is as good as lost (a new one asks the
    sentinels where the primary is now), as redis-py's own Sentinel connections treat it."""
    if type(reply) is ReadOnlyError and issubclass(cls, _SENTINEL_CONNECTIONS):
        return RedisConnectionError("Redis answered READONLY: its primary was demoted")
    return None


def primary_of(kwargs: dict[str, Any]) -> Any:
    """Where the sentinels last said the primary is, for connections made with ``kwargs``
    under Sentinel (redis-py's pool keeps it as each new connection asks); None off
    Sentinel. When it changes, connections made before go to the old primary: redis-py's
    own pool then closes its idle ones, and a ``DirectLink`` retires its own. (A
    ``PipelinedLink`` has one connection per event loop, and redis-py's asyncio Sentinel
    works on one loop: its connection is the only one.)"""
    pool = kwargs.get("connection_pool")
    try:
        return None if pool is None else pool.master_address
    except ReferenceError:  # (a weak proxy to a pool since closed and collected)
        return None


_SENTINEL_CONNECTIONS = (
    redis.sentinel.SentinelManagedConnection,
    redis.asyncio.sentinel.SentinelManagedConnection,
)


def connection_factory(client: Any) -> tuple[type, dict[str, Any]]:
    """The class and arguments the client's own pool makes its connections with (the URL's
    host, credentials, database, TLS and timeouts), for a connection of sesh's own."""
    pool = client.connection_pool
    return pool.connection_class, dict(pool.connection_kwargs)
