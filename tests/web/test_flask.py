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
    current_user_id,
    login_required,
    login_user,
    logout_user,
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
        return jsonify({"user_id": str(current_user_id)})

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
    assert client.get("/me").json == {"user_id": "alice"}
    assert client.post("/logout").json == {"ended": True}
    assert client.get("/me").status_code == 401


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


class User(flask_login.UserMixin):  # type: ignore[misc]
    def __init__(self, user_id: str) -> None:
        self.id = user_id


def test_the_flask_login_bridge() -> None:
    app = make_app(SECRET_KEY="only for Flask-Login's own cookie, which is not used")
    manager = flask_login.LoginManager(app)
    use_flask_login(manager, lambda user_id: User(user_id) if user_id != "ghost" else None)
    seen: list[str] = []
    flask_login.user_logged_in.connect(lambda app, user: seen.append(f"in {user.id}"), weak=False)
    flask_login.user_logged_out.connect(lambda app, user: seen.append(f"out {user.id}"), weak=False)

    @app.post("/flask-login/<user>")
    def sign_in(user: str) -> Any:
        login_user(User(user))
        return jsonify({"current": flask_login.current_user.get_id()})

    @app.get("/whoami")
    @flask_login.login_required
    def whoami() -> Any:
        return jsonify({"user": flask_login.current_user.get_id()})

    @app.post("/flask-logout")
    def sign_out() -> Any:
        ended = logout_user()
        return jsonify({"ended": ended, "anonymous": flask_login.current_user.is_anonymous})

    client = app.test_client()
    assert client.get("/whoami").status_code == 401
    reply = client.post("/flask-login/alice")
    assert reply.json == {"current": "alice"}
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
