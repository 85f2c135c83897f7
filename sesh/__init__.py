"""sesh: login sessions for Python web backends, with redis-sesh semantics.

``set(user_id)`` makes a session and returns its id, ``get(id)`` says whose it is,
``liv(id)`` refreshes its expiry and ``die(id)`` ends it, on memory, SQLite or Redis, sync
or async; ``rotate``, ``sessions``/``die_all`` (``track_users``), ``max_age`` and
``hash_ids`` go beyond redis-sesh.
"""

from sesh._core import Options
from sesh._validate import Ttl
from sesh.errors import BackendError, NotEnabledError, SeshError
from sesh.protocols import AsyncSeshStore, AsyncSessionStore, SeshStore, SessionStore
from sesh.urls import async_from_url, from_url

__all__ = [
    "AsyncSeshStore",
    "AsyncSessionStore",
    "BackendError",
    "NotEnabledError",
    "Options",
    "SeshError",
    "SeshStore",
    "SessionStore",
    "Ttl",
    "async_from_url",
    "from_url",
]

__version__ = "0.1.0"
