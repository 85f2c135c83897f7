"""The example login app on FastAPI: sesh's integration, no cookie code of its own.

The JSON API (every framework's app serves the same one):

- ``GET /api/me``: 200 ``{"user_id": ...}``, or 401 ``{"user_id": null}``
- ``POST /api/login`` ``{"user_id": "alice"}``: a fresh session. A demo: a real app checks
  a password first.
- ``POST /api/logout``, ``POST /api/rotate``, ``GET /api/sessions``,
  ``POST /api/sessions/end`` ``{"handle": ...}``, ``POST /api/logout-others``
- ``GET /``: the page (``page.html``)

Bodies follow ``examples/webapp/_api.py``: JSON objects only, at most 4 KB.
"""

# No "from __future__ import annotations": FastAPI reads the dependencies from the
# annotations at run time, and they name local functions.
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

import sesh
from examples.webapp._api import MAX_BODY, PAGE, BadRequest, check_headers, field, parse_object
from sesh.web import AsyncWebSession, CookiePolicy
from sesh.web.fastapi import setup


async def json_object(request: Request) -> dict[str, Any]:
    """A POST's body by the rules of ``_api``, read no further than the limit."""
    check_headers(request.headers.get("content-type"), request.headers.get("content-length"))
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            break
    return parse_object(raw)


def create_app(store_url: str, *, ttl: float, dev: bool) -> FastAPI:
    """The app on the store at ``store_url`` (``track_users`` on), production cookies
    unless ``dev``."""
    store = sesh.async_from_url(store_url, ttl=ttl, track_users=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await store.aclose()

    # No /docs: Swagger UI would load scripts from a CDN into the app's own origin.
    app = FastAPI(
        title="sesh example", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    auth = setup(app, store, cookie=CookiePolicy(development=dev), devices=True)
    Session = Annotated[AsyncWebSession, Depends(auth.session)]
    UserId = Annotated[str, Depends(auth.required_user_id)]

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return PAGE.read_text(encoding="utf-8")

    @app.get("/api/me")
    async def me(session: Session) -> JSONResponse:
        status = 200 if session.user_id is not None else 401
        return JSONResponse({"user_id": session.user_id}, status_code=status)

    @app.post("/api/login")
    async def login(request: Request, session: Session) -> dict[str, str]:
        user_id = field(await json_object(request), "user_id")
        try:
            await session.login(user_id)
        except ValueError as exc:  # empty, too long, not text
            raise BadRequest(400, str(exc)) from None
        return {"user_id": user_id}

    @app.post("/api/logout")
    async def logout(request: Request, session: Session) -> dict[str, bool]:
        await json_object(request)
        return {"ended": await session.logout()}

    @app.post("/api/rotate")
    async def rotate(request: Request, session: Session, user_id: UserId) -> JSONResponse:
        await json_object(request)
        if not await session.rotate():
            return JSONResponse({"user_id": None}, status_code=401)
        return JSONResponse({"user_id": user_id})

    @app.get("/api/sessions")
    async def sessions(session: Session, user_id: UserId) -> dict[str, Any]:
        devices = await session.devices()
        return {"sessions": [{"handle": d.handle, "current": d.current} for d in devices]}

    @app.post("/api/sessions/end")
    async def end(request: Request, session: Session, user_id: UserId) -> dict[str, bool]:
        handle = field(await json_object(request), "handle")
        return {"ended": await session.end_device(handle)}

    @app.post("/api/logout-others")
    async def logout_others(request: Request, session: Session, user_id: UserId) -> dict[str, int]:
        await json_object(request)
        return {"ended": await session.logout_others()}

    return app
