"""Twins checked, not generated: every face of a store offers the same verbs, alike.

The sync and async stores of each backend, the four protocols, the kit's store view and
the command line must expose the same verbs with the same signatures (``close`` and
``aclose`` are each kind's own). A verb added to one and forgotten in another fails here.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from sesh import AsyncSeshStore, AsyncSessionStore, SeshStore, SessionStore
from sesh.backends.memory import AsyncMemoryStore, MemoryStore
from sesh.backends.postgres import AsyncPostgresStore, PostgresStore
from sesh.backends.redis import AsyncRedisStore, RedisStore
from sesh.backends.sqlite import AsyncSqliteStore, SqliteStore
from sesh.cli import _parser
from sesh.testing._harness import StoreView

VERBS = ("set", "get", "liv", "die")
MORE = ("rotate", "sessions", "die_all")
TWINS = [
    (MemoryStore, AsyncMemoryStore),
    (SqliteStore, AsyncSqliteStore),
    (RedisStore, AsyncRedisStore),
    (PostgresStore, AsyncPostgresStore),
    (SessionStore, AsyncSessionStore),
    (SeshStore, AsyncSeshStore),
]


def shape(function: Any) -> list[tuple[str, Any, Any]]:
    """A signature as (name, kind, default) per parameter, less ``self``: what a caller
    sees (annotations are compared apart, since async ones are the same types)."""
    parameters = list(inspect.signature(function).parameters.values())
    return [(p.name, p.kind, p.default) for p in parameters if p.name != "self"]


def annotations_of(function: Any) -> dict[str, Any]:
    return {k: str(v) for k, v in inspect.get_annotations(function).items()}


@pytest.mark.parametrize(("sync", "async_"), TWINS, ids=lambda c: c.__name__)
def test_sync_and_async_twins_have_the_same_verbs(sync: type, async_: type) -> None:
    verbs = VERBS + (MORE if sync not in (SessionStore,) else ())
    for verb in verbs:
        mine, theirs = getattr(sync, verb), getattr(async_, verb)
        assert not inspect.iscoroutinefunction(mine), f"{sync.__name__}.{verb}"
        assert inspect.iscoroutinefunction(theirs), f"{async_.__name__}.{verb}"
        assert shape(mine) == shape(theirs), verb
        assert annotations_of(mine) == annotations_of(theirs), verb
    assert hasattr(sync, "close")
    assert hasattr(async_, "aclose")
    assert inspect.iscoroutinefunction(async_.aclose)


@pytest.mark.parametrize(("sync", "async_"), TWINS[:4] + TWINS[5:], ids=lambda c: c.__name__)
def test_handle_and_the_options_are_plain_on_both_twins(sync: Any, async_: Any) -> None:
    # No I/O: handle() is not awaitable on an async store, and the options are properties.
    for cls in (sync, async_):
        assert not inspect.iscoroutinefunction(cls.handle)
        for option in ("track_users", "max_age", "hash_ids"):
            assert isinstance(inspect.getattr_static(cls, option), property), option
    assert shape(sync.handle) == shape(async_.handle)
    assert annotations_of(sync.handle) == annotations_of(async_.handle)


@pytest.mark.parametrize("store", [MemoryStore, SqliteStore, RedisStore, PostgresStore])
def test_each_store_offers_what_the_protocols_declare(store: type) -> None:
    for verb in VERBS + MORE:
        assert shape(getattr(store, verb)) == shape(getattr(SeshStore, verb)), verb
        assert annotations_of(getattr(store, verb)) == annotations_of(getattr(SeshStore, verb))


def test_the_kit_sees_every_verb_as_a_store_has_it() -> None:
    for verb in (*VERBS, *MORE, "handle"):
        assert shape(getattr(StoreView, verb)) == shape(getattr(SeshStore, verb)), verb


def test_the_command_line_has_every_verb() -> None:
    commands: Any = _parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    expected = {verb.replace("_", "-") for verb in VERBS + MORE} | {"check", "schema"}
    assert set(commands) == expected
    for verb in ("get", "liv", "die", "rotate"):
        positional = [a.dest for a in commands[verb]._actions if not a.option_strings]
        assert positional == ["session_id"], verb
    for verb in ("set", "sessions", "die-all"):
        positional = [a.dest for a in commands[verb]._actions if not a.option_strings]
        assert positional == ["user_id"], verb
    touch = [a for a in commands["get"]._actions if a.dest == "touch"]
    assert touch, "get has no --touch, as the stores' get has touch="
