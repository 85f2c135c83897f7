"""PostgresStore against its floor, Django's database sessions and sesh on Redis; its cost as
the table grows, its bytes on disk, and what purging expired rows costs.

Run from the repository root: ``.venv/bin/python -m benchmarks.postgres [--quick] [--out DIR]``.
Starts its own PostgreSQL (``testbed.postgres``) and redis-server on loopback, pins them to
the first core and this process to the second, and writes ``postgres.md`` to
``benchmarks/results/`` (or DIR). It configures Django for PostgreSQL, so it needs a process
of its own (Django is configured once per process). ``--quick`` runs every section with
tiny sizes, to check that the harness works (the tests do); its numbers mean nothing.

1. Per verb, sesh's ``PostgresStore`` against raw psycopg sending the very statement text
   sesh sends (every 64th insert the purging one, as sesh does), with the same parameters,
   on one connection of the same kind (autocommit, prepared at once, binary parameters
   and results), one psycopg ``execute`` per call.
2. Against Django's database sessions (``django.contrib.sessions.backends.db``) on the same
   server, each verb the way Django does it.
3. Against sesh's ``RedisStore`` on the redis-server beside it: what the backend costs.
4. Cost per call of get, set and liv in tables of 1 thousand to 1 million rows filled like
   sesh's, side by side in the same rounds, as a ratio to the smallest table's.
5. Bytes per session on disk (heap and each index) in the largest table.
6. What one purge of ``PURGE_BATCH`` expired rows takes in the largest table, and the
   insert that purges against a plain one.

Every comparison interleaves its contenders in rounds (who goes first rotates) and reports
the median of per-round ratios with their range, with client CPU per call (process time)
beside wall time.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import os
import random
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from statistics import median
from typing import Any

import psycopg
import redis
from psycopg import pq, sql
from psycopg.types.numeric import Int8
from psycopg_pool import ConnectionPool

from benchmarks import _django
from benchmarks._common import Ratio, Runner, header, interleave, ratio, timed, versions
from sesh._core import user_tag
from sesh.backends._postgres_pool import (
    CALL_TIMEOUT,
    POOL_SIZE,
    DeadlineConnection,
    make_pool,
    parse_url,
)
from sesh.backends._postgres_sql import PURGE_BATCH, PURGE_EVERY, Statements, statements
from sesh.backends.postgres import PostgresStore
from sesh.backends.redis import RedisStore
from testbed.postgres import ADMIN, PostgresServer
from testbed.servers import RedisServer

FULL: dict[str, Any] = {
    "n": 1000, "rounds": 11, "sizes": [1_000, 10_000, 100_000, 1_000_000], "purge_rounds": 21,
}  # fmt: skip
QUICK: dict[str, Any] = {"n": 20, "rounds": 2, "sizes": [1_000, 5_000], "purge_rounds": 2}
TTL = 3600
TTL_MS = TTL * 1000
TABLE = "sesh_bench"
PREFIX = "sesh"
VERBS = ["set", "get", "get(touch)", "liv", "die", "rotate", "sessions", "die_all"]
DJANGO = {
    "set": "create(): a fresh key (SELECT), INSERT in a transaction",
    "get": "SessionStore(key) read: SELECT",
    "get(touch)": "SessionStore(key) read, set_expiry(ttl), save(): SELECT, UPDATE in a"
    " transaction",
    "liv": "a loaded session's set_expiry(ttl), save(): UPDATE in a transaction",
    "die": "a loaded session's delete(): DELETE",
}
SCALE_VERBS = ["get", "set", "liv"]

Call = Callable[[Any], Any]
Contender = tuple[Call, Callable[[int], list[Any]]]
"""A verb's call, and what makes the arguments of n calls (before the clock starts)."""


def new_id() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


# --- the servers, and who runs where ---------------------------------------------------


def _tasks(pid: int) -> list[int]:
    try:
        return [int(task.name) for task in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:
        return []


def pin(server_pids: list[int]) -> str:
    """Every thread of the servers on the first core, this thread (and the threads it starts
    later) on the others; new PostgreSQL backends inherit the postmaster's core."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return "client and servers share the one core"
    for pid in server_pids:
        for task in _tasks(pid):
            with suppress(OSError):  # it ended meanwhile
                os.sched_setaffinity(task, {cores[0]})
    os.sched_setaffinity(0, set(cores[1:]))
    return f"servers on core {cores[0]}, the client on {', '.join(map(str, cores[1:]))}"


class Meter:
    """Runners that note the client CPU (process time, µs per call) of each of their runs."""

    def __init__(self) -> None:
        self.cpu: dict[str, list[float]] = {}

    def runner(self, name: str, contender: Contender) -> Runner:
        call, make_args = contender

        def run(n: int) -> float:
            args = make_args(n)
            started = time.process_time()
            seconds = timed(call, args)
            self.cpu.setdefault(name, []).append((time.process_time() - started) / n * 1e6)
            return seconds

        return run

    def median(self, name: str) -> float:
        return median(self.cpu[name])


def repeat(value: Any) -> Callable[[int], list[Any]]:
    return lambda n: [value] * n


def fresh(make: Callable[[], Any]) -> Callable[[int], list[Any]]:
    return lambda n: [make() for _ in range(n)]


@contextmanager
def traced(conn: psycopg.Connection[Any]) -> Iterator[list[int]]:
    """Counts the round trips on ``conn`` meanwhile (libpq's trace: each Sync or simple
    Query the client sends waits for the server's ReadyForQuery); the count is set on exit."""
    found = [0]
    with tempfile.TemporaryFile() as log:
        conn.pgconn.trace(log.fileno())
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield found
        finally:
            conn.pgconn.untrace()
        log.seek(0)
        for line in log.read().decode("utf-8", "replace").splitlines():
            fields = line.split("\t")
            if len(fields) > 2 and fields[0] == "F" and fields[2].strip() in ("Sync", "Query"):
                found[0] += 1


def round_trips(conn: psycopg.Connection[Any], contender: Contender, calls: int = 10) -> float:
    call, make_args = contender
    call(make_args(1)[0])  # prepared
    args = make_args(calls)
    with traced(conn) as count:
        for arg in args:
            call(arg)
    return count[0] / calls


# --- the contenders --------------------------------------------------------------------


class Raw:
    """Raw psycopg on one connection like sesh's (autocommit, prepare_threshold=0, binary):
    sesh's statement texts, parameters built as sesh builds them, one
    ``Connection.execute`` per call; the least each verb can do. With ``pool``, each call takes
    a connection of that pool instead (``with pool.connection()``, as sesh does)."""

    def __init__(
        self, conninfo: str, statements: Statements, pool: ConnectionPool[Any] | None = None
    ) -> None:
        self.conn = psycopg.connect(conninfo, autocommit=True, prepare_threshold=0)
        self.pool = pool
        self.run = self._direct if pool is None else self._pooled
        self.sql = statements
        self.inserts = itertools.count(1)

    def _direct(self, query: str, params: dict[str, Any], fetch: bool) -> tuple[list[Any], int]:
        cur = self.conn.execute(query, params, binary=True)
        return (cur.fetchall() if fetch else []), cur.rowcount

    def _pooled(self, query: str, params: dict[str, Any], fetch: bool) -> tuple[list[Any], int]:
        assert self.pool is not None
        with self.pool.connection() as conn:
            cur = conn.execute(query, params, binary=True)
            return (cur.fetchall() if fetch else []), cur.rowcount

    def close(self) -> None:
        self.conn.close()
        if self.pool is not None:
            self.pool.close()

    def set(self, _: object = None) -> str:
        session_id = new_id()
        purge = next(self.inserts) % PURGE_EVERY == 0
        params = {
            "key": f"{PREFIX}:{session_id}".encode(),
            "value": b"1337",
            "ttl": Int8(TTL_MS),
            "max": None,
            "index": None,
        }
        _, count = self.run(self.sql.insert_purging if purge else self.sql.insert, params, False)
        if count != 1:
            raise RuntimeError("the id was taken")
        return session_id

    def get(self, session_id: str) -> str | None:
        rows, _ = self.run(self.sql.get, {"key": f"{PREFIX}:{session_id}".encode()}, True)
        return bytes(rows[0][0]).decode("utf-8") if rows else None

    def touch(self, session_id: str) -> str | None:
        params = {"key": f"{PREFIX}:{session_id}".encode(), "ttl": Int8(TTL_MS)}
        rows, _ = self.run(self.sql.touch, params, True)
        return bytes(rows[0][0]).decode("utf-8") if rows else None

    def liv(self, session_id: str) -> bool:
        params = {"key": f"{PREFIX}:{session_id}".encode(), "ttl": Int8(TTL_MS)}
        return self.run(self.sql.refresh, params, False)[1] == 1

    def die(self, session_id: str) -> bool:
        rows, _ = self.run(self.sql.delete, {"key": f"{PREFIX}:{session_id}".encode()}, True)
        return any(live for (live,) in rows)

    def rotate(self, session_id: str) -> str | None:
        new = new_id()
        params = {
            "key": f"{PREFIX}:{session_id}".encode(),
            "new": f"{PREFIX}:{new}".encode(),
            "ttl": Int8(TTL_MS),
        }
        rows, _ = self.run(self.sql.rotate, params, True)
        was_live, moved = rows[0][:2]
        return new if was_live and moved else None

    def sessions(self, user_id: str) -> list[str]:
        # The tracked layout: keys "<prefix>:{xy}<id>", the index "<prefix>:{xy}:user:<user>".
        params = {"index": f"{PREFIX}:{{{user_tag(user_id)}}}:user:{user_id}".encode()}
        rows, _ = self.run(self.sql.list, params, True)
        return [bytes(key).decode("utf-8")[len(PREFIX) + 5 :] for (key,) in rows]

    def die_all(self, user_id: str) -> int:
        params = {"index": f"{PREFIX}:{{{user_tag(user_id)}}}:user:{user_id}".encode()}
        rows, _ = self.run(self.sql.delete_user, params, True)
        return sum(1 for (live,) in rows if live)


def check_raw(store: PostgresStore, users: PostgresStore, raw: Raw) -> None:
    """Raw psycopg sends sesh's statement texts, and reads and writes sesh's rows."""
    session_id = store.set(1337)
    got: list[object] = [raw.get(session_id), raw.touch(session_id), raw.liv(session_id)]
    new = raw.rotate(session_id)
    got += [new is not None, store.get(new or session_id), store.get(session_id)]
    got += [raw.die(new or session_id), store.get(new or session_id)]
    got += [store.get(raw.set())]
    made = {users.set("raw-check") for _ in range(2)}
    got += [set(raw.sessions("raw-check")) == made == set(users.sessions("raw-check"))]
    got += [raw.die_all("raw-check")]
    same = store._table.sql == raw.sql and users._table.sql == raw.sql
    if not same or got != ["1337", "1337", True, True, "1337", None, True, None, "1337", True, 2]:
        raise RuntimeError(f"raw psycopg does not do what sesh does: {same}, {got}")


def user_maker(store: Any, sessions: int) -> Callable[[], str]:
    """Makes a user of its own with ``sessions`` sessions; returns the user id."""
    counter = itertools.count()
    tag = secrets.token_hex(4)

    def make() -> str:
        user = f"u{tag}-{next(counter)}"
        for _ in range(sessions):
            store.set(user)
        return user

    return make


def sesh_verbs(store: Any, users: Any) -> dict[str, Contender]:
    """The eight verbs of a sesh store (``users``: one with ``track_users``)."""
    one = store.set(1337)
    tracked = user_maker(users, 3)()
    return {
        "set": (lambda _: store.set(1337), repeat(None)),
        "get": (store.get, repeat(one)),
        "get(touch)": (lambda i: store.get(i, touch=True), repeat(one)),
        "liv": (store.liv, repeat(one)),
        "die": (store.die, fresh(lambda: store.set(1337))),
        "rotate": (store.rotate, fresh(lambda: store.set(1337))),
        "sessions": (users.sessions, repeat(tracked)),
        "die_all": (users.die_all, fresh(user_maker(users, 2))),
    }


def raw_verbs(raw: Raw, store: PostgresStore, users: PostgresStore) -> dict[str, Contender]:
    """Raw psycopg, on rows sesh made (made before the clock starts, as for sesh)."""
    one = store.set(1337)
    tracked = user_maker(users, 3)()
    return {
        "set": (raw.set, repeat(None)),
        "get": (raw.get, repeat(one)),
        "get(touch)": (raw.touch, repeat(one)),
        "liv": (raw.liv, repeat(one)),
        "die": (raw.die, fresh(lambda: store.set(1337))),
        "rotate": (raw.rotate, fresh(lambda: store.set(1337))),
        "sessions": (raw.sessions, repeat(tracked)),
        "die_all": (raw.die_all, fresh(user_maker(users, 2))),
    }


def configure_django(server: PostgresServer) -> None:
    """Django's database sessions on the benchmark's PostgreSQL (psycopg 3, autocommit, one
    persistent connection: outside a request, Django keeps it open)."""
    import django
    from django.conf import settings

    if settings.configured:
        raise RuntimeError(
            "Django is already configured in this process: run benchmarks.postgres in a"
            " process of its own (python -m benchmarks.postgres)"
        )
    settings.configure(
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": "sesh",
                "USER": ADMIN,
                "PASSWORD": server.password,
                "HOST": "127.0.0.1",
                "PORT": str(server.port),
            }
        },
        INSTALLED_APPS=["django.contrib.sessions"],
        SESSION_COOKIE_AGE=_django.TTL,
        SECRET_KEY="benchmarks-only",
        USE_TZ=True,
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", "sessions", verbosity=0)


def django_verbs() -> dict[str, Contender]:
    """Django's database sessions doing sesh's verbs, as a view (or its middleware) would."""
    cls = _django.session_class("db")

    def create(_: Any = None) -> Any:
        session = cls()
        session["_auth_user_id"] = "1337"
        session.create()
        return session

    def load(key: str) -> Any:
        return cls(session_key=key)["_auth_user_id"]

    def touch(key: str) -> Any:
        session = cls(session_key=key)
        user = session["_auth_user_id"]
        session.set_expiry(TTL)
        session.save()
        return user

    def refresh(session: Any) -> None:
        session.set_expiry(TTL)
        session.save()

    one = create()
    assert load(one.session_key) == "1337"
    return {
        "set": (create, repeat(None)),
        "get": (load, repeat(one.session_key)),
        "get(touch)": (touch, repeat(one.session_key)),
        "liv": (refresh, repeat(one)),
        "die": (lambda session: session.delete(), fresh(create)),
    }


# --- 1-3: per verb ---------------------------------------------------------------------


def bench_verbs(
    pg: PostgresServer, redis_url: str, n: int, rounds: int
) -> tuple[list[dict[str, Any]], dict[str, dict[str, float]]]:
    """Per verb, every contender that has it, in the same interleaved rounds: ratios,
    ops/s and client CPU; and round trips per call on PostgreSQL."""
    conninfo, _ = parse_url(pg.url)
    store = PostgresStore.from_url(pg.url, ttl=TTL, table=TABLE)
    users = PostgresStore.from_url(pg.url, ttl=TTL, table=TABLE, track_users=True)
    store.setup()
    users.setup()
    raw = Raw(conninfo, statements("public", TABLE))
    check_raw(store, users, raw)
    # The same raw calls, each through a pool made as sesh makes its own.
    pool = make_pool(conninfo, CALL_TIMEOUT, POOL_SIZE)
    pool.open(wait=True)
    pooled = Raw(conninfo, statements("public", TABLE), pool)
    check_raw(store, users, pooled)
    client = redis.Redis.from_url(redis_url)
    on_redis = RedisStore(client, ttl=TTL)
    on_redis_users = RedisStore(client, ttl=TTL, track_users=True)
    configure_django(pg)
    contenders: dict[str, dict[str, Contender]] = {
        "sesh": sesh_verbs(store, users),
        "raw": raw_verbs(raw, store, users),
        "pooled": raw_verbs(pooled, store, users),
        "redis": sesh_verbs(on_redis, on_redis_users),
        "django": django_verbs(),
    }
    trips = count_round_trips(conninfo, contenders, raw)
    rows = []
    meter = Meter()
    for verb in VERBS:
        runners = {
            name: meter.runner(name, verbs[verb])
            for name, verbs in contenders.items()
            if verb in verbs
        }
        for run in runners.values():
            run(5)  # connections up, statements prepared
        meter.cpu.clear()
        rates = interleave(runners, n, rounds)
        row: dict[str, Any] = {"verb": verb, "rates": rates, "cpu": {}}
        for name in runners:
            row["cpu"][name] = meter.median(name)
        row["raw"] = ratio(rates, "sesh", "raw")
        row["pool"] = ratio(rates, "pooled", "raw")
        row["pooled"] = ratio(rates, "sesh", "pooled")
        row["redis"] = ratio(rates, "sesh", "redis")
        if "django" in runners:
            row["django"] = ratio(rates, "sesh", "django")
        rows.append(row)
    from django.db import connection

    connection.close()
    raw.close()
    pooled.close()
    store.close()
    users.close()
    client.flushdb()
    client.close()
    return rows, trips


def count_round_trips(
    conninfo: str, contenders: dict[str, dict[str, Contender]], raw: Raw
) -> dict[str, dict[str, float]]:
    """Round trips per call: sesh's on a pool of one connection (the same store otherwise),
    raw psycopg's and Django's on their own connections."""
    pool: ConnectionPool[Any] = ConnectionPool(
        conninfo,
        connection_class=DeadlineConnection,
        kwargs={"autocommit": True, "prepare_threshold": 0},
        min_size=1,
        max_size=1,
        open=True,
    )
    store = PostgresStore(pool, ttl=TTL, table=TABLE)
    users = PostgresStore(pool, ttl=TTL, table=TABLE, track_users=True)
    with pool.connection() as conn:
        pass  # the pool's one connection, which every call of both stores uses
    from django.db import connection

    connection.ensure_connection()
    assert connection.connection is not None
    on: dict[str, tuple[psycopg.Connection[Any], dict[str, Contender]]] = {
        "sesh": (conn, sesh_verbs(store, users)),
        "raw": (raw.conn, contenders["raw"]),
        "django": (connection.connection, contenders["django"]),
    }
    found: dict[str, dict[str, float]] = {}
    for name, (traced_conn, verbs) in on.items():
        found[name] = {verb: round_trips(traced_conn, c) for verb, c in verbs.items()}
    pool.close()
    return found


# --- 4-6: the table grows; bytes; purging ----------------------------------------------

# Rows shaped like sesh's: a key "sesh:<44-character base64 id>" and a user id; deadlines
# spread over the second half of the next hour (none expires during the run). One row in
# four is a tracked session: its key carries the "{xy}" tag, it has an absolute deadline
# and its user's index (a user has ~4 sessions).
FILL = """\
INSERT INTO {t} (key, value, expires_at, max_at, user_index)
SELECT convert_to('sesh:' || CASE WHEN tracked THEN '{{' || left(id, 2) || '}}' ELSE '' END || id,
                  'UTF8'),
       convert_to(user_id, 'UTF8'),
       clock_timestamp() + (1800 + random() * 1800) * interval '1 second',
       CASE WHEN tracked THEN clock_timestamp() + interval '12 hours' END,
       CASE WHEN tracked THEN convert_to('sesh:{{' || left(id, 2) || '}}:user:' || user_id,
                                         'UTF8') END
FROM (
    SELECT g %% 4 = 0 AS tracked, (g / 16)::text AS user_id,
           encode(decode(md5(random()::text) || md5(random()::text), 'hex'), 'base64') AS id
    FROM generate_series(1, %s) AS g
) AS rows
"""
# A sample of plain rows: their session ids.
SAMPLE = (
    "SELECT convert_from(substring(key FROM 6), 'UTF8') FROM {t}"
    " WHERE user_index IS NULL ORDER BY random() LIMIT %s"
)


def table_name(size: int) -> str:
    return f"sesh_scale_{size}"


def fill(admin: psycopg.Connection[Any], table: str, count: int) -> float:
    """Fills ``table`` (made by a store) with ``count`` rows; VACUUM ANALYZE; seconds taken."""
    started = time.perf_counter()
    name = sql.Identifier(table)
    admin.execute(sql.SQL(FILL).format(t=name), (count,))
    admin.execute(sql.SQL("VACUUM ANALYZE {}").format(name))
    return time.perf_counter() - started


def bytes_on_disk(admin: psycopg.Connection[Any], table: str) -> dict[str, Any]:
    query = sql.SQL(
        "SELECT count(*), pg_total_relation_size(%(t)s::regclass),"
        " pg_table_size(%(t)s::regclass), pg_indexes_size(%(t)s::regclass),"
        " count(*) FILTER (WHERE user_index IS NOT NULL) FROM {}"
    )
    row = admin.execute(query.format(sql.Identifier(table)), {"t": table}).fetchone()
    assert row is not None
    rows, total, heap, indexes, tracked = row
    each = admin.execute(
        "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index"
        " WHERE indrelid = %s::regclass ORDER BY 1",
        (table,),
    ).fetchall()
    return {
        "rows": rows,
        "tracked": tracked,
        "total": total / rows,
        "heap": heap / rows,
        "indexes": indexes / rows,
        "each": {name: size / rows for name, size in each},
    }


def bench_scale(
    pg: PostgresServer, sizes: list[int], n: int, rounds: int
) -> tuple[dict[str, dict[int, Ratio]], dict[str, Any], dict[int, float]]:
    """Per verb, cost per call in each table, in the same rounds; bytes per row of the
    largest; seconds each fill took."""
    admin = pg.admin()
    stores: dict[int, PostgresStore] = {}
    sampled: dict[int, list[str]] = {}
    filled: dict[int, float] = {}
    for size in sizes:
        store = PostgresStore.from_url(pg.url, ttl=TTL, table=table_name(size))
        store.setup()
        stores[size] = store
        filled[size] = fill(admin, table_name(size), size)
        query = sql.SQL(SAMPLE).format(t=sql.Identifier(table_name(size)))
        sampled[size] = [r[0] for r in admin.execute(query, (2000,))]
        assert store.get(sampled[size][0]) is not None, "the sampled rows are sesh's"
    held = bytes_on_disk(admin, table_name(sizes[-1]))

    def setting(size: int) -> Runner:
        store, table = stores[size], sql.Identifier(table_name(size))

        def run(count: int) -> float:
            made: list[str] = []
            seconds = timed(lambda _: made.append(store.set(1337)), [None] * count)
            keys = [f"{PREFIX}:{i}".encode() for i in made]  # gone again: the size holds
            admin.execute(sql.SQL("DELETE FROM {} WHERE key = ANY(%s)").format(table), (keys,))
            return seconds

        return run

    def reading(size: int, verb: str) -> Runner:
        store = stores[size]
        call = store.get if verb == "get" else store.liv
        return lambda count: timed(call, random.choices(sampled[size], k=count))

    found: dict[str, dict[int, Ratio]] = {}
    for verb in SCALE_VERBS:
        runners = {
            str(size): setting(size) if verb == "set" else reading(size, verb) for size in sizes
        }
        for run in runners.values():
            run(5)
        rates = interleave(runners, n, rounds)
        # The smallest table's rate over each one's: the cost at that size over the cost at
        # the smallest, round by round.
        found[verb] = {size: ratio(rates, str(sizes[0]), str(size)) for size in sizes}
    for store in stores.values():
        store.close()
    admin.close()
    return found, held, filled


def bench_purge(pg: PostgresServer, size: int, rounds: int) -> dict[str, list[float]]:
    """In the ``size`` table: per round, expire PURGE_BATCH rows and time ``purge()``; then a
    plain insert, the purging insert with nothing expired, and (PURGE_BATCH rows expired)
    the purging insert, on raw psycopg with sesh's statements."""
    table = table_name(size)
    name = sql.Identifier(table)
    admin = pg.admin()
    store = PostgresStore.from_url(pg.url, ttl=TTL, table=table)
    store.setup()
    conninfo, _ = parse_url(pg.url)
    raw = Raw(conninfo, statements("public", table))
    query = sql.SQL("SELECT key FROM {} WHERE user_index IS NULL ORDER BY random() LIMIT %s")
    keys = [r[0] for r in admin.execute(query.format(name), (2 * PURGE_BATCH * rounds,))]
    assert len(keys) == 2 * PURGE_BATCH * rounds, "the table is too small to purge from"
    batches = iter([keys[i : i + PURGE_BATCH] for i in range(0, len(keys), PURGE_BATCH)])
    expire = sql.SQL(
        "UPDATE {} SET expires_at = clock_timestamp() - interval '1 second' WHERE key = ANY(%s)"
    ).format(name)

    def insert(statement: str) -> float:
        params = {
            "key": f"{PREFIX}:{new_id()}".encode(),
            "value": b"1337",
            "ttl": Int8(TTL_MS),
            "max": None,
            "index": None,
        }
        started = time.perf_counter()
        raw.conn.execute(statement, params, binary=True)
        return time.perf_counter() - started

    for _ in range(3):  # statements prepared on both connections
        insert(raw.sql.insert)
        insert(raw.sql.insert_purging)
        store.purge()
    found: dict[str, list[float]] = {"purge": [], "plain": [], "empty": [], "purging": []}
    for turn in range(rounds):
        admin.execute(expire, (next(batches),))
        started = time.perf_counter()
        purged = store.purge()
        found["purge"].append(time.perf_counter() - started)
        assert purged == PURGE_BATCH, purged
        pair = [("plain", raw.sql.insert), ("empty", raw.sql.insert_purging)]
        for kind, statement in pair if turn % 2 else pair[::-1]:
            found[kind].append(insert(statement))
        admin.execute(expire, (next(batches),))
        found["purging"].append(insert(raw.sql.insert_purging))
    left = admin.execute(
        sql.SQL("SELECT count(*) FROM {} WHERE expires_at <= clock_timestamp()").format(name)
    ).fetchone()
    assert left == (0,), f"the purging inserts left {left} expired rows"
    raw.close()
    store.close()
    admin.close()
    return found


# --- the report ------------------------------------------------------------------------


def table(head: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def spread(values: list[float], scale: float = 1e3, digits: int = 2) -> str:
    return (
        f"{median(values) * scale:.{digits}f}"
        f" ({min(values) * scale:.{digits}f}-{max(values) * scale:.{digits}f})"
    )


def run(sizes: dict[str, Any]) -> str:
    n, rounds = sizes["n"], sizes["rounds"]
    started = time.monotonic()
    pg = PostgresServer()
    cache = RedisServer()
    try:
        pg.start()
        cache.start()
        assert cache.process is not None
        placed = pin([*pg.processes(), cache.process.pid])
        with pg.admin() as admin:
            server_version = admin.execute("SHOW server_version").fetchone()
        verbs, trips = bench_verbs(pg, cache.url, n, rounds)
        grown, held, filled = bench_scale(pg, sizes["sizes"], n, rounds)
        purged = bench_purge(pg, sizes["sizes"][-1], sizes["purge_rounds"])
    finally:
        cache.close()
        pg.close()
    lines = header("sesh on PostgreSQL")
    lines += [
        f"PostgreSQL {server_version[0] if server_version else '?'} (the testbed's server:"
        " fsync off, shared_buffers 64 MB, on loopback); "
        + versions("psycopg", "psycopg-binary", "psycopg-pool")
        + f" (libpq {pq.version()}, the {pq.__impl__} implementation); {placed}.",
        "",
        f"Each comparison runs its contenders in {rounds} interleaved rounds of {n} calls (who"
        " goes first rotates); figures are the median of the per-round ratios, range in"
        " brackets; ops/s and client CPU (process time per call) are medians, for context."
        " Reproduce: `.venv/bin/python -m benchmarks.postgres`.",
        "",
    ]
    lines += [
        "## PostgresStore against raw psycopg sending the same statement (one connection)",
        "",
        "Raw psycopg: sesh's statement text and parameters, on one autocommit connection"
        " with prepare_threshold=0 and binary parameters and results, one"
        " `Connection.execute` per call (every 64th insert the purging one, as sesh's). 'pooled"
        " raw' makes the same calls each through `with pool.connection()` on a pool made as"
        " sesh makes its own (`make_pool`: its DeadlineConnection, its checks): the pool's"
        " share. sesh itself takes a connection from such a pool, checks its input, plans the"
        " operation, and sends the statement prepared, through libpq (`_postgres_wire`),"
        " rather than through psycopg's cursors. Round trips per call are counted with"
        " libpq's trace.",
        "",
    ]
    lines += table(
        ["verb", "sesh ops/s", "raw ops/s", "sesh / raw", "pooled raw / raw",
         "sesh / pooled raw", "client CPU µs/call: sesh, pooled raw, raw",
         "round trips sesh / raw"],
        [
            [r["verb"], f"{r['raw'].ours:,.0f}", f"{r['raw'].base:,.0f}", r["raw"].cell(),
             r["pool"].cell(), r["pooled"].cell(),
             f"{r['cpu']['sesh']:.0f}, {r['cpu']['pooled']:.0f}, {r['cpu']['raw']:.0f}",
             f"{trips['sesh'][r['verb']]:g} / {trips['raw'][r['verb']]:g}"]
            for r in verbs
        ],
    )  # fmt: skip
    cpu = {k: [r["cpu"][k] for r in verbs] for k in ("raw", "pooled", "sesh")}
    pool_cpu = [p - q for p, q in zip(cpu["pooled"], cpu["raw"], strict=True)]
    own_cpu = [p - q for p, q in zip(cpu["sesh"], cpu["pooled"], strict=True)]
    share = [r["cpu"]["raw"] * r["raw"].base / 1e6 for r in verbs]
    lines += [
        f"Client CPU per call over the eight verbs: raw psycopg {min(cpu['raw']):.0f}"
        f"-{max(cpu['raw']):.0f} µs; the pool adds {min(pool_cpu):.0f}-{max(pool_cpu):.0f} µs"
        f" (median {median(pool_cpu):.0f}); sesh against pooled raw {min(own_cpu):+.0f}"
        f" to {max(own_cpu):+.0f} µs (median {median(own_cpu):+.0f}): its path through libpq"
        " costs less than psycopg's cursors, by about what the pool, the input checks and the"
        f" plan cost. Raw psycopg's client CPU is {median(share):.0%} of its wall time per"
        " call (median over the verbs): on loopback the client is much of the cost, so what"
        " sesh adds to it, or saves, shows in the ratio.",
        "",
    ]
    lines += [
        "## PostgresStore against Django's database sessions (same server)",
        "",
        "`django.contrib.sessions.backends.db` with `ENGINE"
        " django.db.backends.postgresql` (psycopg 3), one persistent connection (outside a"
        " request Django keeps it; with its default CONN_MAX_AGE = 0 a request would open"
        " its own). What Django does for each verb:",
        "",
    ]
    lines += [f"- {verb}: {what}" for verb, what in DJANGO.items()] + [""]
    lines += table(
        ["verb", "sesh ops/s", "Django ops/s", "sesh / Django", "sesh CPU µs/call",
         "Django CPU µs/call", "round trips sesh / Django"],
        [
            [r["verb"], f"{r['django'].ours:,.0f}", f"{r['django'].base:,.0f}",
             r["django"].cell(), f"{r['cpu']['sesh']:.0f}", f"{r['cpu']['django']:.0f}",
             f"{trips['sesh'][r['verb']]:g} / {trips['django'][r['verb']]:g}"]
            for r in verbs
            if "django" in r
        ],
    )  # fmt: skip
    lines += [
        "## PostgresStore against RedisStore (for choosing a backend)",
        "",
        "The same verbs on sesh's RedisStore (redis-py with hiredis, one connection) on the"
        " redis-server beside the PostgreSQL, in the same rounds. Below 1, Redis is faster.",
        "",
    ]
    lines += table(
        ["verb", "PostgreSQL ops/s", "Redis ops/s", "PostgreSQL / Redis",
         "PostgreSQL CPU µs/call", "Redis CPU µs/call"],
        [
            [r["verb"], f"{r['redis'].ours:,.0f}", f"{r['redis'].base:,.0f}", r["redis"].cell(),
             f"{r['cpu']['sesh']:.0f}", f"{r['cpu']['redis']:.0f}"]
            for r in verbs
        ],
    )  # fmt: skip
    first = sizes["sizes"][0]
    lines += [
        f"## Cost per call as the table grows ({first:,} to {sizes['sizes'][-1]:,} rows)",
        "",
        "A table per size, filled with `INSERT ... SELECT generate_series` with rows shaped"
        " like sesh's (a 49-byte key, deadlines spread over the second half of the next hour;"
        " one row in four a"
        " tracked session with its user's index and an absolute deadline), then VACUUM"
        " ANALYZE; the sizes side by side in the same rounds. get and liv hit random rows of"
        f" the table; set's new rows are deleted after each run. Each cell: µs per call"
        f" (median), and its cost over the {first:,}-row table's (median of per-round"
        " ratios, range). Filling took "
        + ", ".join(f"{s:,} rows {t:.1f} s" for s, t in filled.items())
        + ".",
        "",
    ]
    lines += table(
        ["verb", *(f"{s:,} rows" for s in sizes["sizes"])],
        [
            [verb]
            + [
                f"{1e6 / r.base:.0f} µs" if size == first else f"{1e6 / r.base:.0f} µs, {r.cell()}"
                for size, r in grown[verb].items()
            ]
            for verb in SCALE_VERBS
        ],
    )
    lines += [
        f"## Bytes per session on disk ({held['rows']:,} rows, {held['tracked']:,} of them"
        " tracked)",
        "",
        "Right after the fill and VACUUM ANALYZE: the table (heap, with its free space and"
        " visibility maps) and each index, over the rows.",
        "",
    ]
    lines += table(
        ["total", "table", "all indexes", *held["each"]],
        [
            [f"{held['total']:.0f}", f"{held['heap']:.0f}", f"{held['indexes']:.0f}",
             *(f"{v:.0f}" for v in held["each"].values())]
        ],
    )  # fmt: skip
    per_round = [p / q for p, q in zip(purged["purging"], purged["plain"], strict=True)]
    idle = [p / q for p, q in zip(purged["empty"], purged["plain"], strict=True)]
    extra = [(p - q) / PURGE_EVERY for p, q in zip(purged["purging"], purged["plain"], strict=True)]
    idle_extra = [
        (p - q) / PURGE_EVERY for p, q in zip(purged["empty"], purged["plain"], strict=True)
    ]
    lines += [
        f"## Purging expired rows in the {sizes['sizes'][-1]:,}-row table",
        "",
        f"{len(purged['purge'])} rounds. Each: {PURGE_BATCH} random rows expired (an UPDATE),"
        f" then `store.purge()` timed (it deleted all {PURGE_BATCH}); then, on raw psycopg"
        " with sesh's statements, a plain insert and the purging insert with nothing expired"
        " (order alternating; right after the purge, whose deleted rows' entries stay in the"
        f" deadline index until VACUUM), and the purging insert with {PURGE_BATCH} rows"
        f" expired. One insert in {PURGE_EVERY} is a purging one. Milliseconds: median"
        " (range), single calls.",
        "",
    ]
    lines += table(
        ["what", "ms, median (range)"],
        [
            [f"`purge()`, {PURGE_BATCH} expired rows", spread(purged["purge"])],
            ["plain insert", spread(purged["plain"])],
            ["purging insert, nothing expired", spread(purged["empty"])],
            [f"purging insert, {PURGE_BATCH} rows expired", spread(purged["purging"])],
        ],
    )
    lines += [
        f"The purging insert with {PURGE_BATCH} rows to delete costs {median(per_round):.1f}"
        f" times a plain one ({min(per_round):.1f}-{max(per_round):.1f}); with nothing to"
        f" delete, {median(idle):.2f} times ({min(idle):.2f}-{max(idle):.2f}). Spread over the"
        f" {PURGE_EVERY} inserts it serves, a full purge adds {median(extra) * 1e6:.0f} µs"
        f" ({min(extra) * 1e6:.0f}-{max(extra) * 1e6:.0f}) to each, an empty one"
        f" {median(idle_extra) * 1e6:.1f} µs ({min(idle_extra) * 1e6:.1f}"
        f"-{max(idle_extra) * 1e6:.1f}).",
        "",
        f"The whole run took {time.monotonic() - started:.0f} s.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check, not measure")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    text = run(QUICK if args.quick else FULL)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "postgres.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
