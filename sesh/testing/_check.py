"""The kit, aimed at one store URL: the suite that ``sesh check URL`` runs."""

from __future__ import annotations

from typing import Any

import pytest

from sesh._core import Ttl
from sesh.testing import AsyncSessionStoreConformance, SessionStoreConformance
from sesh.urls import async_from_url, from_url


class _AtUrl:
    url: str
    # sesh's stores have all; hash_ids needs a look inside the store (dump), not done here.
    capabilities = frozenset({"rotate", "track_users", "max_age"})
    short_ttl = 1.0  # a live store may be remote and busy: 0.4 s of slack on each expiry check

    @pytest.fixture(autouse=True)
    def _at_url(self, sesh_check_url: str) -> None:
        self.url = sesh_check_url


class TestSync(_AtUrl, SessionStoreConformance):
    def make_store(self, *, prefix: str, ttl: Ttl, **options: Any) -> Any:
        return from_url(self.url, prefix=prefix, ttl=ttl, **options)


class TestAsync(_AtUrl, AsyncSessionStoreConformance):
    def make_store(self, *, prefix: str, ttl: Ttl, **options: Any) -> Any:
        return async_from_url(self.url, prefix=prefix, ttl=ttl, **options)
