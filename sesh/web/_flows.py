"""What login, logout, rotation and the device list do to a request: pure flows.

Each flow is a generator that yields the store calls it needs (``Call``) and is sent each
one's result, as ``sesh._core`` does for operations; ``run`` and ``arun`` drive a flow on
a sync or an asyncio store. So every framework shell, sync or async, makes the same calls
in the same order, decided here once.
"""

from __future__ import annotations

import inspect
from collections.abc import Generator
from typing import Any, NamedTuple, TypeVar

from sesh._validate import check_user_id

__all__ = [
    "Call",
    "Device",
    "Flow",
    "arun",
    "devices",
    "end_device",
    "login",
    "logout",
    "logout_others",
    "resolve",
    "rotate",
    "run",
]

T = TypeVar("T")


class Call(NamedTuple):
    """A store method to call, and its arguments."""

    method: str
    args: tuple[Any, ...] = ()
    touch: bool | None = None
    """For ``get``: the ``touch`` flag."""

    def __repr__(self) -> str:
        # Never the arguments: they are session ids (error trackers record locals).
        return f"Call({self.method!r}, <{len(self.args)} arguments>)"


Flow = Generator[Call, Any, T]


class Device(NamedTuple):
    """One of a user's sessions, as a page or an API may show it."""

    handle: str
    """An opaque name of the session (never its id): what ending it takes."""
    current: bool
    """Whether it is the session of the request that asked."""


def resolve(session_id: str | None) -> Flow[str | None]:
    """The user of a request's session: one call, ``get`` with touch (the expiry slides in
    the same round trip); no call at all without a well-formed session id."""
    if session_id is None:
        return None
    user_id: str | None = yield Call("get", (session_id,), touch=True)
    return user_id


def login(arrived_with: str | None, user_id: object) -> Flow[str]:
    """A fresh session for ``user_id``; the session the request arrived with, if any, is
    ended first, so that an id planted or stolen before login never becomes a logged-in
    one (session fixation). The user id is checked before anything changes."""
    check_user_id(user_id)
    if arrived_with is not None:
        yield Call("die", (arrived_with,))
    new_id: str = yield Call("set", (user_id,))
    return new_id


def logout(session_id: str | None) -> Flow[bool]:
    """Ends the session on the server; True if there was one."""
    if session_id is None:
        return False
    ended: bool = yield Call("die", (session_id,))
    return ended


def rotate(session_id: str | None) -> Flow[str | None]:
    """Moves the session to a fresh id (after a change of privilege); None if none."""
    if session_id is None:
        return None
    new_id: str | None = yield Call("rotate", (session_id,))
    return new_id


def devices(session_id: str, user_id: str, hashed: bool) -> Flow[list[Device]]:
    """The user's live sessions as handles, the current one marked. A store without
    ``hash_ids`` lists ids: each becomes its handle here, so no id leaves the server."""
    listed: list[str] = yield Call("sessions", (user_id,))
    mine: str = yield Call("handle", (session_id,))
    found = []
    for item in listed:
        handle = item if hashed else (yield Call("handle", (item,)))
        found.append(Device(handle, handle == mine))
    return found


def end_device(
    session_id: str, user_id: str, handle: object, hashed: bool
) -> Flow[tuple[bool, bool]]:
    """Ends one of the user's own sessions by its handle; a handle of anybody else's
    session (or of none) ends nothing. Returns (ended, it was the current session)."""
    if not isinstance(handle, str):
        raise TypeError(f"handle must be a str, not {type(handle).__name__}")
    listed: list[str] = yield Call("sessions", (user_id,))
    for item in listed:
        named = item if hashed else (yield Call("handle", (item,)))
        if named == handle:
            ended: bool = yield Call("die", (item,))
            mine = yield Call("handle", (session_id,))
            return ended, ended and mine == handle
    return False, False


def logout_others(session_id: str, user_id: str, hashed: bool) -> Flow[int]:
    """Ends every session of the user but the current one; returns how many ended."""
    listed: list[str] = yield Call("sessions", (user_id,))
    mine = (yield Call("handle", (session_id,))) if hashed else session_id
    ended = 0
    for item in listed:
        if item != mine:
            ended += bool((yield Call("die", (item,))))
    return ended


def _call(store: Any, call: Call) -> Any:
    method = getattr(store, call.method)
    if call.touch is not None:
        return method(*call.args, touch=call.touch)
    return method(*call.args)


def run(flow: Flow[T], store: Any) -> T:
    """Drives a flow on a sync store."""
    try:
        call = next(flow)
        while True:
            call = flow.send(_call(store, call))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def arun(flow: Flow[T], store: Any) -> T:
    """Drives a flow on an asyncio store (``handle`` is plain on both kinds)."""
    try:
        call = next(flow)
        while True:
            result = _call(store, call)
            if inspect.isawaitable(result):
                result = await result
            call = flow.send(result)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
