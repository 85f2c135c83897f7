"""The kit's checks of track_users: sessions(user) lists, die_all(user) logs out everywhere."""

from __future__ import annotations

from typing import Any

import pytest

from sesh.errors import NotEnabledError
from sesh.testing._harness import Harness
from sesh.testing._inputs import BAD_USER_ID_TYPES, BAD_USER_ID_VALUES
from sesh.testing._verbs import unknown_id

__all__ = ["UserChecks"]


class UserChecks(Harness):
    """With track_users, a user's live sessions can be listed and ended together."""

    def test_sessions_lists_the_live_sessions_of_one_user(self) -> None:
        self.kit.needs("track_users")
        store = self.kit.open(ttl=60, track_users=True)
        alice = [store.set("alice") for _ in range(3)]
        bob = store.set("bob")
        assert sorted(store.sessions("alice")) == sorted(alice)
        assert store.sessions("bob") == [bob]
        assert store.sessions("carol") == []
        assert store.die(alice[0]) is True
        assert sorted(store.sessions("alice")) == sorted(alice[1:]), "die left a session listed"

    def test_die_all_ends_every_session_of_the_user_and_no_other(self) -> None:
        self.kit.needs("track_users")
        store = self.kit.open(ttl=60, track_users=True)
        alice = [store.set("alice") for _ in range(5)]
        bob = store.set("bob")
        assert store.die_all("alice") == 5
        for session_id in alice:
            assert store.get(session_id) is None, "die_all missed a session"
        assert store.sessions("alice") == []
        assert store.die_all("alice") == 0
        assert store.get(bob) == "bob"
        assert store.sessions("bob") == [bob]

    def test_int_and_str_user_ids_are_one_user(self) -> None:
        self.kit.needs("track_users")
        store = self.kit.open(ttl=60, track_users=True)
        first, second = store.set(42), store.set("42")
        assert sorted(store.sessions(42)) == sorted([first, second])
        assert store.die_all("42") == 2

    @pytest.mark.parametrize(
        "users",
        [
            ("a", "a:b"),
            ("x", "x "),
            ("Zoë 🐍", "Zoe"),
            ("1", "01"),
            ("alice", "Alice"),
            ("\u00e9", "e\u0301"),  # é composed and decomposed: equal after NFC only
        ],
    )
    def test_similar_user_ids_are_kept_apart(self, users: tuple[str, str]) -> None:
        self.kit.needs("track_users")
        store = self.kit.open(ttl=60, track_users=True)
        first, second = (store.set(user) for user in users)
        assert store.sessions(users[0]) == [first]
        assert store.die_all(users[1]) == 1
        assert store.get(first) == users[0]
        assert store.get(second) is None

    def test_expired_sessions_are_never_listed(self) -> None:
        self.kit.needs("track_users")
        ttl = self.short_ttl
        store = self.kit.open(ttl=ttl, track_users=True)
        early = store.set("alice")
        kept = store.set("alice")
        self.pass_time(0.6 * ttl)
        late = store.set("alice")
        assert store.liv(kept) is True
        self.pass_time(0.5 * ttl)
        assert sorted(store.sessions("alice")) == sorted([kept, late])
        assert store.get(early) is None
        self.pass_time(0.6 * ttl)
        assert store.sessions("alice") == [], "an expired session was listed"
        assert store.die_all("alice") == 0, "die_all counted expired sessions"

    def test_touch_keeps_a_session_listed(self) -> None:
        self.kit.needs("track_users")
        ttl = self.short_ttl
        store = self.kit.open(ttl=ttl, track_users=True)
        session_id = store.set("alice")
        for _ in range(3):
            self.pass_time(0.6 * ttl)
            assert store.get(session_id, touch=True) == "alice"
        assert store.sessions("alice") == [session_id]

    def test_rotate_replaces_the_listed_session(self) -> None:
        self.kit.needs("track_users", "rotate")
        store = self.kit.open(ttl=60, track_users=True)
        old, other = store.set("alice"), store.set("alice")
        new = store.rotate(old)
        assert sorted(store.sessions("alice")) == sorted([new, other])
        assert store.die_all("alice") == 2
        assert store.get(new) is None

    def test_die_all_counts_only_the_sessions_it_ended(self) -> None:
        # Sessions that other verbs already ended (die, rotate, expiry) may still sit in a
        # user's index: they are not counted, and the rotated one's new id is.
        self.kit.needs("track_users")
        ttl = self.short_ttl
        store = self.kit.open(ttl=ttl, track_users=True)
        expiring = store.set("alice")
        self.pass_time(0.6 * ttl)
        killed, kept = store.set("alice"), store.set("alice")
        assert store.die(killed) is True
        live = [kept]
        if "rotate" in self.capabilities:
            rotated = store.rotate(store.set("alice"))
            live.append(rotated)
        self.pass_time(0.5 * ttl)  # the first session is past its ttl; the others are not
        assert store.get(expiring) is None
        assert sorted(store.sessions("alice")) == sorted(live)
        assert store.die_all("alice") == len(live), "die_all counted sessions already ended"
        assert store.die_all("alice") == 0

    def test_sessions_without_ttl_are_listed_and_ended(self) -> None:
        self.kit.needs("track_users")
        store = self.kit.open(ttl=None, track_users=True)
        made = [store.set("alice") for _ in range(3)]
        self.pass_time(self.short_ttl)
        assert store.get(made[0], touch=True) == "alice"
        assert store.liv(made[1]) is True
        self.pass_time(1.5 * self.short_ttl)  # touch and liv gave them no deadline
        assert sorted(store.sessions("alice")) == sorted(made)
        assert store.die_all("alice") == 3
        assert [store.get(session_id) for session_id in made] == [None] * 3

    def test_handles_are_no_session_ids(self) -> None:
        # What sessions() gives out with hash_ids is for die() alone: every other verb
        # that takes an id, with every flag, treats it as no session and changes nothing.
        self.kit.needs("track_users", "hash_ids")
        ttl = self.short_ttl
        store = self.kit.open(ttl=ttl, track_users=True, hash_ids=True)
        session_id = store.set("alice")
        (handle,) = store.sessions("alice")
        self.pass_time(0.6 * ttl)
        assert store.get(handle) is None
        assert store.get(handle, touch=True) is None, "a handle touched a session"
        assert store.liv(handle) is False, "a handle refreshed a session"
        if "rotate" in self.capabilities:
            assert store.rotate(handle) is None, "a handle rotated a session"
        self.pass_time(0.5 * ttl)  # had anything refreshed it, it would still be alive
        assert store.get(session_id) is None, "a verb given a handle refreshed the session"
        other = self.kit.open(
            ttl=60, prefix=f"{self.kit.prefix}-other", track_users=True, hash_ids=True
        )
        mine = store.set("bob")
        (bobs,) = store.sessions("bob")
        assert other.die(bobs) is False, "a handle ended a session of another prefix"
        assert store.get(mine) == "bob"
        plain = self.kit.open(ttl=60, hash_ids=True)  # the same prefix, no track_users
        assert plain.die(bobs) is False, "a store without track_users took a handle"
        assert store.get(mine) == "bob"

    def test_a_handle_names_a_session_without_its_id(self) -> None:
        # What a page or an API shows for a device: stable, distinct, and no id in it.
        self.kit.needs("track_users")
        store = self.kit.open(ttl=60, track_users=True)
        first, second = store.set("alice"), store.set("alice")
        handle = store.handle(first)
        assert type(handle) is str
        assert handle == store.handle(first)
        assert handle != store.handle(second)
        for piece in (first, first[:20], first[-24:]):
            assert piece not in handle, "a handle shows the session id"
        assert store.handle("not a session id") is None
        with pytest.raises(TypeError):
            store.handle(None)
        if "hash_ids" in self.capabilities:
            hashed = self.kit.open(
                ttl=60, prefix=f"{self.kit.prefix}-h", track_users=True, hash_ids=True
            )
            made = [hashed.set("alice") for _ in range(2)]
            assert sorted(hashed.sessions("alice")) == sorted(hashed.handle(i) for i in made)

    def test_many_sessions_of_one_user(self) -> None:
        self.kit.needs("track_users")
        store = self.kit.open(ttl=60, track_users=True)
        made = {store.set("alice") for _ in range(100)}
        assert set(store.sessions("alice")) == made
        assert store.die_all("alice") == 100

    def test_sessions_and_die_all_refuse_bad_user_ids(self) -> None:
        self.kit.needs("track_users")
        store = self.kit.open(ttl=60, track_users=True)
        for verb in (store.sessions, store.die_all):
            for user_id in BAD_USER_ID_TYPES:
                with pytest.raises(TypeError, match="user_id"):
                    verb(user_id)
            for user_id in BAD_USER_ID_VALUES:
                with pytest.raises(ValueError, match="user_id"):
                    verb(user_id)

    def test_without_track_users_both_calls_refuse(self) -> None:
        self.kit.needs("track_users")
        store = self.kit.open(ttl=60)
        session_id = store.set("alice")
        for verb in (store.sessions, store.die_all):
            with pytest.raises(NotEnabledError, match="track_users"):
                verb("alice")
        assert store.get(session_id) == "alice"

    def test_hashed_sessions_are_listed_as_handles_die_takes(self) -> None:
        self.kit.needs("track_users", "hash_ids")
        store = self.kit.open(ttl=60, track_users=True, hash_ids=True)
        made = [store.set("alice") for _ in range(3)]
        handles: list[Any] = store.sessions("alice")
        assert len(handles) == 3
        for handle in handles:
            assert type(handle) is str
            assert handle not in made, "a hashed store listed a session id"
            assert store.get(handle) is None, "a handle works as a session id"
            assert store.liv(handle) is False
        assert store.die(handles[0]) is True, "die did not take a handle from sessions()"
        assert store.die(handles[0]) is False
        assert sum(store.get(session_id) is None for session_id in made) == 1
        assert len(store.sessions("alice")) == 2
        assert store.die(unknown_id()) is False
