"""MemoryStore and AsyncMemoryStore against the conformance kit, on a fake and a real clock."""

from __future__ import annotations

import gc
import os
import time
import weakref
from typing import Any

import pytest

from sesh._validate import Ttl
from sesh.backends.memory import BUCKETS_PER_TTL, REFILE_SLACK, AsyncMemoryStore, MemoryStore
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


def test_sessions_ended_long_before_their_deadline_do_not_pile_up_in_the_buckets() -> None:
    # A 30-day ttl; logins, rotations and logouts: the buckets are rebuilt from the live
    # sessions before the filings of ended ones outgrow them.
    store = MemoryStore(ttl=30 * 24 * 3600, clock=FakeClock())
    for _ in range(6000):
        session_id = store.set("alice")
        new_id = store.rotate(session_id)
        assert new_id is not None
        store.die(new_id)
    state = store._sessions
    assert until(lambda: state._filed < REFILE_SLACK), state._filed
    assert len(state._buckets) <= BUCKETS_PER_TTL + 1


def test_the_reaper_keeps_no_store_alive() -> None:
    clock = FakeClock()
    store = MemoryStore(ttl=1, clock=clock)
    store.set("alice")
    gone = weakref.ref(store._sessions)
    time.sleep(0.05)  # the reaper has looked at it, and sleeps
    del store
    gc.collect()
    assert gone() is None


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork() in a threaded process
def test_a_forked_child_reaps_the_stores_it_inherited() -> None:
    clock = FakeClock()
    store = MemoryStore(ttl=1, clock=clock)
    for _ in range(100):
        store.set("alice")
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        code = 1
        try:
            clock.advance(2)
            code = 0 if until(lambda: store._sessions._entries == {}) else 1
        finally:
            os._exit(code)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    assert len(store._sessions._entries) == 100  # the parent's clock did not move
