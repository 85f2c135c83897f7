"""MemoryStore and AsyncMemoryStore against the conformance kit, on a fake and a real clock."""

from __future__ import annotations

import functools

from sesh._core import Ttl
from sesh.backends.memory import AsyncMemoryStore, MemoryStore
from sesh.testing import AsyncSessionStoreConformance, FakeClock, SessionStoreConformance


class _FakeTime:
    @functools.cached_property
    def clock(self) -> FakeClock:
        return FakeClock()

    def pass_time(self, seconds: float) -> None:
        self.clock.advance(seconds)


class TestMemoryStore(_FakeTime, SessionStoreConformance):
    def make_store(self, *, prefix: str, ttl: Ttl) -> MemoryStore:
        return MemoryStore(prefix=prefix, ttl=ttl, clock=self.clock)


class TestAsyncMemoryStore(_FakeTime, AsyncSessionStoreConformance):
    def make_store(self, *, prefix: str, ttl: Ttl) -> AsyncMemoryStore:
        return AsyncMemoryStore(prefix=prefix, ttl=ttl, clock=self.clock)


class TestMemoryStoreOnTheRealClock(SessionStoreConformance):
    def make_store(self, *, prefix: str, ttl: Ttl) -> MemoryStore:
        return MemoryStore(prefix=prefix, ttl=ttl)
