"""Django: login sessions through a middleware, and ``login``/``logout`` that mirror
``django.contrib.auth``'s.

::

    # settings.py
    SESH = {"URL": "redis://localhost:6379/0", "TTL": 3600}
    MIDDLEWARE = [
        ...,
        "django.contrib.auth.middleware.AuthenticationMiddleware",  # if the app has it
        "sesh.web.django.SessionMiddleware",                        # after it
    ]

    # views.py
    from sesh.web.django import login, logout

    def sign_in(request):
        user = authenticate(request, username=..., password=...)
        login(request, user)  # alogin in an async view
        ...

Settings, in one ``SESH`` dict: ``URL`` (the store), ``TTL`` (seconds, default 3600),
``TRACK_USERS`` and ``DEVICES`` (device lists; default False), and ``COOKIE``: the
keyword arguments of ``CookiePolicy`` (``{"development": True}`` for plain http on
localhost).

The middleware resolves each request's session (one store call, or none without a
well-formed cookie) on a sync store under WSGI and an asyncio one under ASGI, sets
``request.sesh`` (the ``WebSession`` or ``AsyncWebSession``) and ``request.user``: a user of
``get_user_model()`` loaded lazily from the session's user id (``await request.auser()``
in async views), or ``AnonymousUser``. It writes the cookie on the way out. A store
failure (``BackendError``) is a 503, never a logout.

Beside Django's own apps: the session cookie is sesh's (``__Host-sesh``), Django's
``sessions`` app and its ``sessionid`` cookie may stay for the app's other data (sesh does
not hold any), and ``CsrfViewMiddleware`` works as it does (its ``csrftoken`` cookie is its
own; a JSON API that only takes ``application/json`` needs no token, forms do). sesh does
not use ``django.contrib.auth``'s session keys: log in and out with this module's
``login``/``logout``, which send ``user_logged_in`` and ``user_logged_out`` as Django's do.
"""

from __future__ import annotations

import functools
import weakref
from asyncio import get_running_loop
from http.cookies import Morsel
from typing import Any, cast

from asgiref.sync import async_to_sync, iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import rotate_token
from django.utils.cache import patch_vary_headers
from django.utils.functional import SimpleLazyObject
from django.views import debug as django_debug

import sesh
from sesh.errors import BackendError
from sesh.web._cookies import CookiePolicy
from sesh.web._session import AsyncWebSession, WebSession, check_setup

__all__ = [
    "SafeExceptionReporterFilter",
    "SessionMiddleware",
    "aend_sessions",
    "alogin",
    "alogout",
    "end_sessions",
    "login",
    "logout",
    "session",
]


class _Settings:
    """The ``SESH`` settings, read and checked once per process; the stores made lazily
    (a sync one under WSGI, an asyncio one under ASGI)."""

    def __init__(self) -> None:
        config = getattr(settings, "SESH", None)
        if not isinstance(config, dict) or not config.get("URL"):
            raise ImproperlyConfigured('sesh needs settings.SESH = {"URL": ..., ...}')
        self.url: str = config["URL"]
        self.ttl = config.get("TTL", 3600)
        self.track_users = bool(config.get("TRACK_USERS", False))
        self.devices = bool(config.get("DEVICES", False))
        try:
            self.cookie = CookiePolicy(**config.get("COOKIE", {}))
        except (TypeError, ValueError) as exc:
            raise ImproperlyConfigured(f"settings.SESH['COOKIE']: {exc}") from None
        if self.cookie.cookie_name.lower() in Morsel._reserved:  # type: ignore[attr-defined]
            raise ImproperlyConfigured(
                f"settings.SESH['COOKIE']: {self.cookie.cookie_name!r} is a cookie attribute's"
                " name, which Django cannot use as a cookie's"
            )
        self._sync: Any = None
        # An asyncio client belongs to one event loop: a store per loop.
        self._async: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self.store(asyncio=False)  # a setup that cannot work fails now

    def store(self, asyncio: bool) -> Any:
        if not asyncio:
            if self._sync is None:
                self._sync = self._made(sesh.from_url, asyncio=False)
            return self._sync
        try:
            loop = get_running_loop()
        except RuntimeError:  # at start-up: check a store, and keep none
            self._made(sesh.async_from_url, asyncio=True)
            return None
        if loop not in self._async:
            self._async[loop] = self._made(sesh.async_from_url, asyncio=True)
        return self._async[loop]

    def _made(self, make: Any, *, asyncio: bool) -> Any:
        store = make(self.url, ttl=self.ttl, track_users=self.track_users)
        try:
            check_setup(store, self.cookie, self.devices, asyncio=asyncio)
        except (TypeError, ValueError) as exc:
            raise ImproperlyConfigured(f"settings.SESH: {exc}") from None
        return store


@functools.cache
def _settings() -> _Settings:
    return _Settings()


def _settings_changed(setting: str, **kwargs: Any) -> None:
    if setting == "SESH":  # override_settings(SESH=...) in a project's tests
        _settings.cache_clear()


setting_changed.connect(_settings_changed)


class SessionMiddleware:
    """Resolves each request's session, sets ``request.sesh`` and ``request.user``, and
    writes the cookie on the way out (see the module). Sync and async capable: under ASGI
    it runs async, on an asyncio store."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
        _settings().store(self.is_async)  # a setup that cannot work fails now

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        config = _settings()  # per request: override_settings(SESH=...) takes effect
        try:
            current = WebSession.resolve(
                config.store(False), config.cookie, config.devices, request.headers.get("cookie")
            )
        except BackendError:
            return _unavailable()
        _attach(request, current)
        response = self.get_response(request)
        return _written(response, current)

    async def __acall__(self, request: HttpRequest) -> Any:
        config = _settings()
        try:
            current = await AsyncWebSession.resolve(
                config.store(True), config.cookie, config.devices, request.headers.get("cookie")
            )
        except BackendError:
            return _unavailable()
        _attach(request, current)
        response = await self.get_response(request)
        return _written(response, current)

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        # A store that fails in a view is no logout: 503 (the cookie then carries only
        # what the store already changed).
        return _unavailable() if isinstance(exception, BackendError) else None


def _attach(request: HttpRequest, current: WebSession | AsyncWebSession) -> None:
    request.sesh = current
    request.user = SimpleLazyObject(lambda: _user(current.user_id))
    request.auser = functools.partial(_auser, current)


def _anonymous() -> Any:
    # Imported when first needed: the auth models need the app registry ready.
    from django.contrib.auth.models import AnonymousUser

    return AnonymousUser()


def _user(user_id: str | None) -> Any:
    if user_id is None:
        return _anonymous()
    model = get_user_model()
    try:
        return _active(model._default_manager.get(pk=user_id))
    except (model.DoesNotExist, ValueError, ValidationError):
        return _anonymous()


async def _auser(current: WebSession | AsyncWebSession) -> Any:
    if current.user_id is None:
        return _anonymous()
    model = get_user_model()
    try:
        return _active(await model._default_manager.aget(pk=current.user_id))
    except (model.DoesNotExist, ValueError, ValidationError):
        return _anonymous()


def _active(user: Any) -> Any:
    # As Django's ModelBackend: a user made inactive is nobody, whatever sessions remain.
    return user if getattr(user, "is_active", True) else _anonymous()


def _written(response: HttpResponse, current: WebSession | AsyncWebSession) -> HttpResponse:
    current.seal()
    # What the page shows depends on the cookie: no shared cache may give it to another.
    patch_vary_headers(response, ("Cookie",))
    change = current.cookie_change()
    if change is None:
        return response
    # Through response.cookies, where Django's tools (its test client, other middleware)
    # look; the value as is (base64 needs no quotes, which http.cookies would add).
    name, value, expired = change
    morsel: Morsel[str] = Morsel()
    morsel.set(name, value, value)
    morsel.update(cast(dict[str, str], current.cookie_policy.attributes(expired=expired)))
    response.cookies[name] = morsel
    response.headers["Cache-Control"] = "no-store"
    return response


def _unavailable() -> HttpResponse:
    return JsonResponse(
        {"error": "the session store is unavailable"},
        status=503,
        headers={"Retry-After": "1", "Cache-Control": "no-store"},
    )


def session(request: HttpRequest) -> WebSession | AsyncWebSession:
    """The request's session (``WebSession`` under WSGI, ``AsyncWebSession`` under ASGI)."""
    current = getattr(request, "sesh", None)
    if not isinstance(current, (WebSession, AsyncWebSession)):
        raise ImproperlyConfigured("add sesh.web.django.SessionMiddleware to MIDDLEWARE")
    return current


def login(request: HttpRequest, user: Any) -> None:
    """Logs ``user`` in, as ``django.contrib.auth.login`` does: a fresh session (the one
    the request came with ends), a fresh CSRF token and Django session key (if the
    project has Django's sessions), ``request.user`` set, ``user_logged_in`` sent.

    Raises:
        ValueError: ``user`` is not a saved user (no primary key).
    """
    current = session(request)
    user_id = _user_id(user)
    if isinstance(current, AsyncWebSession):
        async_to_sync(current.login)(user_id)
    else:
        current.login(user_id)
    _new_identity(request)
    request.user = user
    user_logged_in.send(sender=user.__class__, request=request, user=user)


async def alogin(request: HttpRequest, user: Any) -> None:
    """``login`` for async views."""
    current = session(request)
    user_id = _user_id(user)
    if isinstance(current, AsyncWebSession):
        await current.login(user_id)
    else:
        await sync_to_async(current.login)(user_id)
    await sync_to_async(_new_identity)(request)
    request.user = user
    await user_logged_in.asend(sender=user.__class__, request=request, user=user)


def _user_id(user: Any) -> str:
    if getattr(user, "pk", None) is None:
        raise ValueError("needs a saved user (AnonymousUser and unsaved users have no pk)")
    return str(user.pk)


def _new_identity(request: HttpRequest) -> None:
    # What Django's own login changes too: the CSRF token, and its session's key (data a
    # project keeps there follows the user, under a key an attacker cannot have planted).
    rotate_token(request)
    if hasattr(request, "session"):
        request.session.cycle_key()


def _forget(request: HttpRequest) -> None:
    # What Django's own logout clears: its session's data goes with the user.
    if hasattr(request, "session"):
        request.session.flush()


def logout(request: HttpRequest) -> None:
    """Logs out, as ``django.contrib.auth.logout`` does: ``user_logged_out`` sent, the
    session ended on the server, its cookie expired, ``request.user`` anonymous."""
    current = session(request)
    user = _signalled_user(request)
    user_logged_out.send(sender=user.__class__ if user else None, request=request, user=user)
    if isinstance(current, AsyncWebSession):
        async_to_sync(current.logout)()
    else:
        current.logout()
    _forget(request)
    request.user = _anonymous()


async def alogout(request: HttpRequest) -> None:
    """``logout`` for async views."""
    current = session(request)
    user = await request.auser()
    user = user if getattr(user, "is_authenticated", False) else None
    await user_logged_out.asend(sender=user.__class__ if user else None, request=request, user=user)
    if isinstance(current, AsyncWebSession):
        await current.logout()
    else:
        await sync_to_async(current.logout)()
    await sync_to_async(_forget)(request)
    request.user = _anonymous()


def end_sessions(user: Any) -> int:
    """Ends every session of ``user`` (needs ``TRACK_USERS``): call it when a password
    changes or an account is compromised. (Django's own sessions end by themselves when
    the password changes, through the session's hash of it; a sesh session names the user
    alone.) Returns how many ended.

    Raises:
        ValueError: ``user`` is not a saved user.
        NotEnabledError: the store does not track users.
        BackendError: the store failed; the sessions may still be live.
    """
    store = _settings().store(False)
    ended: int = store.die_all(_user_id(user))
    return ended


async def aend_sessions(user: Any) -> int:
    """``end_sessions`` for async code."""
    store = _settings().store(True)
    ended: int = await store.die_all(_user_id(user))
    return ended


class SafeExceptionReporterFilter(django_debug.SafeExceptionReporterFilter):  # type: ignore[misc]
    """Django's error reports (the e-mails to ``ADMINS``, the debug page) with the sesh
    cookie redacted as well: set ``DEFAULT_EXCEPTION_REPORTER_FILTER`` to
    ``"sesh.web.django.SafeExceptionReporterFilter"``."""

    def get_safe_cookies(self, request: HttpRequest) -> dict[str, Any]:
        cookies: dict[str, Any] = super().get_safe_cookies(request)
        name = _settings().cookie.cookie_name
        if name in cookies:
            cookies[name] = self.cleansed_substitute
        return cookies


def _signalled_user(request: HttpRequest) -> Any:
    user = getattr(request, "user", None)
    return user if getattr(user, "is_authenticated", False) else None
