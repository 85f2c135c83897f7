"""FastAPI: the session middleware, and dependencies for "the current user" and "a
logged-in user or 401", with the cookie declared in the OpenAPI schema.

::

    from fastapi import Depends, FastAPI
    import sesh
    from sesh.web.fastapi import setup

    app = FastAPI()
    auth = setup(app, sesh.async_from_url("redis://localhost", ttl=3600))

    @app.get("/me")
    async def me(user_id: Annotated[str, Depends(auth.required_user_id)]) -> dict[str, str]:
        return {"user_id": user_id}

``setup`` adds ``SessionMiddleware`` and maps ``BackendError`` to 503, never a logout.
"""

# No "from __future__ import annotations": FastAPI reads the dependencies from the
# annotations at run time, and they name local functions.
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyCookie

from sesh.errors import BackendError
from sesh.web._cookies import CookiePolicy
from sesh.web._session import AsyncWebSession
from sesh.web.asgi import SessionMiddleware, session_of

__all__ = ["SessionDependencies", "setup"]


class SessionDependencies:
    """FastAPI dependencies on the request's session (``setup`` makes them).

    - ``session``: the ``AsyncWebSession``, to log in, out, rotate and list devices.
    - ``user_id``: the logged-in user's id, or None.
    - ``required_user_id``: the logged-in user's id; 401 when anonymous.

    Each declares the session cookie (an ``APIKeyCookie`` of the policy's name), so it
    shows in the OpenAPI schema and the docs' "Authorize" dialog.
    """

    def __init__(self, cookie: CookiePolicy | None = None) -> None:
        cookie = CookiePolicy() if cookie is None else cookie
        scheme = APIKeyCookie(
            name=cookie.cookie_name,
            scheme_name="sesh",
            description="The session cookie that sesh sets at login.",
            auto_error=False,
        )

        async def session(
            request: Request, _: Annotated[str | None, Depends(scheme)]
        ) -> AsyncWebSession:
            return session_of(request.scope)

        async def user_id(current: Annotated[AsyncWebSession, Depends(session)]) -> str | None:
            return current.user_id

        async def required_user_id(current: Annotated[AsyncWebSession, Depends(session)]) -> str:
            if current.user_id is None:
                raise HTTPException(status_code=401, detail="not logged in")
            return current.user_id

        self.session = session
        self.user_id = user_id
        self.required_user_id = required_user_id


def setup(
    app: FastAPI, store: Any, *, cookie: CookiePolicy | None = None, devices: bool = False
) -> SessionDependencies:
    """Adds sesh to a FastAPI app: ``SessionMiddleware`` on ``store`` (an asyncio store),
    a 503 for ``BackendError`` raised in a route, and the dependencies.

    Raises:
        TypeError, ValueError: a setup that cannot work, at once (see ``check_setup``).
    """
    cookie = CookiePolicy() if cookie is None else cookie
    SessionMiddleware(app, store, cookie, devices)  # refuses a bad setup now, not at start
    app.add_middleware(SessionMiddleware, store=store, cookie=cookie, devices=devices)

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"error": "the session store is unavailable"},
            status_code=503,
            headers={"Retry-After": "1", "Cache-Control": "no-store"},
        )

    app.add_exception_handler(BackendError, unavailable)
    return SessionDependencies(cookie)
