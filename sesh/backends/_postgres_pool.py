"""Connections for the PostgreSQL store: URLs, a deadline on every call, and the pools.

A stalled server (a hung host, a partition that drops packets without a reset) never
answers, and the client's kernel may still acknowledge what it sends: neither TCP nor a
server-side ``statement_timeout`` ends the wait. So each connection the store opens is a
``DeadlineConnection`` (or ``AsyncDeadlineConnection``), which gives every wait on the
server a deadline (``call_timeout``, default ``CALL_TIMEOUT``); past it the connection is
closed (its state is unknown) and the call fails with ``OperationalError``, which the store
reports as a ``BackendError``. Connecting has its own deadline, libpq's
``connect_timeout`` (``CONNECT_TIMEOUT`` unless the URL sets one).

A connection the server closed while it sat in the pool (a restart) is noticed when it is
taken (``check_connection``: no round trip) and replaced, so a restarted server is used again
with no caller action.
"""

from __future__ import annotations

import asyncio
import re
import select
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import psycopg
from psycopg import pq, waiting
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

# What psycopg raises when a wait passes its timeout (3.3+: private, so looked up once here).
_WaitTimeout: type[Exception] | None = getattr(psycopg.errors, "_WaitTimeout", None)
if _WaitTimeout is None:  # pragma: no cover - depends on the installed psycopg
    raise ImportError("the PostgreSQL store needs psycopg 3.3 or newer (a deadline on each wait)")

__all__ = [
    "CALL_TIMEOUT",
    "CONNECT_TIMEOUT",
    "POOL_SIZE",
    "SERVER_SHARE",
    "AsyncDeadlineConnection",
    "DeadlineConnection",
    "acheck_connection",
    "check_call_timeout",
    "check_connection",
    "explained",
    "make_async_pool",
    "make_pool",
    "parse_url",
]

CALL_TIMEOUT = 2.0
"""Seconds any one call may wait on the server, by default (``call_timeout=``)."""
CONNECT_TIMEOUT = 2
"""Seconds to connect, unless the URL's ``connect_timeout`` says otherwise (libpq's minimum)."""
POOL_SIZE = 10
"""Connections a store's own pool opens at most (``pool_size=``); it keeps one open."""
SERVER_SHARE = 0.9
"""The server's own ``statement_timeout`` on a store's connections, as a share of
``call_timeout``: a slow (not stalled) server cancels, and rolls back, a statement the
client is about to give up on, so a write the caller was told failed did not happen."""

_WAIT_INTERVAL = 0.1  # psycopg's own: how often a wait wakes to let Ctrl-C through


def check_call_timeout(value: object) -> float:
    """``call_timeout``: seconds, more than 0 and at most an hour."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"call_timeout must be seconds (a number), not {type(value).__name__}")
    if not 0 < value <= 3600:
        raise ValueError("call_timeout must be more than 0 and at most 3600 seconds")
    return float(value)


def _timed_out(
    conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any], limit: float
) -> Exception:
    # The call may be half done on the server or half read here: the connection cannot be
    # used again. Closing it also tells the pool to replace it.
    conn.pgconn.finish()
    return psycopg.OperationalError(f"PostgreSQL did not answer within {limit:g} s")


class DeadlineConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every wait on the server ends after ``call_timeout``
    seconds (an ``OperationalError``; the connection is closed).

    Pass it as ``connection_class=`` to a pool of your own to give the store's calls on
    that pool the same deadline (a plain connection has none). A wait interrupted (Ctrl-C)
    closes the connection at once, rather than waiting on a stalled server to cancel.
    """

    call_timeout: float = CALL_TIMEOUT

    def wait(self, gen: Any, interval: float = _WAIT_INTERVAL, timeout: float | None = None) -> Any:
        limit = self.call_timeout if timeout is None else timeout
        try:
            return waiting.wait(gen, self.pgconn.socket, interval=interval, timeout=limit)
        except _WaitTimeout:  # type: ignore[misc]  # a class, checked at import
            error = _timed_out(self, limit)
        except KeyboardInterrupt:
            self.pgconn.finish()  # the call is half done: the connection cannot be used
            raise
        raise error  # outside the except: the timeout says all there is


class AsyncDeadlineConnection(psycopg.AsyncConnection[Any]):
    """``DeadlineConnection`` for asyncio: a cancelled call closes the connection at once
    (psycopg's own would first ask the server to cancel, and wait up to 10 s)."""

    call_timeout: float = CALL_TIMEOUT

    async def wait(
        self, gen: Any, interval: float = _WAIT_INTERVAL, timeout: float | None = None
    ) -> Any:
        limit = self.call_timeout if timeout is None else timeout
        try:
            return await waiting.wait_async(
                gen, self.pgconn.socket, interval=interval, timeout=limit
            )
        except _WaitTimeout:  # type: ignore[misc]
            error = _timed_out(self, limit)
        except (asyncio.CancelledError, KeyboardInterrupt):
            self.pgconn.finish()
            raise
        raise error


def check_connection(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> None:
    """Raises (and closes it) if an idle connection can no longer be used: closed, or with
    something to read (the server says nothing to an idle connection unless it is closing
    it, as on a restart). No round trip: pass it as a pool's ``check=``."""
    if conn.closed or conn.pgconn.status != pq.ConnStatus.OK:
        raise psycopg.OperationalError("the connection is closed")
    fd = conn.pgconn.socket
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        ready = bool(poller.poll(0))
    else:  # pragma: no cover - Windows
        ready = bool(select.select([fd], [], [], 0)[0])
    if ready:
        conn.pgconn.finish()  # so the pool drops it rather than offering it again
        raise psycopg.OperationalError("the server closed the connection")


async def acheck_connection(conn: psycopg.AsyncConnection[Any]) -> None:
    """``check_connection`` for an ``AsyncConnectionPool``'s ``check=``."""
    check_connection(conn)


def _settings(call_timeout: float) -> bytes:
    ms = max(1, int(call_timeout * SERVER_SHARE * 1000))
    return f"SET statement_timeout = {ms}".encode()


def _configure(call_timeout: float) -> Callable[[Any], None]:
    def configure(conn: Any) -> None:
        conn.call_timeout = call_timeout
        conn.execute(_settings(call_timeout), prepare=False)

    return configure


def _aconfigure(call_timeout: float) -> Callable[[Any], Any]:
    async def configure(conn: Any) -> None:
        conn.call_timeout = call_timeout
        await conn.execute(_settings(call_timeout), prepare=False)

    return configure


# Every statement is its own transaction; each is prepared on its first use.
_CONNECTION_KWARGS = {"autocommit": True, "prepare_threshold": 0}


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).split("\n", 1)[0].split())[:200]


def _recording(base: type[DeadlineConnection]) -> type[DeadlineConnection]:
    # A class of the pool's own, which keeps why its last attempt to connect failed: the
    # pool connects in its own threads, so a caller would otherwise see only its timeout.
    class Recording(base):  # type: ignore[valid-type,misc]
        last_failure: str | None = None

        @classmethod
        def connect(cls, *args: Any, **kwargs: Any) -> Any:
            try:
                conn = super().connect(*args, **kwargs)
            except psycopg.Error as exc:
                cls.last_failure = _first_line(exc)
                raise
            cls.last_failure = None
            return conn

    return Recording


def _arecording(base: type[AsyncDeadlineConnection]) -> type[AsyncDeadlineConnection]:
    class Recording(base):  # type: ignore[valid-type,misc]
        last_failure: str | None = None

        @classmethod
        async def connect(cls, *args: Any, **kwargs: Any) -> Any:
            try:
                conn = await super().connect(*args, **kwargs)
            except psycopg.Error as exc:
                cls.last_failure = _first_line(exc)
                raise
            cls.last_failure = None
            return conn

    return Recording


def explained(exc: BaseException, pool: Any) -> BaseException:
    """``exc``, or for a pool of the store's own that timed out waiting for a connection,
    the same with why its last attempt to connect failed (a wrong password, a refused
    connection: libpq's first line, which never holds the password)."""
    reason = getattr(getattr(pool, "connection_class", None), "last_failure", None)
    if reason and isinstance(exc, PoolTimeout):
        return PoolTimeout(f"{_first_line(exc)} (the last attempt to connect: {reason})")
    return exc


def make_pool(conninfo: str, call_timeout: float, pool_size: int) -> ConnectionPool[Any]:
    """A store's own pool, not yet open."""
    return ConnectionPool(
        conninfo,
        connection_class=_recording(DeadlineConnection),
        kwargs=dict(_CONNECTION_KWARGS),
        min_size=1,
        max_size=pool_size,
        open=False,
        configure=_configure(call_timeout),
        check=check_connection,
        timeout=call_timeout,
        num_workers=2,
        name="sesh",
    )


def make_async_pool(conninfo: str, call_timeout: float, pool_size: int) -> AsyncConnectionPool[Any]:
    """A store's own asyncio pool, not yet open (it opens in the loop of the first call)."""
    return AsyncConnectionPool(
        conninfo,
        connection_class=_arecording(AsyncDeadlineConnection),
        kwargs=dict(_CONNECTION_KWARGS),
        min_size=1,
        max_size=pool_size,
        open=False,
        configure=_aconfigure(call_timeout),
        check=acheck_connection,
        timeout=call_timeout,
        num_workers=2,
        name="sesh",
    )


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError("call_timeout in a PostgreSQL store URL must be seconds") from None


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError("pool_size in a PostgreSQL store URL must be a whole number") from None


def _flag(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError("unlogged in a PostgreSQL store URL must be true or false")


SESH_OPTIONS: dict[str, Callable[[str], Any]] = {
    "table": str,
    "schema": str,
    "call_timeout": _seconds,
    "pool_size": _count,
    "unlogged": _flag,
}
"""The URL query options that are sesh's (every other must be one of libpq's)."""


_OPTION_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


def _check_ports(netloc: str) -> None:
    # libpq reads the port only when it connects; a typo should fail here, and quietly
    # (urllib's own message would quote the netloc, password and all).
    hosts = netloc.rpartition("@")[2]
    for host in hosts.split(","):
        port = host.rpartition("]")[2].rpartition(":")[2] if ":" in host.rpartition("]")[2] else ""
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            raise ValueError("a malformed PostgreSQL store URL (a port is not a number)")


def _libpq_options() -> frozenset[str]:
    return frozenset(d.keyword.decode() for d in pq.Conninfo.get_defaults())


def parse_url(url: str) -> tuple[str, dict[str, Any]]:
    """The libpq URL (with ``connect_timeout`` defaulted) and sesh's own options of a
    ``postgresql://`` or ``postgres://`` URL.

    Raises:
        ValueError: another scheme, a query option neither libpq's nor sesh's, a repeated
            one, a bad value, or a URL libpq cannot parse. No message quotes the URL.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("postgresql", "postgres") or parts.fragment:
        raise ValueError("a PostgreSQL store URL is postgresql://user:password@host:port/dbname")
    _check_ports(parts.netloc)
    libpq = _libpq_options()
    kept: list[tuple[str, str]] = []
    settings: dict[str, Any] = {}
    seen: set[str] = set()
    for pair in filter(None, parts.query.split("&")):
        # libpq's reading: %XX escapes only ('+' is a plus, not a space, unlike a form's).
        raw_name, _, raw_value = pair.partition("=")
        name, value = unquote(raw_name), unquote(raw_value)
        if not _OPTION_NAME.fullmatch(name):
            raise ValueError(
                "a PostgreSQL store URL's query has an option that is not a name (perhaps"
                " part of a password: percent-encode '&', '=', '#' and '?' in one)"
            )
        if name in seen or (name not in SESH_OPTIONS and name not in libpq):
            raise ValueError(
                f"unknown or repeated option {name!r} in a PostgreSQL store URL"
                f" (it takes libpq's options and {', '.join(SESH_OPTIONS)})"
            )
        seen.add(name)
        if name in SESH_OPTIONS:
            settings[name] = SESH_OPTIONS[name](value)
        else:
            kept.append((name, value))
    if "connect_timeout" not in seen:
        kept.append(("connect_timeout", str(CONNECT_TIMEOUT)))
    query = "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in kept)
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    try:
        conninfo_to_dict(conninfo)
    except psycopg.Error:
        # libpq's message may quote the URL, password included.
        raise ValueError("a malformed PostgreSQL store URL (libpq cannot parse it)") from None
    return conninfo, settings
