"""What a session store is: the protocols every backend, sesh's or anyone's, implements."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, runtime_checkable

from typing_extensions import Self

__all__ = ["AsyncSessionStore", "SessionStore"]


@runtime_checkable
class SessionStore(Protocol):
    """A synchronous session store (``MemoryStore``, ``RedisStore``, ...).

    ``sesh.testing.SessionStoreConformance`` checks that an implementation keeps the
    contract written on each method.
    """

    def set(self, user_id: str | int) -> str:
        """Creates a session for ``user_id``; returns its new random 44-character id."""
        ...

    def get(self, session_id: str, *, touch: bool = False) -> str | None:
        """The user id of a live session, as str, or None; ``touch`` also resets its expiry."""
        ...

    def liv(self, session_id: str) -> bool:
        """Resets the session's expiry to the full ttl; True if it exists. Never creates one."""
        ...

    def die(self, session_id: str) -> bool:
        """Ends the session; True if one was removed."""
        ...

    def close(self) -> None:
        """Releases what the store owns."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class AsyncSessionStore(Protocol):
    """An asyncio session store: ``SessionStore`` with awaitable methods and ``aclose``."""

    async def set(self, user_id: str | int) -> str:
        """Creates a session for ``user_id``; returns its new random 44-character id."""
        ...

    async def get(self, session_id: str, *, touch: bool = False) -> str | None:
        """The user id of a live session, as str, or None; ``touch`` also resets its expiry."""
        ...

    async def liv(self, session_id: str) -> bool:
        """Resets the session's expiry to the full ttl; True if it exists. Never creates one."""
        ...

    async def die(self, session_id: str) -> bool:
        """Ends the session; True if one was removed."""
        ...

    async def aclose(self) -> None:
        """Releases what the store owns."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
