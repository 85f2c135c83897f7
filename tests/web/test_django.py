"""sesh.web.django inside Django's own test clients: what the HTTP suite does not reach
(request.user from the user model, Django's signals, sync and async views, start-up
refusals, failures, beside Django's sessions and CSRF, error reports).

Django's settings are made once per process, so these run in a pytest process of their
own, with settings of their own (the conftest below).
"""

from __future__ import annotations

import pytest

CONFTEST = """
import django
from django.conf import settings


def pytest_configure(config):
    import tempfile
    folder = tempfile.mkdtemp()
    settings.configure(
        DEBUG=False,
        SECRET_KEY="tests",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF="urls",
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": f"{folder}/users.db"}
        },
        INSTALLED_APPS=[
            "django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "sesh.web.django.SessionMiddleware",
        ],
        SESH={
            "URL": f"sqlite:///{folder}/sessions.db",
            "TTL": 60,
            "TRACK_USERS": True,
            "DEVICES": True,
            "COOKIE": {"development": True},
        },
        USE_TZ=True,
    )
    django.setup()
    from django.core.management import call_command
    call_command("migrate", verbosity=0)
"""

URLS = """
from django.contrib.auth import get_user_model
from django.http import JsonResponse
from django.middleware.csrf import get_token
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from sesh.errors import BackendError
from sesh.web import AsyncWebSession, WebSession
from sesh.web.django import alogin, alogout, login, logout, session


@csrf_exempt
def sync_login(request, name):
    login(request, get_user_model().objects.get(username=name))
    return JsonResponse({"user": request.user.username})


@csrf_exempt
async def async_login(request, name):
    user = await get_user_model().objects.aget(username=name)
    await alogin(request, user)
    return JsonResponse({"user": user.username})


def sync_me(request):
    return JsonResponse({"user": request.user.username, "auth": request.user.is_authenticated})


async def async_me(request):
    user = await request.auser()
    return JsonResponse({"user": user.username, "auth": user.is_authenticated})


@csrf_exempt
def sync_logout(request):
    logout(request)
    return JsonResponse({"anonymous": request.user.is_anonymous})


@csrf_exempt
async def async_logout(request):
    await alogout(request)
    return JsonResponse({"anonymous": request.user.is_anonymous})


def form(request):
    return JsonResponse({"csrf": get_token(request)})


def strict_login(request, name):  # CSRF-checked, as a login form is
    login(request, get_user_model().objects.get(username=name))
    return JsonResponse({"user": request.user.username})


def strict_logout(request):
    logout(request)
    return JsonResponse({})


@csrf_exempt
def cart(request):  # data a project keeps in Django's own session
    if request.method == "POST":
        request.session["cart"] = "3 books"
    return JsonResponse({"cart": request.session.get("cart")})


def kind(request):
    current = session(request)
    return JsonResponse({"sync": isinstance(current, WebSession)})


async def akind(request):
    current = session(request)
    return JsonResponse({"async": isinstance(current, AsyncWebSession)})


def broken(request):
    raise BackendError("the store is down")


urlpatterns = [
    path("login/<name>", sync_login), path("alogin/<name>", async_login),
    path("me", sync_me), path("ame", async_me),
    path("logout", sync_logout), path("alogout", async_logout),
    path("form", form), path("broken", broken),
    path("strict-login/<name>", strict_login), path("strict-logout", strict_logout),
    path("cart", cart), path("kind", kind), path("akind", akind),
]
"""

TESTS = """
import asyncio

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.core.exceptions import ImproperlyConfigured
from django.test import AsyncClient, Client, RequestFactory, override_settings
from django.views.debug import ExceptionReporter

from sesh.backends.memory import MemoryStore
from sesh.errors import BackendError
from sesh.web import django as integration


@pytest.fixture(autouse=True)
def users(db=None):
    model = get_user_model()
    for name in ("alice", "bob"):
        user, _ = model.objects.get_or_create(username=name)
        user.is_active = True
        user.save()


@pytest.fixture
def signals():
    seen = []
    def logged_in(sender, request, user, **kw): seen.append(("in", user.username))
    def logged_out(sender, request, user, **kw): seen.append(("out", user and user.username))
    user_logged_in.connect(logged_in)
    user_logged_out.connect(logged_out)
    yield seen
    user_logged_in.disconnect(logged_in)
    user_logged_out.disconnect(logged_out)


def test_sync_views(signals):
    client = Client()
    assert client.get("/me").json() == {"user": "", "auth": False}
    reply = client.post("/login/alice")
    assert reply.json() == {"user": "alice"}
    assert reply.headers["Cache-Control"] == "no-store"
    cookie = client.cookies["sesh"].value
    assert client.get("/me").json() == {"user": "alice", "auth": True}
    assert client.post("/logout").json() == {"anonymous": True}
    assert client.get("/me").json()["auth"] is False
    client.cookies["sesh"] = cookie  # replayed after logout: anonymous
    assert client.get("/me").json()["auth"] is False
    assert signals == [("in", "alice"), ("out", "alice")]


def test_async_views(signals):
    async def scenario():
        client = AsyncClient()
        assert (await client.get("/ame")).json() == {"user": "", "auth": False}
        await client.post("/alogin/bob")
        assert (await client.get("/ame")).json() == {"user": "bob", "auth": True}
        assert (await client.post("/alogout")).json() == {"anonymous": True}
        assert (await client.get("/ame")).json()["auth"] is False
    asyncio.run(scenario())
    assert signals == [("in", "bob"), ("out", "bob")]


def test_login_ends_the_session_the_request_came_with():
    client = Client()
    client.post("/login/alice")
    first = client.cookies["sesh"].value
    client.post("/login/bob")
    assert client.cookies["sesh"].value != first
    stale = Client()
    stale.cookies["sesh"] = first
    assert stale.get("/me").json()["auth"] is False


def test_a_deleted_user_is_anonymous():
    client = Client()
    client.post("/login/alice")
    get_user_model().objects.filter(username="alice").delete()
    assert client.get("/me").json() == {"user": "", "auth": False}


def test_beside_djangos_sessions_and_csrf():
    client = Client(enforce_csrf_checks=True)
    reply = client.get("/form")
    assert "csrftoken" in reply.cookies  # Django's own cookie, untouched
    reply = client.post("/login/alice")
    assert set(reply.cookies) >= {"sesh"}
    assert client.get("/me").json()["user"] == "alice"


def test_a_store_failure_in_a_view_is_a_503():
    client = Client()
    client.post("/login/alice")
    reply = client.get("/broken")
    assert reply.status_code == 503
    assert "sesh" not in reply.cookies
    assert client.get("/me").json()["user"] == "alice"


class FailingDie(MemoryStore):
    def die(self, session_id):
        raise BackendError("the store is down")


def test_a_store_failure_during_logout_is_a_503_and_no_logout():
    settings = integration._settings()
    real = settings._sync
    settings._sync = FailingDie(ttl=60, track_users=True)
    try:
        client = Client()
        client.post("/login/alice")
        reply = client.post("/logout")
        assert reply.status_code == 503
        assert "sesh" not in reply.cookies  # no expired cookie: the browser keeps its id
        assert client.get("/me").json() == {"user": "alice", "auth": True}
    finally:
        settings._sync = real


def test_login_rotates_csrf_and_djangos_session_key_and_logout_flushes_it():
    client = Client(enforce_csrf_checks=True)
    token = client.get("/form").json()["csrf"]
    client.post("/cart")
    assert client.get("/cart").json() == {"cart": "3 books"}
    django_session = client.cookies["sessionid"].value
    csrf_cookie = client.cookies["csrftoken"].value
    assert client.post("/strict-login/alice").status_code == 403  # no token: refused
    reply = client.post("/strict-login/alice", headers={"X-CSRFToken": token})
    assert reply.json() == {"user": "alice"}
    assert client.cookies["csrftoken"].value != csrf_cookie
    assert client.cookies["sessionid"].value != django_session
    assert client.get("/cart").json() == {"cart": "3 books"}  # the data follows the user
    token = client.get("/form").json()["csrf"]
    assert client.post("/strict-logout", headers={"X-CSRFToken": token}).status_code == 200
    assert client.get("/cart").json() == {"cart": None}
    assert client.get("/me").json()["auth"] is False


def test_each_server_kind_gets_its_own_session_kind():
    assert Client().get("/kind").json() == {"sync": True}
    reply = asyncio.run(AsyncClient().get("/akind"))
    assert reply.json() == {"async": True}


def test_an_inactive_user_is_anonymous():
    client = Client()
    client.post("/login/alice")
    get_user_model().objects.filter(username="alice").update(is_active=False)
    assert client.get("/me").json() == {"user": "", "auth": False}
    async def scenario():
        return (await AsyncClient(headers={"cookie": f"sesh={client.cookies['sesh'].value}"})
                .get("/ame")).json()
    assert asyncio.run(scenario()) == {"user": "", "auth": False}


def test_end_sessions_logs_a_user_out_everywhere():
    alice = get_user_model().objects.get(username="alice")
    integration.end_sessions(alice)  # those earlier tests left
    laptop, phone, other = Client(), Client(), Client()
    laptop.post("/login/alice")
    phone.post("/login/alice")
    other.post("/login/bob")
    assert integration.end_sessions(alice) == 2
    assert laptop.get("/me").json()["auth"] is False
    assert phone.get("/me").json()["auth"] is False
    assert other.get("/me").json()["user"] == "bob"
    with pytest.raises(ValueError, match="saved user"):
        integration.end_sessions(get_user_model()(username="unsaved"))


def report(request):
    # Django's error report of a view's failure, as text and as the debug page. This
    # frame's locals are in the page: nothing here holds the id.
    try:
        raise RuntimeError("a view failed")
    except RuntimeError as error:
        reporter = ExceptionReporter(request, type(error), error, error.__traceback__)
        return reporter.get_traceback_text(), reporter.get_traceback_html()


@override_settings(DEFAULT_EXCEPTION_REPORTER_FILTER="sesh.web.django.SafeExceptionReporterFilter")
def test_error_reports_hide_the_session_cookie():
    client = Client()
    client.post("/login/alice")
    session_id = client.cookies["sesh"].value
    request = RequestFactory().get("/me", HTTP_COOKIE=f"sesh={session_id}; theme=dark")
    text, html = report(request)
    assert "theme" in text and "dark" in text  # the report still shows the cookies
    assert session_id not in text
    assert session_id not in html


@pytest.mark.parametrize(
    ("sesh", "error"),
    [
        (None, "settings.SESH"),
        ({"URL": "memory://", "DEVICES": True}, "track_users"),
        ({"URL": "memory://", "COOKIE": {"same_site": "none", "development": True}}, "SameSite"),
    ],
)
def test_setups_that_cannot_work_are_refused_at_start_up(sesh, error):
    integration._settings.cache_clear()
    try:
        with override_settings(SESH=sesh):
            with pytest.raises(ImproperlyConfigured, match=error):
                integration.SessionMiddleware(lambda request: None)
    finally:
        integration._settings.cache_clear()
"""


def test_django_integration(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(urls=URLS, test_integration=TESTS)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-n", "0")
    result.assert_outcomes(passed=15)
