"""A backend written on the public base (examples/custom_backend.py) passes the whole kit."""

from __future__ import annotations

from typing import Any

from examples.custom_backend import DictStore
from sesh.testing import CAPABILITIES, SessionStoreConformance, WithFakeClock


class TestCustomBackend(WithFakeClock, SessionStoreConformance):
    capabilities = CAPABILITIES

    def make_store(self, *, prefix: str, ttl: Any, **options: Any) -> DictStore:
        return DictStore(prefix, ttl, clock=self.clock, **options)

    def dump(self, store: Any) -> bytes:
        return repr(store.rows).encode("utf-8")
