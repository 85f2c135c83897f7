"""The session cookie: its policy, reading it from a request, writing it to a response.

Pure: strings in, strings out, no framework. Every framework shell of ``sesh.web`` uses
this one policy, so a cookie is named, set and cleared the same way everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from sesh._validate import is_session_id

__all__ = ["CookiePolicy"]

SameSite = Literal["lax", "strict", "none"]

# RFC 6265's cookie-name is an RFC 7230 token; a path-value is any CHAR but controls and
# ";"; a domain a host name.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_PATH = re.compile(r"/[\x20-\x3a\x3c-\x7e]*")
_HOST = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
_EXPIRED = "Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"


@dataclass(frozen=True)
class CookiePolicy:
    """Which cookie carries the session id, and with which attributes.

    The defaults are OWASP's: ``__Host-sesh; Secure; HttpOnly; SameSite=Lax; Path=/``, no
    ``Domain``, and no ``Max-Age`` (the browser forgets it when it closes; the store's ttl
    ends the session on the server either way). ``development=True`` is the one switch
    that drops ``Secure`` and the ``__Host-`` prefix, for plain http on localhost; nothing
    else does. ``HttpOnly`` cannot be turned off: no script needs a session id.

    Raises:
        ValueError: a policy that cannot work: a ``__Host-`` name with a ``Domain``, a
            ``Path`` other than ``/`` or without ``Secure``; ``SameSite=None`` without
            ``Secure``; a name that is not a cookie token; a ``max_age`` under 1 second.
        TypeError: an option of the wrong type.
    """

    name: str | None = None
    """The cookie's name; default ``__Host-sesh`` (``sesh`` in development)."""
    same_site: SameSite = "lax"
    domain: str | None = None
    path: str = "/"
    max_age: int | None = None
    """Seconds the browser keeps the cookie; None (the default): until it closes."""
    development: bool = False
    """Plain http on localhost: no ``Secure``, and the default name loses ``__Host-``."""
    cookie_name: str = field(init=False)
    """The name in use."""

    def __post_init__(self) -> None:
        if not isinstance(self.development, bool):
            raise TypeError("development must be a bool")
        name = self.name
        if name is None:
            name = "sesh" if self.development else "__Host-sesh"
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ValueError(f"the cookie name must be a cookie token, not {name!r}")
        object.__setattr__(self, "cookie_name", name)
        if self.same_site not in ("lax", "strict", "none"):
            raise ValueError("same_site must be 'lax', 'strict' or 'none'")
        if self.domain is not None and (
            not isinstance(self.domain, str) or not _HOST.fullmatch(self.domain.lstrip("."))
        ):
            raise ValueError("domain must be a host name, or None for the exact host")
        if not isinstance(self.path, str) or not _PATH.fullmatch(self.path):
            raise ValueError("path must start with / and hold no ';' or control character")
        if self.max_age is not None and (
            isinstance(self.max_age, bool) or not isinstance(self.max_age, int)
        ):
            raise TypeError("max_age must be whole seconds, or None")
        if self.max_age is not None and self.max_age < 1:
            raise ValueError("max_age must be at least 1 second, or None")
        # Browsers match the prefixes without regard to case (RFC 6265bis).
        folded = name.lower()
        if folded.startswith(("__host-", "__secure-")) and not self.secure:
            raise ValueError(
                f"a {name.split('-')[0]}- cookie must be Secure: in development, name it"
                " without the prefix (the default does)"
            )
        if folded.startswith("__host-") and (self.domain is not None or self.path != "/"):
            raise ValueError("a __Host- cookie has no Domain and Path=/ (the browser says so)")
        if self.same_site == "none" and not self.secure:
            raise ValueError("SameSite=None needs Secure: not in development")

    @property
    def secure(self) -> bool:
        """Whether the cookie is ``Secure`` (always, but in development)."""
        return not self.development

    def session_id(self, cookie_header: str | None) -> str | None:
        """The session id the request's ``Cookie`` header carries, if it is well-formed;
        None otherwise (no cookie, junk, a 10 KB value): that request is anonymous and
        costs no store call."""
        value = self.raw_value(cookie_header)
        return value if value is not None and is_session_id(value) else None

    def raw_value(self, cookie_header: str | None) -> str | None:
        """The value of the session cookie in a ``Cookie`` header (the first, if the
        browser sent several), whatever it is; None if there is none."""
        if not cookie_header:
            return None
        for pair in cookie_header.split(";"):
            name, sep, value = pair.strip().partition("=")
            if sep and name == self.cookie_name:
                return value.strip().strip('"')
        return None

    def set_cookie(self, session_id: str) -> str:
        """The ``Set-Cookie`` value that gives the browser this session id."""
        lifetime = "" if self.max_age is None else f"; Max-Age={self.max_age}"
        return f"{self.cookie_name}={session_id}{lifetime}{self._attributes()}"

    def clear_cookie(self) -> str:
        """The ``Set-Cookie`` value that expires the cookie, with the very attributes it
        was set with (a browser keeps a cookie whose Path or Domain differ)."""
        return f"{self.cookie_name}=; {_EXPIRED}{self._attributes()}"

    def attributes(self, *, expired: bool = False) -> dict[str, str | bool]:
        """The cookie's attributes by name (``path``, ``domain``, ``max-age``, ``secure``,
        ``httponly``, ``samesite``, ``expires``), as ``http.cookies.Morsel`` names them:
        for a framework that writes cookies its own way (Django's ``response.cookies``)."""
        found: dict[str, str | bool] = {"path": self.path}
        if self.domain is not None:
            found["domain"] = self.domain
        if expired:
            found["max-age"] = "0"
            found["expires"] = "Thu, 01 Jan 1970 00:00:00 GMT"
        elif self.max_age is not None:
            found["max-age"] = str(self.max_age)
        found["secure"] = self.secure
        found["httponly"] = True
        found["samesite"] = self.same_site.capitalize()
        return found

    def _attributes(self) -> str:
        parts = [f"Path={self.path}"]
        if self.domain is not None:
            parts.append(f"Domain={self.domain}")
        if self.secure:
            parts.append("Secure")
        parts += ["HttpOnly", f"SameSite={self.same_site.capitalize()}"]
        return "; " + "; ".join(parts)
