"""What a session store is: the protocols every backend, sesh's or anyone's, implements."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, runtime_checkable

from typing_extensions import Self

__all__ = ["AsyncSeshStore", "AsyncSessionStore", "SeshStore", "SessionStore"]


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


@runtime_checkable
class SeshStore(SessionStore, Protocol):
    """What sesh's own stores are: a ``SessionStore`` with its options readable, ``handle``,
    ``rotate``, and ``sessions`` and ``die_all`` (which need ``track_users=True``)."""

    @property
    def track_users(self) -> bool:
        """Whether the store keeps an index of each user's sessions."""
        ...

    @property
    def max_age(self) -> float | None:
        """The absolute lifetime of a session in seconds, or None."""
        ...

    @property
    def hash_ids(self) -> bool:
        """Whether the store holds digests of session ids instead of the ids."""
        ...

    def handle(self, session_id: str) -> str | None:
        """An opaque name of the session that is not its id; None if malformed."""
        ...

    def rotate(self, session_id: str) -> str | None:
        """Moves the session to a fresh id and ends the old one, atomically; None if none."""
        ...

    def sessions(self, user_id: str | int) -> list[str]:
        """The live sessions of a user (ids, or handles ``die`` takes under ``hash_ids``)."""
        ...

    def die_all(self, user_id: str | int) -> int:
        """Ends every session of a user; returns how many ended."""
        ...


@runtime_checkable
class AsyncSeshStore(AsyncSessionStore, Protocol):
    """``SeshStore`` with awaitable methods: what sesh's own asyncio stores are."""

    @property
    def track_users(self) -> bool:
        """Whether the store keeps an index of each user's sessions."""
        ...

    @property
    def max_age(self) -> float | None:
        """The absolute lifetime of a session in seconds, or None."""
        ...

    @property
    def hash_ids(self) -> bool:
        """Whether the store holds digests of session ids instead of the ids."""
        ...

    def handle(self, session_id: str) -> str | None:
        """An opaque name of the session that is not its id (no I/O: not awaitable)."""
        ...

    async def rotate(self, session_id: str) -> str | None:
        """Moves the session to a fresh id and ends the old one, atomically; None if none."""
        ...

    async def sessions(self, user_id: str | int) -> list[str]:
        """The live sessions of a user (ids, or handles ``die`` takes under ``hash_ids``)."""
        ...

    async def die_all(self, user_id: str | int) -> int:
        """Ends every session of a user; returns how many ended."""
        ...
