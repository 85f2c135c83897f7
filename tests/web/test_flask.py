"""sesh.web.flask inside Flask's own test client: what the HTTP suite does not reach (the
extension's shape, the Flask-Login bridge, start-up refusals, failures)."""

from __future__ import annotations

from typing import Any

import flask_login
import pytest
from flask import Flask, jsonify

from sesh.backends.memory import AsyncMemoryStore, MemoryStore
from sesh.errors import BackendError
from sesh.web import CookiePolicy
from sesh.web.flask import (
    Sesh,
    current_session,
    login_required,
    login_user,
    logout_user,
    unavailable,
    use_flask_login,
)

DEV = CookiePolicy(development=True)


def make_app(store: Any = None, **config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(config)
    Sesh(store=store or MemoryStore(ttl=60), cookie=DEV).init_app(app)

    @app.post("/login/<user>")
    def login(user: str) -> Any:
        current_session.login(user)
        return jsonify({})

    @app.get("/me")
    @login_required
    def me() -> Any:
        return jsonify({"user_id": current_session.user_id})

    @app.post("/logout")
    def logout() -> Any:
        return jsonify({"ended": current_session.logout()})

    return app


def test_the_extension_is_registered_and_resolves_the_user() -> None:
    app = make_app()
    assert "sesh" in app.extensions
    client = app.test_client()
    assert client.get("/me").status_code == 401
    reply = client.post("/login/alice")
    assert reply.headers["Cache-Control"] == "no-store"
    assert reply.headers["Set-Cookie"].startswith("sesh=")
    assert reply.headers["Vary"] == "Cookie"
    assert client.get("/me").json == {"user_id": "alice"}
    assert client.post("/logout").json == {"ended": True}
    assert client.get("/me").status_code == 401


def test_every_response_varies_on_the_cookie_and_keeps_the_apps_own_vary() -> None:
    app = make_app()

    @app.get("/page")
    def page() -> Any:
        return "page", 200, {"Vary": "Accept-Encoding"}

    vary = app.test_client().get("/page").headers["Vary"]
    assert {v.strip() for v in vary.split(",")} == {"Accept-Encoding", "Cookie"}


def test_the_session_does_not_outlive_its_request_in_a_pushed_app_context() -> None:
    app = make_app()
    client = app.test_client()
    with app.app_context():
        client.post("/login/alice")
        with pytest.raises(RuntimeError, match="no sesh session here"):
            _ = current_session.user_id


def test_settings_make_the_store() -> None:
    app = Flask(__name__)
    app.config.update(SESH_URL="memory://", SESH_TTL=60, SESH_TRACK_USERS=True, SESH_DEVICES=True)
    app.config["SESH_COOKIE_DEVELOPMENT"] = True
    Sesh(app)

    @app.get("/devices")
    def devices() -> Any:
        current_session.login("alice")
        return jsonify([d.current for d in current_session.devices()])

    assert app.test_client().get("/devices").json == [True]


@pytest.mark.parametrize(
    ("store", "config", "error"),
    [
        (None, {}, "SESH_URL"),
        (AsyncMemoryStore(ttl=60), {}, "sync store"),
        (MemoryStore(ttl=60), {"SESH_DEVICES": True}, "track_users"),
    ],
)
def test_setups_that_cannot_work_are_refused_by_init_app(
    store: Any, config: dict[str, Any], error: str
) -> None:
    app = Flask(__name__)
    app.config.update(config)
    with pytest.raises((TypeError, ValueError), match=error):
        Sesh(app, store=store, cookie=DEV)


class FailingDie(MemoryStore):
    def die(self, session_id: str) -> bool:
        raise BackendError("the store is down")


def test_a_store_failure_is_a_503_and_no_logout() -> None:
    client = make_app(FailingDie(ttl=60)).test_client()
    client.post("/login/alice")
    reply = client.post("/logout")
    assert reply.status_code == 503
    assert "Set-Cookie" not in reply.headers
    assert client.get("/me").json == {"user_id": "alice"}


def test_an_app_wide_error_handler_can_keep_the_503() -> None:
    app = make_app(FailingDie(ttl=60))

    @app.errorhandler(Exception)
    def everything(error: Exception) -> Any:
        if isinstance(error, BackendError):
            return unavailable(error)
        return jsonify({"error": "sorry"}), 500

    client = app.test_client()
    client.post("/login/alice")
    reply = client.post("/logout")
    assert (reply.status_code, reply.headers["Retry-After"]) == (503, "1")
    assert client.get("/me").json == {"user_id": "alice"}


class User(flask_login.UserMixin):  # type: ignore[misc]
    def __init__(self, user_id: str, active: bool = True) -> None:
        self.id = user_id
        self.active = active

    @property
    def is_active(self) -> bool:
        return self.active


def bridged_app() -> Flask:
    """An app on Flask-Login through the bridge; ``ghost`` no longer exists and
    ``dormant`` is inactive."""
    app = make_app(SECRET_KEY="only for Flask-Login's own cookie, which is not used")
    manager = flask_login.LoginManager(app)

    def load(user_id: str) -> User | None:
        return None if user_id == "ghost" else User(user_id, active=user_id != "dormant")

    use_flask_login(manager, load)

    @app.post("/flask-login/<user>")
    def sign_in(user: str) -> Any:
        done = login_user(User(user, active=user != "dormant"), force=user == "dormant")
        return jsonify({"done": done, "current": flask_login.current_user.get_id()})

    @app.get("/whoami")
    @flask_login.login_required
    def whoami() -> Any:
        return jsonify({"user": flask_login.current_user.get_id()})

    @app.post("/flask-logout")
    def sign_out() -> Any:
        ended = logout_user()
        return jsonify({"ended": ended, "anonymous": flask_login.current_user.is_anonymous})

    return app


def test_the_flask_login_bridge() -> None:
    app = bridged_app()
    seen: list[str] = []
    flask_login.user_logged_in.connect(lambda app, user: seen.append(f"in {user.id}"), weak=False)
    flask_login.user_logged_out.connect(lambda app, user: seen.append(f"out {user.id}"), weak=False)
    client = app.test_client()
    assert client.get("/whoami").status_code == 401
    reply = client.post("/flask-login/alice")
    assert reply.json == {"done": True, "current": "alice"}
    assert [c for c in reply.headers.getlist("Set-Cookie") if c.startswith("session=")] == []
    cookie = client.get_cookie("sesh")
    assert cookie is not None
    assert client.get("/whoami").json == {"user": "alice"}
    assert client.post("/flask-logout").json == {"ended": True, "anonymous": True}
    assert seen == ["in alice", "out alice"]
    # Flask-Login alone would leave the session valid: the replayed cookie is anonymous.
    client.set_cookie("sesh", cookie.value)
    assert client.get("/whoami").status_code == 401
    # A session whose user the app no longer has is anonymous.
    client.post("/flask-login/ghost")
    assert client.get("/whoami").status_code == 401


def test_the_bridge_refuses_inactive_users_as_flask_login_does() -> None:
    app = bridged_app()
    client = app.test_client()

    @app.post("/try/<user>")
    def attempt(user: str) -> Any:
        return jsonify({"done": login_user(User(user, active=False))})

    reply = client.post("/try/bob")
    assert reply.json == {"done": False}
    assert client.get_cookie("sesh") is None
    # Forced in, but inactive when loaded: anonymous on the next request.
    assert client.post("/flask-login/dormant").json == {"done": True, "current": "dormant"}
    assert client.get("/whoami").status_code == 401


def test_remember_me_is_refused_and_a_remember_cookie_is_no_way_in() -> None:
    app = bridged_app()
    app.testing = True  # the view's error reaches the test
    client = app.test_client()

    @app.post("/remember")
    def remember() -> Any:
        login_user(User("alice"), remember=True)
        return jsonify({})

    with pytest.raises(ValueError, match="remember-me"):
        client.post("/remember")
    # A remember-me cookie (signed with the app's key, as Flask-Login makes them) names
    # mallory: it neither logs anyone in nor hides the sesh session's user.
    with app.test_request_context():
        forged = flask_login.utils.encode_cookie("mallory")
    client.set_cookie("remember_token", forged)
    assert client.get("/whoami").status_code == 401
    client.post("/flask-login/alice")
    assert client.get("/whoami").json == {"user": "alice"}


def test_the_bridge_needs_a_login_manager() -> None:
    with pytest.raises(TypeError, match="LoginManager"):
        use_flask_login(object(), lambda user_id: None)
