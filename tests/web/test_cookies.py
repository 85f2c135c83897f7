"""The cookie policy, pure: names, attributes, what it reads and what it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from sesh.web import CookiePolicy

SESSION_ID = "k3JwWnbQ1pVYv8aWl9sqj2P4x7Hh0bGdTmZr5uNcEeA="


def test_the_defaults_are_owasps() -> None:
    policy = CookiePolicy()
    assert policy.set_cookie(SESSION_ID) == (
        f"__Host-sesh={SESSION_ID}; Path=/; Secure; HttpOnly; SameSite=Lax"
    )
    assert policy.clear_cookie() == (
        "__Host-sesh=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT;"
        " Path=/; Secure; HttpOnly; SameSite=Lax"
    )


def test_development_drops_secure_and_the_prefix_and_nothing_else() -> None:
    policy = CookiePolicy(development=True)
    assert policy.set_cookie(SESSION_ID) == f"sesh={SESSION_ID}; Path=/; HttpOnly; SameSite=Lax"


def test_other_attributes() -> None:
    policy = CookiePolicy(name="app", same_site="strict", domain="example.org", max_age=600)
    assert policy.set_cookie(SESSION_ID) == (
        f"app={SESSION_ID}; Max-Age=600; Path=/; Domain=example.org; Secure; HttpOnly;"
        " SameSite=Strict"
    )
    assert policy.clear_cookie().endswith(
        "Path=/; Domain=example.org; Secure; HttpOnly; SameSite=Strict"
    )


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"domain": "example.org"}, "__Host-"),
        ({"path": "/app"}, "__Host-"),
        ({"name": "__Host-sesh", "development": True}, "Secure"),
        ({"name": "__Secure-sesh", "development": True}, "Secure"),
        ({"same_site": "none", "development": True}, "SameSite=None"),
        ({"same_site": "sometimes"}, "same_site"),
        ({"name": "a b"}, "token"),
        ({"name": "a;b"}, "token"),
        ({"name": "app", "path": "app"}, "path"),
        ({"max_age": 0}, "max_age"),
    ],
)
def test_policies_that_cannot_work_are_refused(options: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        CookiePolicy(**options)


@pytest.mark.parametrize("options", [{"max_age": 1.5}, {"max_age": True}, {"development": "yes"}])
def test_options_of_the_wrong_type_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        CookiePolicy(**options)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        (f"__Host-sesh={SESSION_ID}", SESSION_ID),
        (f"theme=dark; __Host-sesh={SESSION_ID}; lang=en", SESSION_ID),
        (f'__Host-sesh="{SESSION_ID}"', SESSION_ID),
        (f"__Host-sesh={SESSION_ID}; __Host-sesh=other", SESSION_ID),  # the first one
        (f"sesh={SESSION_ID}", None),  # another cookie's name
        (f"x__Host-sesh={SESSION_ID}", None),
        ("__Host-sesh=junk", None),
        ("__Host-sesh=" + "A" * 10_000, None),
        (f"__Host-sesh={SESSION_ID[:-1]}", None),
    ],
)
def test_reading_the_session_id_from_a_cookie_header(
    header: str | None, expected: str | None
) -> None:
    assert CookiePolicy().session_id(header) == expected
