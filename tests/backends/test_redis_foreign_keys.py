"""Keys under the prefix that sesh did not write (another type: a list, a string where a
hash belongs): never turned into a session, and no script leaves a key without its expiry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

import sesh
from sesh._core import SessionCore
from sesh.backends.redis import RedisStore

SESSION_ID = "k3JwWnbQ1pVYv8aWl9sqj2P4x7Hh0bGdTmZr5uNcEeA="


@pytest.fixture
def store_on(redis_url: str, prefix: str) -> Iterator[Callable[..., RedisStore]]:
    made: list[RedisStore] = []

    def make(**options: Any) -> RedisStore:
        made.append(RedisStore.from_url(redis_url, prefix=prefix, ttl=600, **options))
        return made[-1]

    yield make
    for store in made:
        store.close()


def snapshot(raw: redis.Redis, prefix: str) -> dict[Any, tuple[Any, bool]]:
    """Every key under the prefix: its type, and whether it has an expiry."""
    return {key: (raw.type(key), raw.pttl(key) > 0) for key in raw.scan_iter(match=f"{prefix}:*")}


@pytest.mark.parametrize(
    ("options", "foreign"),
    [({}, "list"), ({"max_age": 600}, "string"), ({"track_users": True}, "list")],
    ids=["default: a list", "max_age: a string", "track_users: a list"],
)
def test_rotate_never_moves_a_foreign_key(
    raw: redis.Redis, prefix: str, store_on: Callable[..., RedisStore], options: Any, foreign: str
) -> None:
    store = store_on(**options)
    key = SessionCore(prefix, **options).key(SESSION_ID)
    if foreign == "list":
        raw.rpush(key, "not a session")
    else:
        raw.set(key, "not a session")
    before = snapshot(raw, prefix)
    with pytest.raises(sesh.BackendError, match="WRONGTYPE"):
        store.rotate(SESSION_ID)
    assert snapshot(raw, prefix) == before  # nothing renamed, nothing written


def test_a_hash_that_is_no_session_is_not_moved(
    raw: redis.Redis, prefix: str, store_on: Callable[..., RedisStore]
) -> None:
    store = store_on(max_age=600)
    key = SessionCore(prefix, max_age=600).key(SESSION_ID)
    raw.hset(key, "owner", "another program")  # a hash, as sessions are here, with no user
    before = snapshot(raw, prefix)
    assert store.get(SESSION_ID) is None
    assert store.rotate(SESSION_ID) is None
    assert snapshot(raw, prefix) == before
    assert raw.hgetall(key) == {b"owner": b"another program"}


def test_a_foreign_user_index_makes_no_session_and_leaves_none_without_expiry(
    raw: redis.Redis, prefix: str, store_on: Callable[..., RedisStore]
) -> None:
    store = store_on(track_users=True, max_age=3600)
    index = SessionCore(prefix, track_users=True).index_key("alice")
    raw.rpush(index, "not an index")
    with pytest.raises(sesh.BackendError, match="WRONGTYPE"):
        store.set("alice")
    assert snapshot(raw, prefix) == {index.encode(): (b"list", False)}  # no half session


def test_a_session_whose_index_turned_foreign(
    raw: redis.Redis, prefix: str, store_on: Callable[..., RedisStore]
) -> None:
    store = store_on(track_users=True)
    session_id = store.set("alice")
    index = SessionCore(prefix, track_users=True).index_key("alice")
    raw.delete(index)
    raw.rpush(index, "not an index")
    before = snapshot(raw, prefix)
    for call in (lambda: store.get(session_id, touch=True), lambda: store.liv(session_id)):
        with pytest.raises(sesh.BackendError, match="WRONGTYPE"):
            call()
    with pytest.raises(sesh.BackendError, match="WRONGTYPE"):
        store.rotate(session_id)
    assert snapshot(raw, prefix) == before
    assert store.get(session_id) == "alice"
    assert store.die(session_id) is True  # logging out still works, and spares the list
    assert snapshot(raw, prefix) == {index.encode(): (b"list", False)}
    with pytest.raises(sesh.BackendError, match="WRONGTYPE"):
        store.sessions("alice")


def test_every_verb_leaves_every_session_key_with_its_expiry(
    raw: redis.Redis, prefix: str, store_on: Callable[..., RedisStore]
) -> None:
    store = store_on(track_users=True, max_age=3600)
    ids = [store.set("alice") for _ in range(3)]
    store.get(ids[0], touch=True)
    store.liv(ids[1])
    ids[2] = store.rotate(ids[2]) or ""
    store.die(ids[0])
    keys = snapshot(raw, prefix)
    assert len(keys) == 3  # two sessions and their user's index
    assert all(has_expiry for _, has_expiry in keys.values()), keys
