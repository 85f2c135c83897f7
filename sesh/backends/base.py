"""The public way to write a backend: carry out one operation, atomically.

A store is a driver that knows every rule of the semantics (ids, validation, key layouts,
the options, collision retry, rotation) and a backend that only stores. Subclass
``SyncStore`` (or ``AsyncStore``) and implement ``execute(op)``: it receives one operation
and returns its result, and everything else comes with the base, the same for every
backend. A minimal backend on a dict::

    from typing import Any

    from typing_extensions import assert_never  # typing.assert_never on 3.11+

    from sesh.backends.base import (
        Delete, DeleteUser, Fetch, Insert, ListUser, Op, Refresh, Rotate, SyncStore, Take,
    )

    class DictStore(SyncStore):
        def __init__(self, prefix="sesh", ttl=None, **options):
            super().__init__(prefix, ttl, **options)
            self.rows = {}

        def execute(self, op: Op) -> Any:
            match op:
                case Fetch(): ...
                case Insert(): ...
                # ... one case per operation; mypy --strict flags a missing one:
                case _:
                    assert_never(op)

What each operation must do, and return, is in its docstring. Deadlines are the backend's
to keep, by its own clock, with ``deadline``, ``capped`` and ``is_expired``; an expired
session must never be returned, whenever the backend gets round to removing it. Prove the
result with the conformance kit (``sesh.testing``). ``sesh.backends.memory``,
``sesh.backends.sqlite`` and ``sesh.backends.redis`` are built this way, and so is
``examples/custom_backend.py``, which the kit checks in sesh's own tests.

A driver's exception becomes a ``BackendError`` through ``backend_error(what, exc,
secrets)``, which drops what the driver quoted of the command (a key holds a session id);
raise it outside the ``except`` block, or Python chains the raw exception again.

A store that implements the whole protocol itself instead (no base) finds the input rules
here too: ``check_user_id``, ``is_session_id``, ``ttl_to_ms``, ``check_prefix``,
``check_flag``.
"""

from __future__ import annotations

from sesh._core import Options
from sesh._ops import (
    Delete,
    DeleteUser,
    Fetch,
    Insert,
    ListUser,
    Op,
    Refresh,
    Rotate,
    Take,
    capped,
    deadline,
    is_expired,
)
from sesh._redact import backend_error
from sesh._store import AsyncStore, BaseStore, SyncStore
from sesh._validate import Ttl, check_flag, check_prefix, check_user_id, is_session_id, ttl_to_ms

__all__ = [
    "AsyncStore",
    "BaseStore",
    "Delete",
    "DeleteUser",
    "Fetch",
    "Insert",
    "ListUser",
    "Op",
    "Options",
    "Refresh",
    "Rotate",
    "SyncStore",
    "Take",
    "Ttl",
    "backend_error",
    "capped",
    "check_flag",
    "check_prefix",
    "check_user_id",
    "deadline",
    "is_expired",
    "is_session_id",
    "ttl_to_ms",
]
