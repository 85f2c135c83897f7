"""Peers doing sesh's work on the same Redis: create a session for a user, read it back,
refresh its expiry, kill it; each peer used the way its docs say.

- starsessions' RedisStore (async), as its middleware drives it: a ``token_hex(16)`` id,
  a JSON-serialized session written with ``SET EX``, read with ``GET``, refreshed by
  writing it again, removed with ``DEL``. Compared with ``AsyncRedisStore``.
- cachelib's RedisCache, the store behind Flask-Session's cachelib backend: a
  ``token_urlsafe(32)`` id, the session dict pickled into ``SETEX``; refreshed by setting it
  again. Compared with ``RedisStore``.
- Django's cache-backed sessions on django-redis: ``SessionStore().create()``, reading a
  key, ``save()`` (what extends the expiry), ``delete()``. Compared with ``RedisStore``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import secrets
from collections.abc import Callable
from typing import Any

import redis
import redis.asyncio

from benchmarks import _django
from benchmarks._common import Ratio, Runner, atimed, interleave, ratio, verb_runner
from sesh.backends.redis import AsyncRedisStore, RedisStore

VERBS = ["create", "read", "refresh", "kill"]
TTL = 3600

Verbs = dict[str, Callable[[Any], Any]]  # verb -> call on a session (None for create)


def sync_contenders(url: str) -> dict[str, tuple[Verbs, Callable[[], Any]]]:
    """name -> (verbs, make a session to work on). Django must be configured first."""
    store = RedisStore.from_url(url, prefix="sesh", ttl=TTL)  # what an app gets
    sesh: Verbs = {
        "create": lambda _: store.set(1337),
        "read": store.get,
        "refresh": store.liv,
        "kill": store.die,
    }

    from cachelib.redis import RedisCache

    cache = RedisCache(redis.Redis.from_url(url), key_prefix="session:", default_timeout=TTL)

    def cachelib_create(_: Any) -> str:
        sid = secrets.token_urlsafe(32)
        cache.set(sid, {"user_id": 1337})
        return sid

    cachelib: Verbs = {
        "create": cachelib_create,
        "read": cache.get,
        "refresh": lambda sid: cache.set(sid, {"user_id": 1337}),
        "kill": cache.delete,
    }

    dj, dj_make = _django.verbs("cache")
    return {
        "sesh": (sesh, lambda: sesh["create"](None)),
        "cachelib": (cachelib, lambda: cachelib_create(None)),
        "django-redis": (dj, dj_make),
    }


def bench_sync(url: str, n: int, rounds: int) -> list[tuple[str, str, Ratio]]:
    contenders = sync_contenders(url)
    rows = []
    for verb in VERBS:
        rates = interleave(
            {name: verb_runner(v, make, verb) for name, (v, make) in contenders.items()}, n, rounds
        )
        for peer in ("cachelib", "django-redis"):
            rows.append((peer, verb, ratio(rates, "sesh", peer)))
    return rows


def async_contenders(client: redis.asyncio.Redis, url: str) -> dict[str, Verbs]:
    """sesh's AsyncRedisStore and starsessions' RedisStore on one asyncio client."""
    from starsessions.stores.redis import RedisStore as StarStore

    # sesh as an app gets it (from_url); starsessions on the asyncio client it is given.
    store = AsyncRedisStore.from_url(url, prefix="sesh", ttl=TTL)
    star = StarStore(connection=client)

    async def star_create(_: Any) -> str:
        sid = secrets.token_hex(16)
        await star.write(sid, json.dumps({"user_id": 1337}).encode(), TTL, TTL)
        return sid

    async def star_read(sid: str) -> Any:
        return json.loads(await star.read(sid, TTL))

    async def star_refresh(sid: str) -> Any:
        return await star.write(sid, json.dumps({"user_id": 1337}).encode(), TTL, TTL)

    return {
        "sesh": {
            "create": lambda _: store.set(1337),
            "read": store.get,
            "refresh": store.liv,
            "kill": store.die,
        },
        "starsessions": {
            "create": star_create,
            "read": star_read,
            "refresh": star_refresh,
            "kill": star.remove,
        },
    }


def bench_async(url: str, n: int, rounds: int) -> list[tuple[str, str, Ratio]]:
    loop = asyncio.new_event_loop()
    client = redis.asyncio.Redis.from_url(url)
    contenders = async_contenders(client, url)

    def runner(verbs: Verbs, verb: str) -> Runner:
        one = loop.run_until_complete(verbs["create"](None))

        def run(count: int) -> float:
            if verb == "kill":
                args = [loop.run_until_complete(verbs["create"](None)) for _ in range(count)]
            else:
                args = [one] * count
            return loop.run_until_complete(atimed(verbs[verb], args))

        return run

    rows = []
    for verb in VERBS:
        rates = interleave({k: runner(v, verb) for k, v in contenders.items()}, n, rounds)
        rows.append(("starsessions", verb, ratio(rates, "sesh", "starsessions")))
    loop.run_until_complete(client.aclose())
    loop.close()
    return rows


def round_trips(url: str) -> dict[str, dict[str, float]]:
    """Redis commands per verb, from the server's own statistics (10 calls each)."""
    raw = redis.Redis.from_url(url)
    found: dict[str, dict[str, float]] = {}

    def count(call: Callable[[], Any]) -> float:
        call()  # connected, scripts cached
        raw.config_resetstat()
        for _ in range(10):
            call()
        stats: dict[str, Any] = raw.info("commandstats")
        calls = sum(
            int(s["calls"])
            for name, s in stats.items()
            if name not in ("cmdstat_info", "cmdstat_config|resetstat")
        )
        return calls / 10

    contenders = dict(sync_contenders(url))
    loop = asyncio.new_event_loop()
    client = redis.asyncio.Redis.from_url(url)
    for name, verbs in async_contenders(client, url).items():
        # The async verbs, run to completion one by one, counted the same way.
        contenders[f"{name} (async)"] = (
            {verb: _blocking(loop, call) for verb, call in verbs.items()},
            functools.partial(_blocking(loop, verbs["create"]), None),
        )
    for name, (verbs, make) in contenders.items():
        one = make()
        found[name] = {
            "create": count(functools.partial(verbs["create"], None)),
            "read": count(functools.partial(verbs["read"], one)),
            "refresh": count(functools.partial(verbs["refresh"], one)),
            "kill": count(_kill_fresh(verbs["kill"], make)) - count(make),
        }
    loop.run_until_complete(client.aclose())
    loop.close()
    raw.close()
    return found


def _blocking(loop: asyncio.AbstractEventLoop, call: Any) -> Callable[[Any], Any]:
    """An async verb, run to completion in ``loop`` when called."""
    return lambda arg: loop.run_until_complete(call(arg))


def _kill_fresh(kill: Any, make: Callable[[], Any]) -> Callable[[], Any]:
    """Kills a session made just before (the count of ``make`` alone is taken away)."""
    return lambda: kill(make())
