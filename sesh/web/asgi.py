"""Login sessions for any ASGI app: plain middleware, no framework needed.

::

    app = SessionMiddleware(app, store=sesh.async_from_url(url, ttl=3600, track_users=True),
                            devices=True)

For every ``http`` and ``websocket`` scope it resolves the request's session (one store
call, or none without a well-formed cookie) and puts an ``AsyncWebSession`` at
``scope["sesh"]``; the app logs in, out, rotates and lists devices through it, and the
middleware writes the cookie (``Set-Cookie``, with ``Cache-Control: no-store`` in place of
the app's own) when the response starts, and adds ``Cookie`` to every http response's
``Vary``, so that no shared cache serves one user's page to another. Other scopes
(``lifespan``) pass through untouched.

When the store fails (``BackendError``) the request is not treated as logged out: an http
request gets ``503 Service Unavailable`` (JSON, ``Retry-After: 1``) and no cookie change,
unless a step had already changed the server (a rotation done, then a failure: the 503
then carries the new cookie, so that the browser keeps a live id); a websocket is refused
at the handshake (the server answers it with HTTP 403). Errors of the app itself are not
touched.

With Starlette or FastAPI, add the middleware through the app's middleware list (or
``sesh.web.fastapi.setup``), not by wrapping the app object: wrapped around it, it sits
outside Starlette's own error handling, which turns a store failure in a route into a 500
before the middleware can answer 503.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from sesh.errors import BackendError
from sesh.web._cookies import CookiePolicy
from sesh.web._session import AsyncWebSession, check_setup

__all__ = ["SCOPE_KEY", "SessionMiddleware", "session_of"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SCOPE_KEY = "sesh"
"""Where the middleware puts the request's ``AsyncWebSession`` in the scope."""

_UNAVAILABLE = json.dumps({"error": "the session store is unavailable"}).encode("utf-8")


class SessionMiddleware:
    """ASGI middleware that gives each request its login session (see the module).

    Args:
        app: the ASGI app it wraps.
        store: an asyncio sesh store (``sesh.async_from_url``, an ``Async*Store``).
        cookie: the cookie policy; the default is production's (``__Host-sesh``, Secure).
        devices: allow device lists (needs a store with ``track_users=True``).

    Raises:
        TypeError, ValueError: a setup that cannot work, at start-up (see ``check_setup``).
    """

    def __init__(
        self,
        app: ASGIApp,
        store: Any,
        cookie: CookiePolicy | None = None,
        devices: bool = False,
    ) -> None:
        cookie = CookiePolicy() if cookie is None else cookie
        check_setup(store, cookie, devices, asyncio=True)
        self.app = app
        self.store = store
        self.cookie = cookie
        self.devices = devices

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        header = _cookie_header(scope)
        failed = False
        try:
            session = await AsyncWebSession.resolve(self.store, self.cookie, self.devices, header)
        except BackendError:
            failed = True
        if failed:
            await _refuse(kind, send)  # nothing changed: no cookie either
            return
        scope[SCOPE_KEY] = session

        started = False

        async def send_with_cookie(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                session.seal()
                message["headers"] = _with_session_headers(
                    message.get("headers", ()), session.response_headers()
                )
            await send(message)

        if kind == "websocket":
            session.seal()  # a websocket has no response to carry a cookie: read only
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send_with_cookie)
        except BackendError:
            # The store failed under the app (a login, a logout): 503, and no cookie
            # change but what the store already made, so that an outage logs nobody out.
            if started:
                raise
            failed = True
        if failed:
            # If a step had already changed the server (a rotate done, then a failure),
            # the browser must learn the new id or lose its session: the cookie goes too.
            await _refuse(kind, send, session.response_headers())


def session_of(scope: Scope) -> AsyncWebSession:
    """The request's session that ``SessionMiddleware`` resolved.

    Raises:
        RuntimeError: the app is not wrapped in ``SessionMiddleware``.
    """
    session = scope.get(SCOPE_KEY)
    if not isinstance(session, AsyncWebSession):
        raise RuntimeError("no sesh session here: wrap the app in sesh.web.SessionMiddleware")
    return session


def _encoded(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]


def _with_session_headers(
    headers: Any, session_headers: list[tuple[str, str]]
) -> list[tuple[bytes, bytes]]:
    """The app's response headers with the session's: ``Set-Cookie`` added, the session's
    ``Cache-Control`` in place of the app's, and ``Cookie`` in one merged ``Vary``."""
    extra = _encoded(session_headers)
    replaced = {name for name, _ in extra if name != b"set-cookie"}
    kept: list[tuple[bytes, bytes]] = []
    vary: list[bytes] = []
    for name, value in headers:
        lowered = bytes(name).lower()
        if lowered == b"vary":
            vary.extend(v.strip() for v in bytes(value).split(b",") if v.strip())
        elif lowered not in replaced:
            kept.append((name, value))
    if b"*" not in vary and b"cookie" not in {v.lower() for v in vary}:
        vary.append(b"Cookie")
    return [*kept, *extra, (b"vary", b", ".join(vary))]


def _cookie_header(scope: Scope) -> str | None:
    # HTTP/2 may split cookies over several headers; they join with "; ".
    values = [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"cookie"]
    return "; ".join(values) if values else None


async def _refuse(kind: str, send: Send, cookie: list[tuple[str, str]] | None = None) -> None:
    if kind == "websocket":
        await send({"type": "websocket.close", "code": 1011})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_UNAVAILABLE)).encode("ascii")),
                (b"retry-after", b"1"),
                (b"cache-control", b"no-store"),
                *[
                    (k.encode("latin-1"), v.encode("latin-1"))
                    for k, v in cookie or ()
                    if k != "cache-control"
                ],
            ],
        }
    )
    await send({"type": "http.response.body", "body": _UNAVAILABLE})
