"""What the options cost on the wire, and what they keep in Redis, on a real redis-server."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest
import redis

from sesh.backends.redis import RedisStore
from testbed.redis_data import age_keys

DAY = 24 * 3600


@pytest.fixture(scope="module")
def redis_url(private_redis_url: str) -> str:
    """This module counts commands on the server (statistics, MONITOR): a server of its own."""
    return private_redis_url


def sent(raw: redis.Redis, call: Callable[[], Any]) -> list[str]:
    """The commands a call sent, by name (not those its scripts ran inside Redis, nor
    the handshake of the connection that sends the end marker)."""
    marker = f"sesh-end-{secrets.token_hex(4)}"
    with raw.monitor() as monitor:
        call()
        raw.echo(marker)
        names: list[str] = []
        while True:
            command = monitor.next_command()
            if command["command"] == f"ECHO {marker}":
                return names
            name = command["command"].split()[0]
            if command["client_type"] != "lua" and name != "HELLO":
                names.append(name)


LAYOUTS: dict[str, dict[str, Any]] = {
    "default": {},
    "hash_ids": {"hash_ids": True},
    "max_age": {"max_age": 3600},
    "track_users": {"track_users": True},
    "all three": {"track_users": True, "max_age": 3600, "hash_ids": True},
}
PLAIN = {
    "set": ["SET"],
    "get": ["GET"],
    "touch": ["GETEX"],
    "liv": ["PEXPIRE"],
    "die": ["DEL"],
    "rotate": ["EVALSHA"],
}
SCRIPTED = {
    "set": ["EVALSHA"],
    "get": ["HGET"],
    "touch": ["EVALSHA"],
    "liv": ["EVALSHA"],
    "die": ["DEL"],
    "rotate": ["EVALSHA"],
}
TRACKED = {**SCRIPTED, "die": ["EVALSHA"], "sessions": ["EVALSHA"], "die_all": ["EVALSHA"]}
EXPECTED = {
    "default": PLAIN,
    "hash_ids": PLAIN,
    "max_age": SCRIPTED,
    "track_users": TRACKED,
    "all three": TRACKED,
}


def verbs(store: RedisStore) -> dict[str, Callable[[], Any]]:
    ids = [store.set("alice") for _ in range(3)]
    calls: dict[str, Callable[[], Any]] = {
        "set": lambda: store.set("alice"),
        "get": lambda: store.get(ids[0]),
        "touch": lambda: store.get(ids[0], touch=True),
        "liv": lambda: store.liv(ids[0]),
        "die": lambda: store.die(ids[1]),
        "rotate": lambda: store.rotate(ids[2]),
    }
    if store.track_users:
        calls["sessions"] = lambda: store.sessions("alice")
        calls["die_all"] = lambda: store.die_all("alice")
    return calls


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_verb_is_one_command_in_every_layout(
    raw: redis.Redis, redis_url: str, prefix: str, layout: str
) -> None:
    with RedisStore.from_url(redis_url, prefix=prefix, ttl=60, **LAYOUTS[layout]) as store:
        for call in verbs(store).values():  # the server caches each script once
            call()
        seen = {name: sent(raw, call) for name, call in verbs(store).items()}
    assert seen == EXPECTED[layout]


def test_a_restarted_server_gets_the_script_again(raw: redis.Redis, redis_url: str) -> None:
    with RedisStore.from_url(redis_url, prefix="sesh-opt-flush", ttl=60, max_age=60) as store:
        session_id = store.set("alice")
        raw.script_flush()  # as after a restart or a failover: the cache is empty
        assert sent(raw, lambda: store.liv(session_id)) == ["EVALSHA", "EVAL"]
        assert sent(raw, lambda: store.liv(session_id)) == ["EVALSHA"]
        assert store.die(session_id) is True


def index_of(raw: redis.Redis, prefix: str) -> bytes:
    (key,) = raw.scan_iter(match=f"{prefix}:*:user:alice")
    return key  # type: ignore[no-any-return]


def test_a_daily_login_for_a_year_leaves_one_index_entry(
    raw: redis.Redis, redis_url: str, prefix: str
) -> None:
    with RedisStore.from_url(redis_url, prefix=prefix, ttl=DAY, track_users=True) as store:
        for _ in range(365):
            store.set("alice")
            age_keys(raw, list(raw.scan_iter(match=f"{prefix}:*")), DAY + 1)
        last = store.set("alice")
        assert raw.zcard(index_of(raw, prefix)) == 1
        assert store.sessions("alice") == [last]
        age_keys(raw, list(raw.scan_iter(match=f"{prefix}:*")), DAY + 1)
        assert list(raw.scan_iter(match=f"{prefix}:*")) == [], "the index outlived its sessions"


def test_the_index_lives_as_long_as_its_longest_session(
    raw: redis.Redis, redis_url: str, prefix: str
) -> None:
    options: dict[str, Any] = {"prefix": prefix, "track_users": True}
    with (
        RedisStore.from_url(redis_url, ttl=60, **options) as short,
        RedisStore.from_url(redis_url, ttl=3600, **options) as long,
        RedisStore.from_url(redis_url, ttl=None, **options) as forever,
    ):
        long_id = long.set("alice")
        short.set("alice")
        index = index_of(raw, prefix)
        assert 3590_000 < raw.pttl(index) <= 3600_000
        assert short.liv(short.set("alice")) is True
        assert raw.pttl(index) > 3590_000, "the index may not expire before its sessions"
        assert long.die(long_id) is True
        short.set("alice")
        assert 50_000 < raw.pttl(index) <= 60_000, "the index outlives its sessions"
        forever.set("alice")
        assert raw.pttl(index) == -1  # a session that never expires keeps it forever
        assert short.die_all("alice") == 4
        assert raw.exists(index) == 0


def test_a_session_evicted_from_under_its_index_is_not_listed(
    raw: redis.Redis, redis_url: str, prefix: str
) -> None:
    with RedisStore.from_url(redis_url, prefix=prefix, ttl=60, track_users=True) as store:
        kept, evicted = store.set("alice"), store.set("alice")
        raw.delete(*[k for k in raw.scan_iter(match=f"{prefix}:*") if evicted.encode() in k])
        assert store.sessions("alice") == [kept]
        assert raw.zcard(index_of(raw, prefix)) == 1


def test_a_session_keeps_its_absolute_deadline_in_redis(
    raw: redis.Redis, redis_url: str, prefix: str
) -> None:
    with RedisStore.from_url(redis_url, prefix=prefix, ttl=60, max_age=90) as store:
        session_id = store.set("alice")
        (key,) = raw.scan_iter(match=f"{prefix}:*")
        assert raw.hget(key, "u") == b"alice"
        age_keys(raw, [key], 50)  # 40 s left of max_age: liv may not give the full 60
        assert store.liv(session_id) is True
        assert 39_000 < raw.pttl(key) <= 40_000


@pytest.mark.parametrize("options", [{}, {"track_users": True, "max_age": 60}], ids=repr)
def test_monitor_shows_no_session_id_when_ids_are_hashed(
    raw: redis.Redis, redis_url: str, prefix: str, options: dict[str, Any]
) -> None:
    marker = f"sesh-end-{secrets.token_hex(4)}"
    with (
        RedisStore.from_url(redis_url, prefix=prefix, ttl=60, hash_ids=True, **options) as store,
        raw.monitor() as monitor,
    ):
        made = [store.set("alice-the-user") for _ in range(2)]
        store.get(made[0], touch=True)
        store.liv(made[0])
        made.append(store.rotate(made[0]) or "")
        store.die(made[1])
        raw.echo(marker)
        lines: list[str] = []
        while not lines or marker not in lines[-1]:
            lines.append(monitor.next_command()["command"])
    seen = "\n".join(lines)
    assert "alice-the-user" in seen
    for session_id in made:
        assert session_id not in seen, "MONITOR shows a session id"
