"""MemoryStore and AsyncMemoryStore against the conformance kit, on a fake and a real clock."""

from __future__ import annotations

from typing import Any

import pytest

from sesh._validate import Ttl
from sesh.backends.memory import AsyncMemoryStore, MemoryStore
from sesh.testing import (
    CAPABILITIES,
    AsyncSessionStoreConformance,
    FakeClock,
    SessionStoreConformance,
    WithFakeClock,
)
from testbed.polling import until


class _FakeTime(WithFakeClock):
    capabilities = CAPABILITIES

    def dump(self, store: Any) -> bytes:
        state = store._sessions
        return repr((state._entries, state._users)).encode("utf-8")


class TestMemoryStore(_FakeTime, SessionStoreConformance):
    def make_store(self, *, prefix: str, ttl: Ttl, **options: Any) -> MemoryStore:
        return MemoryStore(prefix=prefix, ttl=ttl, clock=self.clock, **options)


class TestAsyncMemoryStore(_FakeTime, AsyncSessionStoreConformance):
    def make_store(self, *, prefix: str, ttl: Ttl, **options: Any) -> AsyncMemoryStore:
        return AsyncMemoryStore(prefix=prefix, ttl=ttl, clock=self.clock, **options)


class TestMemoryStoreOnTheRealClock(SessionStoreConformance):
    # The options are checked on the fake clock; this class checks the real one.

    def make_store(self, *, prefix: str, ttl: Ttl, **options: Any) -> MemoryStore:
        return MemoryStore(prefix=prefix, ttl=ttl, **options)


def test_a_mass_expiry_gives_the_tables_back_with_no_call() -> None:
    # The reaper thread looks at a store on an injected clock at least once a second.
    clock = FakeClock()
    store = MemoryStore(ttl=1, clock=clock, track_users=True)
    for n in range(4000):
        store.set(f"user-{n % 50}")
    kept = MemoryStore(ttl=60, clock=clock)  # another store, whose sessions stay
    kept_id = kept.set("bob")
    tables = store._sessions._entries
    clock.advance(1.5)
    assert until(lambda: store._sessions._entries is not tables), "the tables were kept"
    assert store._sessions._entries == {}
    assert store._sessions._users == {}
    assert store._sessions._buckets == {}
    assert kept.get(kept_id) == "bob"
    alice = store.set("alice")
    assert store.sessions("alice") == [alice]


def test_refreshing_a_session_files_nothing_more() -> None:
    # One slot per session in the expiry buckets, however often it is refreshed.
    clock = FakeClock()
    store = MemoryStore(ttl=30, clock=clock)
    session_id = store.set("alice")
    for _ in range(1000):
        clock.advance(0.5)
        assert store.get(session_id, touch=True) == "alice"
    slots = sum(len(keys) for keys in store._sessions._buckets.values())
    assert slots == 1
    clock.advance(31)
    assert store.get(session_id) is None


def test_a_store_whose_clock_fails_does_not_stop_the_reaper_for_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = {"now": False}
    clock = FakeClock()

    def failing() -> float:
        if broken["now"]:
            raise RuntimeError("clock gone")
        return clock()

    bad = MemoryStore(ttl=1, clock=failing)
    bad_id = bad.set("mallory")
    good = MemoryStore(ttl=1, clock=clock)
    for _ in range(100):
        good.set("alice")
    broken["now"] = True
    clock.advance(1.5)
    assert until(lambda: good._sessions._entries == {})
    assert "no longer reaped" in caplog.text
    assert bad_id not in caplog.text
