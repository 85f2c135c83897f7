"""The kit's own shape: every check runs, its helpers stay out of the user's namespace."""

from __future__ import annotations

from collections import defaultdict

import pytest

import sesh.testing
from sesh.testing import AsyncSessionStoreConformance, Kit, SessionStoreConformance
from sesh.testing._harness import Harness


def check_classes() -> list[type]:
    """The classes the conformance suites are made of, each holding some checks."""
    return [
        cls
        for cls in SessionStoreConformance.__mro__ + AsyncSessionStoreConformance.__mro__
        if issubclass(cls, Harness) and any(name.startswith("test_") for name in vars(cls))
    ]


def test_no_two_check_classes_share_a_check_name() -> None:
    # A name defined twice leaves one check shadowed: it never runs, in any store's suite.
    homes: defaultdict[str, set[str]] = defaultdict(set)
    for cls in check_classes():
        for name in vars(cls):
            if name.startswith("test_"):
                homes[name].add(cls.__qualname__)
    shared = {name: sorted(classes) for name, classes in homes.items() if len(classes) > 1}
    assert not shared, f"checks shadowed by a check of the same name: {shared}"


def test_the_user_checks_of_bad_user_ids_run() -> None:
    # The check that was shadowed (issue 12): it is in both suites now.
    name = "test_sessions_and_die_all_refuse_bad_user_ids"
    assert callable(getattr(SessionStoreConformance, name))
    assert callable(getattr(AsyncSessionStoreConformance, name))


THIRD_PARTY = """
import pytest

from sesh.backends.memory import MemoryStore
from sesh.testing import SessionStoreConformance


class TestMyStore(SessionStoreConformance):
    def make_store(self, *, prefix, ttl):
        return MyStore(prefix, ttl)

    def test_my_own_check(self):
        # written against the kit as it was: helpers on the class, the private prefix
        self.needs()
        store = self.open(ttl=60)
        assert store.get(store.set("alice")) == "alice"
        assert self.run(3) == 3
        self.close(self.build(ttl=60))
        assert self._prefix == self.kit.prefix
        assert self.kit.prefix.startswith("sesh-kit-")


class MyStore(MemoryStore):
    pass
"""


def test_the_old_helper_names_still_work_and_say_where_they_went(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_third_party=THIRD_PARTY)
    result = pytester.runpytest("-q", "-p", "no:cacheprovider", "-k", "my_own_check")
    result.assert_outcomes(passed=1)
    for name in ("needs()", "open()", "run()", "close()", "build()", "_prefix"):
        result.stdout.fnmatch_lines([f"*DeprecationWarning: self.{name} of sesh.testing*"])


def test_a_fake_clock_mixed_in_on_either_side_moves_time(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_clock="""
from sesh.backends.memory import MemoryStore
from sesh.testing import SessionStoreConformance, WithFakeClock


class TestAfter(SessionStoreConformance, WithFakeClock):
    def make_store(self, *, prefix, ttl):
        return MemoryStore(prefix, ttl, clock=self.clock)
"""
    )
    result = pytester.runpytest("-q", "-p", "no:cacheprovider", "-k", "expires_after_ttl")
    result.assert_outcomes(passed=1)


def test_the_public_names_are_documented() -> None:
    for name in sesh.testing.__all__:
        assert getattr(sesh.testing, name).__doc__, name
    for name, member in vars(Kit).items():
        if not name.startswith("_") and callable(member):
            assert member.__doc__, f"Kit.{name}"
