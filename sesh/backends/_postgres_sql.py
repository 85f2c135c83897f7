"""The PostgreSQL store's SQL: the table, its version stamp, and one statement per operation.

The table (default ``sesh_sessions``)::

    key         bytea PRIMARY KEY     -- "<prefix>:<session id or its digest>", UTF-8
    value       bytea NOT NULL        -- the user id, UTF-8
    expires_at  timestamptz           -- the sliding deadline; NULL: never
    max_at      timestamptz           -- the absolute deadline (max_age); NULL: none
    user_index  bytea                 -- with track_users: the user's index key (the core's)

Text goes in as ``bytea`` (UTF-8) because PostgreSQL's ``text`` cannot hold NUL, which a
user id may contain, and because ``bytea`` compares byte for byte whatever the database's
collation. The prefix is part of the key, so stores with different prefixes share a table
without seeing each other's rows.

Deadlines are the database server's clock (``clock_timestamp()``) plus a ttl in
milliseconds, so app servers with skewed clocks agree. Every statement checks the deadline,
so an expired row is never returned, whenever it is removed: every ``PURGE_EVERY``-th
insert also deletes up to ``PURGE_BATCH`` expired rows, oldest first, through a partial
index on ``expires_at`` (in the same statement: no extra round trip). Rows being purged by
another statement are skipped, not waited for. A second partial index, on ``user_index``,
makes the user's index the table itself: nothing to keep up.

The table's comment stamps its version (``STAMP``); a table without it belongs to someone
else, and one with a higher version to a newer sesh: both are refused.
"""

from __future__ import annotations

import hashlib
import re
from typing import NamedTuple

from psycopg import sql

__all__ = [
    "MIGRATIONS",
    "PURGE_BATCH",
    "PURGE_EVERY",
    "SCHEMA_VERSION",
    "Statements",
    "check_name",
    "lock_id",
    "schema_sql",
    "stamp",
    "statements",
    "version_of",
]

SCHEMA_VERSION = 1
"""The version of the table this sesh writes (the table's comment says which it has)."""

MIGRATIONS: dict[int, list[str]] = {}
"""Statements that take a table from version N to N + 1 ("{table}" is replaced by its
qualified name). Version 1 is the first: none yet."""

PURGE_EVERY = 64
"""Every this many inserts of a store also remove expired rows."""
PURGE_BATCH = 256
"""Expired rows removed at most by one insert that purges: 4 per insert on average, far
above the rate sessions can expire (each expires once, after being inserted once)."""

_STAMP = "sesh sessions table, schema version {}"
_STAMP_RE = re.compile(r"sesh sessions table, schema version ([0-9]{1,6})")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,47}")


def check_name(value: object, what: str) -> str:
    """A table or schema name: letters, digits and underscores, 48 at most, not starting
    with a digit (quoted in every statement, so case is kept)."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if not _NAME.fullmatch(value):
        raise ValueError(
            f"{what} must be 1-48 letters, digits or underscores, not starting with a digit"
        )
    return value


def stamp(version: int | None = None) -> str:
    """The comment a sesh table of ``version`` (default: this sesh's) carries."""
    return _STAMP.format(SCHEMA_VERSION if version is None else version)


def version_of(comment: str | None) -> int | None:
    """The sesh schema version a table's comment names; None if it is not sesh's."""
    found = _STAMP_RE.fullmatch(comment or "")
    return int(found.group(1)) if found else None


def lock_id(schema: str, table: str) -> int:
    """The advisory lock key that serialises creating or migrating one table."""
    digest = hashlib.sha256(f"sesh:{schema}.{table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _render(template: str, schema: str | None, table: str) -> str:
    name = sql.Identifier(table) if schema is None else sql.Identifier(schema, table)
    return (
        sql.SQL(template)
        .format(
            t=name,
            expires_index=sql.Identifier(f"{table}_expires_at"),
            user_index=sql.Identifier(f"{table}_user_index"),
            stamp=sql.Literal(stamp()),
        )
        .as_string(None)
    )


# No IF NOT EXISTS: run over a table of the same name, the DDL fails as a whole (in its
# transaction) rather than stamping someone else's table as sesh's.
_DDL = """\
CREATE {unlogged}TABLE {{t}} (
    key bytea PRIMARY KEY,
    value bytea NOT NULL,
    expires_at timestamptz,
    max_at timestamptz,
    user_index bytea
);
CREATE INDEX {{expires_index}} ON {{t}} (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX {{user_index}} ON {{t}} (user_index) WHERE user_index IS NOT NULL;
COMMENT ON TABLE {{t}} IS {{stamp}};
"""


def create_sql(table: str, schema: str | None, *, unlogged: bool) -> str:
    """The statements that make the table, for a caller already in a transaction."""
    template = _DDL.format(unlogged="UNLOGGED " if unlogged else "")
    return _render(template, schema, table)


def schema_sql(
    table: str = "sesh_sessions", schema: str | None = None, *, unlogged: bool = False
) -> str:
    """The DDL of a sessions table, for apps that manage their schema themselves (run it
    as the table's owner; the app's role then needs only SELECT, INSERT, UPDATE, DELETE).

    One transaction: the table, its two indexes and the comment that stamps its version.
    It fails, changing nothing, if a table of that name exists. ``schema`` None leaves the
    names unqualified (the first schema of the search_path); ``unlogged`` makes an
    ``UNLOGGED`` table (faster writes; emptied by a crash).
    """
    check_name(table, "table")
    if schema is not None:
        check_name(schema, "schema")
    return "BEGIN;\n" + create_sql(table, schema, unlogged=unlogged) + "COMMIT;\n"


# A row is live until its deadline; a NULL deadline never comes.
_LIVE = "(expires_at IS NULL OR expires_at > clock_timestamp())"
_AFTER = "clock_timestamp() + %({})b::bigint * interval '1 millisecond'"
_TTL = _AFTER.format("ttl")
_MAX = _AFTER.format("max")
# Write the new row; on an existing key, take it over only if that row has expired.
_INSERT = (
    "INSERT INTO {t} AS t (key, value, expires_at, max_at, user_index)"
    f" VALUES (%(key)b, %(value)b, LEAST({_TTL}, {_MAX}), {_MAX}, %(index)b)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at,"
    " max_at = excluded.max_at, user_index = excluded.user_index"
    " WHERE t.expires_at <= clock_timestamp()"
)
# The oldest expired rows, through the deadline index: the subquery is evaluated once, so
# the comparison is an index condition (clock_timestamp() itself is volatile). Rows another
# statement is purging are skipped.
_EXPIRED = (
    "SELECT key FROM {{t}} WHERE expires_at <= (SELECT clock_timestamp()){also}"
    " ORDER BY expires_at LIMIT {batch} FOR UPDATE SKIP LOCKED"
)
# ARRAY(...) is computed once, before the delete, which then finds each row by its key:
# with "key IN (...)" the planner may hash-join the subquery against a scan of the table.
_PURGE = "DELETE FROM {{t}} WHERE key = ANY(ARRAY(" + _EXPIRED + "))"
_TEMPLATES = {
    "insert": _INSERT,
    "insert purging": "WITH purged AS ("
    + _PURGE.format(also=" AND key <> %(key)b", batch=PURGE_BATCH)
    + " RETURNING 1) "
    + _INSERT,
    "purge": _PURGE.format(also="", batch="%(batch)b::int"),
    "get": f"SELECT value FROM {{t}} WHERE key = %(key)b AND {_LIVE}",
    "touch": f"UPDATE {{t}} SET expires_at = LEAST({_TTL}, max_at)"
    f" WHERE key = %(key)b AND {_LIVE} RETURNING value",
    "exists": f"SELECT 1 FROM {{t}} WHERE key = %(key)b AND {_LIVE}",
    "refresh": f"UPDATE {{t}} SET expires_at = LEAST({_TTL}, max_at)"
    f" WHERE key = %(key)b AND {_LIVE}",
    "delete": f"DELETE FROM {{t}} WHERE key = %(key)b RETURNING {_LIVE}",
    # One statement: the row itself takes the new key (an UPDATE), once any expired row
    # there is cleared, unless a live one holds it. Being the same row is what keeps a
    # concurrent die_all right: its DELETE, waiting on the row lock, follows the row to its
    # new key (PostgreSQL re-checks an updated row), where an INSERT + DELETE would leave it
    # a new row it never saw. Result: (was the old row live, did it move).
    "rotate": "WITH old AS ("
    f"SELECT 1 FROM {{t}} WHERE key = %(key)b AND {_LIVE}"
    "), taken AS ("
    f"SELECT 1 FROM {{t}} WHERE key = %(new)b AND {_LIVE}"
    "), cleared AS ("
    "DELETE FROM {t} WHERE key = %(new)b AND expires_at <= clock_timestamp() RETURNING 1"
    "), moved AS ("
    f"UPDATE {{t}} SET key = %(new)b, expires_at = LEAST({_TTL}, max_at)"
    f" WHERE key = %(key)b AND {_LIVE} AND NOT EXISTS (SELECT 1 FROM taken) RETURNING 1"
    ") SELECT EXISTS (SELECT 1 FROM old), EXISTS (SELECT 1 FROM moved)",
    "list": f"SELECT key FROM {{t}} WHERE user_index = %(index)b AND {_LIVE}",
    "delete user": f"DELETE FROM {{t}} WHERE user_index = %(index)b RETURNING {_LIVE}",
}


class Statements(NamedTuple):
    """Every statement, rendered for one table."""

    insert: str
    insert_purging: str
    purge: str
    get: str
    touch: str
    exists: str
    refresh: str
    delete: str
    rotate: str
    list: str
    delete_user: str


def statements(schema: str, table: str) -> Statements:
    """The statements for ``schema.table`` (both quoted: no search_path surprises), with
    psycopg's placeholders (``%(key)b``): what raw psycopg would run, and what
    ``prepared`` turns into the store's own."""
    return Statements(*(_render(template, schema, table) for template in _TEMPLATES.values()))


_BYTEA, _INT8, _INT4 = 17, 20, 23
# Each parameter's type, by name: declared when preparing, so NULLs need no guessing.
_PARAM_TYPES = {
    "key": _BYTEA,
    "new": _BYTEA,
    "value": _BYTEA,
    "index": _BYTEA,
    "ttl": _INT8,
    "max": _INT8,
    "batch": _INT4,
}
_PLACEHOLDER = re.compile(r"%\((\w+)\)b")


class Prepared(NamedTuple):
    """A statement as the store prepares it on each connection: a name of its own (its
    text's digest, so tables and versions never collide), the text with ``$n``
    parameters, and the parameters' names and types in that order."""

    name: bytes
    text: bytes
    params: tuple[str, ...]
    types: tuple[int, ...]


def prepared(query: str) -> Prepared:
    """``query`` (psycopg placeholders) as a ``Prepared`` statement."""
    names: list[str] = []

    def number(found: re.Match[str]) -> str:
        if found.group(1) not in names:
            names.append(found.group(1))
        return f"${names.index(found.group(1)) + 1}"

    text = _PLACEHOLDER.sub(number, query)
    name = "sesh_" + hashlib.sha256(text.encode()).hexdigest()[:16]
    types = tuple(_PARAM_TYPES[n] for n in names)
    return Prepared(name.encode(), text.encode(), tuple(names), types)


# What a store asks of the catalog before its first call: the table's kind, persistence
# and comment (the stamp). Readable by any role.
FIND_TABLE = (
    "SELECT c.relkind::text, c.relpersistence::text, obj_description(c.oid, 'pg_class')"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = %s AND c.relname = %s"
)
CURRENT_SCHEMA = "SELECT current_schema()"
LOCK = "SELECT pg_advisory_xact_lock(%s)"
# DDL may wait on locks: the server's statement_timeout (set on a store's connections to
# match its call deadline) must not cut it short.
SETUP_SETTINGS = "SET LOCAL statement_timeout = 0"


def migration_sql(version: int, schema: str, table: str) -> list[str]:
    """What takes ``schema.table`` from ``version`` to ``SCHEMA_VERSION``, its new stamp last."""
    qualified = _render("{t}", schema, table)
    steps = [
        step.replace("{table}", qualified)
        for from_version in range(version, SCHEMA_VERSION)
        for step in MIGRATIONS[from_version]
    ]
    return [*steps, _render("COMMENT ON TABLE {t} IS {stamp}", schema, table)]
