"""The sync and async drivers: the public verbs, run on any backend's single-step I/O.

A backend subclasses ``SyncStore`` or ``AsyncStore`` and writes only ``execute`` (carry
out one operation of ``sesh._ops`` atomically and return its result) and, if it holds
resources, ``close``/``aclose``. The two drivers differ only in ``await``. Backends import
these from ``sesh.backends.base``, their public home.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, TypeVar

from typing_extensions import Self, Unpack

from sesh._core import Flow, Options, SessionCore
from sesh._ops import Op
from sesh._validate import Ttl

__all__ = ["AsyncStore", "BaseStore", "SyncStore"]

T = TypeVar("T")


class BaseStore:
    """What every store has, sync or async: its validated settings and a safe repr."""

    __slots__ = ("_core",)

    def __init__(self, prefix: str, ttl: Ttl, **options: Unpack[Options]) -> None:
        self._core = SessionCore(prefix, ttl, **options)

    @property
    def prefix(self) -> str:
        """The key prefix: sessions live at ``<prefix>:<session id>``."""
        return self._core.prefix

    @property
    def ttl(self) -> float | None:
        """Session lifetime in seconds, or None when sessions never expire."""
        return self._core.ttl

    @property
    def atomic_rotate(self) -> bool:
        """Whether the backend moves a session to another key in one step (``Rotate``);
        a backend that cannot (keys on different servers) says False, and gets ``Take``
        then ``Insert`` instead."""
        return True

    @property
    def track_users(self) -> bool:
        """Whether the store keeps an index of each user's sessions (``sessions``, ``die_all``)."""
        return self._core.track_users

    @property
    def max_age(self) -> float | None:
        """Absolute session lifetime in seconds, which ``liv`` and touch never pass; or None."""
        return self._core.max_age

    @property
    def hash_ids(self) -> bool:
        """Whether the backend holds SHA-256 digests of session ids instead of the ids."""
        return self._core.hash_ids

    def handle(self, session_id: str) -> str | None:
        """The session's handle: an opaque name for it that is not its id (the same for
        the same id), for pages and APIs that list a user's devices; None if the id is
        malformed. With ``hash_ids`` and ``track_users`` it is what ``sessions`` lists
        and what ``die`` takes. No backend call.

        Raises:
            TypeError: ``session_id`` is not a str.
        """
        return self._core.handle_of(session_id)

    def __repr__(self) -> str:
        # Settings only: a repr must never show a session id or a credential.
        shown = f"prefix={self.prefix!r}, ttl={self.ttl!r}"
        for name, default in (("track_users", False), ("max_age", None), ("hash_ids", False)):
            value = getattr(self, name)
            if value != default:
                shown += f", {name}={value!r}"
        return f"{type(self).__name__}({shown})"


class SyncStore(BaseStore):
    """Base of the synchronous stores; implements ``SessionStore``."""

    __slots__ = ()

    def set(self, user_id: str | int) -> str:
        """Creates a session for ``user_id`` and returns its new random id.

        Raises:
            TypeError: ``user_id`` is not a str or an int.
            ValueError: ``user_id`` is empty, not UTF-8 text, or too long.
            BackendError: the backend failed.
            SeshError: no fresh id could be written after a few draws.
        """
        session_id, op = self._core.set_op(user_id)
        if self.execute(op):
            return session_id
        return self._drive(self._core.set_again(op))

    def get(self, session_id: str, *, touch: bool = False) -> str | None:
        """Returns the user id of a live session, or None.

        With ``touch=True`` the session's expiry is also reset to the full ttl, in the
        same step. A malformed ``session_id`` is no session and costs no backend call.
        """
        op = self._core.get_op(session_id, touch)
        return None if op is None else self.execute(op)

    def liv(self, session_id: str) -> bool:
        """Resets a session's expiry to the full ttl; True if the session exists."""
        op = self._core.liv_op(session_id)
        return op is not None and self.execute(op)

    def die(self, session_id: str) -> bool:
        """Ends a session; True if one was removed. Idempotent."""
        op = self._core.die_op(session_id)
        return op is not None and self.execute(op)

    def rotate(self, session_id: str) -> str | None:
        """Gives the session a fresh id with a full ttl and ends the old id, atomically;
        returns the new id, or None if there was no such session.

        The session keeps its user and its absolute deadline (``max_age``). Call it on
        login and on every change of privilege, against session fixation. (On a Redis
        Cluster in the default layout it is two steps, never leaving both ids valid: see
        docs/options.md.)
        """
        return self._drive(self._core.rotate_flow(session_id, self.atomic_rotate))

    def sessions(self, user_id: str | int) -> list[str]:
        """The live sessions of a user, in no particular order (needs ``track_users``).

        Each can be passed to ``die``. With ``hash_ids`` they are not session ids (the
        store does not know those) but handles that only ``die`` accepts.

        Raises:
            NotEnabledError: the store was made without ``track_users=True``.
        """
        return self._core.sessions_of(self.execute(self._core.list_user_op(user_id)))

    def die_all(self, user_id: str | int) -> int:
        """Ends every session of a user ("log out everywhere"); returns how many ended.

        Raises:
            NotEnabledError: the store was made without ``track_users=True``.
        """
        return self.execute(self._core.delete_user_op(user_id))  # type: ignore[no-any-return]

    def close(self) -> None:
        """Releases what the store owns (a client it made in ``from_url``)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _drive(self, flow: Flow[T]) -> T:
        execute = self.execute
        try:
            op = next(flow)
            while True:
                op = flow.send(execute(op))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def execute(self, op: Op) -> Any:
        """Carries out one operation atomically and returns its result (see each operation
        in ``sesh.backends.base``). The hook a backend implements, which the verbs call:
        apps call the verbs, never this (it skips every input rule)."""
        raise NotImplementedError(f"{type(self).__name__} must implement execute(op)")


class AsyncStore(BaseStore):
    """Base of the asyncio stores; implements ``AsyncSessionStore``."""

    __slots__ = ()

    async def set(self, user_id: str | int) -> str:
        """Creates a session for ``user_id`` and returns its new random id (see SyncStore)."""
        session_id, op = self._core.set_op(user_id)
        if await self.execute(op):
            return session_id
        return await self._drive(self._core.set_again(op))

    async def get(self, session_id: str, *, touch: bool = False) -> str | None:
        """Returns the user id of a live session, or None (see SyncStore.get)."""
        op = self._core.get_op(session_id, touch)
        return None if op is None else await self.execute(op)

    async def liv(self, session_id: str) -> bool:
        """Resets a session's expiry to the full ttl; True if the session exists."""
        op = self._core.liv_op(session_id)
        return op is not None and await self.execute(op)

    async def die(self, session_id: str) -> bool:
        """Ends a session; True if one was removed. Idempotent."""
        op = self._core.die_op(session_id)
        return op is not None and await self.execute(op)

    async def rotate(self, session_id: str) -> str | None:
        """Gives the session a fresh id and ends the old one, atomically (see SyncStore)."""
        return await self._drive(self._core.rotate_flow(session_id, self.atomic_rotate))

    async def sessions(self, user_id: str | int) -> list[str]:
        """The live sessions of a user (needs ``track_users``; see SyncStore.sessions)."""
        return self._core.sessions_of(await self.execute(self._core.list_user_op(user_id)))

    async def die_all(self, user_id: str | int) -> int:
        """Ends every session of a user; returns how many (needs ``track_users``)."""
        return await self.execute(self._core.delete_user_op(user_id))  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        """Releases what the store owns (a client it made in ``async_from_url``)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _drive(self, flow: Flow[T]) -> T:
        execute = self.execute
        try:
            op = next(flow)
            while True:
                op = flow.send(await execute(op))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def execute(self, op: Op) -> Any:
        """Carries out one operation atomically and returns its result (see SyncStore)."""
        raise NotImplementedError(f"{type(self).__name__} must implement execute(op)")
