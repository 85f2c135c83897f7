"""The example app's HTTP contract, against each framework's app run as a real process.

Written once: every framework's example app (``examples/webapp/serve.py FRAMEWORK``) must
pass it, on a real redis-server and on the SQLite store. Cookies are raw headers.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from testbed.servers import RedisServer
from testbed.webapps import Reply, WebApp

FRAMEWORKS = ["fastapi", "flask", "django"]
COOKIE = "__Host-sesh"
ATTRIBUTES = {"path=/", "secure", "httponly", "samesite=lax"}  # in any order, any case
SESSION_ID = re.compile(r"[A-Za-z0-9+/]{43}=")


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server of this module's own: its commands are counted, and it is stalled."""
    server = RedisServer()
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="module", params=[(f, s) for f in FRAMEWORKS for s in ("redis", "sqlite")],
                ids=lambda p: f"{p[0]}-{p[1]}")  # fmt: skip
def app(
    request: pytest.FixtureRequest,
    redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[WebApp]:
    framework, store = request.param
    url = (
        redis_server.url if store == "redis" else f"sqlite:///{tmp_path_factory.mktemp('web')}/s.db"
    )
    running = WebApp(framework, url).start()
    yield running
    running.stop()


def parsed(header: str) -> tuple[str, str, set[str]]:
    """A Set-Cookie header as (name, value, its attributes in lower case, in a set)."""
    first, *attributes = (part.strip() for part in header.split(";"))
    name, _, value = first.partition("=")
    return name, value, {attribute.lower() for attribute in attributes}


def session_cookie(reply: Reply) -> str:
    """The session id a reply sets (asserting it sets exactly one, well-formed)."""
    (header,) = reply.set_cookies()
    name, _, rest = header.partition("=")
    value = rest.split(";")[0]
    assert name == COOKIE
    assert SESSION_ID.fullmatch(value), header
    return value


def login(app: WebApp, user: str = "alice", cookie: str | None = None) -> str:
    reply = app.call("POST", "/api/login", json_body={"user_id": user}, cookie=cookie)
    assert reply.status == 200, reply.body
    assert reply.json() == {"user_id": user}
    return session_cookie(reply)


def me(app: WebApp, session_id: str) -> Reply:
    return app.call("GET", "/api/me", cookie=f"{COOKIE}={session_id}")


def end_device(app: WebApp, session_id: str, handle: str) -> Reply:
    cookie = f"{COOKIE}={session_id}"
    return app.call("POST", "/api/sessions/end", cookie=cookie, json_body={"handle": handle})


def commands_sent(server: RedisServer, call: Callable[[], object]) -> list[str]:
    """The commands clients sent the server while ``call`` ran (not those a script ran
    inside it, nor what this watch itself sends)."""
    marker = f"end-{time.monotonic_ns()}"
    with redis.Redis(port=server.port) as client, client.monitor() as monitor:
        call()
        client.echo(marker)
        names: list[str] = []
        while True:
            command = monitor.next_command()
            if command["command"] == f"ECHO {marker}":
                return names
            name = command["command"].split()[0].upper()
            if command["client_type"] != "lua" and name not in ("HELLO", "CLIENT", "INFO"):
                names.append(name)


def redis_calls(server: RedisServer) -> int:
    with redis.Redis(port=server.port) as client:
        stats = client.info("commandstats")
    # Less what this very count sends: a connection's HELLO and CLIENT SETINFO, and INFO.
    ours = ("cmdstat_info", "cmdstat_hello", "cmdstat_client")
    return sum(int(v["calls"]) for k, v in stats.items() if not k.startswith(ours))


def test_anonymous_requests_get_no_cookie(app: WebApp) -> None:
    reply = app.call("GET", "/api/me")
    assert (reply.status, reply.json()) == (401, {"user_id": None})
    assert reply.set_cookies() == []
    assert app.call("GET", "/").status == 200
    assert "text/html" in (app.call("GET", "/").header("content-type") or "")


def test_login_sets_a_production_cookie_and_the_session_works(app: WebApp) -> None:
    reply = app.call("POST", "/api/login", json_body={"user_id": "alice"})
    assert reply.status == 200
    (header,) = reply.set_cookies()
    session_id = session_cookie(reply)
    assert parsed(header) == (COOKIE, session_id, ATTRIBUTES)
    assert reply.header("cache-control") == "no-store"
    answer = me(app, session_id)
    assert (answer.status, answer.json()) == (200, {"user_id": "alice"})
    assert answer.set_cookies() == []  # a resolved session writes no cookie


def test_every_response_varies_on_the_cookie(app: WebApp) -> None:
    # A shared cache keying pages on the URL alone would serve alice's page to bob.
    session_id = login(app)
    for reply in (
        app.call("GET", "/"),
        app.call("GET", "/api/me"),
        me(app, session_id),
        app.call("POST", "/api/login", json_body={"user_id": "bob"}),
    ):
        varies = [v for k, v in reply.headers if k.lower() == "vary"]
        assert len(varies) == 1, reply.headers
        assert "cookie" in {v.strip().lower() for v in varies[0].split(",")}


def test_login_never_keeps_the_id_the_request_came_with(app: WebApp) -> None:
    planted = "A" * 42 + "A="  # well-formed, unknown: an attacker's pick
    first = login(app, cookie=f"{COOKIE}={planted}")
    assert first != planted
    second = login(app, "bob", cookie=f"{COOKIE}={first}")
    assert second != first
    assert me(app, first).status == 401, "the session the login came with was not ended"
    assert me(app, second).json() == {"user_id": "bob"}


def test_logout_ends_the_session_and_expires_the_cookie(app: WebApp) -> None:
    session_id = login(app)
    reply = app.call("POST", "/api/logout", json_body={}, cookie=f"{COOKIE}={session_id}")
    assert (reply.status, reply.json()) == (200, {"ended": True})
    (header,) = reply.set_cookies()
    name, value, attributes = parsed(header)
    assert (name, value) == (COOKIE, "")
    expiry = {"max-age=0", "expires=thu, 01 jan 1970 00:00:00 gmt"}
    assert attributes == ATTRIBUTES | expiry  # expired with exactly the attributes it was set with
    assert reply.header("cache-control") == "no-store"
    assert me(app, session_id).status == 401, "a replayed cookie after logout still works"
    again = app.call("POST", "/api/logout", json_body={}, cookie=f"{COOKIE}={session_id}")
    assert again.json() == {"ended": False}
    nothing = app.call("POST", "/api/logout", json_body={})
    assert (nothing.json(), nothing.set_cookies()) == ({"ended": False}, [])


def test_rotate_moves_the_session_to_a_fresh_id(app: WebApp) -> None:
    session_id = login(app)
    reply = app.call("POST", "/api/rotate", json_body={}, cookie=f"{COOKIE}={session_id}")
    assert (reply.status, reply.json()) == (200, {"user_id": "alice"})
    new_id = session_cookie(reply)
    assert new_id != session_id
    assert me(app, session_id).status == 401
    assert me(app, new_id).json() == {"user_id": "alice"}
    assert app.call("POST", "/api/rotate", json_body={}).status == 401


def test_devices_are_listed_by_handle_and_ended_by_their_owner(app: WebApp) -> None:
    user = f"dev-{time.monotonic_ns()}"
    mine, other = login(app, user), login(app, user)
    listed = app.call("GET", "/api/sessions", cookie=f"{COOKIE}={mine}")
    assert listed.status == 200
    sessions = listed.json()["sessions"]
    assert sorted(s["current"] for s in sessions) == [False, True]
    for session_id in (mine, other):
        assert session_id.encode() not in listed.body
    assert not SESSION_ID.search(listed.body.decode()), "a session id in the device list"
    theirs = next(s["handle"] for s in sessions if not s["current"])
    # Another user's handle ends nothing.
    stranger = login(app, f"stranger-{time.monotonic_ns()}")
    (stranger_handle,) = (
        s["handle"]
        for s in app.call("GET", "/api/sessions", cookie=f"{COOKIE}={stranger}").json()["sessions"]
    )
    end = app.call(
        "POST",
        "/api/sessions/end",
        cookie=f"{COOKIE}={mine}",
        json_body={"handle": stranger_handle},
    )
    assert end.json() == {"ended": False}
    assert me(app, stranger).status == 200
    for junk in ("", "x" * 100, theirs[:-1]):
        end = app.call(
            "POST", "/api/sessions/end", cookie=f"{COOKIE}={mine}", json_body={"handle": junk}
        )
        assert (end.status, end.json()) == (200, {"ended": False})
    end = app.call(
        "POST", "/api/sessions/end", cookie=f"{COOKIE}={mine}", json_body={"handle": theirs}
    )
    assert end.json() == {"ended": True}
    assert me(app, other).status == 401
    assert me(app, mine).status == 200
    assert app.call("GET", "/api/sessions").status == 401


def test_log_out_my_other_devices(app: WebApp) -> None:
    user = f"others-{time.monotonic_ns()}"
    mine, *others = (login(app, user) for _ in range(3))
    reply = app.call("POST", "/api/logout-others", json_body={}, cookie=f"{COOKIE}={mine}")
    assert (reply.status, reply.json()) == (200, {"ended": 2})
    assert [me(app, s).status for s in others] == [401, 401]
    assert me(app, mine).status == 200
    assert app.call("POST", "/api/logout-others", json_body={}).status == 401


@pytest.fixture(scope="module", params=FRAMEWORKS)
def redis_app(request: pytest.FixtureRequest, redis_server: RedisServer) -> Iterator[WebApp]:
    """Each framework's app on the module's redis-server, whose commands are watched."""
    running = WebApp(request.param, redis_server.url).start()
    yield running
    running.stop()


def test_a_request_costs_one_store_command_with_a_cookie_and_none_without(
    redis_app: WebApp, redis_server: RedisServer
) -> None:
    app = redis_app
    session_id = login(app)
    me(app, session_id)  # the script is cached on the server from now on
    sent = commands_sent(redis_server, lambda: me(app, session_id))
    assert sent == ["EVALSHA"], "resolving a session took more than one call"  # get + touch
    anonymous = commands_sent(redis_server, lambda: app.call("GET", "/api/me"))
    assert anonymous == [], "a request without a cookie reached the store"


@pytest.mark.parametrize(
    "value",
    ["junk", "A" * 43, "A" * 45, "x" * 10_000, "A" * 42 + "B=", "", '"' + "A" * 42 + 'A="x'],
    ids=["junk", "short", "long", "10 KB", "bad padding", "empty", "quoted garbage"],
)
def test_a_malformed_cookie_is_anonymous_and_reaches_no_store(
    app: WebApp, redis_server: RedisServer, value: str
) -> None:
    before = redis_calls(redis_server)
    reply = app.call("GET", "/api/me", cookie=f"{COOKIE}={value}")
    assert (reply.status, reply.json()) == (401, {"user_id": None})
    assert reply.set_cookies() == []
    if "redis" in app.store_url:
        assert redis_calls(redis_server) == before, "a malformed cookie reached the store"


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"user_id": ""}', "application/json", 400),
        (b'{"user_id": "' + b"x" * 1025 + b'"}', "application/json", 400),
        (b'{"user_id": 42}', "application/json", 400),
        (b'{"user": "alice"}', "application/json", 400),
        (b"not json", "application/json", 400),
        (b"user_id=alice", "application/x-www-form-urlencoded", 415),
        (b'{"user_id": "alice"}', "text/plain", 415),
    ],
    ids=["empty", "too long", "not a string", "no user_id", "not JSON", "a form", "text/plain"],
)
def test_a_bad_login_is_a_client_error_and_no_session(
    app: WebApp, body: bytes, content_type: str, status: int
) -> None:
    reply = app.call("POST", "/api/login", body=body, content_type=content_type)
    assert reply.status == status, reply.body
    assert reply.set_cookies() == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"[" * 100_000 + b"]" * 100_000, 413),  # past the body limit
        (b"[" * 2000 + b"]" * 2000, 400),  # nested past Python's stack
        ('{"user_id": "alice"}'.encode("utf-16"), 400),  # JSON, but not in UTF-8
        (b'{"user_id": "al\xffice"}', 400),
        (b'["alice"]', 400),
        (b'{"user_id": "' + b"x" * 5000 + b'"}', 413),
    ],
    ids=["huge", "deep", "utf-16", "invalid utf-8", "an array", "over 4 KB"],
)
def test_hostile_bodies_are_client_errors(app: WebApp, body: bytes, status: int) -> None:
    reply = app.call("POST", "/api/login", body=body, content_type="application/json")
    assert reply.status == status, reply.body
    assert reply.set_cookies() == []


def raw_request(app: WebApp, head: bytes, body: bytes) -> int:
    """Sends a request's head and some body on a socket, and the status of the answer,
    which must come within 5 s without the rest of the body."""
    with socket.create_connection(("127.0.0.1", app.port), timeout=5) as connection:
        connection.sendall(head + b"\r\n" + body)
        answer = connection.makefile("rb").readline()
    return int(answer.split()[1])


@pytest.mark.parametrize(
    "framing",
    [b"Content-Length: 1000000000\r\n", b"Transfer-Encoding: chunked\r\n"],
    ids=["declared", "chunked"],
)
def test_a_huge_body_is_refused_before_it_is_all_sent(app: WebApp, framing: bytes) -> None:
    # A client that declares (or streams) a gigabyte gets its 413 at once: the server
    # neither waits for the body nor keeps it.
    head = b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += b"Content-Type: application/json\r\n" + framing
    if framing.startswith(b"Transfer-Encoding"):
        body = b"%x\r\n%s\r\n" % (8192, b"x" * 8192)  # one chunk past the limit, no end
    else:
        body = b'{"user_id": "' + b"x" * 100
    assert raw_request(app, head, body) == 413


def test_state_changing_posts_take_only_json(app: WebApp) -> None:
    # A form of another site (or of a sibling subdomain, the same "site") can post with
    # the cookie under SameSite=Lax, but only as a form: every POST refuses that.
    session_id = login(app)
    cookie = f"{COOKIE}={session_id}"
    form = "application/x-www-form-urlencoded"
    for path in ("/api/logout", "/api/rotate", "/api/logout-others", "/api/sessions/end"):
        reply = app.call("POST", path, cookie=cookie, body=b"handle=x", content_type=form)
        assert reply.status == 415, (path, reply.status)
        assert reply.set_cookies() == []
    assert me(app, session_id).json() == {"user_id": "alice"}


def test_forty_concurrent_requests_on_one_cookie(app: WebApp) -> None:
    session_id = login(app)
    with ThreadPoolExecutor(40) as pool:
        replies = list(pool.map(lambda _: me(app, session_id), range(40)))
    assert [r.status for r in replies] == [200] * 40
    assert {r.json()["user_id"] for r in replies} == {"alice"}


@pytest.fixture(scope="module", params=FRAMEWORKS)
def short_lived(request: pytest.FixtureRequest, redis_server: RedisServer) -> Iterator[WebApp]:
    """Each app with a 2 s ttl, for sliding expiry and the idle timeout."""
    running = WebApp(request.param, redis_server.url, ttl=2.0).start()
    yield running
    running.stop()


def test_use_keeps_a_session_alive_and_idleness_ends_it(short_lived: WebApp) -> None:
    session_id = login(short_lived)
    for _ in range(4):  # 2.8 s in all: past the ttl, but never idle for as long as it
        time.sleep(0.7)
        assert me(short_lived, session_id).status == 200
    time.sleep(2.3)
    assert me(short_lived, session_id).status == 401


@pytest.fixture(params=FRAMEWORKS)
def stalling(request: pytest.FixtureRequest) -> Iterator[tuple[WebApp, RedisServer]]:
    server = RedisServer()
    server.start()
    running = WebApp(request.param, server.url).start()
    yield running, server
    if server.process is not None:
        os.kill(server.process.pid, signal.SIGCONT)
    running.stop()
    server.close()


def test_a_stalled_store_is_a_503_then_service_again(stalling: tuple[WebApp, RedisServer]) -> None:
    app, server = stalling
    session_id = login(app)
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        reply = me(app, session_id)
        took = time.monotonic() - started
        assert reply.status == 503, reply.body
        assert reply.set_cookies() == [], "an outage must not clear the cookie"
        assert took < 5
        assert app.call("POST", "/api/login", json_body={"user_id": "bob"}).status == 503
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    assert me(app, session_id).json() == {"user_id": "alice"}  # the same cookie, served again
