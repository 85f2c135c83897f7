"""How the kit opens stores, sees async ones synchronously, and cleans up after a test."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, ClassVar

import pytest

from sesh._core import Ttl

__all__ = ["CAPABILITIES", "Harness", "StoreView"]

CAPABILITIES = frozenset({"rotate", "track_users", "max_age", "hash_ids"})
"""What a store may declare beyond the four verbs (see ``Harness.capabilities``)."""


class StoreView:
    """A store seen synchronously, remembering the sessions a test made so they can go."""

    def __init__(self, store: Any, run: Callable[[Any], Any]) -> None:
        self.store = store
        self._run = run
        self.made: list[str] = []

    def set(self, user_id: Any) -> Any:
        session_id = self._run(self.store.set(user_id))
        if isinstance(session_id, str):
            self.made.append(session_id)
        return session_id

    def get(self, session_id: Any, *, touch: Any = False) -> Any:
        return self._run(self.store.get(session_id, touch=touch))

    def liv(self, session_id: Any) -> Any:
        return self._run(self.store.liv(session_id))

    def die(self, session_id: Any) -> Any:
        return self._run(self.store.die(session_id))

    def rotate(self, session_id: Any) -> Any:
        new_id = self._run(self.store.rotate(session_id))
        if isinstance(new_id, str):
            self.made.append(new_id)
        return new_id

    def sessions(self, user_id: Any) -> Any:
        return self._run(self.store.sessions(user_id))

    def die_all(self, user_id: Any) -> Any:
        return self._run(self.store.die_all(user_id))


class Harness:
    """The hooks of the kit and the plumbing under its tests."""

    short_ttl: ClassVar[float] = 0.5
    """The ttl (seconds) of the expiry checks. Raise it for a slow remote store."""

    hypothesis_examples: ClassVar[int] = 150
    """How many inputs each property-based check tries."""

    capabilities: ClassVar[frozenset[str]] = frozenset()
    """What the store has beyond the four verbs; the kit checks these and skips the rest.

    - ``"rotate"``: ``rotate(session_id)``.
    - ``"track_users"``: ``make_store`` takes ``track_users=True``, and the store then
      has ``sessions(user_id)`` and ``die_all(user_id)``.
    - ``"max_age"``: ``make_store`` takes ``max_age=`` (seconds or a timedelta).
    - ``"hash_ids"``: ``make_store`` takes ``hash_ids=True``; needs the ``dump`` hook.
    """

    is_async: ClassVar[bool] = False

    def make_store(self, *, prefix: str, ttl: Ttl, **options: Any) -> Any:
        """Required: a new store with this prefix and ttl (keyword arguments only).

        ``options`` are those of the declared ``capabilities`` (``track_users``,
        ``max_age``, ``hash_ids``); the kit passes none unless it checks one.
        """
        raise NotImplementedError(f"{type(self).__name__} must define make_store(*, prefix, ttl)")

    def dump(self, store: Any) -> bytes:
        """Every byte the store holds under its prefix: keys and values, rows or files.

        Required by the ``hash_ids`` checks, which look there for session ids.
        """
        raise NotImplementedError(f"{type(self).__name__} declares hash_ids but has no dump()")

    def needs(self, *capabilities: str) -> None:
        """Skips the calling check unless the store declares every one of ``capabilities``."""
        unknown = set(capabilities) - CAPABILITIES
        assert not unknown, f"no such capability: {unknown}"
        missing = sorted(set(capabilities) - self.capabilities)
        if missing:
            pytest.skip(f"the store does not declare {', '.join(missing)} (capabilities)")

    def pass_time(self, seconds: float) -> None:
        """Lets ``seconds`` pass for the stores this test made.

        The default sleeps. A store with an injectable clock should override this to move
        the clock (see ``sesh.testing.FakeClock``).
        """
        time.sleep(seconds)

    @pytest.fixture(autouse=True)
    def _sesh_kit(self) -> Iterator[None]:
        self._views: list[StoreView] = []
        self._prefix = f"sesh-kit-{secrets.token_hex(6)}"
        self._loop = asyncio.new_event_loop() if self.is_async else None
        try:
            yield
        finally:
            self._clean_up()

    def open(self, *, ttl: Ttl = None, prefix: str | None = None, **options: Any) -> StoreView:
        """A store from ``make_store``, under this test's own prefix unless told otherwise."""
        view = StoreView(self.build(ttl=ttl, prefix=prefix, **options), self.run)
        self._views.append(view)
        return view

    def build(self, *, ttl: Any = None, prefix: Any = None, **options: Any) -> Any:
        """Calls ``make_store`` (inside the event loop, for an async kit)."""
        prefix = self._prefix if prefix is None else prefix
        if self._loop is None:
            return self.make_store(prefix=prefix, ttl=ttl, **options)

        async def make() -> Any:
            return self.make_store(prefix=prefix, ttl=ttl, **options)

        return self._loop.run_until_complete(make())

    def run(self, result: Any) -> Any:
        """The value of a store call: awaited in the kit's loop if it is awaitable."""
        if self._loop is None:
            return result
        return self._loop.run_until_complete(result)

    def run_all(self, calls: Sequence[Awaitable[Any]]) -> list[Any]:
        """Runs awaitables at once, in the kit's loop (async kits only)."""
        assert self._loop is not None

        async def gather() -> list[Any]:
            return list(await asyncio.gather(*calls))

        return self._loop.run_until_complete(gather())

    def close(self, store: Any) -> None:
        """Closes a store the way its kind closes."""
        self.run(store.aclose() if self.is_async else store.close())

    def _clean_up(self) -> None:
        for view in self._views:
            for session_id in view.made:
                with contextlib.suppress(Exception):
                    view.die(session_id)
            with contextlib.suppress(Exception):
                self.close(view.store)
        if self._loop is not None:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()
