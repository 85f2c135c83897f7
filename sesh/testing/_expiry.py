"""The kit's checks of expiry: ttl, liv and touch reset it to the full ttl, nothing else does.

Each check lets time pass through the ``pass_time`` hook, in fractions of ``short_ttl``;
with real time, every "still alive" check keeps at least 0.4 ttl of slack.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from sesh.testing._harness import Harness

__all__ = ["ExpiryChecks"]


class ExpiryChecks(Harness):
    """Sessions expire after the ttl, and only liv and touch push that back."""

    def test_session_expires_after_ttl(self) -> None:
        ttl = self.short_ttl
        stores = [self.open(ttl=ttl), self.open(ttl=timedelta(seconds=ttl))]
        ids = [store.set("alice") for store in stores]
        self.pass_time(0.5 * ttl)
        for store, session_id in zip(stores, ids, strict=True):
            assert store.get(session_id) == "alice", "the session expired early"
        self.pass_time(0.6 * ttl)
        for store, session_id in zip(stores, ids, strict=True):
            assert store.get(session_id) is None, "the session outlived its ttl"
            assert store.liv(session_id) is False
            assert store.get(session_id, touch=True) is None
            assert store.die(session_id) is False

    @pytest.mark.parametrize("how", ["liv", "touch"])
    def test_refresh_resets_expiry_to_the_full_ttl(self, how: str) -> None:
        ttl = self.short_ttl
        store = self.open(ttl=ttl)
        session_id = store.set("alice")
        self.pass_time(0.6 * ttl)
        if how == "liv":
            assert store.liv(session_id) is True
        else:
            assert store.get(session_id, touch=True) == "alice"
        self.pass_time(0.6 * ttl)
        assert store.get(session_id) == "alice", f"{how} did not extend the session"
        self.pass_time(0.5 * ttl)
        # 1.1 ttl after the refresh: gone, unless it added a ttl to what was left (1.4 ttl).
        assert store.get(session_id) is None, f"{how} added to the ttl instead of resetting it"

    def test_plain_get_does_not_extend(self) -> None:
        ttl = self.short_ttl
        store = self.open(ttl=ttl)
        session_id = store.set("alice")
        self.pass_time(0.6 * ttl)
        assert store.get(session_id) == "alice"
        self.pass_time(0.6 * ttl)
        assert store.get(session_id) is None, "a plain get extended the session"

    def test_no_ttl_never_expires(self) -> None:
        stores = [self.open(ttl=None), self.open(ttl=0), self.open(ttl=0.0)]
        ids = [store.set("alice") for store in stores]
        self.pass_time(1.5 * self.short_ttl)
        for store, session_id in zip(stores, ids, strict=True):
            assert store.get(session_id) == "alice"
            assert store.liv(session_id) is True
            assert store.get(session_id, touch=True) == "alice"

    def test_expired_session_cannot_be_revived(self) -> None:
        ttl = self.short_ttl
        store = self.open(ttl=ttl)
        session_id = store.set("alice")
        self.pass_time(1.1 * ttl)
        assert store.liv(session_id) is False
        assert store.get(session_id, touch=True) is None
        self.pass_time(0.1 * ttl)
        assert store.get(session_id) is None
