"""The kit's checks of rotate: a fresh id for the same session, the old one dead at once."""

from __future__ import annotations

import concurrent.futures

import pytest

from sesh.testing._harness import Harness
from sesh.testing._inputs import malformed_ids
from sesh.testing._verbs import decode, unknown_id

__all__ = ["RotateChecks"]


class RotateChecks(Harness):
    """rotate(id): same user, new id, full ttl; the old id never works again."""

    def test_rotate_moves_the_session_to_a_fresh_id(self) -> None:
        self.kit.needs("rotate")
        store = self.kit.open(ttl=60)
        old, other = store.set("alice"), store.set("bob")
        new = store.rotate(old)
        assert type(new) is str
        assert len(decode(new)) == 32, "a rotated id is not standard base64 of 32 bytes"
        assert new != old
        assert store.get(new) == "alice"
        assert store.get(old) is None, "the old id still works after rotate"
        assert store.liv(old) is False
        assert store.get(old, touch=True) is None
        assert store.rotate(old) is None
        assert store.die(old) is False
        assert store.get(other) == "bob"
        newer = store.rotate(new)
        assert store.get(newer) == "alice"
        assert store.get(new) is None
        assert store.die(newer) is True

    def test_rotate_of_no_session_is_none(self) -> None:
        self.kit.needs("rotate")
        store = self.kit.open(ttl=60)
        assert store.rotate(unknown_id()) is None
        for malformed in malformed_ids(unknown_id()):
            assert store.rotate(malformed) is None
        for wrong in (None, 42, b"x" * 44):
            with pytest.raises(TypeError):
                store.rotate(wrong)

    def test_rotate_gives_a_full_ttl(self) -> None:
        self.kit.needs("rotate")
        ttl = self.short_ttl
        store = self.kit.open(ttl=ttl)
        old = store.set("alice")
        self.pass_time(0.6 * ttl)
        new = store.rotate(old)
        self.pass_time(0.6 * ttl)
        assert store.get(new) == "alice", "the rotated session kept the old deadline"
        self.pass_time(0.5 * ttl)
        assert store.get(new) is None, "the rotated session outlived its ttl"

    def test_rotate_of_an_expired_session_is_none(self) -> None:
        self.kit.needs("rotate")
        ttl = self.short_ttl
        store = self.kit.open(ttl=ttl)
        old = store.set("alice")
        self.pass_time(1.1 * ttl)
        assert store.rotate(old) is None

    def test_concurrent_rotations_of_one_id_have_one_winner(self) -> None:
        self.kit.needs("rotate")
        view = self.kit.open(ttl=60)
        old = view.set("alice")
        store = view.store
        if self.is_async:
            results = self.kit.run_all([store.rotate(old) for _ in range(16)])
        else:
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                results = list(pool.map(lambda _: store.rotate(old), range(16)))
        winners = [new for new in results if new is not None]
        view.made.extend(winners)
        assert len(winners) == 1, f"{len(winners)} of 16 rotations of one id succeeded"
        assert view.get(winners[0]) == "alice"
        assert view.get(old) is None
