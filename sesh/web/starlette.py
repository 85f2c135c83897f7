"""Starlette: ``request.user`` from the sesh session, through Starlette's own
``AuthenticationMiddleware``.

::

    from starlette.middleware import Middleware
    from starlette.middleware.authentication import AuthenticationMiddleware
    from sesh.web.asgi import SessionMiddleware
    from sesh.web.starlette import SessionAuthBackend

    app = Starlette(routes=..., middleware=[
        Middleware(SessionMiddleware, store=store),            # outside: resolves the session
        Middleware(AuthenticationMiddleware, backend=SessionAuthBackend()),
    ])

A logged-in request has ``request.user.is_authenticated``, ``request.user.identity`` (the
user id) and the scope ``"authenticated"`` (for ``@requires("authenticated")``); an
anonymous one Starlette's ``UnauthenticatedUser``. ``session(request)`` gives the
``AsyncWebSession`` to log in, out, rotate and list devices.
"""

from __future__ import annotations

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    BaseUser,
    SimpleUser,
)
from starlette.requests import HTTPConnection

from sesh.web._session import AsyncWebSession
from sesh.web.asgi import session_of

__all__ = ["SessionAuthBackend", "SessionUser", "session"]


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


def session(request: HTTPConnection) -> AsyncWebSession:
    """The request's ``AsyncWebSession`` (``SessionMiddleware`` must wrap the app)."""
    return session_of(request.scope)
