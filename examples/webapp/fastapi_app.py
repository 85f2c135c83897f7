"""The example login app on FastAPI: sesh's integration, no cookie code of its own.

The JSON API (every framework's app serves the same one):

- ``GET /api/me``: 200 ``{"user_id": ...}``, or 401 ``{"user_id": null}``
- ``POST /api/login`` ``{"user_id": "alice"}``: a fresh session. A demo: a real app checks
  a password first.
- ``POST /api/logout``, ``POST /api/rotate``, ``GET /api/sessions``,
  ``POST /api/sessions/end`` ``{"handle": ...}``, ``POST /api/logout-others``
- ``GET /``: the page (``page.html``)

Every POST takes ``application/json`` only (a JSON object, at most ``MAX_BODY`` bytes): a
form from another site cannot send that, nor can a page of a sibling subdomain without the
browser asking first, so the state-changing routes need no CSRF token.
"""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

import sesh
from sesh.web import AsyncWebSession, CookiePolicy
from sesh.web.fastapi import setup

PAGE = Path(__file__).with_name("page.html")
MAX_BODY = 4096
"""The longest request body taken: a user id is at most 1024 bytes."""


class BadRequest(Exception):
    """A client error: its status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def json_object(request: Request) -> dict[str, Any]:
    """A POST's body: a JSON object in UTF-8, at most ``MAX_BODY`` bytes; a client error
    for anything else (the wrong type 415, too long 413, not a JSON object 400)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise BadRequest(415, "send application/json")
    length = request.headers.get("content-length", "0")
    if not length.isdigit() or int(length) > MAX_BODY:
        raise BadRequest(413, f"a body is at most {MAX_BODY} bytes")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise BadRequest(413, f"a body is at most {MAX_BODY} bytes")
    try:
        body = json.loads(raw.decode("utf-8")) if raw else {}
    except (ValueError, RecursionError):  # not UTF-8, not JSON, nested past the stack
        raise BadRequest(400, "the body is not JSON in UTF-8") from None
    if not isinstance(body, dict):
        raise BadRequest(400, "send a JSON object")
    return body


async def json_field(request: Request, field: str) -> Any:
    """The named field of a POST's JSON object."""
    body = await json_object(request)
    if field not in body:
        raise BadRequest(400, f"send a JSON object with {field!r}")
    return body[field]


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
        user_id = await json_field(request, "user_id")
        if not isinstance(user_id, str):
            raise BadRequest(400, "user_id must be a string")
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
        handle = await json_field(request, "handle")
        if not isinstance(handle, str):
            raise BadRequest(400, "handle must be a string")
        return {"ended": await session.end_device(handle)}

    @app.post("/api/logout-others")
    async def logout_others(request: Request, session: Session, user_id: UserId) -> dict[str, int]:
        await json_object(request)
        return {"ended": await session.logout_others()}

    return app
