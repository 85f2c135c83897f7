"""The pure semantics: ids, validation, ttl arithmetic, key naming and the verb flows."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sesh import _core, _ops, _validate
from sesh._core import SessionCore
from sesh._ops import Delete, Fetch, Insert, Refresh
from sesh.errors import NotEnabledError, SeshError


@given(st.binary(min_size=32, max_size=32))
def test_every_base64_of_32_bytes_is_a_session_id(raw: bytes) -> None:
    assert _validate.is_session_id(base64.b64encode(raw).decode("ascii"))


@given(st.text())
def test_only_base64_of_32_bytes_is_a_session_id(text: str) -> None:
    try:
        valid = len(base64.b64decode(text, validate=True)) == 32
        valid = valid and base64.b64encode(base64.b64decode(text)).decode() == text
    except ValueError:
        valid = False
    assert _validate.is_session_id(text) == valid


def test_new_ids_are_session_ids() -> None:
    ids = {_validate.new_session_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(_validate.is_session_id(i) and len(i) == _validate.ID_LENGTH for i in ids)


@pytest.mark.parametrize(
    ("ttl", "ms"),
    [
        (None, None),
        (0, None),
        (0.0, None),
        (timedelta(0), None),
        (1, 1000),
        (0.001, 1),
        (0.0015, 2),
        (1.2345, 1234),
        (86400, 86_400_000),
        (timedelta(minutes=30), 1_800_000),
        (timedelta(milliseconds=250), 250),
        (_validate.MAX_TTL_SECONDS, _validate.MAX_TTL_SECONDS * 1000),
    ],
)
def test_ttl_to_ms(ttl: _validate.Ttl, ms: int | None) -> None:
    assert _validate.ttl_to_ms(ttl) == ms


@pytest.mark.parametrize("ttl", [_validate.MAX_TTL_SECONDS + 1, 10**400, 0.0004, -1e-9])
def test_ttl_out_of_range(ttl: float) -> None:
    with pytest.raises(ValueError, match="ttl"):
        _validate.ttl_to_ms(ttl)


def test_deadline_arithmetic() -> None:
    assert _ops.deadline(100.0, None) is None
    assert _ops.deadline(100.0, 1500) == 101.5
    assert not _ops.is_expired(None, 1e18)
    assert not _ops.is_expired(101.5, 101.499)
    assert _ops.is_expired(101.5, 101.5)


@pytest.mark.parametrize(
    ("user_id", "stored"),
    [("alice", "alice"), (42, "42"), (-1, "-1"), ("é" * 512, "é" * 512), (10**1000, str(10**1000))],
)
def test_user_ids_are_stored_as_text(user_id: str | int, stored: str) -> None:
    assert _validate.check_user_id(user_id) == stored


def test_huge_int_user_id_is_refused_cheaply() -> None:
    with pytest.raises(ValueError, match="longer than 1024"):
        _validate.check_user_id(10**100_000)


class Text(str):
    pass


def test_str_subclasses_are_stored_as_plain_str() -> None:
    assert type(_validate.check_user_id(Text("alice"))) is str


@pytest.mark.parametrize(
    ("prefix", "error"),
    [(None, TypeError), (b"sesh", TypeError), ("", ValueError), ("x" * 257, ValueError)],
)
def test_bad_prefix(prefix: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="prefix"):
        SessionCore(prefix, None)  # type: ignore[arg-type]


def drive(flow: _core.Flow[object], replies: list[object]) -> tuple[list[_ops.Op], object]:
    """Runs a flow on canned replies; returns the operations it asked for and its result."""
    ops: list[_ops.Op] = []
    try:
        ops.append(next(flow))
        for reply in replies:
            ops.append(flow.send(reply))
    except StopIteration as done:
        return ops, done.value
    raise AssertionError("the flow asked for more operations than expected")


def test_each_verb_is_one_operation() -> None:
    core = SessionCore("app", 90)
    ops, session_id = drive(core.set_flow(7), [True])
    assert ops == [Insert(f"app:{session_id}", "7", 90_000)]
    assert core.get_op(session_id) == Fetch(f"app:{session_id}", None)
    assert core.get_op(session_id, True) == Fetch(f"app:{session_id}", 90_000)
    assert core.liv_op(session_id) == Refresh(f"app:{session_id}", 90_000)
    assert core.die_op(session_id) == Delete(f"app:{session_id}")


def test_without_ttl_touch_is_a_plain_read_and_liv_a_check() -> None:
    core = SessionCore("app", None)
    session_id = _validate.new_session_id()
    assert core.get_op(session_id, True) == Fetch(f"app:{session_id}", None)
    assert core.liv_op(session_id) == Refresh(f"app:{session_id}", None)


def test_malformed_ids_are_no_operation() -> None:
    core = SessionCore("app", 90)
    assert core.get_op("x") is None
    assert core.get_op("x", True) is None
    assert core.liv_op("x") is None
    assert core.die_op("x") is None


def test_set_draws_again_on_collision_then_gives_up() -> None:
    core = SessionCore("app", None)
    ops, session_id = drive(core.set_flow("u"), [False, False, True])
    assert len(ops) == 3
    assert all(isinstance(op, Insert) for op in ops)
    keys = [op.key for op in ops if isinstance(op, Insert)]
    assert len(set(keys)) == 3
    assert keys[-1] == f"app:{session_id}"
    with pytest.raises(SeshError, match="draws"):
        drive(core.set_flow("u"), [False] * _core.MAX_ID_DRAWS)


def test_option_types_and_values_are_checked() -> None:
    for bad in (1, "yes", None):
        with pytest.raises(TypeError, match="track_users"):
            SessionCore("app", 60, track_users=bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="hash_ids"):
            SessionCore("app", 60, hash_ids=bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="max_age"):
        SessionCore("app", 60, max_age="60")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_age"):
        SessionCore("app", 60, max_age=-1)
    assert SessionCore("app", 60, max_age=0).max_age is None
    for prefix in ("a{b", "a}b", "{x}"):
        SessionCore(prefix, 60, hash_ids=True)  # the default layout takes any prefix
        with pytest.raises(ValueError, match="hash tag"):
            SessionCore(prefix, 60, track_users=True)
        with pytest.raises(ValueError, match="hash tag"):
            SessionCore(prefix, 60, max_age=60)


def test_key_layouts() -> None:
    session_id = _validate.new_session_id()
    digest = hashlib.sha256(session_id.encode()).hexdigest()
    tag = "{" + session_id[:2] + "}"
    assert SessionCore("app").key(session_id) == f"app:{session_id}"
    assert SessionCore("app", hash_ids=True).key(session_id) == f"app:{digest}"
    assert SessionCore("app", max_age=60).key(session_id) == f"app:{tag}{session_id}"
    both = SessionCore("app", track_users=True, hash_ids=True)
    assert both.key(session_id) == f"app:{tag}{digest}"
    assert both.index_key("alice") == "app:{" + _core.user_tag("alice") + "}:user:alice"


def test_a_tracked_users_ids_share_its_tag_and_stay_well_formed() -> None:
    core = SessionCore("app", 60, track_users=True)
    for user in ["alice", "bob", "Zoë 🐍", "7"]:
        for _ in range(20):
            _, session_id = drive(core.set_flow(user), [True])
            assert isinstance(session_id, str)
            assert _validate.is_session_id(session_id)
            assert session_id[:2] == _core.user_tag(user)
    tags = {_core.user_tag(str(n)) for n in range(2000)}
    assert len(tags) > 1500, "user tags should spread over the 4096 possible"


def test_rotation_ops_keep_the_tag_when_sessions_are_records() -> None:
    core = SessionCore("app", 60, track_users=True)
    _, old = drive(core.set_flow("alice"), [True])
    ops, new = drive(core.rotate_flow(old), [False, True])
    assert len(ops) == 2, "a taken new id is drawn again"
    for op in ops:
        assert isinstance(op, _ops.Rotate)
        assert op.key == core.key(str(old))
        assert op.new_key.startswith("app:{" + str(old)[:2] + "}")
    assert new is not None
    assert isinstance(ops[1], _ops.Rotate)
    assert core.key(str(new)) == ops[1].new_key
    assert drive(core.rotate_flow(old), [None])[1] is None
    with pytest.raises(SeshError, match="draws"):
        drive(core.rotate_flow(old), [False] * _core.MAX_ID_DRAWS)


def test_records_are_never_rotated_in_two_steps() -> None:
    # Take gives back only the user: a record's absolute deadline and index would be lost.
    for options in ({"max_age": 60}, {"track_users": True}):
        core = SessionCore("app", 60, **options)
        with pytest.raises(SeshError, match="one step"):
            drive(core.rotate_flow(_validate.new_session_id(), atomic=False), [])


def test_rotation_in_two_steps_takes_then_inserts() -> None:
    core = SessionCore("app", 60)
    old = _validate.new_session_id()
    ops, new = drive(core.rotate_flow(old, atomic=False), ["alice", False, True])
    assert ops[0] == _ops.Take(f"app:{old}")
    assert [type(op) for op in ops[1:]] == [Insert, Insert]
    assert ops[2] == Insert(f"app:{new}", "alice", 60_000)
    assert drive(core.rotate_flow(old, atomic=False), [None])[1] is None


def test_sessions_and_die_all_need_track_users() -> None:
    with pytest.raises(NotEnabledError, match="track_users"):
        SessionCore("app").list_user_op("alice")
    with pytest.raises(NotEnabledError, match="track_users"):
        SessionCore("app").delete_user_op("alice")
    with pytest.raises(TypeError, match="user_id"):
        SessionCore("app", track_users=True).list_user_op(None)


def test_handles_are_taken_by_die_only_when_hashed_and_tracked() -> None:
    core = SessionCore("app", 60, track_users=True, hash_ids=True)
    _, session_id = drive(core.set_flow("alice"), [True])
    key = core.key(str(session_id))
    handle = core.sessions_of([key.removeprefix("app:")])[0]
    assert handle == key.removeprefix("app:")
    assert core.die_op(handle) == Delete(key, handle)
    assert core.get_op(handle) is None
    assert core.liv_op(handle) is None
    assert SessionCore("app", 60, hash_ids=True).die_op(handle) is None
    assert SessionCore("app", 60, track_users=True).die_op(handle) is None
