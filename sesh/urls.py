"""Stores from URLs: the scheme picks the backend, whose module is imported on first use."""

from __future__ import annotations

import importlib
from typing import Any

from sesh._validate import Ttl
from sesh.protocols import AsyncSeshStore, SeshStore

__all__ = ["SCHEMES", "async_from_url", "from_url"]

# scheme -> (module, sync class, async class). A new backend is one line here.
SCHEMES: dict[str, tuple[str, str, str]] = {
    "memory": ("sesh.backends.memory", "MemoryStore", "AsyncMemoryStore"),
    "redis": ("sesh.backends.redis", "RedisStore", "AsyncRedisStore"),
    "rediss": ("sesh.backends.redis", "RedisStore", "AsyncRedisStore"),
    "unix": ("sesh.backends.redis", "RedisStore", "AsyncRedisStore"),
    "redis+cluster": ("sesh.backends.redis", "RedisStore", "AsyncRedisStore"),
    "rediss+cluster": ("sesh.backends.redis", "RedisStore", "AsyncRedisStore"),
    "redis+sentinel": ("sesh.backends.redis", "RedisStore", "AsyncRedisStore"),
    "rediss+sentinel": ("sesh.backends.redis", "RedisStore", "AsyncRedisStore"),
    "sqlite": ("sesh.backends.sqlite", "SqliteStore", "AsyncSqliteStore"),
    "postgresql": ("sesh.backends.postgres", "PostgresStore", "AsyncPostgresStore"),
    "postgres": ("sesh.backends.postgres", "PostgresStore", "AsyncPostgresStore"),
}


def _store_class(url: object, which: int) -> Any:
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, not {type(url).__name__}")
    scheme, sep, _ = url.partition("://")
    entry = SCHEMES.get(scheme.lower()) if sep else None
    if entry is None:
        # Name the scheme only: the rest of a URL may hold a password.
        known = ", ".join(f"{s}://" for s in SCHEMES)
        shown = f"{scheme!r}" if sep and len(scheme) <= 20 else "none"
        raise ValueError(f"unsupported store URL scheme {shown}; sesh knows {known}")
    return getattr(importlib.import_module(entry[0]), entry[which])


def from_url(url: str, *, prefix: str = "sesh", ttl: Ttl = None, **options: Any) -> SeshStore:
    """Makes a store from a URL: ``memory://``, ``sqlite:///file.db`` (``sqlite://`` for
    an in-memory database), a redis-py URL (``redis://``, ``rediss://``, ``unix://``), or
    a libpq URL (``postgresql://``, ``postgres://``; needs ``sesh[postgres]``).

    ``options`` go to the backend's ``from_url``: ``track_users=``, ``max_age=`` and
    ``hash_ids=`` for every backend, ``retry_for=`` for Redis, ``busy_timeout=`` and
    ``file_mode=`` for SQLite, ``table=``, ``schema=``, ``call_timeout=``, ``pool_size=``,
    ``create_table=`` and ``unlogged=`` for PostgreSQL.

    Raises:
        TypeError: ``url``, ``prefix`` or ``ttl`` has the wrong type, or an option is unknown.
        ValueError: an unknown scheme, a malformed URL (a database that is not a number, a
            query option the backend does not take, a bad value in one), or a bad prefix
            or ttl. Nothing that would only fail at the first call is let through.
        SeshError: a ``sqlite://`` file that is not a sesh database (``BackendError`` if
            it cannot be opened, or a Cluster that cannot be reached).
    """
    store: SeshStore = _store_class(url, 1).from_url(url, prefix=prefix, ttl=ttl, **options)
    return store


def async_from_url(
    url: str, *, prefix: str = "sesh", ttl: Ttl = None, **options: Any
) -> AsyncSeshStore:
    """Makes an asyncio store from a URL; the schemes and options are those of ``from_url``."""
    store: AsyncSeshStore = _store_class(url, 2).from_url(url, prefix=prefix, ttl=ttl, **options)
    return store
