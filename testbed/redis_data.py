"""What the Redis tests see of the keys a store wrote: their bytes, and time passing."""

from __future__ import annotations

from typing import Any


def dump_keys(client: Any, keys: list[bytes]) -> bytes:
    """Every key and everything in it, as bytes (the ``dump`` hook of the kit)."""
    parts: list[bytes] = []
    for key in keys:
        kind = client.type(key)
        parts.append(key)
        if kind == b"string":
            parts.append(client.get(key) or b"")
        elif kind == b"hash":
            for field, value in client.hgetall(key).items():
                parts += [field, value]
        elif kind == b"zset":
            parts += [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
        else:
            parts.append(kind)
    return b"\n".join(parts)


def age_keys(client: Any, keys: list[bytes], seconds: float) -> None:
    """Lets ``seconds`` pass for these keys: their ttls, and the deadlines kept in them
    (a session's absolute deadline, a user index's scores), all move that much closer."""
    ms = round(seconds * 1000)
    for key in keys:
        kind = client.type(key)
        if kind == b"hash" and (max_at := client.hget(key, "a")) is not None:
            client.hset(key, "a", int(max_at) - ms)
        elif kind == b"zset":
            entries = client.zrange(key, 0, -1, withscores=True)
            aged = {member: score - ms for member, score in entries if score != float("inf")}
            if aged:
                client.zadd(key, aged, xx=True)
        left = client.pttl(key)
        if left < 0:
            continue  # no expiry (-1), or gone (-2)
        if left <= ms:
            client.delete(key)
        else:
            client.pexpire(key, left - ms)
