"""sesh: login sessions for Python web backends, with redis-sesh semantics.

``set(user_id)`` makes a session and returns its id, ``get(id)`` says whose it is,
``liv(id)`` refreshes its expiry and ``die(id)`` ends it, on memory or Redis, sync or async.
"""

from sesh._core import Ttl
from sesh.errors import BackendError, SeshError
from sesh.protocols import AsyncSessionStore, SessionStore
from sesh.urls import async_from_url, from_url

__all__ = [
    "AsyncSessionStore",
    "BackendError",
    "SeshError",
    "SessionStore",
    "Ttl",
    "async_from_url",
    "from_url",
]

__version__ = "0.1.0"
