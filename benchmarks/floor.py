"""sesh against the floor: raw redis-py sending the same command, and a bare socket.

Per verb, on one loopback connection: sesh's RedisStore as ``from_url`` makes it (sesh's
own path, which always reads with hiredis), raw redis-py issuing the very command sesh
sends, redis-py's own Connection object used directly, and a bare socket writing that
command's RESP bytes and reading the reply (no client library: the physical limit of one
connection). Raw redis-py with its hiredis parser and with its pure-Python one; asyncio
likewise, against raw redis.asyncio.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import socket
from collections.abc import Callable
from typing import Any

import redis
import redis.asyncio
from redis._parsers import _AsyncHiredisParser, _AsyncRESP2Parser, _HiredisParser, _RESP2Parser

from benchmarks._common import Ratio, Runner, atimed, interleave, loop, ratio, timed
from sesh.backends.redis import AsyncRedisStore, RedisStore

TTL_MS = 3_600_000
PREFIX = "bench"
VERBS = ["set", "get", "get(touch)", "liv", "die"]
PARSERS = {
    "hiredis": (_HiredisParser, _AsyncHiredisParser),
    "python": (_RESP2Parser, _AsyncRESP2Parser),
}


def new_id() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def resp(*args: str | int) -> bytes:
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class LeanConnection:
    """redis-py's own Connection, held for the run: the command packed and its reply read
    with no client, pool or instrumentation layer (what a leaner sesh path would use)."""

    def __init__(self, client: redis.Redis) -> None:
        self.conn = client.connection_pool.make_connection()
        self.conn.connect()

    def call(self, *args: str | int) -> object:
        self.conn.send_packed_command(self.conn.pack_command(*args))
        return self.conn.read_response()

    def close(self) -> None:
        self.conn.disconnect()


class BareSocket:
    """One connection, RESP written by hand, one recv per reply (replies here are tiny)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def call(self, *args: str | int) -> bytes:
        self.sock.sendall(resp(*args))
        return self.sock.recv(65536)

    def close(self) -> None:
        self.sock.close()


def _dying(client: redis.Redis, n: int) -> list[str]:
    ids = [new_id() for _ in range(n)]
    with client.pipeline(transaction=False) as pipe:
        for session_id in ids:
            pipe.set(f"{PREFIX}:{session_id}", "1337", px=TTL_MS)
        pipe.execute()
    return ids


def sync_runners(
    verb: str,
    client: redis.Redis,
    store: RedisStore,
    wires: tuple[LeanConnection, BareSocket],
    session_id: str,
) -> dict[str, Runner]:
    """The four contenders for one verb; die gets fresh sessions, written before timing."""
    key = f"{PREFIX}:{session_id}"
    lean, bare = wires
    commands: dict[str, Callable[[], tuple[str | int, ...]]] = {
        "set": lambda: ("SET", f"{PREFIX}:{new_id()}", "1337", "NX", "PX", TTL_MS),
        "get": lambda: ("GET", key),
        "get(touch)": lambda: ("GETEX", key, "PX", TTL_MS),
        "liv": lambda: ("PEXPIRE", key, TTL_MS),
    }
    calls: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
        "set": (
            lambda: client.set(f"{PREFIX}:{new_id()}", "1337", nx=True, px=TTL_MS),
            lambda: store.set(1337),
        ),
        "get": (lambda: client.get(key), lambda: store.get(session_id)),
        "get(touch)": (
            lambda: client.getex(key, px=TTL_MS),
            lambda: store.get(session_id, touch=True),
        ),
        "liv": (lambda: client.pexpire(key, TTL_MS), lambda: store.liv(session_id)),
    }
    if verb != "die":
        raw, ours = calls[verb]
        command = commands[verb]
        return {
            "raw": loop(raw),
            "sesh": loop(ours),
            "lean": loop(lambda: lean.call(*command())),
            "socket": loop(lambda: bare.call(*command())),
        }

    def dying(call: Callable[[str], Any]) -> Runner:
        return lambda n: timed(call, _dying(client, n))

    return {
        "raw": dying(lambda i: client.delete(f"{PREFIX}:{i}")),
        "sesh": dying(store.die),
        "lean": dying(lambda i: lean.call("DEL", f"{PREFIX}:{i}")),
        "socket": dying(lambda i: bare.call("DEL", f"{PREFIX}:{i}")),
    }


def bench_sync(url: str, port: int, n: int, rounds: int) -> list[tuple[str, str, dict[str, Ratio]]]:
    rows = []
    for parser, (sync_parser, _) in PARSERS.items():
        client = redis.Redis.from_url(url, parser_class=sync_parser)
        store = RedisStore.from_url(url, prefix=PREFIX, ttl=TTL_MS / 1000)  # an app's
        wires = (LeanConnection(client), BareSocket(port))
        session_id = store.set(1337)
        for verb in VERBS:
            rates = interleave(sync_runners(verb, client, store, wires, session_id), n, rounds)
            found = {
                "raw": ratio(rates, "sesh", "raw"),
                "socket": ratio(rates, "sesh", "socket"),
                "lean": ratio(rates, "lean", "raw"),
            }
            rows.append((f"sync, {parser}", verb, found))
        for wire in wires:
            wire.close()
        store.close()
        client.flushdb()
        client.close()
    return rows


def bench_async(url: str, n: int, rounds: int) -> list[tuple[str, str, dict[str, Ratio]]]:
    rows = []
    for parser, (_, async_parser) in PARSERS.items():
        for verb, found in _async_parser(url, async_parser, n, rounds):
            rows.append((f"asyncio, {parser}", verb, found))
    return rows


def _async_parser(
    url: str, parser_class: Any, n: int, rounds: int
) -> list[tuple[str, dict[str, Ratio]]]:
    runner_loop = asyncio.new_event_loop()
    client = redis.asyncio.Redis.from_url(url, parser_class=parser_class)
    store = AsyncRedisStore.from_url(url, prefix=PREFIX, ttl=TTL_MS / 1000)
    setup = redis.Redis.from_url(url)
    session_id = runner_loop.run_until_complete(store.set(1337))
    key = f"{PREFIX}:{session_id}"
    calls: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
        "set": (
            lambda _: client.set(f"{PREFIX}:{new_id()}", "1337", nx=True, px=TTL_MS),
            lambda _: store.set(1337),
        ),
        "get": (lambda _: client.get(key), lambda _: store.get(session_id)),
        "get(touch)": (
            lambda _: client.getex(key, px=TTL_MS),
            lambda _: store.get(session_id, touch=True),
        ),
        "liv": (lambda _: client.pexpire(key, TTL_MS), lambda _: store.liv(session_id)),
        "die": (lambda i: client.delete(f"{PREFIX}:{i}"), lambda i: store.die(i)),
    }

    def runner(call: Callable[[Any], Any], verb: str) -> Runner:
        def run(count: int) -> float:
            args = _dying(setup, count) if verb == "die" else [None] * count
            return runner_loop.run_until_complete(atimed(call, args))

        return run

    found = []
    for verb in VERBS:
        raw_call, sesh_call = calls[verb]
        runners = {"raw": runner(raw_call, verb), "sesh": runner(sesh_call, verb)}
        rates = interleave(runners, n, rounds)
        found.append((verb, {"raw": ratio(rates, "sesh", "raw")}))
    runner_loop.run_until_complete(client.aclose())
    runner_loop.close()
    setup.flushdb()
    setup.close()
    return found
