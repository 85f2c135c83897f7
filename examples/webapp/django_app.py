"""The example login app on Django: the same page and JSON API as the FastAPI one
(``fastapi_app.py`` lists it), through ``sesh.web.django``, no cookie code of its own.

Served through ASGI (uvicorn), so the views are async and the store an asyncio one. The
settings are made in ``create_app``: Django's own apps are not needed here (the example
logs in any user id; an app with users would add ``django.contrib.auth`` and log in users
of its model with ``sesh.web.django.alogin``).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from examples.webapp._api import MAX_BODY, PAGE, BadRequest, check_headers, field, parse_object
from sesh.web.django import session


def json_object(request: HttpRequest) -> dict[str, Any]:
    """A POST's body by the rules of ``_api``, read no further than the limit."""
    check_headers(request.headers.get("Content-Type"), request.headers.get("Content-Length"))
    return parse_object(request.read(MAX_BODY + 1))


def client_errors(view: Any) -> Any:
    async def wrapped(request: HttpRequest) -> HttpResponse:
        try:
            response: HttpResponse = await view(request)
            return response
        except BadRequest as error:
            return JsonResponse({"error": str(error)}, status=error.status)

    return wrapped


def login_required(view: Any) -> Any:
    async def wrapped(request: HttpRequest) -> HttpResponse:
        if session(request).user_id is None:
            return JsonResponse({"error": "not logged in"}, status=401)
        response: HttpResponse = await view(request)
        return response

    return wrapped


@require_GET
async def page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PAGE.read_text(encoding="utf-8"), content_type="text/html")


@require_GET
async def me(request: HttpRequest) -> JsonResponse:
    user_id = session(request).user_id
    return JsonResponse({"user_id": user_id}, status=200 if user_id is not None else 401)


@require_POST
@client_errors
async def login(request: HttpRequest) -> JsonResponse:
    user_id = field(json_object(request), "user_id")
    try:
        await session(request).login(user_id)  # type: ignore[misc]
    except ValueError as exc:  # empty, too long, not text
        raise BadRequest(400, str(exc)) from None
    return JsonResponse({"user_id": user_id})


@require_POST
@client_errors
async def logout(request: HttpRequest) -> JsonResponse:
    json_object(request)
    return JsonResponse({"ended": await session(request).logout()})  # type: ignore[misc]


@require_POST
@login_required
@client_errors
async def rotate(request: HttpRequest) -> JsonResponse:
    current = session(request)
    json_object(request)
    if not await current.rotate():  # type: ignore[misc]
        return JsonResponse({"user_id": None}, status=401)
    return JsonResponse({"user_id": current.user_id})


@require_GET
@login_required
async def sessions(request: HttpRequest) -> JsonResponse:
    devices = await session(request).devices()  # type: ignore[misc]
    return JsonResponse({"sessions": [{"handle": d.handle, "current": d.current} for d in devices]})


@require_POST
@login_required
@client_errors
async def end(request: HttpRequest) -> JsonResponse:
    handle = field(json_object(request), "handle")
    return JsonResponse({"ended": await session(request).end_device(handle)})  # type: ignore[misc]


@require_POST
@login_required
@client_errors
async def logout_others(request: HttpRequest) -> JsonResponse:
    json_object(request)
    return JsonResponse({"ended": await session(request).logout_others()})  # type: ignore[misc]


urlpatterns = [
    path("", page),
    path("api/me", me),
    path("api/login", login),
    path("api/logout", logout),
    path("api/rotate", rotate),
    path("api/sessions", sessions),
    path("api/sessions/end", end),
    path("api/logout-others", logout_others),
]


def create_app(store_url: str, *, ttl: float, dev: bool) -> Any:
    """The ASGI app on the store at ``store_url`` (``track_users`` on), production cookies
    unless ``dev``."""
    import django
    from django.conf import settings
    from django.core.asgi import get_asgi_application

    settings.configure(
        DEBUG=False,
        SECRET_KEY=secrets.token_hex(32),  # nothing here is signed; Django wants one
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=["sesh.web.django.SessionMiddleware"],
        SESH={
            "URL": store_url,
            "TTL": ttl,
            "TRACK_USERS": True,
            "DEVICES": True,
            "COOKIE": {"development": dev},
        },
        USE_TZ=True,
    )
    django.setup()
    return body_limit(get_asgi_application())


def body_limit(app: Any) -> Any:
    """Django's ASGI handler reads a whole body (to disk, past a size) before any view
    runs: this guard answers 413 first, from a declared ``Content-Length`` or once the
    body streamed in passes ``MAX_BODY``, and hands Django the body it has read."""

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"0")
        messages: list[dict[str, Any]] = []
        size = 0 if declared.isdigit() and int(declared) <= MAX_BODY else MAX_BODY + 1
        while size <= MAX_BODY:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        if size > MAX_BODY:
            await _too_large(send)
            return

        async def replay() -> dict[str, Any]:
            return messages.pop(0) if messages else await receive()

        await app(scope, replay, send)

    return guarded


async def _too_large(send: Any) -> None:
    body = json.dumps({"error": f"a body is at most {MAX_BODY} bytes"}).encode()
    headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
