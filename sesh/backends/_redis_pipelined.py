"""sesh's own asyncio connection to a single Redis, auto-pipelined: every task of an event
loop shares one connection, and what they send in one pass of the loop goes out in one write.

The design is rueidis's (and ioredis's, node-redis's): a connection keeps one ordered
queue of the calls awaiting a reply. A call on an idle connection is written at once (no
batching delay at low load); calls made while others are in flight are gathered and
written together at the end of the loop's pass, so 64 tasks cost the client a handful of
writes and reads instead of 64 of each, and no task waits for a connection from a pool.

Why replies never go to the wrong call (redis-py's CVE-2023-28859 class of bug): each reply
is matched to the queue's head, in the order the commands were written, whatever happened
to the caller. A cancelled call leaves its place in the queue; its reply is read and
dropped. Anything that makes the order uncertain (a lost connection, bytes that are not
RESP, a reply nobody asked for, no reply for ``socket_timeout`` while calls wait) closes
the connection and fails every call still waiting on it with redis-py's ConnectionError or
TimeoutError; the next call opens a new one.

Bounds: at most ``MAX_IN_FLIGHT`` calls wait on a connection (more wait for room), and
nothing more is written while the transport's buffer is over its high-water mark.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import weakref
from collections import deque
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sesh.backends._redis_wire import (
    ASKING,
    FORK_LOCK,
    MORE,
    Replies,
    StoreClosed,
    demoted,
    lost,
    pack,
)

__all__ = ["MAX_IN_FLIGHT", "PipelinedLink"]

MAX_IN_FLIGHT = 1024
"""Calls that may await replies on one connection at once."""


def _fresh(error: BaseException) -> BaseException:
    # One exception object per waiting call: a shared one would gather every raiser's
    # traceback.
    try:
        return type(error)(*error.args)
    except Exception:  # a type that cannot be remade from its args
        return RedisConnectionError(f"{type(error).__name__}: {error}")


def _dropped(reply: asyncio.Future[Any]) -> None:
    # A reply nobody awaits: its failure is seen by the call sent after it.
    if not reply.cancelled():
        reply.exception()


class _Pipe(asyncio.Protocol):
    """One connection's transport, the queue of calls awaiting replies, and what waits to
    be written."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float | None) -> None:
        self._loop = loop
        self._timeout = timeout
        self._transport: asyncio.Transport | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._out: list[bytes] = []
        self._flush_due = False
        self._paused = False
        self._replies = Replies()
        self._timer: asyncio.TimerHandle | None = None
        self._progress = 0.0
        self._room: asyncio.Future[None] | None = None
        self._written = 0  # waiting calls whose commands have been written
        self.error: BaseException | None = None  # set once the connection is done for

    def attach(self, writer: asyncio.StreamWriter, reader: asyncio.StreamReader) -> None:
        # The stream writer redis-py connected with stays referenced: its __del__ closes
        # the transport it no longer reads.
        self._writer = writer
        transport: Any = writer.transport
        self._transport = transport
        transport.set_protocol(self)
        # nothing, after a handshake that read all its replies
        unread = bytes(reader._buffer)  # type: ignore[attr-defined]
        if transport.is_closing() or reader.exception() is not None:
            self._fail(lost(reader.exception()))
        elif unread:
            self.data_received(unread)
        if self.error is None and reader.at_eof():  # the server closed it already
            self._fail(lost())

    @property
    def full(self) -> bool:
        return len(self._waiting) >= MAX_IN_FLIGHT

    async def room(self) -> None:
        """Returns when fewer than ``MAX_IN_FLIGHT`` calls wait (or the pipe failed)."""
        while self.full and self.error is None:
            if self._room is None:
                self._room = self._loop.create_future()
            await asyncio.shield(self._room)

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        """Queues a command; the future gets its reply."""
        assert self._transport is not None
        reply = self._loop.create_future()
        if self.error is not None:  # gone before this call got to it: the caller retries
            reply.set_exception(_fresh(self.error))
            return reply
        if not self._waiting:
            self._progress = self._loop.time()
            if self._timer is None and self._timeout is not None:
                self._timer = self._loop.call_later(self._timeout, self._watch)
            if not self._out and not self._paused:
                self._transport.write(packed)  # an idle connection: no reason to wait
                self._waiting.append(reply)
                self._written += 1
                return reply
        self._out.append(packed)
        self._waiting.append(reply)
        if not self._flush_due and not self._paused:
            self._flush_due = True
            self._loop.call_soon(self._flush)
        return reply

    def _flush(self) -> None:
        # Runs after every task the loop had ready: all they sent goes in one write.
        self._flush_due = False
        if self._out and not self._paused and self.error is None:
            assert self._transport is not None
            data = b"".join(self._out)
            self._written += len(self._out)
            self._out.clear()
            self._transport.write(data)

    def data_received(self, data: bytes) -> None:
        replies, waiting = self._replies, self._waiting
        replies.feed(data)
        try:
            while True:
                reply = replies.next()
                if reply is MORE:
                    break
                if not self._written:  # (calls not yet written wait for nothing)
                    raise RedisConnectionError("Redis sent a reply no call was waiting for")
                self._written -= 1
                call = waiting.popleft()
                if not call.done():  # a cancelled call's reply is read and dropped
                    call.set_result(reply)
        except RedisConnectionError as exc:
            self._fail(exc)
            return
        self._progress = self._loop.time()
        if self._room is not None and not self.full:
            self._room.set_result(None)
            self._room = None

    def _watch(self) -> None:
        # A connection that answers nothing for socket_timeout while calls wait is stalled
        # (a hung server, a partition): every waiting call fails, as its own timeout would.
        self._timer = None
        if self.error is not None or not self._waiting:
            return
        assert self._timeout is not None
        idle = self._loop.time() - self._progress
        if idle >= self._timeout:
            self._fail(RedisTimeoutError("Timeout reading from Redis"))
        else:
            self._timer = self._loop.call_later(self._timeout - idle, self._watch)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._out and not self._flush_due:
            self._flush_due = True
            self._loop.call_soon(self._flush)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(lost(exc))

    def eof_received(self) -> bool:
        return False  # close the transport: a Redis that stops sending is gone

    def _fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._waiting:
            call = self._waiting.popleft()
            if not call.done():
                call.set_exception(_fresh(error))
        self._out.clear()
        if self._room is not None:
            self._room.set_result(None)
            self._room = None
        if self._transport is not None:
            self._transport.abort()

    def fail(self, error: BaseException) -> None:
        """Ends the connection: every call still waiting gets ``error``."""
        self._fail(error)

    def close(self) -> None:
        self._fail(StoreClosed("Connection to Redis closed: the store was closed"))

    def loop_closed(self) -> bool:
        return self._loop.is_closed()

    def shut(self) -> None:
        """Ends the connection of a loop that was closed with it open (abort() needs the
        loop): the server sees it end; the socket's descriptor goes with the transport."""
        if self.error is None:
            self.error = StoreClosed("Connection to Redis closed: its event loop was closed")
        transport: Any = self._transport
        if transport is None:
            return
        with contextlib.suppress(Exception):  # marks it closing; the rest needs the loop
            transport.close()
        # asyncio offers no way to close a transport whose loop is closed, so its socket
        # is closed here, where the selector transport keeps it (under TLS, the one the
        # TLS layer writes to); without it the descriptor stays open until collected.
        inner = getattr(getattr(transport, "_ssl_protocol", None), "_transport", transport)
        sock = getattr(inner, "_sock", None)
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
            inner._sock = None


class PipelinedLink:
    """One auto-pipelined connection per event loop to one Redis, made as the client's own
    pool makes its connections (redis-py connects and shakes hands; see ``_redis_wire``).
    After ``os.fork()`` the child opens its own and never touches the parent's."""

    __slots__ = ("_cls", "_generation", "_kwargs", "_opening", "_pid", "_pipes", "_timeout")

    def __init__(self, cls: type, kwargs: dict[str, Any]) -> None:
        self._cls, self._kwargs = cls, kwargs
        self._timeout: float | None = self._kwargs.get("socket_timeout")
        self._start()

    def _start(self) -> None:
        # Keyed by loop, weakly; but a pipe holds its loop, so the pipes of loops closed
        # with their connection open are swept by hand (_sweep).
        self._pipes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pipe] = (
            weakref.WeakKeyDictionary()
        )
        self._opening: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Future[_Pipe | None]
        ] = weakref.WeakKeyDictionary()
        self._generation = 0  # one more at each aclose: a connect that spans one is dropped
        self._pid = os.getpid()  # last: another thread seeing it sees the rest set

    async def call(self, command: tuple[Any, ...], asking: bool = False) -> Any:
        """The reply to ``command``; an error reply raised as redis-py's exception.
        ``asking``: sent right after ASKING, on the same connection (a Cluster's ASK).

        Raises:
            redis.exceptions.ConnectionError: no connection, or it was lost before the
                reply came (after one retry on a new connection).
            redis.exceptions.TimeoutError: the connection answered nothing for the socket
                timeout.
        """
        if self._pid != os.getpid():
            with FORK_LOCK:  # a forked child: its parent's connections are not its own
                if self._pid != os.getpid():
                    self._start()
        packed = pack(command)
        try:
            reply = await self._once(packed, asking)
        except StoreClosed:
            raise
        except RedisConnectionError:
            reply = await self._once(packed, asking)
        if isinstance(reply, RedisError):
            raise reply
        return reply

    async def _once(self, packed: bytes, asking: bool) -> Any:
        loop = asyncio.get_running_loop()
        pipe = self._pipes.get(loop)
        if pipe is None or pipe.error is not None:
            pipe = await self._open(loop)
            if pipe.error is not None:  # lost while its waiters were woken
                raise _fresh(pipe.error)
        if pipe.full:
            await pipe.room()
            if pipe.error is not None:
                raise _fresh(pipe.error)
        if asking:  # ASKING's reply is dropped; nothing can come between the two sends
            pipe.send(ASKING).add_done_callback(_dropped)
        reply = await pipe.send(packed)
        if type(reply) is ReadOnlyError:
            loss = demoted(reply, self._cls)
            if loss is not None:
                pipe.fail(loss)  # the calls after it went to the same demoted server
                raise loss
        return reply

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Pipe:
        # The first caller connects; callers arriving meanwhile wait for its outcome (one
        # attempt for all, not one each). A cancelled opener lets the next caller try.
        while True:
            opening = self._opening.get(loop)
            if opening is None:
                break
            pipe = await asyncio.shield(opening)
            if pipe is not None:
                return pipe
        self._sweep()
        opening = loop.create_future()
        self._opening[loop] = opening
        generation = self._generation
        try:
            pipe = await self._connect(loop)
            if generation != self._generation:  # the store was closed meanwhile
                pipe.close()
                raise StoreClosed("Connection to Redis closed: the store was closed")
        except asyncio.CancelledError:
            del self._opening[loop]
            opening.set_result(None)
            raise
        except BaseException as exc:
            self._opening.pop(loop, None)
            opening.set_exception(_fresh(exc))
            opening.exception()  # retrieved: the callers waiting on it may all be gone
            raise
        del self._opening[loop]
        self._pipes[loop] = pipe
        opening.set_result(pipe)
        return pipe

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Pipe:
        conn = self._cls(**self._kwargs)
        await conn.connect()  # TCP or Unix, TLS, AUTH, HELLO, SELECT: redis-py's own
        reader, writer = conn._reader, conn._writer
        # The transport is the pipe's from here: redis-py's connection object lets go of
        # it (its __del__ would close it otherwise).
        conn._reader = conn._writer = None
        pipe = _Pipe(loop, self._timeout)
        pipe.attach(writer, reader)
        return pipe

    def _sweep(self) -> None:
        for loop, pipe in list(self._pipes.items()):
            if pipe.loop_closed():
                del self._pipes[loop]
                pipe.shut()

    async def aclose(self) -> None:
        """Closes this loop's connection (and asks other live loops to close theirs);
        calls waiting on them fail."""
        if self._pid != os.getpid():
            with FORK_LOCK:
                self._start()
            return
        self._generation += 1
        running = asyncio.get_running_loop()
        pipes, self._pipes = list(self._pipes.items()), weakref.WeakKeyDictionary()
        for loop, pipe in pipes:
            if loop is running:
                pipe.close()
            elif pipe.loop_closed():
                pipe.shut()
            else:
                try:
                    loop.call_soon_threadsafe(pipe.close)
                except RuntimeError:  # that loop closed just now
                    pipe.shut()
