"""MemoryStore and AsyncMemoryStore against the conformance kit, on a fake and a real clock."""

from __future__ import annotations

from typing import Any

from sesh._validate import Ttl
from sesh.backends.memory import AsyncMemoryStore, MemoryStore
from sesh.testing import (
    CAPABILITIES,
    AsyncSessionStoreConformance,
    FakeClock,
    SessionStoreConformance,
    WithFakeClock,
)


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


def test_a_mass_expiry_gives_the_tables_back() -> None:
    clock = FakeClock()
    store = MemoryStore(ttl=1, clock=clock, track_users=True)
    for n in range(4000):
        store.set(f"user-{n % 50}")
    tables = store._sessions._entries
    clock.advance(1.5)
    kept = store.set("alice")  # one write, of another session: it purges the rest
    assert store._sessions._entries is not tables, "the emptied table was kept"
    assert list(store._sessions._entries) == [store._core.key(kept)]
    assert list(store._sessions._users) == [store._core.index_key("alice")]
    assert store.sessions("alice") == [kept]
