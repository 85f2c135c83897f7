"""The kit's checks of bad input: wrong types, bad values, and malformed session ids."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sesh.testing._harness import Harness

__all__ = [
    "BAD_TTL_TYPES",
    "BAD_TTL_VALUES",
    "BAD_USER_ID_TYPES",
    "BAD_USER_ID_VALUES",
    "InputChecks",
    "malformed_ids",
]

BAD_TTL_TYPES: list[Any] = [True, False, "10", b"10", [10], object()]
BAD_TTL_VALUES: list[Any] = [
    -1,
    -0.001,
    math.nan,
    math.inf,
    -math.inf,
    0.0001,
    timedelta(seconds=-1),
    timedelta(microseconds=100),
]
BAD_USER_ID_TYPES: list[Any] = [None, True, False, 1.5, b"alice", bytearray(b"a"), ["a"], {}]
BAD_USER_ID_VALUES: list[Any] = ["", "\ud800", "x" * 1025, "é" * 513]
_BAD_SESSION_ID_TYPES: list[Any] = [None, 123, 1.5, b"x" * 44, bytearray(44), ["x" * 44], True]
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


def shown(value: Any) -> str:
    """A check's parameter as its name in the test id: the same in every process (an
    object's repr carries its address, which pytest-xdist's workers would disagree on)."""
    text = repr(value)
    return type(value).__name__ if " at 0x" in text else text


def malformed_ids(session_id: str) -> list[str]:
    """Strings that cannot be session ids, many of them near a real one."""
    return [
        "",
        "x",
        session_id[:-1],
        session_id + "=",
        session_id + "x",
        " " + session_id,
        session_id + "\n",
        session_id[:-1] + "\x00",
        "-" * 43 + "=",
        "_" * 43 + "=",
        "A" * 44,
        "A" * 42 + "B=",
        "*" * 43 + "=",
        "?" * 43 + "=",
        "[a-z]" * 8 + "AAA=",
        "\x00" * 44,
        "é" * 44,
        "\uff10" * 43 + "=",  # fullwidth digit zero
        "sesh:" + session_id,
        "../" + session_id,
        "x" * 10_000_000,
    ]


class InputChecks(Harness):
    """Wrong types raise TypeError, bad values ValueError, malformed ids are no session."""

    @pytest.mark.parametrize("ttl", BAD_TTL_TYPES, ids=shown)
    def test_ttl_of_the_wrong_type_is_refused(self, ttl: Any) -> None:
        with pytest.raises(TypeError):
            self.kit.build(ttl=ttl)

    @pytest.mark.parametrize("ttl", BAD_TTL_VALUES, ids=shown)
    def test_bad_ttl_value_is_refused(self, ttl: Any) -> None:
        with pytest.raises(ValueError, match="ttl"):
            self.kit.build(ttl=ttl)

    def test_bad_user_ids_are_refused(self) -> None:
        store = self.kit.open(ttl=60)
        for user_id in BAD_USER_ID_TYPES:
            with pytest.raises(TypeError, match="user_id"):
                store.set(user_id)
        for user_id in BAD_USER_ID_VALUES:
            with pytest.raises(ValueError, match="user_id"):
                store.set(user_id)
        assert store.get(store.set("alice")) == "alice"

    def test_session_id_of_the_wrong_type_is_a_type_error(self) -> None:
        store = self.kit.open(ttl=60)
        session_id = store.set("alice")
        for bad in [*_BAD_SESSION_ID_TYPES, session_id.encode("ascii")]:
            for call in (store.get, store.liv, store.die):
                with pytest.raises(TypeError, match="session_id"):
                    call(bad)
            with pytest.raises(TypeError, match="session_id"):
                store.get(bad, touch=True)
        assert store.get(session_id) == "alice"

    def test_touch_must_be_a_bool(self) -> None:
        store = self.kit.open(ttl=60)
        session_id = store.set("alice")
        for touch in ["yes", 1, None]:
            with pytest.raises(TypeError, match="touch"):
                store.get(session_id, touch=touch)

    def test_malformed_session_ids_are_no_session(self) -> None:
        store = self.kit.open(ttl=60)
        session_id = store.set("alice")
        for bad in malformed_ids(session_id):
            assert store.get(bad) is None
            assert store.get(bad, touch=True) is None
            assert store.liv(bad) is False
            assert store.die(bad) is False
        assert store.get(session_id) == "alice", "a malformed id reached a real session"

    def test_any_other_string_is_no_session(self) -> None:
        store = self.kit.open(ttl=60)
        session_id = store.set("alice")

        @settings(
            max_examples=self.hypothesis_examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            database=None,
        )
        @given(
            st.text(max_size=100)
            | st.text(alphabet=_ALPHABET, min_size=44, max_size=44)
            | st.text(min_size=44, max_size=44)
        )
        def check(text: str) -> None:
            if text == session_id:
                return
            assert store.get(text) is None
            assert store.liv(text) is False
            assert store.die(text) is False

        check()
        assert store.get(session_id) == "alice"
