"""The web layer against the peers people use, per framework, in process.

Run from the repository root: ``.venv/bin/python -m benchmarks.web [--quick] [--out DIR]``
(``python -m benchmarks`` runs it too, in a process of its own: Django is configured once
per process). Writes ``web.md`` beside the other results.

For each framework, an authenticated ``GET /me`` (the user id of the request's session)
with a live session cookie:

- **FastAPI**: sesh (``sesh.web.fastapi``) against starsessions on Redis, and the same app
  with no session at all (the floor); the ASGI callable driven directly, no sockets.
- **Flask**: sesh (``sesh.web.flask``) against Flask-Session on Redis with Flask-Login,
  and the floor; the WSGI callable driven directly.
- **Django**: sesh (``sesh.web.django``) against Django's sessions in a django-redis cache
  with ``django.contrib.auth``, and the floor; Django's WSGI handler driven directly. Both
  load the user from the user model (one SQLite query).

Store round trips per request are counted on the server (Redis's commandstats). Requests
per second come from interleaved rounds (who goes first rotates), as medians of per-round
ratios with their range, and client CPU per request beside them; redis-server runs on one
core and the client on the other.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any

import redis
import redis.asyncio
from fastapi import Depends, FastAPI, Request

from benchmarks._common import Ratio, interleave, ratio
from testbed.servers import RedisServer

FULL = {"n": 500, "rounds": 11}
QUICK = {"n": 20, "rounds": 2}
TTL = 3600
COOKIE = "sesh"  # development cookies: the names every contender uses are its own


def pin(server: RedisServer) -> None:
    """redis-server on the first core, this process on the second (when there are two)."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) >= 2 and server.process is not None:
        os.sched_setaffinity(server.process.pid, {cores[0]})
        os.sched_setaffinity(0, set(cores[1:]))


# --- FastAPI --------------------------------------------------------------------------


def fastapi_apps(url: str, loop: asyncio.AbstractEventLoop) -> dict[str, tuple[Any, str]]:
    """name -> (the ASGI app, the Cookie header of a logged-in session), all on ``loop``."""
    from typing import Annotated

    from starsessions import SessionAutoloadMiddleware, SessionMiddleware
    from starsessions.stores.redis import RedisStore as StarRedisStore

    import sesh
    from sesh.web import CookiePolicy
    from sesh.web.fastapi import setup

    apps: dict[str, tuple[Any, str]] = {}
    store = sesh.async_from_url(url, ttl=TTL)
    ours = FastAPI()
    auth = setup(ours, store, cookie=CookiePolicy(development=True))

    async def me_ours(user_id: str) -> dict[str, str]:
        return {"user_id": user_id}

    ours.get("/me")(_annotated(me_ours, Annotated[str, Depends(auth.required_user_id)]))
    session_id = loop.run_until_complete(_login(store))
    apps["sesh"] = (ours, f"{COOKIE}={session_id}")

    peer = FastAPI()
    peer.add_middleware(SessionAutoloadMiddleware)
    peer.add_middleware(
        SessionMiddleware,
        store=StarRedisStore(connection=redis.asyncio.Redis.from_url(url)),
        cookie_https_only=False,
        lifetime=TTL,
        rolling=True,  # a sliding expiry, as sesh's touch
    )

    @peer.get("/me")
    async def me_peer(request: Request) -> dict[str, str]:
        return {"user_id": request.session["user_id"]}

    @peer.post("/login")
    async def login_peer(request: Request) -> dict[str, str]:
        request.session["user_id"] = "1337"
        return {}

    apps["starsessions"] = (peer, _asgi_login(peer, loop))

    floor = FastAPI()

    @floor.get("/me")
    async def me_floor() -> dict[str, str]:
        return {"user_id": "1337"}

    apps["no session"] = (floor, "")
    return apps


def _annotated(view: Callable[..., Any], annotation: Any) -> Callable[..., Any]:
    view.__annotations__["user_id"] = annotation
    return view


async def _login(store: Any) -> str:
    session_id: str = await store.set(1337)
    return session_id


def _asgi_request(method: str, path: str, cookie: str) -> dict[str, Any]:
    headers = [(b"host", b"bench")] + ([(b"cookie", cookie.encode())] if cookie else [])
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }  # fmt: skip


async def _asgi_call(app: Any, method: str, path: str, cookie: str) -> tuple[int, list[Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(_asgi_request(method, path, cookie), receive, send)
    start = sent[0]
    return start["status"], start.get("headers", [])


def _asgi_login(app: Any, loop: asyncio.AbstractEventLoop) -> str:
    status, headers = loop.run_until_complete(_asgi_call(app, "POST", "/login", ""))
    assert status == 200, status
    cookie: str = next(v.decode() for k, v in headers if k == b"set-cookie")
    return cookie.split(";")[0]


def asgi_runner(app: Any, cookie: str, loop: asyncio.AbstractEventLoop) -> Callable[[int], float]:
    async def many(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            status, _ = await _asgi_call(app, "GET", "/me", cookie)
            assert status == 200, status
        return time.perf_counter() - started

    return lambda n: loop.run_until_complete(many(n))


# --- Flask ----------------------------------------------------------------------------


def flask_apps(url: str) -> dict[str, tuple[Any, str]]:
    import flask_login
    from flask import Flask, jsonify
    from flask_session import Session

    import sesh
    from sesh.web import CookiePolicy
    from sesh.web.flask import Sesh, current_session, login_required

    apps: dict[str, tuple[Any, str]] = {}
    store = sesh.from_url(url, ttl=TTL)
    ours = Flask("sesh")
    Sesh(ours, store=store, cookie=CookiePolicy(development=True))

    @ours.get("/me")
    @login_required
    def me_ours() -> Any:
        return jsonify({"user_id": current_session.user_id})

    apps["sesh"] = (ours, f"{COOKIE}={store.set(1337)}")

    peer = Flask("peer")
    peer.config.update(
        SECRET_KEY="benchmarks-only",
        SESSION_TYPE="redis",
        SESSION_REDIS=redis.Redis.from_url(url),
        PERMANENT_SESSION_LIFETIME=TTL,
        SESSION_REFRESH_EACH_REQUEST=True,
    )
    Session(peer)
    manager = flask_login.LoginManager(peer)

    class User(flask_login.UserMixin):  # type: ignore[misc]
        def __init__(self, user_id: str) -> None:
            self.id = user_id

    manager.user_loader(User)

    @peer.get("/me")
    @flask_login.login_required
    def me_peer() -> Any:
        return jsonify({"user_id": flask_login.current_user.get_id()})

    @peer.post("/login")
    def login_peer() -> Any:
        flask_login.login_user(User("1337"))
        return jsonify({})

    apps["Flask-Session + Flask-Login"] = (peer, _wsgi_login(peer))

    floor = Flask("floor")

    @floor.get("/me")
    def me_floor() -> Any:
        return jsonify({"user_id": "1337"})

    apps["no session"] = (floor, "")
    return apps


def _environ(method: str, path: str, cookie: str) -> dict[str, Any]:
    from werkzeug.test import create_environ

    environ: dict[str, Any] = create_environ(path, method=method)
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    return environ


def _wsgi_call(app: Any, method: str, path: str, cookie: str) -> tuple[str, list[Any]]:
    seen: list[Any] = []

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> Any:
        seen[:] = [status, headers]
        return lambda data: None

    body = app(_environ(method, path, cookie), start_response)
    for _ in body:
        pass
    if hasattr(body, "close"):
        body.close()
    return seen[0], seen[1]


def _wsgi_login(app: Any) -> str:
    status, headers = _wsgi_call(app, "POST", "/login", "")
    assert status.startswith("200"), status
    cookie = next(v for k, v in headers if k.lower() == "set-cookie")
    return str(cookie.split(";")[0])


def wsgi_runner(app: Any, cookie: str) -> Callable[[int], float]:
    def many(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            status, _ = _wsgi_call(app, "GET", "/me", cookie)
            assert status.startswith("200"), status
        return time.perf_counter() - started

    return many


# --- Django ---------------------------------------------------------------------------


def django_apps(url: str, folder: str) -> dict[str, tuple[Any, str]]:
    import django
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command
    from django.test.utils import override_settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmarks-only",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF="benchmarks._web_urls",
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": f"{folder}/w.db"}},
        INSTALLED_APPS=[
            "django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions",
        ],
        CACHES={"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": url}},
        SESSION_ENGINE="django.contrib.sessions.backends.cache",
        SESSION_COOKIE_AGE=TTL,
        SESSION_SAVE_EVERY_REQUEST=True,  # a sliding expiry, as sesh's touch
        SESH={"URL": url, "TTL": TTL, "COOKIE": {"development": True}},
        USE_TZ=True,
    )  # fmt: skip
    django.setup()
    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create(username="bench", pk=1337)
    apps: dict[str, tuple[Any, str]] = {}
    chains = {
        "sesh": ["sesh.web.django.SessionMiddleware"],
        "Django sessions (django-redis) + auth": [
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
        ],
        "no session": [],
    }
    for name, middleware in chains.items():
        with override_settings(MIDDLEWARE=middleware):
            handler = WSGIHandler()
        apps[name] = (handler, "")
    import sesh

    ours = sesh.from_url(url, ttl=TTL)
    apps["sesh"] = (apps["sesh"][0], f"{COOKIE}={ours.set(user.pk)}")
    peer = apps["Django sessions (django-redis) + auth"][0]
    apps["Django sessions (django-redis) + auth"] = (peer, _wsgi_login(peer))
    return apps


# --- the run --------------------------------------------------------------------------


def round_trips(client: redis.Redis, runner: Callable[[int], float]) -> float:
    """Redis commands per request, from the server's own statistics (10 requests)."""
    runner(1)
    client.config_resetstat()
    runner(10)
    stats: dict[str, Any] = client.info("commandstats")
    ours = ("cmdstat_info", "cmdstat_config|resetstat")
    return sum(int(s["calls"]) for k, s in stats.items() if k not in ours) / 10


def cpu_per_request(runner: Callable[[int], float], n: int) -> float:
    """Client CPU microseconds per request (process time: steady on a shared machine)."""
    started = time.process_time()
    runner(n)
    return (time.process_time() - started) / n * 1e6


def compare(
    name: str, runners: dict[str, Callable[[int], float]], client: redis.Redis, n: int, rounds: int
) -> list[list[str]]:
    for runner in runners.values():
        runner(5)  # connections up, scripts cached
    rates = interleave(runners, n, rounds)
    rows = []
    for contender in runners:
        versus_floor: Ratio = ratio(rates, contender, "no session")
        row = [
            name,
            contender,
            f"{round_trips(client, runners[contender]):g}",
            f"{median(rates[contender]):,.0f}",
            f"{cpu_per_request(runners[contender], n):,.0f}",
            versus_floor.cell(),
        ]
        if contender == "sesh":
            row.append("-")
        else:
            row.append(ratio(rates, "sesh", contender).cell())
        rows.append(row)
    return rows


def run(sizes: dict[str, int]) -> list[str]:
    n, rounds = sizes["n"], sizes["rounds"]
    server = RedisServer()
    server.start()
    pin(server)
    client = redis.Redis(port=server.port)
    rows: list[list[str]] = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            loop = asyncio.new_event_loop()
            asgi = fastapi_apps(server.url, loop)
            runners = {k: asgi_runner(app, cookie, loop) for k, (app, cookie) in asgi.items()}
            rows += compare("FastAPI", runners, client, n, rounds)
            wsgi = flask_apps(server.url)
            rows += compare(
                "Flask", {k: wsgi_runner(a, c) for k, (a, c) in wsgi.items()}, client, n, rounds
            )
            django = django_apps(server.url, folder)
            runners = {k: wsgi_runner(a, c) for k, (a, c) in django.items()}
            rows += compare("Django", runners, client, n, rounds)
            loop.close()
    finally:
        client.close()
        server.close()
    head = [
        "framework", "contender", "Redis commands per request", "requests/s",
        "client CPU µs per request", "its / no session", "sesh / it",
    ]  # fmt: skip
    lines = [
        "## The web layer: an authenticated request, per framework",
        "",
        f"Each framework's app driven in process (no sockets), {rounds} interleaved rounds of"
        f" {n} requests; medians of per-round ratios (range). redis-server on one core, the"
        " client on the other. Reproduce: `.venv/bin/python -m benchmarks.web`.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check, not measure")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    text = "\n".join(run(QUICK if args.quick else FULL))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "web.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
