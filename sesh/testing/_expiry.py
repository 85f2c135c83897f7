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
        stores = [self.kit.open(ttl=ttl), self.kit.open(ttl=timedelta(seconds=ttl))]
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
        store = self.kit.open(ttl=ttl)
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
        store = self.kit.open(ttl=ttl)
        session_id = store.set("alice")
        self.pass_time(0.6 * ttl)
        assert store.get(session_id) == "alice"
        self.pass_time(0.6 * ttl)
        assert store.get(session_id) is None, "a plain get extended the session"

    def test_no_ttl_never_expires(self) -> None:
        stores = [self.kit.open(ttl=None), self.kit.open(ttl=0), self.kit.open(ttl=0.0)]
        ids = [store.set("alice") for store in stores]
        self.pass_time(1.5 * self.short_ttl)
        for store, session_id in zip(stores, ids, strict=True):
            assert store.get(session_id) == "alice"
            assert store.liv(session_id) is True
            assert store.get(session_id, touch=True) == "alice"

    def test_every_verb_keeps_a_session_without_ttl(self) -> None:
        store = self.kit.open(ttl=None)
        made = [store.set("alice") for _ in range(3)]
        assert store.get(made[0], touch=True) == "alice"
        assert store.liv(made[1]) is True
        if "rotate" in self.capabilities:
            made[2] = store.rotate(made[2])
        self.pass_time(1.5 * self.short_ttl)
        for session_id in made:
            assert store.get(session_id) == "alice", "a verb gave a ttl-less session a deadline"
            assert store.liv(session_id) is True
        if "max_age" in self.capabilities:
            capped = self.kit.open(ttl=None, prefix=f"{self.kit.prefix}-max", max_age=3600)
            session_id = capped.set("alice")
            assert capped.get(session_id, touch=True) == "alice"
            if "rotate" in self.capabilities:
                session_id = capped.rotate(session_id)
            self.pass_time(1.5 * self.short_ttl)
            assert capped.get(session_id) == "alice"

    def test_expired_session_cannot_be_revived(self) -> None:
        ttl = self.short_ttl
        store = self.kit.open(ttl=ttl)
        session_id = store.set("alice")
        self.pass_time(1.1 * ttl)
        assert store.liv(session_id) is False
        assert store.get(session_id, touch=True) is None
        self.pass_time(0.1 * ttl)
        assert store.get(session_id) is None
