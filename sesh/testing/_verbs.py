"""The kit's checks of the four verbs, the id format and prefix isolation."""

from __future__ import annotations

import base64
import binascii
import math
import secrets

import pytest

from sesh.errors import SeshError
from sesh.testing._harness import Harness

__all__ = ["IdChecks", "VerbChecks"]

_BASE64 = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def decode(session_id: str) -> bytes:
    try:
        return base64.b64decode(session_id, validate=True)
    except binascii.Error:
        pytest.fail("a session id is not standard base64")


def unknown_id() -> str:
    """A well-formed id that no store has made."""
    return id_of(secrets.token_bytes(32))


def id_of(raw: bytes) -> str:
    """The session id of 32 bytes: standard base64, as stores make them."""
    return base64.b64encode(raw).decode("ascii")


class VerbChecks(Harness):
    """set, get, liv and die, each as the contract says."""

    def test_set_then_get_returns_the_user_id(self) -> None:
        store = self.kit.open()
        session_id = store.set("alice")
        assert type(session_id) is str
        user = store.get(session_id)
        assert user == "alice"
        assert type(user) is str

    def test_int_user_id_comes_back_as_its_decimal_string(self) -> None:
        store = self.kit.open()
        for user_id, text in [(1337, "1337"), (0, "0"), (-7, "-7"), (10**30, str(10**30))]:
            assert store.get(store.set(user_id)) == text

    @pytest.mark.parametrize(
        "user_id",
        ["Zoë 🐍", "  padded  ", "a:b:c", "sesh:x", "*?[]", "a\x00b", "line\nbreak", "=" * 44],
    )
    def test_user_id_is_kept_exactly(self, user_id: str) -> None:
        store = self.kit.open()
        assert store.get(store.set(user_id)) == user_id

    @pytest.mark.parametrize(
        "user_id",
        ["Zoe\u0308", "e\u0301", "\ufb01le", "\uff21", "\u212b", "Alice", "ALICE"],
        ids=["NFD", "combining", "ligature", "fullwidth", "angstrom sign", "Alice", "ALICE"],
    )
    def test_user_ids_are_not_normalised(self, user_id: str) -> None:
        # A storage engine that folds case or normalises text (a SQL collation, NFC/NFKC)
        # would hand back another string, or merge two users into one.
        store = self.kit.open()
        session_id = store.set(user_id)
        assert store.get(session_id) == user_id, "the store changed the user id"

    def test_session_ids_are_case_sensitive(self) -> None:
        # Base64 is case-sensitive: an id with its case swapped is another id (a store
        # keyed through a case-insensitive collation would find the session by it).
        store = self.kit.open(ttl=60)
        session_id = store.set("alice")
        # All but the 43rd character, which carries the padding bits: still a valid id.
        swapped = session_id[:42].swapcase() + session_id[42:]
        assert swapped != session_id
        assert store.get(swapped) is None, "a session was found by its id in another case"
        assert store.get(swapped, touch=True) is None
        assert store.liv(swapped) is False
        assert store.die(swapped) is False
        if "rotate" in self.capabilities:
            assert store.rotate(swapped) is None
        assert store.get(session_id) == "alice"

    def test_longest_user_id_is_accepted(self) -> None:
        store = self.kit.open()
        longest = "é" * 512  # 1024 bytes in UTF-8
        assert store.get(store.set(longest)) == longest

    def test_get_of_an_unknown_session_is_none(self) -> None:
        store = self.kit.open()
        assert store.get(unknown_id()) is None
        assert store.get(unknown_id(), touch=True) is None

    def test_liv_reports_existence_and_never_creates(self) -> None:
        store = self.kit.open(ttl=60)
        session_id = store.set("alice")
        assert store.liv(session_id) is True
        ghost = unknown_id()
        assert store.liv(ghost) is False
        assert store.get(ghost) is None

    def test_liv_without_ttl_reports_existence(self) -> None:
        store = self.kit.open(ttl=None)
        session_id = store.set("alice")
        assert store.liv(session_id) is True
        assert store.get(session_id) == "alice"
        assert store.get(session_id, touch=True) == "alice"
        assert store.die(session_id) is True
        assert store.liv(session_id) is False

    def test_die_removes_once_and_is_idempotent(self) -> None:
        store = self.kit.open(ttl=60)
        session_id = store.set("alice")
        assert store.die(session_id) is True
        assert store.get(session_id) is None
        assert store.liv(session_id) is False
        assert store.die(session_id) is False
        assert store.die(unknown_id()) is False

    def test_sessions_are_independent(self) -> None:
        store = self.kit.open(ttl=60)
        first, second, other = store.set("alice"), store.set("alice"), store.set("bob")
        assert len({first, second, other}) == 3
        assert store.die(first) is True
        assert store.get(first) is None
        assert store.get(second) == "alice"
        assert store.get(other) == "bob"

    def test_prefixes_do_not_see_each_other(self) -> None:
        mine = self.kit.open(ttl=60, prefix=f"{self.kit.prefix}-a")
        theirs = self.kit.open(ttl=60, prefix=f"{self.kit.prefix}-b")
        session_id = mine.set("alice")
        assert theirs.get(session_id) is None
        assert theirs.get(session_id, touch=True) is None
        assert theirs.liv(session_id) is False
        assert theirs.die(session_id) is False
        assert mine.get(session_id) == "alice"

    def test_repr_shows_no_session_id(self) -> None:
        store = self.kit.open(ttl=60)
        session_id = store.set("alice")
        assert session_id not in repr(store.store)
        assert session_id not in str(store.store)

    def test_close_is_idempotent(self) -> None:
        store = self.kit.build(ttl=60)
        self.kit.close(store)
        self.kit.close(store)


class IdChecks(Harness):
    """Ids: their format, their randomness, and what happens when one is drawn twice."""

    def test_id_is_standard_base64_of_32_bytes(self) -> None:
        store = self.kit.open()
        for _ in range(20):
            session_id = store.set("alice")
            assert len(session_id) == 44
            assert session_id.endswith("=")
            assert set(session_id[:-1]) <= _BASE64
            raw = decode(session_id)
            assert len(raw) == 32
            assert base64.b64encode(raw).decode("ascii") == session_id

    def test_ids_are_random(self) -> None:
        store = self.kit.open()
        count = 200
        ids = [store.set("alice") for _ in range(count)]
        assert len(set(ids)) == count
        numbers = [int.from_bytes(decode(i), "big") for i in ids]
        # About half of all bits are set (six standard deviations of slack) ...
        ones = sum(bin(n).count("1") for n in numbers)
        bits = count * 256
        assert abs(ones - bits / 2) < 6 * math.sqrt(bits) / 2, "ids are not uniformly random"
        # ... and no bit is the same in every id, as it would be in a counter or a clock.
        always_set, ever_set = ~0, 0
        for n in numbers:
            always_set &= n
            ever_set |= n
        constant = always_set | ~ever_set & (2**256 - 1)
        assert constant == 0, "some bits of the ids never change"

    def test_a_colliding_id_is_drawn_again(self, monkeypatch: pytest.MonkeyPatch) -> None:
        taken, fresh = b"\x01" * 32, b"\x02" * 32
        store = self.kit.open(ttl=60)
        store.get(unknown_id())  # connected before secrets is patched: drivers use it too
        draws = iter([taken, taken, fresh])
        real = secrets.token_bytes
        monkeypatch.setattr(
            secrets, "token_bytes", lambda n=32: next(draws) if n == 32 else real(n)
        )
        first = store.set("alice")
        if first != base64.b64encode(taken).decode("ascii"):
            pytest.skip("the store does not draw its ids from secrets.token_bytes")
        second = store.set("bob")
        assert second == base64.b64encode(fresh).decode("ascii")
        assert store.get(first) == "alice", "a colliding set overwrote a live session"
        assert store.get(second) == "bob"

    def test_endless_collisions_raise_and_keep_the_session(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        taken = b"\x03" * 32
        store = self.kit.open(ttl=60)
        store.get(unknown_id())
        real = secrets.token_bytes
        monkeypatch.setattr(secrets, "token_bytes", lambda n=32: taken if n == 32 else real(n))
        first = store.set("alice")
        if first != base64.b64encode(taken).decode("ascii"):
            pytest.skip("the store does not draw its ids from secrets.token_bytes")
        with pytest.raises(SeshError):
            store.set("bob")
        assert store.get(first) == "alice", "a colliding set overwrote a live session"
