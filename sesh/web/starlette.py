"""Starlette: ``request.user`` from the sesh session, through Starlette's own
``AuthenticationMiddleware``.

::

    from starlette.middleware import Middleware
    from starlette.middleware.authentication import AuthenticationMiddleware
    from sesh.web.starlette import SessionAuthBackend, session_middleware

    app = Starlette(routes=..., middleware=[
        session_middleware(store),       # outside: resolves the session (checked at once)
        Middleware(AuthenticationMiddleware, backend=SessionAuthBackend()),
    ])

A logged-in request has ``request.user.is_authenticated``, ``request.user.identity`` (the
user id) and the scope ``"authenticated"`` (for ``@requires("authenticated")``); an
anonymous one Starlette's ``UnauthenticatedUser``. ``session(request)`` gives the
``AsyncWebSession`` to log in, out, rotate and list devices.
"""

from __future__ import annotations

from typing import Any

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    BaseUser,
    SimpleUser,
)
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection

from sesh.web._cookies import CookiePolicy
from sesh.web._session import AsyncWebSession, check_setup
from sesh.web.asgi import SessionMiddleware, session_of

__all__ = ["SessionAuthBackend", "SessionUser", "session", "session_middleware"]


class SessionUser(SimpleUser):
    """The user of a sesh session: ``identity`` and ``display_name`` are the user id."""

    @property
    def identity(self) -> str:
        return self.username


class SessionAuthBackend(AuthenticationBackend):
    """Starlette's ``AuthenticationBackend`` on the session ``SessionMiddleware`` resolved
    (no store call of its own). Place ``SessionMiddleware`` outside (before) Starlette's
    ``AuthenticationMiddleware``: in the other order this raises a ``RuntimeError`` that
    says so."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        current = session_of(conn.scope)
        if current.user_id is None:
            return None
        return AuthCredentials(["authenticated"]), SessionUser(current.user_id)


def session_middleware(
    store: Any, *, cookie: CookiePolicy | None = None, devices: bool = False
) -> Middleware:
    """``Middleware(SessionMiddleware, ...)`` for Starlette's middleware list, checked now:
    Starlette builds its middleware at the first request, and uvicorn would start the
    server with a setup that cannot work.

    Raises:
        TypeError, ValueError: a setup that cannot work (see ``check_setup``).
    """
    cookie = CookiePolicy() if cookie is None else cookie
    check_setup(store, cookie, devices, asyncio=True)
    return Middleware(SessionMiddleware, store=store, cookie=cookie, devices=devices)


def session(request: HTTPConnection) -> AsyncWebSession:
    """The request's ``AsyncWebSession`` (``SessionMiddleware`` must wrap the app)."""
    return session_of(request.scope)
