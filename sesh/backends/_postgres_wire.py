"""The PostgreSQL store's hot path: one prepared statement on a connection, through libpq.

psycopg's cursors are general (any query, any type, any row shape) and cost as much client
CPU per call as the round trip itself. A session statement needs none of that: the store
prepares each of its statements once per connection, then sends ``Bind``/``Execute`` with
binary parameters (bytes, 8-byte integers) through psycopg's libpq wrapper (``pgconn``)
and reads the binary result directly. That halves the client's CPU per call against
``conn.execute`` of the same statement (see the benchmarks), with the same server work.

Every wait on the server has the store's deadline (``call_timeout``) whatever the
connection's class, and a wait interrupted (a timeout, a cancelled task, Ctrl-C) closes the
connection, whose state is then unknown; a pool drops a closed connection when it comes
back. A statement runs outside any transaction of psycopg's, so it commits on its own,
whether or not the connection is in autocommit mode.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from psycopg import errors, generators, pq, waiting

from sesh.backends._postgres_pool import _timed_out, _WaitTimeout
from sesh.backends._postgres_sql import Prepared

__all__ = ["Outcome", "arun", "run"]

Outcome = tuple[list[tuple[Any, ...]], int]
"""A statement's rows (each value as bytes, binary format, or None) and row count."""

_INTERVAL = 0.1  # as psycopg's own waits: how often to wake and let Ctrl-C through
_BINARY = pq.Format.BINARY
_DONE = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK)
_NOT_PREPARED = b"26000"  # invalid_sql_statement_name: the server forgot (DISCARD ALL)


def _prepared_on(conn: Any) -> set[bytes]:
    # Which statements this connection has prepared: kept on the connection itself.
    found: set[bytes] | None = conn.__dict__.get("_sesh_prepared")
    if found is None:
        found = conn.__dict__["_sesh_prepared"] = set()
    return found


def _outcome(result: Any) -> Outcome:
    if result.status not in _DONE:
        raise errors.error_from_result(result, encoding="utf-8")
    fields = range(result.nfields)
    rows = [tuple(result.get_value(i, j) for j in fields) for i in range(result.ntuples)]
    return rows, result.command_tuples or 0


def _forgotten(result: Any) -> bool:
    return bool(
        result.status == pq.ExecStatus.FATAL_ERROR
        and result.error_field(pq.DiagnosticField.SQLSTATE) == _NOT_PREPARED
    )


def _wait(conn: Any, limit: float) -> Any:
    pgconn = conn.pgconn
    try:
        results = waiting.wait(
            generators.execute(pgconn), pgconn.socket, interval=_INTERVAL, timeout=limit
        )
    except _WaitTimeout:  # type: ignore[misc]  # a class, checked at import
        error = _timed_out(conn, limit)
    except KeyboardInterrupt:
        pgconn.finish()  # the call is half done: the connection cannot be used again
        raise
    else:
        return results[-1]
    raise error


async def _await(conn: Any, limit: float) -> Any:
    pgconn = conn.pgconn
    try:
        results = await waiting.wait_async(
            generators.execute(pgconn), pgconn.socket, interval=_INTERVAL, timeout=limit
        )
    except _WaitTimeout:  # type: ignore[misc]
        error = _timed_out(conn, limit)
    except (asyncio.CancelledError, KeyboardInterrupt):
        pgconn.finish()
        raise
    else:
        return results[-1]
    raise error


def _check_open(conn: Any) -> None:
    if conn.pgconn.status != pq.ConnStatus.OK:
        raise psycopg.OperationalError("the connection is closed")


def run(conn: psycopg.Connection[Any], stmt: Prepared, params: list[Any], limit: float) -> Outcome:
    """Runs ``stmt`` with ``params`` (in its order) on ``conn``, preparing it first if
    this connection has not; raises psycopg's error for the server's."""
    _check_open(conn)
    pgconn, prepared = conn.pgconn, _prepared_on(conn)
    for _ in range(2):  # once more if the server forgot the statement
        if stmt.name not in prepared:
            pgconn.send_prepare(stmt.name, stmt.text, param_types=stmt.types)
            _outcome(_wait(conn, limit))
            prepared.add(stmt.name)
        formats = [_BINARY] * len(params)
        pgconn.send_query_prepared(stmt.name, params, param_formats=formats, result_format=_BINARY)
        result = _wait(conn, limit)
        if not _forgotten(result):
            return _outcome(result)
        prepared.clear()
    return _outcome(result)


async def arun(
    conn: psycopg.AsyncConnection[Any], stmt: Prepared, params: list[Any], limit: float
) -> Outcome:
    """``run`` for an asyncio connection."""
    _check_open(conn)
    pgconn, prepared = conn.pgconn, _prepared_on(conn)
    for _ in range(2):
        if stmt.name not in prepared:
            pgconn.send_prepare(stmt.name, stmt.text, param_types=stmt.types)
            _outcome(await _await(conn, limit))
            prepared.add(stmt.name)
        formats = [_BINARY] * len(params)
        pgconn.send_query_prepared(stmt.name, params, param_formats=formats, result_format=_BINARY)
        result = await _await(conn, limit)
        if not _forgotten(result):
            return _outcome(result)
        prepared.clear()
    return _outcome(result)
