"""sesh's own connections to a single Redis, for threads: a command is packed by hiredis,
sent with one ``sendall`` and its reply read straight off the socket.

What this leaves out of redis-py's client path, and why each is safe to leave out here
(see ``benchmarks/results/profile.md`` for what it cost): the pool's lock and its
``can_read`` poll on every checkout (a free list: ``list.pop`` and ``append`` are atomic),
the retry wrapper (one retry on a lost connection, as ``CLIENT_DEFAULTS`` promises, done
here), response callbacks (the store reads raw replies) and the metrics recorder.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sesh.backends._redis_wire import (
    ASKING,
    FORK_LOCK,
    MORE,
    PoolExhausted,
    Replies,
    StoreClosed,
    demoted,
    lost,
    pack,
    primary_of,
)

__all__ = ["DirectLink"]

_READ_SIZE = 16384
# A thread waiting for a free connection looks again this often, as well as when woken: a
# connection given back by a thread that saw no waiter is found within this (see _take).
_RECHECK = 0.005


class _Connection:
    """One connection: redis-py's (it connected and shook hands), its socket, a reader."""

    __slots__ = ("_buffer", "_conn", "_replies", "_sock", "epoch")

    def __init__(self, cls: type, kwargs: dict[str, Any], epoch: int) -> None:
        self.epoch = epoch  # the link's count of lost connections when this one was made
        self._conn = cls(**kwargs)
        self._conn.connect()  # TCP or Unix, TLS, AUTH, HELLO, SELECT: redis-py's own
        self._sock = self._conn._sock
        self._replies = Replies()
        self._buffer = bytearray(_READ_SIZE)

    def call(self, packed: bytes, replies_due: int = 1) -> Any:
        # ``replies_due``: 2 for ASKING then the command (a Cluster's redirect): the last.
        sock, buffer, replies = self._sock, self._buffer, self._replies
        try:
            sock.sendall(packed)
            while True:
                count = sock.recv_into(buffer)
                if not count:
                    raise lost()
                replies.feed(buffer, 0, count)
                reply = replies.next()
                while reply is not MORE:
                    replies_due -= 1
                    if not replies_due:
                        return reply
                    reply = replies.next()
        except TimeoutError:  # socket_timeout passed: the reply may still come, so no reuse
            raise RedisTimeoutError("Timeout reading from Redis") from None
        except OSError as exc:
            raise lost(exc) from None

    def close(self) -> None:
        self._conn.disconnect()


class DirectLink:
    """Up to ``max_connections`` connections to one Redis, shared by threads, made as the
    client's own pool makes them; a thread that finds them all busy waits for one up to
    ``wait`` seconds. After ``os.fork()`` the child opens its own and never touches the
    parent's."""

    __slots__ = ("_all", "_cls", "_cond", "_epoch", "_free", "_generation", "_kwargs", "_max",
                 "_opening", "_pid", "_primary", "_wait", "_waiting")  # fmt: skip

    def __init__(
        self, cls: type, kwargs: dict[str, Any], *, max_connections: int, wait: float
    ) -> None:
        self._cls, self._kwargs = cls, kwargs
        self._max = max_connections
        self._wait = wait
        self._start()

    def _start(self) -> None:
        self._free: list[_Connection] = []
        self._all: set[_Connection] = set()
        self._opening = 0
        self._waiting = 0
        self._cond = threading.Condition(threading.Lock())
        # Connections lost so far: one lost says the others idle since may be too (a
        # restarted Redis, a proxy's idle timeout), so those are not used again.
        self._epoch = 0
        self._generation = 0  # one more at each close: calls it cut short are not retried
        self._primary: Any = None  # under Sentinel: where the newest connection found it
        self._pid = os.getpid()  # last: another thread seeing it sees the rest set

    def call(self, command: tuple[Any, ...], asking: bool = False) -> Any:
        """The reply to ``command``; an error reply raised as redis-py's exception.
        ``asking``: sent after ASKING, on the same connection (a Cluster's ASK redirect).

        Raises:
            redis.exceptions.ConnectionError: no connection could be made or had (after one
                retry on a new connection when the one used turned out lost: a restarted
                Redis, an idle connection closed by a proxy).
            redis.exceptions.TimeoutError: no reply within the socket timeout.
        """
        if self._pid != os.getpid():
            # A forked child: the connections are its parent's (their sockets too). Drop
            # them without a word on the wire; the child's first call opens its own.
            with FORK_LOCK:
                if self._pid != os.getpid():
                    self._start()
        packed = ASKING + pack(command) if asking else pack(command)
        due = 2 if asking else 1
        try:
            reply = self._once(packed, due)
        except StoreClosed:
            raise
        except RedisConnectionError:
            reply = self._once(packed, due)  # on a connection made after the loss
        if isinstance(reply, RedisError):
            raise reply
        return reply

    def _once(self, packed: bytes, due: int) -> Any:
        generation = self._generation
        try:
            conn = self._free.pop()
            while conn.epoch < self._epoch:  # idle since a loss: perhaps lost too
                self._drop(conn)
                conn = self._free.pop()
        except IndexError:
            conn = self._take(generation)
        try:
            reply = conn.call(packed, due)
        except BaseException as exc:  # a timeout, a lost connection, an interrupt: state unknown
            self._drop(conn, was_lost=isinstance(exc, RedisConnectionError))
            if generation != self._generation:
                raise StoreClosed("Connection to Redis closed: the store was closed") from None
            raise
        if type(reply) is ReadOnlyError:
            loss = demoted(reply, self._cls)
            if loss is not None:
                self._drop(conn, was_lost=True)
                raise loss
        self._free.append(conn)
        if self._waiting:
            with self._cond:
                self._cond.notify()
        return reply

    def _take(self, generation: int) -> _Connection:
        deadline = None
        with self._cond:
            while True:
                if self._free:
                    return self._free.pop()
                if len(self._all) + self._opening < self._max:
                    self._opening += 1
                    break
                if deadline is None:
                    deadline = time.monotonic() + self._wait
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PoolExhausted(
                        f"No connection available: all {self._max} connections to Redis"
                        f" stayed busy for {self._wait:g} s (raise ?max_connections=)"
                    )
                self._waiting += 1
                try:
                    self._cond.wait(min(left, _RECHECK))
                finally:
                    self._waiting -= 1
        try:
            conn = _Connection(self._cls, self._kwargs, self._epoch)
        except BaseException:
            with self._cond:
                self._opening -= 1
                self._cond.notify()
            raise
        primary = primary_of(self._kwargs)
        with self._cond:
            self._opening -= 1
            closed = generation != self._generation
            if not closed:
                self._all.add(conn)
                if primary != self._primary:
                    # A failover: the connections made before go to the old primary,
                    # where a read finds what it had; retired, as redis-py's pool does.
                    if self._primary is not None:
                        self._epoch += 1
                        conn.epoch = self._epoch
                    self._primary = primary
        if closed:  # the store was closed while this connected
            conn.close()
            raise StoreClosed("Connection to Redis closed: the store was closed")
        return conn

    def _drop(self, conn: _Connection, was_lost: bool = False) -> None:
        with self._cond:
            self._all.discard(conn)
            if was_lost and conn.epoch == self._epoch:
                self._epoch += 1
            self._cond.notify()
        conn.close()

    def close(self) -> None:
        """Closes every connection (those in use too: their calls fail)."""
        if self._pid != os.getpid():
            with FORK_LOCK:
                self._start()
            return
        with self._cond:
            self._generation += 1
            conns, self._all, self._free = list(self._all), set(), []
        for conn in conns:
            conn.close()
