"""The main job of sesh, on the in-memory store: make, read, refresh and end sessions."""

from __future__ import annotations

import asyncio

import sesh


def main() -> None:
    with sesh.from_url("memory://", ttl=3600) as store:
        session_id = store.set(1337)
        print(f"set(1337)      -> {session_id}  (a new random session id)")
        print(f"get(id)        -> {store.get(session_id)!r}")
        print(f"get(id, touch) -> {store.get(session_id, touch=True)!r}  (expiry reset to 1 h)")
        print(f"liv(id)        -> {store.liv(session_id)}")
        print(f"die(id)        -> {store.die(session_id)}")
        print(f"get(id)        -> {store.get(session_id)!r}  (the session is gone)")
        print(f"get('forged')  -> {store.get('forged')!r}  (malformed ids are no session)")
    asyncio.run(main_async())


async def main_async() -> None:
    async with sesh.async_from_url("memory://", ttl=3600) as store:
        session_id = await store.set("alice")
        print(f"async: set('alice') -> get(id) -> {await store.get(session_id)!r}")


if __name__ == "__main__":
    main()
