"""The conformance kit: the contract of a session store, as a pytest suite.

A custom backend proves itself with a few lines::

    from sesh.testing import SessionStoreConformance

    class TestMyStore(SessionStoreConformance):
        def make_store(self, *, prefix, ttl):
            return MyStore(prefix=prefix, ttl=ttl)

``AsyncSessionStoreConformance`` does the same for an ``AsyncSessionStore``. Optional
hooks: ``pass_time(seconds)`` (default: sleep; mix in ``WithFakeClock`` to move an
injected clock instead), ``short_ttl`` (the ttl of the expiry checks, default 0.5 s) and
``hypothesis_examples``. Each test closes the stores it opened and kills the sessions
it made, under a random prefix of its own (``self.kit.prefix``). The kit's helpers live
under ``self.kit`` (see ``Kit``), apart from the names of the test class.

A store with more than the four verbs declares it, and the kit checks it (and reports
the checks of what is not declared as skipped)::

    class TestMyStore(SessionStoreConformance):
        capabilities = frozenset({"rotate", "track_users", "max_age", "hash_ids"})

        def make_store(self, *, prefix, ttl, **options):  # track_users=, max_age=, hash_ids=
            return MyStore(prefix=prefix, ttl=ttl, **options)

        def dump(self, store):  # for hash_ids: every byte the store holds
            return store.raw_bytes()
"""

from __future__ import annotations

import inspect

import pytest

# Checks in these modules then fail with pytest's detailed messages, as in a test file.
pytest.register_assert_rewrite(
    "sesh.testing._expiry",
    "sesh.testing._harness",
    "sesh.testing._hash_ids",
    "sesh.testing._inputs",
    "sesh.testing._load",
    "sesh.testing._max_age",
    "sesh.testing._model",
    "sesh.testing._rotate",
    "sesh.testing._users",
    "sesh.testing._verbs",
)

from sesh.protocols import AsyncSessionStore, SessionStore  # noqa: E402
from sesh.testing._clock import FakeClock  # noqa: E402
from sesh.testing._expiry import ExpiryChecks  # noqa: E402
from sesh.testing._harness import CAPABILITIES, Kit, WithFakeClock  # noqa: E402
from sesh.testing._hash_ids import HashIdChecks  # noqa: E402
from sesh.testing._inputs import InputChecks  # noqa: E402
from sesh.testing._load import LoadChecks  # noqa: E402
from sesh.testing._max_age import MaxAgeChecks  # noqa: E402
from sesh.testing._model import ModelChecks  # noqa: E402
from sesh.testing._rotate import RotateChecks  # noqa: E402
from sesh.testing._users import UserChecks  # noqa: E402
from sesh.testing._verbs import IdChecks, VerbChecks  # noqa: E402

__all__ = [
    "CAPABILITIES",
    "AsyncSessionStoreConformance",
    "FakeClock",
    "Kit",
    "SessionStoreConformance",
    "WithFakeClock",
]


class _Suite(
    VerbChecks,
    IdChecks,
    ExpiryChecks,
    InputChecks,
    ModelChecks,
    LoadChecks,
    RotateChecks,
    UserChecks,
    MaxAgeChecks,
    HashIdChecks,
):
    pass


class SessionStoreConformance(_Suite):
    """Subclass with ``make_store(self, *, prefix, ttl)`` returning a ``SessionStore``."""

    def test_is_a_session_store(self) -> None:
        store = self.kit.open().store
        assert isinstance(store, SessionStore)
        assert not inspect.iscoroutinefunction(store.get)

    def test_context_manager_closes(self) -> None:
        store = self.kit.build(ttl=60)
        with store as entered:
            assert entered is store


class AsyncSessionStoreConformance(_Suite):
    """Subclass with ``make_store(self, *, prefix, ttl)`` returning an ``AsyncSessionStore``.

    ``make_store`` stays a plain method; the kit calls it inside the event loop it runs
    the test in, so it may create asyncio clients.
    """

    is_async = True

    def test_is_an_async_session_store(self) -> None:
        store = self.kit.open().store
        assert isinstance(store, AsyncSessionStore)
        for name in ("set", "get", "liv", "die", "aclose"):
            assert inspect.iscoroutinefunction(getattr(store, name)), name

    def test_async_context_manager_closes(self) -> None:
        store = self.kit.build(ttl=60)

        async def use() -> None:
            async with store as entered:
                assert entered is store

        self.kit.run(use())

    def test_concurrent_calls_keep_sessions_apart(self) -> None:
        view = self.kit.open(ttl=60)
        store = view.store
        users = [f"user-{n}" for n in range(64)]
        ids = self.kit.run_all([store.set(user) for user in users])
        view.made.extend(ids)
        assert len(set(ids)) == len(users)
        assert self.kit.run_all([store.get(i) for i in ids]) == users
        assert self.kit.run_all([store.die(i) for i in ids[::2]]) == [True] * 32
        assert self.kit.run_all([store.get(i) for i in ids]) == [
            None if n % 2 == 0 else user for n, user in enumerate(users)
        ]
