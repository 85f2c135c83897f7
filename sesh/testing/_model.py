"""The kit's model-based check: random sequences of verbs, compared step by step to a dict.

The verbs include rotate, and sessions and die_all on a store with track_users, when the
store declares them.

Where the kit controls time for the store (``pass_time`` is overridden: an injected clock,
or keys aged on the server), the sequences also move time, and the model expires sessions
by the same rule as the contract: a session is gone once its deadline is reached.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from sesh.testing._harness import Harness, StoreView
from sesh.testing._verbs import id_of

__all__ = ["ModelChecks"]

MODEL_TTL = 10.0  # seconds; when the kit controls time, steps run from 0.1 s to 25 s
MARGIN = 0.5  # no step ends this close to a deadline: real time runs on while a sequence runs

_known_users = st.sampled_from(["alice", "bob", 7, "7"])  # so users have several sessions
_users = (
    _known_users
    | st.integers(-(10**12), 10**12)
    | st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=24)
)
_malformed = st.sampled_from(["", "nope", "A" * 44, "*" * 43 + "=", "sesh:" + "A" * 43 + "="])
_unknown = st.binary(min_size=32, max_size=32).map(id_of)
_time_steps = st.sampled_from([0.5, 3.0, 6.0, 9.5, 10.5, 25.0]) | st.floats(0.1, 12.0)


class _Model(RuleBasedStateMachine):
    """A store and a dict of id -> (user, deadline) that must agree after every verb."""

    ids = Bundle("ids")
    # Mostly ids the store made (some expired or killed), sometimes unknown or malformed ones.
    # Unknown ids come from hypothesis's own bytes, not from secrets: a failure must replay
    # exactly, or hypothesis reports FlakyStrategyDefinition instead of the shrunk example.
    some_id = st.one_of(ids, ids, ids, _unknown, _malformed)

    def __init__(self, store: StoreView, suite: Harness, moves_time: bool) -> None:
        super().__init__()
        self.store = store
        self.suite = suite
        self.moves_time = moves_time
        self.rotates = "rotate" in suite.capabilities
        self.tracks = "track_users" in suite.capabilities
        self.ttl = MODEL_TTL if moves_time else None
        self.now = 0.0
        self.sessions: dict[str, tuple[str, float | None]] = {}

    def _live(self, session_id: str) -> str | None:
        user, deadline = self.sessions.get(session_id, (None, None))
        if user is not None and deadline is not None and deadline <= self.now:
            del self.sessions[session_id]
            return None
        return user

    def _refreshed(self, session_id: str) -> None:
        if self.ttl is not None:
            self.sessions[session_id] = (self.sessions[session_id][0], self.now + self.ttl)

    @rule(target=ids, user=_users)
    def set(self, user: str | int) -> str:
        session_id = self.store.set(user)
        assert session_id not in self.sessions, "set returned the id of a live session"
        deadline = None if self.ttl is None else self.now + self.ttl
        self.sessions[session_id] = (str(user), deadline)
        return session_id  # type: ignore[no-any-return]

    @rule(session_id=some_id, touch=st.booleans())
    def get(self, session_id: str, touch: bool) -> None:
        expected = self._live(session_id)
        assert self.store.get(session_id, touch=touch) == expected
        if touch and expected is not None:
            self._refreshed(session_id)

    @rule(session_id=some_id)
    def liv(self, session_id: str) -> None:
        expected = self._live(session_id) is not None
        assert self.store.liv(session_id) is expected
        if expected:
            self._refreshed(session_id)

    @rule(session_id=some_id)
    def die(self, session_id: str) -> None:
        expected = self._live(session_id) is not None
        assert self.store.die(session_id) is expected
        self.sessions.pop(session_id, None)

    @precondition(lambda self: self.rotates)
    @rule(target=ids, session_id=some_id)
    def rotate(self, session_id: str) -> Any:
        user = self._live(session_id)
        new_id = self.store.rotate(session_id)
        if user is None:
            assert new_id is None, "rotate answered for no live session"
            return multiple()
        assert new_id is not None, "rotate lost a live session"
        assert new_id not in self.sessions
        assert new_id != session_id
        del self.sessions[session_id]
        self.sessions[new_id] = (user, None if self.ttl is None else self.now + self.ttl)
        return new_id

    def _ids_of(self, user: str | int) -> list[str]:
        return sorted(i for i in list(self.sessions) if self._live(i) == str(user))

    @precondition(lambda self: self.tracks)
    @rule(user=_known_users)
    def sessions_of(self, user: str | int) -> None:
        assert sorted(self.store.sessions(user)) == self._ids_of(user)

    @precondition(lambda self: self.tracks)
    @rule(user=_known_users)
    def die_all(self, user: str | int) -> None:
        ids = self._ids_of(user)
        assert self.store.die_all(user) == len(ids)
        for session_id in ids:
            del self.sessions[session_id]

    @precondition(lambda self: self.moves_time)
    @rule(seconds=_time_steps)
    def pass_time(self, seconds: float) -> None:
        later = self.now + seconds
        deadlines = [d for _, d in self.sessions.values() if d is not None]
        assume(all(abs(d - later) > MARGIN for d in deadlines))
        self.suite.pass_time(seconds)
        self.now = later


class ModelChecks(Harness):
    """The store agrees with a simple model over random sequences of verbs."""

    def test_agrees_with_a_model(self) -> None:
        moves_time = type(self).pass_time is not Harness.pass_time
        runs = itertools.count()

        def machine() -> _Model:
            prefix = f"{self.kit.prefix}-m{next(runs)}"  # each sequence starts from an empty store
            ttl = MODEL_TTL if moves_time else None
            if "track_users" in self.capabilities:
                store = self.kit.open(ttl=ttl, prefix=prefix, track_users=True)
            else:
                store = self.kit.open(ttl=ttl, prefix=prefix)
            return _Model(store, self, moves_time)

        options: Any = settings(
            max_examples=max(10, self.hypothesis_examples // 5),
            stateful_step_count=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        # hypothesis takes any factory of machines, though its annotation names the class
        run_state_machine_as_test(machine, settings=options)  # type: ignore[arg-type]
