"""The ASGI shells inside Starlette's and FastAPI's own test clients: what the HTTP suite
does not reach (websockets, request.user, dependencies, OpenAPI, start-up refusals)."""

# No "from __future__ import annotations": FastAPI reads the routes' dependencies from
# their annotations at run time.
import asyncio
import subprocess
import sys
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from sesh.backends.memory import AsyncMemoryStore, MemoryStore
from sesh.errors import BackendError
from sesh.web import AsyncWebSession, CookiePolicy
from sesh.web.asgi import SessionMiddleware
from sesh.web.fastapi import setup
from sesh.web.starlette import SessionAuthBackend, session, session_middleware

DEV = CookiePolicy(development=True)  # the test client speaks plain http


def starlette_app(store: Any) -> Starlette:
    async def whoami(request: Request) -> JSONResponse:
        user = request.user
        return JSONResponse(
            {"authenticated": user.is_authenticated, "user": user.display_name or None}
        )

    @requires("authenticated")
    async def secret(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"hello {request.user.identity}")

    async def login(request: Request) -> PlainTextResponse:
        await session(request).login("alice")
        return PlainTextResponse("in")

    async def late_login(request: Request) -> PlainTextResponse:
        return PlainTextResponse("x")

    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        current = session(websocket)
        try:
            await current.login("mallory")
        except RuntimeError:
            await websocket.send_json({"user": current.user_id, "login": "refused"})
        await websocket.close()

    return Starlette(
        routes=[
            Route("/whoami", whoami),
            Route("/secret", secret),
            Route("/login", login, methods=["POST"]),
            WebSocketRoute("/ws", socket),
        ],
        middleware=[
            Middleware(SessionMiddleware, store=store, cookie=DEV),
            Middleware(AuthenticationMiddleware, backend=SessionAuthBackend()),
        ],
    )


def test_request_user_comes_from_the_session() -> None:
    client = TestClient(starlette_app(AsyncMemoryStore(ttl=60)))
    assert client.get("/whoami").json() == {"authenticated": False, "user": None}
    assert client.get("/secret").status_code == 403
    assert client.post("/login").status_code == 200
    assert client.get("/whoami").json() == {"authenticated": True, "user": "alice"}
    assert client.get("/secret").text == "hello alice"


def test_a_websocket_sees_the_session_and_cannot_change_it() -> None:
    client = TestClient(starlette_app(AsyncMemoryStore(ttl=60)))
    client.post("/login")
    with client.websocket_connect("/ws") as websocket:
        assert websocket.receive_json() == {"user": "alice", "login": "refused"}


class Failing(AsyncMemoryStore):
    """A store whose every read fails, as a stalled Redis does."""

    async def get(self, session_id: str, *, touch: bool = False) -> str | None:
        raise BackendError("the store is down")


def test_a_failing_store_refuses_websockets_and_answers_http_with_503() -> None:
    client = TestClient(starlette_app(Failing(ttl=60)))
    cookie = {"sesh": "A" * 42 + "A="}
    client.cookies.update(cookie)
    reply = client.get("/whoami")
    assert reply.status_code == 503
    assert "set-cookie" not in reply.headers
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/ws"):
        pass
    assert refused.value.code == 1011
    client.cookies.clear()
    assert client.get("/whoami").status_code == 200  # no cookie: no store call, no failure


def fastapi_app(store: Any, **options: Any) -> tuple[FastAPI, Any]:
    app = FastAPI()
    auth = setup(app, store, cookie=DEV, **options)

    @app.get("/me")
    async def me(user_id: Annotated[str | None, Depends(auth.user_id)]) -> dict[str, Any]:
        return {"user_id": user_id}

    @app.get("/private")
    async def private(user_id: Annotated[str, Depends(auth.required_user_id)]) -> str:
        return user_id

    @app.post("/login")
    async def login(current: Annotated[AsyncWebSession, Depends(auth.session)]) -> str:
        await current.login("alice")
        return "in"

    @app.post("/logout")
    async def logout(current: Annotated[AsyncWebSession, Depends(auth.session)]) -> bool:
        return await current.logout()

    return app, auth


def test_fastapi_dependencies() -> None:
    client = TestClient(fastapi_app(AsyncMemoryStore(ttl=60))[0])
    assert client.get("/me").json() == {"user_id": None}
    assert client.get("/private").status_code == 401
    client.post("/login")
    assert client.get("/me").json() == {"user_id": "alice"}
    assert client.get("/private").json() == "alice"


def test_the_cookie_is_in_the_openapi_schema() -> None:
    client = TestClient(fastapi_app(AsyncMemoryStore(ttl=60))[0])
    schema = client.get("/openapi.json").json()
    scheme = schema["components"]["securitySchemes"]["sesh"]
    assert scheme == {
        "type": "apiKey",
        "in": "cookie",
        "name": "sesh",
        "description": "The session cookie that sesh sets at login.",
    }
    assert schema["paths"]["/private"]["get"]["security"] == [{"sesh": []}]


class FailingWrites(AsyncMemoryStore):
    async def die(self, session_id: str) -> bool:
        raise BackendError("the store is down")


def test_a_store_failure_in_a_route_is_a_503_and_no_logout() -> None:
    client = TestClient(fastapi_app(FailingWrites(ttl=60))[0])
    client.post("/login")
    reply = client.post("/logout")
    assert reply.status_code == 503
    assert "set-cookie" not in reply.headers  # the cookie stays: an outage is no logout
    assert client.get("/me").json() == {"user_id": "alice"}


def test_setups_that_cannot_work_are_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="track_users"):
        fastapi_app(AsyncMemoryStore(ttl=60), devices=True)
    with pytest.raises(TypeError, match="asyncio store"):
        fastapi_app(MemoryStore(ttl=60))
    with pytest.raises(TypeError, match="sesh store"):
        SessionMiddleware(Starlette(), store=object())
    fastapi_app(AsyncMemoryStore(ttl=60, track_users=True), devices=True)  # this one works


def test_authentication_before_the_session_middleware_says_so() -> None:
    app = Starlette(
        routes=[Route("/", lambda request: PlainTextResponse("x"))],
        middleware=[
            Middleware(AuthenticationMiddleware, backend=SessionAuthBackend()),
            Middleware(SessionMiddleware, store=AsyncMemoryStore(ttl=60), cookie=DEV),
        ],
    )
    with pytest.raises(RuntimeError, match="SessionMiddleware"):
        TestClient(app).get("/")


def test_importing_sesh_imports_no_framework() -> None:
    code = (
        "import sys, sesh, sesh.web, sesh.web.asgi\n"
        "loaded = {'starlette', 'fastapi', 'flask', 'django', 'uvicorn'} & set(sys.modules)\n"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


class FailsAfterRotating(AsyncMemoryStore):
    async def sessions(self, user_id: str | int) -> list[str]:
        raise BackendError("the store is down")


def test_a_failure_after_a_rotation_keeps_the_browser_on_the_live_id() -> None:
    # Plain ASGI (no framework's error handling): the middleware's own 503 must carry the
    # new cookie, or the browser keeps an id the rotation just ended.
    store = FailsAfterRotating(ttl=60, track_users=True)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        current = scope["sesh"]
        if scope["path"] == "/login":
            await current.login("alice")
        else:
            await current.rotate()
            await current.devices()  # fails
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    client = TestClient(SessionMiddleware(app, store, DEV, devices=True))
    client.get("/login")
    old = client.cookies["sesh"]
    reply = client.get("/rotate-then-fail")
    assert reply.status_code == 503
    new = reply.cookies["sesh"]
    assert new != old
    assert asyncio.run(store.get(new)) == "alice"  # the browser holds the live id
    assert asyncio.run(store.get(old)) is None


def test_starlettes_middleware_list_is_checked_at_once() -> None:
    with pytest.raises(ValueError, match="track_users"):
        session_middleware(AsyncMemoryStore(ttl=60), devices=True)
    entry = session_middleware(AsyncMemoryStore(ttl=60), cookie=DEV)
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("x"))], middleware=[entry])
    assert TestClient(app).get("/").text == "x"


def test_the_session_headers_take_over_caching_and_merge_into_vary() -> None:
    # A login on a page the app marked cacheable must not be kept by any cache, and the
    # app's own Vary stays beside the session's.
    async def page(request: Request) -> PlainTextResponse:
        if request.method == "POST":
            await session(request).login("alice")
        headers = {"Cache-Control": "public, max-age=600", "Vary": "Accept-Encoding, accept"}
        return PlainTextResponse("page", headers=headers)

    app = Starlette(
        routes=[Route("/page", page, methods=["GET", "POST"])],
        middleware=[Middleware(SessionMiddleware, store=AsyncMemoryStore(ttl=60), cookie=DEV)],
    )
    client = TestClient(app)
    anonymous = client.get("/page")
    assert anonymous.headers.get_list("cache-control") == ["public, max-age=600"]
    assert anonymous.headers.get_list("vary") == ["Accept-Encoding, accept, Cookie"]
    logged_in = client.post("/page")
    assert logged_in.headers.get_list("cache-control") == ["no-store"]
    assert logged_in.headers.get_list("vary") == ["Accept-Encoding, accept, Cookie"]
    assert len(logged_in.headers.get_list("set-cookie")) == 1
