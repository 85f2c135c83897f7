"""Flask: login sessions as an extension, the shape Flask users know.

::

    from flask import Flask
    from sesh.web.flask import Sesh, current_session, login_required

    app = Flask(__name__)
    app.config["SESH_URL"] = "redis://localhost:6379/0"
    sesh = Sesh(app)  # or Sesh() and sesh.init_app(app)

    @app.get("/me")
    @login_required  # 401 for an anonymous request
    def me():
        return {"user_id": current_session.user_id}

    @app.post("/login")
    def login():
        current_session.login("alice")  # after checking a password
        return {}

Settings (``app.config``): ``SESH_URL`` (or a store passed to ``Sesh``), ``SESH_TTL``
(seconds, default 3600), ``SESH_TRACK_USERS`` and ``SESH_DEVICES`` (device lists; both
default False), ``SESH_COOKIE_DEVELOPMENT`` (plain http on localhost),
``SESH_COOKIE_NAME``, ``SESH_COOKIE_SAMESITE``, ``SESH_COOKIE_DOMAIN``,
``SESH_COOKIE_PATH``, ``SESH_COOKIE_MAX_AGE``.

Each request's session is resolved in ``before_request`` (one store call, or none without
a well-formed cookie), and the cookie written or expired in ``after_request`` (with
``Vary: Cookie``, so no shared cache serves one user's page to another). A store failure
(``BackendError``) is a 503 JSON response, never a logout; an app-wide
``errorhandler(Exception)`` registered by the app takes precedence over sesh's, so such a
handler should return ``unavailable(error)`` for a ``BackendError``. Flask is WSGI: the
store is a sync one.

For apps already on Flask-Login, ``use_flask_login`` makes ``current_user`` come from the
sesh session, and this module's ``login_user`` and ``logout_user`` replace Flask-Login's:
its own logout leaves the session id valid. Flask-Login's remember-me cookie and
``fresh_login_required`` rest on Flask's own session, which the bridge does not use: a
sesh session lasts its ttl and is refreshed by use, and ``fresh_login_required`` refuses
every request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, jsonify
from werkzeug.local import LocalProxy

import sesh
from sesh.errors import BackendError
from sesh.web._cookies import CookiePolicy
from sesh.web._session import WebSession, check_setup

__all__ = [
    "Sesh",
    "current_session",
    "login_required",
    "login_user",
    "logout_user",
    "unavailable",
    "use_flask_login",
]

F = TypeVar("F", bound=Callable[..., Any])
_G_KEY = "_sesh_session"


class Sesh:
    """The Flask extension: registered in ``app.extensions["sesh"]`` by ``init_app``.

    Args:
        app: the app, or None to call ``init_app`` later.
        store: a sync sesh store; by default ``init_app`` makes one from ``SESH_URL`` (and
            ``SESH_TTL``, ``SESH_TRACK_USERS``), for the app's life.
        cookie: the cookie policy; by default from the ``SESH_COOKIE_*`` settings.
        devices: allow device lists; by default ``SESH_DEVICES``.
    """

    def __init__(
        self,
        app: Flask | None = None,
        store: Any = None,
        *,
        cookie: CookiePolicy | None = None,
        devices: bool | None = None,
    ) -> None:
        self.store = store
        self.cookie = cookie
        self.devices = devices
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Reads the settings, makes or checks the store, and hooks the app's requests.

        Raises:
            TypeError, ValueError: a setup that cannot work (no store, an async store, a
                device list without ``track_users``, a cookie policy that cannot work).
        """
        config = app.config
        store = self.store
        if store is None:
            url = config.get("SESH_URL")
            if not url:
                raise ValueError("set SESH_URL in app.config, or pass a store to Sesh()")
            store = sesh.from_url(
                url,
                ttl=config.get("SESH_TTL", 3600),
                track_users=bool(config.get("SESH_TRACK_USERS", False)),
            )
        cookie = self.cookie or CookiePolicy(
            name=config.get("SESH_COOKIE_NAME"),
            same_site=config.get("SESH_COOKIE_SAMESITE", "lax"),
            domain=config.get("SESH_COOKIE_DOMAIN"),
            path=config.get("SESH_COOKIE_PATH", "/"),
            max_age=config.get("SESH_COOKIE_MAX_AGE"),
            development=bool(config.get("SESH_COOKIE_DEVELOPMENT", False)),
        )
        devices = bool(config.get("SESH_DEVICES", False)) if self.devices is None else self.devices
        check_setup(store, cookie, devices, asyncio=False)
        app.extensions["sesh"] = _Bound(store, cookie, devices)
        app.before_request(_resolve)
        app.after_request(_write_cookie)
        app.teardown_request(_forget)
        app.register_error_handler(BackendError, unavailable)


class _Bound:
    """What ``init_app`` keeps for one app."""

    __slots__ = ("cookie", "devices", "store")

    def __init__(self, store: Any, cookie: CookiePolicy, devices: bool) -> None:
        self.store, self.cookie, self.devices = store, cookie, devices


def _bound() -> _Bound:
    bound = current_app.extensions.get("sesh")
    if not isinstance(bound, _Bound):
        raise RuntimeError("sesh is not set up on this app: call Sesh(app) or init_app")
    return bound


def _resolve() -> None:
    from flask import request

    bound = _bound()
    header = request.headers.get("Cookie")
    setattr(g, _G_KEY, WebSession.resolve(bound.store, bound.cookie, bound.devices, header))


def _write_cookie(response: Response) -> Response:
    session: WebSession | None = getattr(g, _G_KEY, None)
    if session is not None:
        # The response depends on who asked: shared caches must key it on the cookie.
        response.vary.add("Cookie")
        for name, value in session.response_headers():
            if name == "set-cookie":
                response.headers.add("Set-Cookie", value)
            else:
                response.headers[name] = value
        session.seal()
    return response


def _forget(error: BaseException | None) -> None:
    # ``g`` outlives the request when the app context was pushed by the caller (tests,
    # CLI commands): the session object must not.
    g.pop(_G_KEY, None)


def unavailable(error: BackendError) -> tuple[Response, int, dict[str, str]]:
    """The answer to a ``BackendError``: 503 JSON, ``Retry-After: 1``. An app-wide
    ``errorhandler(Exception)`` of the app's own is chosen before sesh's by Flask: it can
    return this for a ``BackendError``."""
    # A store that fails is no logout: 503, and no cookie change but what the store made.
    body = jsonify({"error": "the session store is unavailable"})
    return body, 503, {"Retry-After": "1", "Cache-Control": "no-store"}


def _current_session() -> WebSession:
    session = getattr(g, _G_KEY, None)
    if not isinstance(session, WebSession):
        raise RuntimeError("no sesh session here: call Sesh(app) and use it inside a request")
    return session


current_session: WebSession = LocalProxy(_current_session)  # type: ignore[assignment]
"""The request's ``WebSession``: ``login``, ``logout``, ``rotate``, ``devices``..."""


def login_required(view: F) -> F:
    """A view decorator: 401 for a request without a logged-in user."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if _current_session().user_id is None:
            return jsonify({"error": "not logged in"}), 401
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def use_flask_login(login_manager: Any, load_user: Callable[[str], Any]) -> None:
    """Makes Flask-Login's ``current_user`` the user of the sesh session.

    ``load_user(user_id)`` returns the app's user object (or None); a user whose
    ``is_active`` is False counts as anonymous. Flask-Login's own session keys and its
    remember-me cookie are not read: the sesh session alone says who is logged in. Log in
    and out with this module's ``login_user`` and ``logout_user``: Flask-Login's
    ``logout_user`` alone leaves the session valid.

    Raises:
        TypeError: ``login_manager`` is not a Flask-Login ``LoginManager`` this bridge
            knows (it replaces the manager's user loading, which Flask-Login 0.6 does in
            ``_load_user``).
    """
    import flask_login

    if not isinstance(login_manager, flask_login.LoginManager) or not callable(
        getattr(login_manager, "_load_user", None)
    ):
        raise TypeError("use_flask_login needs a flask_login.LoginManager (Flask-Login 0.6)")

    def from_sesh() -> None:
        flask_login.user_accessed.send(current_app._get_current_object())  # type: ignore[attr-defined]
        user_id = _current_session().user_id
        user = None if user_id is None else load_user(user_id)
        if user is not None and not getattr(user, "is_active", True):
            user = None
        g._login_user = login_manager.anonymous_user() if user is None else user

    # Flask-Login loads from its own session, then a remember-me cookie, and only then a
    # request loader: a stale remember-me cookie would hide the sesh user. So the whole
    # loading step is replaced; the loaders are set so Flask-Login's checks pass.
    login_manager._load_user = from_sesh
    login_manager.request_loader(lambda request: None)
    login_manager.user_loader(lambda user_id: None)


def login_user(user: Any, remember: bool = False, *, force: bool = False) -> bool:
    """Logs a Flask-Login user in: a fresh sesh session for ``user.get_id()`` (the one the
    request came with ends), ``current_user`` set, and Flask-Login's signal sent.

    As Flask-Login's, it refuses a user whose ``is_active`` is False (returns False)
    unless ``force``. True when logged in.

    Raises:
        ValueError: ``remember=True``: a sesh session lasts its ttl and is refreshed by
            use; there is no second, longer-lived remember-me credential.
    """
    import flask_login

    if remember:
        raise ValueError(
            "remember-me cookies are not supported with sesh: a session lasts its ttl "
            "(SESH_TTL) and is refreshed by use"
        )
    if not force and not getattr(user, "is_active", True):
        return False
    _current_session().login(user.get_id())
    g._login_user = user  # Flask-Login's cache of the current user
    flask_login.user_logged_in.send(current_app._get_current_object(), user=user)  # type: ignore[attr-defined]
    return True


def logout_user() -> bool:
    """Logs out: the sesh session ends on the server and its cookie expires;
    ``current_user`` becomes anonymous; Flask-Login's signal is sent. True if there was a
    session."""
    import flask_login

    user = flask_login.current_user._get_current_object()
    ended = _current_session().logout()
    manager = current_app.login_manager  # type: ignore[attr-defined]
    g._login_user = manager.anonymous_user()
    flask_login.user_logged_out.send(current_app._get_current_object(), user=user)  # type: ignore[attr-defined]
    return ended
