"""A request's login session, for every framework: ``WebSession`` and ``AsyncWebSession``.

A framework shell resolves one per request (``resolve``: one store call, or none), gives
it to the app, and after the app has run writes ``response_headers()`` to the response.
The two classes differ only in ``await``; what each verb does is in ``sesh.web._flows``
and which cookie it writes in ``sesh.web._cookies``.
"""

from __future__ import annotations

import inspect
from typing import Any

from typing_extensions import Self

from sesh.errors import NotEnabledError
from sesh.web import _flows as flows
from sesh.web._cookies import CookiePolicy
from sesh.web._flows import Device

__all__ = ["AsyncWebSession", "WebSession", "check_setup"]


def check_setup(store: Any, cookie: CookiePolicy, devices: bool, *, asyncio: bool) -> None:
    """Refuses, at start-up, a setup that cannot work: a store of the wrong kind for the
    framework, or a device list on a store that keeps no index of a user's sessions.

    Raises:
        TypeError: not a store, or a sync store where an async one is needed (or back).
        ValueError: ``devices=True`` on a store made without ``track_users=True``.
    """
    if not isinstance(cookie, CookiePolicy):
        raise TypeError(f"cookie must be a CookiePolicy, not {type(cookie).__name__}")
    get = getattr(store, "get", None)
    if get is None or not callable(getattr(store, "handle", None)):
        raise TypeError(f"a sesh store is needed (sesh.from_url), not {type(store).__name__}")
    if inspect.iscoroutinefunction(get) != asyncio:
        kind, maker = ("an asyncio", "async_from_url") if asyncio else ("a sync", "from_url")
        raise TypeError(f"this framework needs {kind} store (sesh.{maker})")
    if devices and not getattr(store, "track_users", False):
        raise ValueError(
            "devices=True lists a user's sessions, which needs a store made with track_users=True"
        )


class _WebSessionBase:
    __slots__ = (
        "_arrived",
        "_cookie",
        "_devices",
        "_sealed",
        "_set_cookie",
        "_store",
        "session_id",
        "user_id",
    )

    def __init__(
        self, store: Any, cookie: CookiePolicy, devices: bool, cookie_header: str | None
    ) -> None:
        self._store = store
        self._cookie = cookie
        self._devices = devices
        self._arrived = cookie.raw_value(cookie_header) is not None  # a cookie, even junk
        self.session_id: str | None = cookie.session_id(cookie_header)
        """The well-formed session id the request came with, or the one issued since."""
        self.user_id: str | None = None
        """Whose session this is; None for an anonymous request."""
        self._set_cookie: str | None = None
        self._sealed = False

    def seal(self) -> None:
        """The response has started: its headers are gone, and the cookie with them."""
        self._sealed = True

    def _open(self) -> None:
        if self._sealed:
            raise RuntimeError("the response has started: log in, out or rotate before it is sent")

    @property
    def authenticated(self) -> bool:
        """Whether the request belongs to a logged-in user."""
        return self.user_id is not None

    def cookie_change(self) -> tuple[str, str, bool] | None:
        """The cookie to write, for a framework that writes cookies its own way: (its
        name, its value, whether it is expired), or None when it does not change."""
        if self._set_cookie is None:
            return None
        if self.session_id is None:
            return self._cookie.cookie_name, "", True
        return self._cookie.cookie_name, self.session_id, False

    @property
    def cookie_policy(self) -> CookiePolicy:
        """The policy the cookie is written by."""
        return self._cookie

    def response_headers(self) -> list[tuple[str, str]]:
        """What the response must carry: the cookie set or expired (and then no cache may
        keep the response), or nothing at all."""
        if self._set_cookie is None:
            return []
        return [("set-cookie", self._set_cookie), ("cache-control", "no-store")]

    def _issued(self, session_id: str, user_id: str) -> None:
        self.session_id, self.user_id = session_id, user_id
        self._set_cookie = self._cookie.set_cookie(session_id)
        self._arrived = True

    def _issue_or_undo(self, new_id: str, user_id: str) -> None:
        # A session made while the response started (another task sent it) can reach no
        # browser: the async twin has ended it already; say so.
        if self._sealed:
            raise RuntimeError("the response started during the login: log in before it")
        self._issued(new_id, user_id)

    def _ended(self) -> None:
        self.session_id = self.user_id = None
        self._set_cookie = self._cookie.clear_cookie() if self._arrived else None

    def _device_owner(self) -> tuple[str, str]:
        if not self._devices:
            raise NotEnabledError("device lists need devices=True (and track_users=True)")
        if self.session_id is None or self.user_id is None:
            raise PermissionError("an anonymous request has no devices")
        return self.session_id, self.user_id

    def __repr__(self) -> str:
        # Never the session id: a repr ends up in logs.
        return f"{type(self).__name__}(user_id={self.user_id!r})"


class WebSession(_WebSessionBase):
    """A request's login session on a sync store (Flask, Django's sync views)."""

    __slots__ = ()

    @classmethod
    def resolve(
        cls, store: Any, cookie: CookiePolicy, devices: bool, cookie_header: str | None
    ) -> Self:
        """The request's session: one ``get`` with touch if its cookie is well-formed,
        no store call otherwise. Raises ``BackendError`` if the store fails."""
        session = cls(store, cookie, devices, cookie_header)
        session.user_id = flows.run(flows.resolve(session.session_id), store)
        if session.user_id is None:
            session.session_id = None  # a dead or unknown id: nothing of it is kept
        return session

    def login(self, user_id: str | int) -> None:
        """Logs ``user_id`` in with a fresh session id (the old session, if any, ends)."""
        self._open()
        new_id = flows.run(flows.login(self.session_id, user_id), self._store)
        self._issue_or_undo(new_id, str(user_id))

    def logout(self) -> bool:
        """Ends the session on the server and expires the cookie; True if there was one."""
        self._open()
        ended = flows.run(flows.logout(self.session_id), self._store)
        self._ended()
        return ended

    def rotate(self) -> bool:
        """Moves the session to a fresh id, reissuing the cookie; False if there was none."""
        self._open()
        new_id = flows.run(flows.rotate(self.session_id if self.user_id else None), self._store)
        if new_id is None or self.user_id is None:
            if self.user_id is not None:
                self._ended()  # it expired since the request began
            return False
        self._issued(new_id, self.user_id)
        return True

    def devices(self) -> list[Device]:
        """The user's live sessions, as handles, the current one marked."""
        session_id, user_id = self._device_owner()
        return flows.run(flows.devices(session_id, user_id, self._store.hash_ids), self._store)

    def end_device(self, handle: object) -> bool:
        """Ends one of the user's own sessions by its handle; False if it is none of
        theirs. Ending the current one logs this request out."""
        self._open()
        session_id, user_id = self._device_owner()
        flow = flows.end_device(session_id, user_id, handle, self._store.hash_ids)
        ended, current = flows.run(flow, self._store)
        if current:
            self._ended()
        return ended

    def logout_others(self) -> int:
        """Ends every other session of the user; returns how many ended."""
        session_id, user_id = self._device_owner()
        flow = flows.logout_others(session_id, user_id, self._store.hash_ids)
        return flows.run(flow, self._store)


class AsyncWebSession(_WebSessionBase):
    """A request's login session on an asyncio store (ASGI: Starlette, FastAPI).

    ``session_id`` is the id of the live session, or None: an unknown or expired id the
    request came with is dropped, never kept.
    """

    __slots__ = ()

    @classmethod
    async def resolve(
        cls, store: Any, cookie: CookiePolicy, devices: bool, cookie_header: str | None
    ) -> Self:
        """The request's session: one ``get`` with touch if its cookie is well-formed,
        no store call otherwise. Raises ``BackendError`` if the store fails."""
        session = cls(store, cookie, devices, cookie_header)
        session.user_id = await flows.arun(flows.resolve(session.session_id), store)
        if session.user_id is None:
            session.session_id = None  # a dead or unknown id: nothing of it is kept
        return session

    async def login(self, user_id: str | int) -> None:
        """Logs ``user_id`` in with a fresh session id (the old session, if any, ends)."""
        self._open()
        new_id = await flows.arun(flows.login(self.session_id, user_id), self._store)
        if self._sealed:  # the response started while the store worked: no cookie can go
            await self._store.die(new_id)
        self._issue_or_undo(new_id, str(user_id))

    async def logout(self) -> bool:
        """Ends the session on the server and expires the cookie; True if there was one."""
        self._open()
        ended = await flows.arun(flows.logout(self.session_id), self._store)
        self._ended()
        return ended

    async def rotate(self) -> bool:
        """Moves the session to a fresh id, reissuing the cookie; False if there was none."""
        self._open()
        flow = flows.rotate(self.session_id if self.user_id else None)
        new_id = await flows.arun(flow, self._store)
        if new_id is None or self.user_id is None:
            if self.user_id is not None:
                self._ended()  # it expired since the request began
            return False
        self._issued(new_id, self.user_id)
        return True

    async def devices(self) -> list[Device]:
        """The user's live sessions, as handles, the current one marked."""
        session_id, user_id = self._device_owner()
        flow = flows.devices(session_id, user_id, self._store.hash_ids)
        return await flows.arun(flow, self._store)

    async def end_device(self, handle: object) -> bool:
        """Ends one of the user's own sessions by its handle; False if it is none of
        theirs. Ending the current one logs this request out."""
        self._open()
        session_id, user_id = self._device_owner()
        flow = flows.end_device(session_id, user_id, handle, self._store.hash_ids)
        ended, current = await flows.arun(flow, self._store)
        if current:
            self._ended()
        return ended

    async def logout_others(self) -> int:
        """Ends every other session of the user; returns how many ended."""
        session_id, user_id = self._device_owner()
        flow = flows.logout_others(session_id, user_id, self._store.hash_ids)
        return await flows.arun(flow, self._store)
