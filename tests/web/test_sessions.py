"""A request's session, sync and async: the twins agree, and the flows do what they say
on every kind of store (ids hashed or not)."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from sesh.backends.memory import AsyncMemoryStore, MemoryStore
from sesh.errors import NotEnabledError
from sesh.web import AsyncWebSession, CookiePolicy, WebSession

POLICY = CookiePolicy()
VERBS = ("login", "logout", "rotate", "devices", "end_device", "logout_others")


def test_the_twins_have_the_same_verbs() -> None:
    for verb in (*VERBS, "resolve"):
        sync, async_ = getattr(WebSession, verb), getattr(AsyncWebSession, verb)
        assert inspect.signature(sync) == inspect.signature(async_), verb
        assert inspect.iscoroutinefunction(async_), verb
        assert not inspect.iscoroutinefunction(sync), verb


def cookie_of(session: WebSession) -> str:
    (header,) = [v for k, v in session.response_headers() if k == "set-cookie"]
    return header.split(";")[0]


@pytest.mark.parametrize("hashed", [False, True], ids=["ids", "hashed ids"])
def test_the_sync_session_logs_in_lists_devices_and_logs_out(hashed: bool) -> None:
    store = MemoryStore(ttl=60, track_users=True, hash_ids=hashed)
    first = WebSession.resolve(store, POLICY, True, None)
    assert (first.user_id, first.response_headers()) == (None, [])
    first.login("alice")
    one = cookie_of(first)
    second = WebSession.resolve(store, POLICY, True, None)
    second.login("alice")
    two = cookie_of(second)
    mine = WebSession.resolve(store, POLICY, True, one)
    assert mine.user_id == "alice"
    devices = mine.devices()
    assert sorted(d.current for d in devices) == [False, True]
    for device in devices:
        assert one.split("=", 1)[1] not in device.handle
    other = next(d.handle for d in devices if not d.current)
    assert mine.end_device(other) is True
    assert WebSession.resolve(store, POLICY, True, two).user_id is None
    assert mine.logout_others() == 0
    assert mine.logout() is True
    assert mine.response_headers()[0][1].startswith("__Host-sesh=; Max-Age=0")
    assert WebSession.resolve(store, POLICY, True, one).user_id is None


def test_ending_the_current_device_logs_the_request_out() -> None:
    store = MemoryStore(ttl=60, track_users=True)
    session = WebSession.resolve(store, POLICY, True, None)
    session.login("alice")
    (device,) = session.devices()
    assert session.end_device(device.handle) is True
    assert session.user_id is None
    assert session.response_headers()[0][1].startswith("__Host-sesh=; Max-Age=0")


def test_device_lists_need_devices_and_a_user() -> None:
    store = MemoryStore(ttl=60, track_users=True)
    with pytest.raises(NotEnabledError):
        WebSession.resolve(store, POLICY, False, None).devices()
    with pytest.raises(PermissionError):
        WebSession.resolve(store, POLICY, True, None).devices()


def test_a_bad_user_id_changes_nothing() -> None:
    store = MemoryStore(ttl=60)
    session = WebSession.resolve(store, POLICY, False, None)
    session.login("alice")
    arrived = cookie_of(session)
    again = WebSession.resolve(store, POLICY, False, arrived)
    with pytest.raises(ValueError, match="user_id"):
        again.login("")
    assert WebSession.resolve(store, POLICY, False, arrived).user_id == "alice"


def test_the_async_session_does_the_same() -> None:
    async def scenario() -> None:
        store = AsyncMemoryStore(ttl=60, track_users=True)
        session = await AsyncWebSession.resolve(store, POLICY, True, None)
        await session.login("alice")
        other = await AsyncWebSession.resolve(store, POLICY, True, None)
        await other.login("alice")
        assert await session.logout_others() == 1
        assert await session.rotate() is True
        (device,) = await session.devices()
        assert device.current
        assert repr(session) == "AsyncWebSession(user_id='alice')"  # no id in a repr

    asyncio.run(scenario())
