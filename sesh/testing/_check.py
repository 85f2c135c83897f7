"""The kit, aimed at one store URL: the suite that ``sesh check URL`` runs."""

from __future__ import annotations

from typing import Any

import pytest

from sesh._validate import Ttl
from sesh.testing import AsyncSessionStoreConformance, SessionStoreConformance
from sesh.urls import async_from_url, from_url


class _AtUrl:
    url: str
    # sesh's stores have all four; hash_ids is checked by sesh's own tests, since it needs
    # a look at the bytes inside the store (the dump hook), which a URL does not give.
    capabilities = frozenset({"rotate", "track_users", "max_age"})

    @pytest.fixture(autouse=True)
    def _at_url(self, sesh_check_url: str, sesh_check_short_ttl: float) -> None:
        self.url = sesh_check_url
        self.short_ttl = sesh_check_short_ttl


class TestSync(_AtUrl, SessionStoreConformance):
    def make_store(self, *, prefix: str, ttl: Ttl, **options: Any) -> Any:
        return from_url(self.url, prefix=prefix, ttl=ttl, **options)


class TestAsync(_AtUrl, AsyncSessionStoreConformance):
    def make_store(self, *, prefix: str, ttl: Ttl, **options: Any) -> Any:
        return async_from_url(self.url, prefix=prefix, ttl=ttl, **options)
