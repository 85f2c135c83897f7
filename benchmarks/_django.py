"""Django, configured once per process for the benchmarks: sessions in a django-redis cache
and in a SQLite database."""

from __future__ import annotations

from typing import Any

TTL = 3600


def configure(redis_url: str, sqlite_path: str) -> None:
    import django
    from django.conf import settings

    if settings.configured:
        return
    settings.configure(
        CACHES={"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": redis_url}},
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": sqlite_path}},
        INSTALLED_APPS=["django.contrib.sessions"],
        SESSION_COOKIE_AGE=TTL,
        SECRET_KEY="benchmarks-only",
        USE_TZ=True,
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", "sessions", verbosity=0)


def session_class(engine: str) -> Any:
    """``SessionStore`` of ``django.contrib.sessions.backends.<engine>`` (cache or db)."""
    import importlib

    return importlib.import_module(f"django.contrib.sessions.backends.{engine}").SessionStore


def verbs(engine: str) -> tuple[dict[str, Any], Any]:
    """create/read/refresh/kill as a Django view would do them, and a maker of sessions."""
    cls = session_class(engine)

    def create(_: Any) -> Any:
        session = cls()
        session["_auth_user_id"] = "1337"
        session.create()
        return session

    def read(session: Any) -> Any:
        return cls(session_key=session.session_key)["_auth_user_id"]

    return {
        "create": create,
        "read": read,
        "refresh": lambda session: session.save(),  # a loaded session, as in a request
        "kill": lambda session: session.delete(),
    }, lambda: create(None)
