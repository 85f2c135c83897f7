"""The example login app on Flask: the same page and JSON API as the FastAPI one
(``fastapi_app.py`` lists it), through ``sesh.web.flask``, no cookie code of its own."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request

from examples.webapp._api import MAX_BODY, PAGE, BadRequest, check_headers, field, parse_object
from sesh.web.flask import Sesh, current_session, login_required


def json_object() -> dict[str, Any]:
    """A POST's body by the rules of ``_api``, read no further than the limit."""
    check_headers(request.headers.get("Content-Type"), request.headers.get("Content-Length"))
    return parse_object(request.stream.read(MAX_BODY + 1))


def create_app(store_url: str, *, ttl: float, dev: bool) -> Flask:
    """The app on the store at ``store_url`` (``track_users`` on), production cookies
    unless ``dev``."""
    app = Flask(__name__)
    app.config.update(
        SESH_URL=store_url,
        SESH_TTL=ttl,
        SESH_TRACK_USERS=True,
        SESH_DEVICES=True,
        SESH_COOKIE_DEVELOPMENT=dev,
    )
    Sesh(app)

    @app.errorhandler(BadRequest)
    def bad_request(error: BadRequest) -> tuple[Response, int]:
        return jsonify({"error": str(error)}), error.status

    @app.get("/")
    def page() -> Response:
        return Response(PAGE.read_text(encoding="utf-8"), mimetype="text/html")

    @app.get("/api/me")
    def me() -> tuple[Response, int]:
        user_id = current_session.user_id
        return jsonify({"user_id": user_id}), 200 if user_id is not None else 401

    @app.post("/api/login")
    def login() -> Response:
        user_id = field(json_object(), "user_id")
        try:
            current_session.login(user_id)
        except ValueError as exc:  # empty, too long, not text
            raise BadRequest(400, str(exc)) from None
        return jsonify({"user_id": user_id})

    @app.post("/api/logout")
    def logout() -> Response:
        json_object()
        return jsonify({"ended": current_session.logout()})

    @app.post("/api/rotate")
    @login_required
    def rotate() -> tuple[Response, int]:
        json_object()
        if not current_session.rotate():
            return jsonify({"user_id": None}), 401
        return jsonify({"user_id": current_session.user_id}), 200

    @app.get("/api/sessions")
    @login_required
    def sessions() -> Response:
        devices = current_session.devices()
        return jsonify({"sessions": [{"handle": d.handle, "current": d.current} for d in devices]})

    @app.post("/api/sessions/end")
    @login_required
    def end() -> Response:
        handle = field(json_object(), "handle")
        return jsonify({"ended": current_session.end_device(handle)})

    @app.post("/api/logout-others")
    @login_required
    def logout_others() -> Response:
        json_object()
        return jsonify({"ended": current_session.logout_others()})

    return app
