"""The sync and async drivers: the public verbs, run on any backend's single-step I/O.

A backend subclasses ``SyncStore`` or ``AsyncStore`` and writes only ``_execute`` (carry
out one ``sesh._core`` operation and return its result) and, if it holds resources,
``close``/``aclose``. The two drivers differ only in ``await``.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, TypeVar

from typing_extensions import Self

from sesh._core import Flow, Op, SessionCore, Ttl

__all__ = ["AsyncStore", "BaseStore", "SyncStore"]

T = TypeVar("T")


class BaseStore:
    """What every store has, sync or async: its validated settings and a safe repr."""

    __slots__ = ("_core",)

    def __init__(self, prefix: str, ttl: Ttl) -> None:
        self._core = SessionCore(prefix, ttl)

    @property
    def prefix(self) -> str:
        """The key prefix: sessions live at ``<prefix>:<session id>``."""
        return self._core.prefix

    @property
    def ttl(self) -> float | None:
        """Session lifetime in seconds, or None when sessions never expire."""
        return self._core.ttl

    def __repr__(self) -> str:
        # Settings only: a repr must never show a session id or a credential.
        return f"{type(self).__name__}(prefix={self.prefix!r}, ttl={self.ttl!r})"


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
        return self._drive(self._core.set_flow(user_id))

    def get(self, session_id: str, *, touch: bool = False) -> str | None:
        """Returns the user id of a live session, or None.

        With ``touch=True`` the session's expiry is also reset to the full ttl, in the
        same step. A malformed ``session_id`` is no session and costs no backend call.
        """
        op = self._core.get_op(session_id, touch)
        return None if op is None else self._execute(op)

    def liv(self, session_id: str) -> bool:
        """Resets a session's expiry to the full ttl; True if the session exists."""
        op = self._core.liv_op(session_id)
        return op is not None and self._execute(op)

    def die(self, session_id: str) -> bool:
        """Ends a session; True if one was removed. Idempotent."""
        op = self._core.die_op(session_id)
        return op is not None and self._execute(op)

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
        execute = self._execute
        try:
            op = next(flow)
            while True:
                op = flow.send(execute(op))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def _execute(self, op: Op) -> Any:
        raise NotImplementedError


class AsyncStore(BaseStore):
    """Base of the asyncio stores; implements ``AsyncSessionStore``."""

    __slots__ = ()

    async def set(self, user_id: str | int) -> str:
        """Creates a session for ``user_id`` and returns its new random id (see SyncStore)."""
        return await self._drive(self._core.set_flow(user_id))

    async def get(self, session_id: str, *, touch: bool = False) -> str | None:
        """Returns the user id of a live session, or None (see SyncStore.get)."""
        op = self._core.get_op(session_id, touch)
        return None if op is None else await self._execute(op)

    async def liv(self, session_id: str) -> bool:
        """Resets a session's expiry to the full ttl; True if the session exists."""
        op = self._core.liv_op(session_id)
        return op is not None and await self._execute(op)

    async def die(self, session_id: str) -> bool:
        """Ends a session; True if one was removed. Idempotent."""
        op = self._core.die_op(session_id)
        return op is not None and await self._execute(op)

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
        execute = self._execute
        try:
            op = next(flow)
            while True:
                op = flow.send(await execute(op))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def _execute(self, op: Op) -> Any:
        raise NotImplementedError
