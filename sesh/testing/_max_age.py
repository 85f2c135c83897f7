"""The kit's checks of max_age: an absolute lifetime that no refresh can pass."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sesh.testing._harness import Harness
from sesh.testing._inputs import BAD_TTL_TYPES, BAD_TTL_VALUES, shown

__all__ = ["MaxAgeChecks"]


class MaxAgeChecks(Harness):
    """With max_age, a session dies that long after it was made, whatever keeps it busy."""

    @pytest.mark.parametrize("how", ["liv", "touch"])
    def test_refresh_never_passes_max_age(self, how: str) -> None:
        self.kit.needs("max_age")
        ttl = self.short_ttl
        store = self.kit.open(ttl=ttl, max_age=1.6 * ttl)
        session_id = store.set("alice")
        for _ in range(2):
            self.pass_time(0.6 * ttl)
            if how == "liv":
                assert store.liv(session_id) is True
            else:
                assert store.get(session_id, touch=True) == "alice"
        self.pass_time(0.5 * ttl)  # 1.7 ttl: alive till 2.2 ttl, were it not for max_age
        assert store.get(session_id) is None, f"{how} extended a session past its max_age"
        assert store.liv(session_id) is False

    def test_a_session_without_ttl_dies_at_max_age(self) -> None:
        self.kit.needs("max_age")
        ttl = self.short_ttl
        stores = [self.kit.open(max_age=ttl), self.kit.open(max_age=timedelta(seconds=ttl))]
        ids = [store.set("alice") for store in stores]
        self.pass_time(0.5 * ttl)
        for store, session_id in zip(stores, ids, strict=True):
            assert store.liv(session_id) is True
            assert store.get(session_id, touch=True) == "alice"
        self.pass_time(0.6 * ttl)
        for store, session_id in zip(stores, ids, strict=True):
            assert store.get(session_id) is None, "a session outlived its max_age"

    def test_max_age_shorter_than_the_ttl_wins(self) -> None:
        self.kit.needs("max_age")
        ttl = self.short_ttl
        store = self.kit.open(ttl=10 * ttl, max_age=ttl)
        session_id = store.set("alice")
        self.pass_time(0.5 * ttl)
        assert store.get(session_id) == "alice"
        self.pass_time(0.6 * ttl)
        assert store.get(session_id) is None

    def test_sliding_ttl_still_applies_under_max_age(self) -> None:
        self.kit.needs("max_age")
        ttl = self.short_ttl
        store = self.kit.open(ttl=ttl, max_age=10 * ttl)
        session_id = store.set("alice")
        self.pass_time(1.1 * ttl)
        assert store.get(session_id) is None, "max_age replaced the ttl instead of capping it"

    def test_rotation_keeps_the_original_deadline(self) -> None:
        self.kit.needs("max_age", "rotate")
        ttl = self.short_ttl
        store = self.kit.open(ttl=ttl, max_age=1.6 * ttl)
        old = store.set("alice")
        self.pass_time(0.6 * ttl)
        assert store.liv(old) is True
        self.pass_time(0.6 * ttl)
        new = store.rotate(old)
        assert store.get(new) == "alice"
        self.pass_time(0.5 * ttl)
        assert store.get(new) is None, "rotation gave the session a new max_age"

    @pytest.mark.parametrize("max_age", BAD_TTL_TYPES, ids=shown)
    def test_max_age_of_the_wrong_type_is_refused(self, max_age: Any) -> None:
        self.kit.needs("max_age")
        with pytest.raises(TypeError, match="max_age"):
            self.kit.build(ttl=60, max_age=max_age)

    @pytest.mark.parametrize("max_age", BAD_TTL_VALUES, ids=shown)
    def test_bad_max_age_value_is_refused(self, max_age: Any) -> None:
        self.kit.needs("max_age")
        with pytest.raises(ValueError, match="max_age"):
            self.kit.build(ttl=60, max_age=max_age)
