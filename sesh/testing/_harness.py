"""How the kit opens stores, sees async ones synchronously, and cleans up after a test."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import secrets
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, ClassVar

import pytest

from sesh._validate import Ttl
from sesh.testing._clock import FakeClock

__all__ = ["CAPABILITIES", "Harness", "Kit", "StoreView", "WithFakeClock"]

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

    def handle(self, session_id: Any) -> Any:
        return self.store.handle(session_id)  # no I/O: never awaited

    def rotate(self, session_id: Any) -> Any:
        new_id = self._run(self.store.rotate(session_id))
        if isinstance(new_id, str):
            self.made.append(new_id)
        return new_id

    def sessions(self, user_id: Any) -> Any:
        return self._run(self.store.sessions(user_id))

    def die_all(self, user_id: Any) -> Any:
        return self._run(self.store.die_all(user_id))


class Kit:
    """What the kit gives each check, under ``self.kit``: the test's prefix, and the
    helpers that open stores, run their calls and clean up after the test.

    It lives apart from the test class, so that the names a store author gives their own
    helpers never collide with the kit's.
    """

    def __init__(self, suite: Harness) -> None:
        self._suite = suite
        self.prefix = f"sesh-kit-{secrets.token_hex(6)}"
        """This test's own key prefix: every store the kit opens uses it, unless told
        otherwise (a store author's ``dump`` or ``pass_time`` can look for it)."""
        self._views: list[StoreView] = []
        self._loop = asyncio.new_event_loop() if suite.is_async else None

    def needs(self, *capabilities: str) -> None:
        """Skips the calling check unless the store declares every one of ``capabilities``."""
        unknown = set(capabilities) - CAPABILITIES
        assert not unknown, f"no such capability: {unknown}"
        missing = sorted(set(capabilities) - self._suite.capabilities)
        if missing:
            pytest.skip(f"the store does not declare {', '.join(missing)} (capabilities)")

    def open(self, *, ttl: Ttl = None, prefix: str | None = None, **options: Any) -> StoreView:
        """A store from ``make_store``, under this test's own prefix unless told otherwise,
        seen synchronously; the sessions made through it are killed after the test."""
        view = StoreView(self.build(ttl=ttl, prefix=prefix, **options), self.run)
        self._views.append(view)
        return view

    def build(self, *, ttl: Any = None, prefix: Any = None, **options: Any) -> Any:
        """Calls ``make_store`` (inside the event loop, for an async kit)."""
        prefix = self.prefix if prefix is None else prefix
        make_store = self._suite.make_store
        if self._loop is None:
            return make_store(prefix=prefix, ttl=ttl, **options)

        async def make() -> Any:
            return make_store(prefix=prefix, ttl=ttl, **options)

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
        self.run(store.aclose() if self._suite.is_async else store.close())

    def clean_up(self) -> None:
        """Kills every session the test made and closes every store it opened."""
        for view in self._views:
            for session_id in view.made:
                with contextlib.suppress(Exception):
                    view.die(session_id)
            with contextlib.suppress(Exception):
                self.close(view.store)
        if self._loop is not None:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()


def _moved(name: str) -> Callable[..., Any]:
    # The helpers' old home, the test class itself, for a release: third-party classes
    # call them. Each call says where they went.
    def helper(self: Harness, *args: Any, **kwargs: Any) -> Any:
        warnings.warn(
            f"self.{name}() of sesh.testing is deprecated: use self.kit.{name}()",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(self.kit, name)(*args, **kwargs)

    helper.__name__ = name
    helper.__doc__ = f"Deprecated: ``self.kit.{name}``."
    return helper


class Harness:
    """The hooks of the kit (what a store author defines) and the plumbing under its
    tests (``self.kit``)."""

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

    kit: Kit
    """The kit's helpers for the running check (see ``Kit``)."""

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

    def pass_time(self, seconds: float) -> None:
        """Lets ``seconds`` pass for the stores this test made.

        The default sleeps. A store with an injectable clock should override this to move
        the clock (``sesh.testing.WithFakeClock`` does).
        """
        time.sleep(seconds)

    @pytest.fixture(autouse=True)
    def _sesh_kit(self) -> Iterator[None]:
        self.kit = Kit(self)
        try:
            yield
        finally:
            self.kit.clean_up()

    @property
    def _prefix(self) -> str:
        """Deprecated: ``self.kit.prefix``."""
        warnings.warn(
            "self._prefix of sesh.testing is deprecated: use self.kit.prefix",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.kit.prefix

    open = _moved("open")
    build = _moved("build")
    run = _moved("run")
    run_all = _moved("run_all")
    close = _moved("close")
    needs = _moved("needs")


class WithFakeClock(Harness):
    """Time on a clock the test moves: mix it in, and pass ``self.clock`` to the stores
    ``make_store`` makes. The expiry checks then run at once and exactly (as a kind of
    ``Harness``, its ``pass_time`` wins whichever side of the conformance class it is on)::

        class TestMyStore(WithFakeClock, SessionStoreConformance):
            def make_store(self, *, prefix, ttl):
                return MyStore(prefix=prefix, ttl=ttl, clock=self.clock)

    ``clock_start`` sets where each test's clock starts (a wall-clock store wants a
    plausible date, such as ``1_700_000_000.0``).
    """

    clock_start: ClassVar[float] = 1_000_000.0

    @functools.cached_property
    def clock(self) -> FakeClock:
        """This test's clock (a new one for each test)."""
        return FakeClock(self.clock_start)

    def pass_time(self, seconds: float) -> None:
        """Moves the clock: no check sleeps."""
        self.clock.advance(seconds)
